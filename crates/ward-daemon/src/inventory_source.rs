//! Reading the inventory file atomically (seed 002: a copy read while it was being
//! written was trusted). The bytes are read between two looks at the file's size
//! and modification time, twice; only when both agree is the content parsed,
//! validated and hashed. A rejected file leaves the last good inventory in force.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ward_core::inventory::Snapshot;

/// How often a changing file is read again before giving up for this round.
const STABLE_READ_ATTEMPTS_MAX: u32 = 5;
const STABLE_READ_PAUSE: Duration = Duration::from_millis(50);
/// Inventory files are small; anything larger is a mistake, not an inventory.
const INVENTORY_BYTES_MAX: u64 = 64 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let meta = std::fs::metadata(path)?;
    Ok(Stamp { len: meta.len(), modified: meta.modified().ok() })
}

/// What a read produced.
pub enum ReadOutcome {
    Loaded(Arc<Snapshot>),
    /// The loader refused it: every error, as sentences.
    Rejected(Vec<String>),
    /// The file kept changing while it was read; try again later.
    Unstable,
}

/// Reads the file so that the bytes parsed are one consistent version of it.
pub async fn read_stable(path: &Path) -> ReadOutcome {
    let source = path.display().to_string();
    for _ in 0..STABLE_READ_ATTEMPTS_MAX {
        let before = match stamp(path) {
            Ok(s) => s,
            Err(e) => return ReadOutcome::Rejected(vec![format!("{source}: cannot read: {e}")]),
        };
        if before.len > INVENTORY_BYTES_MAX {
            return ReadOutcome::Rejected(vec![format!(
                "{source}: {} bytes is larger than an inventory can be ({INVENTORY_BYTES_MAX})",
                before.len
            )]);
        }
        let first = read_bounded(path).await;
        let second = read_bounded(path).await;
        let after = stamp(path);
        match (first, second, after) {
            (Ok(a), Ok(b), Ok(after)) if a == b && after == before && a.len() as u64 == before.len => {
                let text = match String::from_utf8(a) {
                    Ok(t) => t,
                    Err(e) => return ReadOutcome::Rejected(vec![format!("{source}: not UTF-8 text: {e}")]),
                };
                return match ward_inventory::load(&source, &text) {
                    Ok(snapshot) => ReadOutcome::Loaded(Arc::new(snapshot)),
                    Err(errors) => ReadOutcome::Rejected(errors.iter().map(|e| e.to_string()).collect()),
                };
            }
            (Err(e), _, _) | (_, Err(e), _) => return ReadOutcome::Rejected(vec![format!("{source}: cannot read: {e}")]),
            _ => tokio::time::sleep(STABLE_READ_PAUSE).await,
        }
    }
    ReadOutcome::Unstable
}

/// At most `ward_inventory::INVENTORY_BYTES_MAX` bytes, on a blocking thread (a
/// character device reports size 0 and would otherwise be read without end).
async fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || ward_inventory::read_bounded(&path)).await.map_err(|e| e.to_string())?
}

/// Notices changes: a file watch by polling size and mtime (portable, no inotify
/// limits), plus SIGHUP for an explicit reload.
pub struct Watcher {
    path: PathBuf,
    last: Option<Stamp>,
}

impl Watcher {
    pub fn new(path: PathBuf) -> Watcher {
        let last = stamp(&path).ok();
        Watcher { path, last }
    }

    /// True when the file looks different from the last time this returned true.
    pub fn changed(&mut self) -> bool {
        let now = stamp(&self.path).ok();
        if now != self.last {
            self.last = now;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[site]]
name = "dc"

[[node]]
name = "web1"
site = "dc"
address = "127.0.0.1"

[[check]]
name = "tcp"
kind = "tcp"
target = "{address}:1"
timeout = "100ms"
nodes = ["web1"]

[[hook]]
name = "noop"
kind = "exec"
command = ["true"]
services = ["web"]

[[route]]
name = "log"
kind = "log"

[[service]]
name = "web"
kind = "vip"
candidates = ["web1"]
actuator = "noop"
"#;

    #[tokio::test]
    async fn a_good_file_loads_and_a_torn_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.toml");
        std::fs::write(&path, GOOD).unwrap();
        assert!(matches!(read_stable(&path).await, ReadOutcome::Loaded(_)));
        std::fs::write(&path, &GOOD[..GOOD.len() / 2]).unwrap();
        match read_stable(&path).await {
            ReadOutcome::Rejected(errors) => assert!(!errors.is_empty()),
            _ => panic!("a torn inventory must be refused"),
        }
        let mut watcher = Watcher::new(path.clone());
        assert!(!watcher.changed());
        std::fs::write(&path, GOOD).unwrap();
        // mtime granularity: a size change is enough to notice.
        assert!(watcher.changed());
    }
}
