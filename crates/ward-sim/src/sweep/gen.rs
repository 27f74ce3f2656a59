//! Schedule generation: a random topology and a random list of faults, each of
//! which ends before `HEAL_MS`, from one seed.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ward_core::engine::HoldTarget;
use ward_core::ids::NodeId;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{CheckKind, Replication, ServiceKind, Snapshot};

use super::{FAULT_WINDOW_MS, HEAL_MS, PROBE_INTERVAL_MS, SETTLE_MS};
use crate::expect::Expect;
use crate::scenario::{Cut, Endpoint, Fault, InventoryDoc, OperatorCommand, Scenario, ScenarioEvent, Torn, WorldKnobs};

const SITES: [&str; 3] = ["a", "b", "c"];

/// The shape of a swept world.
#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    pub sites: usize,
    /// Per site: web nodes, database nodes, whether it has a load balancer node.
    pub web: Vec<usize>,
    pub db: Vec<usize>,
    pub lb: Vec<bool>,
    /// Observers per site.
    pub observers: Vec<usize>,
    pub dns: bool,
    pub vip: bool,
    pub primary: bool,
    /// Probability an actuator call fails.
    pub actuator_failure_rate: f64,
    /// The site the controller runs in: a partition of it cuts the controller off
    /// from the other sites' observers and nodes.
    pub controller_site: usize,
    /// The database hosts run `ward agent` (leases, self-fencing).
    pub agents: bool,
}

/// One fault, with how long it lasts where that applies (ms). A silent replication
/// break stops replication without a word: the replica still reports running, with
/// no lag figure.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultSpec {
    Crash {
        node: String,
        for_ms: u64,
    },
    Partition {
        site: String,
        for_ms: u64,
    },
    Flap {
        site: String,
        for_ms: u64,
    },
    TornUnreadable,
    TornCorrupt,
    ControllerCrash {
        for_ms: u64,
    },
    ControllerPause {
        for_ms: u64,
        clock_frozen: bool,
    },
    ClockStep {
        by_ms: i64,
    },
    Hold {
        target: HoldTarget,
        for_ms: u64,
    },
    ReplicationBreak {
        node: String,
        for_ms: u64,
        silent: bool,
    },
    /// A node crashes as soon as Ward's next promotion completes (a fault that
    /// depends on what Ward did: the new primary's host was the weak one).
    CrashAfterPromotion {
        node: String,
        for_ms: u64,
    },
    /// Probes time out with this probability for a while (loss that changes over time).
    ProbeLoss {
        percent: u32,
        for_ms: u64,
    },
    /// A host stops answering and reaches nothing, its agent included (a dead
    /// host or a partition of that one host), for a while.
    Isolate {
        node: String,
        for_ms: u64,
    },
    /// A host is paused (a frozen VM) and goes on afterwards where it stopped.
    Freeze {
        node: String,
        for_ms: u64,
    },
}

/// A generated schedule: the seed it came from, the world and the faults.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub seed: u64,
    pub topology: Topology,
    /// (start, fault), sorted by start.
    pub faults: Vec<(u64, FaultSpec)>,
}

impl Topology {
    pub fn nodes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (s, site) in SITES.iter().enumerate().take(self.sites) {
            out.extend((0..self.web[s]).map(|i| format!("{site}-web{i}")));
            out.extend((0..self.db[s]).map(|i| format!("{site}-db{i}")));
            if self.lb[s] {
                out.push(format!("{site}-lb"));
            }
        }
        out
    }

    fn site_names(&self) -> &[&'static str] {
        &SITES[..self.sites]
    }

    /// The replicas: every database node but the first (the initial primary).
    pub fn replicas(&self) -> Vec<String> {
        self.nodes().into_iter().filter(|n| n.contains("-db")).skip(1).collect()
    }

    /// The inventory; `corrupt` gives the torn copy seed 002 describes: it parses,
    /// but every service lists fewer candidates and the hash differs.
    pub fn inventory(&self, corrupt: bool) -> Arc<Snapshot> {
        let observers: usize = self.observers.iter().sum();
        let controller_site = ward_core::ids::SiteId(self.controller_site as u16);
        let mut b = InventoryBuilder::new().hash(if corrupt { "c0ffee" } else { "5eed" }).policy(|p| {
            p.quorum = (observers / 2 + 1) as u16;
            p.controller_site = Some(controller_site);
            p.stale_after_ms = 4 * PROBE_INTERVAL_MS;
            // Damping keeps a flapping node out for about two half-lives after its
            // last flap (by design); a short half-life lets that end within a run.
            p.damping.half_life_ms = 2 * 60_000;
        });
        let (mut web, mut db, mut lb) = (Vec::new(), Vec::new(), Vec::new());
        for (s, name) in self.site_names().iter().enumerate() {
            let site = b.site(name);
            for o in 0..self.observers[s] {
                b.observer(&format!("obs-{name}{o}"), site);
            }
            for i in 0..self.web[s] {
                web.push(b.node(&format!("{name}-web{i}"), site, &[("role", "web")]));
            }
            for i in 0..self.db[s] {
                let node = b.node(&format!("{name}-db{i}"), site, &[("role", "db")]);
                b.node_mut(node).agent = self.agents;
                db.push(node);
            }
            if self.lb[s] {
                lb.push(b.node(&format!("{name}-lb"), site, &[("role", "lb")]));
            }
        }
        let all: Vec<NodeId> = web.iter().chain(&db).chain(&lb).copied().collect();
        b.check("up", CheckKind::Tcp, &all, 2, 2);
        let trim = |c: &[NodeId]| -> Vec<NodeId> {
            if corrupt && c.len() > 1 {
                c[..c.len() - 1].to_vec()
            } else {
                c.to_vec()
            }
        };
        if self.dns && !web.is_empty() {
            let c = trim(&web);
            b.service("web", ServiceKind::Dns, "web", &c, &c);
        }
        if self.vip {
            let c: Vec<NodeId> = lb.iter().chain(&web).copied().collect();
            if !c.is_empty() {
                let c = trim(&c);
                b.service("vip", ServiceKind::Vip, "edge", &c, &c[..1]);
            }
        }
        if self.primary && db.len() >= 2 {
            // On the primary too: it reports its flush position, which a failover
            // needs to show that a standby holds every acknowledged write.
            let repl = b.check("repl", CheckKind::Postgres, &db, 1, 2);
            for &r in &db[1..] {
                b.node_mut(r).replication = Some(Replication { source: db[0], lag_max_ms: 30_000, check: repl, repair: None });
            }
            let c = trim(&db);
            b.service("db", ServiceKind::Primary, "db", &c, &db[..1]);
        }
        let mut parts = b.build().parts().clone();
        for c in parts.checks.iter_mut() {
            c.interval_ms = PROBE_INTERVAL_MS;
            c.timeout_ms = 2_000;
        }
        Arc::new(Snapshot::assemble(parts))
    }
}

/// Draws a schedule from `seed`.
pub fn generate(seed: u64) -> Schedule {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sites = rng.random_range(2..=3usize);
    let mut t = Topology {
        sites,
        web: (0..sites).map(|_| rng.random_range(0..=2)).collect(),
        db: (0..sites).map(|_| rng.random_range(0..=2)).collect(),
        lb: (0..sites).map(|_| rng.random_bool(0.3)).collect(),
        observers: (0..sites).map(|_| rng.random_range(1..=2)).collect(),
        dns: rng.random_bool(0.8),
        vip: rng.random_bool(0.8),
        primary: rng.random_bool(0.8),
        actuator_failure_rate: if rng.random_bool(0.3) { 0.1 } else { 0.0 },
        controller_site: 0,
        agents: false,
    };
    t.controller_site = rng.random_range(0..sites);
    t.agents = rng.random_bool(0.5);
    // At least one web node and two databases, so every kind of service can exist.
    if t.web.iter().sum::<usize>() == 0 {
        t.web[0] = 1;
    }
    while t.db.iter().sum::<usize>() < 2 {
        let s = rng.random_range(0..sites);
        t.db[s] += 1;
    }
    let nodes = t.nodes();
    let replicas = if t.primary { t.replicas() } else { Vec::new() };
    let count = rng.random_range(0..=8);
    let mut faults = Vec::with_capacity(count);
    for _ in 0..count {
        let at = rng.random_range(0..FAULT_WINDOW_MS) / 1_000 * 1_000;
        let room = HEAL_MS - at;
        let dur = |rng: &mut ChaCha8Rng, min: u64, max: u64| rng.random_range(min.min(room)..=max.min(room)) / 1_000 * 1_000;
        let site = SITES[rng.random_range(0..sites)].to_string();
        let fault = match rng.random_range(0..15) {
            0 | 1 => FaultSpec::Crash { node: nodes[rng.random_range(0..nodes.len())].clone(), for_ms: dur(&mut rng, 10_000, 600_000) },
            2 => FaultSpec::Partition { site, for_ms: dur(&mut rng, 10_000, 600_000) },
            3 => FaultSpec::Flap { site, for_ms: dur(&mut rng, 60_000, 600_000) },
            4 => {
                if rng.random_bool(0.5) {
                    FaultSpec::TornUnreadable
                } else {
                    FaultSpec::TornCorrupt
                }
            }
            5 => FaultSpec::ControllerCrash { for_ms: dur(&mut rng, 5_000, 120_000) },
            6 => FaultSpec::ControllerPause { for_ms: dur(&mut rng, 5_000, 120_000), clock_frozen: rng.random_bool(0.5) },
            7 => FaultSpec::ClockStep { by_ms: rng.random_range(-120_000i64..=600_000) / 1_000 * 1_000 },
            8 | 9 => {
                let target = match rng.random_range(0..4) {
                    0 => HoldTarget::Site(site),
                    // A freeze: nothing automated anywhere while it stands.
                    1 => HoldTarget::Fleet,
                    _ => HoldTarget::Node(nodes[rng.random_range(0..nodes.len())].clone()),
                };
                FaultSpec::Hold { target, for_ms: dur(&mut rng, 60_000, 600_000) }
            }
            11 if !replicas.is_empty() => FaultSpec::CrashAfterPromotion {
                node: replicas[rng.random_range(0..replicas.len())].clone(),
                for_ms: dur(&mut rng, 10_000, 300_000),
            },
            12 => FaultSpec::ProbeLoss { percent: rng.random_range(5..=40), for_ms: dur(&mut rng, 30_000, 600_000) },
            // The primary's host, mostly: the case leases are for.
            13 | 14 if t.primary => {
                let db = t.nodes().into_iter().filter(|n| n.contains("-db")).collect::<Vec<_>>();
                let node = if rng.random_bool(0.6) { db[0].clone() } else { db[rng.random_range(0..db.len())].clone() };
                if rng.random_bool(0.5) {
                    FaultSpec::Isolate { node, for_ms: dur(&mut rng, 3_000, 300_000) }
                } else {
                    FaultSpec::Freeze { node, for_ms: dur(&mut rng, 3_000, 120_000) }
                }
            }
            _ if !replicas.is_empty() => FaultSpec::ReplicationBreak {
                node: replicas[rng.random_range(0..replicas.len())].clone(),
                for_ms: dur(&mut rng, 60_000, 600_000),
                silent: rng.random_bool(0.5),
            },
            _ => FaultSpec::TornUnreadable,
        };
        faults.push((at, fault));
    }
    faults.sort_by_key(|(at, _)| *at);
    Schedule { seed, topology: t, faults }
}

/// The scenario a schedule runs: its faults, then at `HEAL_MS` every fault healed
/// and every hold released, then `SETTLE_MS` more.
pub fn scenario(s: &Schedule) -> Scenario {
    let t = &s.topology;
    let mut events = Vec::new();
    let mut push =
        |at_ms: u64, fault: Fault| events.push(ScenarioEvent { at_ms, note: None, fault, after_action: None, armed_until_ms: None });
    let mut after_promotion = Vec::new();
    let rest = |site: &str| Cut { a: Endpoint::Site(site.into()), b: Endpoint::Rest };
    let mut holds = Vec::new();
    for (at, f) in &s.faults {
        let at = *at;
        match f {
            FaultSpec::Crash { node, for_ms } => {
                push(at, Fault::NodeCrash { nodes: vec![node.clone()] });
                push(at + for_ms, Fault::NodeRecover { nodes: vec![node.clone()] });
            }
            FaultSpec::Partition { site, for_ms } => push(at, Fault::Partition { cut: rest(site), duration_ms: Some(*for_ms) }),
            FaultSpec::Flap { site, for_ms } => {
                push(at, Fault::LinkFlap { cut: rest(site), until_ms: at + for_ms, up: Vec::new(), random: Some((5_000, 90_000)) })
            }
            FaultSpec::TornUnreadable => push(at, Fault::InventoryTorn { torn: Torn::Prefix(40), duration_ms: 20_000 }),
            FaultSpec::TornCorrupt => {
                push(at, Fault::InventoryTorn { torn: Torn::Doc(InventoryDoc::Built(t.inventory(true))), duration_ms: 20_000 })
            }
            FaultSpec::ControllerCrash { for_ms } => push(at, Fault::ControllerCrash { restart_after_ms: Some(*for_ms) }),
            FaultSpec::ControllerPause { for_ms, clock_frozen } => {
                push(at, Fault::ControllerPause { duration_ms: *for_ms, clock_frozen: *clock_frozen })
            }
            FaultSpec::ClockStep { by_ms } => push(at, Fault::ClockJump { jump_ms: *by_ms }),
            FaultSpec::Hold { target, for_ms } => {
                let command = OperatorCommand::Hold { target: target.clone(), reason: "sweep".into(), until_ms: None };
                push(at, Fault::Operator { author: "sweep".into(), command });
                let release = OperatorCommand::Release { target: target.clone() };
                push(at + for_ms, Fault::Operator { author: "sweep".into(), command: release });
                holds.push(target.clone());
            }
            FaultSpec::ReplicationBreak { node, for_ms, silent } => {
                if *silent {
                    push(at, Fault::ReplicationSilentStop { node: node.clone() });
                } else {
                    push(at, Fault::ReplicationBreak { node: node.clone(), error: "FATAL: terminating walreceiver".into() });
                }
                push(at + for_ms, Fault::ReplicationRepair { node: node.clone() });
            }
            FaultSpec::CrashAfterPromotion { node, for_ms } => {
                after_promotion.push(ScenarioEvent {
                    at_ms: at,
                    note: None,
                    fault: Fault::NodeCrash { nodes: vec![node.clone()] },
                    after_action: Some(ward_core::action::ActionKind::Promote),
                    armed_until_ms: Some(HEAL_MS),
                });
                push(at + for_ms, Fault::NodeRecover { nodes: vec![node.clone()] });
            }
            FaultSpec::ProbeLoss { percent, for_ms } => {
                push(at, Fault::ProbeLoss { rate: *percent as f64 / 100.0 });
                push(at + for_ms, Fault::ProbeLoss { rate: 0.0 });
            }
            FaultSpec::Isolate { node, for_ms } => {
                push(at, Fault::Partition { cut: Cut { a: Endpoint::Node(node.clone()), b: Endpoint::Rest }, duration_ms: Some(*for_ms) })
            }
            FaultSpec::Freeze { node, for_ms } => push(at, Fault::NodeFreeze { nodes: vec![node.clone()], duration_ms: *for_ms }),
        }
    }
    // Heal everything: the controller runs, every link heals, every node is up,
    // replication flows, every hold is released (a release the controller missed
    // while it was down or paused is given again).
    push(HEAL_MS, Fault::ControllerRestart);
    push(HEAL_MS, Fault::Heal { cut: None });
    push(HEAL_MS, Fault::NodeRecover { nodes: t.nodes() });
    for r in t.replicas() {
        if s.topology.primary {
            push(HEAL_MS, Fault::ReplicationRepair { node: r });
        }
    }
    for target in holds {
        push(HEAL_MS, Fault::Operator { author: "sweep".into(), command: OperatorCommand::Release { target } });
    }
    push(HEAL_MS, Fault::ProbeLoss { rate: 0.0 });
    events.extend(after_promotion);
    events.sort_by_key(|e| e.at_ms);
    let mut world = WorldKnobs { max_events: 2_000_000, ..WorldKnobs::default() };
    world.actuator.failure_rate = t.actuator_failure_rate;
    Scenario {
        name: format!("sweep {}", s.seed),
        seed_report: None,
        description: String::new(),
        file: format!("sweep seed {}", s.seed),
        inventory: InventoryDoc::Built(t.inventory(false)),
        duration_ms: HEAL_MS + SETTLE_MS,
        start_clock_ms: 0,
        seed: s.seed,
        world,
        events,
        expect: Expect::default(),
    }
}
