//! The engine end to end with a hand-driven world: observations in, jobs out.

use std::sync::Arc;

use ward_core::engine::{Command, HoldTarget};
use ward_core::ids::*;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{CheckKind, ServiceKind, Snapshot};
use ward_core::journal::{JobEnd, JobStep, JournalEvent};
use ward_core::testing::Harness;

fn lb_pair() -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new().policy(|p| p.quorum = 2);
    let site = b.site("dc1");
    for name in ["obs-a", "obs-b", "obs-c"] {
        b.observer(name, site);
    }
    let lb1 = b.node("lb1", site, &[("role", "lb")]);
    let lb2 = b.node("lb2", site, &[("role", "lb")]);
    b.check("http", CheckKind::Http, &[lb1, lb2], 2, 3);
    b.service("vip-1", ServiceKind::Vip, "ingest", &[lb1, lb2], &[lb1]);
    Arc::new(b.build())
}

#[test]
fn a_vip_fails_over_only_when_a_quorum_sees_its_holder_down() {
    let mut h = Harness::new(lb_pair());
    h.seconds(5);
    h.fail(NodeId(0));
    // One observer of three sees lb1 fail: not a quorum, nothing moves.
    h.world.seen_by = 1;
    h.seconds(10);
    assert!(h.started.is_empty(), "moved on one observer's word: {:?}", h.started);
    // Two of three agree: after `fall` failures the VIP moves to lb2.
    h.world.seen_by = 2;
    h.seconds(4);
    assert_eq!(h.started.len(), 1, "{:?}", h.journal);
    assert!(matches!(h.started[0].action, ward_core::action::Action::MoveVip { to: NodeId(1), .. }));
    assert!(h.notifications.iter().any(|n| n.cause == "decision"), "no notification before acting");
    h.answer_all(true);
    assert_eq!(h.engine.placement(ServiceId(0)), &[NodeId(1)]);
    assert_eq!(h.finished(), vec![JobEnd::Succeeded]);
}

#[test]
fn a_restart_mid_job_verifies_instead_of_repeating() {
    let mut h = Harness::new(lb_pair());
    h.seconds(3);
    h.fail(NodeId(0));
    h.seconds(5);
    assert_eq!(h.started.len(), 1);
    let in_flight = h.started.remove(0);
    // The controller dies with the apply in flight; a new one folds the journal.
    h.pause(5_000);
    h.restart();
    assert!(h.started.is_empty(), "nothing is re-run while the old call may still be in the actuator: {:?}", h.started);
    // Past the hook's deadline (10 s + grace), the job is verified, not re-applied.
    h.seconds(12);
    assert_eq!(h.started.len(), 1, "{:?}", h.started);
    assert_eq!(h.started[0].job, in_flight.job);
    assert_eq!(h.started[0].step, JobStep::Verify, "a recovered in-flight apply must be verified, not repeated");
    assert!(h.started[0].fencing_token > in_flight.fencing_token);
    // It did not happen: the job applies again, under the new fencing token.
    h.answer_all(false);
    assert_eq!(h.started.len(), 1);
    assert_eq!(h.started[0].step, JobStep::Apply);
    assert!(h.started[0].fencing_token > in_flight.fencing_token);
    h.answer_all(true);
    assert_eq!(h.finished(), vec![JobEnd::Succeeded]);
}

#[test]
fn a_hold_is_never_overridden() {
    let mut h = Harness::new(lb_pair());
    h.seconds(3);
    h.engine
        .command(
            h.now_ms,
            Command::Hold { target: HoldTarget::Node("lb2".into()), author: "gene".into(), reason: "bad NIC".into(), until_ms: None },
        )
        .unwrap();
    h.fail(NodeId(0));
    h.seconds(10);
    assert!(h.started.is_empty());
    assert!(h.engine.alerts().iter().any(|a| a.cause == "no-candidate:vip-1"), "{:?}", h.engine.alerts());
    let bad = h.engine.command(h.now_ms, Command::Drain { node: "lb9".into(), author: "gene".into() });
    assert!(bad.unwrap_err().contains("no node named"));
}

/// The load balancer pair with an end-to-end verification check on the VIP.
fn verified_lb_pair() -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new().policy(|p| p.quorum = 2);
    let site = b.site("dc1");
    for name in ["obs-a", "obs-b", "obs-c"] {
        b.observer(name, site);
    }
    let lb1 = b.node("lb1", site, &[("role", "lb")]);
    let lb2 = b.node("lb2", site, &[("role", "lb")]);
    let http = b.check("http", CheckKind::Http, &[lb1, lb2], 2, 3);
    let vip = b.service("vip-1", ServiceKind::Vip, "ingest", &[lb1, lb2], &[lb1]);
    b.service_mut(vip).verify = vec![http];
    Arc::new(b.build())
}

#[test]
fn a_hook_that_fails_at_once_is_backed_off_not_hammered() {
    // A budget large enough never to stop it: only the backoff may.
    let mut parts = lb_pair().parts().clone();
    parts.policy.budget.group_moves_max = 10_000;
    parts.policy.budget.group_percent_max = 100;
    parts.policy.budget.fleet_moves_max = 10_000;
    parts.policy.budget.fleet_percent_max = 100;
    let mut h = Harness::new(Arc::new(Snapshot::assemble(parts)));
    h.seconds(3);
    h.fail(NodeId(0));
    for _ in 0..120 {
        h.seconds(1);
        h.answer_all(false);
    }
    let jobs = h.count(|e| matches!(e, JournalEvent::JobQueued { .. }));
    // 2 s, 4 s, 8 s, ... between attempts: about seven in two minutes, not one a second.
    assert!((3..=8).contains(&jobs), "{jobs} jobs in two minutes");
    let backoff = h.journal.iter().rev().find_map(|r| match &r.event {
        JournalEvent::Decision { verdict, job: None, .. } => {
            verdict.guards.iter().find(|g| g.guard == "failure-backoff" && g.outcome == ward_core::action::Outcome::Refuse).cloned()
        }
        _ => None,
    });
    let backoff = backoff.expect("a decision refused by the backoff");
    assert!(backoff.sentence.contains("attempt(s) to change vip-1 failed") && backoff.sentence.contains("before trying again"));
}

#[test]
fn an_alert_that_keeps_firing_is_journaled_by_cause_and_severity_not_by_its_words() {
    let mut h = Harness::new(lb_pair());
    h.seconds(3);
    h.fail(NodeId(0));
    h.fail(NodeId(1));
    // Ten minutes with no candidate: the alert's title carries a running duration.
    h.seconds(600);
    let no_candidate = |e: &JournalEvent| matches!(e, JournalEvent::Alert { cause, .. } if cause.starts_with("no-candidate:"));
    assert!(h.count(no_candidate) >= 1, "no alert at all");
    assert!(h.count(no_candidate) <= 2, "{} alert records in ten minutes", h.count(no_candidate));
    assert!(h.journal.len() < 200, "{} journal records in ten minutes", h.journal.len());
}

/// Drives the VIP to a failed verification, then lets the rollback's answer get lost.
fn rollback_in_flight(h: &mut Harness) -> ward_core::engine::JobRequest {
    h.seconds(3);
    h.fail(NodeId(0));
    h.seconds(5);
    h.answer_all(true); // the apply: the VIP is on lb2
    assert_eq!(h.engine.placement(ServiceId(0)), &[NodeId(1)]);
    assert!(matches!(h.started.as_slice(), [r] if r.step == JobStep::Verify), "{:?}", h.started);
    h.answer_all(false); // lb2 fails end to end: roll back
    let rollback = h.started.remove(0);
    assert_eq!(rollback.step, JobStep::Rollback);
    assert_eq!(
        rollback.action,
        ward_core::action::Action::MoveVip { service: ServiceId(0), from: Some(NodeId(1)), to: NodeId(0) },
        "a rollback carries the concrete undo"
    );
    rollback
}

#[test]
fn a_lost_rollback_answer_is_verified_at_the_old_holder_before_either_is_believed() {
    let mut h = Harness::new(verified_lb_pair());
    rollback_in_flight(&mut h);
    h.heal_all();
    // No answer: past the hook's timeout Ward verifies where the rollback would have put the VIP.
    h.seconds(20);
    let verify = h.started.iter().find(|r| r.step == JobStep::Verify).expect("a verification of the rollback").clone();
    assert!(matches!(verify.action, ward_core::action::Action::MoveVip { to: NodeId(0), .. }), "{:?}", verify.action);
    assert_eq!(h.engine.placement(ServiceId(0)), &[NodeId(1)], "nothing believed before the verification");
    h.answer_all(true);
    assert_eq!(h.engine.placement(ServiceId(0)), &[NodeId(0)], "the rollback landed: lb1 holds the VIP again");
    assert_eq!(h.finished(), vec![JobEnd::RolledBack]);
}

#[test]
fn a_lost_rollback_that_did_not_land_pages_and_keeps_the_verified_apply() {
    let mut h = Harness::new(verified_lb_pair());
    rollback_in_flight(&mut h);
    h.seconds(20);
    assert!(h.started.iter().any(|r| r.step == JobStep::Verify));
    h.answer_all(false);
    assert_eq!(h.finished(), vec![JobEnd::Failed]);
    assert_eq!(h.engine.placement(ServiceId(0)), &[NodeId(1)]);
    assert!(h.journal.iter().any(|r| matches!(&r.event, JournalEvent::Alert { sentence, .. } if sentence.contains("uncertain"))));
}

#[test]
fn a_restart_during_a_rollback_verifies_the_old_holder_instead_of_guessing() {
    let mut h = Harness::new(verified_lb_pair());
    rollback_in_flight(&mut h);
    h.heal_all();
    // The controller dies with the rollback call in flight; its answer is lost.
    h.restart();
    assert!(h.started.is_empty(), "nothing repeated blindly at the restart: {:?}", h.started);
    h.seconds(20);
    let verify = h.started.iter().find(|r| r.step == JobStep::Verify).expect("a verification of the rollback");
    assert!(matches!(verify.action, ward_core::action::Action::MoveVip { to: NodeId(0), .. }));
    h.answer_all(true);
    assert_eq!(h.engine.placement(ServiceId(0)), &[NodeId(0)]);
}

#[test]
fn a_checkpoint_survives_json_and_recovers_exactly_what_the_whole_journal_does() {
    let mut h = Harness::new(verified_lb_pair());
    h.engine.set_checkpoint_every(7);
    rollback_in_flight(&mut h);
    let checkpoint = h.checkpoint.clone().expect("a checkpoint after seven records");
    assert!(checkpoint.seq > 0 && checkpoint.seq <= h.journal.len() as u64);
    let json = serde_json::to_string(&checkpoint).unwrap();
    let checkpoint: ward_core::engine::Checkpoint = serde_json::from_str(&json).unwrap();
    h.engine.check_recovery(Some(&checkpoint), &h.journal).expect("the same state from the checkpoint and the records after it");
    // A restart from the checkpoint and only the records after it goes on as the
    // whole journal would: the lost rollback is verified at the old holder.
    h.checkpoint = Some(checkpoint);
    h.restart_from_checkpoint();
    h.heal_all();
    h.seconds(20);
    assert!(h
        .started
        .iter()
        .any(|r| r.step == JobStep::Verify && matches!(r.action, ward_core::action::Action::MoveVip { to: NodeId(0), .. })));
}

fn open_alert(h: &Harness, cause: &str) -> bool {
    h.engine.alerts().iter().any(|a| a.cause == cause && a.resolved_ms.is_none())
}

#[test]
fn a_no_candidate_alert_resolves_once_the_holder_is_back() {
    let mut b = InventoryBuilder::new().policy(|p| p.quorum = 2);
    let site = b.site("dc1");
    for name in ["obs-a", "obs-b", "obs-c"] {
        b.observer(name, site);
    }
    let lb1 = b.node("lb1", site, &[("role", "lb")]);
    b.check("http", CheckKind::Http, &[lb1], 2, 3);
    b.service("vip-1", ServiceKind::Vip, "ingest", &[lb1], &[lb1]);
    let mut h = Harness::new(Arc::new(b.build()));
    h.seconds(5);
    h.fail(lb1);
    h.seconds(10);
    assert!(open_alert(&h, "no-candidate:vip-1"), "{:?}", h.engine.alerts());
    h.heal_all();
    h.seconds(7 * 60);
    assert!(!open_alert(&h, "no-candidate:vip-1"), "{:?}", h.engine.alerts());
}

/// The load balancer pair just after a ten-minute pause: a time anomaly is open.
fn after_a_time_anomaly() -> Harness {
    let mut h = Harness::new(lb_pair());
    h.seconds(5);
    h.pause(10 * 60_000);
    h.seconds(1);
    assert!(open_alert(&h, "time:anomaly"), "{:?}", h.engine.alerts());
    h
}

#[test]
fn a_time_anomaly_alert_resolves_after_its_quiet_period() {
    let mut h = after_a_time_anomaly();
    h.seconds(7 * 60);
    assert!(!open_alert(&h, "time:anomaly"), "{:?}", h.engine.alerts());
}

#[test]
fn an_alert_whose_cause_cleared_while_ward_was_down_resolves_after_a_restart() {
    let mut h = after_a_time_anomaly();
    // Crash at once: the quiet period that had begun is not durable.
    h.restart();
    h.seconds(7 * 60);
    assert!(!open_alert(&h, "time:anomaly"), "{:?}", h.engine.alerts());
}

/// The load balancer pair where every move needs a person (a budget of zero).
fn lb_pair_every_move_approved() -> Arc<Snapshot> {
    let mut parts = lb_pair().parts().clone();
    parts.policy.budget.group_moves_max = 0;
    parts.policy.budget.group_percent_max = 0;
    parts.policy.budget.fleet_moves_max = 0;
    parts.policy.budget.fleet_percent_max = 0;
    Arc::new(Snapshot::assemble(parts))
}

#[test]
fn an_approval_request_survives_a_flickering_trigger_and_only_a_person_releases_the_move() {
    let mut h = Harness::new(lb_pair_every_move_approved());
    h.seconds(5);
    h.fail(NodeId(0));
    h.seconds(10);
    assert!(h.started.is_empty(), "{:?}", h.started);
    let pending = h.engine.pending_approvals();
    assert_eq!(pending.len(), 1, "{pending:?}");
    let decision = pending[0].decision;
    // The holder comes back for a while (the trigger flickers), then fails again.
    h.heal_all();
    h.seconds(60);
    assert_eq!(h.engine.pending_approvals().len(), 1, "a quiet round withdrew the request: {:?}", h.journal);
    assert!(!h.any(|e| matches!(e, JournalEvent::Rejected { .. })), "nothing may withdraw it but a person or a different decision");
    h.fail(NodeId(0));
    h.seconds(10);
    assert!(h.started.is_empty(), "the gated move slipped through: {:?}", h.started);
    let asked = h.count(|e| matches!(e, JournalEvent::Decision { job: None, .. }));
    assert_eq!(asked, 1, "the same request is not asked again: {:?}", h.journal);
    // It also survives a restart, and a person's answer releases it.
    h.restart();
    h.seconds(10);
    assert_eq!(h.engine.pending_approvals().len(), 1);
    h.engine.command(h.now_ms, Command::Approve { decision, author: "ana".into() }).unwrap();
    h.seconds(3);
    assert_eq!(h.started.len(), 1, "{:?}", h.journal);
}
