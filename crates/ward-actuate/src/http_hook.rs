//! HTTP hooks: POST the step as JSON (the same `StepPayload` exec hooks get on
//! stdin) with an idempotency key; 2xx means done.
//!
//! Headers: `Idempotency-Key: ward-<fencing token>-<job>-<step>-<attempt>` (the same for every
//! transport retry below, so a server that did receive a request can answer it
//! again without acting twice), `X-Ward-Fencing-Token`, `X-Ward-Controller`.

use tokio::time::Instant;
use ward_core::inventory::Hook;
use ward_core::journal::JobStep;

use crate::http::{describe, read_body};
use crate::preview;
use crate::retry::{backoff, error_is_retryable, status_is_retryable};
use crate::step::{attempt_timeout, StepResult};
use crate::text::one_line;
use crate::wire::StepPayload;

/// Preview answers can list paths; anything beyond this is not an answer we want.
const BODY_MAX_BYTES: usize = 1 << 20;

pub(crate) async fn run(hook: &Hook, url: &str, payload: &StepPayload, deadline: Instant, client: &reqwest::Client) -> StepResult {
    let mut tries = 0u32;
    loop {
        tries += 1;
        let (result, retryable) = post_once(hook, url, payload, deadline, client).await;
        if result.ok || !retryable {
            return result;
        }
        let retries_made = tries - 1;
        let after = if tries == 1 { "after 1 try".to_string() } else { format!("after {tries} tries") };
        let why_stop = if retries_made >= hook.retries {
            Some(after)
        } else if Instant::now() + backoff(retries_made) >= deadline {
            Some(format!("{after}; no time left before the deadline to try again"))
        } else {
            None
        };
        if let Some(why) = why_stop {
            return StepResult::failed(format!("{} ({why})", result.message));
        }
        tracing::info!(hook = %hook.name, job = payload.job, step = %payload.step, "{}; retrying", result.message);
        tokio::time::sleep(backoff(retries_made)).await;
    }
}

/// One POST. The flag says whether a failure proves nothing happened (see `retry.rs`).
async fn post_once(hook: &Hook, url: &str, payload: &StepPayload, deadline: Instant, client: &reqwest::Client) -> (StepResult, bool) {
    // Messages are journaled: the URL only as scheme://host:port (its path or query may hold a secret).
    let shown = crate::text::redact_urls(url);
    let timeout = attempt_timeout(hook, deadline);
    if timeout.is_zero() {
        return (StepResult::failed(format!("POST {shown}: the step's deadline passed")), false);
    }
    let sent = client
        .post(url)
        .timeout(timeout)
        .header("Idempotency-Key", payload.idempotency_key())
        .header("X-Ward-Fencing-Token", payload.fencing_token.to_string())
        .header("X-Ward-Controller", payload.controller.as_str())
        .json(payload)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) => return (StepResult::failed(format!("POST {shown}: {}", describe(&e, timeout))), error_is_retryable(&e)),
    };
    let status = response.status();
    let body = match read_body(response, BODY_MAX_BYTES).await {
        Ok(body) => body,
        // The server answered but the body did not arrive: it may well have acted.
        Err(e) => return (StepResult::failed(format!("POST {shown}: HTTP {}, then {}", status.as_u16(), describe(&e, timeout))), false),
    };
    let said = one_line(&body);
    if !status.is_success() {
        let message = if said.is_empty() {
            format!("POST {shown}: HTTP {}", status.as_u16())
        } else {
            format!("POST {shown}: HTTP {}: {said}", status.as_u16())
        };
        return (StepResult::failed(message), status_is_retryable(status.as_u16()));
    }
    if payload.step == JobStep::Preview.name() {
        let result = match preview::parse_preview(&body) {
            Ok(p) => StepResult { ok: true, message: preview::describe(&p), preview: Some(p) },
            Err(e) => StepResult::failed(format!("POST {shown}: {e}")),
        };
        return (result, false);
    }
    let message = if said.is_empty() { format!("HTTP {}", status.as_u16()) } else { said };
    (StepResult { ok: true, message, preview: None }, false)
}
