//! How big the store is on disk, for the daemon's metrics: the journal is never
//! compacted yet (see the crate docs), so its growth must at least be visible.

use crate::{Store, StoreError};

impl Store {
    /// The size of `ward.redb` in bytes (allocated file length; redb grows it in
    /// steps and never shrinks it, so this is an upper bound on live data).
    pub fn bytes_on_disk(&self) -> Result<u64, StoreError> {
        std::fs::metadata(&self.db_path).map(|m| m.len()).map_err(|e| StoreError::Db {
            path: self.db_path.clone(),
            operation: "read the store's file size",
            source: Box::new(e.into()),
        })
    }
}
