//! The durable store as the driver's journal and the API's journal reader.

use ward_core::journal::JournalRecord;
use ward_store::Store;

use crate::api::JournalReader;
use crate::driver::Journal;

impl Journal for Store {
    fn append(&self, records: &[JournalRecord]) -> Result<(), String> {
        Store::append(self, records).map_err(|e| e.to_string())
    }

    fn save_checkpoint(&self, checkpoint: &ward_core::engine::Checkpoint) -> Result<String, String> {
        let compacted = Store::save_checkpoint(self, checkpoint).map_err(|e| e.to_string())?;
        Ok(format!("{} older record(s) and {} checkpoint(s) dropped", compacted.records_dropped, compacted.checkpoints_dropped))
    }
}

impl JournalReader for Store {
    fn since(&self, seq_exclusive: u64, limit: usize) -> Result<Vec<JournalRecord>, String> {
        self.journal_since(seq_exclusive, limit).map_err(|e| e.to_string())
    }

    fn from(&self, seq_inclusive: u64, limit: usize) -> Result<Vec<JournalRecord>, String> {
        self.journal_from(seq_inclusive, limit).map_err(|e| e.to_string())
    }

    fn between_ms(&self, from_ms: u64, to_ms: u64, limit: usize) -> Result<Vec<JournalRecord>, String> {
        self.journal_between_ms(from_ms, to_ms, limit).map_err(|e| e.to_string())
    }

    fn last(&self, limit: usize) -> Result<Vec<JournalRecord>, String> {
        let Some(last) = self.last_seq().map_err(|e| e.to_string())? else { return Ok(Vec::new()) };
        // Seqs may have gaps: start early enough, then keep the newest `limit`.
        let from = last.saturating_sub(limit as u64 * 2);
        let mut records = self.journal_from(from, limit * 2 + 1).map_err(|e| e.to_string())?;
        let skip = records.len().saturating_sub(limit);
        records.drain(..skip);
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use ward_core::journal::{JournalEvent, JournalRecord};

    use crate::api::JournalReader;

    fn record(seq: u64) -> JournalRecord {
        JournalRecord {
            seq,
            at_ms: 1_000 + seq,
            event: JournalEvent::Started { snapshot_hash: "h".into(), recovered_jobs: 0, mode: ward_core::Mode::Guarded },
        }
    }

    #[test]
    fn last_includes_the_first_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = ward_store::Store::open(dir.path()).unwrap();
        store.append(&(0..5).map(record).collect::<Vec<_>>()).unwrap();
        let seqs = |records: Vec<JournalRecord>| records.iter().map(|r| r.seq).collect::<Vec<_>>();
        assert_eq!(seqs(store.last(10).unwrap()), [0, 1, 2, 3, 4], "a small journal is returned whole, seq 0 included");
        assert_eq!(seqs(store.last(2).unwrap()), [3, 4]);
        assert_eq!(seqs(store.last(5).unwrap()), [0, 1, 2, 3, 4]);
        assert_eq!(seqs(JournalReader::since(&store, 0, 10).unwrap()), [1, 2, 3, 4], "since is exclusive");
    }
}
