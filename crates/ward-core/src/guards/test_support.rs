//! A tiny two-site world for guard tests, driven through the real health table.

use crate::action::Action;
use crate::action::GuardVerdict;
use crate::guards::{FleetView, Guard, GuardContext, Proposal};
use crate::health::time_sanity::TimeSanity;
use crate::health::HealthTable;
use crate::ids::*;
use crate::inventory::testing::InventoryBuilder;
use crate::inventory::*;
use crate::journal::HoldTarget;
use crate::mode::Mode;
use crate::observation::{Observation, PrimaryStatus, ProbeDetail, ProbeOutcome, ReplicationStatus};
use crate::state::Durable;

pub struct World {
    pub snapshot: Snapshot,
    pub health: HealthTable,
    pub durable: Durable,
    pub time: TimeSanity,
    pub fleet: FleetView,
    pub leases: crate::health::agent_leases::AgentLeases,
    pub now_ms: u64,
    pub replication_error: Option<String>,
    pub down: Vec<String>,
    /// Per node name: the detail its postgres probes report (none if absent).
    pub details: std::collections::BTreeMap<String, ProbeDetail>,
}

/// A standby's report: running or not, lag (None: no figure), received = replayed.
pub fn replication_status(running: bool, lag_ms: Option<u64>, received: u64) -> ProbeDetail {
    ProbeDetail::Replication(ReplicationStatus {
        running,
        lag_ms,
        last_error: (!running).then(|| "WAL receiver stopped".into()),
        replayed_position: received,
        retained_bytes: 0,
        received_position: Some(received),
    })
}

/// A primary's report of its flush position and synchronous standbys.
pub fn primary_status(flush_position: Option<u64>, synchronous: &[&str]) -> ProbeDetail {
    ProbeDetail::Primary(PrimaryStatus {
        flush_position,
        synchronous_standbys: synchronous.iter().map(|s| s.to_string()).collect(),
        summary: String::new(),
        writable: None,
    })
}

/// pg1 (primary of `db`), pg2 and pg3 (standbys of pg1), one site, one observer;
/// a postgres check on every node carries the replication details.
fn build_primary_cluster() -> Snapshot {
    let mut b = InventoryBuilder::new();
    let dc = b.site("dc1");
    b.observer("ctl", dc);
    let nodes: Vec<NodeId> = ["pg1", "pg2", "pg3"].iter().map(|n| b.node(n, dc, &[("role", "db")])).collect();
    let pg = b.check("pg", CheckKind::Postgres, &nodes, 1, 1);
    for &standby in &nodes[1..] {
        b.node_mut(standby).replication = Some(Replication { source: nodes[0], lag_max_ms: 30_000, check: pg, repair: None });
    }
    b.service("db", ServiceKind::Primary, "db", &nodes, &nodes[..1]);
    b.build()
}

fn build(phx_candidate: bool) -> Snapshot {
    let mut b = InventoryBuilder::new();
    let phx = b.site("phx1");
    let scl = b.site("scl2");
    b.observer("ctl", phx);
    let phx_web = b.node("phx1-web", phx, &[("role", "web")]);
    let scl_web = b.node("scl2-web", scl, &[("role", "web")]);
    b.check("http", CheckKind::Http, &[phx_web, scl_web], 1, 1);
    let repl = b.check("repl", CheckKind::Mysql, &[scl_web], 1, 1);
    b.node_mut(scl_web).replication = Some(Replication { source: phx_web, lag_max_ms: 30_000, check: repl, repair: None });
    let candidates: Vec<NodeId> = if phx_candidate { vec![phx_web, scl_web] } else { vec![scl_web] };
    b.service("web", ServiceKind::Dns, "edge", &candidates, &[phx_web]);
    b.service("gw", ServiceKind::Vip, "edge", &candidates, &[phx_web]);
    b.build()
}

impl World {
    pub fn two_sites() -> World {
        let mut world = World::unobserved(build(true));
        world.observe_all();
        world
    }

    /// A world over `snapshot` at a fixed time, with nothing observed yet.
    fn unobserved(snapshot: Snapshot) -> World {
        let health = HealthTable::new(&snapshot);
        let durable = Durable::new(&snapshot);
        let nodes_total = snapshot.nodes().len() as u32;
        let mut world = World {
            snapshot,
            health,
            durable,
            time: TimeSanity::new(),
            fleet: FleetView { nodes_total, observers_total: 1, ..FleetView::default() },
            leases: Default::default(),
            now_ms: 1_000_000,
            replication_error: None,
            down: Vec::new(),
            details: Default::default(),
        };
        let policy = world.snapshot.policy().clone();
        world.time.observe(&world.snapshot, &policy, world.now_ms);
        world
    }

    /// `build_primary_cluster`, with nothing observed yet.
    pub fn primary_cluster() -> World {
        World::unobserved(build_primary_cluster())
    }

    pub fn set_policy(&mut self, change: impl FnOnce(&mut Policy)) {
        let mut parts = self.snapshot.parts().clone();
        change(&mut parts.policy);
        self.snapshot = Snapshot::assemble(parts);
    }

    pub fn two_sites_without_phx_candidate() -> Snapshot {
        build(false)
    }

    pub fn node(&self, name: &str) -> NodeId {
        self.snapshot.node_id(name).expect("test node")
    }

    pub fn service(&self, name: &str) -> ServiceId {
        self.snapshot.service_id(name).expect("test service")
    }

    /// One round of observations from the world's current truth, then a refresh.
    pub fn observe_all(&mut self) {
        self.now_ms += 1_000;
        for (index, probe) in self.snapshot.probes().iter().enumerate() {
            let node = self.snapshot.node_name(probe.node).to_string();
            let up = !self.down.contains(&node);
            let outcome = if up { ProbeOutcome::Pass } else { ProbeOutcome::Fail };
            let mut observation = Observation::new(ProbeId(index as u32), ObserverId(0), self.now_ms, outcome);
            if self.snapshot.check(probe.check).kind == CheckKind::Mysql {
                observation.detail = Some(Box::new(ProbeDetail::Replication(ReplicationStatus {
                    running: self.replication_error.is_none(),
                    lag_ms: Some(0),
                    last_error: self.replication_error.clone(),
                    replayed_position: 1,
                    retained_bytes: 0,
                    received_position: None,
                })));
            }
            if self.snapshot.check(probe.check).kind == CheckKind::Postgres && up {
                observation.detail = self.details.get(&node).cloned().map(Box::new);
            }
            self.health.ingest(&self.snapshot, &observation);
        }
        self.health.refresh(&self.snapshot, self.now_ms, false);
    }

    pub fn mark_down(&mut self, name: &str) {
        self.down.push(name.to_string());
        self.observe_all();
    }

    pub fn mark_up(&mut self, name: &str) {
        self.down.retain(|n| n != name);
        self.observe_all();
    }

    pub fn break_replication(&mut self, _name: &str, error: &str) {
        self.replication_error = Some(error.to_string());
        self.observe_all();
    }

    pub fn set_lifecycle(&mut self, name: &str, lifecycle: Lifecycle) {
        let mut parts = self.snapshot.parts().clone();
        let id = self.node(name);
        parts.nodes[id.index()].lifecycle = lifecycle;
        self.snapshot = Snapshot::assemble(parts);
    }

    /// Stay healthy for `duration_ms`, observing once a minute.
    pub fn advance_stable(&mut self, duration_ms: u64) {
        let end = self.now_ms + duration_ms;
        while self.now_ms < end {
            self.now_ms += 59_000;
            self.observe_all();
        }
    }

    pub fn hold(&mut self, target: HoldTarget) {
        self.durable.holds.push(crate::state::Hold {
            target,
            author: "gene".into(),
            reason: "site network unstable".into(),
            since_ms: self.now_ms,
            until_ms: None,
        });
    }

    pub fn set_dns_add_scl2(&self) -> Action {
        let (phx, scl) = (self.node("phx1-web"), self.node("scl2-web"));
        Action::SetDnsTargets { service: self.service("web"), from: vec![phx], to: vec![phx, scl] }
    }

    pub fn context(&self) -> GuardContext<'_> {
        GuardContext {
            now_ms: self.now_ms,
            mode: Mode::Guarded,
            snapshot: &self.snapshot,
            health: &self.health,
            durable: &self.durable,
            time: &self.time,
            fleet: &self.fleet,
            leases: &self.leases,
        }
    }

    pub fn judge_with(&self, guard: &dyn Guard, action: &Action, cause: &crate::action::Cause) -> GuardVerdict {
        let proposal = Proposal { action, cause };
        guard.judge(&self.context(), &proposal)
    }
}
