//! Checkpoints and compaction. A checkpoint is the engine's whole durable state at
//! a seq (`ward_core::engine::Checkpoint`); recovery starts at the latest one and
//! folds only the records from its seq on. Saving one drops what no recovery needs
//! any more: checkpoints older than the previous one, and the journal records
//! before the previous checkpoint. What stays (everything since the previous
//! checkpoint, 10,000 to 20,000 records) is the window `ward timeline` and `why`
//! read. redb reuses the freed pages, so the file is bounded by the state, not by
//! the history.

use redb::{ReadableTable, ReadableTableMetadata};
use ward_core::engine::Checkpoint;

use crate::tables::{CHECKPOINTS, JOURNAL};
use crate::{Store, StoreError};

/// A checkpoint grows with the fleet (jobs, holds, alerts, placements), not with
/// history; beyond this something is wrong.
pub const CHECKPOINT_BYTES_MAX: usize = 256 * 1024 * 1024;

/// What saving a checkpoint dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compacted {
    pub records_dropped: u64,
    pub checkpoints_dropped: u64,
}

impl Store {
    /// Stores `checkpoint` durably (one transaction, fsync'd), then drops the
    /// checkpoints before the previous one and the journal records before the
    /// previous checkpoint's seq. The records before `checkpoint.seq` must already
    /// be stored (the daemon appends them first).
    pub fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<Compacted, StoreError> {
        let json = serde_json::to_vec(checkpoint).map_err(|source| StoreError::Encode {
            path: self.db_path.clone(),
            seq: checkpoint.seq,
            source,
        })?;
        if json.len() > CHECKPOINT_BYTES_MAX {
            return Err(StoreError::RecordTooLarge {
                path: self.db_path.clone(),
                seq: checkpoint.seq,
                bytes: json.len(),
                max: CHECKPOINT_BYTES_MAX,
            });
        }
        let framed = crate::checksum::frame(&json);
        crate::open::catch_panic(&self.db_path, "save a checkpoint", || self.save_framed(checkpoint.seq, &framed))?
    }

    fn save_framed(&self, seq: u64, framed: &[u8]) -> Result<Compacted, StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.db_err("begin a write transaction", e))?;
        let mut compacted = Compacted::default();
        {
            let mut checkpoints = txn.open_table(CHECKPOINTS).map_err(|e| self.db_err("open the checkpoints table", e))?;
            let previous = checkpoints
                .range(..seq)
                .map_err(|e| self.db_err("read the checkpoints", e))?
                .next_back()
                .transpose()
                .map_err(|e| self.db_err("read the checkpoints", e))?
                .map(|(k, _)| k.value());
            checkpoints.insert(seq, framed).map_err(|e| self.db_err("write a checkpoint", e))?;
            if let Some(previous) = previous {
                let before = checkpoints.len().map_err(|e| self.db_err("count the checkpoints", e))?;
                checkpoints.retain_in(..previous, |_, _| false).map_err(|e| self.db_err("drop old checkpoints", e))?;
                let after = checkpoints.len().map_err(|e| self.db_err("count the checkpoints", e))?;
                compacted.checkpoints_dropped = before - after;
                let mut journal = txn.open_table(JOURNAL).map_err(|e| self.db_err("open the journal table", e))?;
                let before = journal.len().map_err(|e| self.db_err("count the journal", e))?;
                journal.retain_in(..previous, |_, _| false).map_err(|e| self.db_err("drop journal records", e))?;
                let after = journal.len().map_err(|e| self.db_err("count the journal", e))?;
                compacted.records_dropped = before - after;
            }
        }
        txn.commit().map_err(|e| self.db_err("commit a checkpoint", e))?;
        Ok(compacted)
    }

    /// The latest checkpoint, if any; one that fails its checksum or does not
    /// deserialize is an error naming its seq (never silently skipped: the records
    /// before it may be gone).
    pub fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let stored = crate::open::catch_panic(&self.db_path, "read the latest checkpoint", || self.latest_framed())??;
        let Some((seq, stored)) = stored else { return Ok(None) };
        let json = match crate::checksum::unframe(&stored) {
            crate::checksum::Unframed::Checked(json) => json,
            crate::checksum::Unframed::Legacy(_) => {
                return Err(StoreError::Damaged { path: self.db_path.clone(), seq, what: "the checkpoint has no checksum header".into() })
            }
            crate::checksum::Unframed::Damaged(what) => return Err(StoreError::Damaged { path: self.db_path.clone(), seq, what }),
        };
        let checkpoint: Checkpoint =
            serde_json::from_slice(json).map_err(|source| StoreError::Decode { path: self.db_path.clone(), seq, source })?;
        Ok(Some(checkpoint))
    }

    fn latest_framed(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_err("begin a read transaction", e))?;
        let table = match txn.open_table(CHECKPOINTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.db_err("open the checkpoints table", e)),
        };
        let last = table.last().map_err(|e| self.db_err("read the latest checkpoint", e))?;
        Ok(last.map(|(k, v)| (k.value(), v.value().to_vec())))
    }
}
