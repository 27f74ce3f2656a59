//! The engine driven as a shell would: observations from a scripted world, ticks
//! when the engine asks, every output drained (journal, started job steps,
//! notifications, checkpoints), and the invariants checked after every drain.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::action::SyncPreview;
use crate::engine::{Checkpoint, Engine, Input, JobOutcome, JobRequest, Mode, Notification, Output};
use crate::ids::*;
use crate::inventory::Snapshot;
use crate::journal::{JobEnd, JobStep, JournalEvent, JournalRecord};
use crate::observation::{Observation, ProbeDetail, ProbeOutcome};
use crate::time::TimeMs;

/// What the probes answer. A node without an outcome passes.
#[derive(Clone, Debug)]
pub struct World {
    /// Per node: what its probes answer (to the observers that see it, below).
    pub outcomes: BTreeMap<NodeId, ProbeOutcome>,
    /// Only observers `0..seen_by` see a node's outcome; the rest see it pass.
    pub seen_by: u16,
    /// Partitioned observers: every probe fails for them.
    pub cut: BTreeSet<u16>,
}

impl World {
    /// What `observer` sees when it probes `node`.
    pub fn outcome(&self, node: NodeId, observer: ObserverId) -> ProbeOutcome {
        if self.cut.contains(&observer.0) {
            return ProbeOutcome::Fail;
        }
        match self.outcomes.get(&node) {
            Some(outcome) if observer.0 < self.seen_by => *outcome,
            _ => ProbeOutcome::Pass,
        }
    }
}

/// The detail a probe of a node carries (replication status, say), given the
/// engine and the world at that moment.
pub type DetailFn = Box<dyn Fn(&Engine, &World, NodeId) -> Option<ProbeDetail>>;

pub struct Harness {
    pub engine: Engine,
    /// Virtual time.
    pub now_ms: TimeMs,
    pub world: World,
    /// Every journal record emitted, across restarts.
    pub journal: Vec<JournalRecord>,
    /// Job steps started and not yet answered.
    pub started: Vec<JobRequest>,
    pub notifications: Vec<Notification>,
    /// The latest `Output::Checkpoint`.
    pub checkpoint: Option<Checkpoint>,
    /// Time advances in steps of this many ms.
    step_ms: TimeMs,
    /// Every observer probes every probe at multiples of this.
    probe_every_ms: TimeMs,
    detail: Option<DetailFn>,
}

impl Harness {
    /// A guarded engine with no history at time 0; one step a second, probes every second.
    pub fn new(snapshot: Arc<Snapshot>) -> Harness {
        let mut harness = Harness {
            engine: Engine::new(snapshot, Mode::Guarded, 0),
            now_ms: 0,
            world: World { outcomes: BTreeMap::new(), seen_by: u16::MAX, cut: BTreeSet::new() },
            journal: Vec::new(),
            started: Vec::new(),
            notifications: Vec::new(),
            checkpoint: None,
            step_ms: 1_000,
            probe_every_ms: 1_000,
            detail: None,
        };
        harness.drain();
        harness
    }

    /// Advances time `step_ms` at a time and probes every `probe_every_ms` (a multiple of it).
    pub fn timing(mut self, step_ms: TimeMs, probe_every_ms: TimeMs) -> Harness {
        assert!(step_ms > 0 && probe_every_ms % step_ms == 0, "probes fall on steps");
        self.step_ms = step_ms;
        self.probe_every_ms = probe_every_ms;
        self
    }

    /// Probes of every node carry what `detail` says.
    pub fn set_detail(&mut self, detail: impl Fn(&Engine, &World, NodeId) -> Option<ProbeDetail> + 'static) {
        self.detail = Some(Box::new(detail));
    }

    /// Every probe of `node` answers `outcome` from now on.
    pub fn set_outcome(&mut self, node: NodeId, outcome: ProbeOutcome) {
        self.world.outcomes.insert(node, outcome);
    }

    pub fn fail(&mut self, node: NodeId) {
        self.set_outcome(node, ProbeOutcome::Fail);
    }

    /// Every node passes again (partitioned observers stay cut).
    pub fn heal_all(&mut self) {
        self.world.outcomes.clear();
    }

    /// Takes every pending output, then checks the engine's invariants.
    pub fn drain(&mut self) {
        while let Some(output) = self.engine.poll_output() {
            match output {
                Output::Journal(record) => self.journal.push(record),
                Output::StartJob(request) => self.started.push(request),
                Output::Checkpoint(checkpoint) => self.checkpoint = Some(*checkpoint),
                Output::Notify(notification) => {
                    assert!(
                        notification.cause != "decision" || !self.started.iter().any(|s| s.step == JobStep::Apply && self.step_done(s.job)),
                        "a decision's notification after its job ran: {notification:?}"
                    );
                    self.notifications.push(notification);
                }
            }
        }
        if let Err(broken) = self.engine.check_invariants() {
            panic!("invariant broken at {} ms: {broken}", self.now_ms);
        }
    }

    fn step_done(&self, job: JobId) -> bool {
        self.journal.iter().any(|r| matches!(r.event, JournalEvent::JobStepDone { job: done, .. } if done == job))
    }

    /// Runs the world for `duration_ms`: each step, probes if due, a tick if the
    /// engine asked for one by now, then a drain.
    pub fn run_ms(&mut self, duration_ms: TimeMs) {
        let end = self.now_ms + duration_ms;
        while self.now_ms < end {
            self.now_ms += self.step_ms;
            if self.now_ms % self.probe_every_ms == 0 {
                self.observe_all();
            }
            if self.engine.poll_timeout().is_some_and(|t| t <= self.now_ms) {
                self.engine.handle(self.now_ms, Input::Tick);
            }
            self.drain();
        }
    }

    pub fn seconds(&mut self, count: u64) {
        self.run_ms(count * 1_000);
    }

    /// Time passes with no input at all (a paused controller).
    pub fn pause(&mut self, duration_ms: TimeMs) {
        self.now_ms += duration_ms;
    }

    /// Every observer probes every probe once, now.
    pub fn observe_all(&mut self) {
        let snapshot = self.engine.snapshot().clone();
        for (index, probe) in snapshot.probes().iter().enumerate() {
            for observer in 0..snapshot.observers().len() as u16 {
                let outcome = self.world.outcome(probe.node, ObserverId(observer));
                let mut observation = Observation::new(ProbeId(index as u32), ObserverId(observer), self.now_ms, outcome);
                if let Some(detail) = &self.detail {
                    observation.detail = detail(&self.engine, &self.world, probe.node).map(Box::new);
                }
                self.engine.handle(self.now_ms, Input::Observation(observation));
            }
        }
    }

    /// Answers one step, then drains.
    pub fn answer(&mut self, request: &JobRequest, ok: bool, message: &str, preview: Option<SyncPreview>) {
        let outcome = JobOutcome { job: request.job, step: request.step, ok, message: message.into(), preview };
        self.engine.handle(self.now_ms, Input::JobOutcome(outcome));
        self.drain();
    }

    /// Answers the one started step (panics unless exactly one is); returns it.
    pub fn answer_one(&mut self, ok: bool, preview: Option<SyncPreview>) -> JobRequest {
        assert_eq!(self.started.len(), 1, "expected one job step, got {:?}", self.started);
        let request = self.started.remove(0);
        self.answer(&request, ok, if ok { "ok" } else { "failed" }, preview);
        request
    }

    /// Answers every started step, in order; returns them.
    pub fn answer_all(&mut self, ok: bool) -> Vec<JobRequest> {
        self.answer_all_with(ok, if ok { "ok" } else { "failed" })
    }

    pub fn answer_all_with(&mut self, ok: bool, message: &str) -> Vec<JobRequest> {
        let started = std::mem::take(&mut self.started);
        for request in &started {
            self.answer(request, ok, message, None);
        }
        started
    }

    /// The controller crashes and a new one recovers from the whole journal, now.
    /// Steps in flight are answered to nobody.
    pub fn restart(&mut self) {
        let snapshot = self.engine.snapshot().clone();
        self.engine = Engine::recover(snapshot, self.engine.mode(), &self.journal, self.now_ms);
        self.started.clear();
        self.drain();
    }

    /// As `restart`, from the latest checkpoint and only the records from its seq on.
    pub fn restart_from_checkpoint(&mut self) {
        let checkpoint = self.checkpoint.clone().expect("a checkpoint to restart from");
        let after: Vec<JournalRecord> = self.journal.iter().filter(|r| r.seq >= checkpoint.seq).cloned().collect();
        let snapshot = self.engine.snapshot().clone();
        self.engine = Engine::recover_from(snapshot, self.engine.mode(), Some(&checkpoint), &after, self.now_ms);
        self.started.clear();
        self.drain();
    }

    /// How every finished job ended, in order.
    pub fn finished(&self) -> Vec<JobEnd> {
        self.journal
            .iter()
            .filter_map(|r| match &r.event {
                JournalEvent::JobFinished { end, .. } => Some(*end),
                _ => None,
            })
            .collect()
    }

    /// Journal records whose event matches.
    pub fn count(&self, matches: impl Fn(&JournalEvent) -> bool) -> usize {
        self.journal.iter().filter(|r| matches(&r.event)).count()
    }

    pub fn any(&self, matches: impl Fn(&JournalEvent) -> bool) -> bool {
        self.count(matches) > 0
    }

    /// The action kinds of the started steps.
    pub fn started_kinds(&self) -> Vec<&'static str> {
        self.started.iter().map(|r| r.action.kind().name()).collect()
    }
}
