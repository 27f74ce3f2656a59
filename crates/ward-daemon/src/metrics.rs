//! `/metrics` in the Prometheus text format: the driver's counters, plus gauges
//! read from the view (node and service states, jobs, alerts, approvals).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use ward_core::health::Status;

use crate::view::View;

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A fixed-bucket histogram (seconds).
pub struct Histogram {
    bounds: &'static [f64],
    state: Mutex<(Vec<u64>, f64, u64)>,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram { bounds, state: Mutex::new((vec![0; bounds.len()], 0.0, 0)) }
    }

    pub fn observe(&self, value: f64) {
        if let Ok(mut state) = self.state.lock() {
            for (i, bound) in self.bounds.iter().enumerate() {
                if value <= *bound {
                    state.0[i] += 1;
                }
            }
            state.1 += value;
            state.2 += 1;
        }
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let Ok(state) = self.state.lock() else { return };
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in self.bounds.iter().zip(&state.0) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}", state.2, state.1, state.2);
    }
}

const FSYNC_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

pub struct Counters {
    pub observations: Counter,
    /// Observations dropped because they belonged to another inventory version.
    pub observations_stale: Counter,
    pub journal_records: Counter,
    pub job_steps: Counter,
    pub notifications: Counter,
    pub journal_append_seconds: Histogram,
    /// Probe results that failed for a reason on this machine (out of descriptors,
    /// a spawn failure): dropped, never evidence about a node.
    pub observer_faults: Counter,
    /// `ward agent` lease renewals answered.
    pub lease_renewals: Counter,
    /// Whether the journal can be written (Ward acts only while it can).
    pub journal: crate::halt::JournalHealth,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            observations: Counter::default(),
            observations_stale: Counter::default(),
            journal_records: Counter::default(),
            job_steps: Counter::default(),
            notifications: Counter::default(),
            journal_append_seconds: Histogram::new(FSYNC_BUCKETS),
            observer_faults: Counter::default(),
            lease_renewals: Counter::default(),
            journal: crate::halt::JournalHealth::default(),
        }
    }
}

/// Extra lines from other subsystems (the probe scheduler's histograms).
pub type Extra = Box<dyn Fn(&mut String) + Send + Sync>;

pub fn render(view: &View, counters: &Counters, extra: &[Extra]) -> String {
    let mut out = String::with_capacity(4096);
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
    };
    counter("ward_observations_total", "Probe results taken in.", counters.observations.get());
    counter(
        "ward_observations_stale_total",
        "Probe results dropped: taken under another inventory version.",
        counters.observations_stale.get(),
    );
    counter("ward_journal_records_total", "Journal records written durably.", counters.journal_records.get());
    counter("ward_job_steps_total", "Job steps handed to actuators.", counters.job_steps.get());
    counter("ward_notifications_total", "Notifications queued.", counters.notifications.get());
    counter("ward_agent_lease_renewals_total", "`ward agent` lease renewals answered.", counters.lease_renewals.get());
    counter(
        "ward_observer_faults_total",
        "Probe results dropped because the controller itself failed (out of descriptors, buffers or processes).",
        counters.observer_faults.get(),
    );
    counter("ward_journal_append_failures_total", "Journal appends that failed (each retry counts).", counters.journal.failures());
    let acting = u8::from(counters.journal.failing().is_none());
    let _ = writeln!(
        out,
        "# HELP ward_acting 1 while Ward acts; 0 while it has stopped because its journal cannot be written.\n# TYPE ward_acting gauge\nward_acting {acting}"
    );
    counters.journal_append_seconds.render(
        &mut out,
        "ward_journal_append_seconds",
        "Time to append and fsync one batch of journal records.",
    );
    let _ = writeln!(out, "# HELP ward_node_up Node health: 1 up, 0 down, -1 unknown.\n# TYPE ward_node_up gauge");
    for node in &view.nodes {
        let value = match node.status {
            Status::Up => 1,
            Status::Down => 0,
            Status::Unknown => -1,
        };
        let _ = writeln!(out, "ward_node_up{{node=\"{}\",site=\"{}\"}} {value}", escape(&node.name), escape(&node.site));
    }
    let _ = writeln!(out, "# HELP ward_node_suppressed 1 while flap damping keeps the node out.\n# TYPE ward_node_suppressed gauge");
    for node in &view.nodes {
        let _ = writeln!(out, "ward_node_suppressed{{node=\"{}\"}} {}", escape(&node.name), node.suppressed as u8);
    }
    let _ = writeln!(out, "# HELP ward_service_holders Nodes currently holding the service.\n# TYPE ward_service_holders gauge");
    for service in &view.services {
        let _ = writeln!(
            out,
            "ward_service_holders{{service=\"{}\",kind=\"{}\"}} {}",
            escape(&service.name),
            service.kind,
            service.holders.len()
        );
    }
    let gauge = |out: &mut String, name: &str, help: &str, value: u32| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    };
    gauge(&mut out, "ward_jobs_in_flight", "Jobs running or waiting for actuator capacity.", view.status.jobs_in_flight);
    gauge(&mut out, "ward_alerts_open", "Open alert groups.", view.status.open_alerts);
    gauge(&mut out, "ward_approvals_pending", "Decisions waiting for an operator.", view.status.pending_approvals);
    let _ = writeln!(out, "# HELP ward_budget_moves_left Moves left in the blast-radius budget window (group \"*\": the fleet).\n# TYPE ward_budget_moves_left gauge");
    for usage in &view.budget {
        let _ = writeln!(out, "ward_budget_moves_left{{group=\"{}\"}} {}", escape(&usage.group), usage.limit.saturating_sub(usage.used));
    }
    for add in extra {
        add(&mut out);
    }
    out
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The probe scheduler's counters and latency histograms.
pub fn render_probe_stats(out: &mut String, stats: &ward_probe::SchedulerStats) {
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
    };
    counter("ward_probe_runs_total", "Probe runs started.", stats.started);
    counter("ward_probe_failures_total", "Probe runs that failed.", stats.failed);
    counter("ward_probe_timeouts_total", "Probe runs that hit their timeout.", stats.timed_out);
    counter("ward_probe_skipped_total", "Probe runs skipped: no slot free or still running when due.", stats.skipped);
    counter("ward_probe_dropped_total", "Probe results dropped: the queue to the controller was full.", stats.dropped);
    let _ = writeln!(out, "# HELP ward_probe_latency_seconds Probe latency by check kind.\n# TYPE ward_probe_latency_seconds histogram");
    for (kind, histogram) in &stats.latency {
        let kind = format!("{kind:?}").to_lowercase();
        let mut cumulative = 0u64;
        for (bound_ms, count) in ward_probe::scheduler::LATENCY_BOUNDS_MS.iter().zip(histogram.counts.iter()) {
            cumulative += count;
            let _ = writeln!(out, "ward_probe_latency_seconds_bucket{{kind=\"{kind}\",le=\"{}\"}} {cumulative}", *bound_ms as f64 / 1000.0);
        }
        let _ = writeln!(
            out,
            "ward_probe_latency_seconds_bucket{{kind=\"{kind}\",le=\"+Inf\"}} {}\nward_probe_latency_seconds_sum{{kind=\"{kind}\"}} {}\nward_probe_latency_seconds_count{{kind=\"{kind}\"}} {}",
            histogram.count(),
            histogram.sum_us as f64 / 1e6,
            histogram.count()
        );
    }
}
