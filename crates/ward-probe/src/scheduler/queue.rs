//! When each probe runs next: one min-heap of due times for all probes, so the
//! scheduler is a single task and a timer, not one sleeping task per probe.
//!
//! Each probe has a fixed phase within its interval, derived from its identity (node
//! and check names), so 100,000 probes with the same interval spread evenly instead of
//! firing together, and keep their phase across reloads. Each run is then moved by a
//! random ±jitter around its nominal time, so probes from several observers do not
//! lock step; the nominal times never drift.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::spec::ProbeSpec;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Due {
    /// When to run: the nominal time moved by jitter.
    pub(crate) at: Instant,
    /// The un-jittered time on the probe's grid (phase + k × interval).
    pub(crate) nominal: Instant,
    /// Index into the current specs.
    pub(crate) slot: u32,
}

/// A heap entry: 16 bytes, so 100,000 probes make a 1.6 MB heap that the cache
/// keeps (with `Instant`s and the nominal time inline it was 40 bytes an entry and
/// popping was a tenth of the prober's CPU at 100k probes/s). Each probe has exactly
/// one entry, so its nominal time lives beside the heap, indexed by slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// Microseconds since `DueQueue::base`.
    at: u64,
    slot: u32,
}

pub(crate) struct DueQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    /// Per slot: its nominal time, in microseconds since `base`.
    nominal: Vec<u64>,
    base: Instant,
    rng: SmallRng,
    jitter_percent: u32,
}

impl DueQueue {
    pub(crate) fn new(jitter_percent: u32, seed: u64) -> DueQueue {
        DueQueue {
            heap: BinaryHeap::new(),
            nominal: Vec::new(),
            base: Instant::now(),
            rng: SmallRng::seed_from_u64(seed),
            jitter_percent: jitter_percent.min(50),
        }
    }

    fn micros(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.base).as_micros() as u64
    }

    fn instant(&self, micros: u64) -> Instant {
        self.base + Duration::from_micros(micros)
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn next_at(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(entry)| self.instant(entry.at))
    }

    /// Removes the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Due> {
        let now = self.micros(now);
        match self.heap.peek() {
            Some(Reverse(entry)) if entry.at <= now => self.heap.pop().map(|Reverse(entry)| self.due(entry)),
            _ => None,
        }
    }

    fn due(&self, entry: Entry) -> Due {
        Due { at: self.instant(entry.at), nominal: self.instant(self.nominal[entry.slot as usize]), slot: entry.slot }
    }

    pub(crate) fn drain(&mut self) -> Vec<Due> {
        let entries: Vec<Entry> = self.heap.drain().map(|Reverse(entry)| entry).collect();
        let dues = entries.into_iter().map(|entry| self.due(entry)).collect();
        self.nominal.clear();
        dues
    }

    pub(crate) fn push(&mut self, due: Due) {
        let slot = due.slot as usize;
        if slot >= self.nominal.len() {
            self.nominal.resize(slot + 1, 0);
        }
        self.nominal[slot] = self.micros(due.nominal);
        let at = self.micros(due.at);
        self.heap.push(Reverse(Entry { at, slot: due.slot }));
    }

    /// The first run of a probe: its phase within one interval from `start`.
    pub(crate) fn schedule_first(&mut self, spec: &ProbeSpec, slot: u32, start: Instant) {
        let interval = interval_of(spec);
        let phase = Duration::from_micros(mix(spec.identity_hash()) % interval.as_micros().max(1) as u64);
        self.schedule_at(start + phase, interval, slot);
    }

    /// Schedules the run on the grid at `nominal`, jittered.
    pub(crate) fn schedule_at(&mut self, nominal: Instant, interval: Duration, slot: u32) {
        let spread = interval.as_micros() as u64 * self.jitter_percent as u64 / 100;
        let at = if spread == 0 {
            nominal
        } else {
            let offset = self.rng.random_range(0..=2 * spread);
            // `nominal - spread + offset`, without going before the epoch of Instant.
            (nominal + Duration::from_micros(offset)).checked_sub(Duration::from_micros(spread)).unwrap_or(nominal)
        };
        self.push(Due { at, nominal, slot });
    }
}

/// Intervals below 1 ms are treated as 1 ms (the loader rejects them; this keeps a
/// hand-built spec from spinning the scheduler).
pub(crate) fn interval_of(spec: &ProbeSpec) -> Duration {
    spec.interval.max(Duration::from_millis(1))
}

/// splitmix64's finalizer: FNV's low bits are poorly mixed for similar names.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
