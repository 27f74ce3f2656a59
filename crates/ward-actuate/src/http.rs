//! HTTP helpers shared by hooks and routes: bounded body reads, and reqwest errors
//! as the end of a sentence ("connection refused", "no complete answer within 5s";
//! reqwest's own Display repeats the URL and hides the cause in its source chain).

use std::error::Error as _;
use std::time::Duration;

use ward_core::time::human_duration;

pub(crate) fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no complete answer within {}", human_duration(timeout.as_millis() as u64));
    }
    let mut io_kind = None;
    let mut innermost = None;
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        innermost = Some(cause.to_string());
        source = cause.source();
    }
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".to_string(),
        Some(std::io::ErrorKind::ConnectionReset) => "connection reset".to_string(),
        _ if error.is_connect() => format!("could not connect: {}", innermost.unwrap_or_else(|| error.to_string())),
        _ => innermost.unwrap_or_else(|| error.to_string()),
    }
}

/// Reads at most `max` bytes of a body; the rest is left unread (the connection is
/// then dropped rather than pooled, which is fine for an oversized answer).
pub(crate) async fn read_body(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = max.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= max {
            break;
        }
    }
    Ok(body)
}
