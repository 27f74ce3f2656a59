//! Opening a data dir: create it, open `ward.redb` (redb's exclusive lock is what
//! keeps two controllers off one data dir), record our pid for the error the
//! second one will print, and check the store format.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use redb::{Database, DatabaseError, ReadableTable, ReadableTableMetadata};

use crate::tables::{FORMAT_KEY, JOURNAL, META, STORE_FORMAT};
use crate::{Store, StoreError};

/// The redb file inside the data dir.
pub const DB_FILE: &str = "ward.redb";
/// Written by the process holding the store, so a second one can say who it is.
pub const PID_FILE: &str = "ward.pid";
/// Written next to `ward.redb` once its journal holds a record: from then on, an
/// empty or missing store in this data dir is a lost history, not a first start.
pub const HISTORY_FILE: &str = "ward.history";
/// A pid file is a number and a newline; anything longer is not ours.
const PID_FILE_BYTES_MAX: u64 = 64;
/// The data dir and everything in it are the controller's alone.
const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// How to open a data dir.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenOptions {
    /// Accept an empty or missing store in a data dir that has kept a journal
    /// (`ward run --reinitialize`): a new history begins.
    pub reinitialize: bool,
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`. Fails with
    /// [`StoreError::Locked`] if another process has it open, and with
    /// [`StoreError::HistoryLost`] if the data dir has kept a journal that is gone.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(data_dir, OpenOptions::default())
    }

    pub fn open_with(data_dir: &Path, options: OpenOptions) -> Result<Store, StoreError> {
        let data_dir_error = |source| StoreError::DataDir { path: data_dir.to_path_buf(), source };
        if !data_dir.exists() {
            std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(data_dir).map_err(data_dir_error)?;
        } else if !data_dir.is_dir() {
            return Err(data_dir_error(std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory")));
        }
        let db_path = data_dir.join(DB_FILE);
        let pid_path = data_dir.join(PID_FILE);
        let marker = data_dir.join(HISTORY_FILE);
        let used = marker.exists();
        if used && !options.reinitialize {
            let lost = match std::fs::metadata(&db_path) {
                Err(_) => Some(format!("{DB_FILE} is missing")),
                Ok(meta) if meta.len() == 0 => Some(format!("{DB_FILE} is empty (0 bytes)")),
                Ok(_) => None,
            };
            if let Some(what) = lost {
                return Err(StoreError::HistoryLost { data_dir: data_dir.to_path_buf(), marker, what });
            }
        }
        // redb panics on some damaged files (truncated, extended): report damage instead.
        let db = match no_panic(&db_path, "open the store", || Database::create(&db_path))? {
            Ok(db) => db,
            Err(DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::Locked { data_dir: data_dir.to_path_buf(), pid: read_pid(&pid_path), pid_file: pid_path })
            }
            Err(source) => return Err(StoreError::Open { path: db_path, source: Box::new(source) }),
        };
        let _ = std::fs::set_permissions(&db_path, std::fs::Permissions::from_mode(FILE_MODE));
        // We hold the lock from here on; the pid file only explains it to others.
        write_private(&pid_path, &format!("{}\n", std::process::id()))
            .map_err(|source| StoreError::PidFile { path: pid_path.clone(), source })?;
        let mut store = Store { db, dir: data_dir.to_path_buf(), db_path, legacy_records: false, history_marked: AtomicBool::new(used) };
        let format = no_panic(&store.db_path, "set up the tables", || store.init_tables())??;
        store.legacy_records = format < 2;
        let empty = no_panic(&store.db_path, "count journal records", || store.journal_is_empty())??;
        if empty && used && !options.reinitialize {
            return Err(StoreError::HistoryLost {
                data_dir: store.dir.clone(),
                marker: store.dir.join(HISTORY_FILE),
                what: "the journal in ward.redb is empty".into(),
            });
        }
        if !empty {
            store.mark_history()?;
        }
        Ok(store)
    }

    fn journal_is_empty(&self) -> Result<bool, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_err("begin a read transaction", e))?;
        let table = txn.open_table(JOURNAL).map_err(|e| self.db_err("open the journal table", e))?;
        Ok(table.len().map_err(|e| self.db_err("count journal records", e))? == 0)
    }

    /// Writes `ward.history` once (after the first record is durable).
    pub(crate) fn mark_history(&self) -> Result<(), StoreError> {
        if self.history_marked.load(Ordering::Relaxed) {
            return Ok(());
        }
        let path = self.dir.join(HISTORY_FILE);
        let text = "This data dir has kept a Ward journal. An empty or missing ward.redb here is a lost history:\n\
                    `ward run` refuses it unless started with --reinitialize.\n";
        write_private(&path, text).map_err(|source| StoreError::PidFile { path, source })?;
        self.history_marked.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Creates the tables on first open (so reads never meet a missing table),
    /// refuses a store written by a newer format, and returns the store's format.
    fn init_tables(&self) -> Result<u32, StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.db_err("begin a write transaction", e))?;
        let format;
        {
            txn.open_table(JOURNAL).map_err(|e| self.db_err("open the journal table", e))?;
            let mut meta = txn.open_table(META).map_err(|e| self.db_err("open the meta table", e))?;
            let found = meta.get(FORMAT_KEY).map_err(|e| self.db_err("read the store format", e))?.map(|v| v.value().to_string());
            format = match found {
                None => {
                    meta.insert(FORMAT_KEY, STORE_FORMAT.to_string().as_str()).map_err(|e| self.db_err("write the store format", e))?;
                    STORE_FORMAT
                }
                Some(found) => match found.parse::<u32>() {
                    Ok(format) if format <= STORE_FORMAT => format,
                    _ => return Err(StoreError::NewerFormat { path: self.db_path.clone(), found, supported: STORE_FORMAT }),
                },
            };
        }
        txn.commit().map_err(|e| self.db_err("commit the table setup", e))?;
        Ok(format)
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

/// Writes a file only the owner can read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Serializes swapping the process's panic hook.
static PANIC_HOOK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs a redb call at open, turning a panic inside it (a damaged file) into an
/// error, with the default panic message silenced: the error says it better.
pub(crate) fn no_panic<T>(path: &Path, operation: &'static str, call: impl FnOnce() -> T) -> Result<T, StoreError> {
    let _swap = PANIC_HOOK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
    std::panic::set_hook(previous);
    unwound(path, operation, result)
}

/// Like [`no_panic`] but leaves the panic hook alone (for reads, which may run on
/// several threads at once).
pub(crate) fn catch_panic<T>(path: &Path, operation: &'static str, call: impl FnOnce() -> T) -> Result<T, StoreError> {
    unwound(path, operation, std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)))
}

fn unwound<T>(path: &Path, operation: &'static str, result: std::thread::Result<T>) -> Result<T, StoreError> {
    result.map_err(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the storage library failed on it".into());
        StoreError::Unreadable { path: path.to_path_buf(), operation, what }
    })
}

/// The pid in a pid file, if it exists and looks like one (bounded read).
fn read_pid(path: &PathBuf) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(PID_FILE_BYTES_MAX).read_to_string(&mut text).ok()?;
    let pid = text.trim();
    (!pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then(|| pid.to_string())
}
