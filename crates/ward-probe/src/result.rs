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
            Some(ProbeDetail::Primary(status)) => Some(&status.summary),
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

/// Starts the message of a probe that failed for a reason on this machine (out of
/// descriptors or buffers, a process that could not be spawned): an observer
/// fault, never evidence about the node probed.
pub const LOCAL_FAULT: &str = "observer fault: ";

/// Error numbers that say the observer itself is out of a resource.
const LOCAL_ERRNOS: [(i32, &str); 4] =
    [(libc::EMFILE, "EMFILE"), (libc::ENFILE, "ENFILE"), (libc::ENOBUFS, "ENOBUFS"), (libc::ENOMEM, "ENOMEM")];

/// Whether a probe's message says the observer failed, not the node: the
/// [`LOCAL_FAULT`] prefix, or a local resource error as another library printed it.
pub fn is_local_fault(message: &str) -> bool {
    message.starts_with(LOCAL_FAULT)
        || LOCAL_ERRNOS.iter().any(|(errno, _)| message.contains(&format!("os error {errno})")))
        || message.contains("Too many open files")
        || message.contains("No buffer space available")
}

/// Whether a probe result is an observer fault (see [`is_local_fault`]).
pub fn result_is_local_fault(result: &ProbeResult) -> bool {
    result.message().is_some_and(is_local_fault)
}

pub(crate) fn short_io_error(error: &io::Error) -> String {
    if let Some((_, name)) = error.raw_os_error().and_then(|code| LOCAL_ERRNOS.iter().find(|(errno, _)| *errno == code)) {
        return format!("{LOCAL_FAULT}{error} ({name})");
    }
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

#[cfg(test)]
mod local_fault_tests {
    use super::*;

    #[test]
    fn descriptor_exhaustion_is_an_observer_fault_not_a_node_failure() {
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        let text = short_io_error(&emfile);
        assert!(text.starts_with(LOCAL_FAULT) && text.contains("EMFILE"), "{text}");
        assert!(is_local_fault(&text));
        // As reqwest or hickory print it, without our prefix.
        assert!(is_local_fault("error sending request: Too many open files (os error 24)"));
        assert!(is_local_fault("tcp connect error: No buffer space available (os error 105)"));
        assert!(is_local_fault("ENFILE: (os error 23)"));
        // What a node's failure looks like stays evidence.
        assert!(!is_local_fault(&short_io_error(&io::Error::from(io::ErrorKind::ConnectionRefused))));
        assert!(!is_local_fault("status 503"));
        assert!(!is_local_fault("os error 240)"));
    }
}
