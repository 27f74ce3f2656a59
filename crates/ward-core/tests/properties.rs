//! Property tests over random fault schedules, at the engine's API: whatever the
//! faults, restarts and actuator failures, Ward never holds a VIP on two nodes,
//! never sends traffic to a held node, never moves beyond its budget without an
//! approval, and the same inputs always give the same journal.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use ward_core::engine::{Command, HoldTarget, JobRequest};
use ward_core::ids::*;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{Budget, CheckKind, ServiceKind, Snapshot};
use ward_core::journal::{JournalEvent, JournalRecord};
use ward_core::testing::Harness;

const NODES: u32 = 6;

#[derive(Clone, Debug)]
enum Fault {
    Crash(u32),
    Recover(u32),
    PartitionObserver(u16),
    HealObserver(u16),
    Hold(u32),
    Release(u32),
    RestartController,
    Pause(u32),
    Quiet,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        4 => (0..NODES).prop_map(Fault::Crash),
        4 => (0..NODES).prop_map(Fault::Recover),
        1 => (0..3u16).prop_map(Fault::PartitionObserver),
        1 => (0..3u16).prop_map(Fault::HealObserver),
        1 => (0..NODES).prop_map(Fault::Hold),
        1 => (0..NODES).prop_map(Fault::Release),
        1 => Just(Fault::RestartController),
        1 => (20..120u32).prop_map(Fault::Pause),
        8 => Just(Fault::Quiet),
    ]
}

fn inventory() -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new().policy(|p| {
        p.quorum = 2;
        p.budget.group_moves_max = 2;
        p.budget.group_percent_max = 0;
        p.budget.fleet_moves_max = 3;
        p.budget.fleet_percent_max = 0;
    });
    let site = b.site("dc");
    for o in ["a", "b", "c"] {
        b.observer(o, site);
    }
    let nodes: Vec<NodeId> = (0..NODES).map(|i| b.node(&format!("n{i}"), site, &[])).collect();
    b.check("http", CheckKind::Http, &nodes, 2, 2);
    for s in 0..4 {
        let candidates = [nodes[s], nodes[(s + 1) % NODES as usize], nodes[(s + 2) % NODES as usize]];
        b.service(&format!("vip{s}"), ServiceKind::Vip, if s < 2 { "g1" } else { "g2" }, &candidates, &[candidates[0]]);
    }
    b.service("dns", ServiceKind::Dns, "g2", &nodes[..3], &nodes[..3]);
    Arc::new(b.build())
}

/// Runs a schedule (one fault per 10 s of virtual time) and returns the journal.
/// The actuator answers each step 3 s after it started, failing one in five.
fn run(schedule: &[Fault], seed: u64) -> Vec<JournalRecord> {
    let mut h = Harness::new(inventory());
    let mut running: Vec<(u64, JobRequest)> = Vec::new();
    let mut rng = seed;
    for fault in schedule {
        match fault {
            Fault::Crash(n) => h.fail(NodeId(*n)),
            Fault::Recover(n) => drop(h.world.outcomes.remove(&NodeId(*n))),
            Fault::PartitionObserver(o) => drop(h.world.cut.insert(*o)),
            Fault::HealObserver(o) => drop(h.world.cut.remove(o)),
            Fault::Hold(n) => {
                let _ = h.engine.command(
                    h.now_ms,
                    Command::Hold {
                        target: HoldTarget::Node(format!("n{n}")),
                        author: "prop".into(),
                        reason: "test".into(),
                        until_ms: None,
                    },
                );
            }
            Fault::Release(n) => {
                let _ = h.engine.command(h.now_ms, Command::Release { target: HoldTarget::Node(format!("n{n}")), author: "prop".into() });
            }
            Fault::RestartController => {
                h.restart();
                // In-flight actuator calls from the old term are answered to nobody.
                running.clear();
            }
            Fault::Pause(seconds) => h.pause(*seconds as u64 * 1_000),
            Fault::Quiet => {}
        }
        h.drain();
        for _ in 0..10 {
            running.extend(h.started.drain(..).map(|r| (h.now_ms + 3_000, r)));
            h.seconds(1);
            running.extend(h.started.drain(..).map(|r| (h.now_ms + 3_000, r)));
            let (due, waiting): (Vec<_>, Vec<_>) = running.drain(..).partition(|(at, _)| *at <= h.now_ms);
            running = waiting;
            for (_, request) in due {
                rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let ok = (rng >> 33) % 5 != 0;
                h.answer(&request, ok, "", None);
                running.extend(h.started.drain(..).map(|r| (h.now_ms + 3_000, r)));
            }
        }
    }
    h.journal
}

/// Replays the journal's holds and decisions: no job ever sends traffic to a held node,
/// and no group or the fleet moves beyond its budget in any window without approval.
fn check_journal(journal: &[JournalRecord], snapshot: &Snapshot) -> Result<(), String> {
    let mut held: BTreeSet<String> = BTreeSet::new();
    let budget = &snapshot.policy().budget;
    let mut moves: Vec<(u64, String, bool)> = Vec::new();
    for record in journal {
        match &record.event {
            JournalEvent::HoldPlaced { target: HoldTarget::Node(node), .. } => drop(held.insert(node.clone())),
            JournalEvent::HoldReleased { target: HoldTarget::Node(node), .. } => drop(held.remove(node)),
            JournalEvent::Decision { action, verdict, job: Some(_), .. } => {
                if let Some(node) = action.destinations().iter().find(|n| held.contains(n.as_str())) {
                    return Err(format!("decision at {} sends {} to held node {node}", record.at_ms, action.kind()));
                }
                if action.is_move() {
                    let approved = verdict.guards.iter().any(|g| g.sentence.contains("Approved by"));
                    let group = snapshot
                        .service(snapshot.service_id(action.service_ref().map(String::as_str).unwrap_or_default()).unwrap())
                        .group
                        .clone();
                    moves.push((record.at_ms, group, approved));
                }
            }
            _ => {}
        }
    }
    for (i, (at, group, approved)) in moves.iter().enumerate() {
        if *approved {
            continue;
        }
        let window: Vec<_> = moves[..=i].iter().filter(|(t, _, _)| *t + budget.window_ms > *at).collect();
        let group_size = snapshot.services().iter().filter(|s| &s.group == group).count();
        let group_limit = Budget::limit(budget.group_moves_max, budget.group_percent_max, group_size) as usize;
        let fleet_limit = Budget::limit(budget.fleet_moves_max, budget.fleet_percent_max, snapshot.services().len()) as usize;
        if window.iter().filter(|(_, g, _)| g == group).count() > group_limit || window.len() > fleet_limit {
            return Err(format!("move at {at} ms in group {group} exceeds the budget without approval"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn safety_holds_under_random_faults(schedule in proptest::collection::vec(fault(), 10..60), seed in any::<u64>()) {
        let journal = run(&schedule, seed);
        if let Err(broken) = check_journal(&journal, &inventory()) {
            panic!("{broken}\nschedule: {schedule:?}\nseed: {seed}");
        }
    }

    #[test]
    fn same_inputs_same_journal(schedule in proptest::collection::vec(fault(), 5..30), seed in any::<u64>()) {
        prop_assert_eq!(run(&schedule, seed), run(&schedule, seed));
    }
}

/// The schedules above are not vacuous: crashes do cause moves, and a mass crash
/// runs into the budget and asks for approval.
#[test]
fn faults_cause_moves_and_mass_faults_hit_the_budget() {
    let schedule =
        [Fault::Quiet, Fault::Crash(0), Fault::Quiet, Fault::Crash(1), Fault::Crash(2), Fault::Crash(3), Fault::Quiet, Fault::Quiet];
    let journal = run(&schedule, 7);
    let moved = journal
        .iter()
        .filter(|r| matches!(&r.event, JournalEvent::Decision { job: Some(_), action: ward_core::action::NamedAction::MoveVip { .. }, .. }))
        .count();
    let gated = journal
        .iter()
        .filter(|r| matches!(&r.event, JournalEvent::Decision { job: None, verdict, .. } if verdict.outcome == ward_core::action::Outcome::NeedsApproval))
        .count();
    assert!(moved >= 1, "no move at all: {journal:#?}");
    assert!(gated >= 1, "four crashed nodes never hit the budget of 3");
    check_journal(&journal, &inventory()).unwrap();
}
