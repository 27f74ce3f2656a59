//! What a probe saw, as the core receives it.

use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::time::TimeMs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcome {
    Pass,
    Fail,
    /// The probe hit its timeout. Counts as a failure for rise/fall.
    Timeout,
}

impl ProbeOutcome {
    pub fn is_pass(self) -> bool {
        self == ProbeOutcome::Pass
    }
}

/// Replication state as a database probe reports it (seed 000, seed 003).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationStatus {
    /// Both replication threads (MySQL IO/SQL) or the WAL receiver are running.
    pub running: bool,
    pub lag_ms: Option<u64>,
    /// Verbatim error text from the server (`Last_IO_Error` and the like).
    pub last_error: Option<String>,
    /// How far the node has received and will replay (an LSN or GTID sequence), for
    /// choosing whom to promote: the furthest has every acknowledged synchronous commit.
    pub replayed_position: u64,
    /// Bytes of WAL/binlog the source retains for this replica.
    pub retained_bytes: u64,
    /// How far the node has received and made durable (PostgreSQL:
    /// `pg_last_wal_receive_lsn()`), which can be ahead of what it replayed: what a
    /// promotion keeps. None: not reported (older observers, MySQL).
    #[serde(default)]
    pub received_position: Option<u64>,
}

/// What a writable primary reports about itself: how far it has flushed (every
/// acknowledged commit is at or below this) and which standbys it waits for on
/// commit. Kept apart from `ReplicationStatus`: a primary has no replication of
/// its own to be healthy or broken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryStatus {
    /// PostgreSQL: `pg_current_wal_flush_lsn()`. None: the server did not say (MySQL).
    #[serde(default)]
    pub flush_position: Option<u64>,
    /// Standbys (by node name, PostgreSQL's `application_name`) that are synchronous
    /// and in sync: a commit was acknowledged only once they had it.
    #[serde(default)]
    pub synchronous_standbys: Vec<String>,
    /// The probe's human summary (role, standbys, slots), for people.
    #[serde(default)]
    pub summary: String,
    /// Whether it takes writes (PostgreSQL: `transaction_read_only` off); a fenced
    /// primary answers as a primary that does not. None: the probe did not say.
    #[serde(default)]
    pub writable: Option<bool>,
}

/// Disk usage of a data directory, statvfs-style.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskStatus {
    pub used_bytes: u64,
    pub total_bytes: u64,
    /// Space only root may use; the disk is "full" for the service before it is gone.
    pub reserved_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeDetail {
    Replication(ReplicationStatus),
    Disk(DiskStatus),
    Message(String),
    Primary(PrimaryStatus),
}

/// One probe result from one observer. `at_ms` is when the controller received it:
/// the engine stamps it with its own `now_ms` on receipt (one clock, one place),
/// so observer clock skew or a shell's delay never makes data look fresh.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub probe: ProbeId,
    pub observer: ObserverId,
    pub at_ms: TimeMs,
    pub outcome: ProbeOutcome,
    pub latency_ms: u32,
    pub detail: Option<Box<ProbeDetail>>,
    /// The observer's own clock when it took the reading, if it is a separate
    /// process. Only used to notice the controller's clock going wrong (a VM frozen
    /// with its clock stopped, a step): never to judge freshness.
    pub observer_clock_ms: Option<TimeMs>,
}

impl Observation {
    pub fn new(probe: ProbeId, observer: ObserverId, at_ms: TimeMs, outcome: ProbeOutcome) -> Self {
        Observation { probe, observer, at_ms, outcome, latency_ms: 0, detail: None, observer_clock_ms: None }
    }
}
