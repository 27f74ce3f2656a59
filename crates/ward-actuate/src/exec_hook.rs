//! Exec hooks, keepalived-notify style: run a command (no shell), the step in the
//! environment and as JSON on stdin; exit 0 means done.
//!
//! Never retried here: a script that failed may have done part of its work. The
//! engine verifies and decides (see `retry.rs`).

use tokio::time::Instant;
use ward_core::inventory::Hook;
use ward_core::journal::JobStep;
use ward_core::time::human_duration;

use crate::preview;
use crate::process::{self, describe_status, Ending, Invocation};
use crate::step::{attempt_timeout, StepResult};
use crate::text::last_line;
use crate::wire::{StepPayload, OPTIONAL_HOOK_ENV};

pub(crate) async fn run(hook: &Hook, command: &[String], payload: &StepPayload, deadline: Instant) -> StepResult {
    let timeout = attempt_timeout(hook, deadline);
    let stdin = serde_json::to_vec(payload).unwrap_or_default();
    let invocation = Invocation { argv: command, env: payload.env(), env_remove: OPTIONAL_HOOK_ENV, stdin, timeout };
    let finished = match process::run(invocation).await {
        Ok(finished) => finished,
        Err(e) => return StepResult::failed(e),
    };
    let status = match &finished.ending {
        Ending::TimedOut => {
            let what = format!("timed out after {} and was killed", human_duration(timeout.as_millis() as u64));
            return StepResult::failed(match last_line(&finished.stderr).or_else(|| last_line(&finished.stdout)) {
                Some(line) => format!("{what} (last said: {line})"),
                None => what,
            });
        }
        Ending::Exited(status) => *status,
    };
    if !finished.success() {
        // A failing script explains itself on stderr, usually.
        return StepResult::failed(match last_line(&finished.stderr).or_else(|| last_line(&finished.stdout)) {
            Some(line) => format!("{}: {line}", describe_status(&status)),
            None => describe_status(&status),
        });
    }
    if payload.step == JobStep::Preview.name() {
        return match preview::parse_preview(&finished.stdout) {
            Ok(p) => StepResult { ok: true, message: preview::describe(&p), preview: Some(p) },
            Err(e) => StepResult::failed(e),
        };
    }
    let message = last_line(&finished.stdout).or_else(|| last_line(&finished.stderr)).unwrap_or_else(|| describe_status(&status));
    StepResult { ok: true, message, preview: None }
}
