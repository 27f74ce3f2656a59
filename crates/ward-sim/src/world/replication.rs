//! Replication of one replica from its source, as a database would report it
//! (seed 000's MySQL IO thread, seed 003's PostgreSQL WAL receiver). The replayed
//! position advances only while replication flows: running, source alive and
//! reachable. While it does not flow, lag grows and the source retains WAL.

use ward_core::observation::ReplicationStatus;

#[derive(Clone, Debug)]
pub struct Replica {
    pub source: String,
    /// The threads are running (false after a fatal error until someone repairs it).
    pub running: bool,
    /// The server's error text, verbatim.
    pub last_error: Option<String>,
    /// Steady-state lag while flowing.
    pub base_lag_ms: u64,
    /// Since when replication has not flowed, if it does not.
    pub stalled_since_ms: Option<u64>,
    /// Position replayed when it stalled.
    pub frozen_position: u64,
}

impl Replica {
    pub fn new(source: String) -> Replica {
        Replica { source, running: true, last_error: None, base_lag_ms: 0, stalled_since_ms: None, frozen_position: 0 }
    }

    /// The source's position at `now_ms` when it writes `rate_per_s` positions a second.
    pub fn source_position(now_ms: u64, rate_per_s: u64) -> u64 {
        now_ms / 1_000 * rate_per_s
    }

    pub fn replayed(&self, now_ms: u64, rate_per_s: u64) -> u64 {
        match self.stalled_since_ms {
            Some(_) => self.frozen_position,
            None => Replica::source_position(now_ms.saturating_sub(self.base_lag_ms), rate_per_s),
        }
    }

    /// Updates whether replication flows; call whenever the world changes.
    pub fn set_flowing(&mut self, flowing: bool, now_ms: u64, rate_per_s: u64) {
        match (flowing, self.stalled_since_ms) {
            (false, None) => {
                self.frozen_position = self.replayed(now_ms, rate_per_s);
                self.stalled_since_ms = Some(now_ms);
            }
            // Catching up is instant in this model: the interesting part is the stall.
            (true, Some(_)) => self.stalled_since_ms = None,
            _ => {}
        }
    }

    pub fn flowing(&self) -> bool {
        self.stalled_since_ms.is_none()
    }

    pub fn lag_ms(&self, now_ms: u64) -> u64 {
        self.base_lag_ms + self.stalled_since_ms.map_or(0, |s| now_ms.saturating_sub(s))
    }

    /// Bytes of WAL the source keeps for this replica (what it has not replayed).
    pub fn retained_bytes(&self, now_ms: u64, rate_per_s: u64, bytes_per_position: u64) -> u64 {
        Replica::source_position(now_ms, rate_per_s).saturating_sub(self.replayed(now_ms, rate_per_s)) * bytes_per_position
    }

    pub fn status(&self, now_ms: u64, rate_per_s: u64) -> ReplicationStatus {
        ReplicationStatus {
            running: self.running,
            lag_ms: Some(self.lag_ms(now_ms)),
            last_error: self.last_error.clone(),
            replayed_position: self.replayed(now_ms, rate_per_s),
            retained_bytes: self.retained_bytes(now_ms, rate_per_s, 16 * 1024),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_freezes_while_stalled_and_lag_grows() {
        let mut r = Replica::new("db0".into());
        assert_eq!(r.replayed(10_000, 100), 1_000);
        r.running = false;
        r.set_flowing(false, 10_000, 100);
        assert_eq!(r.replayed(70_000, 100), 1_000);
        assert_eq!(r.lag_ms(70_000), 60_000);
        assert_eq!(r.retained_bytes(70_000, 100, 1), 6_000);
        r.running = true;
        r.set_flowing(true, 70_000, 100);
        assert_eq!(r.lag_ms(70_000), 0);
        assert_eq!(r.replayed(70_000, 100), 7_000);
    }
}
