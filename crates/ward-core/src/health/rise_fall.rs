//! Per (probe, observer) rise/fall hysteresis and staleness.
//!
//! One [`RiseFall`] cell per (probe, observer) pair. Cells are plain `Copy` data in a
//! dense `Vec`, so recording an observation is a handful of stores: no allocation,
//! no hashing.

use super::Status;
use crate::observation::ProbeOutcome;
use crate::time::TimeMs;

/// A check's hysteresis thresholds. `rise`/`fall` of 0 are treated as 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Thresholds {
    /// Passes in a row before a probe counts as up.
    pub rise: u32,
    /// Failures in a row, all hard ones (refused, wrong answer), before it counts as down.
    pub fall: u32,
    /// Failures in a row when some are timeouts: a freeze or a slow path may pass, a
    /// refused connection does not (>= `fall`).
    pub timeout_fall: u32,
}

#[cfg(test)]
impl Thresholds {
    pub(crate) const fn new(rise: u32, fall: u32) -> Self {
        Thresholds { rise, fall, timeout_fall: fall }
    }
}

/// Hysteresis state of one probe as one observer sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RiseFall {
    /// Settled state: changes only after `rise` passes or `fall` failures in a row.
    state: Status,
    /// Whether the current streak is of passes (`true`) or failures (`false`).
    streak_pass: bool,
    /// Length of the current streak of identical results.
    streak: u32,
    /// Hard failures (not timeouts) in the current failure streak.
    hard: u32,
    /// The outcome of the newest observation (`None`: never observed). Used by naive mode.
    last_pass: Option<bool>,
    /// Receive time of the newest observation.
    last_at: Option<TimeMs>,
}

impl Default for RiseFall {
    fn default() -> Self {
        RiseFall::new()
    }
}

impl RiseFall {
    pub(crate) const fn new() -> Self {
        RiseFall { state: Status::Unknown, streak_pass: false, streak: 0, hard: 0, last_pass: None, last_at: None }
    }

    /// Records one result. Returns whether the hysteresis state or the latest
    /// outcome changed (worth planning early).
    #[inline]
    pub(crate) fn record(&mut self, outcome: ProbeOutcome, at_ms: TimeMs, limits: Thresholds) -> bool {
        let before = (self.state, self.last_pass);
        let pass = outcome.is_pass();
        if self.streak > 0 && self.streak_pass == pass {
            self.streak = self.streak.saturating_add(1);
        } else {
            self.streak_pass = pass;
            self.streak = 1;
            self.hard = 0;
        }
        if outcome == ProbeOutcome::Fail {
            self.hard = self.hard.saturating_add(1);
        }
        if pass {
            if self.streak >= limits.rise.max(1) {
                self.state = Status::Up;
            }
        } else if self.hard >= limits.fall.max(1) || self.streak >= limits.timeout_fall.max(limits.fall).max(1) {
            self.state = Status::Down;
        }
        self.last_pass = Some(pass);
        // Keep the newest receive time even if observations arrive out of order.
        self.last_at = Some(match self.last_at {
            Some(previous) => previous.max(at_ms),
            None => at_ms,
        });
        before != (self.state, self.last_pass)
    }

    /// Forgets everything (used when the data predates an `invalidate_before` cutoff).
    pub(crate) fn reset(&mut self) {
        *self = RiseFall::new();
    }

    pub(crate) fn last_at(&self) -> Option<TimeMs> {
        self.last_at
    }

    /// Whether the newest observation is usable at `now_ms`: received at or after
    /// `cutoff_ms` and no older than `stale_after_ms`.
    #[inline]
    pub(crate) fn is_fresh(&self, now_ms: TimeMs, stale_after_ms: u64, cutoff_ms: TimeMs) -> bool {
        match self.last_at {
            Some(at) => at >= cutoff_ms && now_ms.saturating_sub(at) <= stale_after_ms,
            None => false,
        }
    }

    /// The hysteresis vote: the settled state when fresh, otherwise Unknown (stale is never Down).
    #[inline]
    pub(crate) fn vote(&self, now_ms: TimeMs, stale_after_ms: u64, cutoff_ms: TimeMs) -> Status {
        if self.is_fresh(now_ms, stale_after_ms, cutoff_ms) {
            self.state
        } else {
            Status::Unknown
        }
    }

    /// The naive vote (rise = fall = 1): the newest result when fresh, otherwise Unknown.
    #[inline]
    pub(crate) fn naive_vote(&self, now_ms: TimeMs, stale_after_ms: u64, cutoff_ms: TimeMs) -> Status {
        match self.last_pass {
            Some(pass) if self.is_fresh(now_ms, stale_after_ms, cutoff_ms) => {
                if pass {
                    Status::Up
                } else {
                    Status::Down
                }
            }
            _ => Status::Unknown,
        }
    }

    /// When this cell's data goes stale, if it is fresh now.
    pub(crate) fn stale_at(&self, now_ms: TimeMs, stale_after_ms: u64, cutoff_ms: TimeMs) -> Option<TimeMs> {
        if self.is_fresh(now_ms, stale_after_ms, cutoff_ms) {
            self.last_at.map(|at| at.saturating_add(stale_after_ms).saturating_add(1))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::ProbeOutcome::*;

    const STALE: u64 = 10_000;

    fn feed(cell: &mut RiseFall, outcomes: &[ProbeOutcome], rise: u32, fall: u32) -> Vec<Status> {
        outcomes
            .iter()
            .enumerate()
            .map(|(i, &o)| {
                let at = 1_000 * (i as u64 + 1);
                cell.record(o, at, Thresholds::new(rise, fall));
                cell.vote(at, STALE, 0)
            })
            .collect()
    }

    #[test]
    fn starts_unknown() {
        let cell = RiseFall::new();
        assert_eq!(cell.vote(0, STALE, 0), Status::Unknown);
        assert_eq!(cell.naive_vote(0, STALE, 0), Status::Unknown);
        assert_eq!(cell.last_at(), None);
    }

    #[test]
    fn rise_passes_make_up_from_unknown() {
        let mut cell = RiseFall::new();
        let seen = feed(&mut cell, &[Pass, Pass, Pass], 3, 2);
        assert_eq!(seen, vec![Status::Unknown, Status::Unknown, Status::Up]);
    }

    #[test]
    fn fall_failures_make_down_from_unknown_and_timeout_counts() {
        let mut cell = RiseFall::new();
        let seen = feed(&mut cell, &[Fail, Timeout], 3, 2);
        assert_eq!(seen, vec![Status::Unknown, Status::Down]);
    }

    #[test]
    fn interrupted_streak_does_not_flip() {
        let mut cell = RiseFall::new();
        feed(&mut cell, &[Pass, Pass], 2, 3);
        assert_eq!(cell.vote(2_000, STALE, 0), Status::Up);
        cell.record(Fail, 3_000, Thresholds::new(2, 3));
        cell.record(Fail, 4_000, Thresholds::new(2, 3));
        cell.record(Pass, 5_000, Thresholds::new(2, 3));
        cell.record(Fail, 6_000, Thresholds::new(2, 3));
        cell.record(Fail, 7_000, Thresholds::new(2, 3));
        assert_eq!(cell.vote(7_000, STALE, 0), Status::Up);
        cell.record(Fail, 8_000, Thresholds::new(2, 3));
        assert_eq!(cell.vote(8_000, STALE, 0), Status::Down);
        // One pass is not enough to come back with rise = 2.
        cell.record(Pass, 9_000, Thresholds::new(2, 3));
        assert_eq!(cell.vote(9_000, STALE, 0), Status::Down);
        assert_eq!(cell.naive_vote(9_000, STALE, 0), Status::Up);
        cell.record(Pass, 10_000, Thresholds::new(2, 3));
        assert_eq!(cell.vote(10_000, STALE, 0), Status::Up);
    }

    #[test]
    fn zero_thresholds_behave_like_one() {
        let mut cell = RiseFall::new();
        cell.record(Fail, 1, Thresholds::new(0, 0));
        assert_eq!(cell.vote(1, STALE, 0), Status::Down);
    }

    #[test]
    fn stale_is_unknown_never_down() {
        let mut cell = RiseFall::new();
        cell.record(Fail, 1_000, Thresholds::new(1, 1));
        assert_eq!(cell.vote(1_000 + STALE, STALE, 0), Status::Down);
        assert_eq!(cell.vote(1_001 + STALE, STALE, 0), Status::Unknown);
        assert_eq!(cell.naive_vote(1_001 + STALE, STALE, 0), Status::Unknown);
        assert_eq!(cell.stale_at(1_000, STALE, 0), Some(1_001 + STALE));
        assert_eq!(cell.stale_at(1_001 + STALE, STALE, 0), None);
    }

    #[test]
    fn cutoff_makes_older_data_unknown() {
        let mut cell = RiseFall::new();
        cell.record(Fail, 1_000, Thresholds::new(1, 1));
        assert_eq!(cell.vote(1_500, STALE, 1_001), Status::Unknown);
        assert_eq!(cell.vote(1_500, STALE, 1_000), Status::Down);
    }

    #[test]
    fn out_of_order_keeps_newest_time() {
        let mut cell = RiseFall::new();
        cell.record(Pass, 5_000, Thresholds::new(1, 1));
        cell.record(Pass, 4_000, Thresholds::new(1, 1));
        assert_eq!(cell.last_at(), Some(5_000));
        cell.reset();
        assert_eq!(cell, RiseFall::new());
    }

    #[test]
    fn a_refused_connection_counts_at_fall_but_timeouts_get_the_longer_grace() {
        let limits = Thresholds { rise: 1, fall: 2, timeout_fall: 4 };
        let mut cell = RiseFall::new();
        cell.record(Pass, 1_000, limits);
        // A freeze: timeouts only count at timeout_fall.
        for (i, expect) in [Status::Up, Status::Up, Status::Up, Status::Down].into_iter().enumerate() {
            cell.record(Timeout, 2_000 + i as u64, limits);
            assert_eq!(cell.vote(2_000 + i as u64, STALE, 0), expect, "timeout #{}", i + 1);
        }
        // A crash: two refusals in a row are enough.
        let mut cell = RiseFall::new();
        cell.record(Pass, 1_000, limits);
        cell.record(Fail, 2_000, limits);
        assert_eq!(cell.vote(2_000, STALE, 0), Status::Up);
        cell.record(Fail, 3_000, limits);
        assert_eq!(cell.vote(3_000, STALE, 0), Status::Down);
        // A timeout then refusals (a process that froze, then died): the refusals count.
        let mut cell = RiseFall::new();
        cell.record(Pass, 1_000, limits);
        cell.record(Timeout, 2_000, limits);
        cell.record(Fail, 3_000, limits);
        assert_eq!(cell.vote(3_000, STALE, 0), Status::Up);
        cell.record(Fail, 4_000, limits);
        assert_eq!(cell.vote(4_000, STALE, 0), Status::Down);
        // A pass in between starts over.
        cell.record(Pass, 5_000, limits);
        cell.record(Fail, 6_000, limits);
        assert_eq!(cell.vote(6_000, STALE, 0), Status::Up);
    }
}
