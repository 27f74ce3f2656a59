//! Checkpoints: saved after the records before them, the records before the
//! previous checkpoint dropped, and recovery from the latest checkpoint and the
//! records after it equal to a fold of the whole journal.

use ward_core::engine::Engine;
use ward_core::ids::NodeId;
use ward_core::Mode;
use ward_store::Store;

use crate::support::{two_vips, Driven};

#[test]
fn a_checkpoint_bounds_the_store_and_recovers_what_the_whole_journal_does() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut d = Driven::new(two_vips(), &store);
    d.engine.set_checkpoint_every(5);
    // A flapping load balancer: health changes, failovers and their jobs.
    for round in 0..12 {
        d.down = if round % 2 == 0 { vec![NodeId(0)] } else { Vec::new() };
        for _ in 0..8 {
            d.second();
            d.complete_started();
        }
    }
    let checkpoint = store.latest_checkpoint().unwrap().expect("checkpoints were saved");
    let kept = store.journal().unwrap();
    let first_kept = kept.first().map(|r| r.seq).unwrap();
    assert!(first_kept > 0, "records before the previous checkpoint are dropped");
    assert!(first_kept < checkpoint.seq, "the window since the previous checkpoint is kept for timelines");
    assert!((kept.len() as u64) < d.journal.len() as u64, "{} kept of {}", kept.len(), d.journal.len());
    // The records from the checkpoint on are exactly what was appended.
    let tail: Vec<_> = d.journal.iter().filter(|r| r.seq >= checkpoint.seq).cloned().collect();
    assert_eq!(store.journal_from(checkpoint.seq, usize::MAX).unwrap(), tail);
    d.engine.check_recovery(Some(&checkpoint), &d.journal).expect("the checkpoint and the records after it recover the live state");
    let recovered = Engine::recover_from(d.engine.snapshot().clone(), Mode::Guarded, Some(&checkpoint), &tail, d.now_ms);
    for service in 0..2u32 {
        let id = ward_core::ids::ServiceId(service);
        assert_eq!(recovered.placement(id), d.engine.placement(id));
    }
}

#[test]
fn a_new_store_has_no_checkpoint_and_one_is_saved_after_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.latest_checkpoint().unwrap(), None, "a new store has none");
    let mut d = Driven::new(two_vips(), &store);
    d.engine.set_checkpoint_every(5);
    for _ in 0..5 {
        d.second();
    }
    let checkpoint = store.latest_checkpoint().unwrap().expect("a checkpoint");
    assert!(checkpoint.seq > 0);
}
