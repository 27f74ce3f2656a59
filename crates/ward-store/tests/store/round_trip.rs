//! Real engine records survive a close and reopen, and folding them gives the
//! controller that stopped: same placements, same jobs in flight, same outputs.

use ward_core::engine::{Command, Engine, HoldTarget, Mode};
use ward_core::ids::*;
use ward_store::Store;

use crate::support::{two_vips, Driven};

#[test]
fn engine_journal_round_trips_and_recovers_the_same_controller() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snapshot = two_vips();
    let (journal, now_ms, placements, in_flight) = {
        let store = Store::open(dir.path()).expect("open");
        let mut d = Driven::new(snapshot.clone(), &store);
        for _ in 0..3 {
            d.second();
        }
        // lb1 dies: vip-1 fails over to lb2 and the job completes.
        d.down.push(NodeId(0));
        for _ in 0..6 {
            d.second();
        }
        assert!(!d.started.is_empty(), "no failover started: {:?}", d.journal);
        d.complete_started();
        for _ in 0..3 {
            d.second();
            d.complete_started();
        }
        assert_eq!(d.engine.placement(ServiceId(0)), &[NodeId(1)]);
        // An operator's hold, then lb3 dies: vip-2's job is left in flight.
        let hold = Command::Hold { target: HoldTarget::Node("lb1".into()), author: "ana".into(), reason: "disk".into(), until_ms: None };
        d.engine.command(d.now_ms, hold).expect("hold");
        d.drain();
        d.down.push(NodeId(2));
        for _ in 0..6 {
            d.second();
        }
        assert!(d.engine.jobs_in_flight() > 0, "expected vip-2's job in flight");
        assert_eq!(store.len().expect("len"), d.journal.len() as u64);
        assert_eq!(store.last_seq().expect("last"), d.journal.last().map(|r| r.seq));
        let placements: Vec<Vec<NodeId>> = (0..2).map(|s| d.engine.placement(ServiceId(s)).to_vec()).collect();
        (d.journal, d.now_ms, placements, d.engine.jobs_in_flight())
    };

    // A new process, in effect: the first Store is dropped, its lock released.
    let store = Store::open(dir.path()).expect("reopen");
    let stored = store.journal().expect("journal");
    assert_eq!(stored, journal, "the store gave back different records");

    let restart_ms = now_ms + 5_000;
    let mut from_store = Engine::recover(snapshot.clone(), Mode::Guarded, &stored, restart_ms);
    let mut from_memory = Engine::recover(snapshot, Mode::Guarded, &journal, restart_ms);
    from_store.check_invariants().expect("invariants after recover");
    for (service, expected) in placements.iter().enumerate() {
        assert_eq!(from_store.placement(ServiceId(service as u32)), expected.as_slice(), "service {service}");
    }
    assert_eq!(from_store.jobs_in_flight(), in_flight);
    let drain = |e: &mut Engine| std::iter::from_fn(|| e.poll_output()).collect::<Vec<_>>();
    assert_eq!(drain(&mut from_store), drain(&mut from_memory), "recovery from the store differs from recovery from memory");
}

#[test]
fn reads_by_seq_and_by_time_are_bounded_and_ordered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    assert_eq!(store.last_seq().expect("last"), None);
    assert!(store.is_empty().expect("empty"));
    let records: Vec<_> = (0..50).map(crate::support::health_record).collect();
    store.append(&records[..20]).expect("append");
    store.append(&records[20..]).expect("append");
    assert_eq!(store.journal().expect("all"), records);
    let seqs = |rs: Vec<ward_core::journal::JournalRecord>| rs.iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(seqs(store.journal_since(10, 3).expect("since")), vec![11, 12, 13]);
    assert_eq!(seqs(store.journal_since(48, 10).expect("since")), vec![49]);
    assert!(store.journal_since(u64::MAX, 10).expect("since max").is_empty());
    assert!(store.journal_since(0, 0).expect("limit 0").is_empty());
    // at_ms = 1000 * seq: [5000, 9000) is seqs 5..=8; the limit cuts at 2.
    assert_eq!(seqs(store.journal_between_ms(5_000, 9_000, 100).expect("between")), vec![5, 6, 7, 8]);
    assert_eq!(seqs(store.journal_between_ms(5_000, 9_000, 2).expect("between")), vec![5, 6]);
    assert!(store.journal_between_ms(9_000, 5_000, 10).expect("reversed").is_empty());
    assert!(store.bytes_on_disk().expect("size") > 0);
}
