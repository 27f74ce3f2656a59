//! Jobs: an approved action carried out step by step (preview, apply, verify,
//! rollback). Each step's intent is journaled before the shell runs it; each
//! outcome after. Hooks bound how many jobs run at once; the rest queue (bounded).

use std::collections::{BTreeMap, VecDeque};

use crate::action::{Action, Cause, NamedAction, RepairOperation};
use crate::engine::io::{JobOutcome, JobRequest, Output};
use crate::engine::{Engine, Mode};
use crate::ids::*;
use crate::journal::{JobEnd, JobStep, JournalEvent, Severity};
use crate::time::{human_duration, TimeMs};

/// Jobs waiting for actuator capacity.
pub const QUEUED_JOBS_MAX: usize = 100_000;
/// Extra time the shell gets past a step's deadline before the engine calls it failed.
const DEADLINE_GRACE_MS: u64 = 5_000;

#[derive(Clone, Debug)]
struct WaitingJob {
    job: JobId,
    decision: DecisionId,
    action: Action,
    first_step: JobStep,
}

#[derive(Clone, Debug, Default)]
struct Batch {
    started: u32,
    succeeded: u32,
    rolled_back: u32,
    failed: u32,
    abandoned: u32,
}

/// What jobs need only while this process runs. Everything a restart needs (the
/// author, retry times, unanswered steps, reapplies, verification cooldowns,
/// switchover follow-ups) is in the durable state instead.
#[derive(Default)]
pub struct JobRuntime {
    /// Volatile: rebuilt from `Durable::queued` at a restart (`reconcile_after_restart`).
    queued: VecDeque<WaitingJob>,
    /// Volatile: job starts held back within one planning round (never across inputs).
    deferred: Vec<Output>,
    defer: bool,
    /// Volatile: counts for the "batch finished" notification; after a restart the
    /// recovered jobs start a new batch (the notification says so in its counts).
    batch: Option<Batch>,
}

impl JobRuntime {
    pub fn queued_len(&self) -> usize {
        self.queued.len()
    }

    pub fn queued_services(&self) -> impl Iterator<Item = ServiceId> + '_ {
        self.queued.iter().filter_map(|q| q.action.service())
    }

    pub fn check_invariants(&self, engine: &Engine) -> Result<(), String> {
        if self.queued.len() > QUEUED_JOBS_MAX {
            return Err("job queue over its bound".into());
        }
        for state in engine.durable.jobs.values() {
            if self.queued.iter().any(|q| q.job == state.id) {
                return Err(format!("job {} is both queued and running", state.id.0));
            }
        }
        Ok(())
    }
}

impl Engine {
    /// Creates a job for an allowed decision; it starts when its hook has capacity.
    pub(crate) fn create_job(
        &mut self,
        now_ms: TimeMs,
        decision: DecisionId,
        job: JobId,
        action: Action,
        first_step: JobStep,
        author: Option<String>,
    ) {
        if self.jobs.queued.len() >= QUEUED_JOBS_MAX {
            // Unreachable with sane budgets; refuse rather than grow without bound.
            return;
        }
        let named = self.snapshot.name_action(&action);
        self.record(now_ms, JournalEvent::JobQueued { job, decision, action: named, first_step, author });
        self.jobs.batch.get_or_insert_with(Batch::default).started += 1;
        self.jobs.queued.push_back(WaitingJob { job, decision, action, first_step });
    }

    /// A service's moves run through its actuator; maintenance through the hook
    /// named after its operation (checked when the rollout is accepted).
    fn hook_of(&self, action: &Action) -> HookId {
        match action {
            Action::Maintain { operation, .. } => self.snapshot.hook_id(operation).unwrap_or(HookId(0)),
            Action::Repair { node, .. } => self.snapshot.node(*node).replication.as_ref().and_then(|r| r.repair).unwrap_or(HookId(0)),
            other => other.service().map(|s| self.snapshot.service(s).actuator).unwrap_or(HookId(0)),
        }
    }

    fn running_on_hook(&self, hook: HookId) -> u32 {
        self.durable
            .jobs
            .values()
            .filter(|j| j.step_result.is_none() && !self.is_moot_fence(&j.action))
            .filter_map(|j| self.snapshot.resolve_action(&j.action))
            .filter(|a| self.hook_of(a) == hook)
            .count() as u32
    }

    pub(crate) fn start_queued_jobs(&mut self, now_ms: TimeMs) {
        let mut waiting = VecDeque::new();
        let mut running: BTreeMap<HookId, u32> = BTreeMap::new();
        while let Some(queued) = self.jobs.queued.pop_front() {
            let hook = self.hook_of(&queued.action);
            let count = match running.get(&hook) {
                Some(c) => *c,
                None => self.running_on_hook(hook),
            };
            let capacity = self.snapshot.hook(hook).parallel_max.max(1);
            if count < capacity {
                running.insert(hook, count + 1);
                self.start_step(now_ms, queued.job, queued.decision, &queued.action, queued.first_step, 1);
            } else {
                running.insert(hook, count);
                waiting.push_back(queued);
            }
        }
        self.jobs.queued = waiting;
    }

    /// Journals the step's intent (with the job's own action), then asks the shell
    /// to run it: the job's action, or for a rollback its concrete undo.
    pub(crate) fn start_step(&mut self, now_ms: TimeMs, job: JobId, decision: DecisionId, action: &Action, step: JobStep, attempt: u32) {
        let carry_out = match step {
            JobStep::Rollback => match action.rollback() {
                Some(undo) => undo,
                None => {
                    let what = self.describe(action);
                    self.finish_job(now_ms, job, JobEnd::Failed, format!("{what} has no undo; nothing was rolled back"));
                    return;
                }
            },
            // After a rollback whose answer was lost, what is verified is the undo's
            // destination: did the rollback land?
            JobStep::Verify if self.durable.jobs.get(&job).is_some_and(|j| j.unanswered_rollback) => {
                action.rollback().unwrap_or_else(|| action.clone())
            }
            JobStep::Preview | JobStep::Apply | JobStep::Verify => action.clone(),
        };
        let fencing_token = self.durable.starts;
        self.record(
            now_ms,
            JournalEvent::JobIntent { job, decision, action: self.snapshot.name_action(action), step, attempt, fencing_token },
        );
        let hook = self.hook_of(action);
        let timeout_ms =
            self.snapshot.hook(hook).timeout_ms.max(1).min(self.snapshot.policy().job_timeout_ms.max(self.snapshot.hook(hook).timeout_ms));
        let timeout_ms = self.fence_deadline_within_lease(now_ms, action, step).map_or(timeout_ms, |lease_ms| timeout_ms.min(lease_ms));
        let named = self.snapshot.name_action(&carry_out);
        let request = JobRequest { job, step, action: carry_out, named, hook, attempt, deadline_ms: now_ms + timeout_ms, fencing_token };
        if self.jobs.defer {
            self.jobs.deferred.push(Output::StartJob(request));
        } else {
            self.outputs.push_back(Output::StartJob(request));
        }
    }

    /// During a planning round, job starts wait until the round's notifications are
    /// out: people hear about an unexpected action before it runs (seed 002).
    pub(crate) fn defer_starts(&mut self) {
        self.jobs.defer = true;
    }

    pub(crate) fn flush_deferred_starts(&mut self) {
        self.jobs.defer = false;
        let deferred = std::mem::take(&mut self.jobs.deferred);
        self.outputs.extend(deferred);
    }

    pub(crate) fn on_job_outcome(&mut self, now_ms: TimeMs, outcome: JobOutcome) {
        let Some(state) = self.durable.jobs.get(&outcome.job) else { return };
        if state.step != outcome.step || state.step_result.is_some() {
            return; // A late answer for a step already settled (e.g. by its deadline).
        }
        let (decision, attempt, named) = (state.decision, state.attempt, state.action.clone());
        self.record(
            now_ms,
            JournalEvent::JobStepDone {
                job: outcome.job,
                step: outcome.step,
                ok: outcome.ok,
                message: outcome.message.clone(),
                answered: true,
            },
        );
        let Some(action) = self.snapshot.resolve_action(&named) else {
            self.finish_job(
                now_ms,
                outcome.job,
                JobEnd::Abandoned,
                format!("{} no longer resolves against the inventory in force", named.kind()),
            );
            return;
        };
        self.advance_job(now_ms, outcome.job, decision, action, outcome.step, outcome.ok, attempt, outcome.message, outcome.preview);
    }

    #[allow(clippy::too_many_arguments)]
    fn advance_job(
        &mut self,
        now_ms: TimeMs,
        job: JobId,
        decision: DecisionId,
        action: Action,
        step: JobStep,
        ok: bool,
        attempt: u32,
        message: String,
        preview: Option<crate::action::SyncPreview>,
    ) {
        let what = self.describe(&action);
        let unanswered = self.durable.jobs.get(&job).map(Unanswered::of).unwrap_or_default();
        match (step, ok) {
            (JobStep::Preview, true) if Self::approved_preview(&action).is_some() => {
                self.recheck_approved_preview(now_ms, job, decision, &action, preview.unwrap_or_default());
            }
            (JobStep::Preview, true) => {
                let author = self.durable.jobs.get(&job).and_then(|j| j.author.clone()).unwrap_or_else(|| "operator".into());
                self.finish_job(now_ms, job, JobEnd::Succeeded, format!("previewed {what}"));
                if let (Action::Sync { service, from, to, .. }, Some(preview)) = (&action, preview) {
                    let sync = Action::Sync { service: *service, from: *from, to: *to, preview };
                    let _ = self.decide_operator_action(now_ms, sync, author, false);
                }
            }
            (JobStep::Preview, false) => self.finish_job(now_ms, job, JobEnd::Failed, format!("could not preview {what}: {message}")),
            (JobStep::Apply, true) => {
                self.record_placement_after(now_ms, &action, false);
                let verify = self.mode == Mode::Guarded && self.needs_verification(&action);
                if verify {
                    self.start_step(now_ms, job, decision, &action, JobStep::Verify, 1);
                } else {
                    self.finish_job(now_ms, job, JobEnd::Succeeded, format!("{what} done"));
                }
            }
            (JobStep::Apply, false) => {
                let retries = self.snapshot.hook(self.hook_of(&action)).retries;
                if attempt <= retries {
                    let backoff_ms = 1_000u64 << attempt.min(6);
                    self.record(now_ms, JournalEvent::JobRetry { job, at_ms: now_ms.saturating_add(backoff_ms) });
                } else {
                    self.finish_job(now_ms, job, JobEnd::Failed, format!("{what} failed after {attempt} attempt(s): {message}"));
                    if let Action::Repair { node, .. } = &action {
                        self.on_repair_failed(now_ms, *node, &message);
                    } else {
                        self.alert_job_failure(now_ms, &action, format!("{what} failed: {message}"));
                    }
                }
            }
            (JobStep::Verify, true) if unanswered.rollback => {
                // The rollback's answer was lost, but it landed: believe the old holder again.
                if let Some(undo) = action.rollback() {
                    self.record_placement_after(now_ms, &undo, true);
                }
                self.finish_job(
                    now_ms,
                    job,
                    JobEnd::RolledBack,
                    format!("{what} was rolled back (its answer was lost; verified it landed)"),
                );
            }
            (JobStep::Verify, true) => {
                if unanswered.apply {
                    // The unanswered apply did happen: believe the new placement now.
                    self.record_placement_after(now_ms, &action, false);
                }
                self.finish_job(now_ms, job, JobEnd::Succeeded, format!("{what} done and verified"))
            }
            (JobStep::Verify, false) if unanswered.rollback => {
                // Neither holder can be believed: the apply landed (it was verified or
                // answered), the rollback's answer was lost and its destination does
                // not serve. Keep the apply's placement and ask a person.
                let sentence = format!(
                    "rolling back {what} got no answer and the old holder does not serve ({message}); where the service is now is uncertain"
                );
                self.finish_job(now_ms, job, JobEnd::Failed, sentence.clone());
                self.alert_job_failure(now_ms, &action, format!("{sentence}. A person must look now."));
            }
            (JobStep::Verify, false) if unanswered.apply => {
                // The unanswered apply did not take effect: apply again (a new fencing
                // token, so the old call cannot land after it), within the retry budget.
                let retries = self.snapshot.hook(self.hook_of(&action)).retries;
                if unanswered.reapplied < retries + 1 {
                    self.start_step(now_ms, job, decision, &action, JobStep::Apply, attempt + 1);
                } else {
                    self.finish_job(now_ms, job, JobEnd::Failed, format!("{what} never took effect after {attempt} attempt(s)"));
                    self.alert_job_failure(now_ms, &action, format!("{what} never took effect: {message}"));
                }
            }
            (JobStep::Verify, false) => self.on_verify_failed(now_ms, job, decision, action, what, message),
            (JobStep::Rollback, true) => {
                if let Some(undo) = action.rollback() {
                    self.record_placement_after(now_ms, &undo, true);
                }
                self.finish_job(now_ms, job, JobEnd::RolledBack, format!("{what} failed verification and was rolled back"));
            }
            (JobStep::Rollback, false) if unanswered.rollback => {
                // It may or may not have landed: verify the old holder before believing either.
                self.start_step(now_ms, job, decision, &action, JobStep::Verify, attempt + 1);
            }
            (JobStep::Rollback, false) => {
                self.finish_job(now_ms, job, JobEnd::Failed, format!("rolling back {what} failed: {message}"));
                self.alert_job_failure(now_ms, &action, format!("Rolling back {what} failed: {message}. A person must look now."));
            }
        }
    }

    fn on_verify_failed(&mut self, now_ms: TimeMs, job: JobId, decision: DecisionId, action: Action, what: String, message: String) {
        // The destinations' cooldown is durable: the fold of the failed verification sets it.
        match action.rollback() {
            Some(_) => {
                self.alert_job_failure(now_ms, &action, format!("Verification after {what} failed ({message}); rolling back."));
                self.start_step(now_ms, job, decision, &action, JobStep::Rollback, 1);
            }
            None => {
                self.finish_job(now_ms, job, JobEnd::Failed, format!("{what} failed verification ({message}) and cannot be rolled back"));
                self.alert_job_failure(
                    now_ms,
                    &action,
                    format!("{what} failed verification ({message}) and cannot be rolled back. A person must look now."),
                );
            }
        }
        self.halt_rollouts_on_failure(now_ms, &what);
    }

    fn needs_verification(&self, action: &Action) -> bool {
        match action {
            Action::Maintain { .. } => true,
            // A repair's hook waits until replication runs again; the probes confirm it.
            Action::Fence { .. } | Action::Sync { .. } | Action::Repair { .. } => false,
            other => other.service().is_some_and(|s| !self.snapshot.service(s).verify.is_empty()),
        }
    }

    /// After an applied move (or its rollback), the engine believes the new placement.
    fn record_placement_after(&mut self, now_ms: TimeMs, action: &Action, _rollback: bool) {
        let holders: Option<(ServiceId, Vec<NodeId>)> = match action {
            Action::MoveVip { service, to, .. } | Action::Promote { service, to, .. } => Some((*service, vec![*to])),
            Action::SetDnsTargets { service, to, .. } => Some((*service, to.clone())),
            _ => None,
        };
        if let Some((service, holders)) = holders {
            let names = holders.iter().map(|n| self.snapshot.node_name(*n).to_string()).collect();
            self.record(now_ms, JournalEvent::Placement { service: self.snapshot.service_name(service).to_string(), holders: names });
        }
    }

    pub(crate) fn finish_job(&mut self, now_ms: TimeMs, job: JobId, end: JobEnd, sentence: String) {
        // Read before the record: finishing the fence ends the switchover's durable entry.
        let (rollout, switchover) = match self.durable.jobs.get(&job).map(|j| &j.action) {
            Some(NamedAction::Maintain { rollout, batch, .. }) => (Some((*rollout, *batch)), None),
            Some(NamedAction::Fence { service, .. }) => {
                (None, self.durable.switchovers.get(service).map(|(to, author)| (service.clone(), to.clone(), author.clone())))
            }
            _ => (None, None),
        };
        self.record(now_ms, JournalEvent::JobFinished { job, end, sentence: sentence.clone() });
        if let Some((rollout, batch)) = rollout {
            self.on_maintenance_end(now_ms, rollout, batch, end == JobEnd::Succeeded, &sentence);
        }
        self.continue_switchover(now_ms, switchover, end);
        if let Some(batch) = self.jobs.batch.as_mut() {
            match end {
                JobEnd::Succeeded => batch.succeeded += 1,
                JobEnd::RolledBack => batch.rolled_back += 1,
                JobEnd::Failed => batch.failed += 1,
                JobEnd::Abandoned => batch.abandoned += 1,
            }
        }
        if self.durable.jobs.is_empty() && self.jobs.queued.is_empty() {
            if let Some(batch) = self.jobs.batch.take() {
                if batch.started > 1 && self.mode == Mode::Guarded || self.mode == Mode::Naive {
                    let sentence = format!(
                        "Batch finished: {} job(s): {} succeeded, {} rolled back, {} failed, {} abandoned.",
                        batch.started, batch.succeeded, batch.rolled_back, batch.failed, batch.abandoned
                    );
                    let severity = if batch.failed + batch.rolled_back > 0 { Severity::Warning } else { Severity::Info };
                    self.send_to_routes(now_ms, None, "batch", severity, &sentence, &[], 0);
                }
            }
        }
    }

    /// An operator's switchover fenced the old primary; now promote the chosen node.
    fn continue_switchover(&mut self, now_ms: TimeMs, switchover: Option<(String, String, String)>, end: JobEnd) {
        let Some((service, to, author)) = switchover else { return };
        if end != JobEnd::Succeeded {
            return;
        }
        let (Some(id), Some(to)) = (self.snapshot.service_id(&service), self.snapshot.node_id(&to)) else { return };
        let from = self.placement(id).first().copied();
        let _ = self.decide_operator_action(now_ms, Action::Promote { service: id, from, to }, author, false);
    }

    /// The preview an approved sync carries: a sync's first preview starts from an
    /// empty one, so a job whose sync already carries a preview is the approved
    /// action, previewed again right before it runs.
    fn approved_preview(action: &Action) -> Option<&crate::action::SyncPreview> {
        match action {
            Action::Sync { preview, .. } if *preview != crate::action::SyncPreview::default() => Some(preview),
            _ => None,
        }
    }

    /// Runs an approved sync only if its fresh preview deletes no more than the
    /// approved one; otherwise the job ends and a refused decision says why.
    fn recheck_approved_preview(
        &mut self,
        now_ms: TimeMs,
        job: JobId,
        decision: DecisionId,
        action: &Action,
        fresh: crate::action::SyncPreview,
    ) {
        let (Action::Sync { service, from, to, .. }, Some(approved)) = (action, Self::approved_preview(action)) else { return };
        let (from_name, to_name) = (self.snapshot.node_name(*from).to_string(), self.snapshot.node_name(*to).to_string());
        let Some(sentence) = crate::guards::destructive_preview::regrown(&from_name, &to_name, approved, &fresh) else {
            return self.start_step(now_ms, job, decision, action, JobStep::Apply, 1);
        };
        let author = self.durable.jobs.get(&job).and_then(|j| j.author.clone()).unwrap_or_else(|| "operator".into());
        self.finish_job(now_ms, job, JobEnd::Abandoned, sentence.clone());
        let fresh_action = Action::Sync { service: *service, from: *from, to: *to, preview: fresh };
        let verdict = crate::action::Verdict::combine(vec![crate::action::GuardVerdict::refuse(
            crate::guards::destructive_preview::NAME,
            sentence.clone(),
        )]);
        let refused = DecisionId(self.durable.next_decision);
        let named = self.snapshot.name_action(&fresh_action);
        let evidence = self.evidence(now_ms, &fresh_action);
        self.record(
            now_ms,
            JournalEvent::Decision {
                decision: refused,
                action: named,
                cause: format!("{author} asked for it (approved decision {})", decision.0),
                summary: "previewed again before running".into(),
                evidence,
                verdict,
                job: None,
            },
        );
        let routes = self.service_routes(*service);
        let cause = format!("job:{}", self.snapshot.service_name(*service));
        self.raise_event(now_ms, &cause, Severity::Page, sentence, &routes);
    }

    fn alert_job_failure(&mut self, now_ms: TimeMs, action: &Action, sentence: String) {
        let backoff = action
            .service()
            .and_then(|s| crate::guards::failure_backoff::FailureStreak::of(&self.durable, self.snapshot.service_name(s)))
            .filter(|streak| streak.retry_at_ms() > now_ms)
            .map(|streak| {
                format!(
                    " {} failure(s) in a row: Ward tries again on its own in {}.",
                    streak.failures,
                    human_duration(streak.retry_at_ms() - now_ms)
                )
            })
            .unwrap_or_default();
        let sentence = format!("{sentence}{backoff}");
        let (cause, routes) = match action.service() {
            Some(service) => (format!("job:{}", self.snapshot.service_name(service)), self.service_routes(service)),
            None => ("job:maintenance".to_string(), Vec::new()),
        };
        self.raise_event(now_ms, &cause, Severity::Page, sentence, &routes);
    }

    /// When `check_job_deadlines` calls each running step failed (the first
    /// millisecond past its deadline and grace), and when each retry is due.
    pub(crate) fn job_wake_times(&self) -> impl Iterator<Item = TimeMs> + '_ {
        let steps = self.durable.jobs.values().filter(|state| state.step_result.is_none()).filter_map(|state| {
            let action = self.snapshot.resolve_action(&state.action)?;
            let hook = self.snapshot.hook(self.hook_of(&action));
            Some(state.step_started_ms + hook.timeout_ms.max(1) + DEADLINE_GRACE_MS + 1)
        });
        steps.chain(self.durable.jobs.values().filter_map(|state| state.retry_at))
    }

    /// Steps past their deadline are failures; a timed-out apply is verified, never
    /// blindly repeated (it may have happened).
    pub(crate) fn check_job_deadlines(&mut self, now_ms: TimeMs) {
        let mut expired = Vec::new();
        for state in self.durable.jobs.values() {
            if state.step_result.is_some() {
                continue;
            }
            let Some(action) = self.snapshot.resolve_action(&state.action) else { continue };
            let hook = self.snapshot.hook(self.hook_of(&action));
            let deadline = state.step_started_ms + hook.timeout_ms.max(1) + DEADLINE_GRACE_MS;
            if now_ms > deadline {
                expired.push((state.id, state.decision, state.step, state.attempt, action, now_ms - state.step_started_ms));
            }
        }
        for (job, decision, step, attempt, action, waited_ms) in expired {
            let message = format!("no answer within {}", human_duration(waited_ms));
            self.record(now_ms, JournalEvent::JobStepDone { job, step, ok: false, message: message.clone(), answered: false });
            if step == JobStep::Apply && matches!(action, Action::Repair { .. }) {
                // A repair is not verified by a step: the probes will show whether
                // replication runs again. Unanswered counts as failed (no retry
                // within the cooldown; the alert stays).
                let what = self.describe(&action);
                self.finish_job(now_ms, job, JobEnd::Failed, format!("{what} got no answer: {message}"));
                if let Action::Repair { node, .. } = &action {
                    self.on_repair_failed(now_ms, *node, &message);
                }
            } else if step == JobStep::Apply {
                // It may or may not have happened: verify before anything else.
                self.start_step(now_ms, job, decision, &action, JobStep::Verify, attempt + 1);
            } else {
                self.advance_job(now_ms, job, decision, action, step, false, attempt, message, None);
            }
        }
        let due: Vec<JobId> = self.durable.jobs.values().filter(|j| j.retry_at.is_some_and(|at| at <= now_ms)).map(|j| j.id).collect();
        for job in due {
            let Some(state) = self.durable.jobs.get(&job) else { continue };
            let (decision, attempt, named) = (state.decision, state.attempt, state.action.clone());
            if let Some(action) = self.snapshot.resolve_action(&named) {
                self.start_step(now_ms, job, decision, &action, JobStep::Apply, attempt + 1);
            }
        }
    }

    /// After a restart: every job not finished is reconciled. A step that was in
    /// flight is verified first (did it happen?), never repeated blindly; undelivered
    /// notifications are sent again.
    pub(crate) fn reconcile_after_restart(&mut self, now_ms: TimeMs) {
        // Jobs decided but never started run as decided; nothing asks again.
        let queued: Vec<_> = self.durable.queued.iter().map(|(job, q)| (*job, q.decision, q.action.clone(), q.first_step)).collect();
        for (job, decision, named, first_step) in queued {
            match self.snapshot.resolve_action(&named) {
                Some(action) => {
                    self.jobs.batch.get_or_insert_with(Batch::default).started += 1;
                    self.jobs.queued.push_back(WaitingJob { job, decision, action, first_step });
                }
                None => self.finish_job(
                    now_ms,
                    job,
                    JobEnd::Abandoned,
                    "the job's nodes or service left the inventory during the restart".into(),
                ),
            }
        }
        let jobs: Vec<_> = self.durable.jobs.values().cloned().collect();
        for state in jobs {
            let Some(action) = self.snapshot.resolve_action(&state.action) else {
                self.finish_job(
                    now_ms,
                    state.id,
                    JobEnd::Abandoned,
                    "the job's nodes or service left the inventory during the restart".into(),
                );
                continue;
            };
            self.jobs.batch.get_or_insert_with(Batch::default).started += 1;
            match (state.step, state.step_result) {
                (JobStep::Preview, _) => self.start_step(now_ms, state.id, state.decision, &action, JobStep::Preview, state.attempt + 1),
                // The call may still be running in the actuator: let its deadline pass,
                // then verify (`check_job_deadlines`), so the answer is not a guess.
                (JobStep::Apply, None) | (JobStep::Rollback, None) => {}
                (JobStep::Verify, _) => self.start_step(now_ms, state.id, state.decision, &action, JobStep::Verify, state.attempt + 1),
                (JobStep::Apply, Some(true)) if !self.needs_verification(&action) => {
                    self.finish_job(now_ms, state.id, JobEnd::Succeeded, format!("{} done", self.describe(&action)))
                }
                (JobStep::Apply, Some(true)) => self.start_step(now_ms, state.id, state.decision, &action, JobStep::Verify, 1),
                (JobStep::Apply, Some(false)) => self.finish_job(
                    now_ms,
                    state.id,
                    JobEnd::Failed,
                    format!("{} failed before the restart: {}", self.describe(&action), state.last_message),
                ),
                (JobStep::Rollback, Some(true)) => {
                    if let Some(undo) = action.rollback() {
                        self.record_placement_after(now_ms, &undo, true);
                    }
                    let what = self.describe(&action);
                    self.finish_job(now_ms, state.id, JobEnd::RolledBack, format!("{what} failed verification and was rolled back"));
                }
                (JobStep::Rollback, Some(false)) => {
                    self.start_step(now_ms, state.id, state.decision, &action, JobStep::Rollback, state.attempt + 1)
                }
            }
        }
        let undelivered: Vec<_> = self.durable.undelivered.values().cloned().collect();
        for notification in undelivered {
            self.outputs.push_back(Output::Notify(notification));
        }
    }

    /// A recovered job whose apply never took effect is abandoned (the planner decides
    /// afresh) instead of rolled back: there is nothing to undo.
    pub(crate) fn describe(&self, action: &Action) -> String {
        let named = self.snapshot.name_action(action);
        let service = named.service_ref().cloned().unwrap_or_default();
        let (from, to) = (list(&named.from_nodes()), list(&named.to_nodes()));
        match &named {
            NamedAction::MoveVip { .. } => format!("moving {service} from {from} to {to}"),
            NamedAction::SetDnsTargets { from, to, .. } => {
                format!("setting {service} targets to [{}] (was [{}])", to.join(", "), from.join(", "))
            }
            NamedAction::Fence { node, .. } => format!("fencing {node} for {service}"),
            NamedAction::Unfence { node, .. } => format!("unfencing {node} for {service}"),
            NamedAction::Promote { .. } => format!("promoting {to} to primary of {service} (was {from})"),
            NamedAction::Sync { .. } => format!("syncing {service} from {from} to {to} ({})", named.detail()),
            NamedAction::Maintain { nodes, .. } => format!("{} on {}", named.detail(), nodes.join(", ")),
            NamedAction::Repair { node, operation: RepairOperation::RestartReplication } => format!("restarting replication on {node}"),
            NamedAction::FailoverSite { site, services, .. } => {
                format!("failing over {} out of site {site}", services.join(", "))
            }
        }
    }

    pub(crate) fn cause_author(cause: &Cause) -> Option<String> {
        match cause {
            Cause::Operator { author } => Some(author.clone()),
            _ => None,
        }
    }
}

/// Which of a job's steps went unanswered (from the durable state).
#[derive(Clone, Copy, Default)]
struct Unanswered {
    apply: bool,
    rollback: bool,
    reapplied: u32,
}

impl Unanswered {
    fn of(state: &crate::state::JobState) -> Unanswered {
        Unanswered { apply: state.unanswered_apply, rollback: state.unanswered_rollback, reapplied: state.reapplied }
    }
}

fn list(names: &[&String]) -> String {
    if names.is_empty() {
        "nowhere".into()
    } else {
        names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
    }
}
