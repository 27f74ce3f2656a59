//! A terse builder for snapshots in tests, benchmarks and the simulator's
//! generated worlds. It skips the TOML loader's validation: callers build
//! consistent inventories by construction.

use std::collections::BTreeMap;

use super::model::*;
use super::snapshot::{Snapshot, SnapshotParts};
use crate::ids::*;

pub struct InventoryBuilder {
    parts: SnapshotParts,
}

impl Default for InventoryBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl InventoryBuilder {
    pub fn new() -> Self {
        InventoryBuilder {
            parts: SnapshotParts {
                hash: "0000000000000000".into(),
                source: "builder".into(),
                policy: Policy::default(),
                sites: Vec::new(),
                observers: Vec::new(),
                nodes: Vec::new(),
                checks: Vec::new(),
                hooks: vec![Hook {
                    name: "noop".into(),
                    kind: HookKind::Exec { command: vec!["true".into()] },
                    timeout_ms: 10_000,
                    retries: 0,
                    parallel_max: 16,
                    services: Vec::new(),
                }],
                routes: vec![Route {
                    name: "log".into(),
                    kind: RouteKind::Log,
                    escalate_to: None,
                    escalate_after_ms: 0,
                    repeat_every_ms: 0,
                    escalations_max: Route::ESCALATIONS_MAX_DEFAULT,
                }],
                services: Vec::new(),
            },
        }
    }

    pub fn policy(mut self, edit: impl FnOnce(&mut Policy)) -> Self {
        edit(&mut self.parts.policy);
        self
    }

    pub fn hash(mut self, hash: &str) -> Self {
        self.parts.hash = hash.into();
        self
    }

    pub fn site(&mut self, name: &str) -> SiteId {
        self.parts.sites.push(Site { name: name.into() });
        SiteId(self.parts.sites.len() as u16 - 1)
    }

    pub fn observer(&mut self, name: &str, site: SiteId) -> ObserverId {
        self.parts.observers.push(Observer { name: name.into(), site });
        ObserverId(self.parts.observers.len() as u16 - 1)
    }

    pub fn node(&mut self, name: &str, site: SiteId, labels: &[(&str, &str)]) -> NodeId {
        self.parts.nodes.push(Node {
            name: name.into(),
            site,
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
            address: "127.0.0.1".into(),
            lifecycle: Lifecycle::Ready,
            priority: 0,
            depends_on: Vec::new(),
            replication: None,
            disk_check: None,
            agent: false,
        });
        NodeId(self.parts.nodes.len() as u32 - 1)
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.parts.nodes[id.index()]
    }

    /// A check on the given nodes with rise/fall and a 1 s interval.
    pub fn check(&mut self, name: &str, kind: CheckKind, nodes: &[NodeId], rise: u32, fall: u32) -> CheckId {
        self.parts.checks.push(Check {
            timeout_fall: fall,
            name: name.into(),
            kind,
            target: "{address}:80".into(),
            expect_status: None,
            expect_body: None,
            interval_ms: 1_000,
            timeout_ms: 500,
            rise,
            fall,
            nodes: nodes.to_vec(),
        });
        CheckId(self.parts.checks.len() as u32 - 1)
    }

    pub fn check_mut(&mut self, id: CheckId) -> &mut Check {
        &mut self.parts.checks[id.index()]
    }

    /// An exec hook (services name it as their `actuator`; rollouts by operation).
    pub fn hook(&mut self, name: &str, timeout_ms: u64, parallel_max: u32) -> HookId {
        self.parts.hooks.push(Hook {
            name: name.into(),
            kind: HookKind::Exec { command: vec![name.into()] },
            timeout_ms,
            retries: 0,
            parallel_max,
            services: Vec::new(),
        });
        HookId(self.parts.hooks.len() as u32 - 1)
    }

    pub fn hook_mut(&mut self, id: HookId) -> &mut Hook {
        &mut self.parts.hooks[id.index()]
    }

    pub fn service(&mut self, name: &str, kind: ServiceKind, group: &str, candidates: &[NodeId], initial: &[NodeId]) -> ServiceId {
        self.parts.services.push(Service {
            name: name.into(),
            kind,
            group: group.into(),
            candidates: candidates.to_vec(),
            initial: initial.to_vec(),
            checks: Vec::new(),
            verify: Vec::new(),
            actuator: HookId(0),
            notify: vec![RouteId(0)],
            min_targets: 1,
            fence: FenceMode::Stop,
            sync_delete_max: 100,
            follows: None,
        });
        let id = ServiceId(self.parts.services.len() as u32 - 1);
        self.parts.hooks[0].services.push(id);
        id
    }

    pub fn service_mut(&mut self, id: ServiceId) -> &mut Service {
        &mut self.parts.services[id.index()]
    }

    pub fn build(mut self) -> Snapshot {
        if self.parts.policy.default_notify.is_empty() {
            self.parts.policy.default_notify.push(RouteId(0));
        }
        Snapshot::assemble(self.parts)
    }
}
