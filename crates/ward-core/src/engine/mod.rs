//! The engine: a quinn-proto-style state machine.
//!
//! Call order for a shell: feed inputs with `handle(now_ms, input)` and operator
//! commands with `command(now_ms, command)`; then drain `poll_output()` until it
//! returns `None`, persisting every `Output::Journal` durably before carrying out
//! any output that follows it; then sleep until `poll_timeout()` (or the next
//! input) and call `handle(now, Input::Tick)`.

mod alerts;
mod commands;
mod evidence;
mod inventory_change;
pub mod io;
mod jobs;
mod leases;
mod plan;
mod repair;
mod rollout;
mod second_writer;
mod site_failover;
mod sites;
mod standby_coverage;
mod tick;
mod wake;

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use alerts::REPEAT_JOURNALED_EVERY_MS;
pub use io::*;

use crate::action::PlannedAction;
use crate::health::time_sanity::TimeSanity;
use crate::health::HealthTable;
use crate::ids::*;
use crate::inventory::Snapshot;
use crate::journal::{JournalEvent, JournalRecord};
use crate::state::{self, Durable};
use crate::time::TimeMs;

/// An alert group as operators see it: one cause, however often it fired.
pub use crate::state::AlertState as AlertView;

/// Blast-radius budget in the current window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetUsage {
    /// The service group, or "*" for the whole fleet.
    pub group: String,
    pub used: u32,
    pub limit: u32,
}

/// A decision waiting for an operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingApproval {
    pub decision: DecisionId,
    pub at_ms: TimeMs,
    pub summary: String,
    /// The sentences of the guards that asked for approval.
    pub reasons: Vec<String>,
}

/// Outputs waiting for the shell. The shell drains them after every input; this
/// bound catches a shell that forgot to (a bug, not a condition to handle).
const OUTPUTS_QUEUED_MAX: usize = 1_000_000;
/// A checkpoint of the durable state is emitted every this many journal records,
/// so recovery folds at most this many records after the latest one.
pub const CHECKPOINT_EVERY_RECORDS: u64 = 10_000;
/// Services per `PlacementsAssumed` record (keeps each record far below the store's cap).
const PLACEMENTS_PER_RECORD_MAX: usize = 5_000;

pub struct Engine {
    mode: Mode,
    snapshot: Arc<Snapshot>,
    health: HealthTable,
    durable: Durable,
    time: TimeSanity,
    outputs: VecDeque<Output>,
    /// When the engine wants `Input::Tick` next (`poll_timeout`).
    next_tick_ms: TimeMs,
    /// Something changed since the last round: the next tick plans whatever the deadlines say.
    plan_due: bool,
    last_tick_ms: TimeMs,
    last_plan: Vec<PlannedAction>,
    /// Per service: a fingerprint of the last blocked (refused / awaiting approval)
    /// decision, so an unchanged situation is journaled once, not every tick.
    last_blocked: Vec<Option<String>>,
    /// Per lost site: the fingerprint of its last blocked failover decision, so it
    /// is journaled once (the same role as `last_blocked`, for a whole site).
    last_site_blocked: std::collections::BTreeMap<String, String>,
    jobs: jobs::JobRuntime,
    alerts_rt: alerts::AlertRuntime,
    inventory: inventory_change::InventoryRuntime,
    fleet: crate::guards::FleetView,
    /// Per node: since when its replication has been unhealthy.
    replication_bad_since: Vec<Option<TimeMs>>,
    /// Per node name: the last blocked (refused) repair, journaled once.
    repair_blocked: std::collections::BTreeMap<String, String>,
    /// Volatile: the seq of the latest checkpoint (re-derived at a restart).
    checkpointed_seq: u64,
    /// Records between checkpoints (`CHECKPOINT_EVERY_RECORDS` unless a simulator
    /// asks for more of them).
    checkpoint_every: u64,
    /// Planning rounds run since this engine started (a measure of idle cost).
    planning_rounds: u64,
    standby_coverage: standby_coverage::CoverageRuntime,
    /// Host agents' leases as last heard (not durable; see `health::agent_leases`).
    leases: crate::health::agent_leases::AgentLeases,
    /// When this engine started (or restarted).
    started_ms: TimeMs,
}

impl Engine {
    /// A controller starting with no history.
    pub fn new(snapshot: Arc<Snapshot>, mode: Mode, now_ms: TimeMs) -> Engine {
        Engine::recover(snapshot, mode, &[], now_ms)
    }

    /// A controller restarting: durable state (jobs, holds, approvals, alerts,
    /// undelivered notifications, placements, budget) is folded from the journal.
    /// Jobs in flight are reconciled (verified before anything is repeated).
    pub fn recover(snapshot: Arc<Snapshot>, mode: Mode, journal: &[JournalRecord], now_ms: TimeMs) -> Engine {
        Engine::recover_from(snapshot, mode, None, journal, now_ms)
    }

    /// As `recover`, starting from the latest checkpoint: `journal` needs only the
    /// records from `checkpoint.seq` on (older ones are skipped if present).
    pub fn recover_from(
        snapshot: Arc<Snapshot>,
        mode: Mode,
        checkpoint: Option<&Checkpoint>,
        journal: &[JournalRecord],
        now_ms: TimeMs,
    ) -> Engine {
        let durable = match checkpoint {
            Some(checkpoint) => Durable::fold_from(&snapshot, checkpoint, journal),
            None => Durable::fold(&snapshot, journal),
        };
        let restarted = checkpoint.is_some() || !journal.is_empty();
        let checkpointed_seq = checkpoint.map_or(0, |c| c.seq);
        let services = snapshot.services().len();
        let mut engine = Engine {
            mode,
            health: HealthTable::new(&snapshot),
            durable,
            time: TimeSanity::new(),
            outputs: VecDeque::new(),
            next_tick_ms: now_ms,
            plan_due: true,
            last_tick_ms: now_ms,
            last_plan: Vec::new(),
            last_blocked: vec![None; services],
            last_site_blocked: Default::default(),
            jobs: jobs::JobRuntime::default(),
            alerts_rt: alerts::AlertRuntime::default(),
            inventory: inventory_change::InventoryRuntime::default(),
            fleet: Default::default(),
            replication_bad_since: vec![None; snapshot.nodes().len()],
            repair_blocked: Default::default(),
            checkpointed_seq,
            checkpoint_every: CHECKPOINT_EVERY_RECORDS,
            planning_rounds: 0,
            standby_coverage: Default::default(),
            leases: Default::default(),
            started_ms: now_ms,
            snapshot,
        };
        // A restarted controller cannot know when each agent last renewed: it
        // assumes just now, so a restart never hastens a promotion.
        let granted = engine.durable.leases_granted.clone();
        engine.leases.assume_renewed(&granted, now_ms);
        let policy = engine.snapshot.policy().clone();
        engine.time.observe(&engine.snapshot, &policy, now_ms);
        let in_flight = engine.durable.jobs.len() as u32;
        engine.record(now_ms, JournalEvent::Started { snapshot_hash: engine.snapshot.hash().to_string(), recovered_jobs: in_flight, mode });
        engine.assume_placements(now_ms);
        if restarted {
            engine.reconcile_after_restart(now_ms);
        }
        engine.recheck_open_alerts(now_ms);
        engine.checkpoint_if_due();
        engine
    }

    /// Checkpoints every `records` journal records (at least 1). The simulator
    /// checkpoints often, so restarts in every run recover from checkpoints.
    pub fn set_checkpoint_every(&mut self, records: u64) {
        self.checkpoint_every = records.max(1);
    }

    /// Emits a checkpoint once enough records followed the last one. Called after
    /// every input and command, when the state is consistent.
    fn checkpoint_if_due(&mut self) {
        if self.durable.next_seq.saturating_sub(self.checkpointed_seq) < self.checkpoint_every {
            return;
        }
        self.checkpointed_seq = self.durable.next_seq;
        let checkpoint = Checkpoint { seq: self.durable.next_seq, state: self.durable.clone() };
        self.outputs.push_back(Output::Checkpoint(Box::new(checkpoint)));
    }

    /// Journals where Ward believes each service it has never placed is (the
    /// inventory's `initial`), once, in records of a bounded size.
    fn assume_placements(&mut self, now_ms: TimeMs) {
        let unplaced: Vec<(String, Vec<String>)> = (0..self.snapshot.services().len())
            .map(|index| ServiceId(index as u32))
            .filter(|service| !self.durable.placed.contains_key(self.snapshot.service_name(*service)))
            .map(|service| {
                let holders = self.placement(service).iter().map(|n| self.snapshot.node_name(*n).to_string()).collect();
                (self.snapshot.service_name(service).to_string(), holders)
            })
            .collect();
        for chunk in unplaced.chunks(PLACEMENTS_PER_RECORD_MAX) {
            self.record(now_ms, JournalEvent::PlacementsAssumed { placements: chunk.to_vec() });
        }
    }

    /// Whether a controller restarted from `journal` (what this one has emitted)
    /// would hold exactly this one's durable state; the simulator checks it at every
    /// controller crash. On a difference, says which part differs.
    pub fn check_recovery(&self, checkpoint: Option<&Checkpoint>, journal: &[JournalRecord]) -> Result<(), String> {
        let folded = Durable::fold(&self.snapshot, journal);
        if folded != self.durable {
            return Err(state::first_difference(&folded, &self.durable));
        }
        if let Some(checkpoint) = checkpoint {
            let from_checkpoint = Durable::fold_from(&self.snapshot, checkpoint, journal);
            if from_checkpoint != self.durable {
                return Err(format!(
                    "from the checkpoint at seq {}: {}",
                    checkpoint.seq,
                    state::first_difference(&from_checkpoint, &self.durable)
                ));
            }
        }
        Ok(())
    }

    pub fn handle(&mut self, now_ms: TimeMs, input: Input) {
        let policy_gap = {
            let policy = self.snapshot.policy().clone();
            self.time.observe(&self.snapshot, &policy, now_ms)
        };
        if let Some(gap_ms) = policy_gap {
            self.on_time_anomaly(now_ms, gap_ms);
        }
        match input {
            Input::Tick => {
                if now_ms >= self.next_tick_ms {
                    if self.plan_due || self.round_due(now_ms) {
                        self.tick(now_ms);
                    } else {
                        // Woken early (a deadline moved on with new input): sleep again.
                        self.next_tick_ms = self.next_wake_ms(now_ms);
                    }
                }
            }
            Input::Observation(mut observation) => {
                // One clock: freshness is judged by the controller's clock at
                // receipt, whatever the sender stamped (its own clock is
                // `observer_clock_ms`).
                observation.at_ms = now_ms;
                if let Some(observer_clock_ms) = observation.observer_clock_ms {
                    let shift = {
                        let policy = &self.snapshot.parts().policy;
                        self.time.observe_skew(&self.snapshot, policy, observation.observer.index(), observer_clock_ms, now_ms)
                    };
                    if let Some(shift_ms) = shift {
                        self.on_clock_disagreement(now_ms, shift_ms);
                    }
                }
                if self.health.ingest(&self.snapshot, &observation) {
                    // A probe changed state: plan soon (detection latency).
                    self.plan_soon(now_ms);
                }
            }
            Input::Inventory(snapshot) => {
                self.on_inventory(now_ms, snapshot);
                self.plan_soon(now_ms);
            }
            Input::InventoryRejected { source, errors } => {
                self.on_inventory_rejected(now_ms, source, errors);
                self.plan_soon(now_ms);
            }
            Input::JobOutcome(outcome) => {
                // A finished job may unblock the next one (a promotion, then its write
                // address following it); a step's outcome starts the next step or a
                // retry, with deadlines of its own: plan soon.
                self.on_job_outcome(now_ms, outcome);
                self.plan_soon(now_ms);
            }
            Input::NotificationDelivered { notification, ok, error } => {
                if self.durable.undelivered.contains_key(&notification) {
                    self.record(now_ms, JournalEvent::NotificationDelivered { notification, ok, error });
                }
            }
        }
        self.checkpoint_if_due();
        debug_assert!(self.outputs.len() < OUTPUTS_QUEUED_MAX, "the shell must drain poll_output after each input");
    }

    /// Something changed: plans soon rather than at the next deadline, but not more
    /// often than a tenth of a tick. Never at this very instant: inputs that arrive
    /// together (a burst after a pause) are all taken in before anything is decided,
    /// so a pause or clock jump they reveal is noticed first.
    fn plan_soon(&mut self, now_ms: TimeMs) {
        let min_gap_ms = (self.snapshot.policy().tick_ms / 10).max(10);
        self.plan_due = true;
        self.next_tick_ms = self.next_tick_ms.min((self.last_tick_ms + min_gap_ms).max(now_ms + min_gap_ms));
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When the engine next wants `Input::Tick`: soon after a change, otherwise its
    /// earliest real deadline (a step's deadline, evidence going stale, a hold or
    /// cooldown ending, ...; see `wake.rs`), at most `IDLE_MAX_MS` after the last
    /// planning round.
    pub fn poll_timeout(&self) -> Option<TimeMs> {
        Some(self.next_tick_ms)
    }

    /// Planning rounds run since this engine started.
    pub fn planning_rounds(&self) -> u64 {
        self.planning_rounds
    }

    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Where the engine believes the service is now (vip/primary: one node; dns: the targets).
    pub fn placement(&self, service: ServiceId) -> &[NodeId] {
        self.durable.placements.get(service.index()).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn health(&self) -> &HealthTable {
        &self.health
    }

    pub fn alerts(&self) -> Vec<AlertView> {
        let mut all: Vec<AlertView> = self.durable.closed_alerts.iter().chain(self.durable.alerts.values()).cloned().collect();
        all.sort_by_key(|a| a.id);
        all
    }

    pub fn pending_approvals(&self) -> Vec<PendingApproval> {
        self.durable
            .pending
            .values()
            .map(|p| match &p.pending {
                state::Pending::Action { summary, reasons, .. } => {
                    PendingApproval { decision: p.decision, at_ms: p.at_ms, summary: summary.clone(), reasons: reasons.clone() }
                }
                state::Pending::Inventory { hash, sentence } => PendingApproval {
                    decision: p.decision,
                    at_ms: p.at_ms,
                    summary: format!("apply inventory {}", &hash[..hash.len().min(12)]),
                    reasons: vec![sentence.clone()],
                },
            })
            .collect()
    }

    /// The actions of the most recent plan, with verdicts.
    pub fn last_plan(&self) -> &[PlannedAction] {
        &self.last_plan
    }

    /// Moves used and allowed in the current budget window, per service group and
    /// for the fleet (group "*").
    pub fn budget_usage(&self, now_ms: TimeMs) -> Vec<BudgetUsage> {
        use crate::inventory::Budget;
        let budget = &self.snapshot.policy().budget;
        let mut groups: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for service in self.snapshot.services() {
            *groups.entry(service.group.as_str()).or_default() += 1;
        }
        let mut usage: Vec<BudgetUsage> = groups
            .into_iter()
            .map(|(group, size)| BudgetUsage {
                group: group.to_string(),
                used: self.durable.moves_in_window(now_ms, budget.window_ms, group).0,
                limit: Budget::limit(budget.group_moves_max, budget.group_percent_max, size),
            })
            .collect();
        usage.push(BudgetUsage {
            group: "*".into(),
            used: self.durable.moves_in_window(now_ms, budget.window_ms, "").1,
            limit: Budget::limit(budget.fleet_moves_max, budget.fleet_percent_max, self.snapshot.services().len()),
        });
        usage
    }

    /// Jobs not yet finished (running or waiting for actuator capacity).
    pub fn jobs_in_flight(&self) -> usize {
        self.durable.jobs.len() + self.jobs.queued_len()
    }

    /// Invariants checked after every simulated step: at most one primary per
    /// service, no hold overridden, no move beyond budget without approval.
    pub fn check_invariants(&self) -> Result<(), String> {
        use crate::inventory::ServiceKind;
        for (index, service) in self.snapshot.services().iter().enumerate() {
            let holders = self.placement(ServiceId(index as u32));
            if matches!(service.kind, ServiceKind::Vip | ServiceKind::Primary) && holders.len() > 1 {
                return Err(format!("service {} has {} holders; at most one is allowed", service.name, holders.len()));
            }
        }
        self.jobs.check_invariants(self)?;
        if self.outputs.len() >= OUTPUTS_QUEUED_MAX {
            return Err("output queue over its bound".into());
        }
        Ok(())
    }

    /// Emits a journal record and applies it to the durable state: the only way
    /// durable state changes, which is what makes `recover` exact.
    fn record(&mut self, at_ms: TimeMs, event: JournalEvent) {
        let record = JournalRecord { seq: self.durable.next_seq, at_ms, event };
        self.durable.apply(&self.snapshot, &record);
        self.outputs.push_back(Output::Journal(record));
    }

    fn guard_context(&self, now_ms: TimeMs) -> crate::guards::GuardContext<'_> {
        crate::guards::GuardContext {
            now_ms,
            mode: self.mode,
            snapshot: &self.snapshot,
            health: &self.health,
            durable: &self.durable,
            time: &self.time,
            fleet: &self.fleet,
            leases: &self.leases,
        }
    }
}
