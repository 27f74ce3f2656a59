//! Disk time-until-full forecast (seed 003: WAL piled up until the disk filled; "take
//! into account the emergency headroom reserved by the filesystem for the superuser").

use crate::observation::DiskStatus;
use crate::time::{TimeMs, HOUR_MS, MINUTE_MS};

/// Samples kept per disk.
pub(crate) const RING: usize = 64;
/// A new sample enters the ring at most this often, so the ring spans about an hour
/// whatever the probe interval.
pub(crate) const SAMPLE_SPACING_MS: u64 = MINUTE_MS;
/// The regression only uses samples this recent.
pub(crate) const WINDOW_MS: u64 = HOUR_MS;
/// A forecast needs at least this many samples...
pub(crate) const MIN_SAMPLES: usize = 3;
/// ...spanning at least this long.
pub(crate) const MIN_SPAN_MS: u64 = MINUTE_MS;

/// Usage history of one disk. Fixed size: recording a sample never allocates.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DiskSeries {
    /// (receive time, used bytes), oldest first from `head`.
    ring: [(TimeMs, u64); RING],
    head: usize,
    len: usize,
    /// The newest report, which decides how much space is left.
    latest: Option<(TimeMs, DiskStatus)>,
    /// The forecast last reported in an event, while under the horizon.
    warned_ms: Option<u64>,
}

impl Default for DiskSeries {
    fn default() -> Self {
        DiskSeries {
            ring: [(0, 0); RING],
            head: 0,
            len: 0,
            latest: None,
            warned_ms: None,
        }
    }
}

impl DiskSeries {
    fn sample(&self, i: usize) -> (TimeMs, u64) {
        self.ring[(self.head + i) % RING]
    }

    fn newest_sample_at(&self) -> Option<TimeMs> {
        (self.len > 0).then(|| self.sample(self.len - 1).0)
    }

    /// Records a report. Reports older than the newest one are ignored.
    pub(crate) fn record(&mut self, at_ms: TimeMs, disk: DiskStatus) {
        if self.latest.is_some_and(|(t, _)| at_ms < t) {
            return;
        }
        self.latest = Some((at_ms, disk));
        if self
            .newest_sample_at()
            .is_some_and(|t| at_ms < t.saturating_add(SAMPLE_SPACING_MS))
        {
            return;
        }
        if self.len == RING {
            self.ring[self.head] = (at_ms, disk.used_bytes);
            self.head = (self.head + 1) % RING;
        } else {
            self.ring[(self.head + self.len) % RING] = (at_ms, disk.used_bytes);
            self.len += 1;
        }
    }

    /// Least-squares growth in bytes per ms over the samples received in
    /// `[max(cutoff, now - WINDOW_MS), now]`; `None` with too few samples or too short a span.
    pub(crate) fn slope(&self, now_ms: TimeMs, cutoff_ms: TimeMs) -> Option<f64> {
        let from = now_ms.saturating_sub(WINDOW_MS).max(cutoff_ms);
        let samples = (0..self.len)
            .map(|i| self.sample(i))
            .filter(|&(t, _)| t >= from && t <= now_ms);
        let (mut n, mut first, mut last) = (0usize, None, 0u64);
        for (t, _) in samples.clone() {
            n += 1;
            first.get_or_insert(t);
            last = t;
        }
        let first = first?;
        if n < MIN_SAMPLES || last - first < MIN_SPAN_MS {
            return None;
        }
        let nf = n as f64;
        let (mut sx, mut sy) = (0.0, 0.0);
        for (t, used) in samples.clone() {
            sx += (t - first) as f64;
            sy += used as f64;
        }
        let (mx, my) = (sx / nf, sy / nf);
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (t, used) in samples {
            let dx = (t - first) as f64 - mx;
            sxy += dx * (used as f64 - my);
            sxx += dx * dx;
        }
        (sxx > 0.0).then(|| sxy / sxx)
    }

    /// Milliseconds from `now_ms` until the usable space (total minus root-reserved)
    /// is gone at the current growth rate; `None` when not growing or not enough data.
    pub(crate) fn full_in_ms(&self, now_ms: TimeMs, cutoff_ms: TimeMs) -> Option<u64> {
        let (at, disk) = self.latest?;
        if at < cutoff_ms {
            return None;
        }
        let slope = self.slope(now_ms, cutoff_ms)?;
        if slope <= 0.0 {
            return None;
        }
        let usable = disk.total_bytes.saturating_sub(disk.reserved_bytes);
        let left = usable.saturating_sub(disk.used_bytes);
        let full_at = at as f64 + left as f64 / slope;
        Some(
            (full_at - now_ms as f64)
                .max(0.0)
                .min(u64::MAX as f64 / 2.0) as u64,
        )
    }

    /// Decides whether a forecast deserves an event: the first time it is under
    /// `horizon_ms`, then each time it has halved since the last event. Re-arms when
    /// the forecast goes away or climbs back above twice the horizon (hysteresis
    /// against a forecast hovering at the horizon).
    pub(crate) fn warn(&mut self, forecast: Option<u64>, horizon_ms: u64) -> Option<u64> {
        match forecast {
            Some(f) if f < horizon_ms => match self.warned_ms {
                Some(w) if f > w / 2 => None,
                _ => {
                    self.warned_ms = Some(f);
                    Some(f)
                }
            },
            Some(f) if f <= horizon_ms.saturating_mul(2) => None,
            _ => {
                self.warned_ms = None;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = 1 << 30;

    fn disk(used: u64) -> DiskStatus {
        DiskStatus {
            used_bytes: used,
            total_bytes: 100 * GB,
            reserved_bytes: 5 * GB,
        }
    }

    /// Grows 1 GB per hour from `start` used, one report every 10 s for `minutes`.
    fn growing(start: u64, minutes: u64) -> (DiskSeries, TimeMs) {
        let mut s = DiskSeries::default();
        let mut t = 0;
        while t <= minutes * MINUTE_MS {
            s.record(t, disk(start + GB * t / HOUR_MS));
            t += 10_000;
        }
        (s, t - 10_000)
    }

    #[test]
    fn needs_three_samples_over_a_minute() {
        let (s, now) = growing(50 * GB, 1);
        assert_eq!(s.len, 2);
        assert_eq!(s.full_in_ms(now, 0), None);
        let (s, now) = growing(50 * GB, 2);
        assert_eq!(s.len, 3);
        assert!(s.full_in_ms(now, 0).is_some());
    }

    #[test]
    fn forecast_accounts_for_root_reserved() {
        let (s, now) = growing(80 * GB, 30);
        // used = 80.5 GB at 30 min; usable = 95 GB; 14.5 GB left at 1 GB/h = 14.5 h.
        let f = s.full_in_ms(now, 0).unwrap();
        let expected = 14 * HOUR_MS + 30 * MINUTE_MS;
        assert!(f.abs_diff(expected) < 60_000, "{f} vs {expected}");
    }

    #[test]
    fn flat_or_shrinking_has_no_forecast() {
        let mut s = DiskSeries::default();
        for i in 0..10 {
            s.record(i * MINUTE_MS, disk(50 * GB - i));
        }
        assert_eq!(s.full_in_ms(10 * MINUTE_MS, 0), None);
    }

    #[test]
    fn already_full_is_zero() {
        let mut s = DiskSeries::default();
        for i in 0..5 {
            s.record(i * MINUTE_MS, disk(95 * GB + i * GB));
        }
        assert_eq!(s.full_in_ms(5 * MINUTE_MS, 0), Some(0));
    }

    #[test]
    fn ring_is_bounded_and_window_limits_samples() {
        let mut s = DiskSeries::default();
        for i in 0..200 {
            s.record(i * MINUTE_MS, disk(GB + i * GB / 100));
        }
        assert_eq!(s.len, RING);
        assert!(s.slope(199 * MINUTE_MS, 0).is_some());
        // Nothing in the last hour: no forecast.
        assert_eq!(s.slope(199 * MINUTE_MS + 2 * HOUR_MS, 0), None);
        // Cutoff excludes old samples.
        assert_eq!(s.slope(199 * MINUTE_MS, 198 * MINUTE_MS), None);
    }

    #[test]
    fn out_of_order_reports_are_ignored() {
        let mut s = DiskSeries::default();
        s.record(10 * MINUTE_MS, disk(GB));
        s.record(5 * MINUTE_MS, disk(2 * GB));
        assert_eq!(s.latest.unwrap().1.used_bytes, GB);
        assert_eq!(s.len, 1);
    }

    #[test]
    fn warns_first_under_horizon_then_on_halving() {
        let mut s = DiskSeries::default();
        let h = 6 * HOUR_MS;
        assert_eq!(s.warn(Some(7 * HOUR_MS), h), None);
        assert_eq!(s.warn(Some(5 * HOUR_MS), h), Some(5 * HOUR_MS));
        assert_eq!(s.warn(Some(4 * HOUR_MS), h), None);
        assert_eq!(s.warn(Some(3 * HOUR_MS), h), None);
        assert_eq!(s.warn(Some(2 * HOUR_MS), h), Some(2 * HOUR_MS));
        assert_eq!(s.warn(Some(HOUR_MS + 1), h), None);
        assert_eq!(s.warn(Some(HOUR_MS), h), Some(HOUR_MS));
        // Hovering just over the horizon does not re-arm; going away does.
        assert_eq!(s.warn(Some(7 * HOUR_MS), h), None);
        assert_eq!(s.warn(Some(5 * HOUR_MS), h), None);
        assert_eq!(s.warn(None, h), None);
        assert_eq!(s.warn(Some(5 * HOUR_MS), h), Some(5 * HOUR_MS));
    }
}
