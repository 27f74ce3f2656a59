//! The engine end to end with a hand-driven world: observations in, jobs out.

use std::sync::Arc;

use ward_core::engine::{Command, Engine, HoldTarget, Input, JobOutcome, Mode, Output};
use ward_core::ids::*;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{CheckKind, ServiceKind, Snapshot};
use ward_core::journal::{JobEnd, JobStep, JournalEvent, JournalRecord};
use ward_core::observation::{Observation, ProbeOutcome};

struct Harness {
    engine: Engine,
    now_ms: u64,
    journal: Vec<JournalRecord>,
    started: Vec<ward_core::engine::JobRequest>,
    down: Vec<NodeId>,
    notifications: Vec<ward_core::engine::Notification>,
    checkpoint: Option<ward_core::engine::Checkpoint>,
}

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

impl Harness {
    fn new(snapshot: Arc<Snapshot>) -> Harness {
        let engine = Engine::new(snapshot, Mode::Guarded, 0);
        let mut h = Harness {
            engine,
            now_ms: 0,
            journal: Vec::new(),
            started: Vec::new(),
            down: Vec::new(),
            notifications: Vec::new(),
            checkpoint: None,
        };
        h.drain();
        h
    }

    fn drain(&mut self) {
        while let Some(output) = self.engine.poll_output() {
            match output {
                Output::Journal(record) => self.journal.push(record),
                Output::StartJob(request) => self.started.push(request),
                Output::Checkpoint(checkpoint) => self.checkpoint = Some(*checkpoint),
                Output::Notify(n) => {
                    assert!(
                        !self.started.iter().any(|s| s.step == JobStep::Apply
                            && n.cause == "decision"
                            && self.journal.iter().any(|r| matches!(r.event, JournalEvent::JobStepDone { job, .. } if job == s.job))),
                        "notification after its job ran"
                    );
                    self.notifications.push(n)
                }
            }
        }
    }

    /// One second of the world: every observer probes every probe, then a tick.
    fn second(&mut self, observers_seeing_down: u16) {
        self.now_ms += 1_000;
        let snapshot = self.engine.snapshot().clone();
        for (index, probe) in snapshot.probes().iter().enumerate() {
            for observer in 0..snapshot.observers().len() as u16 {
                let down = self.down.contains(&probe.node) && observer < observers_seeing_down;
                let outcome = if down { ProbeOutcome::Fail } else { ProbeOutcome::Pass };
                self.engine.handle(
                    self.now_ms,
                    Input::Observation(Observation::new(ProbeId(index as u32), ObserverId(observer), self.now_ms, outcome)),
                );
            }
        }
        self.engine.handle(self.now_ms, Input::Tick);
        self.drain();
        self.engine.check_invariants().expect("invariants");
    }

    fn complete_started(&mut self, ok: bool) {
        let started = std::mem::take(&mut self.started);
        for request in started {
            let outcome = JobOutcome {
                job: request.job,
                step: request.step,
                ok,
                message: if ok { "ok".into() } else { "failed".into() },
                preview: None,
            };
            self.engine.handle(self.now_ms, Input::JobOutcome(outcome));
            self.drain();
        }
    }

    fn finished(&self) -> Vec<JobEnd> {
        self.journal
            .iter()
            .filter_map(|r| match &r.event {
                JournalEvent::JobFinished { end, .. } => Some(*end),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn a_vip_fails_over_only_when_a_quorum_sees_its_holder_down() {
    let mut h = Harness::new(lb_pair());
    for _ in 0..5 {
        h.second(0);
    }
    h.down.push(NodeId(0));
    // One observer of three sees lb1 fail: not a quorum, nothing moves.
    for _ in 0..10 {
        h.second(1);
    }
    assert!(h.started.is_empty(), "moved on one observer's word: {:?}", h.started);
    // Two of three agree: after `fall` failures the VIP moves to lb2.
    for _ in 0..4 {
        h.second(2);
    }
    assert_eq!(h.started.len(), 1, "{:?}", h.journal);
    assert!(matches!(h.started[0].action, ward_core::action::Action::MoveVip { to: NodeId(1), .. }));
    assert!(h.notifications.iter().any(|n| n.cause == "decision"), "no notification before acting");
    h.complete_started(true);
    assert_eq!(h.engine.placement(ServiceId(0)), &[NodeId(1)]);
    assert_eq!(h.finished(), vec![JobEnd::Succeeded]);
}

#[test]
fn a_restart_mid_job_verifies_instead_of_repeating() {
    let mut h = Harness::new(lb_pair());
    for _ in 0..3 {
        h.second(0);
    }
    h.down.push(NodeId(0));
    for _ in 0..5 {
        h.second(3);
    }
    assert_eq!(h.started.len(), 1);
    let in_flight = h.started.remove(0);
    // The controller dies with the apply in flight; a new one folds the journal.
    let snapshot = h.engine.snapshot().clone();
    h.engine = Engine::recover(snapshot, Mode::Guarded, &h.journal, h.now_ms + 5_000);
    h.drain();
    assert!(h.started.is_empty(), "nothing is re-run while the old call may still be in the actuator: {:?}", h.started);
    // Past the hook's deadline (10 s + grace), the job is verified, not re-applied.
    h.now_ms += 5_000;
    for _ in 0..12 {
        h.second(0);
    }
    assert_eq!(h.started.len(), 1, "{:?}", h.started);
    assert_eq!(h.started[0].job, in_flight.job);
    assert_eq!(h.started[0].step, JobStep::Verify, "a recovered in-flight apply must be verified, not repeated");
    assert!(h.started[0].fencing_token > in_flight.fencing_token);
    // It did not happen: the job applies again, under the new fencing token.
    h.complete_started(false);
    assert_eq!(h.started.len(), 1);
    assert_eq!(h.started[0].step, JobStep::Apply);
    assert!(h.started[0].fencing_token > in_flight.fencing_token);
    h.complete_started(true);
    assert_eq!(h.finished(), vec![JobEnd::Succeeded]);
}

#[test]
fn a_hold_is_never_overridden() {
    let mut h = Harness::new(lb_pair());
    for _ in 0..3 {
        h.second(0);
    }
    h.engine
        .command(
            h.now_ms,
            Command::Hold { target: HoldTarget::Node("lb2".into()), author: "gene".into(), reason: "bad NIC".into(), until_ms: None },
        )
        .unwrap();
    h.down.push(NodeId(0));
    for _ in 0..10 {
        h.second(3);
    }
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

fn count(journal: &[JournalRecord], matches: impl Fn(&JournalEvent) -> bool) -> usize {
    journal.iter().filter(|r| matches(&r.event)).count()
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
    for _ in 0..3 {
        h.second(0);
    }
    h.down.push(NodeId(0));
    for _ in 0..120 {
        h.second(3);
        h.complete_started(false);
    }
    let jobs = count(&h.journal, |e| matches!(e, JournalEvent::JobQueued { .. }));
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
    for _ in 0..3 {
        h.second(0);
    }
    h.down.extend([NodeId(0), NodeId(1)]);
    // Ten minutes with no candidate: the alert's title carries a running duration.
    for _ in 0..600 {
        h.second(3);
    }
    let no_candidate = |e: &JournalEvent| matches!(e, JournalEvent::Alert { cause, .. } if cause.starts_with("no-candidate:"));
    assert!(count(&h.journal, no_candidate) >= 1, "no alert at all");
    assert!(count(&h.journal, no_candidate) <= 2, "{} alert records in ten minutes", count(&h.journal, no_candidate));
    assert!(h.journal.len() < 200, "{} journal records in ten minutes", h.journal.len());
}

/// Drives the VIP to a failed verification, then lets the rollback's answer get lost.
fn rollback_in_flight(h: &mut Harness) -> ward_core::engine::JobRequest {
    for _ in 0..3 {
        h.second(0);
    }
    h.down.push(NodeId(0));
    for _ in 0..5 {
        h.second(3);
    }
    h.complete_started(true); // the apply: the VIP is on lb2
    assert_eq!(h.engine.placement(ServiceId(0)), &[NodeId(1)]);
    assert!(matches!(h.started.as_slice(), [r] if r.step == JobStep::Verify), "{:?}", h.started);
    h.complete_started(false); // lb2 fails end to end: roll back
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
    h.down.clear();
    // No answer: past the hook's timeout Ward verifies where the rollback would have put the VIP.
    for _ in 0..20 {
        h.second(0);
    }
    let verify = h.started.iter().find(|r| r.step == JobStep::Verify).expect("a verification of the rollback").clone();
    assert!(matches!(verify.action, ward_core::action::Action::MoveVip { to: NodeId(0), .. }), "{:?}", verify.action);
    assert_eq!(h.engine.placement(ServiceId(0)), &[NodeId(1)], "nothing believed before the verification");
    h.complete_started(true);
    assert_eq!(h.engine.placement(ServiceId(0)), &[NodeId(0)], "the rollback landed: lb1 holds the VIP again");
    assert_eq!(h.finished(), vec![JobEnd::RolledBack]);
}

#[test]
fn a_lost_rollback_that_did_not_land_pages_and_keeps_the_verified_apply() {
    let mut h = Harness::new(verified_lb_pair());
    rollback_in_flight(&mut h);
    for _ in 0..20 {
        h.second(3);
    }
    assert!(h.started.iter().any(|r| r.step == JobStep::Verify));
    h.complete_started(false);
    assert_eq!(h.finished(), vec![JobEnd::Failed]);
    assert_eq!(h.engine.placement(ServiceId(0)), &[NodeId(1)]);
    assert!(h.journal.iter().any(|r| matches!(&r.event, JournalEvent::Alert { sentence, .. } if sentence.contains("uncertain"))));
}

#[test]
fn a_restart_during_a_rollback_verifies_the_old_holder_instead_of_guessing() {
    let mut h = Harness::new(verified_lb_pair());
    rollback_in_flight(&mut h);
    h.down.clear();
    // The controller dies with the rollback call in flight; its answer is lost.
    let snapshot = h.engine.snapshot().clone();
    h.engine = Engine::recover(snapshot, Mode::Guarded, &h.journal, h.now_ms);
    h.drain();
    assert!(h.started.is_empty(), "nothing repeated blindly at the restart: {:?}", h.started);
    for _ in 0..20 {
        h.second(0);
    }
    let verify = h.started.iter().find(|r| r.step == JobStep::Verify).expect("a verification of the rollback");
    assert!(matches!(verify.action, ward_core::action::Action::MoveVip { to: NodeId(0), .. }));
    h.complete_started(true);
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
    let after: Vec<JournalRecord> = h.journal.iter().filter(|r| r.seq >= checkpoint.seq).cloned().collect();
    let snapshot = h.engine.snapshot().clone();
    h.engine = Engine::recover_from(snapshot, Mode::Guarded, Some(&checkpoint), &after, h.now_ms);
    h.drain();
    h.down.clear();
    for _ in 0..20 {
        h.second(0);
    }
    assert!(h
        .started
        .iter()
        .any(|r| r.step == JobStep::Verify && matches!(r.action, ward_core::action::Action::MoveVip { to: NodeId(0), .. })));
}
