//! A primary whose host stops answering, through the engine: with `ward agent`
//! leases Ward promotes after lease + margin when the other members cannot reach
//! the old primary either, and only then; without an agent, or when the others
//! still reach it, a person decides. A restart never hastens the promotion, a
//! returning old primary that answers as writable is fenced at once, and a failed
//! fence is retried after `policy.fence_retry_after`.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use ward_core::action::{Action, NamedAction, Outcome};
use ward_core::agent::{LeaseRequest, PeerReport};
use ward_core::ids::*;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{CheckKind, FenceMode, Replication, ServiceKind, Snapshot};
use ward_core::journal::JournalEvent;
use ward_core::observation::{PrimaryStatus, ProbeDetail, ProbeOutcome, ReplicationStatus};
use ward_core::testing::Harness;

const PG1: NodeId = NodeId(0);
const PG2: NodeId = NodeId(1);
const PG3: NodeId = NodeId(2);
const MAIN: ServiceId = ServiceId(0);
const NAMES: [&str; 3] = ["pg1", "pg2", "pg3"];

/// pg1 primary, pg2 and pg3 standbys, probed every 250 ms (a freeze is down after
/// eight timeouts); agents on `agents`, lease 2 s renewed every 500 ms, margin 1 s.
fn cluster(agents: &[NodeId]) -> Arc<Snapshot> {
    cluster_with(agents, 2_000)
}

fn cluster_with(agents: &[NodeId], lease_ms: u64) -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new().policy(|p| {
        p.tick_ms = 250;
        p.budget.group_moves_max = 100;
        p.budget.fleet_moves_max = 100;
        p.agent.lease_ms = lease_ms;
        p.agent.renew_every_ms = 500;
        p.agent.margin_ms = 1_000;
        p.fence_retry_after_ms = 5_000;
    });
    let site = b.site("dc1");
    b.observer("controller", site);
    let nodes: Vec<NodeId> = NAMES.iter().map(|n| b.node(n, site, &[])).collect();
    let check = b.check("pg", CheckKind::Postgres, &nodes, 1, 2);
    b.check_mut(check).interval_ms = 250;
    b.check_mut(check).timeout_ms = 200;
    b.check_mut(check).timeout_fall = 8;
    for &standby in &nodes[1..] {
        b.node_mut(standby).replication = Some(Replication { source: PG1, lag_max_ms: 10_000, check, repair: None });
    }
    for &node in agents {
        b.node_mut(node).agent = true;
    }
    let main = b.service("pg-main", ServiceKind::Primary, "pg-main", &nodes, &[PG1]);
    b.service_mut(main).fence = FenceMode::ReadOnly;
    Arc::new(b.build())
}

/// The cluster; `pg1_writable` makes pg1 answer as a writable primary whoever holds
/// the service (a frozen old primary waking up).
fn start_with(agents: &[NodeId], pg1_writable: Rc<Cell<bool>>) -> Harness {
    start_on(cluster(agents), pg1_writable)
}

fn start_on(snapshot: Arc<Snapshot>, pg1_writable: Rc<Cell<bool>>) -> Harness {
    let mut c = Harness::new(snapshot).timing(10, 250);
    c.set_detail(move |engine, world, node| {
        // A failing probe carries the server's error, as the real postgres probe does.
        if !world.outcome(node, ObserverId(0)).is_pass() {
            return Some(ProbeDetail::Message("connection refused".into()));
        }
        if engine.placement(MAIN).first() == Some(&node) || (node == PG1 && pg1_writable.get()) {
            return Some(ProbeDetail::Primary(PrimaryStatus {
                flush_position: Some(1_000),
                synchronous_standbys: vec!["pg2".into(), "pg3".into()],
                summary: String::new(),
                writable: Some(true),
            }));
        }
        Some(ProbeDetail::Replication(ReplicationStatus {
            running: true,
            lag_ms: Some(0),
            last_error: None,
            replayed_position: 1_000,
            retained_bytes: 0,
            received_position: Some(1_000),
        }))
    });
    c
}

fn start(agents: &[NodeId]) -> Harness {
    start_with(agents, Rc::new(Cell::new(false)))
}

/// How the agents behave while time runs.
struct Agents<'a> {
    /// Which agents renew (a frozen or cut-off host's does not).
    renewing: &'a [NodeId],
    /// Whether the other members reach pg1.
    pg1_reachable: bool,
}

/// Runs `duration_ms` with the agents in `renewing` renewing every 500 ms.
fn run(c: &mut Harness, duration_ms: u64, agents: &Agents) {
    let end = c.now_ms + duration_ms;
    while c.now_ms < end {
        c.run_ms(50);
        if c.now_ms % 500 == 0 {
            for &node in agents.renewing {
                let peers = (0..3u32)
                    .map(NodeId)
                    .filter(|&n| n != node)
                    .map(|n| PeerReport { node: NAMES[n.index()].into(), reachable: n != PG1 || agents.pg1_reachable, writable: false })
                    .collect();
                let request =
                    LeaseRequest { node: NAMES[node.index()].into(), sent_at_unix_ms: c.now_ms, peers, ..LeaseRequest::default() };
                let answer = c.engine.renew_lease(c.now_ms, &request);
                assert!(answer.granted, "{}", answer.sentence);
                c.drain();
            }
        }
    }
}

const ALL: Agents = Agents { renewing: &[PG1, PG2, PG3], pg1_reachable: true };
const PG1_CUT_OFF: Agents = Agents { renewing: &[PG2, PG3], pg1_reachable: false };

/// Answers every started step (`ok`) and returns their kinds.
fn answer(c: &mut Harness, ok: bool) -> Vec<&'static str> {
    let kinds = c.started_kinds();
    c.answer_all_with(ok, if ok { "done" } else { "fence NOT confirmed: connect timeout" });
    kinds
}

fn lease_fence_at(c: &Harness) -> Option<u64> {
    c.journal.iter().find(|r| matches!(r.event, JournalEvent::FencedByLease { .. })).map(|r| r.at_ms)
}

fn approvals_asked(c: &Harness) -> usize {
    c.count(|e| matches!(e, JournalEvent::Decision { verdict, .. } if verdict.outcome == Outcome::NeedsApproval))
}

#[test]
fn an_unanswering_primary_with_an_agent_fails_over_after_lease_and_margin_without_a_person() {
    let mut c = start(&[PG1, PG2, PG3]);
    run(&mut c, 3_000, &ALL);
    // pg1's host stops answering: its probes time out and its agent goes silent.
    let cut_at = c.now_ms;
    c.set_outcome(PG1, ProbeOutcome::Timeout);
    run(&mut c, 2_500, &PG1_CUT_OFF);
    assert_eq!(answer(&mut c, false), vec!["fence"], "the network fence is tried first (it may answer at once)");
    run(&mut c, 200, &PG1_CUT_OFF);
    assert!(c.started.is_empty(), "no promotion before the lease ran out: {:?}", c.started_kinds());
    assert!(lease_fence_at(&c).is_none());
    run(&mut c, 2_000, &PG1_CUT_OFF);
    let fenced_at = lease_fence_at(&c).expect("pg1 counted as fenced by its lease");
    // The last renewal pg1 sent was at or before the cut: lease 2 s + margin 1 s.
    assert!(fenced_at >= cut_at + 3_000 - 500, "fenced by lease at {fenced_at}, cut at {cut_at}");
    assert!(fenced_at <= cut_at + 3_000 + 300, "fenced by lease at {fenced_at}, cut at {cut_at}");
    assert!(c.started.iter().any(|r| matches!(r.action, Action::Promote { from: Some(PG1), .. })), "{:?}", c.started_kinds());
    assert_eq!(approvals_asked(&c), 0, "nobody was asked");
    let sentence = c
        .journal
        .iter()
        .find_map(|r| match &r.event {
            JournalEvent::Decision { action: NamedAction::Promote { .. }, verdict, job: Some(_), .. } => Some(format!("{verdict:?}")),
            _ => None,
        })
        .expect("an allowed promotion");
    assert!(sentence.contains("safety margin ran out") && sentence.contains("2 of 2 other members cannot reach it"), "{sentence}");
}

#[test]
fn when_the_others_still_reach_the_old_primary_a_person_decides() {
    let mut c = start(&[PG1, PG2, PG3]);
    run(&mut c, 3_000, &ALL);
    c.set_outcome(PG1, ProbeOutcome::Timeout);
    // Only the controller lost pg1: its peers still reach it, so it keeps serving.
    let contested = Agents { renewing: &[PG2, PG3], pg1_reachable: true };
    run(&mut c, 2_500, &contested);
    answer(&mut c, false);
    run(&mut c, 5_000, &contested);
    assert!(lease_fence_at(&c).is_none());
    assert!(!c.started.iter().any(|r| matches!(r.action, Action::Promote { .. })));
    let asked = c.journal.iter().rev().find_map(|r| match &r.event {
        JournalEvent::Decision { verdict, .. } if verdict.outcome == Outcome::NeedsApproval => Some(verdict.reasons().join(" ")),
        _ => None,
    });
    let asked = asked.expect("an approval asked for");
    assert!(asked.contains("may be cut off from Ward alone"), "{asked}");
}

#[test]
fn without_an_agent_an_unconfirmed_fence_still_needs_a_person_and_says_why() {
    let mut c = start(&[PG2, PG3]);
    run(&mut c, 3_000, &Agents { renewing: &[PG2, PG3], pg1_reachable: true });
    c.set_outcome(PG1, ProbeOutcome::Timeout);
    run(&mut c, 2_500, &PG1_CUT_OFF);
    answer(&mut c, false);
    run(&mut c, 5_000, &PG1_CUT_OFF);
    assert!(lease_fence_at(&c).is_none());
    let asked = c.journal.iter().rev().find_map(|r| match &r.event {
        JournalEvent::Decision { verdict, .. } if verdict.outcome == Outcome::NeedsApproval => Some(verdict.reasons().join(" ")),
        _ => None,
    });
    assert!(asked.expect("an approval").contains("pg1 runs no ward agent"));
    let status = c.engine.automatic_failover(c.now_ms, MAIN).expect("a primary service");
    assert!(status.is_err(), "{status:?}");
}

#[test]
fn a_controller_restart_in_the_lease_window_neither_promotes_early_nor_forgets_the_lease() {
    let mut c = start(&[PG1, PG2, PG3]);
    run(&mut c, 3_000, &ALL);
    c.set_outcome(PG1, ProbeOutcome::Timeout);
    run(&mut c, 2_500, &PG1_CUT_OFF);
    answer(&mut c, false);
    // 2.5 s after pg1's last renewal, 0.5 s before its lease + margin: restart.
    c.restart();
    let restarted_at = c.now_ms;
    run(&mut c, 6_000, &PG1_CUT_OFF);
    let fenced_at = lease_fence_at(&c).expect("the lease is still counted on after the restart");
    assert!(fenced_at >= restarted_at + 3_000, "fenced by lease at {fenced_at}, only {} ms after the restart", fenced_at - restarted_at);
    // The promotion is then judged like any other: this controller never heard
    // pg1's flush position, so the acknowledged-writes guard asks a person.
    let promotion = c.journal.iter().find_map(|r| match &r.event {
        JournalEvent::Decision { action: NamedAction::Promote { .. }, verdict, .. } if r.at_ms >= fenced_at => Some(verdict.clone()),
        _ => None,
    });
    let promotion = promotion.expect("a promotion decided after the lease fence");
    assert!(promotion.guards.iter().any(|g| g.guard == "single-writer" && g.outcome == Outcome::Allow), "{promotion:?}");
}

#[test]
fn an_old_primary_answering_as_writable_after_the_failover_is_fenced_at_once_and_paged() {
    let pg1_writable = Rc::new(Cell::new(false));
    let mut c = start_with(&[PG1, PG2, PG3], pg1_writable.clone());
    run(&mut c, 3_000, &ALL);
    c.set_outcome(PG1, ProbeOutcome::Timeout);
    run(&mut c, 2_500, &PG1_CUT_OFF);
    answer(&mut c, false);
    for _ in 0..10 {
        run(&mut c, 500, &PG1_CUT_OFF);
        answer(&mut c, true);
        if c.engine.placement(MAIN) != [PG1] {
            break;
        }
    }
    let new = c.engine.placement(MAIN).to_vec();
    assert!(new == [PG2] || new == [PG3], "{new:?}");
    // pg1 wakes up, still writable (its agent was frozen with it).
    pg1_writable.set(true);
    c.set_outcome(PG1, ProbeOutcome::Pass);
    run(&mut c, 600, &PG1_CUT_OFF);
    assert!(
        c.started.iter().any(|r| matches!(r.action, Action::Fence { node: PG1, .. })),
        "the returning writable pg1 is fenced: {:?}",
        c.started_kinds()
    );
    assert!(c.engine.placement(MAIN) == new, "the new primary stays");
    assert!(c.any(|e| matches!(e, JournalEvent::Alert { cause, .. } if cause == "two-writers:pg-main")));
}

#[test]
fn an_agent_that_fenced_its_held_primary_itself_is_counted_and_the_service_gets_a_writer() {
    let mut c = start(&[PG1, PG2, PG3]);
    run(&mut c, 3_000, &ALL);
    let request =
        LeaseRequest { node: "pg1".into(), sent_at_unix_ms: c.now_ms, self_fenced: vec!["pg-main".into()], ..LeaseRequest::default() };
    let answer = c.engine.renew_lease(c.now_ms, &request);
    c.drain();
    assert_eq!(answer.stay_fenced, vec!["pg-main".to_string()]);
    run(&mut c, 1_000, &ALL);
    assert!(lease_fence_at(&c).is_some());
    assert!(c.started.iter().any(|r| matches!(r.action, Action::Promote { from: Some(PG1), .. })), "{:?}", c.started_kinds());
}

/// The sequence that once disabled automatic failover of a node: a freeze whose
/// fence failed (a person asked), the node back as primary, then a plain crash.
#[test]
fn after_a_freeze_whose_fence_failed_and_a_recovery_a_crash_is_fenced_and_failed_over_at_once() {
    let mut c = start(&[]);
    let nobody = Agents { renewing: &[], pg1_reachable: true };
    run(&mut c, 3_000, &nobody);
    c.set_outcome(PG1, ProbeOutcome::Timeout);
    run(&mut c, 2_500, &nobody);
    assert_eq!(answer(&mut c, false), vec!["fence"]);
    run(&mut c, 3_000, &nobody);
    assert_eq!(approvals_asked(&c), 1, "without an agent, a person is asked");
    // pg1 comes back as the primary: the question is withdrawn.
    c.set_outcome(PG1, ProbeOutcome::Pass);
    run(&mut c, 3_000, &nobody);
    assert_eq!(c.engine.placement(MAIN), [PG1]);
    assert!(c.any(|e| matches!(e, JournalEvent::Rejected { reason, .. } if reason.contains("pg1 is back, healthy"))));
    // A plain crash later: fenced (refused connections confirm it) and failed over.
    c.set_outcome(PG1, ProbeOutcome::Fail);
    run(&mut c, 700, &nobody);
    assert_eq!(answer(&mut c, true), vec!["fence"], "a new outage gets its own fence at once");
    run(&mut c, 300, &nobody);
    assert!(c.started.iter().any(|r| matches!(r.action, Action::Promote { from: Some(PG1), .. })), "{:?}", c.started_kinds());
    assert_eq!(approvals_asked(&c), 1, "nobody asked again");
}

/// With an agent whose lease is still running (a long one here), a failed fence
/// is retried after `policy.fence_retry_after`, not before (and not never).
#[test]
fn a_failed_fence_is_retried_after_fence_retry_after() {
    let mut c = start_on(cluster_with(&[PG1, PG2, PG3], 20_000), Rc::new(Cell::new(false)));
    run(&mut c, 3_000, &ALL);
    c.set_outcome(PG1, ProbeOutcome::Timeout);
    run(&mut c, 2_500, &PG1_CUT_OFF);
    assert_eq!(answer(&mut c, false), vec!["fence"]);
    run(&mut c, 4_000, &PG1_CUT_OFF);
    assert!(c.started.is_empty(), "no second fence within fence_retry_after: {:?}", c.started_kinds());
    run(&mut c, 1_500, &PG1_CUT_OFF);
    assert_eq!(answer(&mut c, false), vec!["fence"], "tried again after fence_retry_after (5 s)");
    assert_eq!(approvals_asked(&c), 0, "the lease still runs: Ward waits for it, nobody is asked");
}

/// An agent that keeps renewing while its server does not answer (a hung server
/// on a live host) will never let its lease run out: a person is asked, as
/// without an agent, rather than waiting forever.
#[test]
fn an_agent_renewing_while_its_server_is_down_falls_back_to_a_person() {
    let mut c = start(&[PG1, PG2, PG3]);
    run(&mut c, 3_000, &ALL);
    c.set_outcome(PG1, ProbeOutcome::Timeout);
    run(&mut c, 2_500, &ALL);
    answer(&mut c, false);
    run(&mut c, 3_000, &ALL);
    assert!(lease_fence_at(&c).is_none());
    let asked = c.journal.iter().rev().find_map(|r| match &r.event {
        JournalEvent::Decision { verdict, .. } if verdict.outcome == Outcome::NeedsApproval => Some(format!("{verdict:?}")),
        _ => None,
    });
    assert!(asked.expect("a person asked").contains("still renews its lease"));
}

/// An agent declared but never heard from is alerted once lease + margin have
/// passed since the controller started, on time (a deadline of its own).
#[test]
fn an_agent_never_heard_from_is_alerted_after_lease_and_margin() {
    let mut c = start(&[PG1, PG2, PG3]);
    run(&mut c, 4_000, &Agents { renewing: &[PG2, PG3], pg1_reachable: true });
    let raised = c.journal.iter().find_map(|r| match &r.event {
        JournalEvent::Alert { cause, sentence, .. } if cause == "agent:pg1" => Some((r.at_ms, sentence.clone())),
        _ => None,
    });
    let (at, sentence) = raised.expect("an alert for pg1's silent agent");
    assert!((3_000..3_100).contains(&at), "raised at {at} ms, lease + margin is 3 s");
    assert!(sentence.contains("Start `ward agent --node pg1`"), "{sentence}");
    assert!(c.engine.automatic_failover(c.now_ms, MAIN).expect("a primary").is_err());
}

/// A crashed primary's probes fail with the server's error text as their detail:
/// its last "writable" answer is over, so after the failover it is no second
/// writer; and a second writer fenced once is fenced again only on a newer answer.
#[test]
fn a_failing_answer_ends_a_nodes_writable_word_and_a_fenced_writer_is_not_fenced_in_a_loop() {
    let pg1_writable = Rc::new(Cell::new(false));
    let mut c = start_with(&[], pg1_writable.clone());
    c.run_ms(2_000);
    c.fail(PG1);
    c.run_ms(600);
    assert_eq!(answer(&mut c, true), vec!["fence"]);
    for _ in 0..6 {
        c.run_ms(300);
        answer(&mut c, true);
    }
    assert_ne!(c.engine.placement(MAIN), [PG1]);
    assert!(
        !c.any(|e| matches!(e, JournalEvent::Alert { cause, .. } if cause.starts_with("two-writers"))),
        "a dead pg1 is no second writer"
    );
    // pg1 comes back writable: fenced once, not in a loop.
    pg1_writable.set(true);
    c.set_outcome(PG1, ProbeOutcome::Pass);
    c.run_ms(300);
    let fences =
        |c: &Harness| c.count(|e| matches!(e, JournalEvent::JobQueued { action: NamedAction::Fence { node, .. }, .. } if node == "pg1"));
    let before = fences(&c);
    answer(&mut c, true);
    c.run_ms(100);
    // Its probes still say writable (the harness does not model the fence): a
    // fence that did not hold is tried again, once per newer writable answer (a
    // probe every 250 ms), never once per planning round (every 25 ms here).
    c.run_ms(500);
    answer(&mut c, true);
    assert!(fences(&c) - before <= 3, "{} fences of pg1 in 500 ms", fences(&c) - before);
}
