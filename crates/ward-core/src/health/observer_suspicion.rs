//! Observer suspicion: a vantage point that sees most of its targets fail at once,
//! while others see them up (or nobody else can say), is more likely cut off itself
//! (seed 000: "our monitoring server lost the ability to communicate").
//! Suspect observers abstain from quorum.
//!
//! The same holds over a short window (`FlapWatch`): an observer whose votes went
//! Down on more than `observer_suspect_percent` of its targets within
//! [`FLAP_WINDOW_MS`], while the other observers see those targets steady, is
//! suspect even if they never failed all at once (its own link flapping or lossy).
//! The node flaps its votes caused add no damping penalty (`table.rs` refunds
//! those already added), so a flapping observer cannot damp healthy nodes out.

use super::{HealthEvent, Status};
use crate::ids::ObserverId;
use crate::time::TimeMs;

/// Fewest Down votes before an observer can be suspect.
pub(crate) const SUSPECT_DOWN_MIN: u32 = 3;

/// What one observer's fresh votes look like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ObserverStats {
    /// Probes this observer votes Down on.
    pub failing: u32,
    /// Probes this observer has a fresh Up or Down vote on.
    pub of: u32,
    /// Other observers' fresh Up votes on the probes this observer votes Down on.
    pub others_up: u32,
    /// Other observers' fresh Up or Down votes on those probes.
    pub others_votes: u32,
}

impl ObserverStats {
    /// Down count at least [`SUSPECT_DOWN_MIN`], Down share above `percent`, and either
    /// a strict majority of the other observers' votes on the failing probes are Up,
    /// or no other observer has a fresh vote on them (a single vantage point).
    pub(crate) fn is_suspect(&self, percent: u32) -> bool {
        self.failing >= SUSPECT_DOWN_MIN
            && self.failing as u64 * 100 > percent as u64 * self.of as u64
            && (self.others_votes == 0 || self.others_up * 2 > self.others_votes)
    }
}

/// Computes every observer's stats from the dense vote matrix
/// (`votes[probe * observers + observer]`, Unknown when not fresh). O(probes x observers).
pub(crate) fn assess(votes: &[Status], observers: usize) -> Vec<ObserverStats> {
    let mut stats = vec![ObserverStats::default(); observers];
    if observers == 0 {
        return stats;
    }
    for row in votes.chunks_exact(observers) {
        let mut up = 0u32;
        let mut down = 0u32;
        for vote in row {
            match vote {
                Status::Up => up += 1,
                Status::Down => down += 1,
                Status::Unknown => {}
            }
        }
        for (o, vote) in row.iter().enumerate() {
            let s = &mut stats[o];
            match vote {
                Status::Up => s.of += 1,
                Status::Down => {
                    s.of += 1;
                    s.failing += 1;
                    s.others_up += up;
                    s.others_votes += up + down - 1;
                }
                Status::Unknown => {}
            }
        }
    }
    stats
}

/// How far back an observer's Down onsets count together as "flapping at once".
pub(crate) const FLAP_WINDOW_MS: u64 = 3 * crate::time::MINUTE_MS;

/// Each observer's recent Down onsets per probe, to see flaps that are spread out
/// in time but together across most of one observer's targets.
#[derive(Clone, Debug, Default)]
pub(crate) struct FlapWatch {
    observers: usize,
    /// `probe * observers + observer`: when that vote last went to Down.
    onset_ms: Vec<Option<TimeMs>>,
    /// The votes of the previous refresh.
    last: Vec<Status>,
}

/// One observer's flaps within the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FlapStats {
    /// Probes whose vote went Down within the window while no other observer
    /// votes Down on them now or went Down on them within the window.
    pub flapped: u32,
    /// Probes this observer has a fresh Up or Down vote on.
    pub of: u32,
}

impl FlapStats {
    pub(crate) fn is_suspect(&self, percent: u32) -> bool {
        self.flapped >= SUSPECT_DOWN_MIN && self.flapped as u64 * 100 > percent as u64 * self.of as u64
    }
}

impl FlapWatch {
    /// Drops `observer`'s onsets on the probes it sees up again (`votes`): an
    /// at-once failure it recovered from was judged by the at-once rule, and must
    /// not keep it suspect afterwards. Targets still down for it stay counted.
    pub(crate) fn forget(&mut self, observer: usize, votes: &[Status]) {
        if self.observers == 0 || votes.len() != self.onset_ms.len() {
            return;
        }
        for (onsets, row) in self.onset_ms.chunks_exact_mut(self.observers).zip(votes.chunks_exact(self.observers)) {
            if row.get(observer) != Some(&Status::Down) {
                if let Some(o) = onsets.get_mut(observer) {
                    *o = None;
                }
            }
        }
    }

    /// Records the onsets in `votes` (the dense matrix `assess` reads) and returns
    /// every observer's flaps within the window ending at `now_ms`.
    pub(crate) fn observe(&mut self, votes: &[Status], observers: usize, now_ms: TimeMs) -> Vec<FlapStats> {
        if self.observers != observers || self.last.len() != votes.len() {
            *self = FlapWatch { observers, onset_ms: vec![None; votes.len()], last: votes.to_vec() };
        }
        for (i, vote) in votes.iter().enumerate() {
            if *vote == Status::Down && self.last[i] != Status::Down {
                self.onset_ms[i] = Some(now_ms);
            }
        }
        self.last.copy_from_slice(votes);
        let mut stats = vec![FlapStats::default(); observers];
        if observers == 0 {
            return stats;
        }
        let recent = |at: &Option<TimeMs>| at.is_some_and(|at| now_ms.saturating_sub(at) <= FLAP_WINDOW_MS);
        for (row, onsets) in votes.chunks_exact(observers).zip(self.onset_ms.chunks_exact(observers)) {
            // Observers that see this probe Down now or saw it go Down within the window.
            let seen_by = (0..observers).filter(|&o| row[o] == Status::Down || recent(&onsets[o])).count();
            for (o, vote) in row.iter().enumerate() {
                if *vote != Status::Unknown {
                    stats[o].of += 1;
                }
                // Steady for the others: none of them saw it (a site that flaps
                // flaps for every observer).
                if recent(&onsets[o]) && seen_by == 1 {
                    stats[o].flapped += 1;
                }
            }
        }
        stats
    }
}

/// Which observers are suspect, remembered across refreshes to report changes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Suspicion {
    suspect: Vec<bool>,
    /// Suspect by the at-once rule at the last update.
    at_once: Vec<bool>,
}

impl Suspicion {
    pub(crate) fn new(observers: usize) -> Self {
        Suspicion { suspect: vec![false; observers], at_once: vec![false; observers] }
    }

    pub(crate) fn is_suspect(&self, observer: usize) -> bool {
        self.suspect.get(observer).copied().unwrap_or(false)
    }

    pub(crate) fn set(&mut self, observer: usize, suspect: bool) {
        if let Some(s) = self.suspect.get_mut(observer) {
            *s = suspect;
        }
    }

    /// Observers that were suspect at once and no longer are by `stats`: they
    /// recovered from a mass failure.
    pub(crate) fn recovered(&self, stats: &[ObserverStats], percent: u32) -> Vec<usize> {
        (0..self.at_once.len()).filter(|&o| self.at_once[o] && !stats.get(o).is_some_and(|s| s.is_suspect(percent))).collect()
    }

    pub(crate) fn suspects(&self) -> Vec<ObserverId> {
        self.suspect.iter().enumerate().filter(|(_, s)| **s).map(|(o, _)| ObserverId(o as u16)).collect()
    }

    /// Applies new stats (`None`: suspicion disabled, everyone cleared) and appends
    /// ObserverSuspect/ObserverCleared events in observer order.
    /// `flaps`: the windowed view (`FlapWatch`); an observer is suspect on either.
    pub(crate) fn update(
        &mut self,
        stats: Option<&[ObserverStats]>,
        flaps: Option<&[FlapStats]>,
        percent: u32,
        events: &mut Vec<HealthEvent>,
    ) {
        for (o, was) in self.suspect.iter_mut().enumerate() {
            let stat = stats.and_then(|s| s.get(o));
            if let Some(flag) = self.at_once.get_mut(o) {
                *flag = stat.is_some_and(|s| s.is_suspect(percent));
            }
            // Once suspect, an observer stays suspect while any of its targets
            // still flaps for it alone within the window (no clearing in the lulls).
            let flap = flaps.and_then(|f| f.get(o)).filter(|f| f.is_suspect(percent) || (*was && f.flapped > 0));
            let at_once = stat.is_some_and(|s| s.is_suspect(percent));
            let now = at_once || flap.is_some();
            if now && !*was {
                let s = stat.copied().unwrap_or_default();
                let event = match flap.filter(|_| !at_once) {
                    Some(f) => {
                        HealthEvent::ObserverSuspect { observer: ObserverId(o as u16), failing: f.flapped, of: f.of, flapping: true }
                    }
                    None => HealthEvent::ObserverSuspect { observer: ObserverId(o as u16), failing: s.failing, of: s.of, flapping: false },
                };
                events.push(event);
            } else if !now && *was {
                events.push(HealthEvent::ObserverCleared { observer: ObserverId(o as u16) });
            }
            *was = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    /// Builds a vote matrix from rows (one row per probe).
    fn matrix(rows: &[&[Status]]) -> (Vec<Status>, usize) {
        let observers = rows[0].len();
        (rows.iter().flat_map(|r| r.iter().copied()).collect(), observers)
    }

    #[test]
    fn lone_observer_seeing_mass_failure_is_suspect() {
        let (votes, n) = matrix(&[&[Down], &[Down], &[Down], &[Up]]);
        let stats = assess(&votes, n);
        assert_eq!(stats[0], ObserverStats { failing: 3, of: 4, others_up: 0, others_votes: 0 });
        assert!(stats[0].is_suspect(50));
    }

    #[test]
    fn fewer_than_three_failures_is_never_suspect() {
        let (votes, n) = matrix(&[&[Down], &[Down]]);
        assert!(!assess(&votes, n)[0].is_suspect(50));
    }

    #[test]
    fn share_must_exceed_percent() {
        // 3 of 6 is exactly 50%: not above it.
        let (votes, n) = matrix(&[&[Down], &[Down], &[Down], &[Up], &[Up], &[Up]]);
        assert!(!assess(&votes, n)[0].is_suspect(50));
        assert!(assess(&votes, n)[0].is_suspect(49));
    }

    #[test]
    fn contradicted_by_others_is_suspect() {
        let (votes, n) = matrix(&[&[Down, Up, Up], &[Down, Up, Up], &[Down, Up, Down], &[Down, Up, Up]]);
        let stats = assess(&votes, n);
        assert_eq!(stats[0].failing, 4);
        assert_eq!(stats[0].others_up, 7);
        assert_eq!(stats[0].others_votes, 8);
        assert!(stats[0].is_suspect(50));
        assert!(!stats[1].is_suspect(50));
        assert!(!stats[2].is_suspect(50));
    }

    #[test]
    fn confirmed_by_others_is_a_real_outage() {
        let (votes, n) = matrix(&[&[Down, Down, Up], &[Down, Down, Up], &[Down, Down, Down]]);
        let stats = assess(&votes, n);
        assert!(!stats[0].is_suspect(50));
        assert!(!stats[1].is_suspect(50));
    }

    #[test]
    fn unknown_votes_do_not_count() {
        let (votes, n) = matrix(&[&[Down, Unknown], &[Down, Unknown], &[Down, Unknown], &[Unknown, Up]]);
        let stats = assess(&votes, n);
        assert_eq!(stats[0], ObserverStats { failing: 3, of: 3, others_up: 0, others_votes: 0 });
        assert!(stats[0].is_suspect(50));
        assert_eq!(stats[1].of, 1);
    }

    #[test]
    fn events_on_change_only() {
        let mut s = Suspicion::new(2);
        let suspect = ObserverStats { failing: 3, of: 3, others_up: 0, others_votes: 0 };
        let fine = ObserverStats::default();
        let mut events = Vec::new();
        s.update(Some(&[fine, suspect]), None, 50, &mut events);
        s.update(Some(&[fine, suspect]), None, 50, &mut events);
        assert_eq!(events, vec![HealthEvent::ObserverSuspect { observer: ObserverId(1), failing: 3, of: 3, flapping: false }]);
        assert_eq!(s.suspects(), vec![ObserverId(1)]);
        events.clear();
        s.update(None, None, 50, &mut events);
        assert_eq!(events, vec![HealthEvent::ObserverCleared { observer: ObserverId(1) }]);
        assert!(!s.is_suspect(1));
    }

    #[test]
    fn flaps_spread_over_the_window_across_most_targets_make_the_observer_suspect() {
        let mut watch = FlapWatch::default();
        // Two observers, six probes; observer 0's votes on probes 2..6 go Down one
        // at a time (never more than one at once), observer 1 sees all Up.
        let mut votes = vec![Up; 12];
        let mut now = 0;
        let mut last = watch.observe(&votes, 2, now);
        for p in 2..6usize {
            votes[p * 2] = Down;
            now += 20_000;
            watch.observe(&votes, 2, now);
            votes[p * 2] = Up;
            now += 5_000;
            last = watch.observe(&votes, 2, now);
        }
        assert_eq!(last[0], FlapStats { flapped: 4, of: 6 });
        assert!(last[0].is_suspect(50));
        assert_eq!(last[1].flapped, 0);
        let mut s = Suspicion::new(2);
        let mut events = Vec::new();
        s.update(Some(&[ObserverStats::default(); 2]), Some(&last), 50, &mut events);
        assert_eq!(events, vec![HealthEvent::ObserverSuspect { observer: ObserverId(0), failing: 4, of: 6, flapping: true }]);
        // One target still flapping: it stays suspect through the lull.
        votes[4] = Down;
        let one = watch.observe(&votes, 2, now + FLAP_WINDOW_MS);
        votes[4] = Up;
        assert!(!one[0].is_suspect(50));
        events.clear();
        s.update(Some(&[ObserverStats::default(); 2]), Some(&one), 50, &mut events);
        assert!(events.is_empty() && s.is_suspect(0));
        // Quiet for longer than the window: no longer suspect.
        let later = watch.observe(&votes, 2, now + 2 * FLAP_WINDOW_MS + 1);
        s.update(Some(&[ObserverStats::default(); 2]), Some(&later), 50, &mut events);
        assert_eq!(events, vec![HealthEvent::ObserverCleared { observer: ObserverId(0) }]);
    }

    #[test]
    fn flaps_other_observers_see_too_are_the_targets_not_the_observer() {
        let mut watch = FlapWatch::default();
        let mut votes = vec![Up; 8];
        watch.observe(&votes, 2, 0);
        for p in 0..4usize {
            votes[p * 2] = Down;
            votes[p * 2 + 1] = Down;
        }
        let stats = watch.observe(&votes, 2, 10_000);
        assert_eq!(stats[0].flapped, 0);
        assert!(!stats[0].is_suspect(50) && !stats[1].is_suspect(50));
        // Back up for both: the flaps both saw still do not count against either.
        let stats = watch.observe(&[Up; 8], 2, 20_000);
        assert_eq!((stats[0].flapped, stats[1].flapped), (0, 0));
    }
}
