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
    /// Per observer: its clock minus ours when first seen (observers may run a
    /// constant offset), and whether it currently disagrees beyond the gap bound.
    skew_baseline: Vec<Option<i64>>,
    disagreeing: Vec<bool>,
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
        self.start_settling(snapshot, policy, now_ms.max(last), gap);
        // Our own step also shifts every observer's skew: start their baselines again.
        self.skew_baseline.iter_mut().for_each(|b| *b = None);
        self.disagreeing.iter_mut().for_each(|d| *d = false);
        Some(gap)
    }

    /// Compares an observer's clock with ours. When a majority of the observers
    /// that report their clocks have shifted against ours by more than the gap
    /// bound (ours stood still during a pause, or was stepped), returns the shift:
    /// a time anomaly the gap between inputs cannot show. Baselines then reset.
    pub fn observe_skew(
        &mut self,
        snapshot: &Snapshot,
        policy: &Policy,
        observer: usize,
        observer_clock_ms: TimeMs,
        now_ms: TimeMs,
    ) -> Option<i64> {
        let observers = snapshot.observers().len();
        if observer >= observers {
            return None;
        }
        if self.skew_baseline.len() != observers {
            self.skew_baseline = vec![None; observers];
            self.disagreeing = vec![false; observers];
        }
        let skew = observer_clock_ms as i64 - now_ms as i64;
        if self.settling(now_ms).is_some() {
            // While re-observing, the newest skew becomes the baseline: readings that
            // piled up during a pause carry every skew from zero to the pause's length.
            self.skew_baseline[observer] = Some(skew);
            self.disagreeing[observer] = false;
            return None;
        }
        let baseline = *self.skew_baseline[observer].get_or_insert(skew);
        let shift = skew - baseline;
        self.disagreeing[observer] = shift.unsigned_abs() > policy.time_gap_max_ms;
        let reporting = self.skew_baseline.iter().filter(|b| b.is_some()).count();
        let disagreeing = self.disagreeing.iter().filter(|d| **d).count();
        if disagreeing * 2 <= reporting {
            return None;
        }
        self.skew_baseline = vec![None; observers];
        self.disagreeing = vec![false; observers];
        self.start_settling(snapshot, policy, now_ms, shift);
        Some(shift)
    }

    fn start_settling(&mut self, snapshot: &Snapshot, policy: &Policy, now_ms: TimeMs, gap: i64) {
        let settle_ms = snapshot
            .checks()
            .iter()
            .map(|c| c.interval_ms * u64::from(c.rise.max(c.fall)) + c.timeout_ms)
            .max()
            .unwrap_or(0)
            .max(policy.tick_ms * 2)
            .min(SETTLE_MAX_MS);
        self.settle = Some((now_ms + settle_ms, gap));
    }

    pub fn settling(&self, now_ms: TimeMs) -> Option<(TimeMs, i64)> {
        self.settle.filter(|(until, _)| now_ms < *until)
    }

    pub fn last_ms(&self) -> Option<TimeMs> {
        self.last_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::InventoryBuilder;

    fn three_observers() -> Snapshot {
        let mut b = InventoryBuilder::new();
        let site = b.site("s");
        for o in ["a", "b", "c"] {
            b.observer(o, site);
        }
        b.build()
    }

    #[test]
    fn a_constant_offset_is_fine_a_frozen_clock_is_not() {
        let snapshot = three_observers();
        let policy = snapshot.policy().clone();
        let mut time = TimeSanity::new();
        // Observer b runs 3 s ahead all along: that is its baseline, not an anomaly.
        for t in (0..60_000).step_by(1_000) {
            for (o, offset) in [(0usize, 0u64), (1, 3_000), (2, 0)] {
                assert_eq!(time.observe_skew(&snapshot, &policy, o, t + offset, t), None);
            }
        }
        // Our clock stands still for 9 minutes while theirs move on.
        let frozen = 60_000;
        assert_eq!(time.observe_skew(&snapshot, &policy, 0, 600_000, frozen), None, "one observer is not a majority");
        let shift = time.observe_skew(&snapshot, &policy, 2, 600_000, frozen);
        assert_eq!(shift, Some(540_000));
        assert!(time.settling(frozen).is_some());
    }
}
