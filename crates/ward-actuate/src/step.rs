//! One job step through one hook: the entry point the daemon calls for
//! `Output::StartJob`. Apply, rollback and preview go to the hook; verify does not
//! (the daemon verifies with the service's own probes, end to end, seed 004).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;
use ward_core::action::SyncPreview;
use ward_core::engine::{JobOutcome, JobRequest};
use ward_core::inventory::{Hook, HookKind, Snapshot};
use ward_core::journal::JobStep;

use crate::wire::StepPayload;
use crate::{exec_hook, haproxy_hook, http_hook, mysql_hook, postgres_hook};

/// What a step needs to know about the process running it. Kept minimal on purpose.
#[derive(Clone, Debug)]
pub struct StepContext {
    /// This controller's identity, passed to hooks (`controller`, `WARD_CONTROLLER`,
    /// `X-Ward-Controller`) so their logs say who acted.
    pub controller: String,
    /// The inventory in force: the built-in hooks read node addresses, the service's
    /// fence mode and its other candidates from it (by name: the step's ids may
    /// belong to an older snapshot).
    pub snapshot: Arc<Snapshot>,
}

/// What a hook module reports back; `run_step` adds the job and step.
pub(crate) struct StepResult {
    pub ok: bool,
    pub message: String,
    pub preview: Option<SyncPreview>,
}

impl StepResult {
    pub fn failed(message: impl Into<String>) -> StepResult {
        StepResult { ok: false, message: message.into(), preview: None }
    }
}

/// Runs one step of a job through `hook` and says how it went. Never panics and
/// never outlives `request.deadline_ms` (read against the system clock: the daemon's
/// epoch is the Unix epoch) nor `hook.timeout_ms`.
pub async fn run_step(hook: &Hook, request: &JobRequest, ctx: &StepContext, client: &reqwest::Client) -> JobOutcome {
    let result = run(hook, request, ctx, client).await;
    let message = format!("hook {}: {}", hook.name, result.message);
    JobOutcome { job: request.job, step: request.step, ok: result.ok, message, preview: result.preview }
}

async fn run(hook: &Hook, request: &JobRequest, ctx: &StepContext, client: &reqwest::Client) -> StepResult {
    // A rollback arrives as its concrete undo (the core's `ActionOf::rollback`):
    // every hook carries out exactly the action it receives. Anything else under a
    // rollback step is refused before a hook runs.
    if request.step == JobStep::Rollback && !request.named.is_undo() {
        return StepResult::failed(format!(
            "{} cannot be rolled back (a rollback carries the undo: a move back to a previous holder, a target set or an unfence)",
            request.named.kind()
        ));
    }
    if let HookKind::Postgres { dsn, fence_command } = &hook.kind {
        if request.step == JobStep::Verify {
            return StepResult::failed("verify is not a hook step: the daemon verifies with the service's probes");
        }
        let Some(deadline) = deadline_of(request) else {
            return StepResult::failed("the step's deadline had passed before it could start");
        };
        let payload = StepPayload::new(request, &request.named, &ctx.controller);
        return postgres_hook::run(hook, dsn, fence_command.as_deref(), request, &payload, &ctx.snapshot, deadline).await;
    }
    if let HookKind::Mysql { dsn } = &hook.kind {
        if request.step == JobStep::Verify {
            return StepResult::failed("verify is not a hook step: the daemon verifies with the service's probes");
        }
        let Some(deadline) = deadline_of(request) else {
            return StepResult::failed("the step's deadline had passed before it could start");
        };
        return mysql_hook::run(hook, dsn, &request.named, request.step, &ctx.snapshot, deadline).await;
    }
    if request.step == JobStep::Verify {
        return StepResult::failed("verify is not a hook step: the daemon verifies with the service's probes");
    }
    let named = &request.named;
    let Some(deadline) = deadline_of(request) else {
        return StepResult::failed("the step's deadline had passed before it could start");
    };
    let payload = StepPayload::new(request, named, &ctx.controller);
    match &hook.kind {
        HookKind::Exec { command } => exec_hook::run(hook, command, &payload, deadline).await,
        HookKind::Http { url } => http_hook::run(hook, url, &payload, deadline, client).await,
        HookKind::Haproxy { socket, backend } => haproxy_hook::run(hook, socket, backend, named, request.step, deadline).await,
        HookKind::Postgres { .. } | HookKind::Mysql { .. } => {
            StepResult::failed("internal error: postgres and mysql hooks are dispatched above")
        }
    }
}

/// `request.deadline_ms` (Unix ms) as an `Instant`; `None` once it has passed.
fn deadline_of(request: &JobRequest) -> Option<Instant> {
    let remaining_ms = request.deadline_ms.saturating_sub(now_unix_ms());
    (remaining_ms > 0).then(|| Instant::now() + Duration::from_millis(remaining_ms))
}

/// The time one try may take: the hook's own limit, never past the step's deadline.
pub(crate) fn attempt_timeout(hook: &Hook, deadline: Instant) -> Duration {
    Duration::from_millis(hook.timeout_ms.max(1)).min(deadline.saturating_duration_since(Instant::now()))
}

fn now_unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
