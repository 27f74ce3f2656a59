//! `Action::Fence` on a PostgreSQL node, and its undo.
//!
//! **Confirmation rule.** A fence is confirmed when the server answered and is
//! read-only (`default_transaction_read_only = on`, seen from a new session, or the
//! server is in recovery), or when the connection was *refused*: nothing listens on
//! that address, so the process is gone. A timeout or any other error proves
//! nothing (a frozen server can come back writable), so the step fails saying the
//! fence is not confirmed; the engine's single-writer guard then asks a person to
//! approve before anything is promoted. Never two writable primaries.
//!
//! - `fence = "read_only"`: `ALTER SYSTEM SET default_transaction_read_only = on`,
//!   reload, confirm from a new session, then end every other client session (they
//!   may have started their transaction before the reload) and report the WAL
//!   position at that moment. A client that explicitly asks for a read-write
//!   transaction can still write: read-only fencing keeps well-behaved applications
//!   off the old primary; use `stop` where that is not enough.
//! - `fence = "stop"` / `"hook"`: run the hook's `fence_command` (no shell, own
//!   process group, killed at the time limit), then confirm as above, polling until
//!   the server is gone or read-only.

use std::time::Duration;

use tokio::time::Instant;
use ward_core::inventory::{render_target, AddressForm, FenceMode, Node};
use ward_core::time::human_duration;

use super::lsn::Lsn;
use super::server::{Server, Session, Unreachable};
use super::Job;
use crate::process::{self, describe_status, Ending, Invocation};
use crate::step::StepResult;
use crate::text::last_line;
use crate::wire::OPTIONAL_HOOK_ENV;

/// How often a fence is re-checked while waiting for it to take.
const CONFIRM_POLL: Duration = Duration::from_millis(100);
/// How long backends get to exit after `pg_terminate_backend`.
const TERMINATE_WAIT_MAX_MS: i64 = 5_000;

pub(super) async fn fence(job: &Job<'_>, node: &Node, mode: FenceMode) -> StepResult {
    let server = match Server::new(job.dsn, node) {
        Ok(server) => server,
        Err(e) => return not_confirmed(&node.name, &e),
    };
    match mode {
        FenceMode::ReadOnly => read_only(job, &server).await,
        FenceMode::Stop | FenceMode::Hook => by_command(job, &server, node, mode).await,
    }
}

async fn read_only(job: &Job<'_>, server: &Server) -> StepResult {
    let session = match server.connect(job.until).await {
        Ok(session) => session,
        Err(Unreachable::Refused(e)) => return gone(server, &e, ""),
        Err(other) => return not_confirmed(&server.node, &format!("{} at {}", other.describe(), server.endpoint())),
    };
    match is_read_only(&session).await {
        Ok(Some(why)) if why == IN_RECOVERY => {
            return confirmed(format!("{} is a standby (in recovery): it accepts no writes", server.node))
        }
        Ok(_) => {}
        Err(e) => return not_confirmed(&server.node, &e),
    }
    let set = async {
        session.run("ALTER SYSTEM SET default_transaction_read_only = on").await?;
        session.one("SELECT pg_reload_conf()", &[]).await.map(drop)
    };
    if let Err(e) = set.await {
        return not_confirmed(&server.node, &e);
    }
    drop(session);
    // The postmaster applies a reload asynchronously: a new session sees it once it has.
    let checker = match until_read_only(server, job.until).await {
        Confirmation::ReadOnly(session) => session,
        Confirmation::Gone(e) => return gone(server, &e, "after default_transaction_read_only was set; "),
        Confirmation::No(why) => return not_confirmed(&server.node, &format!("default_transaction_read_only was set, but {why}")),
    };
    let wait_ms = (job.until.saturating_duration_since(Instant::now()).as_millis() as i64 / 2).clamp(1, TERMINATE_WAIT_MAX_MS);
    let ended = checker
        .one(
            "SELECT count(*), count(*) FILTER (WHERE pg_terminate_backend(pid, $1)) FROM pg_stat_activity
             WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
            &[&wait_ms],
        )
        .await
        .and_then(|row| Ok((checker.get::<i64>(&row, 0)?, checker.get::<i64>(&row, 1)?)));
    let sessions = match ended {
        Ok((found, ended)) if found == ended => format!("{ended} other client session{} ended", plural(ended)),
        Ok((found, ended)) => format!("{ended} of {found} other client sessions ended (the rest did not exit in time)"),
        Err(e) => format!("other client sessions could not be ended ({e})"),
    };
    let lsn = match checker.text("SELECT pg_current_wal_lsn()::text").await {
        Ok(text) => Lsn::parse(&text).map_or(text, |l| l.to_string()),
        Err(e) => format!("unknown ({e})"),
    };
    confirmed(format!(
        "{} fenced read-only at LSN {lsn}: default_transaction_read_only is on, seen from a new session; {sessions}",
        server.node
    ))
}

async fn by_command(job: &Job<'_>, server: &Server, node: &Node, mode: FenceMode) -> StepResult {
    let mode_name = if mode == FenceMode::Stop { "stop" } else { "hook" };
    let Some(template) = job.fence_command else {
        return not_confirmed(
            &node.name,
            &format!("the service fences with \"{mode_name}\" but the hook has no fence_command (add one, or use fence = \"read_only\")"),
        );
    };
    let argv: Vec<String> = template.iter().map(|arg| render_target(arg, &node.address, &node.name, AddressForm::Verbatim)).collect();
    let timeout = job.until.saturating_duration_since(Instant::now());
    let invocation = Invocation {
        argv: &argv,
        env: job.payload.env(),
        env_remove: OPTIONAL_HOOK_ENV,
        stdin: serde_json::to_vec(job.payload).unwrap_or_default(),
        timeout,
    };
    let program = argv.first().map_or("fence_command", String::as_str);
    let finished = match process::run(invocation).await {
        Ok(finished) => finished,
        Err(e) => return not_confirmed(&node.name, &format!("fence_command: {e}")),
    };
    let said = last_line(&finished.stderr).or_else(|| last_line(&finished.stdout));
    let said_suffix = said.as_deref().map_or(String::new(), |line| format!(": {line}"));
    match &finished.ending {
        Ending::TimedOut => {
            return not_confirmed(
                &node.name,
                &format!("{program} timed out after {} and was killed{said_suffix}", human_duration(timeout.as_millis() as u64)),
            )
        }
        Ending::Exited(status) if !status.success() => {
            return not_confirmed(&node.name, &format!("{program} failed ({}){said_suffix}", describe_status(status)))
        }
        Ending::Exited(_) => {}
    }
    let ran = format!("{program} ran{}; ", last_line(&finished.stdout).map_or(String::new(), |line| format!(" ({line})")));
    match until_read_only(server, job.until).await {
        Confirmation::Gone(e) => gone(server, &e, &ran),
        Confirmation::ReadOnly(session) => {
            let why = is_read_only(&session).await.ok().flatten().unwrap_or("read-only");
            confirmed(format!("{ran}{} still answers but is {why}: it accepts no writes", server.node))
        }
        Confirmation::No(why) => not_confirmed(&node.name, &format!("{ran}but {why}")),
    }
}

/// The undo of a read-only fence: `ALTER SYSTEM RESET default_transaction_read_only`.
/// Only run when the engine asks (today it never rolls a fence back: `rollback_of`).
pub(super) async fn unfence(job: &Job<'_>, node: &Node, mode: FenceMode) -> StepResult {
    if mode != FenceMode::ReadOnly {
        return StepResult::failed(format!("a fence by fence_command cannot be undone by Ward: start {} again by hand", node.name));
    }
    let server = match Server::new(job.dsn, node) {
        Ok(server) => server,
        Err(e) => return StepResult::failed(e),
    };
    let session = match server.connect(job.until).await {
        Ok(session) => session,
        Err(e) => {
            return StepResult::failed(format!("{} at {}: {}; it was not made writable again", node.name, server.endpoint(), e.describe()))
        }
    };
    let reset = async {
        session.run("ALTER SYSTEM RESET default_transaction_read_only").await?;
        session.one("SELECT pg_reload_conf()", &[]).await.map(drop)
    };
    if let Err(e) = reset.await {
        return StepResult::failed(format!("{e}; {} was not made writable again", node.name));
    }
    StepResult { ok: true, message: format!("{}: default_transaction_read_only reset; it accepts writes again", node.name), preview: None }
}

const IN_RECOVERY: &str = "in recovery";

/// `Some(why)` when the session's server accepts no writes.
async fn is_read_only(session: &Session) -> Result<Option<&'static str>, String> {
    let row = session.one("SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')", &[]).await?;
    let in_recovery: bool = session.get(&row, 0)?;
    let read_only: String = session.get(&row, 1)?;
    Ok(if in_recovery {
        Some(IN_RECOVERY)
    } else if read_only == "on" {
        Some("read-only (default_transaction_read_only is on)")
    } else {
        None
    })
}

enum Confirmation {
    /// A new session sees the server read-only (the session is kept for follow-ups).
    ReadOnly(Session),
    /// The connection was refused: nothing listens there.
    Gone(String),
    /// Not confirmed by `until`: the last reason why.
    No(String),
}

/// New sessions, every `CONFIRM_POLL`, until one shows the server read-only or is refused.
async fn until_read_only(server: &Server, until: Instant) -> Confirmation {
    let mut last;
    loop {
        match server.connect(until).await {
            Ok(session) => match is_read_only(&session).await {
                Ok(Some(_)) => return Confirmation::ReadOnly(session),
                Ok(None) => last = format!("{} still answers and accepts writes", server.node),
                Err(e) => last = e,
            },
            Err(Unreachable::Refused(e)) => return Confirmation::Gone(e),
            Err(e) => last = format!("{} at {}: {}", server.node, server.endpoint(), e.describe()),
        }
        if Instant::now() + CONFIRM_POLL >= until {
            return Confirmation::No(last);
        }
        tokio::time::sleep(CONFIRM_POLL).await;
    }
}

fn gone(server: &Server, error: &str, before: &str) -> StepResult {
    tracing::debug!(node = %server.node, "fence confirmed by a refused connection: {error}");
    confirmed(format!("{before}{} refuses connections at {}: nothing listens there, the server is gone", server.node, server.endpoint()))
}

fn confirmed(what: String) -> StepResult {
    StepResult { ok: true, message: format!("{what}; fencing confirmed"), preview: None }
}

fn not_confirmed(node: &str, why: &str) -> StepResult {
    StepResult::failed(format!(
        "fencing {node} is NOT confirmed: {why}. Only an answer showing it read-only, or a refused connection, confirms a fence; \
         a timeout or an error proves nothing ({node} may still accept writes)"
    ))
}

fn plural(n: i64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
