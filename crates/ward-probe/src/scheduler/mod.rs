//! The probe scheduler: runs every probe once per interval, bounded in concurrency,
//! delivering observations on a bounded channel without ever waiting on it.
//!
//! Shape: one scheduler task owns a heap of due times (`queue.rs`). When a probe is
//! due it gets a slot from a semaphore or is skipped (counted) — there is never a
//! backlog of late runs. A run is its own small task; it sends its observation with
//! `try_send`, and a full channel counts a drop instead of stalling anyone.

mod queue;
mod run;
mod stats;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;
use ward_core::ids::ObserverId;
use ward_core::observation::Observation;

pub use stats::{LatencyHistogram, SchedulerStats, KINDS, LATENCY_BOUNDS_MS};

use crate::context::{ProbeContext, TcpPath};
use crate::spec::ProbeSpec;

#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// Probe runs in flight at most; a run due while all slots are taken is skipped.
    pub concurrency_max: usize,
    /// Each run moves by up to ± this share of its interval (capped at 50).
    pub jitter_percent: u32,
    /// Connect timeout of the shared HTTP client (each request also has its check's timeout).
    pub http_connect_timeout: Duration,
    /// Runs started per scheduler wake-up at most before it lets other tasks in
    /// (after a long pause many probes are due at once).
    pub batch_max: usize,
    /// How tcp checks run: half-open (SYN) where it can by default; see `TcpPath`.
    pub tcp_path: TcpPath,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            concurrency_max: 1024,
            jitter_percent: 10,
            http_connect_timeout: Duration::from_secs(5),
            batch_max: 4096,
            tcp_path: TcpPath::default(),
        }
    }
}

pub struct Scheduler;

impl Scheduler {
    /// Starts probing on the current tokio runtime. Observations are stamped with
    /// `observer` and the local wall clock (`at_ms` and `observer_clock_ms`; the
    /// controller re-stamps `at_ms` on receipt).
    pub fn start(specs: Vec<ProbeSpec>, observer: ObserverId, sink: mpsc::Sender<Observation>, config: SchedulerConfig) -> SchedulerHandle {
        let concurrency_max = config.concurrency_max.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        let shared = Arc::new(run::Shared {
            observer,
            sink,
            context: ProbeContext::new(config.http_connect_timeout).with_tcp_path(config.tcp_path),
            semaphore: Arc::new(Semaphore::new(concurrency_max)),
            concurrency_max,
            generation: RwLock::new(0),
            stats: Default::default(),
        });
        let (commands, receiver) = mpsc::channel(4);
        let task = tokio::spawn(run::scheduler_loop(shared.clone(), specs, receiver, config));
        SchedulerHandle { commands, shared, task }
    }
}

pub(crate) enum Command {
    Replace(Vec<ProbeSpec>, oneshot::Sender<()>),
    Stop,
}

/// Controls a running scheduler. Dropping it stops scheduling new runs (runs in
/// flight finish within their timeouts); `stop` does the same and waits for them.
pub struct SchedulerHandle {
    commands: mpsc::Sender<Command>,
    shared: Arc<run::Shared>,
    task: JoinHandle<()>,
}

impl SchedulerHandle {
    /// Swaps in the specs of a new inventory. Probes whose (node name, check name)
    /// and interval are unchanged keep their place in the schedule (no gap, no burst);
    /// others start at their phase. Returns once the switch is done: from then on no
    /// observation carrying an old probe id is sent. Observations already in the
    /// channel are from the old inventory, so on reload the daemon should:
    /// `replace(new).await`, drain the receiver into the engine, then give the engine
    /// the new snapshot.
    pub async fn replace(&self, specs: Vec<ProbeSpec>) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Replace(specs, done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Stops scheduling and waits for runs in flight (each bounded by its timeout).
    pub async fn stop(self) {
        let _ = self.commands.send(Command::Stop).await;
        let _ = self.task.await;
    }

    /// Packets of the half-open tcp path; `None` when tcp checks connect.
    pub fn tcp_half_open_counts(&self) -> Option<crate::kinds::HalfOpenCounts> {
        self.shared.context.tcp_half_open_counts()
    }

    pub fn stats(&self) -> SchedulerStats {
        let in_flight = self.shared.concurrency_max - self.shared.semaphore.available_permits();
        let mut stats = self.shared.stats.snapshot(in_flight as u64);
        stats.tcp_half_open = self.shared.context.tcp_half_open();
        (stats.tcp_half_open_runs, stats.tcp_connect_runs) = self.shared.context.tcp_runs();
        stats
    }
}
