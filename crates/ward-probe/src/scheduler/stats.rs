//! Counters and latency histograms the scheduler keeps, lock-free so probe tasks on
//! any worker thread can record without contending on a mutex.

use std::sync::atomic::{AtomicU64, Ordering};

use ward_core::inventory::CheckKind;
use ward_core::observation::ProbeOutcome;

use crate::result::ProbeResult;

/// Upper bounds (inclusive, ms) of the latency buckets; a last bucket takes the rest
/// (`+Inf`). Fixed so Prometheus series stay stable across restarts.
pub const LATENCY_BOUNDS_MS: [u64; 12] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];
const BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// Every kind, in the order `SchedulerStats::latency` lists them.
pub const KINDS: [CheckKind; 7] =
    [CheckKind::Tcp, CheckKind::Http, CheckKind::Exec, CheckKind::Dns, CheckKind::Postgres, CheckKind::Mysql, CheckKind::Disk];

fn kind_index(kind: CheckKind) -> usize {
    KINDS.iter().position(|&k| k == kind).expect("KINDS lists every kind")
}

/// A snapshot of the scheduler's counters (all counts since start).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SchedulerStats {
    /// Probe runs spawned.
    pub started: u64,
    pub passed: u64,
    pub failed: u64,
    pub timed_out: u64,
    /// Runs not started when due: no concurrency slot free, the same probe's previous
    /// run still going, or whole intervals missed because the scheduler ran late.
    pub skipped: u64,
    /// Results not delivered because the sink channel was full (or closed).
    pub dropped: u64,
    /// Results discarded because the specs were replaced while they ran (their probe
    /// ids belong to the previous inventory).
    pub stale: u64,
    /// Runs going now, and the most ever at once.
    pub in_flight: u64,
    pub in_flight_max: u64,
    /// Probes scheduled now.
    pub probes: u64,
    /// Latency of finished runs, per check kind, in `KINDS` order.
    pub latency: Vec<(CheckKind, LatencyHistogram)>,
    /// Whether tcp checks to IPv4 addresses run half-open (a raw socket is open).
    pub tcp_half_open: bool,
    /// tcp runs started half-open, and by `connect()` (names, IPv6, no raw socket).
    pub tcp_half_open_runs: u64,
    pub tcp_connect_runs: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Runs per bucket (not cumulative): `counts[i]` ≤ `LATENCY_BOUNDS_MS[i]`, the last one beyond.
    pub counts: [u64; BUCKETS],
    /// Sum of latencies in microseconds (Prometheus `_sum`, in finer units than the buckets).
    pub sum_us: u64,
}

impl LatencyHistogram {
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Prometheus-style cumulative counts (`le` buckets, the last is `+Inf`).
    pub fn cumulative(&self) -> [u64; BUCKETS] {
        let mut total = 0;
        self.counts.map(|count| {
            total += count;
            total
        })
    }

    /// The upper bound (ms) of the bucket holding quantile `q` (0..=1); `None` when
    /// empty or when it falls in the `+Inf` bucket.
    pub fn quantile_upper_ms(&self, q: f64) -> Option<u64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * count as f64).ceil() as u64).max(1);
        let bucket = self.cumulative().iter().position(|&cumulative| cumulative >= rank)?;
        LATENCY_BOUNDS_MS.get(bucket).copied()
    }
}

#[derive(Default)]
struct AtomicHistogram {
    counts: [AtomicU64; BUCKETS],
    sum_us: AtomicU64,
}

#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) started: AtomicU64,
    passed: AtomicU64,
    failed: AtomicU64,
    timed_out: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) stale: AtomicU64,
    pub(crate) in_flight_max: AtomicU64,
    pub(crate) probes: AtomicU64,
    latency: [AtomicHistogram; KINDS.len()],
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub(crate) fn set(counter: &AtomicU64, value: u64) {
        counter.store(value, Ordering::Relaxed);
    }

    pub(crate) fn record(&self, kind: CheckKind, result: &ProbeResult) {
        let counter = match result.outcome {
            ProbeOutcome::Pass => &self.passed,
            ProbeOutcome::Fail => &self.failed,
            ProbeOutcome::Timeout => &self.timed_out,
        };
        Stats::add(counter, 1);
        let micros = result.latency.as_micros().min(u64::MAX as u128) as u64;
        let bucket = LATENCY_BOUNDS_MS.iter().position(|&bound| micros <= bound * 1_000).unwrap_or(BUCKETS - 1);
        let histogram = &self.latency[kind_index(kind)];
        Stats::add(&histogram.counts[bucket], 1);
        Stats::add(&histogram.sum_us, micros);
    }

    pub(crate) fn snapshot(&self, in_flight: u64) -> SchedulerStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        SchedulerStats {
            started: load(&self.started),
            passed: load(&self.passed),
            failed: load(&self.failed),
            timed_out: load(&self.timed_out),
            skipped: load(&self.skipped),
            dropped: load(&self.dropped),
            stale: load(&self.stale),
            in_flight,
            in_flight_max: load(&self.in_flight_max),
            probes: load(&self.probes),
            latency: KINDS
                .iter()
                .zip(&self.latency)
                .map(|(&kind, histogram)| {
                    (kind, LatencyHistogram { counts: histogram.counts.each_ref().map(load), sum_us: load(&histogram.sum_us) })
                })
                .collect(),
            ..SchedulerStats::default()
        }
    }
}
