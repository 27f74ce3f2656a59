//! Opening a data dir: create it, open `ward.redb` (redb's exclusive lock is what
//! keeps two controllers off one data dir), record our pid for the error the
//! second one will print, and check the store format.

use std::io::Read;
use std::path::{Path, PathBuf};

use redb::{Database, DatabaseError, ReadableTable};

use crate::tables::{FORMAT_KEY, JOURNAL, META, STORE_FORMAT};
use crate::{Store, StoreError};

/// The redb file inside the data dir.
pub const DB_FILE: &str = "ward.redb";
/// Written by the process holding the store, so a second one can say who it is.
pub const PID_FILE: &str = "ward.pid";
/// A pid file is a number and a newline; anything longer is not ours.
const PID_FILE_BYTES_MAX: u64 = 64;

impl Store {
    /// Opens (creating if needed) the store in `data_dir`. Fails with
    /// [`StoreError::Locked`] if another process has it open.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir { path: data_dir.to_path_buf(), source })?;
        let db_path = data_dir.join(DB_FILE);
        let pid_path = data_dir.join(PID_FILE);
        let db = match Database::create(&db_path) {
            Ok(db) => db,
            Err(DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::Locked { data_dir: data_dir.to_path_buf(), pid: read_pid(&pid_path), pid_file: pid_path })
            }
            Err(source) => return Err(StoreError::Open { path: db_path, source: Box::new(source) }),
        };
        // We hold the lock from here on; the pid file only explains it to others.
        std::fs::write(&pid_path, format!("{}\n", std::process::id()))
            .map_err(|source| StoreError::PidFile { path: pid_path.clone(), source })?;
        let store = Store { db, dir: data_dir.to_path_buf(), db_path };
        store.init_tables()?;
        Ok(store)
    }

    /// Creates the tables on first open (so reads never meet a missing table) and
    /// refuses a store written by a newer format.
    fn init_tables(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.db_err("begin a write transaction", e))?;
        {
            txn.open_table(JOURNAL).map_err(|e| self.db_err("open the journal table", e))?;
            let mut meta = txn.open_table(META).map_err(|e| self.db_err("open the meta table", e))?;
            let found = meta.get(FORMAT_KEY).map_err(|e| self.db_err("read the store format", e))?.map(|v| v.value().to_string());
            match found {
                None => {
                    meta.insert(FORMAT_KEY, STORE_FORMAT.to_string().as_str()).map_err(|e| self.db_err("write the store format", e))?;
                }
                Some(found) => match found.parse::<u32>() {
                    Ok(format) if format <= STORE_FORMAT => {}
                    _ => return Err(StoreError::NewerFormat { path: self.db_path.clone(), found, supported: STORE_FORMAT }),
                },
            }
        }
        txn.commit().map_err(|e| self.db_err("commit the table setup", e))
    }

    pub(crate) fn db_err(&self, operation: &'static str, source: impl Into<redb::Error>) -> StoreError {
        StoreError::Db { path: self.db_path.clone(), operation, source: Box::new(source.into()) }
    }
}

impl Drop for Store {
    /// Removes the pid file if it is still ours, so a stale pid does not mislead
    /// anyone after a clean stop. (After a crash it stays; the lock is the truth.)
    fn drop(&mut self) {
        let pid_path = self.dir.join(PID_FILE);
        if read_pid(&pid_path).as_deref() == Some(std::process::id().to_string().as_str()) {
            let _ = std::fs::remove_file(pid_path);
        }
    }
}

/// The pid in a pid file, if it exists and looks like one (bounded read).
fn read_pid(path: &PathBuf) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(PID_FILE_BYTES_MAX).read_to_string(&mut text).ok()?;
    let pid = text.trim();
    (!pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then(|| pid.to_string())
}
