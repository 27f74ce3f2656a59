//! ward-store: the daemon's embedded durable store (redb, one file in the data dir).
//!
//! # What it keeps
//! - `journal`: every [`JournalRecord`] the engine emits, keyed by `seq`, as JSON.
//!   The engine's durable state is a fold over it (`Engine::recover`), so this
//!   table *is* the controller's memory across restarts.
//! - `meta`: a few small strings the daemon needs across restarts (the last
//!   applied inventory path and hash, the controller's node id) and the store's
//!   own format version.
//!
//! # Durability (the non-negotiable)
//! [`Store::append`] commits one redb write transaction with the default
//! `Durability::Immediate`: when it returns `Ok`, the records are fsync'd. The
//! daemon must call it with every `Output::Journal` it has drained *before*
//! carrying out any `StartJob`/`Notify` that follows them. Batching all the
//! records of one drain into one call costs one fsync instead of one per record.
//!
//! # One writer per data dir
//! redb takes an exclusive `flock` on `ward.redb`; a second controller on the same
//! data dir fails to open with [`StoreError::Locked`], which names the pid found in
//! `ward.pid` (written by the holder, informational only: the lock is the truth).
//!
//! # Strict or lossy reads
//! A record that does not deserialize (a damaged file, or a newer Ward wrote it)
//! never panics. [`Store::journal`] returns [`StoreError::Decode`] naming the seq:
//! **the daemon uses this one by default**, because refusing to start is safer than
//! forgetting a job in flight (a forgotten apply could be repeated blindly, a
//! forgotten hold overridden). [`Store::journal_lossy`] skips such records and
//! counts them; it is for an operator who has read the error and chosen to start
//! anyway (an explicit flag), and for read-only tools (`ward journal`, a timeline).
//!
//! # Size
//! The engine emits a checkpoint of its durable state every 10,000 records;
//! [`Store::save_checkpoint`] keeps the latest two and drops the journal records
//! before the previous one. Recovery reads [`Store::latest_checkpoint`] and the
//! records from its seq on, so restart time and file size are bounded by the
//! state, not by history.

mod checkpoint;
mod checksum;
mod error;
mod journal;
mod meta;
mod open;
mod size;
mod tables;

use std::path::PathBuf;

pub use checkpoint::{Compacted, CHECKPOINT_BYTES_MAX};
pub use checksum::{crc32, frame as frame_record};
pub use error::StoreError;
pub use journal::{LossyJournal, RECORD_BYTES_MAX};
pub use meta::{META_KEY_BYTES_MAX, META_VALUE_BYTES_MAX};
pub use open::{OpenOptions, DB_FILE, HISTORY_FILE, PID_FILE};
pub use tables::STORE_FORMAT;

#[cfg(doc)]
use ward_core::journal::JournalRecord;

/// The open store. `Send + Sync`: the daemon may share it behind an `Arc` and call
/// it from a blocking thread (every call that writes waits for an fsync).
pub struct Store {
    db: redb::Database,
    /// The data dir, for error messages.
    dir: PathBuf,
    /// `dir/ward.redb`, for error messages and `bytes_on_disk`.
    db_path: PathBuf,
    /// A format-1 store: records written before checksums are read unchecked.
    legacy_records: bool,
    /// Whether `ward.history` is known to exist (see [`OpenOptions`]).
    history_marked: std::sync::atomic::AtomicBool,
}

impl Store {
    /// The data dir this store lives in.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The redb file.
    pub fn db_path(&self) -> &std::path::Path {
        &self.db_path
    }
}
