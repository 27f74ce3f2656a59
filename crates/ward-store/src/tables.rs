//! The redb tables. Their names and key/value types are the on-disk format:
//! changing either is a format change (bump `STORE_FORMAT`).

use redb::TableDefinition;

/// `seq` → the record as JSON. JSON rather than a binary encoding so a damaged
/// record can be read by a person, and so fields added by a newer Ward (with
/// serde defaults) stay readable by an older one where possible.
pub(crate) const JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new("journal");

/// `seq` → a checkpoint of the engine's durable state as framed JSON (see
/// `checkpoint.rs`); only the latest two are kept.
pub(crate) const CHECKPOINTS: TableDefinition<u64, &[u8]> = TableDefinition::new("checkpoints");

/// Small strings: the daemon's keys plus `ward.store_format`.
pub(crate) const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

/// The format this code writes and reads. A store written by a newer format is
/// refused at open rather than misread. Format 2 frames every record with a
/// checksum; a format-1 store's older records (plain JSON) are still read.
pub const STORE_FORMAT: u32 = 2;

/// Meta key of the format version. Keys under `ward.` are the store's own.
pub(crate) const FORMAT_KEY: &str = "ward.store_format";
pub(crate) const RESERVED_PREFIX: &str = "ward.";
