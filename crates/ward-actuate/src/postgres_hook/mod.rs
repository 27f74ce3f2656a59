//! The built-in PostgreSQL actuator (`kind = "postgres"`): fences an old primary,
//! promotes a standby without losing acknowledged writes, and repoints the other
//! standbys, all over SQL with tokio-postgres (no TLS).
//!
//! - `fence.rs`: `Action::Fence` per the service's `fence` mode, and the
//!   confirmation rule (read-only, or connection refused; a timeout proves nothing).
//! - `promote.rs`: `Action::Promote` (replay wait, `pg_promote`, evidence).
//! - `repoint.rs`: the other standbys follow the new primary.
//! - `server.rs`: DSN per node, bounded connections and queries, errors as sentences.
//! - `conninfo.rs`, `lsn.rs`: pure helpers.
//!
//! The DSN's role needs superuser rights (or the grants for `ALTER SYSTEM`,
//! `pg_promote`, `pg_terminate_backend` and replication slots). Every connection and
//! query ends by the step's deadline and the hook's timeout, whichever is first.

mod conninfo;
mod fence;
mod lsn;
mod promote;
mod repoint;
mod server;

use std::time::Duration;

use tokio::time::Instant;
use ward_core::action::NamedAction;
use ward_core::engine::JobRequest;
use ward_core::inventory::{Hook, Node, Service, Snapshot};
use ward_core::journal::JobStep;

use crate::step::StepResult;
use crate::wire::StepPayload;

/// What every operation needs: the hook's settings, the inventory in force (node
/// addresses, the service's fence mode and candidates) and the time limit.
pub(crate) struct Job<'a> {
    dsn: &'a str,
    fence_command: Option<&'a [String]>,
    snapshot: &'a Snapshot,
    payload: &'a StepPayload,
    /// The step's deadline or the hook's timeout, whichever comes first.
    until: Instant,
}

impl Job<'_> {
    /// A quarter of the time left: what probing a node that may be dead may take.
    fn quarter_of_the_time_left(&self) -> Instant {
        Instant::now() + self.until.saturating_duration_since(Instant::now()) / 4
    }

    fn node(&self, name: &str) -> Result<&Node, String> {
        self.snapshot.node_id(name).map(|id| self.snapshot.node(id)).ok_or_else(|| {
            format!("node {name} is not in inventory {} (renamed or removed since the job was decided)", self.snapshot.short_hash())
        })
    }

    fn service(&self, name: Option<&str>) -> Result<&Service, String> {
        let name = name.ok_or("the action names no service")?;
        self.snapshot
            .service_id(name)
            .map(|id| self.snapshot.service(id))
            .ok_or_else(|| format!("service {name} is not in inventory {}", self.snapshot.short_hash()))
    }
}

/// Runs one step of `request` (apply, or rollback of a read-only fence).
pub(crate) async fn run(
    hook: &Hook,
    dsn: &str,
    fence_command: Option<&[String]>,
    request: &JobRequest,
    payload: &StepPayload,
    snapshot: &Snapshot,
    deadline: Instant,
) -> StepResult {
    let until = deadline.min(Instant::now() + Duration::from_millis(hook.timeout_ms.max(1)));
    let job = Job { dsn, fence_command, snapshot, payload, until };
    match dispatch(&job, request).await {
        Ok(result) => result,
        Err(message) => StepResult::failed(message),
    }
}

async fn dispatch(job: &Job<'_>, request: &JobRequest) -> Result<StepResult, String> {
    match (request.step, &request.named) {
        (JobStep::Apply, NamedAction::Fence { service, node }) => {
            let service = job.service(Some(service))?;
            Ok(fence::fence(job, job.node(node)?, service.fence).await)
        }
        (JobStep::Apply, NamedAction::Promote { service, from, to }) => {
            let service = job.service(Some(service))?;
            let to = job.node(to)?;
            let from = match from {
                Some(name) => Some(job.node(name)?),
                None => None,
            };
            Ok(promote::promote(job, service, from, to).await)
        }
        // The undo of a fence (the engine sends it as the rollback step's action).
        (JobStep::Apply | JobStep::Rollback, NamedAction::Unfence { service, node }) => {
            let service = job.service(Some(service))?;
            Ok(fence::unfence(job, job.node(node)?, service.fence).await)
        }
        (JobStep::Preview, other) => Err(format!("a postgres hook has nothing to preview for {}", other.kind())),
        (_, other) => Err(format!(
            "a postgres hook fences and promotes PostgreSQL servers; it cannot carry out {} {} (give that service an exec or http hook)",
            request.step.name(),
            other.kind()
        )),
    }
}
