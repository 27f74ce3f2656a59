//! What one probe run produced, before it becomes an `Observation`.

use std::error::Error;
use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use ward_core::observation::{ProbeDetail, ProbeOutcome};

#[derive(Clone, Debug, PartialEq)]
pub struct ProbeResult {
    pub outcome: ProbeOutcome,
    /// Wall time of the run; a timeout reports the timeout.
    pub latency: Duration,
    /// Why it failed (a short message), or what it read (disk usage, exec's first line).
    pub detail: Option<ProbeDetail>,
}

impl ProbeResult {
    pub fn latency_ms(&self) -> u32 {
        self.latency.as_millis().min(u32::MAX as u128) as u32
    }

    pub fn message(&self) -> Option<&str> {
        match &self.detail {
            Some(ProbeDetail::Message(text)) => Some(text),
            _ => None,
        }
    }
}

/// The inside of a probe: outcome and detail; `bounded` adds latency and the timeout.
pub(crate) type Verdict = (ProbeOutcome, Option<ProbeDetail>);

pub(crate) fn pass() -> Verdict {
    (ProbeOutcome::Pass, None)
}

pub(crate) fn pass_with(message: impl Into<String>) -> Verdict {
    (ProbeOutcome::Pass, Some(ProbeDetail::Message(message.into())))
}

pub(crate) fn fail(message: impl Into<String>) -> Verdict {
    (ProbeOutcome::Fail, Some(ProbeDetail::Message(message.into())))
}

/// The probe's own I/O layer gave up on time (reqwest, hickory): the same outcome as
/// our bound firing, whichever of the two timers won the race.
pub(crate) fn timed_out(timeout: Duration) -> Verdict {
    (ProbeOutcome::Timeout, Some(ProbeDetail::Message(no_answer(timeout))))
}

fn no_answer(timeout: Duration) -> String {
    format!("no answer within {} ms", timeout.as_millis())
}

/// Runs a probe body under its timeout. Every probe kind goes through here, so no
/// probe can outlive its check's timeout (the body's future is dropped, which closes
/// sockets and kills children).
pub(crate) async fn bounded(timeout: Duration, body: impl Future<Output = Verdict>) -> ProbeResult {
    let started = Instant::now();
    match tokio::time::timeout(timeout, body).await {
        Ok((outcome, detail)) => ProbeResult { outcome, latency: started.elapsed(), detail },
        Err(_) => ProbeResult {
            outcome: ProbeOutcome::Timeout,
            latency: started.elapsed(),
            detail: Some(ProbeDetail::Message(no_answer(timeout))),
        },
    }
}

/// A short text for an error: the innermost cause, with common socket errors named
/// the way operators say them ("connect refused"), not a chain of wrapper texts.
pub(crate) fn short_error(error: &(dyn Error + 'static)) -> String {
    let mut innermost: &(dyn Error + 'static) = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    if let Some(io_error) = innermost.downcast_ref::<io::Error>() {
        return short_io_error(io_error);
    }
    innermost.to_string()
}

pub(crate) fn short_io_error(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connect refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        io::ErrorKind::ConnectionAborted => "connection aborted".into(),
        io::ErrorKind::TimedOut => "timed out".into(),
        io::ErrorKind::NotFound => "not found".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => error.to_string(),
    }
}

/// The first line of some output, trimmed and cut to a length that fits a journal line.
pub(crate) fn first_line(bytes: &[u8]) -> String {
    const LINE_MAX: usize = 200;
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().map(str::trim).find(|line| !line.is_empty()).unwrap_or("");
    if line.len() <= LINE_MAX {
        return line.to_string();
    }
    let mut end = LINE_MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}
