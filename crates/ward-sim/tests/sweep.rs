//! A random fault sweep in the VOPR's spirit: a small generated inventory, random
//! crashes, partitions, flaps, torn inventories, controller restarts and operator
//! holds. Safety under faults: no engine invariant breaks, no split brain, no hold
//! overridden; and the same seed gives the same journal.

use std::sync::Arc;

use proptest::prelude::*;
use ward_core::engine::HoldTarget;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{CheckKind, Replication, ServiceKind, Snapshot};
use ward_core::Mode;
use ward_sim::expect::Expect;
use ward_sim::metrics::journal_sha256;
use ward_sim::scenario::{Cut, Endpoint, Fault, InventoryDoc, OperatorCommand, Scenario, ScenarioEvent, Torn, WorldKnobs};

const NODES: [&str; 6] = ["a-web", "b-web", "a-db", "b-db", "c-db", "a-lb"];

/// Two sites, three observers; a dns, a vip and a replicated primary.
fn inventory(hash: &str, drop_vip_candidate: bool) -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new().hash(hash).policy(|p| {
        p.quorum = 2;
        p.stale_after_ms = 20_000;
    });
    let (sa, sb) = (b.site("a"), b.site("b"));
    b.observer("obs-a", sa);
    b.observer("obs-b", sb);
    b.observer("obs-a2", sa);
    let web_a = b.node("a-web", sa, &[("role", "web")]);
    let web_b = b.node("b-web", sb, &[("role", "web")]);
    let db_a = b.node("a-db", sa, &[("role", "db")]);
    let db_b = b.node("b-db", sb, &[("role", "db")]);
    let db_c = b.node("c-db", sb, &[("role", "db")]);
    let lb = b.node("a-lb", sa, &[("role", "lb")]);
    let up = b.check("up", CheckKind::Tcp, &[web_a, web_b, db_a, db_b, db_c, lb], 2, 2);
    let repl = b.check("repl", CheckKind::Postgres, &[db_b, db_c], 1, 2);
    for db in [db_b, db_c] {
        b.node_mut(db).replication = Some(Replication { source: db_a, lag_max_ms: 30_000, check: repl, repair: None });
    }
    b.service("web", ServiceKind::Dns, "web", &[web_a, web_b], &[web_a, web_b]);
    let vip_candidates: Vec<_> = if drop_vip_candidate { vec![web_b, lb] } else { vec![lb, web_a, web_b] };
    let vip_initial = if drop_vip_candidate { web_b } else { lb };
    b.service("vip", ServiceKind::Vip, "edge", &vip_candidates, &[vip_initial]);
    b.service("db", ServiceKind::Primary, "db", &[db_a, db_b, db_c], &[db_a]);
    let _ = up;
    let mut parts = b.build().parts().clone();
    // Probes every 5 s keep the sweep fast.
    for c in parts.checks.iter_mut() {
        c.interval_ms = 5_000;
        c.timeout_ms = 2_000;
    }
    Arc::new(Snapshot::assemble(parts))
}

#[derive(Clone, Debug)]
enum Gen {
    Crash(usize, u64),
    Partition(usize, u64),
    Flap(usize, u64),
    TornUnreadable,
    TornCorrupt,
    ControllerRestart(u64),
    Hold(usize, u64),
    ReplicationBreak(usize, u64),
}

fn gen_fault() -> impl Strategy<Value = Gen> {
    prop_oneof![
        (0..NODES.len(), 10u64..600).prop_map(|(n, d)| Gen::Crash(n, d)),
        (0..2usize, 10u64..600).prop_map(|(s, d)| Gen::Partition(s, d)),
        (0..2usize, 60u64..900).prop_map(|(s, d)| Gen::Flap(s, d)),
        Just(Gen::TornUnreadable),
        Just(Gen::TornCorrupt),
        (5u64..120).prop_map(Gen::ControllerRestart),
        (0..NODES.len(), 60u64..900).prop_map(|(n, d)| Gen::Hold(n, d)),
        (0..2usize, 60u64..900).prop_map(|(n, d)| Gen::ReplicationBreak(n, d)),
    ]
}

const DURATION_MS: u64 = 30 * 60_000;

fn scenario(faults: &[(u64, Gen)]) -> Scenario {
    let site = |s: usize| Endpoint::Site(["a", "b"][s].into());
    let mut events = Vec::new();
    let mut push = |at_ms: u64, fault: Fault| events.push(ScenarioEvent { at_ms: at_ms.min(DURATION_MS), note: None, fault });
    for (at_s, g) in faults {
        let at = at_s * 1_000;
        match g {
            Gen::Crash(n, d) => {
                push(at, Fault::NodeCrash { nodes: vec![NODES[*n].into()] });
                push(at + d * 1_000, Fault::NodeRecover { nodes: vec![NODES[*n].into()] });
            }
            Gen::Partition(s, d) => {
                push(at, Fault::Partition { cut: Cut { a: site(*s), b: Endpoint::Rest }, duration_ms: Some(d * 1_000) })
            }
            Gen::Flap(s, d) => push(
                at,
                Fault::LinkFlap {
                    cut: Cut { a: site(*s), b: Endpoint::Rest },
                    until_ms: (at + d * 1_000).min(DURATION_MS),
                    up: Vec::new(),
                    random: Some((5_000, 90_000)),
                },
            ),
            Gen::TornUnreadable => push(at, Fault::InventoryTorn { torn: Torn::Prefix(40), duration_ms: 20_000 }),
            Gen::TornCorrupt => {
                push(at, Fault::InventoryTorn { torn: Torn::Doc(InventoryDoc::Built(inventory("c0ffee", true))), duration_ms: 20_000 })
            }
            Gen::ControllerRestart(d) => push(at, Fault::ControllerCrash { restart_after_ms: Some(d * 1_000) }),
            Gen::Hold(n, d) => {
                let target = HoldTarget::Node(NODES[*n].into());
                let command = OperatorCommand::Hold { target: target.clone(), reason: "sweep".into(), until_ms: None };
                push(at, Fault::Operator { author: "sweep".into(), command });
                push(at + d * 1_000, Fault::Operator { author: "sweep".into(), command: OperatorCommand::Release { target } });
            }
            Gen::ReplicationBreak(n, d) => {
                let node = ["b-db", "c-db"][*n].to_string();
                push(at, Fault::ReplicationBreak { node: node.clone(), error: "FATAL: terminating walreceiver".into() });
                push(at + d * 1_000, Fault::ReplicationRepair { node });
            }
        }
    }
    events.sort_by_key(|e| e.at_ms);
    Scenario {
        name: "sweep".into(),
        seed_report: None,
        description: String::new(),
        file: "sweep".into(),
        inventory: InventoryDoc::Built(inventory("5eed", false)),
        duration_ms: DURATION_MS,
        start_clock_ms: 0,
        seed: 0,
        world: WorldKnobs { max_events: 2_000_000, ..WorldKnobs::default() },
        events,
        expect: Expect::default(),
    }
}

/// Hold windows per node, from the scenario's operator events.
fn holds(s: &Scenario) -> Vec<(String, u64, u64)> {
    let mut open: Vec<(String, u64)> = Vec::new();
    let mut out = Vec::new();
    for e in &s.events {
        if let Fault::Operator { command, .. } = &e.fault {
            match command {
                // A second hold on the same node replaces the first (one hold per
                // target): the first release ends it.
                OperatorCommand::Hold { target: HoldTarget::Node(n), .. } if !open.iter().any(|(m, _)| m == n) => {
                    open.push((n.clone(), e.at_ms))
                }
                OperatorCommand::Release { target: HoldTarget::Node(n) } => {
                    if let Some(i) = open.iter().position(|(m, _)| m == n) {
                        let (n, t) = open.remove(i);
                        out.push((n, t, e.at_ms));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// A job already in flight when a hold lands may still complete: this long.
const HOLD_GRACE_MS: u64 = 30_000;

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn random_faults_keep_ward_safe(seed in any::<u64>(), faults in prop::collection::vec((0u64..1_700, gen_fault()), 0..8)) {
        let s = scenario(&faults);
        let a = ward_sim::runner::run(&s, Mode::Guarded, seed).unwrap();
        prop_assert!(a.failure.is_none(), "seed {seed}: {:?}", a.failure);
        prop_assert_eq!(a.recorder.split_brain_ms, 0, "seed {} split brain", seed);
        for (node, from, to) in holds(&s) {
            let mut before: std::collections::BTreeMap<&str, &Vec<String>> = Default::default();
            for c in &a.world.placement_log {
                let added = before.get(c.service.as_str()).is_some_and(|b| !b.contains(&node)) && c.holders.contains(&node);
                prop_assert!(!(added && c.at_ms > from + HOLD_GRACE_MS && c.at_ms < to),
                    "seed {seed}: {node} added to {} at {} under a hold {from}..{to}", c.service, c.at_ms);
                before.insert(c.service.as_str(), &c.holders);
            }
        }
        let b = ward_sim::runner::run(&s, Mode::Guarded, seed).unwrap();
        prop_assert_eq!(journal_sha256(&a.controller.journal), journal_sha256(&b.controller.journal), "seed {} not deterministic", seed);
    }
}
