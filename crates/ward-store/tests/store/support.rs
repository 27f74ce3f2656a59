//! A hand-driven engine (observations in, jobs out) whose journal goes to a Store
//! the way the daemon's will: every drain's records appended in one call before
//! any job starts.

use std::sync::Arc;

use ward_core::engine::{Engine, Input, JobOutcome, JobRequest, Mode, Output};
use ward_core::ids::*;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{CheckKind, ServiceKind, Snapshot};
use ward_core::journal::{JournalEvent, JournalRecord};
use ward_core::observation::{Observation, ProbeOutcome};
use ward_store::Store;

/// Two VIPs, each on its own pair of load balancers, three observers.
pub fn two_vips() -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new().policy(|p| p.quorum = 2);
    let site = b.site("dc1");
    for name in ["obs-a", "obs-b", "obs-c"] {
        b.observer(name, site);
    }
    let lbs: Vec<NodeId> = ["lb1", "lb2", "lb3", "lb4"].iter().map(|n| b.node(n, site, &[("role", "lb")])).collect();
    b.check("http", CheckKind::Http, &lbs, 2, 3);
    b.service("vip-1", ServiceKind::Vip, "ingest", &lbs[0..2], &lbs[0..1]);
    b.service("vip-2", ServiceKind::Vip, "web", &lbs[2..4], &lbs[2..3]);
    Arc::new(b.build())
}

pub struct Driven<'a> {
    pub engine: Engine,
    pub store: &'a Store,
    pub now_ms: u64,
    /// Everything appended, for comparing with what the store gives back.
    pub journal: Vec<JournalRecord>,
    pub started: Vec<JobRequest>,
    pub down: Vec<NodeId>,
}

impl<'a> Driven<'a> {
    pub fn new(snapshot: Arc<Snapshot>, store: &'a Store) -> Driven<'a> {
        let engine = Engine::new(snapshot, Mode::Guarded, 0);
        let mut d = Driven { engine, store, now_ms: 0, journal: Vec::new(), started: Vec::new(), down: Vec::new() };
        d.drain();
        d
    }

    /// The daemon's loop: records are durable before any job of the drain starts.
    pub fn drain(&mut self) {
        let mut batch = Vec::new();
        let mut effects = Vec::new();
        while let Some(output) = self.engine.poll_output() {
            match output {
                Output::Journal(record) => {
                    if effects.is_empty() {
                        batch.push(record);
                    } else {
                        // A record after an effect: persist what we have, then carry on.
                        self.flush(&mut batch, &mut effects);
                        batch.push(record);
                    }
                }
                other => effects.push(other),
            }
        }
        self.flush(&mut batch, &mut effects);
    }

    fn flush(&mut self, batch: &mut Vec<JournalRecord>, effects: &mut Vec<Output>) {
        self.store.append(batch).expect("append");
        self.journal.append(batch);
        for effect in effects.drain(..) {
            match effect {
                Output::StartJob(request) => self.started.push(request),
                Output::Checkpoint(checkpoint) => {
                    self.store.save_checkpoint(&checkpoint).expect("save a checkpoint");
                }
                Output::Journal(_) | Output::Notify(_) => {}
            }
        }
    }

    /// One second: every observer probes every probe, then a tick.
    pub fn second(&mut self) {
        self.now_ms += 1_000;
        let snapshot = self.engine.snapshot().clone();
        for (index, probe) in snapshot.probes().iter().enumerate() {
            for observer in 0..snapshot.observers().len() as u16 {
                let outcome = if self.down.contains(&probe.node) { ProbeOutcome::Fail } else { ProbeOutcome::Pass };
                let observation = Observation::new(ProbeId(index as u32), ObserverId(observer), self.now_ms, outcome);
                self.engine.handle(self.now_ms, Input::Observation(observation));
            }
        }
        self.engine.handle(self.now_ms, Input::Tick);
        self.drain();
        self.engine.check_invariants().expect("invariants");
    }

    /// Reports every started step as done (ok).
    pub fn complete_started(&mut self) {
        for request in std::mem::take(&mut self.started) {
            let outcome = JobOutcome { job: request.job, step: request.step, ok: true, message: "ok".into(), preview: None };
            self.engine.handle(self.now_ms, Input::JobOutcome(outcome));
            self.drain();
        }
    }
}

/// A small record for tests that need many (the crash child, corruption).
pub fn health_record(seq: u64) -> JournalRecord {
    JournalRecord {
        seq,
        at_ms: 1_000 * seq,
        event: JournalEvent::Health { node: format!("node-{}", seq % 7), status: "up".into(), sentence: format!("record {seq}") },
    }
}
