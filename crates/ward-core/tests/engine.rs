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
        let mut h = Harness { engine, now_ms: 0, journal: Vec::new(), started: Vec::new(), down: Vec::new(), notifications: Vec::new() };
        h.drain();
        h
    }

    fn drain(&mut self) {
        while let Some(output) = self.engine.poll_output() {
            match output {
                Output::Journal(record) => self.journal.push(record),
                Output::StartJob(request) => self.started.push(request),
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
    for _ in 0..5 {
        h.second(0);
    }
    h.down.push(lb1);
    for _ in 0..10 {
        h.second(3);
    }
    assert!(open_alert(&h, "no-candidate:vip-1"), "{:?}", h.engine.alerts());
    h.down.clear();
    for _ in 0..7 * 60 {
        h.second(0);
    }
    assert!(!open_alert(&h, "no-candidate:vip-1"), "{:?}", h.engine.alerts());
}

#[test]
fn a_time_anomaly_alert_resolves_after_its_quiet_period() {
    let mut h = Harness::new(lb_pair());
    for _ in 0..5 {
        h.second(0);
    }
    h.now_ms += 10 * 60_000;
    h.second(0);
    assert!(open_alert(&h, "time:anomaly"), "{:?}", h.engine.alerts());
    for _ in 0..7 * 60 {
        h.second(0);
    }
    assert!(!open_alert(&h, "time:anomaly"), "{:?}", h.engine.alerts());
}

#[test]
fn an_alert_whose_cause_cleared_while_ward_was_down_resolves_after_a_restart() {
    let mut h = Harness::new(lb_pair());
    for _ in 0..5 {
        h.second(0);
    }
    h.now_ms += 10 * 60_000;
    h.second(0);
    assert!(open_alert(&h, "time:anomaly"));
    // Crash at once: the quiet period that had begun is not durable.
    let snapshot = h.engine.snapshot().clone();
    h.engine = Engine::recover(snapshot, Mode::Guarded, &h.journal, h.now_ms);
    h.drain();
    for _ in 0..7 * 60 {
        h.second(0);
    }
    assert!(!open_alert(&h, "time:anomaly"), "{:?}", h.engine.alerts());
}
