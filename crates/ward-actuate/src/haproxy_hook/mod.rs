//! The built-in HAProxy actuator (`kind = "haproxy"`): moves traffic between the
//! servers of one backend through HAProxy's runtime API. Server names are Ward's
//! node names.
//!
//! - `MoveVip { from, to }`: `set server B/to state ready`, then
//!   `set server B/from state maint` and `shutdown sessions server B/from` (clients
//!   of the old holder must reconnect, to the new one).
//! - `SetDnsTargets { from, to }`: ready for every node in `to`, maint and
//!   shutdown sessions for those only in `from`.
//!
//! New servers are made ready before old ones leave, so the backend is never empty
//! on the way. Then `show servers state B` must show every state taken. HAProxy's
//! own error text is surfaced verbatim. A rollback is the same with from and to
//! swapped (the step layer does that).

mod runtime;
mod state;

use std::time::Duration;

use tokio::time::Instant;
use ward_core::action::NamedAction;
use ward_core::inventory::Hook;
use ward_core::journal::JobStep;

use crate::step::StepResult;
use runtime::{error_in, Runtime};

pub(crate) async fn run(hook: &Hook, socket: &str, backend: &str, named: &NamedAction, step: JobStep, deadline: Instant) -> StepResult {
    if step == JobStep::Preview {
        return StepResult::failed(format!("a haproxy hook has nothing to preview for {}", named.kind()));
    }
    let (ready, leaving): (Vec<&String>, Vec<&String>) = match named {
        NamedAction::MoveVip { from, to, .. } => (vec![to], from.iter().filter(|n| *n != to).collect()),
        NamedAction::SetDnsTargets { from, to, .. } => (to.iter().collect(), from.iter().filter(|n| !to.contains(n)).collect()),
        other => {
            return StepResult::failed(format!(
                "a haproxy hook moves traffic between servers (move_vip, set_dns_targets); it cannot carry out {}",
                other.kind()
            ))
        }
    };
    // The runtime API splits commands on ';' and words on spaces: a name with either
    // would run something else than intended.
    if let Some(bad) = ready.iter().chain(&leaving).map(|n| n.as_str()).chain([backend]).find(|n| !usable_name(n)) {
        return StepResult::failed(format!(
            "\"{bad}\" cannot be named in a HAProxy command (empty, or has a space, ';' or '/'); nothing was changed"
        ));
    }
    let until = deadline.min(Instant::now() + Duration::from_millis(hook.timeout_ms.max(1)));
    let api = Runtime { socket };
    let mut done: Vec<String> = Vec::new();
    let commands = ready.iter().map(|node| (format!("set server {backend}/{node} state ready"), format!("{node} ready"))).chain(
        leaving.iter().flat_map(|node| {
            [
                (format!("set server {backend}/{node} state maint"), format!("{node} in maint")),
                (format!("shutdown sessions server {backend}/{node}"), format!("{node}'s sessions shut down")),
            ]
        }),
    );
    for (command, what) in commands {
        let failure = match api.ask(&command, until).await {
            Ok(answer) => error_in(&answer).map(|said| format!("`{command}` failed: HAProxy said: {said}")),
            Err(e) => Some(e),
        };
        if let Some(failure) = failure {
            let so_far = if done.is_empty() { "nothing changed".to_string() } else { format!("done so far: {}", done.join(", ")) };
            return StepResult::failed(format!("backend {backend}: {failure} ({so_far})"));
        }
        done.push(what);
    }
    match confirm(&api, backend, &ready, &leaving, until).await {
        Ok(states) => {
            StepResult { ok: true, message: format!("backend {backend}: {}; confirmed by show servers state", states), preview: None }
        }
        Err(e) => StepResult::failed(format!("backend {backend}: {} done, but {e}", done.join(", "))),
    }
}

fn usable_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == ';' || c == '/')
}

/// `show servers state` must show `ready` ready and `leaving` in maintenance.
async fn confirm(api: &Runtime<'_>, backend: &str, ready: &[&String], leaving: &[&String], until: Instant) -> Result<String, String> {
    let answer = api.ask(&format!("show servers state {backend}"), until).await?;
    let servers = state::parse(&answer)?;
    let mut said = Vec::new();
    let mut wrong = Vec::new();
    for (node, want_ready) in ready.iter().map(|n| (n, true)).chain(leaving.iter().map(|n| (n, false))) {
        let Some(server) = servers.iter().find(|s| s.name == **node) else {
            wrong.push(format!("{node} is not listed"));
            continue;
        };
        let took = if want_ready { server.is_ready() } else { server.is_in_maint() };
        if took {
            said.push(format!("{node} {}", server.describe()));
        } else {
            wrong.push(format!("{node} is {} (wanted {})", server.describe(), if want_ready { "ready" } else { "maint" }));
        }
    }
    if wrong.is_empty() {
        Ok(said.join(", "))
    } else {
        Err(format!("show servers state does not confirm it: {}", wrong.join(", ")))
    }
}
