//! Journal records: every decision and the evidence behind it, every job step,
//! alert and operator command. Records name nodes and services (not ids) so they
//! stay readable across inventory changes; the engine's durable state is a fold
//! over them (`engine::durable`), which is how a restart recovers jobs in flight.

use serde::{Deserialize, Serialize};

use crate::action::{Evidence, Verdict};
use crate::engine::io::Notification;
use crate::ids::*;
use crate::time::TimeMs;

/// An action with names instead of snapshot-relative ids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedAction {
    pub kind: String,
    pub service: Option<String>,
    pub from: Vec<String>,
    pub to: Vec<String>,
    /// Extra words for people (a sync preview, a rollout batch).
    pub detail: String,
    /// Rolling maintenance: (rollout, batch, operation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<(u32, u32, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStep {
    /// Ask what the action would do (a sync's deletions) without doing it.
    Preview,
    Apply,
    /// Run the service's verification checks end to end.
    Verify,
    /// Undo an applied move whose verification failed.
    Rollback,
}

impl JobStep {
    pub fn name(self) -> &'static str {
        match self {
            JobStep::Preview => "preview",
            JobStep::Apply => "apply",
            JobStep::Verify => "verify",
            JobStep::Rollback => "rollback",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobEnd {
    Succeeded,
    /// Verification failed and the move was undone.
    RolledBack,
    /// It failed and could not be undone: a person must look.
    Failed,
    /// Dropped before applying (rejected, superseded, or no longer needed after restart).
    Abandoned,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Page,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JournalEvent {
    Started {
        snapshot_hash: String,
        recovered_jobs: u32,
        mode: String,
    },
    InventoryApplied {
        hash: String,
        source: String,
        summary: String,
    },
    InventoryRejected {
        source: String,
        errors: Vec<String>,
    },
    /// A valid snapshot the integrity guard would not apply without approval.
    InventoryHeld {
        hash: String,
        decision: DecisionId,
        sentence: String,
    },
    /// The planner wanted something; here is what it saw and what the guards said.
    Decision {
        decision: DecisionId,
        action: NamedAction,
        cause: String,
        summary: String,
        evidence: Evidence,
        verdict: Verdict,
        job: Option<JobId>,
    },
    /// A job decided and waiting for actuator capacity: durable so a restart
    /// neither loses it nor asks for its approval again.
    JobQueued {
        job: JobId,
        decision: DecisionId,
        action: NamedAction,
        first_step: JobStep,
    },
    /// Written (and made durable by the shell) before the step runs.
    JobIntent {
        job: JobId,
        decision: DecisionId,
        action: NamedAction,
        step: JobStep,
        attempt: u32,
        fencing_token: u64,
    },
    JobStepDone {
        job: JobId,
        step: JobStep,
        ok: bool,
        message: String,
    },
    JobFinished {
        job: JobId,
        end: JobEnd,
        sentence: String,
    },
    /// Where the engine believes a service is now.
    Placement {
        service: String,
        holders: Vec<String>,
    },
    Health {
        node: String,
        status: String,
        sentence: String,
    },
    /// `state`: raised, repeated, resolved. `routes`: where it pages (escalation starts there).
    Alert {
        alert: AlertId,
        cause: String,
        severity: Severity,
        state: String,
        sentence: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        routes: Vec<String>,
    },
    /// The whole message, so a restart can send what was queued but never delivered.
    NotificationQueued {
        notification: Notification,
    },
    NotificationDelivered {
        notification: NotificationId,
        ok: bool,
        error: Option<String>,
    },
    HoldPlaced {
        target: String,
        author: String,
        reason: String,
        until_ms: Option<TimeMs>,
    },
    HoldReleased {
        target: String,
        author: String,
    },
    Approved {
        decision: DecisionId,
        author: String,
    },
    Rejected {
        decision: DecisionId,
        author: String,
        reason: String,
    },
    Acknowledged {
        alert: AlertId,
        author: String,
    },
    Drained {
        node: String,
        author: String,
    },
    Undrained {
        node: String,
        author: String,
    },
    TimeAnomaly {
        gap_ms: i64,
        sentence: String,
    },
    RolloutStarted {
        rollout: u32,
        nodes: Vec<String>,
        batch_size: u32,
        operation: String,
        author: String,
    },
    /// A rollout batch began, finished, or the rollout halted or completed.
    RolloutProgress {
        rollout: u32,
        batch: u32,
        state: String,
        sentence: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRecord {
    pub seq: u64,
    pub at_ms: TimeMs,
    #[serde(flatten)]
    pub event: JournalEvent,
}

/// One line for people about a journal event, as timelines show it; `None` for
/// bookkeeping records (job intents, deliveries, placements, queued jobs).
pub fn sentence(event: &JournalEvent) -> Option<String> {
    let short = |hash: &str| hash[..hash.len().min(12)].to_string();
    Some(match event {
        JournalEvent::Started { mode, recovered_jobs, snapshot_hash } => {
            format!("controller started ({mode}, inventory {}, {recovered_jobs} jobs recovered)", short(snapshot_hash))
        }
        JournalEvent::InventoryApplied { hash, summary, .. } => format!("inventory {} applied: {summary}", short(hash)),
        JournalEvent::InventoryRejected { errors, .. } => {
            format!("inventory rejected: {}", errors.first().map(String::as_str).unwrap_or("invalid"))
        }
        JournalEvent::InventoryHeld { sentence, .. } => format!("inventory held for approval: {sentence}"),
        JournalEvent::Decision { decision, verdict, summary, .. } => {
            format!("decision {} [{}] {summary} — {}", decision.0, verdict.outcome.name(), verdict.reasons().join(" "))
        }
        JournalEvent::JobStepDone { job, step, ok: false, message } => format!("job {} {} failed: {message}", job.0, step.name()),
        JournalEvent::JobFinished { job, end, sentence } => format!("job {} {:?}: {sentence}", job.0, end),
        JournalEvent::Health { node, status, sentence } => format!("{node} {status}: {sentence}"),
        JournalEvent::Alert { cause, severity, state, sentence, .. } => format!("alert {state} [{severity:?}] {cause}: {sentence}"),
        JournalEvent::NotificationQueued { notification } => format!(
            "notify {}{}: {}",
            notification.route_name,
            if notification.escalation > 0 { format!(" (escalation {})", notification.escalation) } else { String::new() },
            notification.title
        ),
        JournalEvent::HoldPlaced { target, author, reason, .. } => format!("hold on {target} by {author}: {reason}"),
        JournalEvent::HoldReleased { target, author } => format!("hold on {target} released by {author}"),
        JournalEvent::Approved { decision, author } => format!("decision {} approved by {author}", decision.0),
        JournalEvent::Rejected { decision, author, reason } => format!("decision {} rejected by {author}: {reason}", decision.0),
        JournalEvent::Acknowledged { alert, author } => format!("alert {} acknowledged by {author}", alert.0),
        JournalEvent::Drained { node, author } => format!("{node} drained by {author}"),
        JournalEvent::Undrained { node, author } => format!("{node} undrained by {author}"),
        JournalEvent::TimeAnomaly { sentence, .. } => format!("time anomaly: {sentence}"),
        JournalEvent::RolloutStarted { nodes, batch_size, operation, author, .. } => {
            format!("rollout by {author}: {operation} {} in batches of {batch_size}", nodes.join(", "))
        }
        JournalEvent::RolloutProgress { state, sentence, .. } => format!("rollout {state}: {sentence}"),
        JournalEvent::JobQueued { .. }
        | JournalEvent::JobIntent { .. }
        | JournalEvent::JobStepDone { .. }
        | JournalEvent::Placement { .. }
        | JournalEvent::NotificationDelivered { .. } => return None,
    })
}
