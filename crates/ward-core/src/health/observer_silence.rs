//! Observers that stopped reporting. Their probes go stale and count as unknown
//! (never down), which is right for the targets but hides the loss of a vantage
//! point: quorum now rests on fewer observers. This says so, once per silence.

use super::HealthEvent;
use crate::ids::ObserverId;
use crate::time::TimeMs;

#[derive(Clone, Debug, Default)]
pub(crate) struct Silence {
    /// Per observer: receive time of its newest observation.
    last_at: Vec<Option<TimeMs>>,
    /// Per observer: reported silent (an event was emitted).
    silent: Vec<bool>,
    /// First refresh: an observer that never reported is measured from here.
    since_ms: Option<TimeMs>,
}

impl Silence {
    pub(crate) fn new(observers: usize) -> Silence {
        Silence { last_at: vec![None; observers], silent: vec![false; observers], since_ms: None }
    }

    #[inline]
    pub(crate) fn heard(&mut self, observer: usize, at_ms: TimeMs) {
        if let Some(last) = self.last_at.get_mut(observer) {
            *last = Some(last.map_or(at_ms, |l| l.max(at_ms)));
        }
    }

    #[inline]
    pub(crate) fn is_silent(&self, observer: usize) -> bool {
        self.silent.get(observer).copied().unwrap_or(false)
    }

    /// The first millisecond at which `update` would report an observer that is not
    /// silent yet as silent, with no new input (`None` before the first update).
    pub(crate) fn next_silent_ms(&self, quiet_max_ms: u64, cutoff_ms: TimeMs) -> Option<TimeMs> {
        let since = self.since_ms?;
        self.last_at
            .iter()
            .zip(&self.silent)
            .filter(|(_, silent)| !**silent)
            .map(|(last, _)| last.unwrap_or(0).max(since).max(cutoff_ms).saturating_add(quiet_max_ms).saturating_add(1))
            .min()
    }

    /// An observer is silent when nothing arrived from it for `quiet_max_ms`, counted
    /// from its last report, the controller's first refresh, or `cutoff_ms` (after a
    /// pause everyone gets a fresh chance), whichever is latest.
    pub(crate) fn update(&mut self, now_ms: TimeMs, quiet_max_ms: u64, cutoff_ms: TimeMs, events: &mut Vec<HealthEvent>) {
        let since = *self.since_ms.get_or_insert(now_ms);
        for (o, (last, silent)) in self.last_at.iter().zip(self.silent.iter_mut()).enumerate() {
            let reference = last.unwrap_or(0).max(since).max(cutoff_ms);
            let quiet = now_ms.saturating_sub(reference) > quiet_max_ms;
            if quiet && !*silent {
                *silent = true;
                events.push(HealthEvent::ObserverSilent { observer: ObserverId(o as u16), last_at_ms: *last });
            } else if !quiet && *silent && last.is_some_and(|l| l >= reference) {
                *silent = false;
                events.push(HealthEvent::ObserverReporting { observer: ObserverId(o as u16) });
            }
        }
    }

    /// Keeps what is known of observers that survive an inventory change (`map[new] = old`).
    pub(crate) fn carried(&self, map: &[Option<usize>]) -> Silence {
        Silence {
            last_at: map.iter().map(|old| old.and_then(|o| self.last_at.get(o).copied().flatten())).collect(),
            silent: map.iter().map(|old| old.is_some_and(|o| self.silent.get(o).copied().unwrap_or(false))).collect(),
            since_ms: self.since_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &mut Silence, now_ms: TimeMs) -> Vec<HealthEvent> {
        let mut events = Vec::new();
        s.update(now_ms, 10_000, 0, &mut events);
        events
    }

    #[test]
    fn an_observer_that_stops_reporting_is_reported_once_and_cleared_when_it_is_back() {
        let mut s = Silence::new(2);
        assert!(run(&mut s, 1_000).is_empty());
        s.heard(0, 1_000);
        s.heard(1, 1_000);
        s.heard(0, 9_000);
        assert!(run(&mut s, 10_000).is_empty());
        let events = run(&mut s, 11_500);
        assert_eq!(events, vec![HealthEvent::ObserverSilent { observer: ObserverId(1), last_at_ms: Some(1_000) }]);
        assert!(run(&mut s, 12_000).iter().all(|e| !matches!(e, HealthEvent::ObserverSilent { observer: ObserverId(1), .. })));
        s.heard(1, 12_500);
        let events = run(&mut s, 13_000);
        assert!(events.contains(&HealthEvent::ObserverReporting { observer: ObserverId(1) }), "{events:?}");
    }

    #[test]
    fn an_observer_that_never_reports_is_measured_from_the_start() {
        let mut s = Silence::new(1);
        assert!(run(&mut s, 50_000).is_empty(), "the first refresh starts the clock");
        assert_eq!(run(&mut s, 60_001), vec![HealthEvent::ObserverSilent { observer: ObserverId(0), last_at_ms: None }]);
    }

    #[test]
    fn after_a_pause_everyone_gets_a_fresh_chance() {
        let mut s = Silence::new(1);
        s.heard(0, 1_000);
        run(&mut s, 1_000);
        let mut events = Vec::new();
        s.update(30_000, 10_000, 29_000, &mut events);
        assert!(events.is_empty(), "{events:?}");
    }
}
