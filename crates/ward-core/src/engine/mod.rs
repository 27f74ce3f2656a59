//! The engine: a quinn-proto-style state machine.
//!
//! Call order for a shell: feed inputs with `handle(now_ms, input)` and operator
//! commands with `command(now_ms, command)`; then drain `poll_output()` until it
//! returns `None`, persisting every `Output::Journal` durably before carrying out
//! any output that follows it; then sleep until `poll_timeout()` (or the next
//! input) and call `handle(now, Input::Tick)`.

pub mod durable;
pub mod io;
pub mod time_sanity;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use io::*;

use crate::action::PlannedAction;
use crate::health::HealthTable;
use crate::ids::*;
use crate::inventory::Snapshot;
use crate::journal::{JournalRecord, Severity};
use crate::time::TimeMs;

/// An alert group as operators see it: one cause, however often it fired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: AlertId,
    pub cause: String,
    pub severity: Severity,
    pub title: String,
    pub first_ms: TimeMs,
    pub last_ms: TimeMs,
    /// How many times the cause fired while this alert was open.
    pub count: u32,
    pub acked_by: Option<String>,
    pub resolved_ms: Option<TimeMs>,
    pub escalations: u32,
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

pub struct Engine {}

impl Engine {
    /// A controller starting with no history.
    pub fn new(snapshot: Arc<Snapshot>, mode: Mode, now_ms: TimeMs) -> Engine {
        let _ = (snapshot, mode, now_ms);
        todo!()
    }

    /// A controller restarting: durable state (jobs, holds, approvals, alerts,
    /// undelivered notifications, placements, budget) is folded from the journal.
    /// Jobs in flight are reconciled (verified before anything is repeated).
    pub fn recover(snapshot: Arc<Snapshot>, mode: Mode, journal: &[JournalRecord], now_ms: TimeMs) -> Engine {
        let _ = (snapshot, mode, journal, now_ms);
        todo!()
    }

    pub fn handle(&mut self, now_ms: TimeMs, input: Input) {
        let _ = (now_ms, input);
        todo!()
    }

    /// Runs an operator command; the answer is a sentence for the operator.
    pub fn command(&mut self, now_ms: TimeMs, command: Command) -> Result<String, String> {
        let _ = (now_ms, command);
        todo!()
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        todo!()
    }

    /// When the engine next wants `Input::Tick`.
    pub fn poll_timeout(&self) -> Option<TimeMs> {
        todo!()
    }

    pub fn snapshot(&self) -> &Arc<Snapshot> {
        todo!()
    }

    /// Where the engine believes the service is now (vip/primary: one node; dns: the targets).
    pub fn placement(&self, service: ServiceId) -> &[NodeId] {
        let _ = service;
        todo!()
    }

    pub fn health(&self) -> &HealthTable {
        todo!()
    }

    pub fn alerts(&self) -> Vec<AlertView> {
        todo!()
    }

    pub fn pending_approvals(&self) -> Vec<PendingApproval> {
        todo!()
    }

    /// The actions of the most recent plan, with verdicts.
    pub fn last_plan(&self) -> &[PlannedAction] {
        todo!()
    }

    /// Invariants checked after every simulated step: at most one primary per
    /// service, no hold overridden, no move beyond budget without approval.
    pub fn check_invariants(&self) -> Result<(), String> {
        todo!()
    }
}
