//! http(s): GET the URL; the status must equal `expect_status` (default: any 2xx) and,
//! when `expect_body` is set, the first 64 KiB of the body must contain it.

use crate::context::ProbeContext;
use crate::result::{bounded, fail, pass, short_error, timed_out, ProbeResult, Verdict};
use crate::spec::ProbeSpec;

/// A body larger than this is not read further: a health page is small, and a probe
/// must not buffer whatever a misbehaving server streams.
const BODY_READ_MAX: usize = 64 * 1024;

pub async fn probe_http(spec: &ProbeSpec, context: &ProbeContext) -> ProbeResult {
    bounded(spec.timeout, get(spec, context)).await
}

async fn get(spec: &ProbeSpec, context: &ProbeContext) -> Verdict {
    // The request carries the check's timeout too, so hyper gives up in step with us.
    let request = context.http.get(&spec.target).timeout(spec.timeout);
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(error) if error.is_timeout() => return timed_out(spec.timeout),
        Err(error) => return fail(request_error(&error)),
    };
    let status = response.status().as_u16();
    let status_ok = match spec.expect_status {
        Some(expected) => status == expected,
        None => (200..300).contains(&status),
    };
    if !status_ok {
        let expected = spec.expect_status.map_or_else(|| "2xx".to_string(), |code| code.to_string());
        return fail(format!("status {status}, expected {expected}"));
    }
    let Some(needle) = spec.expect_body.as_deref() else { return pass() };
    let mut body = Vec::new();
    while body.len() < BODY_READ_MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(BODY_READ_MAX - body.len())]),
            Ok(None) => break,
            Err(error) if error.is_timeout() => return timed_out(spec.timeout),
            Err(error) => return fail(format!("reading body: {}", request_error(&error))),
        }
    }
    if contains(&body, needle.as_bytes()) {
        pass()
    } else {
        fail(format!("body lacks {needle:?}"))
    }
}

fn request_error(error: &reqwest::Error) -> String {
    let cause = short_error(error);
    if error.is_connect() && !cause.starts_with("connect") {
        format!("connect: {cause}")
    } else if error.is_redirect() {
        "too many redirects".to_string()
    } else {
        cause
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|window| window == needle)
}
