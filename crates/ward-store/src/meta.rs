//! The meta table: a few small named strings the daemon keeps across restarts
//! (the last applied inventory path and hash, the controller's node id).

use crate::tables::{META, RESERVED_PREFIX};
use crate::{Store, StoreError};

/// Meta is for names and hashes, not documents: bounded so a caller bug cannot
/// grow the store through it.
pub const META_KEY_BYTES_MAX: usize = 128;
pub const META_VALUE_BYTES_MAX: usize = 64 * 1024;

impl Store {
    /// Sets `key` to `value`, durably (one fsync'd transaction). Keys under
    /// `ward.` belong to the store itself and are refused.
    pub fn put_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.check_meta_key(key)?;
        if value.len() > META_VALUE_BYTES_MAX {
            return Err(self.bad_meta(key, format!("value is {} bytes, over the {META_VALUE_BYTES_MAX} byte limit", value.len())));
        }
        let txn = self.db.begin_write().map_err(|e| self.db_err("begin a write transaction", e))?;
        {
            let mut table = txn.open_table(META).map_err(|e| self.db_err("open the meta table", e))?;
            table.insert(key, value).map_err(|e| self.db_err("write a meta value", e))?;
        }
        txn.commit().map_err(|e| self.db_err("commit a meta value", e))
    }

    /// The value of `key`, or `None` if it was never set.
    pub fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_err("begin a read transaction", e))?;
        let table = txn.open_table(META).map_err(|e| self.db_err("open the meta table", e))?;
        let value = table.get(key).map_err(|e| self.db_err("read a meta value", e))?;
        Ok(value.map(|v| v.value().to_string()))
    }

    fn check_meta_key(&self, key: &str) -> Result<(), StoreError> {
        if key.is_empty() || key.len() > META_KEY_BYTES_MAX {
            return Err(self.bad_meta(key, format!("must be 1 to {META_KEY_BYTES_MAX} bytes")));
        }
        if key.starts_with(RESERVED_PREFIX) {
            return Err(self.bad_meta(key, format!("keys starting with {RESERVED_PREFIX:?} are the store's own")));
        }
        Ok(())
    }

    fn bad_meta(&self, key: &str, what: String) -> StoreError {
        // Truncate on a char boundary so a huge bad key does not flood the message.
        let shown: String = key.chars().take(META_KEY_BYTES_MAX).collect();
        StoreError::BadMeta { path: self.db_path.clone(), key: shown, what }
    }
}
