//! Health: from raw observations to a per-node verdict.
//!
//! Pipeline, per (probe, observer): rise/fall hysteresis and staleness; per probe:
//! quorum across observers (suspect observers abstain); per node: the worst of its
//! probes, then flap damping; plus replication state and a disk time-until-full
//! forecast where the inventory asks for them.
//!
//! CONTRACT (the engine relies on it): everything here is deterministic and pure:
//! no clock, no I/O, no randomness. `ingest` is O(1) and allocation-free on the
//! hot path (target: well over 1M observations per second per core).

use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::time::TimeMs;

pub mod agent_leases;
mod damping;
mod disk_forecast;
mod observer_silence;
mod observer_suspicion;
mod quorum;
mod replication;
mod rise_fall;
pub mod site_loss;
mod table;
#[cfg(test)]
mod table_tests;
pub mod time_sanity;

pub use table::HealthTable;

/// A probe's or node's state. `Unknown` (stale, not enough votes, never seen) is never `Down`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Up,
    Down,
    Unknown,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Down => "down",
            Status::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReplicationHealth {
    Healthy {
        lag_ms: u64,
    },
    Lagging {
        lag_ms: u64,
        lag_max_ms: u64,
    },
    /// Replication has stopped. `error` is the server's own text, verbatim.
    Broken {
        error: String,
    },
    /// No fresh replication observation.
    Unknown,
}

impl ReplicationHealth {
    pub fn is_healthy(&self) -> bool {
        matches!(self, ReplicationHealth::Healthy { .. })
    }
}

/// What the engine and guards read about one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeHealth {
    /// Worst of the node's probes after quorum (Down > Unknown > Up); no probes: Unknown.
    pub status: Status,
    /// When `status` last changed.
    pub since_ms: TimeMs,
    /// Flap damping holds the node out until its penalty decays below the reuse threshold.
    pub suppressed: bool,
    /// Current damping penalty (decayed to the last refresh).
    pub penalty: u32,
    /// Up->Down transitions seen since the table was created.
    pub flaps: u32,
    /// Present when the node's inventory entry has `replication`.
    pub replication: Option<ReplicationHealth>,
    /// Replayed position from the freshest replication observation (for promotion order).
    pub replayed_position: u64,
    /// Present when the node has a `disk_check` and enough samples to forecast growth.
    pub disk_full_in_ms: Option<u64>,
    /// How old and how good the replication evidence about this node is.
    pub replication_evidence: ReplicationEvidence,
    /// What the node last said as a writable primary (flush position, synchronous
    /// standbys); kept after it fails: it is what the failover is judged by.
    pub primary: Option<PrimaryEvidence>,
    /// When the node last answered as a writable primary, if its latest answer
    /// was that (a read-only or standby answer clears it): the second-writer check.
    pub writable_at_ms: Option<TimeMs>,
}

/// The age and content of the replication evidence about one standby (all receive
/// times on the controller's clock; nothing from before a time anomaly).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationEvidence {
    /// When the freshest replication report arrived.
    pub at_ms: Option<TimeMs>,
    /// When the newest report that showed replication healthy (running, a lag
    /// figure within bound) arrived.
    pub healthy_at_ms: Option<TimeMs>,
    /// The freshest report says "running" but gives no lag figure.
    pub lag_unknown: bool,
    /// The received position of the latest report that gave one (None: none did).
    pub received_position: Option<u64>,
}

/// A writable primary's own report (`observation::PrimaryStatus`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryEvidence {
    /// When the report arrived.
    pub at_ms: TimeMs,
    pub flush_position: Option<u64>,
    pub synchronous_standbys: Vec<String>,
    /// Flush positions per second between the two latest reports (the write rate),
    /// to turn a gap in positions into seconds of writes.
    pub flush_per_s: Option<u64>,
}

/// One probe's aggregate across observers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeView {
    pub status: Status,
    pub votes_up: u16,
    pub votes_down: u16,
    pub votes_unknown: u16,
    /// Receive time of the newest observation from any observer.
    pub last_at_ms: Option<TimeMs>,
}

/// A change `refresh` noticed; the engine turns these into journal records and alerts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum HealthEvent {
    NodeStatus {
        node: NodeId,
        from: Status,
        to: Status,
    },
    Suppressed {
        node: NodeId,
        penalty: u32,
    },
    Reused {
        node: NodeId,
        penalty: u32,
    },
    Replication {
        node: NodeId,
        from: Option<ReplicationHealth>,
        to: ReplicationHealth,
    },
    /// Raised when the forecast first drops under the horizon, and again each time it halves.
    DiskForecast {
        node: NodeId,
        full_in_ms: u64,
    },
    ObserverSuspect {
        observer: ObserverId,
        failing: u32,
        of: u32,
        /// Its targets failed one after another within a short window (the
        /// observer's link flapping), not all at once.
        flapping: bool,
    },
    ObserverCleared {
        observer: ObserverId,
    },
    /// Nothing arrived from this observer for longer than any of its probes may be quiet.
    ObserverSilent {
        observer: ObserverId,
        last_at_ms: Option<TimeMs>,
    },
    ObserverReporting {
        observer: ObserverId,
    },
}
