//! What the controller knows about its own journal: whether the last append
//! failed, since when and why. When it cannot write, Ward stops acting (a decision
//! without a durable record could be repeated or forgotten after a restart), says
//! so on `/v1/status`, `/readyz` and `/metrics`, and pages through every route.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use ward_core::time::TimeMs;

/// While the journal cannot be written, the append is tried again this often.
pub const JOURNAL_RETRY_EVERY: Duration = Duration::from_secs(1);
/// Default for how long Ward waits for its journal to become writable again before
/// it exits non-zero (so a supervisor restarts it on a fresh store handle).
pub const JOURNAL_FAILURE_EXIT_AFTER: Duration = Duration::from_secs(60);
/// Job outcomes, deliveries and inventory reloads kept while halted, to be fed to
/// the engine once the journal works again (more are dropped and logged).
pub const HELD_EVENTS_MAX: usize = 4_096;

#[derive(Default, Debug)]
pub struct JournalHealth {
    /// 0: writable. Otherwise when the current failure started (Unix ms).
    failing_since_ms: AtomicU64,
    failures: AtomicU64,
    error: Mutex<String>,
}

impl JournalHealth {
    /// Records a failed append.
    pub fn fail(&self, now_ms: TimeMs, error: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let _ = self.failing_since_ms.compare_exchange(0, now_ms.max(1), Ordering::SeqCst, Ordering::SeqCst);
        if let Ok(mut text) = self.error.lock() {
            *text = error.to_string();
        }
    }

    /// The journal was written again.
    pub fn recover(&self) {
        self.failing_since_ms.store(0, Ordering::SeqCst);
    }

    /// `Some((since_ms, error))` while the journal cannot be written.
    pub fn failing(&self) -> Option<(TimeMs, String)> {
        let since = self.failing_since_ms.load(Ordering::SeqCst);
        (since != 0).then(|| (since, self.error.lock().map(|e| e.clone()).unwrap_or_default()))
    }

    /// Failed appends since start (each retry counts).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The sentence for `/v1/status`, `/readyz` and refused commands.
    pub fn sentence(&self) -> Option<String> {
        self.failing().map(|(since, error)| halted_sentence(since, &error))
    }
}

pub fn halted_sentence(since_ms: TimeMs, error: &str) -> String {
    format!(
        "Ward has stopped acting since {since_ms} (Unix ms): it cannot write its journal ({}). No job step starts and no \
         command is taken until a write succeeds; free space or fix the disk under the data dir",
        first_line(error)
    )
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
