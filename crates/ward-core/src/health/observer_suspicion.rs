//! Observer suspicion: a vantage point that sees most of its targets fail at once,
//! while others see them up (or nobody else can say), is more likely cut off itself
//! (seed 000: "our monitoring server lost the ability to communicate").
//! Suspect observers abstain from quorum.

use super::{HealthEvent, Status};
use crate::ids::ObserverId;

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

/// Which observers are suspect, remembered across refreshes to report changes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Suspicion {
    suspect: Vec<bool>,
}

impl Suspicion {
    pub(crate) fn new(observers: usize) -> Self {
        Suspicion {
            suspect: vec![false; observers],
        }
    }

    pub(crate) fn is_suspect(&self, observer: usize) -> bool {
        self.suspect.get(observer).copied().unwrap_or(false)
    }

    pub(crate) fn set(&mut self, observer: usize, suspect: bool) {
        if let Some(s) = self.suspect.get_mut(observer) {
            *s = suspect;
        }
    }

    pub(crate) fn suspects(&self) -> Vec<ObserverId> {
        self.suspect
            .iter()
            .enumerate()
            .filter(|(_, s)| **s)
            .map(|(o, _)| ObserverId(o as u16))
            .collect()
    }

    /// Applies new stats (`None`: suspicion disabled, everyone cleared) and appends
    /// ObserverSuspect/ObserverCleared events in observer order.
    pub(crate) fn update(
        &mut self,
        stats: Option<&[ObserverStats]>,
        percent: u32,
        events: &mut Vec<HealthEvent>,
    ) {
        for (o, was) in self.suspect.iter_mut().enumerate() {
            let stat = stats.and_then(|s| s.get(o));
            let now = stat.is_some_and(|s| s.is_suspect(percent));
            if now && !*was {
                let s = stat.copied().unwrap_or_default();
                events.push(HealthEvent::ObserverSuspect {
                    observer: ObserverId(o as u16),
                    failing: s.failing,
                    of: s.of,
                });
            } else if !now && *was {
                events.push(HealthEvent::ObserverCleared {
                    observer: ObserverId(o as u16),
                });
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
        (
            rows.iter().flat_map(|r| r.iter().copied()).collect(),
            observers,
        )
    }

    #[test]
    fn lone_observer_seeing_mass_failure_is_suspect() {
        let (votes, n) = matrix(&[&[Down], &[Down], &[Down], &[Up]]);
        let stats = assess(&votes, n);
        assert_eq!(
            stats[0],
            ObserverStats {
                failing: 3,
                of: 4,
                others_up: 0,
                others_votes: 0
            }
        );
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
        let (votes, n) = matrix(&[
            &[Down, Up, Up],
            &[Down, Up, Up],
            &[Down, Up, Down],
            &[Down, Up, Up],
        ]);
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
        let (votes, n) = matrix(&[
            &[Down, Unknown],
            &[Down, Unknown],
            &[Down, Unknown],
            &[Unknown, Up],
        ]);
        let stats = assess(&votes, n);
        assert_eq!(
            stats[0],
            ObserverStats {
                failing: 3,
                of: 3,
                others_up: 0,
                others_votes: 0
            }
        );
        assert!(stats[0].is_suspect(50));
        assert_eq!(stats[1].of, 1);
    }

    #[test]
    fn events_on_change_only() {
        let mut s = Suspicion::new(2);
        let suspect = ObserverStats {
            failing: 3,
            of: 3,
            others_up: 0,
            others_votes: 0,
        };
        let fine = ObserverStats::default();
        let mut events = Vec::new();
        s.update(Some(&[fine, suspect]), 50, &mut events);
        s.update(Some(&[fine, suspect]), 50, &mut events);
        assert_eq!(
            events,
            vec![HealthEvent::ObserverSuspect {
                observer: ObserverId(1),
                failing: 3,
                of: 3
            }]
        );
        assert_eq!(s.suspects(), vec![ObserverId(1)]);
        events.clear();
        s.update(None, 50, &mut events);
        assert_eq!(
            events,
            vec![HealthEvent::ObserverCleared {
                observer: ObserverId(1)
            }]
        );
        assert!(!s.is_suspect(1));
    }
}
