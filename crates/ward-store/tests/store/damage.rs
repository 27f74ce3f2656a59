//! A lost, emptied, truncated, extended or edited store: a clean error naming the
//! file and what to do, never a panic inside the storage library and never a
//! silent new history.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};
use ward_store::{OpenOptions, Store, StoreError, DB_FILE, HISTORY_FILE};

use crate::support::health_record;

const JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new("journal");
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

fn used_data_dir(records: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let batch: Vec<_> = (1..=records).map(health_record).collect();
    store.append(&batch).expect("append");
    dir
}

/// Opens and reads the whole journal, as `ward run` does at start.
fn open_and_read(dir: &Path) -> Result<usize, StoreError> {
    let store = Store::open(dir)?;
    Ok(store.journal()?.len())
}

#[test]
fn an_emptied_or_missing_store_in_a_used_data_dir_is_refused_without_reinitialize() {
    let dir = used_data_dir(3);
    assert!(dir.path().join(HISTORY_FILE).exists(), "the first durable record marks the data dir as used");
    let db = dir.path().join(DB_FILE);

    std::fs::write(&db, b"").expect("empty the store");
    let err = Store::open(dir.path()).err().expect("an empty store in a used data dir must be refused");
    assert!(matches!(err, StoreError::HistoryLost { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("empty") && text.contains("--reinitialize"), "{text}");

    std::fs::remove_file(&db).expect("remove the store");
    let err = Store::open(dir.path()).err().expect("a missing store in a used data dir must be refused");
    assert!(err.to_string().contains("missing"), "{err}");
    assert!(!db.exists(), "a refused open creates nothing");

    // The operator's explicit choice: a new history.
    let store = Store::open_with(dir.path(), OpenOptions { reinitialize: true }).expect("--reinitialize starts anew");
    assert!(store.journal().expect("read").is_empty());
    store.append(&[health_record(1)]).expect("append");
    drop(store);
    assert_eq!(open_and_read(dir.path()).expect("reopen"), 1);
}

#[test]
fn a_store_emptied_inside_redb_is_refused_too() {
    let dir = used_data_dir(2);
    {
        let db = Database::create(dir.path().join(DB_FILE)).expect("open raw");
        let txn = db.begin_write().expect("write");
        txn.delete_table(JOURNAL).expect("drop the journal");
        txn.commit().expect("commit");
    }
    let err = Store::open(dir.path()).err().expect("an empty journal in a used data dir must be refused");
    assert!(matches!(err, StoreError::HistoryLost { .. }), "{err:?}");
}

#[test]
fn a_truncated_or_extended_store_is_a_clean_error_never_a_panic() {
    let dir = used_data_dir(400);
    let db = dir.path().join(DB_FILE);
    let whole = std::fs::read(&db).expect("read the store");

    // Cut in half.
    std::fs::write(&db, &whole[..whole.len() / 2]).expect("truncate");
    let err = open_and_read(dir.path()).expect_err("half a store is damage");
    assert!(err.to_string().contains("hint:"), "{err}");

    // Garbage appended after the last page: refused or read, but never a panic.
    let mut extended = whole.clone();
    extended.extend((0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    std::fs::write(&db, &extended).expect("extend");
    match open_and_read(dir.path()) {
        Ok(records) => assert_eq!(records, 400, "if it opens, nothing may be lost"),
        Err(err) => assert!(err.to_string().contains("hint:"), "{err}"),
    }

    // Zeroed pages in the middle.
    let mut zeroed = whole.clone();
    let middle = zeroed.len() / 2;
    zeroed[middle..middle + 8192].fill(0);
    std::fs::write(&db, &zeroed).expect("zero pages");
    if let Err(err) = open_and_read(dir.path()) {
        assert!(err.to_string().contains("hint:"), "{err}");
    }
}

#[test]
fn an_edited_record_fails_its_checksum() {
    let dir = used_data_dir(3);
    {
        let db = Database::create(dir.path().join(DB_FILE)).expect("open raw");
        let txn = db.begin_write().expect("write");
        {
            let mut table = txn.open_table(JOURNAL).expect("table");
            let mut stored = table.get(2).expect("get").expect("record 2").value().to_vec();
            // A person "fixes" the record by hand: same length, one byte changed.
            let at = stored.iter().rposition(|b| *b == b'2').expect("a digit to change");
            stored[at] = b'9';
            table.insert(2, stored.as_slice()).expect("insert");
            // And one written as plain JSON, without the frame.
            table.insert(4, serde_json::to_vec(&health_record(4)).expect("encode").as_slice()).expect("insert");
        }
        txn.commit().expect("commit");
    }
    let store = Store::open(dir.path()).expect("open");
    let err = store.journal().expect_err("an edited record must be detected");
    assert!(matches!(err, StoreError::Damaged { seq: 2, .. }), "{err:?}");
    assert!(err.to_string().contains("checksum"), "{err}");
    let lossy = store.journal_lossy().expect("lossy read");
    assert_eq!(lossy.records.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 3]);
    assert_eq!(lossy.skipped.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), vec![2, 4]);
}

#[test]
fn a_format_1_store_still_reads_its_plain_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Database::create(dir.path().join(DB_FILE)).expect("create raw");
        let txn = db.begin_write().expect("write");
        txn.open_table(META).expect("meta").insert("ward.store_format", "1").expect("insert");
        txn.open_table(JOURNAL)
            .expect("table")
            .insert(1, serde_json::to_vec(&health_record(1)).expect("encode").as_slice())
            .expect("insert");
        txn.commit().expect("commit");
    }
    let store = Store::open(dir.path()).expect("open a format-1 store");
    store.append(&[health_record(2)]).expect("append (framed)");
    assert_eq!(store.journal().expect("read").len(), 2);
}

#[test]
fn the_data_dir_and_its_files_are_private() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("data");
    let store = Store::open(&dir).expect("open");
    store.append(&[health_record(1)]).expect("append");
    let mode = |path: &Path| std::fs::metadata(path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for file in [DB_FILE, HISTORY_FILE, ward_store::PID_FILE] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
}
