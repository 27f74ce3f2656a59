//! What one probe from one observer sees: reachability, node health, per-check
//! faults, and for database and disk checks the status detail the engine reads.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use ward_core::inventory::{Check, CheckKind};
use ward_core::observation::{PrimaryStatus, ProbeDetail, ProbeOutcome};

use super::{Point, World};

pub struct ProbeResult {
    pub outcome: ProbeOutcome,
    pub latency_ms: u32,
    pub detail: Option<Box<ProbeDetail>>,
}

impl World {
    /// Probes `node` (by name) with `check` from an observer. Unknown nodes time out.
    pub fn probe(&self, observer: Point, node_name: &str, check: &Check, rng: &mut ChaCha8Rng) -> ProbeResult {
        let timeout = ProbeResult { outcome: ProbeOutcome::Timeout, latency_ms: check.timeout_ms as u32, detail: None };
        // Draw the loss roll unconditionally so the random stream does not depend on
        // the world state (keeps runs of the two modes comparable).
        let lost = rng.random_bool(self.knobs.probe_loss);
        let jitter = rng.random_range(0..=self.knobs.probe_latency_ms.max(1) / 2);
        let Some(i) = self.node_index(node_name) else {
            return timeout;
        };
        let n = &self.nodes[i];
        if lost || !n.alive || !self.links.reachable(observer, self.point(i)) {
            return timeout;
        }
        let latency_ms = (self.knobs.probe_latency_ms + jitter).min(check.timeout_ms) as u32;
        let misconfigured = matches!(&n.misconfigured, Some(Some(c)) if *c == check.name);
        let is_db = matches!(check.kind, CheckKind::Mysql | CheckKind::Postgres);
        let detail = match check.kind {
            CheckKind::Disk => self.disks.get(&i).map(|d| Box::new(ProbeDetail::Disk(d.status()))),
            // A primary (writable, or fenced read-only: it is not in recovery) reports
            // its flush position and synchronous standbys.
            _ if is_db && (n.writable || self.was_primary(i)) => {
                let flush = self.acked_position(i);
                self.observed_flush(i, flush);
                Some(Box::new(ProbeDetail::Primary(PrimaryStatus {
                    flush_position: Some(flush),
                    synchronous_standbys: self.synchronous_standbys(i),
                    summary: format!("primary ({}); flushed up to {flush}", if n.writable { "accepts writes" } else { "read-only" }),
                    writable: Some(n.writable),
                })))
            }
            _ if is_db => {
                self.replicas.get(&i).map(|r| Box::new(ProbeDetail::Replication(r.status(self.now_ms, self.knobs.write_rate_per_s))))
            }
            _ => None,
        };
        let disk_full = self.disks.get(&i).is_some_and(|d| d.full());
        // A full disk halts the database (seed 003); the disk probe itself still
        // answers (it reports the numbers) but fails.
        let no_egress = !n.egress_ok && self.end_to_end_checks.contains(&check.name);
        let fails = misconfigured || no_egress || (disk_full && (is_db || check.kind == CheckKind::Disk));
        ProbeResult { outcome: if fails { ProbeOutcome::Fail } else { ProbeOutcome::Pass }, latency_ms, detail }
    }
}
