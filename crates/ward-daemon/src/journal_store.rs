//! The durable store as the driver's journal and the API's journal reader.

use ward_core::journal::JournalRecord;
use ward_store::Store;

use crate::api::JournalReader;
use crate::driver::Journal;

impl Journal for Store {
    fn append(&self, records: &[JournalRecord]) -> Result<(), String> {
        Store::append(self, records).map_err(|e| e.to_string())
    }
}

impl JournalReader for Store {
    fn since(&self, seq_exclusive: u64, limit: usize) -> Result<Vec<JournalRecord>, String> {
        self.journal_since(seq_exclusive, limit).map_err(|e| e.to_string())
    }

    fn between_ms(&self, from_ms: u64, to_ms: u64, limit: usize) -> Result<Vec<JournalRecord>, String> {
        self.journal_between_ms(from_ms, to_ms, limit).map_err(|e| e.to_string())
    }

    fn last(&self, limit: usize) -> Result<Vec<JournalRecord>, String> {
        let Some(last) = self.last_seq().map_err(|e| e.to_string())? else { return Ok(Vec::new()) };
        // Seqs may have gaps: start early enough, then keep the newest `limit`.
        let from = last.saturating_sub(limit as u64 * 2);
        let mut records = self.journal_since(from.saturating_sub(1), limit * 2 + 1).map_err(|e| e.to_string())?;
        let skip = records.len().saturating_sub(limit);
        records.drain(..skip);
        Ok(records)
    }
}
