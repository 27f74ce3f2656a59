//! Journal records: every decision and the evidence behind it, every job step,
//! alert and operator command. Records name nodes and services (not ids) so they
//! stay readable across inventory changes; the engine's durable state is a fold
//! over them (`state`), which is how a restart recovers jobs in flight.

use serde::{Deserialize, Serialize};

use crate::action::{Evidence, NamedAction, Verdict};
use crate::ids::*;
use crate::mode::Mode;
use crate::time::TimeMs;

mod compat;

/// What a hold pins, by name so it survives inventory reloads.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum HoldTarget {
    /// Keep this node out of every service.
    Node(String),
    /// Keep every node of this site out.
    Site(String),
    /// Freeze this service: no automatic change at all.
    Service(String),
    /// Freeze the whole fleet (`ward hold --all`): no automatic action anywhere
    /// until released; an operator's own explicit commands still act.
    Fleet,
}

impl std::fmt::Display for HoldTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HoldTarget::Node(n) => write!(f, "node {n}"),
            HoldTarget::Site(s) => write!(f, "site {s}"),
            HoldTarget::Service(s) => write!(f, "service {s}"),
            HoldTarget::Fleet => write!(f, "the whole fleet"),
        }
    }
}

/// One message to one route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: NotificationId,
    pub route: RouteId,
    pub route_name: String,
    pub alert: Option<AlertId>,
    pub severity: Severity,
    /// The cause key alerts are grouped by (e.g. `replication:scl2-db1`).
    pub cause: String,
    pub title: String,
    pub body: String,
    /// 0 for the first page; each escalation adds one.
    pub escalation: u32,
}

/// What happened to an alert group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertChange {
    /// A new cause fired: it pages its routes.
    Raised,
    /// The open cause fired again (no new page).
    Repeated,
    /// A recently resolved cause fired again: the same alert opens again.
    Reopened,
    /// The cause stayed quiet for its settling time.
    Resolved,
}

impl AlertChange {
    pub fn name(self) -> &'static str {
        match self {
            AlertChange::Raised => "raised",
            AlertChange::Repeated => "repeated",
            AlertChange::Reopened => "reopened",
            AlertChange::Resolved => "resolved",
        }
    }
}

/// The scope a rollout declares: how much of the fleet may be out at once. Unset
/// fields take the policy's defaults (`policy.rollout`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RolloutScope {
    /// A node label that names a failure domain besides the site (e.g. "rack").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_label: Option<String>,
    /// At most this many failure domains with nodes out at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains_max: Option<u32>,
    /// At most this share of any service's candidates out at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_percent_max: Option<u32>,
}

/// What an operator does to a rollout in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutControl {
    /// Begin no new batch until resumed.
    Pause,
    Resume,
    /// Stop for good: undrain what the rollout drained.
    Cancel,
}

impl RolloutControl {
    pub fn verb(self) -> &'static str {
        match self {
            RolloutControl::Pause => "pause",
            RolloutControl::Resume => "resume",
            RolloutControl::Cancel => "cancel",
        }
    }
}

/// Where a rolling maintenance's current batch (or the rollout itself) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutPhase {
    /// The batch is drained, its services move off, its maintenance runs.
    Started,
    /// The batch is maintained and verified.
    BatchDone,
    /// A verification failed: the rollout stops here.
    Halted,
    /// Every batch is done.
    Done,
    /// The next batch would break the rollout's scope now (something else is
    /// out); it waits, up to `policy.rollout.batch_wait_max`.
    Waiting,
    /// The rollout is refused: over-broad, or a batch waited too long.
    Refused,
    /// An operator paused it: no new batch begins.
    Paused,
    /// An operator resumed it.
    Resumed,
    /// An operator cancelled it: what it drained is undrained.
    Cancelled,
}

impl RolloutPhase {
    pub fn name(self) -> &'static str {
        match self {
            RolloutPhase::Started => "started",
            RolloutPhase::BatchDone => "batch-done",
            RolloutPhase::Halted => "halted",
            RolloutPhase::Done => "done",
            RolloutPhase::Waiting => "waiting",
            RolloutPhase::Refused => "refused",
            RolloutPhase::Paused => "paused",
            RolloutPhase::Resumed => "resumed",
            RolloutPhase::Cancelled => "cancelled",
        }
    }
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
        mode: Mode,
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
        #[serde(deserialize_with = "compat::named_action")]
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
        #[serde(deserialize_with = "compat::named_action")]
        action: NamedAction,
        first_step: JobStep,
        /// The operator behind it (a sync's preview carries it into the sync decision).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author: Option<String>,
    },
    /// Written (and made durable by the shell) before the step runs.
    JobIntent {
        job: JobId,
        decision: DecisionId,
        #[serde(deserialize_with = "compat::named_action")]
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
        /// `false` when the step's deadline passed without an answer: it may or may
        /// not have happened, so Ward verifies before it believes either.
        #[serde(default = "compat::answered", skip_serializing_if = "compat::is_answered")]
        answered: bool,
    },
    /// A failed apply is tried again at `at_ms` (within the hook's retries).
    JobRetry {
        job: JobId,
        at_ms: TimeMs,
    },
    /// An operator's switchover of a primary: once the old primary's fence is
    /// done, `to` is promoted (durable, so a restart in between keeps the choice).
    SwitchoverRequested {
        service: String,
        to: String,
        author: String,
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
    /// Services Ward had never placed, believed where the inventory in force says
    /// (`initial`): assumed once, when Ward first sees them, so a later inventory
    /// (a torn file read at a restart) cannot move a believed placement by assertion.
    PlacementsAssumed {
        placements: Vec<(String, Vec<String>)>,
    },
    Health {
        node: String,
        status: String,
        sentence: String,
    },
    /// Every node of `site` became unreachable at once, as the controller sees it:
    /// one fact for the whole site (a partition or a lost site), not one per node.
    SiteLost {
        site: String,
        nodes: Vec<String>,
        sentence: String,
    },
    /// A site lost earlier is reachable again.
    SiteRestored {
        site: String,
        sentence: String,
    },
    /// A host agent's lease: granted (its first renewal, or the first since it
    /// lapsed) or lapsed (no renewal for the lease plus the margin).
    AgentLease {
        node: String,
        granted: bool,
        sentence: String,
    },
    /// A primary's server that stopped answering counts as fenced: its agent's
    /// lease ran out (plus the margin) and most of the other members cannot reach
    /// it either, so it has fenced itself or nobody can write to it.
    FencedByLease {
        service: String,
        node: String,
        sentence: String,
    },
    /// `routes`: where it pages (escalation starts there).
    Alert {
        alert: AlertId,
        cause: String,
        severity: Severity,
        state: AlertChange,
        sentence: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        routes: Vec<String>,
        /// A grouped alert's members (the nodes one cause covers), when raised and
        /// whenever the list changes; empty for a single-subject alert.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        members: Vec<String>,
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
        #[serde(deserialize_with = "compat::hold_target")]
        target: HoldTarget,
        author: String,
        reason: String,
        until_ms: Option<TimeMs>,
    },
    HoldReleased {
        #[serde(deserialize_with = "compat::hold_target")]
        target: HoldTarget,
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
        /// The scope it declared (records from before scopes read as the policy's defaults).
        #[serde(default, skip_serializing_if = "crate::journal::is_default_scope")]
        scope: RolloutScope,
    },
    /// A rollout batch began, finished, or the rollout halted or completed.
    RolloutProgress {
        rollout: u32,
        batch: u32,
        state: RolloutPhase,
        sentence: String,
    },
}

fn is_default_scope(scope: &RolloutScope) -> bool {
    *scope == RolloutScope::default()
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
            format!("controller started ({}, inventory {}, {recovered_jobs} jobs recovered)", mode.name(), short(snapshot_hash))
        }
        JournalEvent::InventoryApplied { hash, summary, .. } => format!("inventory {} applied: {summary}", short(hash)),
        JournalEvent::InventoryRejected { errors, .. } => {
            format!("inventory rejected: {}", errors.first().map(String::as_str).unwrap_or("invalid"))
        }
        JournalEvent::InventoryHeld { sentence, .. } => format!("inventory held for approval: {sentence}"),
        JournalEvent::Decision { decision, verdict, summary, .. } => {
            format!("decision {} [{}] {summary} — {}", decision.0, verdict.outcome.name(), verdict.reasons().join(" "))
        }
        JournalEvent::JobStepDone { job, step, ok: false, message, .. } => format!("job {} {} failed: {message}", job.0, step.name()),
        JournalEvent::JobFinished { job, end, sentence } => format!("job {} {:?}: {sentence}", job.0, end),
        JournalEvent::Health { node, status, sentence } => format!("{node} {status}: {sentence}"),
        JournalEvent::SiteLost { sentence, .. }
        | JournalEvent::SiteRestored { sentence, .. }
        | JournalEvent::AgentLease { sentence, .. }
        | JournalEvent::FencedByLease { sentence, .. } => sentence.clone(),
        JournalEvent::Alert { cause, severity, state, sentence, .. } => {
            format!("alert {} [{severity:?}] {cause}: {sentence}", state.name())
        }
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
        JournalEvent::SwitchoverRequested { service, to, author } => {
            format!("switchover of {service} to {to} requested by {author}: fence the old primary, then promote {to}")
        }
        JournalEvent::TimeAnomaly { sentence, .. } => format!("time anomaly: {sentence}"),
        JournalEvent::RolloutStarted { nodes, batch_size, operation, author, .. } => {
            format!("rollout by {author}: {operation} {} in batches of {batch_size}", nodes.join(", "))
        }
        JournalEvent::RolloutProgress { state, sentence, .. } => format!("rollout {}: {sentence}", state.name()),
        JournalEvent::JobQueued { .. }
        | JournalEvent::JobIntent { .. }
        | JournalEvent::JobStepDone { .. }
        | JournalEvent::JobRetry { .. }
        | JournalEvent::Placement { .. }
        | JournalEvent::PlacementsAssumed { .. }
        | JournalEvent::NotificationDelivered { .. } => return None,
    })
}
