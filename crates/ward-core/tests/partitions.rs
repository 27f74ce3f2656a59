//! Sites, partitions and fencing through the engine: a lost site is one alert and,
//! after `partition_grace`, one decision; a fence is issued only when the promotion
//! it prepares may follow now, and a fence whose promotion cannot follow is undone
//! once its primary is back; a failed fence counts only for its own outage.

use std::sync::Arc;

use ward_core::action::{Action, NamedAction, Outcome};
use ward_core::ids::*;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{CheckKind, FenceMode, Policy, Replication, ServiceKind, Snapshot};
use ward_core::journal::{AlertChange, JournalEvent};
use ward_core::observation::{PrimaryStatus, ProbeDetail, ProbeOutcome, ReplicationStatus};
use ward_core::testing::Harness;

/// Sites east (the controller's) and west; `clusters` database clusters whose
/// primary is in `primary_site` and standby in `standby_site`.
fn fleet(clusters: usize, primary_site: &str, standby_site: &str, policy: impl FnOnce(&mut Policy)) -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new().policy(|p| {
        p.tick_ms = 1_000;
        p.budget.group_moves_max = 100;
        p.budget.fleet_moves_max = 100;
        p.controller_site = Some(SiteId(0));
        policy(p);
    });
    let east = b.site("east");
    let west = b.site("west");
    let site = |name: &str| if name == "east" { east } else { west };
    b.observer("obs", east);
    let mut nodes = Vec::new();
    for i in 0..clusters {
        let primary = b.node(&format!("db{i}-p"), site(primary_site), &[]);
        let standby = b.node(&format!("db{i}-s"), site(standby_site), &[]);
        nodes.push((primary, standby));
    }
    let all: Vec<NodeId> = nodes.iter().flat_map(|(p, s)| [*p, *s]).collect();
    let check = b.check("pg", CheckKind::Postgres, &all, 1, 2);
    for (i, (primary, standby)) in nodes.iter().enumerate() {
        b.node_mut(*standby).replication = Some(Replication { source: *primary, lag_max_ms: 10_000, check, repair: None });
        let service = b.service(&format!("db{i}"), ServiceKind::Primary, "databases", &[*primary, *standby], &[*primary]);
        b.service_mut(service).fence = FenceMode::ReadOnly;
    }
    Arc::new(b.build())
}

/// The fleet probed every second; primaries (even ids) report their flush
/// position, standbys (odd ids) that they have received all of it while their
/// primary answers.
fn start(snapshot: Arc<Snapshot>) -> Harness {
    let mut c = Harness::new(snapshot);
    c.set_detail(|_, world, node| {
        let passes = |n: NodeId| world.outcome(n, ObserverId(0)).is_pass();
        if !passes(node) {
            return None;
        }
        if node.0 % 2 == 0 {
            return Some(ProbeDetail::Primary(PrimaryStatus {
                flush_position: Some(1_000),
                synchronous_standbys: Vec::new(),
                summary: String::new(),
                writable: None,
            }));
        }
        let running = passes(NodeId(node.0 - 1));
        Some(ProbeDetail::Replication(ReplicationStatus {
            running,
            lag_ms: Some(0),
            last_error: (!running).then(|| "WAL receiver stopped".into()),
            replayed_position: 1_000,
            retained_bytes: 0,
            received_position: Some(1_000),
        }))
    });
    c
}

fn primaries(clusters: usize) -> Vec<NodeId> {
    (0..clusters).map(|i| NodeId(2 * i as u32)).collect()
}

fn alerts_raised(c: &Harness, prefix: &str) -> usize {
    c.count(|e| matches!(e, JournalEvent::Alert { cause, state: AlertChange::Raised, .. } if cause.starts_with(prefix)))
}

#[test]
fn a_lost_site_is_one_alert_and_waits_for_the_grace_then_one_decision() {
    let mut c = start(fleet(3, "west", "east", |_| {}));
    c.seconds(5);
    for node in primaries(3) {
        c.fail(node);
    }
    c.seconds(30);
    assert_eq!(alerts_raised(&c, "site:west"), 1);
    assert_eq!(alerts_raised(&c, "node-down:"), 0, "the site's alert lists its nodes");
    assert_eq!(c.count(|e| matches!(e, JournalEvent::SiteLost { .. })), 1);
    assert_eq!(c.count(|e| matches!(e, JournalEvent::Decision { .. })), 0, "nothing to decide within the grace");
    c.seconds(60);
    let decisions: Vec<&NamedAction> = c
        .journal
        .iter()
        .filter_map(|r| match &r.event {
            JournalEvent::Decision { action, verdict, .. } => {
                assert_eq!(verdict.outcome, Outcome::NeedsApproval, "{verdict:?}");
                Some(action)
            }
            _ => None,
        })
        .collect();
    assert_eq!(decisions.len(), 1, "one decision for the site: {decisions:?}");
    assert!(matches!(decisions[0], NamedAction::FailoverSite { services, .. } if services.len() == 3));
    assert!(c.started.is_empty(), "{:?}", c.started_kinds());
    // The site comes back: the request is withdrawn and the alert resolved.
    c.heal_all();
    c.seconds(10);
    assert!(c.engine.pending_approvals().is_empty());
    assert_eq!(c.count(|e| matches!(e, JournalEvent::SiteRestored { .. })), 1);
}

#[test]
fn one_approval_of_a_site_failover_carries_out_every_promotion_out_of_it() {
    let mut c = start(fleet(2, "west", "east", |_| {}));
    c.seconds(5);
    for node in primaries(2) {
        c.fail(node);
    }
    c.seconds(90);
    let decision = c.engine.pending_approvals().first().expect("the site failover waits for a person").decision;
    c.engine.command(c.now_ms, ward_core::engine::Command::Approve { decision, author: "alice".into() }).expect("approved");
    c.seconds(2);
    // The lost site's nodes cannot be reached to fence: straight to the promotions.
    let promotions = c.started.iter().filter(|r| matches!(r.action, Action::Promote { .. })).count();
    assert_eq!(promotions, 2, "{:?}", c.started_kinds());
}

#[test]
fn a_fence_is_not_issued_when_its_promotion_could_not_follow() {
    // A budget of zero: every failover needs a person, so nothing may be fenced first.
    let mut c = start(fleet(1, "east", "east", |p| {
        p.budget.group_moves_max = 0;
        p.budget.group_percent_max = 0;
    }));
    c.seconds(5);
    c.fail(NodeId(0));
    c.seconds(10);
    assert!(c.started.is_empty(), "fenced without a promotion to follow: {:?}", c.started_kinds());
    assert!(c.any(|e| matches!(e, JournalEvent::Decision { action: NamedAction::Promote { .. }, verdict, .. } if verdict.outcome == Outcome::NeedsApproval)));
}

#[test]
fn a_fence_whose_promotion_cannot_follow_is_undone_once_the_primary_is_back() {
    let mut c = start(fleet(1, "east", "east", |_| {}));
    c.seconds(5);
    c.fail(NodeId(0));
    c.seconds(4);
    assert_eq!(c.started_kinds(), vec!["fence"]);
    // The standby fails while the fence runs: no promotion can follow.
    c.fail(NodeId(1));
    c.seconds(4);
    c.answer_all(true);
    c.seconds(4);
    assert!(c.started.is_empty(), "{:?}", c.started_kinds());
    c.set_outcome(NodeId(0), ProbeOutcome::Pass);
    c.seconds(5);
    assert_eq!(c.started_kinds(), vec!["unfence"], "the fenced primary gets its writes back");
    c.answer_all(true);
    c.seconds(5);
    c.answer_all(true);
    c.seconds(2);
    assert!(c.any(|e| matches!(e, JournalEvent::Decision { summary, .. } if summary.contains("promotion that cannot follow"))));
}

#[test]
fn a_failed_fence_counts_only_for_its_own_outage() {
    let mut c = start(fleet(1, "east", "east", |_| {}));
    c.seconds(5);
    c.fail(NodeId(0));
    c.seconds(4);
    assert_eq!(c.started_kinds(), vec!["fence"]);
    c.answer_all_with(false, "timed out");
    c.seconds(3);
    // The node returns, is primary again, then fails anew: a new outage, a new fence.
    c.set_outcome(NodeId(0), ProbeOutcome::Pass);
    c.seconds(30);
    c.answer_all(false);
    c.started.clear();
    c.seconds(600);
    c.fail(NodeId(0));
    c.seconds(5);
    assert!(c.started_kinds().contains(&"fence"), "an old failed fence disabled fencing: {:?}", c.started_kinds());
}
