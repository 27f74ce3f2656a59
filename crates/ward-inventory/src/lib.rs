//! ward-inventory: TOML inventory text in, a whole validated `Snapshot` out, or
//! every error found (file:line:column, field, what is wrong, how to fix it).
//! Never a partial snapshot: a rejected inventory leaves the last good one in force.
//!
//! Stages: `parse` (syntax, unknown fields, types) → `resolve` (defaults, names to
//! ids, per-item rules) → `validate` (rules across items) → `Snapshot::assemble`.

mod duration;
mod error;
mod names;
mod parse;
mod raw;
mod resolve;
mod summary;
mod validate;

use std::path::Path;

use sha2::{Digest, Sha256};
use ward_core::inventory::{Snapshot, SnapshotParts};

pub use duration::{parse_ms as parse_duration_ms, DURATION_MAX_MS};

/// The largest inventory file read (64 MiB): a 100k-node inventory is a few MiB;
/// anything larger (or a device like /dev/zero) is refused, not read into memory.
pub const INVENTORY_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Reads at most `INVENTORY_BYTES_MAX` bytes of a file; more is an error naming the limit.
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let mut bytes = Vec::new();
    file.take(INVENTORY_BYTES_MAX + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read the file: {e}"))?;
    if bytes.len() as u64 > INVENTORY_BYTES_MAX {
        return Err(format!("the file is larger than the {} MiB an inventory may be", INVENTORY_BYTES_MAX / (1024 * 1024)));
    }
    Ok(bytes)
}
pub use error::InventoryError;
pub use summary::summary;

/// Parses and validates `text`; `source` names it in errors and in the snapshot.
/// Sans-IO: the caller reads the file (or see `load_file`).
pub fn load(source: &str, text: &str) -> Result<Snapshot, Vec<InventoryError>> {
    let mut sink = error::Sink::new(source, text);
    let Some(doc) = parse::parse(text, &mut sink) else {
        return Err(sink.into_errors());
    };
    let (resolved, _names) = resolve::resolve(&doc, &mut sink);
    validate::validate(&doc, &resolved, &mut sink);
    if !sink.is_empty() {
        return Err(sink.into_errors());
    }
    let r = resolved;
    let parts = (|| {
        Some(SnapshotParts {
            hash: sha256_hex(text.as_bytes()),
            source: source.to_string(),
            policy: r.policy,
            sites: r.sites.into_iter().collect::<Option<_>>()?,
            observers: r.observers.into_iter().collect::<Option<_>>()?,
            nodes: r.nodes.into_iter().collect::<Option<_>>()?,
            checks: r.checks.into_iter().collect::<Option<_>>()?,
            hooks: r.hooks.into_iter().collect::<Option<_>>()?,
            routes: r.routes.into_iter().collect::<Option<_>>()?,
            services: r.services.into_iter().collect::<Option<_>>()?,
        })
    })();
    match parts {
        Some(parts) => Ok(Snapshot::assemble(parts)),
        // Every unparsed item reports an error, so this is a loader bug; still an
        // error, never a partial snapshot or a panic.
        None => {
            let mut sink = error::Sink::new(source, text);
            sink.error(
                0..0,
                "",
                "internal error: an item failed to load without an error",
                "please report this as a bug in ward-inventory",
            );
            Err(sink.into_errors())
        }
    }
}

/// Reads and loads a file. An unreadable or non-UTF-8 file is an error like any other.
pub fn load_file(path: &Path) -> Result<Snapshot, Vec<InventoryError>> {
    let source = path.display().to_string();
    let unreadable = |message: String, hint: &str| {
        vec![InventoryError { file: source.clone(), line: 0, column: 0, field: String::new(), message, hint: hint.to_string() }]
    };
    let bytes = read_bounded(path)
        .map_err(|e| unreadable(e, "check the path, its permissions and that it is the inventory (a regular TOML file)"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        unreadable(format!("the file is not UTF-8 (invalid byte at offset {})", e.utf8_error().valid_up_to()), "TOML files must be UTF-8")
    })?;
    load(&source, &text)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
