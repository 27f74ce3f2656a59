//! The controller process as the simulator models it: an engine, its journal
//! (which survives a crash, as the durable store would), its clock (which can
//! jump or freeze) and the inputs that pile up while it is paused.

use std::collections::VecDeque;
use std::sync::Arc;

use ward_core::engine::{Engine, Input, Mode};
use ward_core::inventory::Snapshot;
use ward_core::journal::JournalRecord;

/// Inputs buffered while the controller is paused; beyond this the oldest drop.
pub const BUFFERED_MAX: usize = 200_000;

pub struct Controller {
    pub mode: Mode,
    pub engine: Option<Engine>,
    /// Every `Output::Journal` record any incarnation emitted, in order.
    pub journal: Vec<JournalRecord>,
    /// The latest checkpoint the engine emitted: a restart recovers from it.
    pub checkpoint: Option<Box<ward_core::engine::Checkpoint>>,
    /// The virtual time each journal record was emitted at (its `at_ms` is the
    /// controller's clock, which may be off).
    pub journal_virt_ms: Vec<u64>,
    /// Bumped on every crash: results for an older incarnation are lost.
    pub incarnation: u32,
    /// The controller's clock minus true time (clock jumps, frozen pauses).
    pub offset_ms: i64,
    /// Its clock reads `epoch_ms` at virtual time 0 (the scenario's start clock).
    pub epoch_ms: u64,
    pub paused_until_ms: Option<u64>,
    pub buffered: VecDeque<Input>,
    pub dropped_inputs: u64,
    /// The last snapshot the loader accepted, for restarts when the file is torn.
    pub last_good: Arc<Snapshot>,
}

impl Controller {
    pub fn new(mode: Mode, snapshot: Arc<Snapshot>, epoch_ms: u64) -> Controller {
        Controller {
            mode,
            engine: Some(simulated(Engine::new(snapshot.clone(), mode, epoch_ms))),
            journal: Vec::new(),
            checkpoint: None,
            journal_virt_ms: Vec::new(),
            incarnation: 0,
            offset_ms: 0,
            epoch_ms,
            paused_until_ms: None,
            buffered: VecDeque::new(),
            dropped_inputs: 0,
            last_good: snapshot,
        }
    }

    /// The controller's clock at virtual time `virt_ms`.
    pub fn now(&self, virt_ms: u64) -> u64 {
        (self.epoch_ms as i64 + virt_ms as i64 + self.offset_ms).max(0) as u64
    }

    /// The virtual time at which the controller's clock reads `ctl_ms`.
    pub fn virt(&self, ctl_ms: u64) -> u64 {
        (ctl_ms as i64 - self.epoch_ms as i64 - self.offset_ms).max(0) as u64
    }

    pub fn running(&self) -> bool {
        self.engine.is_some() && self.paused_until_ms.is_none()
    }

    pub fn buffer(&mut self, input: Input) {
        if self.buffered.len() >= BUFFERED_MAX {
            self.buffered.pop_front();
            self.dropped_inputs += 1;
        }
        self.buffered.push_back(input);
    }

    /// The controller dies. Before it goes, the simulator checks that a restart
    /// from its journal would hold exactly its durable state (at whatever point of
    /// whatever jobs the crash came): an error names the part that would be lost.
    pub fn crash(&mut self) -> Result<(), String> {
        let recovery = match &self.engine {
            Some(engine) => engine.check_recovery(self.checkpoint.as_deref(), &self.journal),
            None => Ok(()),
        };
        self.engine = None;
        self.paused_until_ms = None;
        self.buffered.clear();
        self.incarnation += 1;
        recovery.map_err(|e| format!("a restart would not recover the controller's state: {e}"))
    }

    pub fn restart(&mut self, snapshot: Arc<Snapshot>, virt_ms: u64) {
        let now = self.now(virt_ms);
        // From the latest checkpoint and the records after it, as the daemon does.
        let after = self.checkpoint.as_ref().map_or(0, |c| self.journal.partition_point(|r| r.seq < c.seq));
        let engine = Engine::recover_from(snapshot, self.mode, self.checkpoint.as_deref(), &self.journal[after..], now);
        self.engine = Some(simulated(engine));
    }
}

/// Journal records between checkpoints in the simulator: far more often than in
/// production, so controller restarts in scenarios and sweeps recover from
/// checkpoints, and the crash check compares both recoveries.
const SIMULATED_CHECKPOINT_EVERY_RECORDS: u64 = 200;

fn simulated(mut engine: Engine) -> Engine {
    engine.set_checkpoint_every(SIMULATED_CHECKPOINT_EVERY_RECORDS);
    engine
}
