//! The engine's durable state: exactly what a fold over the journal rebuilds.
//!
//! The engine changes this state only by emitting a journal record and applying
//! it here (`Durable::apply`), so a controller restarted from its journal holds the
//! same jobs, holds, approvals, alerts, undelivered notifications, placements and
//! budget usage as the one that crashed. Health is deliberately not durable: a
//! restarted controller re-observes before it believes anything.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::action::NamedAction;
use crate::ids::*;
use crate::inventory::Snapshot;
use crate::journal::*;
use crate::time::TimeMs;

/// Bounds: nothing in the durable state grows without limit.
pub const FINISHED_JOBS_KEPT_MAX: usize = 1_000;
pub const UNDELIVERED_NOTIFICATIONS_MAX: usize = 10_000;
pub const CLOSED_ALERTS_KEPT_MAX: usize = 1_000;
pub const BUDGET_LEDGER_MAX: usize = 100_000;
/// Verification cooldowns remembered at once (the oldest go first).
pub const VERIFY_COOLDOWNS_MAX: usize = 10_000;
/// A node whose verification failed for a service is not chosen for it again for this long.
pub const VERIFY_FAILED_COOLDOWN_MS: u64 = 30 * crate::time::MINUTE_MS;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hold {
    pub target: HoldTarget,
    pub author: String,
    pub reason: String,
    pub since_ms: TimeMs,
    pub until_ms: Option<TimeMs>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JobState {
    pub id: JobId,
    pub decision: DecisionId,
    pub action: NamedAction,
    /// The step most recently started, and whether it has reported.
    pub step: JobStep,
    pub step_result: Option<bool>,
    pub last_message: String,
    pub attempt: u32,
    pub started_ms: TimeMs,
    pub step_started_ms: TimeMs,
    pub fencing_token: u64,
    /// The operator behind the job, if one asked for it.
    pub author: Option<String>,
    /// A failed apply waits for this time to be tried again.
    pub retry_at: Option<TimeMs>,
    /// The last apply got no answer: its verification decides between "it
    /// happened" and "apply again", never a rollback.
    pub unanswered_apply: bool,
    /// The last rollback got no answer: its verification (of the undo's
    /// destination) decides whether it landed, before either holder is believed.
    pub unanswered_rollback: bool,
    /// How often the job was applied again after an unanswered apply.
    pub reapplied: u32,
}

/// A job decided and waiting for actuator capacity.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueuedJob {
    pub decision: DecisionId,
    pub action: NamedAction,
    pub first_step: JobStep,
    pub author: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FinishedJob {
    pub id: JobId,
    pub action: NamedAction,
    pub end: JobEnd,
    pub at_ms: TimeMs,
    pub sentence: String,
}

/// An alert group: one cause, however often it fired.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlertState {
    pub id: AlertId,
    pub cause: String,
    pub severity: Severity,
    pub title: String,
    pub first_ms: TimeMs,
    pub last_ms: TimeMs,
    /// How many times the cause fired (repeats and reopenings included).
    pub count: u32,
    pub acked_by: Option<String>,
    pub resolved_ms: Option<TimeMs>,
    pub escalations: u32,
    pub last_notified_ms: TimeMs,
    /// Routes it paged first; escalation follows each route's `escalate_to`.
    pub routes: Vec<String>,
    /// A grouped alert's members: the nodes its one cause covers now.
    #[serde(default)]
    pub members: Vec<String>,
}

/// What an approval is for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Pending {
    Action { action: NamedAction, summary: String, reasons: Vec<String> },
    Inventory { hash: String, sentence: String },
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingDecision {
    pub decision: DecisionId,
    pub at_ms: TimeMs,
    pub pending: Pending,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rollout {
    pub id: u32,
    pub nodes: Vec<String>,
    pub batch_size: u32,
    pub operation: String,
    pub author: String,
    /// The batch in progress (0-based); `None` before the first starts.
    pub batch: Option<u32>,
    pub state: RolloutState,
    /// The current batch's phase; `None` before the first starts.
    pub batch_state: Option<RolloutPhase>,
    #[serde(default)]
    pub scope: RolloutScope,
    /// Since when the next batch has waited for the scope to allow it.
    #[serde(default)]
    pub waiting_since: Option<TimeMs>,
}

/// Where a rolling maintenance stands as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RolloutState {
    Running,
    Halted,
    Done,
    /// Paused by an operator: no new batch begins.
    Paused,
    Cancelled,
    /// Refused: over-broad, or a batch waited too long for its scope.
    Refused,
}

impl RolloutState {
    /// Still going (running or paused): another rollout may not start meanwhile.
    pub fn active(self) -> bool {
        matches!(self, RolloutState::Running | RolloutState::Paused)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Durable {
    pub holds: Vec<Hold>,
    /// Drained node name -> who drained it.
    pub drained: BTreeMap<String, String>,
    /// Believed placement per service id of the applied snapshot: derived from
    /// `placed` (by name) for the snapshot in force, never journaled itself.
    #[serde(skip)]
    pub placements: Vec<Vec<NodeId>>,
    /// Believed placement by name, as journaled (`Placement`, `PlacementsAssumed`):
    /// the durable truth `placements` is derived from.
    pub placed: BTreeMap<String, Vec<String>>,
    pub jobs: BTreeMap<JobId, JobState>,
    /// Jobs decided but not started yet.
    pub queued: BTreeMap<JobId, QueuedJob>,
    pub finished: VecDeque<FinishedJob>,
    pub jobs_finished_total: u64,
    pub alerts: BTreeMap<String, AlertState>,
    pub closed_alerts: VecDeque<AlertState>,
    pub undelivered: BTreeMap<NotificationId, Notification>,
    pub notifications_dropped: u64,
    pub pending: BTreeMap<DecisionId, PendingDecision>,
    /// Approved decisions not yet carried out: approver and the approved action.
    pub approved: BTreeMap<DecisionId, (String, Option<NamedAction>)>,
    /// (service, node): old primaries whose fencing was confirmed.
    pub fenced: BTreeSet<(String, String)>,
    /// The fenced entries that count as fenced by an agent's lease, not by a
    /// confirmed fence, with the sentence that says why.
    #[serde(default, with = "map_as_pairs")]
    pub lease_fenced: BTreeMap<(String, String), String>,
    /// Nodes whose agent holds a lease Ward granted and has not seen lapse.
    #[serde(default)]
    pub leases_granted: BTreeSet<String>,
    /// (service, node) -> until when the node is passed over after a failed verification.
    #[serde(with = "map_as_pairs")]
    pub verify_failed: BTreeMap<(String, String), TimeMs>,
    /// Switchovers waiting for their fence: service -> (node to promote, operator).
    pub switchovers: BTreeMap<String, (String, String)>,
    /// (time, group) per target removed by every move or fence started (a DNS
    /// change dropping ten answers is ten entries), newest last, bounded.
    pub budget_ledger: VecDeque<(TimeMs, String)>,
    /// (time, service, node) of every answer a DNS change removed, newest last,
    /// bounded: the per-pool share of the budget counts distinct nodes.
    #[serde(default)]
    pub pool_ledger: VecDeque<(TimeMs, String, String)>,
    pub rollouts: BTreeMap<u32, Rollout>,
    pub applied_hash: String,
    pub starts: u64,
    pub next_job: u64,
    pub next_decision: u64,
    pub next_alert: u64,
    pub next_notification: u64,
    pub next_rollout: u32,
    pub next_seq: u64,
}

impl Durable {
    /// A node that is no longer fenced for a service, however it was.
    fn unfence(&mut self, service: &str, node: &str) {
        let key = (service.to_string(), node.to_string());
        self.fenced.remove(&key);
        self.lease_fenced.remove(&key);
    }

    pub fn new(snapshot: &Snapshot) -> Durable {
        let mut durable =
            Durable { next_job: 1, next_decision: 1, next_alert: 1, next_notification: 1, next_rollout: 1, ..Durable::default() };
        durable.placements = snapshot.services().iter().map(|s| s.initial.clone()).collect();
        durable.applied_hash = snapshot.hash().to_string();
        durable
    }

    /// Rebuilds the state from a journal, against the snapshot now in force.
    pub fn fold(snapshot: &Snapshot, journal: &[JournalRecord]) -> Durable {
        let mut durable = Durable::new(snapshot);
        for record in journal {
            durable.apply(snapshot, record);
        }
        durable
    }

    /// Rebuilds the state from a checkpoint and the journal records after it.
    pub fn fold_from(snapshot: &Snapshot, checkpoint: &Checkpoint, journal: &[JournalRecord]) -> Durable {
        let mut durable = checkpoint.state.clone();
        durable.rebase(snapshot);
        for record in journal.iter().filter(|r| r.seq >= checkpoint.seq) {
            durable.apply(snapshot, record);
        }
        durable
    }

    /// Derives the placements by id for `snapshot` from the placements by name; a
    /// service never placed is where the snapshot says (`initial`).
    pub fn rebase(&mut self, snapshot: &Snapshot) {
        self.placements = snapshot
            .services()
            .iter()
            .map(|service| match self.placed.get(&service.name) {
                Some(holders) => holders.iter().filter_map(|n| snapshot.node_id(n)).collect(),
                None => service.initial.clone(),
            })
            .collect();
    }

    pub fn apply(&mut self, snapshot: &Snapshot, record: &JournalRecord) {
        self.next_seq = self.next_seq.max(record.seq + 1);
        let at = record.at_ms;
        match &record.event {
            // The fencing token of a controller term: above every earlier one, and at
            // least its start time in Unix ms, so it stays unique across a lost store.
            JournalEvent::Started { .. } => self.starts = (self.starts + 1).max(at),
            JournalEvent::InventoryApplied { hash, .. } => self.applied_hash = hash.clone(),
            JournalEvent::InventoryRejected { .. } => {}
            JournalEvent::InventoryHeld { hash, decision, sentence } => {
                self.next_decision = self.next_decision.max(decision.0 + 1);
                self.pending.insert(
                    *decision,
                    PendingDecision {
                        decision: *decision,
                        at_ms: at,
                        pending: Pending::Inventory { hash: hash.clone(), sentence: sentence.clone() },
                    },
                );
            }
            JournalEvent::Decision { decision, action, summary, verdict, job, .. } => {
                self.next_decision = self.next_decision.max(decision.0 + 1);
                if verdict.outcome == crate::action::Outcome::NeedsApproval && job.is_none() {
                    let reasons = verdict.reasons().iter().map(|s| s.to_string()).collect();
                    self.pending.insert(
                        *decision,
                        PendingDecision {
                            decision: *decision,
                            at_ms: at,
                            pending: Pending::Action { action: action.clone(), summary: summary.clone(), reasons },
                        },
                    );
                }
                if let Some(job) = job {
                    self.approved.remove(decision);
                    self.pending.remove(decision);
                    self.next_job = self.next_job.max(job.0 + 1);
                    // A fence counts like a move; the promotion that follows its own
                    // fence was counted with the fence.
                    let promotes_after_its_fence = matches!(action, NamedAction::Promote { service, from: Some(from), .. }
                        if self.fenced.contains(&(service.clone(), from.clone())));
                    let weight = budget_weight(action);
                    if weight > 0 && !promotes_after_its_fence {
                        if let Some(group) =
                            action.service_ref().and_then(|s| snapshot.service_id(s)).map(|s| snapshot.service(s).group.clone())
                        {
                            for _ in 0..weight {
                                self.budget_ledger.push_back((at, group.clone()));
                            }
                            while self.budget_ledger.len() > BUDGET_LEDGER_MAX {
                                self.budget_ledger.pop_front();
                            }
                        }
                    }
                    if let NamedAction::SetDnsTargets { service, from, to } = action {
                        for node in from.iter().filter(|n| !to.contains(n)) {
                            self.pool_ledger.push_back((at, service.clone(), node.clone()));
                        }
                        while self.pool_ledger.len() > BUDGET_LEDGER_MAX {
                            self.pool_ledger.pop_front();
                        }
                    }
                }
            }
            JournalEvent::JobQueued { job, decision, action, first_step, author } => {
                self.next_job = self.next_job.max(job.0 + 1);
                let queued = QueuedJob { decision: *decision, action: action.clone(), first_step: *first_step, author: author.clone() };
                self.queued.insert(*job, queued);
            }
            JournalEvent::JobIntent { job, decision, action, step, attempt, fencing_token } => {
                self.next_job = self.next_job.max(job.0 + 1);
                let author = self.queued.remove(job).and_then(|q| q.author);
                let entry = self.jobs.entry(*job).or_insert_with(|| JobState {
                    id: *job,
                    decision: *decision,
                    action: action.clone(),
                    step: *step,
                    step_result: None,
                    last_message: String::new(),
                    attempt: *attempt,
                    started_ms: at,
                    step_started_ms: at,
                    fencing_token: *fencing_token,
                    author,
                    retry_at: None,
                    unanswered_apply: false,
                    unanswered_rollback: false,
                    reapplied: 0,
                });
                if *step == JobStep::Apply && entry.unanswered_apply {
                    entry.reapplied += 1;
                    entry.unanswered_apply = false;
                }
                entry.retry_at = None;
                entry.step = *step;
                entry.step_result = None;
                entry.attempt = *attempt;
                entry.step_started_ms = at;
                entry.fencing_token = *fencing_token;
            }
            JournalEvent::JobStepDone { job, step, ok, message, answered } => {
                if let Some(state) = self.jobs.get_mut(job) {
                    if state.step == *step {
                        state.step_result = Some(*ok);
                        state.last_message = message.clone();
                    }
                    match (step, answered, ok) {
                        (JobStep::Apply, false, _) => state.unanswered_apply = true,
                        (JobStep::Rollback, false, _) => state.unanswered_rollback = true,
                        (JobStep::Verify, _, false) if !state.unanswered_apply && !state.unanswered_rollback => {
                            // The destinations failed end to end: pass them over for a while.
                            if let Some(service) = state.action.service_ref() {
                                for node in state.action.destinations() {
                                    self.verify_failed.insert((service.clone(), node), at + VERIFY_FAILED_COOLDOWN_MS);
                                }
                            }
                            while self.verify_failed.len() > VERIFY_COOLDOWNS_MAX {
                                self.verify_failed.pop_first();
                            }
                        }
                        _ => {}
                    }
                }
            }
            JournalEvent::JobRetry { job, at_ms } => {
                if let Some(state) = self.jobs.get_mut(job) {
                    state.retry_at = Some(*at_ms);
                }
            }
            JournalEvent::SwitchoverRequested { service, to, author } => {
                self.switchovers.insert(service.clone(), (to.clone(), author.clone()));
            }
            JournalEvent::JobFinished { job, end, sentence } => {
                if let Some(queued) = self.queued.remove(job) {
                    self.jobs_finished_total += 1;
                    self.finished.push_back(FinishedJob {
                        id: *job,
                        action: queued.action,
                        end: *end,
                        at_ms: at,
                        sentence: sentence.clone(),
                    });
                }
                if let Some(state) = self.jobs.remove(job) {
                    if let NamedAction::Fence { service, node } = &state.action {
                        if *end == JobEnd::Succeeded {
                            self.fenced.insert((service.clone(), node.clone()));
                        }
                        // The switchover's promotion follows now (or not, if the fence failed).
                        self.switchovers.remove(service);
                    }
                    if let NamedAction::Unfence { service, node } = &state.action {
                        if *end == JobEnd::Succeeded {
                            self.unfence(service, node);
                        }
                    }
                    self.jobs_finished_total += 1;
                    self.finished.push_back(FinishedJob {
                        id: *job,
                        action: state.action,
                        end: *end,
                        at_ms: at,
                        sentence: sentence.clone(),
                    });
                    while self.finished.len() > FINISHED_JOBS_KEPT_MAX {
                        self.finished.pop_front();
                    }
                }
            }
            JournalEvent::PlacementsAssumed { placements } => {
                for (service, holders) in placements {
                    self.placed.insert(service.clone(), holders.clone());
                    if let Some(id) = snapshot.service_id(service) {
                        let nodes: Vec<NodeId> = holders.iter().filter_map(|n| snapshot.node_id(n)).collect();
                        if let Some(slot) = self.placements.get_mut(id.index()) {
                            *slot = nodes;
                        }
                    }
                }
            }
            JournalEvent::Placement { service, holders } => {
                self.placed.insert(service.clone(), holders.clone());
                if let Some(id) = snapshot.service_id(service) {
                    let nodes: Vec<NodeId> = holders.iter().filter_map(|n| snapshot.node_id(n)).collect();
                    // A node that became primary is no longer "fenced" for this service.
                    for node in &nodes {
                        self.unfence(service, snapshot.node_name(*node));
                    }
                    if let Some(slot) = self.placements.get_mut(id.index()) {
                        *slot = nodes;
                    }
                }
            }
            JournalEvent::Health { .. }
            | JournalEvent::TimeAnomaly { .. }
            | JournalEvent::SiteLost { .. }
            | JournalEvent::SiteRestored { .. } => {}
            JournalEvent::AgentLease { node, granted, .. } => {
                if *granted {
                    self.leases_granted.insert(node.clone());
                } else {
                    self.leases_granted.remove(node);
                }
            }
            JournalEvent::FencedByLease { service, node, sentence } => {
                self.fenced.insert((service.clone(), node.clone()));
                self.lease_fenced.insert((service.clone(), node.clone()), sentence.clone());
            }
            JournalEvent::Alert { alert, cause, severity, state, sentence, routes, members } => {
                self.apply_alert(at, *alert, cause, *severity, *state, sentence, routes, members)
            }
            JournalEvent::NotificationQueued { notification } => {
                self.next_notification = self.next_notification.max(notification.id.0 + 1);
                if let Some(alert) = notification.alert {
                    if let Some(open) = self.alerts.values_mut().find(|a| a.id == alert) {
                        open.last_notified_ms = at;
                        open.escalations = open.escalations.max(notification.escalation);
                    }
                }
                self.undelivered.insert(notification.id, notification.clone());
                while self.undelivered.len() > UNDELIVERED_NOTIFICATIONS_MAX {
                    self.undelivered.pop_first();
                    self.notifications_dropped += 1;
                }
            }
            JournalEvent::NotificationDelivered { notification, ok, .. } => {
                if *ok {
                    self.undelivered.remove(notification);
                }
            }
            JournalEvent::HoldPlaced { target, author, reason, until_ms } => {
                self.holds.retain(|h| h.target != *target);
                self.holds.push(Hold {
                    target: target.clone(),
                    author: author.clone(),
                    reason: reason.clone(),
                    since_ms: at,
                    until_ms: *until_ms,
                });
            }
            JournalEvent::HoldReleased { target, .. } => {
                self.holds.retain(|h| h.target != *target);
            }
            JournalEvent::Approved { decision, author } => {
                let action = match self.pending.remove(decision) {
                    Some(PendingDecision { pending: Pending::Action { action, .. }, .. }) => Some(action),
                    _ => None,
                };
                self.approved.insert(*decision, (author.clone(), action));
            }
            JournalEvent::Rejected { decision, .. } => {
                self.pending.remove(decision);
                self.approved.remove(decision);
            }
            JournalEvent::Acknowledged { alert, author } => {
                if let Some(open) = self.alerts.values_mut().find(|a| a.id == *alert) {
                    open.acked_by = Some(author.clone());
                }
            }
            JournalEvent::Drained { node, author } => {
                self.drained.insert(node.clone(), author.clone());
            }
            JournalEvent::Undrained { node, .. } => {
                self.drained.remove(node);
            }
            JournalEvent::RolloutStarted { rollout, nodes, batch_size, operation, author, scope } => {
                self.next_rollout = self.next_rollout.max(rollout + 1);
                self.rollouts.insert(
                    *rollout,
                    Rollout {
                        id: *rollout,
                        nodes: nodes.clone(),
                        batch_size: *batch_size,
                        operation: operation.clone(),
                        author: author.clone(),
                        batch: None,
                        state: RolloutState::Running,
                        batch_state: None,
                        scope: scope.clone(),
                        waiting_since: None,
                    },
                );
            }
            JournalEvent::RolloutProgress { rollout, batch, state, .. } => {
                if let Some(r) = self.rollouts.get_mut(rollout) {
                    match state {
                        // Batch phases move the batch on.
                        RolloutPhase::Started | RolloutPhase::BatchDone | RolloutPhase::Halted | RolloutPhase::Done => {
                            r.batch = Some(*batch);
                            r.batch_state = Some(*state);
                            r.waiting_since = None;
                        }
                        RolloutPhase::Waiting => r.waiting_since = Some(r.waiting_since.unwrap_or(at)),
                        // Control phases change the rollout, not its batch.
                        RolloutPhase::Refused | RolloutPhase::Paused | RolloutPhase::Resumed | RolloutPhase::Cancelled => {}
                    }
                    r.state = match state {
                        RolloutPhase::Halted => RolloutState::Halted,
                        RolloutPhase::Done => RolloutState::Done,
                        RolloutPhase::Refused => RolloutState::Refused,
                        RolloutPhase::Paused => RolloutState::Paused,
                        RolloutPhase::Cancelled => RolloutState::Cancelled,
                        RolloutPhase::Resumed => RolloutState::Running,
                        RolloutPhase::Started | RolloutPhase::BatchDone | RolloutPhase::Waiting => r.state,
                    };
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_alert(
        &mut self,
        at: TimeMs,
        id: AlertId,
        cause: &str,
        severity: Severity,
        change: AlertChange,
        title: &str,
        routes: &[String],
        members: &[String],
    ) {
        self.next_alert = self.next_alert.max(id.0 + 1);
        match change {
            AlertChange::Raised => {
                self.alerts.insert(
                    cause.to_string(),
                    AlertState {
                        id,
                        cause: cause.to_string(),
                        severity,
                        title: title.to_string(),
                        first_ms: at,
                        last_ms: at,
                        count: 1,
                        acked_by: None,
                        resolved_ms: None,
                        escalations: 0,
                        last_notified_ms: at,
                        routes: routes.to_vec(),
                        members: members.to_vec(),
                    },
                );
            }
            AlertChange::Repeated => {
                if let Some(open) = self.alerts.get_mut(cause) {
                    open.count += 1;
                    open.last_ms = at;
                    open.severity = open.severity.max(severity);
                    open.title = title.to_string();
                    if !members.is_empty() {
                        open.members = members.to_vec();
                    }
                }
            }
            AlertChange::Reopened => {
                if let Some(index) = self.closed_alerts.iter().rposition(|a| a.id == id) {
                    if let Some(mut alert) = self.closed_alerts.remove(index) {
                        alert.resolved_ms = None;
                        alert.count += 1;
                        alert.last_ms = at;
                        alert.severity = alert.severity.max(severity);
                        alert.title = title.to_string();
                        if !members.is_empty() {
                            alert.members = members.to_vec();
                        }
                        self.alerts.insert(cause.to_string(), alert);
                    }
                }
            }
            AlertChange::Resolved => {
                if let Some(mut closed) = self.alerts.remove(cause) {
                    closed.resolved_ms = Some(at);
                    self.closed_alerts.push_back(closed);
                    while self.closed_alerts.len() > CLOSED_ALERTS_KEPT_MAX {
                        self.closed_alerts.pop_front();
                    }
                }
            }
        }
    }

    /// Moves started in the budget window, per group and fleet-wide.
    pub fn moves_in_window(&self, now_ms: TimeMs, window_ms: u64, group: &str) -> (u32, u32) {
        let from = now_ms.saturating_sub(window_ms);
        let mut in_group = 0;
        let mut fleet = 0;
        for (at, g) in self.budget_ledger.iter().rev() {
            if *at < from {
                break;
            }
            fleet += 1;
            if g == group {
                in_group += 1;
            }
        }
        (in_group, fleet)
    }

    /// Distinct nodes removed from a DNS service's answers in the budget window.
    pub fn pool_removed_in_window(&self, now_ms: TimeMs, window_ms: u64, service: &str) -> BTreeSet<&str> {
        let from = now_ms.saturating_sub(window_ms);
        self.pool_ledger
            .iter()
            .rev()
            .take_while(|(at, _, _)| *at >= from)
            .filter(|(_, s, _)| s == service)
            .map(|(_, _, node)| node.as_str())
            .collect()
    }

    pub fn hold_on_node(&self, snapshot: &Snapshot, node: NodeId) -> Option<&Hold> {
        let name = snapshot.node_name(node);
        let site = &snapshot.site(snapshot.node(node).site).name;
        self.holds.iter().find(|h| match &h.target {
            HoldTarget::Node(n) => n == name,
            HoldTarget::Site(s) => s == site,
            HoldTarget::Service(_) | HoldTarget::Fleet => false,
        })
    }

    /// The fleet-wide hold (a freeze), if one stands.
    pub fn fleet_hold(&self) -> Option<&Hold> {
        self.holds.iter().find(|h| h.target == HoldTarget::Fleet)
    }

    pub fn hold_on_service(&self, snapshot: &Snapshot, service: ServiceId) -> Option<&Hold> {
        let name = snapshot.service_name(service);
        self.holds.iter().find(|h| matches!(&h.target, HoldTarget::Service(s) if s == name))
    }
}

/// How much of the blast-radius budget an action uses: the targets it removes. A
/// DNS change counts the answers it drops (an add-only change counts one, as any
/// change does); a VIP move, a promotion or a fence counts one; anything else
/// (a sync, a repair, a maintenance batch) is not a move.
pub fn budget_weight<N: PartialEq, S>(action: &crate::action::ActionOf<N, S>) -> u32 {
    use crate::action::ActionOf;
    match action {
        ActionOf::SetDnsTargets { from, to, .. } => (from.iter().filter(|n| !to.contains(n)).count() as u32).max(1),
        ActionOf::MoveVip { .. } | ActionOf::Promote { .. } | ActionOf::Fence { .. } => 1,
        ActionOf::Unfence { .. }
        | ActionOf::Sync { .. }
        | ActionOf::Maintain { .. }
        | ActionOf::Repair { .. }
        | ActionOf::FailoverSite { .. } => 0,
    }
}

/// Names the first part of two durable states that differs (for a failed recovery check).
pub fn first_difference(recovered: &Durable, live: &Durable) -> String {
    macro_rules! compare {
        ($($field:ident),*) => {
            $(
                if recovered.$field != live.$field {
                    return format!(
                        "recovered {} differs from the live controller's:\n  recovered: {:?}\n  live:      {:?}",
                        stringify!($field), recovered.$field, live.$field
                    );
                }
            )*
        };
    }
    compare!(
        holds,
        drained,
        placements,
        placed,
        jobs,
        queued,
        finished,
        jobs_finished_total,
        alerts,
        closed_alerts,
        undelivered,
        notifications_dropped,
        pending,
        approved,
        fenced,
        lease_fenced,
        leases_granted,
        verify_failed,
        switchovers,
        budget_ledger,
        pool_ledger,
        rollouts,
        applied_hash,
        starts,
        next_job,
        next_decision,
        next_alert,
        next_notification,
        next_rollout,
        next_seq
    );
    "no difference".into()
}

/// The whole durable state at a point of the journal: recovery starts here and
/// folds only the records from `seq` on, so the store may drop what precedes it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The first journal record not folded into `state`.
    pub seq: u64,
    pub state: Durable,
}

/// A map with non-string keys as a list of pairs (JSON objects need string keys).
mod map_as_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(map: &BTreeMap<K, V>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<K, V>, D::Error> {
        Ok(Vec::<(K, V)>::deserialize(deserializer)?.into_iter().collect())
    }
}
