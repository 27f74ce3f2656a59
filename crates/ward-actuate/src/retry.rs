//! When an HTTP hook call may be tried again inside one step.
//!
//! Only failures that prove the request never took effect are retried: the
//! connection was refused (nothing was sent), or the server answered 503 or 429
//! (it declined to start). Everything else, a timeout, a reset mid-request, a 500,
//! may have applied the change; trying again blind could apply it twice. Those end
//! the step, and the engine decides what next by *verifying* first (it re-applies
//! only after seeing the change did not happen), under a new attempt number.
//!
//! Exec hooks are never retried here for the same reason: a script that exited
//! non-zero may have done half its work, and we cannot tell which half.

use std::time::Duration;

/// The first pause; each further one doubles (250 ms, 500 ms, 1 s, …).
const BACKOFF_BASE: Duration = Duration::from_millis(250);

/// The pause before retry number `n + 1` (n = retries already made).
pub(crate) fn backoff(n: u32) -> Duration {
    BACKOFF_BASE.saturating_mul(1u32.checked_shl(n.min(16)).unwrap_or(u32::MAX))
}

/// An HTTP status that says "nothing was done, come back later".
pub(crate) fn status_is_retryable(status: u16) -> bool {
    matches!(status, 429 | 503)
}

/// A transport error that proves nothing was sent. A timeout does not: the server
/// may be applying the change right now.
pub(crate) fn error_is_retryable(error: &reqwest::Error) -> bool {
    error.is_connect() && !error.is_timeout()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_250ms() {
        assert_eq!(backoff(0), Duration::from_millis(250));
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(3), Duration::from_secs(2));
        assert!(backoff(100) >= backoff(16)); // saturates, never overflows
    }

    #[test]
    fn only_declined_statuses_are_retried() {
        assert!(status_is_retryable(503) && status_is_retryable(429));
        for status in [200, 400, 404, 409, 500, 502, 504] {
            assert!(!status_is_retryable(status), "{status}");
        }
    }
}
