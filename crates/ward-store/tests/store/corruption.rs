//! Bytes that do not deserialize (damage, or a newer Ward) never panic: the strict
//! read names the seq, the lossy read skips and lists them.

use std::path::Path;

use redb::{Database, TableDefinition};
use ward_store::{Store, StoreError, DB_FILE};

use crate::support::health_record;

/// The store's tables, reached around it, as damage would.
const JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new("journal");
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

fn write_raw(data_dir: &Path, seq: u64, bytes: &[u8]) {
    let db = Database::create(data_dir.join(DB_FILE)).expect("open raw");
    let txn = db.begin_write().expect("write");
    // Framed with a valid checksum: what is tested here is the record's content.
    txn.open_table(JOURNAL).expect("table").insert(seq, ward_store::frame_record(bytes).as_slice()).expect("insert");
    txn.commit().expect("commit");
}

#[test]
fn an_unreadable_record_is_an_error_naming_its_seq_and_the_lossy_read_skips_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path()).expect("open");
        store.append(&[health_record(1), health_record(2), health_record(3), health_record(4)]).expect("append");
    }
    write_raw(dir.path(), 2, b"\x00\xffnot json at all");
    // Valid JSON a newer Ward might write: an event type this one does not know.
    write_raw(dir.path(), 3, br#"{"seq":3,"at_ms":3000,"type":"quantum_leap","node":"lb1"}"#);

    let store = Store::open(dir.path()).expect("a damaged record does not stop the open");
    let err = store.journal().expect_err("strict read must fail");
    assert!(matches!(err, StoreError::Decode { seq: 2, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("journal record seq 2 cannot be read"), "{text}");
    assert!(text.contains("expected value") || text.contains("line 1"), "names the serde error: {text}");
    assert!(text.contains("hint:") && text.contains("ward.redb"), "{text}");
    let err = store.journal_since(2, 10).expect_err("the newer record");
    assert!(matches!(err, StoreError::Decode { seq: 3, .. }) && err.to_string().contains("quantum_leap"), "{err}");

    let lossy = store.journal_lossy().expect("lossy read");
    let seqs: Vec<u64> = lossy.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![1, 4]);
    assert_eq!(lossy.skipped.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(lossy.records[1], health_record(4));
}

#[test]
fn a_record_whose_body_disagrees_with_its_key_is_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(Store::open(dir.path()).expect("create"));
    write_raw(dir.path(), 7, &serde_json::to_vec(&health_record(8)).expect("encode"));
    let store = Store::open(dir.path()).expect("open");
    let err = store.journal().expect_err("mismatch");
    assert!(matches!(err, StoreError::Decode { seq: 7, .. }) && err.to_string().contains("the body says seq 8"), "{err}");
}

#[test]
fn a_store_from_a_newer_format_is_refused_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(Store::open(dir.path()).expect("create"));
    {
        let db = Database::create(dir.path().join(DB_FILE)).expect("open raw");
        let txn = db.begin_write().expect("write");
        txn.open_table(META).expect("table").insert("ward.store_format", "99").expect("insert");
        txn.commit().expect("commit");
    }
    let err = Store::open(dir.path()).err().expect("must refuse");
    assert!(matches!(err, StoreError::NewerFormat { .. }), "{err:?}");
    assert!(err.to_string().contains("store format 99 was written by a newer Ward"), "{err}");
}
