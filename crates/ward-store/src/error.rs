//! Every way the store can fail, each with the path, what is wrong and a hint an
//! operator can act on. No variant is a panic in disguise: bad bytes on disk and
//! caller bugs (a non-increasing seq) are errors, reported precisely.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum StoreError {
    /// The data dir could not be created or is not a directory.
    DataDir { path: PathBuf, source: std::io::Error },
    /// Another process holds the redb lock on this data dir.
    Locked {
        data_dir: PathBuf,
        pid_file: PathBuf,
        /// What `ward.pid` says, if it could be read.
        pid: Option<String>,
    },
    /// The pid file could not be written (the data dir is not writable).
    PidFile { path: PathBuf, source: std::io::Error },
    /// redb refused the file at open (damaged, old format, I/O).
    Open { path: PathBuf, source: Box<redb::DatabaseError> },
    /// The file was written by a newer store format than this Ward reads.
    NewerFormat { path: PathBuf, found: String, supported: u32 },
    /// A redb operation failed (I/O, a full disk, a damaged page).
    Db { path: PathBuf, operation: &'static str, source: Box<redb::Error> },
    /// `append` got a record whose seq is not above the last stored one: a bug in
    /// the caller. Nothing of the batch was written.
    SeqNotIncreasing { path: PathBuf, seq: u64, last: u64 },
    /// A record could not be encoded (should not happen for engine records).
    Encode { path: PathBuf, seq: u64, source: serde_json::Error },
    /// A record larger than `RECORD_BYTES_MAX` once encoded.
    RecordTooLarge { path: PathBuf, seq: u64, bytes: usize, max: usize },
    /// A stored record does not deserialize: the file is damaged or a newer Ward wrote it.
    Decode { path: PathBuf, seq: u64, source: serde_json::Error },
    /// A meta key or value outside the allowed shape.
    BadMeta { path: PathBuf, key: String, what: String },
    /// A stored record fails its checksum (edited or damaged on disk).
    Damaged { path: PathBuf, seq: u64, what: String },
    /// The file is damaged beyond what redb can read (it panicked on it).
    Unreadable { path: PathBuf, operation: &'static str, what: String },
    /// This data dir has held a journal, but the store is now missing or empty.
    HistoryLost { data_dir: PathBuf, marker: PathBuf, what: String },
}

impl StoreError {
    /// The file or directory the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            StoreError::DataDir { path, .. }
            | StoreError::PidFile { path, .. }
            | StoreError::Open { path, .. }
            | StoreError::NewerFormat { path, .. }
            | StoreError::Db { path, .. }
            | StoreError::SeqNotIncreasing { path, .. }
            | StoreError::Encode { path, .. }
            | StoreError::RecordTooLarge { path, .. }
            | StoreError::Decode { path, .. }
            | StoreError::BadMeta { path, .. }
            | StoreError::Damaged { path, .. }
            | StoreError::Unreadable { path, .. } => path,
            StoreError::HistoryLost { data_dir, .. } => data_dir,
            StoreError::Locked { data_dir, .. } => data_dir,
        }
    }

    /// What an operator (or the developer, for caller bugs) should do.
    pub fn hint(&self) -> &'static str {
        match self {
            StoreError::DataDir { .. } => "create the directory or choose another --data-dir; check its permissions",
            StoreError::Locked { .. } => {
                "stop the other ward (only one controller may write a data dir), or give this one its own --data-dir"
            }
            StoreError::PidFile { .. } => "make the data dir writable by the user ward runs as",
            StoreError::Open { source, .. } if matches!(**source, redb::DatabaseError::UpgradeRequired(_)) => {
                "the file was written by an older redb format: open it with the Ward version that wrote it and upgrade"
            }
            StoreError::Open { .. } => "check the disk and permissions; if the file is damaged, restore the data dir from a backup",
            StoreError::NewerFormat { .. } => "run the Ward version that wrote this data dir (or newer)",
            StoreError::Db { .. } => "check the disk: free space, permissions, I/O errors in the kernel log",
            StoreError::SeqNotIncreasing { .. } => {
                "this is a bug in the caller: journal records must be appended in engine order, each exactly once"
            }
            StoreError::Encode { .. } | StoreError::RecordTooLarge { .. } => {
                "this is a bug: an engine record should be small and always encodable; please report it"
            }
            StoreError::Decode { .. } => {
                "run the Ward version that wrote it, or restore the data dir from a backup; starting with the lossy \
                 journal skips such records, but a job in flight among them would be forgotten"
            }
            StoreError::BadMeta { .. } => "this is a bug in the caller: meta keys are short names outside `ward.`, values small",
            StoreError::Damaged { .. } | StoreError::Unreadable { .. } => {
                "restore the data dir from a backup; do not edit ward.redb by hand (a job in flight could be forgotten)"
            }
            StoreError::HistoryLost { .. } => {
                "restore ward.redb from a backup; or, knowing that holds, placements and jobs in flight are forgotten, start \
                 once with --reinitialize to begin a new history (fencing tokens stay above the old ones)"
            }
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::DataDir { path, source } => write!(f, "{}: cannot use as the data dir: {source}", path.display())?,
            StoreError::Locked { data_dir, pid_file, pid } => {
                let holder = match pid {
                    Some(pid) => format!("pid {pid}"),
                    None => "pid unknown".to_string(),
                };
                write!(f, "another ward is using {} (pid file {}: {holder})", data_dir.display(), pid_file.display())?
            }
            StoreError::PidFile { path, source } => write!(f, "{}: cannot write the pid file: {source}", path.display())?,
            StoreError::Open { path, source } => write!(f, "{}: cannot open the store: {source}", path.display())?,
            StoreError::NewerFormat { path, found, supported } => {
                write!(f, "{}: store format {found} was written by a newer Ward; this one reads format {supported}", path.display())?
            }
            StoreError::Db { path, operation, source } => write!(f, "{}: cannot {operation}: {source}", path.display())?,
            StoreError::SeqNotIncreasing { path, seq, last } => write!(
                f,
                "{}: journal record seq {seq} is not above the last stored seq {last}; nothing of this batch was written",
                path.display()
            )?,
            StoreError::Encode { path, seq, source } => {
                write!(f, "{}: journal record seq {seq} cannot be encoded: {source}", path.display())?
            }
            StoreError::RecordTooLarge { path, seq, bytes, max } => {
                write!(f, "{}: journal record seq {seq} is {bytes} bytes encoded, over the {max} byte limit", path.display())?
            }
            StoreError::Decode { path, seq, source } => write!(
                f,
                "{}: journal record seq {seq} cannot be read ({source}): the file is damaged or a newer Ward wrote it",
                path.display()
            )?,
            StoreError::BadMeta { path, key, what } => write!(f, "{}: meta key {key:?}: {what}", path.display())?,
            StoreError::Damaged { path, seq, what } => write!(f, "{}: journal record seq {seq} is damaged: {what}", path.display())?,
            StoreError::Unreadable { path, operation, what } => {
                write!(f, "{}: cannot {operation}: the file is damaged ({what})", path.display())?
            }
            StoreError::HistoryLost { data_dir, marker, what } => write!(
                f,
                "{}: {what}, but this data dir has kept a journal before ({} exists); Ward refuses to start a new history \
                 silently (holds, placements and jobs in flight would be forgotten)",
                data_dir.display(),
                marker.display()
            )?,
        }
        write!(f, "\n  hint: {}", self.hint())
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::DataDir { source, .. } | StoreError::PidFile { source, .. } => Some(source),
            StoreError::Open { source, .. } => Some(source.as_ref()),
            StoreError::Db { source, .. } => Some(source.as_ref()),
            StoreError::Encode { source, .. } | StoreError::Decode { source, .. } => Some(source),
            _ => None,
        }
    }
}
