//! What clients experience: whether a node answers them correctly, each service's
//! availability at this instant, and split brain.

use ward_core::inventory::ServiceKind;

use super::{Point, World};

impl World {
    /// The node's dependencies (seed 000: the site's replicated database) are healthy.
    fn dependencies_ok(&self, node: usize) -> bool {
        self.truth.nodes()[node].depends_on.iter().all(|dep| {
            let d = dep.index();
            let replication_ok = match (self.truth.nodes()[d].replication.as_ref(), self.replicas.get(&d)) {
                (Some(cfg), Some(r)) => self.nodes[d].writable || (r.running && r.flowing() && r.lag_ms(self.now_ms) <= cfg.lag_max_ms),
                _ => true,
            };
            self.db_ok(d) && replication_ok
        })
    }

    /// A client request to this node gets a correct answer back.
    pub fn serves(&self, node: usize) -> bool {
        let n = &self.nodes[node];
        n.alive
            && n.egress_ok
            && n.misconfigured.is_none()
            && self.links.reachable(Point::Clients, self.point(node))
            && self.disks.get(&node).is_none_or(|d| !d.full())
            && self.dependencies_ok(node)
    }

    /// Share of the service's traffic that reaches a working node, 0.0..=1.0.
    pub fn availability(&self, service: usize) -> f64 {
        let s = &self.services[service];
        let ok = |name: &String| self.node_index(name).is_some_and(|i| self.serves(i));
        match s.kind {
            ServiceKind::Vip => s.holders.first().map_or(0.0, |h| if ok(h) { 1.0 } else { 0.0 }),
            ServiceKind::Dns => {
                if s.holders.is_empty() {
                    0.0
                } else {
                    s.holders.iter().filter(|h| ok(h)).count() as f64 / s.holders.len() as f64
                }
            }
            // Two writable members means writes diverge: clients may be served, but not
            // correctly, so split brain counts as unavailable.
            ServiceKind::Primary if self.primary_split(s) => 0.0,
            ServiceKind::Primary => s.holders.first().map_or(0.0, |h| {
                let i = self.node_index(h);
                if i.is_some_and(|i| self.nodes[i].writable && self.db_ok(i) && self.serves(i)) {
                    1.0
                } else {
                    0.0
                }
            }),
            // A sync service is available while every candidate's tree is intact:
            // a sync that wipes a tree (seed 001) is an outage of that tree.
            ServiceKind::Sync => {
                let intact = |name: &String| self.node_index(name).is_some_and(|i| self.nodes[i].tree_files >= self.tree_files_intact);
                let ready: Vec<&String> = s
                    .candidates
                    .iter()
                    .filter(|c| self.truth.node_id(c).is_some_and(|id| self.truth.node(id).lifecycle.may_serve()))
                    .collect();
                if ready.is_empty() {
                    1.0
                } else {
                    ready.iter().filter(|c| intact(c)).count() as f64 / ready.len() as f64
                }
            }
        }
    }

    /// Per primary service: (it has a working writer, its holder works but was
    /// fenced and nothing took over: a writer left stranded by a fence).
    pub fn primary_writers(&self) -> Vec<(bool, bool)> {
        self.services
            .iter()
            .filter(|s| s.kind == ServiceKind::Primary)
            .map(|s| {
                let working = |name: &String| self.node_index(name).filter(|i| self.db_ok(*i));
                let has_writer = s.candidates.iter().filter_map(working).any(|i| self.nodes[i].writable);
                // Only while Ward can reach it to give its writes back: a primary
                // cut off from the controller and a majority fences itself by design
                // (its agent's lease), and nobody can undo that from outside.
                // Nor while the controller hears no majority of its observers: it
                // then takes no automatic action by its own rule (it may be on the
                // minority side of a partition).
                let hears_majority = self.controller_hears_majority();
                let reachable = |i: &usize| hears_majority && self.links.reachable(self.controller_point(), self.point(*i));
                let stranded = !has_writer && s.holders.iter().filter_map(working).filter(reachable).any(|i| !self.nodes[i].writable);
                (has_writer, stranded)
            })
            .collect()
    }

    /// The controller hears more than half of its observers.
    pub fn controller_hears_majority(&self) -> bool {
        let observers = self.truth.observers();
        let heard = observers
            .iter()
            .filter(|o| {
                let site = self.truth.site(o.site).name.as_str();
                self.links.reachable(self.controller_point(), Point::Observer { name: &o.name, site })
            })
            .count();
        heard * 2 > observers.len()
    }

    /// A frozen host's server takes no writes until it thaws: it is not a writer
    /// meanwhile (once it thaws writable beside another primary, it is).
    fn primary_split(&self, s: &super::ServiceState) -> bool {
        s.candidates
            .iter()
            .filter(|c| self.node_index(c).is_some_and(|i| self.nodes[i].writable && self.nodes[i].alive && !self.frozen(i)))
            .count()
            > 1
    }

    /// Two writable members of one primary service are up at once, or two VIP holders.
    pub fn split_brain(&self) -> bool {
        self.services.iter().any(|s| match s.kind {
            ServiceKind::Primary => self.primary_split(s),
            ServiceKind::Vip => s.holders.len() > 1,
            _ => false,
        })
    }
}
