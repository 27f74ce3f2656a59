//! An immutable, validated inventory snapshot plus the indexes derived from it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};

/// Name and id lookups: a fixed hasher, so nothing in the core depends on a
/// per-process random state (replays are bit for bit).
type Lookup<K, V> = HashMap<K, V, BuildHasherDefault<DefaultHasher>>;

use serde::{Deserialize, Serialize};

use super::model::*;
use crate::ids::*;

/// The parts a loader has validated. `Snapshot::assemble` derives the indexes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotParts {
    /// Hex content hash of the bytes the snapshot was read from.
    pub hash: String,
    /// Where it came from (a file path), for error messages and the journal.
    pub source: String,
    pub policy: Policy,
    pub sites: Vec<Site>,
    pub observers: Vec<Observer>,
    pub nodes: Vec<Node>,
    pub checks: Vec<Check>,
    pub hooks: Vec<Hook>,
    pub routes: Vec<Route>,
    pub services: Vec<Service>,
}

#[derive(Clone, Debug)]
pub struct Snapshot {
    parts: SnapshotParts,
    probes: Vec<Probe>,
    probe_index: Lookup<(NodeId, CheckId), ProbeId>,
    probes_of_node: Vec<Vec<ProbeId>>,
    services_of_node: Vec<Vec<ServiceId>>,
    node_by_name: Lookup<String, NodeId>,
    service_by_name: Lookup<String, ServiceId>,
    check_by_name: Lookup<String, CheckId>,
    observer_by_name: Lookup<String, ObserverId>,
    site_by_name: Lookup<String, SiteId>,
    route_by_name: Lookup<String, RouteId>,
    hook_by_name: Lookup<String, HookId>,
}

impl Snapshot {
    /// Derives the indexes. The parts must already be validated: ids in range, names unique.
    pub fn assemble(parts: SnapshotParts) -> Snapshot {
        let mut probes = Vec::new();
        let mut probe_index = Lookup::default();
        let mut probes_of_node = vec![Vec::new(); parts.nodes.len()];
        for (check_index, check) in parts.checks.iter().enumerate() {
            let check_id = CheckId(check_index as u32);
            for &node in &check.nodes {
                let probe_id = ProbeId(probes.len() as u32);
                probes.push(Probe { node, check: check_id });
                probe_index.insert((node, check_id), probe_id);
                probes_of_node[node.index()].push(probe_id);
            }
        }
        let mut services_of_node = vec![Vec::new(); parts.nodes.len()];
        for (service_index, service) in parts.services.iter().enumerate() {
            for &node in &service.candidates {
                services_of_node[node.index()].push(ServiceId(service_index as u32));
            }
        }
        fn names<T, I: Copy>(items: &[T], name: impl Fn(&T) -> &str, id: impl Fn(usize) -> I) -> Lookup<String, I> {
            items.iter().enumerate().map(|(i, item)| (name(item).to_string(), id(i))).collect()
        }
        Snapshot {
            node_by_name: names(&parts.nodes, |n| &n.name, |i| NodeId(i as u32)),
            service_by_name: names(&parts.services, |s| &s.name, |i| ServiceId(i as u32)),
            check_by_name: names(&parts.checks, |c| &c.name, |i| CheckId(i as u32)),
            observer_by_name: names(&parts.observers, |o| &o.name, |i| ObserverId(i as u16)),
            site_by_name: names(&parts.sites, |s| &s.name, |i| SiteId(i as u16)),
            route_by_name: names(&parts.routes, |r| &r.name, |i| RouteId(i as u16)),
            hook_by_name: names(&parts.hooks, |h| &h.name, |i| HookId(i as u32)),
            probes,
            probe_index,
            probes_of_node,
            services_of_node,
            parts,
        }
    }

    pub fn parts(&self) -> &SnapshotParts {
        &self.parts
    }
    pub fn hash(&self) -> &str {
        &self.parts.hash
    }
    pub fn short_hash(&self) -> &str {
        &self.parts.hash[..self.parts.hash.len().min(12)]
    }
    pub fn source(&self) -> &str {
        &self.parts.source
    }
    pub fn policy(&self) -> &Policy {
        &self.parts.policy
    }
    pub fn sites(&self) -> &[Site] {
        &self.parts.sites
    }
    pub fn observers(&self) -> &[Observer] {
        &self.parts.observers
    }
    pub fn nodes(&self) -> &[Node] {
        &self.parts.nodes
    }
    pub fn checks(&self) -> &[Check] {
        &self.parts.checks
    }
    pub fn hooks(&self) -> &[Hook] {
        &self.parts.hooks
    }
    pub fn routes(&self) -> &[Route] {
        &self.parts.routes
    }
    pub fn services(&self) -> &[Service] {
        &self.parts.services
    }
    pub fn probes(&self) -> &[Probe] {
        &self.probes
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.parts.nodes[id.index()]
    }
    pub fn service(&self, id: ServiceId) -> &Service {
        &self.parts.services[id.index()]
    }
    pub fn check(&self, id: CheckId) -> &Check {
        &self.parts.checks[id.index()]
    }
    pub fn site(&self, id: SiteId) -> &Site {
        &self.parts.sites[id.index()]
    }
    pub fn observer(&self, id: ObserverId) -> &Observer {
        &self.parts.observers[id.index()]
    }
    pub fn hook(&self, id: HookId) -> &Hook {
        &self.parts.hooks[id.index()]
    }
    pub fn route(&self, id: RouteId) -> &Route {
        &self.parts.routes[id.index()]
    }
    pub fn probe(&self, id: ProbeId) -> Probe {
        self.probes[id.index()]
    }

    pub fn probe_id(&self, node: NodeId, check: CheckId) -> Option<ProbeId> {
        self.probe_index.get(&(node, check)).copied()
    }
    pub fn probes_of_node(&self, node: NodeId) -> &[ProbeId] {
        &self.probes_of_node[node.index()]
    }
    /// Services for which this node is a candidate.
    pub fn services_of_node(&self, node: NodeId) -> &[ServiceId] {
        &self.services_of_node[node.index()]
    }

    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.node_by_name.get(name).copied()
    }
    pub fn service_id(&self, name: &str) -> Option<ServiceId> {
        self.service_by_name.get(name).copied()
    }
    pub fn check_id(&self, name: &str) -> Option<CheckId> {
        self.check_by_name.get(name).copied()
    }
    pub fn observer_id(&self, name: &str) -> Option<ObserverId> {
        self.observer_by_name.get(name).copied()
    }
    pub fn site_id(&self, name: &str) -> Option<SiteId> {
        self.site_by_name.get(name).copied()
    }
    pub fn hook_id(&self, name: &str) -> Option<HookId> {
        self.hook_by_name.get(name).copied()
    }
    pub fn route_id(&self, name: &str) -> Option<RouteId> {
        self.route_by_name.get(name).copied()
    }

    /// The action with names instead of this snapshot's ids (the journal's form).
    pub fn name_action(&self, action: &crate::action::Action) -> crate::action::NamedAction {
        action.map(|n| self.node_name(*n).to_string(), |s| self.service_name(*s).to_string())
    }

    /// A journaled action against this snapshot; `None` when one of its names is
    /// not in it (renamed or removed since).
    pub fn resolve_action(&self, named: &crate::action::NamedAction) -> Option<crate::action::Action> {
        named.try_map(|n| self.node_id(n).ok_or(()), |s| self.service_id(s).ok_or(())).ok()
    }

    pub fn node_name(&self, id: NodeId) -> &str {
        &self.node(id).name
    }
    pub fn service_name(&self, id: ServiceId) -> &str {
        &self.service(id).name
    }

    /// Nodes of a site.
    pub fn nodes_of_site(&self, site: SiteId) -> impl Iterator<Item = NodeId> + '_ {
        self.parts.nodes.iter().enumerate().filter(move |(_, n)| n.site == site).map(|(i, _)| NodeId(i as u32))
    }
}
