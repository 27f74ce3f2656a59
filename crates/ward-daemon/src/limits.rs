//! Bounds on what input can make the daemon journal or log, secrets kept out of
//! both, and the process's own descriptor budget.
//!
//! Everything that can grow from outside (an inventory's error list, a hook's or a
//! route's answer, a probe's message, an operator's reason) is capped here before it
//! reaches the engine, so no record can outgrow the store's record limit. URLs are
//! cut to `scheme://host:port` before they are journaled or logged: a path, a query
//! or user info may carry a credential (a Slack webhook path, `?api_key=`).

/// Inventory errors journaled with a rejection; the rest are counted, not listed
/// (`ward validate` prints them all).
pub const INVENTORY_ERRORS_JOURNALED_MAX: usize = 50;
/// Bytes of any one piece of text from outside that is journaled: a hook's
/// message, a delivery error, an inventory error, a probe's message.
pub const TEXT_JOURNALED_BYTES_MAX: usize = 2 * 1024;
/// Bytes of an operator's hold or reject reason (longer ones are refused).
pub const REASON_BYTES_MAX: usize = 1024;

/// `text` cut to at most `max` bytes on a char boundary, saying how much was cut.
pub fn cap_text(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes not kept)", &text[..end], text.len() - end)
}

/// What may be journaled of an untrusted message: URLs redacted, then capped.
pub fn journal_text(text: String) -> String {
    cap_text(redact_urls(&text), TEXT_JOURNALED_BYTES_MAX)
}

/// An inventory's errors as journaled: the first few, each capped and redacted,
/// and a line saying how many more there were.
pub fn cap_errors(errors: Vec<String>) -> Vec<String> {
    let total = errors.len();
    let mut kept: Vec<String> = errors.into_iter().take(INVENTORY_ERRORS_JOURNALED_MAX).map(journal_text).collect();
    if total > kept.len() {
        kept.push(format!("… and {} more error(s); run `ward validate` on the file to see them all", total - kept.len()));
    }
    kept
}

pub use ward_actuate::redact_urls;

/// A failed probe whose message says the observer itself failed (out of
/// descriptors, a spawn failure): never evidence about the node.
pub fn is_observer_fault(observation: &ward_core::observation::Observation) -> bool {
    match observation.detail.as_deref() {
        Some(ward_core::observation::ProbeDetail::Message(text)) => !observation.outcome.is_pass() && ward_probe::is_local_fault(text),
        _ => false,
    }
}

/// Descriptors kept free of API connections, for probes, hooks, the store and
/// routes: an API flood must never starve what watches the nodes.
pub const FDS_RESERVED_MIN: u64 = 256;
/// API connections served at once, at most (fewer when the descriptor limit is
/// low; more wait in the listen backlog, holding no descriptor).
pub const API_CONNECTIONS_MAX: usize = 512;
/// API connections allowed even at a very low descriptor limit.
const API_CONNECTIONS_MIN: usize = 8;

/// Raises the soft open-files limit to the hard limit and returns the soft limit
/// now in force (what the API connection cap is computed from).
pub fn raise_nofile_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            tracing::info!(from = limit.rlim_cur, to = limit.rlim_max, "raised the open-files limit to the hard limit");
            return limit.rlim_max;
        }
        tracing::warn!(soft = limit.rlim_cur, hard = limit.rlim_max, "could not raise the open-files limit");
    }
    limit.rlim_cur
}

/// How many API connections to serve at once under a descriptor limit: at most a
/// quarter of what is left after the reserve, within [`API_CONNECTIONS_MAX`].
pub fn api_connections_max(nofile: u64) -> usize {
    let spare = nofile.saturating_sub(FDS_RESERVED_MIN) / 4;
    (spare.min(API_CONNECTIONS_MAX as u64) as usize).max(API_CONNECTIONS_MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_and_error_lists_are_capped() {
        let capped = cap_text("é".repeat(10_000), 101);
        assert!(capped.len() < 200 && capped.contains("more bytes not kept"), "{capped}");
        let errors: Vec<String> = (0..30_000).map(|i| format!("error {i}")).collect();
        let kept = cap_errors(errors);
        assert_eq!(kept.len(), INVENTORY_ERRORS_JOURNALED_MAX + 1);
        assert!(kept.last().is_some_and(|l| l.contains("29950 more")), "{:?}", kept.last());
    }

    #[test]
    fn a_probe_that_failed_for_a_local_reason_is_an_observer_fault() {
        use ward_core::ids::{ObserverId, ProbeId};
        use ward_core::observation::{Observation, ProbeDetail, ProbeOutcome};
        let observation = |outcome, text: &str| Observation {
            probe: ProbeId(0),
            observer: ObserverId(0),
            at_ms: 0,
            outcome,
            latency_ms: 1,
            detail: Some(Box::new(ProbeDetail::Message(text.into()))),
            observer_clock_ms: None,
        };
        assert!(is_observer_fault(&observation(ProbeOutcome::Fail, "observer fault: Too many open files (os error 24) (EMFILE)")));
        assert!(is_observer_fault(&observation(ProbeOutcome::Fail, "error sending request: Too many open files (os error 24)")));
        assert!(!is_observer_fault(&observation(ProbeOutcome::Fail, "connect refused")));
        assert!(!is_observer_fault(&observation(ProbeOutcome::Timeout, "no answer within 150 ms")));
    }

    #[test]
    fn api_connections_leave_a_reserve() {
        assert_eq!(api_connections_max(1024), 192);
        assert_eq!(api_connections_max(100), 8);
        assert_eq!(api_connections_max(1 << 20), API_CONNECTIONS_MAX);
    }
}
