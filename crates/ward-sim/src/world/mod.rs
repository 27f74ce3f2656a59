//! The world the controller lives in: nodes, links, replication, disks, synced
//! trees and the true placement of every service. The true placement changes only
//! when an actuator call completes (`effects.rs`); what the engine believes is its
//! own business, and the gap between the two is what the metrics measure.
//!
//! The world's topology comes from the scenario's inventory as first loaded (the
//! truth); later inventories the controller reads may disagree with it (seed 002).

pub mod actuator;
mod agents;
mod disk;
mod effects;
mod faults;
pub mod links;
mod probe;
mod reach;
mod replication;
mod serving;

use std::collections::BTreeMap;
use std::sync::Arc;

use ward_core::inventory::{ServiceKind, Snapshot};

pub use agents::SimAgent;
pub use disk::Disk;
pub use effects::{Effect, StepResult};
pub use links::{Links, Point};
pub use reach::Blocked;
pub use replication::{PromotionLoss, Replica, Writes};

use crate::scenario::WorldKnobs;

#[derive(Clone, Debug)]
pub struct NodeState {
    pub name: String,
    pub site: String,
    pub alive: bool,
    /// A reboot in progress ends at this time.
    pub rebooting_until_ms: Option<u64>,
    /// Answers can get out (seed 004: gateway addresses without a default route).
    pub egress_ok: bool,
    /// Wrongly configured: serves clients wrongly; fails this check if one is named
    /// (None: its probes still pass, as seed 002's wrong firewall did from inside).
    pub misconfigured: Option<Option<String>>,
    /// Files in the node's copy of a synced tree (0: reimaged, seed 001).
    pub tree_files: u32,
    /// Accepts writes (a primary, or an old primary nobody fenced).
    pub writable: bool,
    /// Its VIP transition script is broken (seed 004): taking a VIP leaves it with
    /// the addresses but no default route.
    pub route_script_broken: bool,
}

#[derive(Clone, Debug)]
pub struct ServiceState {
    pub name: String,
    pub kind: ServiceKind,
    /// vip/primary: the holder; dns: the published targets; sync: empty.
    pub holders: Vec<String>,
    pub candidates: Vec<String>,
}

/// One change of a service's true placement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacementChange {
    pub at_ms: u64,
    pub service: String,
    pub holders: Vec<String>,
}

pub struct World {
    pub truth: Arc<Snapshot>,
    pub knobs: WorldKnobs,
    pub nodes: Vec<NodeState>,
    pub replicas: BTreeMap<usize, Replica>,
    pub disks: BTreeMap<usize, Disk>,
    pub links: Links,
    pub services: Vec<ServiceState>,
    pub now_ms: u64,
    /// Something changed since the metrics last looked.
    pub dirty: bool,
    pub placement_log: Vec<PlacementChange>,
    /// Moves applied in the world: (time, service, kind).
    pub moves: Vec<(u64, String, &'static str)>,
    /// The size of an intact synced tree, for the sync services' availability.
    pub tree_files_intact: u32,
    /// Checks some service verifies with: end to end, so they fail without egress.
    pub end_to_end_checks: Vec<String>,
    /// The controller's site (`policy.controller_site` of the first inventory).
    pub controller_site: Option<String>,
    /// The primaries' acknowledged writes and what promotions lost of them.
    pub writes: Writes,
    /// `ward agent` on the hosts that run one, by node index.
    pub agents: BTreeMap<usize, SimAgent>,
}

impl World {
    pub fn new(truth: Arc<Snapshot>, knobs: WorldKnobs) -> World {
        let name_of = |id: ward_core::ids::NodeId| truth.node_name(id).to_string();
        let mut nodes: Vec<NodeState> = truth
            .nodes()
            .iter()
            .map(|n| NodeState {
                name: n.name.clone(),
                site: truth.site(n.site).name.clone(),
                alive: true,
                rebooting_until_ms: None,
                egress_ok: true,
                misconfigured: None,
                tree_files: knobs.trees.get(&n.name).copied().unwrap_or(if n.lifecycle.may_be_sync_source() {
                    knobs.tree_files
                } else {
                    0
                }),
                writable: false,
                route_script_broken: false,
            })
            .collect();
        let services: Vec<ServiceState> = truth
            .services()
            .iter()
            .map(|s| ServiceState {
                name: s.name.clone(),
                kind: s.kind,
                holders: if s.kind == ServiceKind::Sync { Vec::new() } else { s.initial.iter().map(|&n| name_of(n)).collect() },
                candidates: s.candidates.iter().map(|&n| name_of(n)).collect(),
            })
            .collect();
        for s in truth.services().iter().filter(|s| s.kind == ServiceKind::Primary) {
            for &n in &s.initial {
                nodes[n.index()].writable = true;
            }
        }
        let replicas = truth
            .nodes()
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                n.replication.as_ref().map(|r| {
                    let mut replica = Replica::new(name_of(r.source));
                    if let Some(k) = knobs.replicas.iter().find(|k| k.node == n.name) {
                        replica.synchronous = k.synchronous;
                        replica.replay_delay_ms = k.replay_delay_ms;
                    }
                    (i, replica)
                })
            })
            .collect();
        let disks = knobs.disks.iter().filter_map(|d| truth.node_id(&d.node).map(|id| (id.index(), Disk::new(d)))).collect();
        let placement_log =
            services.iter().map(|s| PlacementChange { at_ms: 0, service: s.name.clone(), holders: s.holders.clone() }).collect();
        let end_to_end_checks = truth.services().iter().flat_map(|s| s.verify.iter().map(|&c| truth.check(c).name.clone())).collect();
        let controller_site = truth.policy().controller_site.map(|s| truth.site(s).name.clone());
        let mut world = World {
            controller_site,
            end_to_end_checks,
            tree_files_intact: knobs.tree_files,
            truth,
            knobs,
            nodes,
            replicas,
            disks,
            links: Links::default(),
            services,
            now_ms: 0,
            dirty: true,
            placement_log,
            moves: Vec::new(),
            writes: Writes::default(),
            agents: BTreeMap::new(),
        };
        world.agents = agents::agents_of(&world);
        // The initial primaries acknowledge writes from the start.
        world.refresh_writes();
        world
    }

    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.truth.node_id(name).map(|id| id.index())
    }

    pub fn service_index(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == name)
    }

    pub fn point(&self, node: usize) -> Point<'_> {
        let n = &self.nodes[node];
        Point::Node { name: &n.name, site: &n.site }
    }

    /// The database on the node can serve: it runs and its disk is not full.
    pub fn db_ok(&self, node: usize) -> bool {
        self.nodes[node].alive && !self.frozen(node) && self.disks.get(&node).is_none_or(|d| !d.full())
    }

    /// Brings time-driven state (disks, reboots are events) up to `now_ms`.
    pub fn advance(&mut self, now_ms: u64) {
        if now_ms <= self.now_ms {
            return;
        }
        let piling: Vec<usize> = self.replicas.values().filter(|r| !r.flowing()).filter_map(|r| self.node_index(&r.source)).collect();
        let mut filled = false;
        for (node, disk) in self.disks.iter_mut() {
            let was_full = disk.full();
            disk.advance(now_ms, piling.contains(node));
            filled |= disk.full() != was_full;
        }
        self.now_ms = now_ms;
        if filled {
            self.dirty = true;
            self.refresh_replication();
        }
    }

    /// Recomputes whether each replica's replication flows; call after any change.
    pub fn refresh_replication(&mut self) {
        let now = self.now_ms;
        let rate = self.knobs.write_rate_per_s;
        let keys: Vec<usize> = self.replicas.keys().copied().collect();
        for node in keys {
            let source = self.node_index(&self.replicas[&node].source);
            let primary_now = self.nodes[node].writable;
            let flowing = primary_now
                || (self.replicas[&node].can_flow()
                    && self.db_ok(node)
                    && source.is_some_and(|s| self.db_ok(s) && self.links.reachable(self.point(node), self.point(s))));
            self.replicas.get_mut(&node).expect("key exists").set_flowing(flowing, now, rate);
        }
        self.refresh_writes();
        self.dirty = true;
    }

    /// Sets a service's true placement and logs the change.
    pub fn set_holders(&mut self, service: usize, holders: Vec<String>) {
        if self.services[service].holders == holders {
            return;
        }
        self.services[service].holders = holders.clone();
        self.placement_log.push(PlacementChange { at_ms: self.now_ms, service: self.services[service].name.clone(), holders });
        self.dirty = true;
    }
}
