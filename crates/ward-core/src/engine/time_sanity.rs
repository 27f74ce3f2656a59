//! Detects pauses and clock jumps from the gaps between the times inputs carry.

use crate::inventory::{Policy, Snapshot};
use crate::time::{TimeMs, MINUTE_MS};

/// Re-observing never takes longer than this, however slow the checks.
const SETTLE_MAX_MS: u64 = 5 * MINUTE_MS;

#[derive(Clone, Debug, Default)]
pub struct TimeSanity {
    last_ms: Option<TimeMs>,
    /// (re-observe until, the gap that caused it; negative for a backwards jump)
    settle: Option<(TimeMs, i64)>,
}

impl TimeSanity {
    pub fn new() -> Self {
        TimeSanity::default()
    }

    /// Notes the time of an input. Returns the gap when it is an anomaly: longer
    /// than `time_gap_max_ms` forwards, or any step backwards beyond one tick.
    pub fn observe(&mut self, snapshot: &Snapshot, policy: &Policy, now_ms: TimeMs) -> Option<i64> {
        let last = self.last_ms.replace(now_ms.max(self.last_ms.unwrap_or(0)));
        let last = last?;
        let gap = now_ms as i64 - last as i64;
        let anomaly = gap > policy.time_gap_max_ms as i64 || gap < -(policy.tick_ms as i64);
        if !anomaly {
            return None;
        }
        // Long enough for every check to run `max(rise, fall)` times afresh.
        let settle_ms = snapshot
            .checks()
            .iter()
            .map(|c| c.interval_ms * u64::from(c.rise.max(c.fall)) + c.timeout_ms)
            .max()
            .unwrap_or(0)
            .max(policy.tick_ms * 2)
            .min(SETTLE_MAX_MS);
        let from = now_ms.max(last);
        self.settle = Some((from + settle_ms, gap));
        Some(gap)
    }

    pub fn settling(&self, now_ms: TimeMs) -> Option<(TimeMs, i64)> {
        self.settle.filter(|(until, _)| now_ms < *until)
    }

    pub fn last_ms(&self) -> Option<TimeMs> {
        self.last_ms
    }
}
