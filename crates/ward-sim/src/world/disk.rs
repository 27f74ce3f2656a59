//! A data directory's disk: usage grows at a steady rate, and faster while a
//! replica of this node does not replay (WAL piles up on the source, seed 003).
//! Full means full for the service: the filesystem's reserved space is root's.

use ward_core::observation::DiskStatus;

use crate::scenario::DiskKnobs;

#[derive(Clone, Debug)]
pub struct Disk {
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub reserved_bytes: u64,
    pub bytes_per_hour: u64,
    pub wal_bytes_per_hour: u64,
    /// Virtual time `used_bytes` is current at.
    pub at_ms: u64,
}

impl Disk {
    pub fn new(k: &DiskKnobs) -> Disk {
        Disk {
            total_bytes: k.total_bytes,
            used_bytes: k.used_bytes,
            reserved_bytes: k.reserved_bytes,
            bytes_per_hour: k.bytes_per_hour,
            wal_bytes_per_hour: k.wal_bytes_per_hour,
            at_ms: 0,
        }
    }

    /// Brings usage up to `now_ms`; `wal_piling`: a replica of this node is stalled.
    pub fn advance(&mut self, now_ms: u64, wal_piling: bool) {
        let elapsed = now_ms.saturating_sub(self.at_ms) as u128;
        let rate = self.bytes_per_hour as u128 + if wal_piling { self.wal_bytes_per_hour as u128 } else { 0 };
        let grown = (rate * elapsed / 3_600_000) as u64;
        self.used_bytes = self.used_bytes.saturating_add(grown).min(self.total_bytes);
        self.at_ms = now_ms;
    }

    /// The service can no longer write: only root's reserve is left.
    pub fn full(&self) -> bool {
        self.used_bytes + self.reserved_bytes >= self.total_bytes
    }

    pub fn status(&self) -> DiskStatus {
        DiskStatus { used_bytes: self.used_bytes, total_bytes: self.total_bytes, reserved_bytes: self.reserved_bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_fills_the_disk_faster_and_reserve_counts_as_full() {
        let k =
            DiskKnobs { node: "db".into(), total_bytes: 100, used_bytes: 50, reserved_bytes: 10, bytes_per_hour: 1, wal_bytes_per_hour: 9 };
        let mut d = Disk::new(&k);
        d.advance(3_600_000, false);
        assert_eq!(d.used_bytes, 51);
        d.advance(4 * 3_600_000, true);
        assert_eq!(d.used_bytes, 81);
        assert!(!d.full());
        d.advance(5 * 3_600_000, true);
        assert!(d.full());
    }
}
