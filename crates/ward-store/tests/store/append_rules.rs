//! `append` never overwrites: a seq at or below the last stored one is a caller
//! bug, reported, and nothing of its batch is written.

use ward_store::{Store, StoreError};

use crate::support::health_record;

#[test]
fn append_rejects_a_non_increasing_seq_and_writes_nothing_of_the_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    store.append(&[health_record(1), health_record(2)]).expect("append");
    store.append(&[]).expect("an empty batch is a no-op");

    // Same seq as the last: refused.
    let err = store.append(&[health_record(2)]).expect_err("duplicate seq");
    assert!(matches!(err, StoreError::SeqNotIncreasing { seq: 2, last: 2, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("seq 2 is not above the last stored seq 2") && text.contains("hint:"), "{text}");
    assert!(text.contains("ward.redb"), "the message names the file: {text}");

    // A batch that goes backwards halfway: the good first record must not land either.
    let err = store.append(&[health_record(3), health_record(3)]).expect_err("repeat inside the batch");
    assert!(matches!(err, StoreError::SeqNotIncreasing { seq: 3, last: 3, .. }), "{err:?}");
    let err = store.append(&[health_record(5), health_record(4)]).expect_err("backwards inside the batch");
    assert!(matches!(err, StoreError::SeqNotIncreasing { seq: 4, last: 5, .. }), "{err:?}");
    assert_eq!(store.last_seq().expect("last"), Some(2));
    assert_eq!(store.len().expect("len"), 2);

    // Gaps are fine (seqs increase, they need not be dense).
    store.append(&[health_record(3), health_record(10)]).expect("append after a refusal");
    let seqs: Vec<u64> = store.journal().expect("journal").iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 10]);
}
