//! Quorum across observers for one probe.

use super::Status;

/// Votes for one probe. Suspect observers are counted as `unknown` (they abstain).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub up: u16,
    pub down: u16,
    pub unknown: u16,
}

impl Tally {
    #[inline]
    pub(crate) fn add(&mut self, vote: Status) {
        match vote {
            Status::Up => self.up = self.up.saturating_add(1),
            Status::Down => self.down = self.down.saturating_add(1),
            Status::Unknown => self.unknown = self.unknown.saturating_add(1),
        }
    }

    /// Up with at least `quorum` Up votes, Down with at least `quorum` Down votes,
    /// otherwise Unknown. A quorum of 0 is treated as 1.
    ///
    /// When both sides reach quorum (possible when quorum is at most half the
    /// observers) the side with strictly more votes wins and a tie is Unknown:
    /// observers that contradict each other are not evidence enough to act on.
    ///
    /// Since only fresh, non-suspect votes are Up or Down, a quorum larger than the
    /// number of fresh non-suspect observers always yields Unknown, never Down.
    pub(crate) fn decide(self, quorum: u16) -> Status {
        let quorum = quorum.max(1);
        let up = self.up >= quorum;
        let down = self.down >= quorum;
        match (up, down) {
            (true, false) => Status::Up,
            (false, true) => Status::Down,
            (false, false) => Status::Unknown,
            (true, true) => match self.up.cmp(&self.down) {
                std::cmp::Ordering::Greater => Status::Up,
                std::cmp::Ordering::Less => Status::Down,
                std::cmp::Ordering::Equal => Status::Unknown,
            },
        }
    }
}

/// Orders statuses by severity for node aggregation: Down > Unknown > Up.
pub(crate) fn severity(status: Status) -> u8 {
    match status {
        Status::Up => 0,
        Status::Unknown => 1,
        Status::Down => 2,
    }
}

/// The worse of two statuses (Down > Unknown > Up).
pub(crate) fn worst(a: Status, b: Status) -> Status {
    if severity(b) > severity(a) {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(up: u16, down: u16, unknown: u16) -> Tally {
        Tally { up, down, unknown }
    }

    #[test]
    fn quorum_of_two_out_of_three() {
        assert_eq!(tally(2, 1, 0).decide(2), Status::Up);
        assert_eq!(tally(1, 2, 0).decide(2), Status::Down);
        assert_eq!(tally(1, 1, 1).decide(2), Status::Unknown);
        assert_eq!(tally(0, 1, 2).decide(2), Status::Unknown);
    }

    #[test]
    fn quorum_above_fresh_observers_is_unknown_never_down() {
        assert_eq!(tally(0, 2, 1).decide(3), Status::Unknown);
        assert_eq!(tally(0, 0, 3).decide(1), Status::Unknown);
    }

    #[test]
    fn zero_quorum_is_one() {
        assert_eq!(tally(0, 1, 0).decide(0), Status::Down);
        assert_eq!(tally(0, 0, 0).decide(0), Status::Unknown);
    }

    #[test]
    fn both_sides_at_quorum_majority_wins_tie_unknown() {
        assert_eq!(tally(2, 1, 0).decide(1), Status::Up);
        assert_eq!(tally(1, 2, 0).decide(1), Status::Down);
        assert_eq!(tally(1, 1, 0).decide(1), Status::Unknown);
    }

    #[test]
    fn add_counts() {
        let mut t = Tally::default();
        for s in [Status::Up, Status::Down, Status::Down, Status::Unknown] {
            t.add(s);
        }
        assert_eq!(t, tally(1, 2, 1));
    }

    #[test]
    fn worst_orders_down_unknown_up() {
        assert_eq!(worst(Status::Up, Status::Unknown), Status::Unknown);
        assert_eq!(worst(Status::Down, Status::Unknown), Status::Down);
        assert_eq!(worst(Status::Unknown, Status::Up), Status::Unknown);
        assert_eq!(worst(Status::Up, Status::Up), Status::Up);
    }
}
