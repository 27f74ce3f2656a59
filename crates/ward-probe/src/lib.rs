//! Ward's probes and their scheduler: the shell's eyes.
//!
//! - `spec`: what to probe, built from an inventory snapshot (`specs`).
//! - `kinds`: one async function per check kind (tcp, http, exec, dns, disk, postgres,
//!   mysql: real clients reporting replication). Every one is bounded by its
//!   check's timeout — DESIGN.md: no probe without a timeout.
//! - `scheduler`: runs every probe each interval with jitter, bounded concurrency and
//!   a bounded, never-blocking output channel; counts and latency histograms for metrics.

mod context;
pub mod kinds;
mod result;
pub mod scheduler;
pub mod spec;

pub use context::{ProbeContext, TcpPath};
pub use kinds::probe;
pub use result::{is_local_fault, result_is_local_fault, ProbeResult, LOCAL_FAULT};
pub use scheduler::{LatencyHistogram, Scheduler, SchedulerConfig, SchedulerHandle, SchedulerStats};
pub use spec::{specs, ProbeSpec};
