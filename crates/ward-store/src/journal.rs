//! The journal table: append (one fsync per call), and reads in seq order.

use redb::{ReadableTable, ReadableTableMetadata};
use ward_core::journal::JournalRecord;
use ward_core::time::TimeMs;

use crate::tables::JOURNAL;
use crate::{Store, StoreError};

/// An engine record is a few hundred bytes; a decision with its evidence a few
/// KiB. Anything near this is a bug, and storing it would slow every restart.
pub const RECORD_BYTES_MAX: usize = 4 * 1024 * 1024;

/// The readable records and how many were skipped (see [`Store::journal_lossy`]).
#[derive(Debug, Default)]
pub struct LossyJournal {
    pub records: Vec<JournalRecord>,
    /// Seqs that did not deserialize, in order, with the serde error.
    pub skipped: Vec<(u64, String)>,
}

impl Store {
    /// Stores `records` in one write transaction, durable (fsync'd) when this
    /// returns `Ok`. Seqs must increase strictly, within the batch and over the last
    /// stored record; otherwise nothing is written. An empty batch is a no-op.
    pub fn append(&self, records: &[JournalRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        // Encode first: a bad record fails the call before any I/O.
        let mut encoded = Vec::with_capacity(records.len());
        for record in records {
            let bytes =
                serde_json::to_vec(record).map_err(|source| StoreError::Encode { path: self.db_path.clone(), seq: record.seq, source })?;
            if bytes.len() > RECORD_BYTES_MAX {
                return Err(StoreError::RecordTooLarge {
                    path: self.db_path.clone(),
                    seq: record.seq,
                    bytes: bytes.len(),
                    max: RECORD_BYTES_MAX,
                });
            }
            encoded.push((record.seq, crate::checksum::frame(&bytes)));
        }
        // redb runs one write transaction at a time, so the last seq read here
        // cannot change before the commit.
        let txn = self.db.begin_write().map_err(|e| self.db_err("begin a write transaction", e))?;
        {
            let mut table = txn.open_table(JOURNAL).map_err(|e| self.db_err("open the journal table", e))?;
            let mut last = table.last().map_err(|e| self.db_err("read the last journal seq", e))?.map(|(k, _)| k.value());
            for (seq, bytes) in &encoded {
                if let Some(last) = last {
                    if *seq <= last {
                        // Dropping `txn` uncommitted aborts it: nothing of the batch lands.
                        return Err(StoreError::SeqNotIncreasing { path: self.db_path.clone(), seq: *seq, last });
                    }
                }
                table.insert(*seq, bytes.as_slice()).map_err(|e| self.db_err("write a journal record", e))?;
                last = Some(*seq);
            }
        }
        // Durability::Immediate (redb's default): commit returns after fsync.
        txn.commit().map_err(|e| self.db_err("commit journal records", e))?;
        // From now on an empty or missing store in this data dir is a lost history.
        self.mark_history()
    }

    /// Every record in seq order; the first one that does not deserialize is an
    /// error naming its seq. What the daemon folds with `Engine::recover`.
    pub fn journal(&self) -> Result<Vec<JournalRecord>, StoreError> {
        let mut records = Vec::new();
        self.scan(0, usize::MAX, |seq, bytes| {
            records.push(self.decode(seq, bytes)?);
            Ok(true)
        })?;
        Ok(records)
    }

    /// Every readable record, skipping (and listing) those that do not
    /// deserialize. Only for an operator's explicit choice and read-only tools:
    /// a skipped record may be a job in flight the engine then forgets. Note that
    /// if the last record is skipped, the engine's next seq will collide with it
    /// and `append` will refuse it.
    pub fn journal_lossy(&self) -> Result<LossyJournal, StoreError> {
        let mut out = LossyJournal::default();
        self.scan(0, usize::MAX, |seq, bytes| {
            match self.decode(seq, bytes) {
                Ok(record) => out.records.push(record),
                Err(StoreError::Decode { source, .. }) => out.skipped.push((seq, source.to_string())),
                Err(StoreError::Damaged { what, .. }) => out.skipped.push((seq, what)),
                Err(other) => return Err(other),
            }
            Ok(true)
        })?;
        Ok(out)
    }

    /// Up to `limit` records with seq > `seq_exclusive`, in order (strict).
    pub fn journal_since(&self, seq_exclusive: u64, limit: usize) -> Result<Vec<JournalRecord>, StoreError> {
        match seq_exclusive.checked_add(1) {
            Some(start) => self.journal_from(start, limit),
            None => Ok(Vec::new()),
        }
    }

    /// Up to `limit` records with seq >= `seq_inclusive`, in order (strict).
    pub fn journal_from(&self, seq_inclusive: u64, limit: usize) -> Result<Vec<JournalRecord>, StoreError> {
        let mut records = Vec::new();
        let start = seq_inclusive;
        self.scan(start, limit, |seq, bytes| {
            records.push(self.decode(seq, bytes)?);
            Ok(records.len() < limit)
        })?;
        Ok(records)
    }

    /// Up to `limit` records with `from_ms <= at_ms < to_ms`, in seq order (strict).
    /// A full scan: records are keyed by seq and `at_ms` is only nearly monotonic
    /// (a stepped clock), so there is no index to seek by.
    pub fn journal_between_ms(&self, from_ms: TimeMs, to_ms: TimeMs, limit: usize) -> Result<Vec<JournalRecord>, StoreError> {
        let mut records = Vec::new();
        if limit == 0 || from_ms >= to_ms {
            return Ok(records);
        }
        self.scan(0, usize::MAX, |seq, bytes| {
            let record = self.decode(seq, bytes)?;
            if (from_ms..to_ms).contains(&record.at_ms) {
                records.push(record);
            }
            Ok(records.len() < limit)
        })?;
        Ok(records)
    }

    /// The highest stored seq, or `None` for an empty journal.
    pub fn last_seq(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_err("begin a read transaction", e))?;
        let table = txn.open_table(JOURNAL).map_err(|e| self.db_err("open the journal table", e))?;
        let last = table.last().map_err(|e| self.db_err("read the last journal seq", e))?;
        Ok(last.map(|(k, _)| k.value()))
    }

    /// How many records are stored.
    pub fn len(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_err("begin a read transaction", e))?;
        let table = txn.open_table(JOURNAL).map_err(|e| self.db_err("open the journal table", e))?;
        table.len().map_err(|e| self.db_err("count journal records", e))
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// Visits raw records with seq >= `start` in order, in one read transaction
    /// (a consistent view), while `visit` returns `Ok(true)` and at most `limit`.
    fn scan(&self, start: u64, limit: usize, visit: impl FnMut(u64, &[u8]) -> Result<bool, StoreError>) -> Result<(), StoreError> {
        // redb may panic on a damaged page: that is a damaged store, reported as such.
        crate::open::catch_panic(&self.db_path, "read the journal", || self.scan_inner(start, limit, visit))?
    }

    fn scan_inner(
        &self,
        start: u64,
        limit: usize,
        mut visit: impl FnMut(u64, &[u8]) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        if limit == 0 {
            return Ok(());
        }
        let txn = self.db.begin_read().map_err(|e| self.db_err("begin a read transaction", e))?;
        let table = txn.open_table(JOURNAL).map_err(|e| self.db_err("open the journal table", e))?;
        let range = table.range(start..).map_err(|e| self.db_err("read the journal", e))?;
        for (visited, entry) in range.enumerate() {
            if visited >= limit {
                break;
            }
            let (key, value) = entry.map_err(|e| self.db_err("read the journal", e))?;
            if !visit(key.value(), value.value())? {
                break;
            }
        }
        Ok(())
    }

    fn decode(&self, seq: u64, stored: &[u8]) -> Result<JournalRecord, StoreError> {
        let bytes = match crate::checksum::unframe(stored) {
            crate::checksum::Unframed::Checked(json) => json,
            crate::checksum::Unframed::Legacy(json) if self.legacy_records => json,
            crate::checksum::Unframed::Legacy(_) => {
                return Err(StoreError::Damaged { path: self.db_path.clone(), seq, what: "the record has no checksum header".into() })
            }
            crate::checksum::Unframed::Damaged(what) => return Err(StoreError::Damaged { path: self.db_path.clone(), seq, what }),
        };
        let record: JournalRecord =
            serde_json::from_slice(bytes).map_err(|source| StoreError::Decode { path: self.db_path.clone(), seq, source })?;
        // The key is the truth; a body that disagrees is damage, not a record.
        if record.seq != seq {
            let source = <serde_json::Error as serde::de::Error>::custom(format!("the body says seq {}", record.seq));
            return Err(StoreError::Decode { path: self.db_path.clone(), seq, source });
        }
        Ok(record)
    }
}
