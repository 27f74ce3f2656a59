//! Table-level tests: the pipeline end to end, plus property tests.

use proptest::prelude::*;

use super::*;
use crate::inventory::testing::InventoryBuilder;
use crate::inventory::{CheckKind, Replication, Snapshot};
use crate::observation::{DiskStatus, Observation, ProbeDetail, ProbeOutcome, ReplicationStatus};
use crate::time::{HOUR_MS, MINUTE_MS, SECOND_MS};

use ProbeOutcome::*;

const STALE: u64 = 15 * SECOND_MS;

/// `observers` observers, `nodes` nodes, one http check on every node.
fn fleet(observers: usize, nodes: usize, quorum: u16, rise: u32, fall: u32) -> Snapshot {
    let mut b = InventoryBuilder::new().policy(|p| {
        p.quorum = quorum;
        p.stale_after_ms = STALE;
    });
    let site = b.site("dc1");
    for o in 0..observers {
        b.observer(&format!("obs{o}"), site);
    }
    let ids: Vec<NodeId> = (0..nodes).map(|n| b.node(&format!("web{n}"), site, &[])).collect();
    b.check("http", CheckKind::Http, &ids, rise, fall);
    b.build()
}

fn see(table: &mut HealthTable, snap: &Snapshot, probe: u32, observer: u16, at: TimeMs, outcome: ProbeOutcome) {
    table.ingest(snap, &Observation::new(ProbeId(probe), ObserverId(observer), at, outcome));
}

/// Every observer reports every probe with `outcome(probe, observer)` at `at`.
fn round(table: &mut HealthTable, snap: &Snapshot, at: TimeMs, outcome: impl Fn(u32, u16) -> ProbeOutcome) {
    for p in 0..snap.probes().len() as u32 {
        for o in 0..snap.observers().len() as u16 {
            see(table, snap, p, o, at, outcome(p, o));
        }
    }
}

#[test]
fn everything_starts_unknown() {
    let snap = fleet(3, 2, 2, 1, 1);
    let mut table = HealthTable::new(&snap);
    assert!(table.refresh(&snap, 0, false).is_empty());
    assert_eq!(table.node(NodeId(0)).status, Status::Unknown);
    assert_eq!(table.probe(ProbeId(1)).status, Status::Unknown);
    assert_eq!(table.probe(ProbeId(1)).votes_unknown, 3);
    assert_eq!(table.next_change_ms(0), None);
    // Out of range lookups do not panic.
    assert_eq!(table.node(NodeId(99)).status, Status::Unknown);
    assert_eq!(table.probe(ProbeId(99)).status, Status::Unknown);
    assert!(table.votes(ProbeId(99)).is_empty());
}

#[test]
fn one_observer_of_three_seeing_down_is_not_enough() {
    let snap = fleet(3, 2, 2, 1, 1);
    let mut table = HealthTable::new(&snap);
    round(&mut table, &snap, 1_000, |_, _| Pass);
    let events = table.refresh(&snap, 1_000, false);
    assert_eq!(
        events,
        vec![
            HealthEvent::NodeStatus { node: NodeId(0), from: Status::Unknown, to: Status::Up },
            HealthEvent::NodeStatus { node: NodeId(1), from: Status::Unknown, to: Status::Up },
        ]
    );
    round(&mut table, &snap, 2_000, |p, o| if p == 0 && o == 0 { Fail } else { Pass });
    assert!(table.refresh(&snap, 2_000, false).is_empty());
    assert_eq!(table.node(NodeId(0)).status, Status::Up);
    let view = table.probe(ProbeId(0));
    assert_eq!((view.votes_up, view.votes_down, view.votes_unknown), (2, 1, 0));
    assert_eq!(view.last_at_ms, Some(2_000));

    // A second observer agreeing makes it Down.
    round(&mut table, &snap, 3_000, |p, o| if p == 0 && o <= 1 { Fail } else { Pass });
    let events = table.refresh(&snap, 3_000, false);
    assert_eq!(events, vec![HealthEvent::NodeStatus { node: NodeId(0), from: Status::Up, to: Status::Down }]);
    assert_eq!(table.node(NodeId(0)).since_ms, 3_000);
    assert_eq!(table.node(NodeId(0)).flaps, 1);
    assert_eq!(
        table.votes(ProbeId(0)),
        vec![
            (ObserverId(0), Status::Down, Some(3_000)),
            (ObserverId(1), Status::Down, Some(3_000)),
            (ObserverId(2), Status::Up, Some(3_000)),
        ]
    );
}

#[test]
fn stale_observations_are_unknown_not_down() {
    let snap = fleet(3, 1, 2, 1, 1);
    let mut table = HealthTable::new(&snap);
    round(&mut table, &snap, 1_000, |_, _| Fail);
    table.refresh(&snap, 1_000, false);
    assert_eq!(table.node(NodeId(0)).status, Status::Down);
    let expiry = table.next_change_ms(1_000).unwrap();
    assert_eq!(expiry, 1_000 + STALE + 1);
    table.refresh(&snap, expiry - 1, false);
    assert_eq!(table.node(NodeId(0)).status, Status::Down);
    let events = table.refresh(&snap, expiry, false);
    let (status, silent): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| matches!(e, HealthEvent::NodeStatus { .. }));
    assert_eq!(status, vec![HealthEvent::NodeStatus { node: NodeId(0), from: Status::Down, to: Status::Unknown }]);
    // Nothing arrived from anyone since: every observer is reported silent as well.
    assert_eq!(silent.len(), 3, "{silent:?}");
    assert_eq!(table.next_change_ms(expiry), None);
}

#[test]
fn single_observer_mass_failure_makes_it_suspect_and_nodes_unknown() {
    let snap = fleet(1, 4, 1, 1, 1);
    let mut table = HealthTable::new(&snap);
    round(&mut table, &snap, 1_000, |_, _| Pass);
    table.refresh(&snap, 1_000, false);
    round(&mut table, &snap, 2_000, |p, _| if p < 3 { Fail } else { Pass });
    let events = table.refresh(&snap, 2_000, false);
    assert_eq!(
        events,
        vec![
            HealthEvent::NodeStatus { node: NodeId(0), from: Status::Up, to: Status::Unknown },
            HealthEvent::NodeStatus { node: NodeId(1), from: Status::Up, to: Status::Unknown },
            HealthEvent::NodeStatus { node: NodeId(2), from: Status::Up, to: Status::Unknown },
            HealthEvent::NodeStatus { node: NodeId(3), from: Status::Up, to: Status::Unknown },
            HealthEvent::ObserverSuspect { observer: ObserverId(0), failing: 3, of: 4, flapping: false },
        ]
    );
    assert_eq!(table.suspect_observers(), vec![ObserverId(0)]);
    assert!((0..4).all(|n| table.node(NodeId(n)).status != Status::Down));

    // The naive baseline believes it.
    let mut naive = HealthTable::new(&snap);
    round(&mut naive, &snap, 2_000, |p, _| if p < 3 { Fail } else { Pass });
    naive.refresh(&snap, 2_000, true);
    assert_eq!(naive.node(NodeId(0)).status, Status::Down);
    assert!(naive.suspect_observers().is_empty());

    // Recovery clears the suspicion.
    round(&mut table, &snap, 3_000, |_, _| Pass);
    let events = table.refresh(&snap, 3_000, false);
    assert_eq!(events.last(), Some(&HealthEvent::ObserverCleared { observer: ObserverId(0) }));
    assert_eq!(table.node(NodeId(0)).status, Status::Up);
}

#[test]
fn partitioned_observer_among_healthy_ones_abstains() {
    // Quorum 1: without suspicion, observer 0 alone could take four nodes down.
    let snap = fleet(3, 4, 1, 1, 1);
    let mut table = HealthTable::new(&snap);
    round(&mut table, &snap, 1_000, |_, o| if o == 0 { Fail } else { Pass });
    let events = table.refresh(&snap, 1_000, false);
    assert!(events.contains(&HealthEvent::ObserverSuspect { observer: ObserverId(0), failing: 4, of: 4, flapping: false }));
    assert!((0..4).all(|n| table.node(NodeId(n)).status == Status::Up));
    assert_eq!(table.probe(ProbeId(0)).votes_unknown, 1);
    // Evidence still shows what the suspect observer saw.
    assert_eq!(table.votes(ProbeId(0))[0].1, Status::Down);
}

#[test]
fn flapping_node_is_suppressed_then_reused_after_quiet() {
    let snap = fleet(1, 1, 1, 1, 1);
    let mut table = HealthTable::new(&snap);
    let mut naive = HealthTable::new(&snap);
    let mut t = 0;
    let mut events = Vec::new();
    // Seed 000: up a minute, down a minute, three times.
    for _ in 0..3 {
        for (outcome, _) in [(Pass, 0), (Fail, 1)] {
            t += MINUTE_MS;
            see(&mut table, &snap, 0, 0, t, outcome);
            see(&mut naive, &snap, 0, 0, t, outcome);
            events.extend(table.refresh(&snap, t, false));
            naive.refresh(&snap, t, true);
        }
    }
    assert_eq!(table.node(NodeId(0)).flaps, 3);
    assert!(table.node(NodeId(0)).suppressed);
    assert!(table.node(NodeId(0)).penalty > 2_000);
    assert!(events.iter().any(|e| matches!(e, HealthEvent::Suppressed { node: NodeId(0), .. })));
    assert_eq!(naive.node(NodeId(0)).flaps, 3);
    assert!(!naive.node(NodeId(0)).suppressed);

    // Stays up and quiet: reported every 10 s; the reuse time is predicted.
    let reuse = loop {
        t += 10 * SECOND_MS;
        see(&mut table, &snap, 0, 0, t, Pass);
        let events = table.refresh(&snap, t, false);
        if let Some(e) = events.iter().find(|e| matches!(e, HealthEvent::Reused { .. })) {
            break (t, e.clone());
        }
        assert!(t < 3 * HOUR_MS, "never reused");
    };
    assert!(!table.node(NodeId(0)).suppressed);
    assert!(table.node(NodeId(0)).penalty < 750);
    assert_eq!(table.node(NodeId(0)).status, Status::Up);
    // About two half-lives after the last flap (3000 -> 750).
    assert!(reuse.0 > 30 * MINUTE_MS && reuse.0 < 45 * MINUTE_MS, "{reuse:?}");
}

#[test]
fn flaps_one_observer_sees_across_most_targets_are_refunded_not_damped() {
    // A lone observer whose link to its targets drops one target at a time: each
    // node goes down for it in turn, never more than one at once.
    let snap = fleet(1, 6, 1, 1, 1);
    let mut table = HealthTable::new(&snap);
    let mut t = MINUTE_MS;
    round(&mut table, &snap, t, |_, _| Pass);
    table.refresh(&snap, t, false);
    let mut events = Vec::new();
    for failing in 0..4u32 {
        t += 10 * SECOND_MS;
        round(&mut table, &snap, t, |p, _| if p == failing { Fail } else { Pass });
        events.extend(table.refresh(&snap, t, false));
        if failing < 2 {
            assert!(table.node(NodeId(failing)).penalty >= 900, "flap {failing} penalized before the pattern shows");
        }
        t += 10 * SECOND_MS;
        round(&mut table, &snap, t, |_, _| Pass);
        events.extend(table.refresh(&snap, t, false));
    }
    assert!(events.contains(&HealthEvent::ObserverSuspect { observer: ObserverId(0), failing: 4, of: 6, flapping: true }), "{events:?}");
    for n in 0..4 {
        assert_eq!(table.node(NodeId(n)).penalty, 0, "web{n}'s flap was the observer's, not the node's");
        assert!(!table.node(NodeId(n)).suppressed);
    }
}

#[test]
fn next_change_reports_damping_reuse() {
    let snap = fleet(1, 1, 1, 1, 1);
    let mut table = HealthTable::new(&snap);
    for i in 0..6u64 {
        see(&mut table, &snap, 0, 0, i * 1_000, if i % 2 == 0 { Pass } else { Fail });
        table.refresh(&snap, i * 1_000, false);
    }
    assert!(table.node(NodeId(0)).suppressed);
    // Long after the data went stale, the only pending change is the reuse.
    let now = 10 * MINUTE_MS;
    table.refresh(&snap, now, false);
    let reuse = table.next_change_ms(now).unwrap();
    assert!(reuse > now);
    table.refresh(&snap, reuse - 1, false);
    assert!(table.node(NodeId(0)).suppressed);
    let events = table.refresh(&snap, reuse, false);
    assert!(matches!(events[..], [HealthEvent::Reused { node: NodeId(0), .. }]));
    assert_eq!(table.next_change_ms(reuse), None);
}

fn replicated() -> (Snapshot, ProbeId) {
    let mut b = InventoryBuilder::new().policy(|p| p.stale_after_ms = STALE);
    let site = b.site("scl2");
    b.observer("mon", site);
    let master = b.node("db-phx1", site, &[]);
    let replica = b.node("db1-scl2", site, &[]);
    let check = b.check("mysql", CheckKind::Mysql, &[master, replica], 1, 1);
    b.node_mut(replica).replication = Some(Replication { source: master, lag_max_ms: 30_000, check, repair: None });
    let snap = b.build();
    let probe = snap.probe_id(replica, check).unwrap();
    (snap, probe)
}

fn replication_obs(probe: ProbeId, at: TimeMs, running: bool, lag: Option<u64>, error: Option<&str>) -> Observation {
    let mut obs = Observation::new(probe, ObserverId(0), at, Pass);
    obs.detail = Some(Box::new(ProbeDetail::Replication(ReplicationStatus {
        running,
        lag_ms: lag,
        last_error: error.map(str::to_string),
        replayed_position: at / 1_000,
        retained_bytes: 0,
        received_position: None,
    })));
    obs
}

#[test]
fn broken_replication_reports_the_error_verbatim() {
    const ERROR: &str =
        "The slave I/O thread stops because a fatal error is encountered when it try to get the value of SERVER_ID variable from master";
    let (snap, probe) = replicated();
    let replica = NodeId(1);
    let mut table = HealthTable::new(&snap);
    assert_eq!(table.node(replica).replication, Some(ReplicationHealth::Unknown));
    assert_eq!(table.node(NodeId(0)).replication, None);

    table.ingest(&snap, &replication_obs(probe, 1_000, true, Some(200), None));
    let events = table.refresh(&snap, 1_000, false);
    assert!(events.contains(&HealthEvent::Replication {
        node: replica,
        from: Some(ReplicationHealth::Unknown),
        to: ReplicationHealth::Healthy { lag_ms: 200 },
    }));
    assert_eq!(table.node(replica).replayed_position, 1);

    // Lag changing within Healthy is not an event.
    table.ingest(&snap, &replication_obs(probe, 2_000, true, Some(300), None));
    assert!(table.refresh(&snap, 2_000, false).is_empty());
    assert_eq!(table.node(replica).replication, Some(ReplicationHealth::Healthy { lag_ms: 300 }));

    // The node's probe passes (the server answers) but replication is broken.
    table.ingest(&snap, &replication_obs(probe, 3_000, false, None, Some(ERROR)));
    let events = table.refresh(&snap, 3_000, false);
    assert_eq!(
        events,
        vec![HealthEvent::Replication {
            node: replica,
            from: Some(ReplicationHealth::Healthy { lag_ms: 300 }),
            to: ReplicationHealth::Broken { error: ERROR.into() },
        }]
    );
    assert_eq!(table.node(replica).status, Status::Up);
    assert!(!table.node(replica).replication.as_ref().unwrap().is_healthy());

    table.ingest(&snap, &replication_obs(probe, 4_000, true, Some(60_000), None));
    table.refresh(&snap, 4_000, false);
    assert_eq!(table.node(replica).replication, Some(ReplicationHealth::Lagging { lag_ms: 60_000, lag_max_ms: 30_000 }));

    // No fresh report: Unknown, but the replayed position is kept for promotion order.
    table.refresh(&snap, 4_000 + STALE + 1, false);
    assert_eq!(table.node(replica).replication, Some(ReplicationHealth::Unknown));
    assert_eq!(table.node(replica).replayed_position, 4);
}

#[test]
fn disk_forecast_sees_the_fill_hours_ahead_with_root_reserved() {
    const GB: u64 = 1 << 30;
    let mut b = InventoryBuilder::new();
    let site = b.site("dc");
    b.observer("mon", site);
    let db = b.node("db-master", site, &[]);
    let check = b.check("disk", CheckKind::Disk, &[db], 1, 1);
    b.node_mut(db).disk_check = Some(check);
    let snap = b.build();
    let probe = snap.probe_id(db, check).unwrap();
    let mut table = HealthTable::new(&snap);
    let mut events = Vec::new();
    // WAL piles up at 2 GB/h: 100 GB disk, 5 GB reserved for root, 80 GB used at start.
    // Usable space is gone at 95 GB: 7.5 h from the start (ignoring the reserve: 10 h).
    let mut t = 0;
    while t <= 3 * HOUR_MS {
        let mut obs = Observation::new(probe, ObserverId(0), t, Pass);
        let used = 80 * GB + 2 * GB * t / HOUR_MS;
        obs.detail = Some(Box::new(ProbeDetail::Disk(DiskStatus { used_bytes: used, total_bytes: 100 * GB, reserved_bytes: 5 * GB })));
        table.ingest(&snap, &obs);
        events.extend(table.refresh(&snap, t, false));
        t += 15 * SECOND_MS;
    }
    let now = t - 15 * SECOND_MS;
    let full_in = table.node(db).disk_full_in_ms.unwrap();
    let expected = 7 * HOUR_MS + 30 * MINUTE_MS - now;
    assert!(full_in.abs_diff(expected) < MINUTE_MS, "{full_in} vs {expected}");
    let forecasts: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            HealthEvent::DiskForecast { full_in_ms, .. } => Some(*full_in_ms),
            _ => None,
        })
        .collect();
    // First under the 6 h horizon at ~1.5 h in. At 3 h, 4.5 h are left: not yet half of
    // the first reading, so no second event (that would come at ~4.5 h in, 3 h left).
    assert_eq!(forecasts.len(), 1, "{forecasts:?}");
    assert!(forecasts[0] < 6 * HOUR_MS && forecasts[0] > 5 * HOUR_MS + 50 * MINUTE_MS, "{forecasts:?}");
}

#[test]
fn ids_out_of_range_are_ignored_and_counted() {
    let snap = fleet(2, 1, 1, 1, 1);
    let mut table = HealthTable::new(&snap);
    see(&mut table, &snap, 5, 0, 1_000, Fail);
    see(&mut table, &snap, 0, 7, 1_000, Fail);
    assert_eq!(table.ignored(), 2);
    table.refresh(&snap, 1_000, false);
    assert_eq!(table.node(NodeId(0)).status, Status::Unknown);
}

#[test]
fn invalidate_before_makes_old_data_stale_and_restarts_hysteresis() {
    let snap = fleet(1, 1, 1, 2, 2);
    let mut table = HealthTable::new(&snap);
    see(&mut table, &snap, 0, 0, 1_000, Pass);
    see(&mut table, &snap, 0, 0, 2_000, Pass);
    table.refresh(&snap, 2_000, false);
    assert_eq!(table.node(NodeId(0)).status, Status::Up);
    // The VM was paused: the controller resumes at 3 000 and distrusts what came before.
    table.invalidate_before(3_000);
    table.refresh(&snap, 3_000, false);
    assert_eq!(table.node(NodeId(0)).status, Status::Unknown);
    // A late observation stamped before the cutoff is dropped.
    see(&mut table, &snap, 0, 0, 2_500, Pass);
    see(&mut table, &snap, 0, 0, 3_100, Pass);
    table.refresh(&snap, 3_100, false);
    assert_eq!(table.node(NodeId(0)).status, Status::Unknown, "one pass after the cutoff is not rise = 2");
    see(&mut table, &snap, 0, 0, 3_200, Pass);
    table.refresh(&snap, 3_200, false);
    assert_eq!(table.node(NodeId(0)).status, Status::Up);
}

#[test]
fn naive_mode_takes_the_newest_result_of_any_observer() {
    let snap = fleet(3, 1, 2, 3, 3);
    let mut table = HealthTable::new(&snap);
    see(&mut table, &snap, 0, 0, 1_000, Pass);
    see(&mut table, &snap, 0, 1, 1_001, Fail);
    table.refresh(&snap, 1_001, true);
    assert_eq!(table.node(NodeId(0)).status, Status::Down);
    see(&mut table, &snap, 0, 2, 1_002, Pass);
    table.refresh(&snap, 1_002, true);
    assert_eq!(table.node(NodeId(0)).status, Status::Up);
    let view = table.probe(ProbeId(0));
    assert_eq!((view.votes_up, view.votes_down), (2, 1));
    // The same input in normal mode: rise/fall 3 and quorum 2 have not been met.
    table.refresh(&snap, 1_002, false);
    assert_eq!(table.node(NodeId(0)).status, Status::Unknown);
}

#[test]
fn node_status_is_the_worst_probe() {
    let mut b = InventoryBuilder::new();
    let site = b.site("dc");
    b.observer("mon", site);
    let a = b.node("a", site, &[]);
    let lonely = b.node("lonely", site, &[]);
    b.check("tcp", CheckKind::Tcp, &[a], 1, 1);
    b.check("http", CheckKind::Http, &[a], 1, 1);
    let snap = b.build();
    let mut table = HealthTable::new(&snap);
    see(&mut table, &snap, 0, 0, 1_000, Pass);
    table.refresh(&snap, 1_000, false);
    assert_eq!(table.node(a).status, Status::Unknown, "http has not reported");
    see(&mut table, &snap, 1, 0, 1_000, Pass);
    table.refresh(&snap, 1_000, false);
    assert_eq!(table.node(a).status, Status::Up);
    see(&mut table, &snap, 1, 0, 2_000, Timeout);
    table.refresh(&snap, 2_000, false);
    assert_eq!(table.node(a).status, Status::Down);
    assert_eq!(table.node(lonely).status, Status::Unknown, "no probes");
}

#[test]
fn rebase_carries_state_by_name() {
    let old = fleet(2, 3, 1, 1, 1);
    let mut table = HealthTable::new(&old);
    // web1 flaps until suppressed; web2 is up.
    for i in 0..6u64 {
        let outcome = if i % 2 == 0 { Pass } else { Fail };
        see(&mut table, &old, 1, 0, i * 1_000, outcome);
        see(&mut table, &old, 1, 1, i * 1_000, outcome);
        see(&mut table, &old, 2, 0, i * 1_000, Pass);
        see(&mut table, &old, 2, 1, i * 1_000, Pass);
        table.refresh(&old, i * 1_000, false);
    }
    assert!(table.node(NodeId(1)).suppressed);

    // New inventory: a node added in front, web0 removed, observers swapped.
    let mut b = InventoryBuilder::new().policy(|p| p.stale_after_ms = STALE);
    let site = b.site("dc1");
    b.observer("obs1", site);
    b.observer("obs0", site);
    b.observer("obs2", site);
    let n0 = b.node("new", site, &[]);
    let n1 = b.node("web2", site, &[]);
    let n2 = b.node("web1", site, &[]);
    b.check("http", CheckKind::Http, &[n0, n1, n2], 1, 1);
    let new = b.build();
    table.rebase(&old, &new);
    assert!(table.node(n2).suppressed);
    assert_eq!(table.node(n2).flaps, 3);
    assert_eq!(table.node(n1).status, Status::Up);
    assert_eq!(table.node(n0).status, Status::Unknown);
    let votes = table.votes(new.probe_id(n1, CheckId(0)).unwrap());
    assert_eq!(votes[0].2, Some(5_000));
    assert_eq!(votes[2].2, None, "a new observer starts empty");
    let events = table.refresh(&new, 5_000, false);
    assert!(events.is_empty(), "nothing changed: {events:?}");
    assert_eq!(table.node(n1).status, Status::Up);
    assert!(table.node(n2).suppressed);
}

// --- properties -------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Step {
    See { probe: u32, observer: u16, dt: u64, outcome: ProbeOutcome },
    Refresh { dt: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    let outcome = prop_oneof![Just(Pass), Just(Fail), Just(Timeout)];
    prop_oneof![
        4 => (0u32..6, 0u16..4, 0u64..3_000, outcome)
            .prop_map(|(probe, observer, dt, outcome)| Step::See { probe, observer, dt, outcome }),
        1 => (0u64..20_000).prop_map(|dt| Step::Refresh { dt }),
    ]
}

/// Runs the steps, checking after every refresh that no probe is Down without a
/// quorum of fresh, non-suspect Down votes. Returns every node view and event.
fn run(snap: &Snapshot, steps: &[Step], naive: bool) -> (Vec<NodeHealth>, Vec<HealthEvent>) {
    let mut table = HealthTable::new(snap);
    let quorum = snap.policy().quorum.max(1) as usize;
    let mut now = 0;
    let mut events = Vec::new();
    for s in steps {
        match *s {
            Step::See { probe, observer, dt, outcome } => {
                now += dt;
                see(&mut table, snap, probe, observer, now, outcome);
            }
            Step::Refresh { dt } => {
                now += dt;
                events.extend(table.refresh(snap, now, naive));
                if naive {
                    continue;
                }
                let suspects = table.suspect_observers();
                for p in 0..snap.probes().len() as u32 {
                    if table.probe(ProbeId(p)).status != Status::Down {
                        continue;
                    }
                    let fresh_down = table
                        .votes(ProbeId(p))
                        .into_iter()
                        .filter(|(o, vote, at)| {
                            !suspects.contains(o) && *vote == Status::Down && at.is_some_and(|at| now - at <= snap.policy().stale_after_ms)
                        })
                        .count();
                    assert!(fresh_down >= quorum, "probe {p} Down with {fresh_down} fresh Down votes");
                }
                for n in 0..snap.nodes().len() as u32 {
                    if table.node(NodeId(n)).status == Status::Down {
                        assert!(snap.probes_of_node(NodeId(n)).iter().any(|&p| table.probe(p).status == Status::Down));
                    }
                }
            }
        }
    }
    let nodes = (0..snap.nodes().len() as u32).map(|n| table.node(NodeId(n)).clone()).collect();
    (nodes, events)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn never_down_without_a_quorum_of_fresh_down_votes(
        quorum in 1u16..4,
        rise in 1u32..3,
        fall in 1u32..3,
        steps in proptest::collection::vec(step(), 1..200),
    ) {
        // 3 observers, 6 probes; the generator also sends observer 3 (out of range).
        let snap = fleet(3, 6, quorum, rise, fall);
        run(&snap, &steps, false);
    }

    #[test]
    fn refresh_is_deterministic(
        quorum in 1u16..4,
        naive in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..200),
    ) {
        let snap = fleet(3, 6, quorum, 2, 2);
        prop_assert_eq!(run(&snap, &steps, naive), run(&snap, &steps, naive));
    }
}

#[test]
fn a_slow_check_is_not_stale_between_its_own_rounds() {
    let mut b = InventoryBuilder::new().policy(|p| p.stale_after_ms = 15_000);
    let site = b.site("s");
    b.observer("o", site);
    let node = b.node("db", site, &[]);
    let disk = b.check("disk", CheckKind::Disk, &[node], 1, 1);
    b.check_mut(disk).interval_ms = 30_000;
    b.check_mut(disk).timeout_ms = 5_000;
    let snapshot = b.build();
    let mut table = HealthTable::new(&snapshot);
    table.ingest(&snapshot, &Observation::new(ProbeId(0), ObserverId(0), 1_000, ProbeOutcome::Pass));
    table.refresh(&snapshot, 1_000, false);
    table.refresh(&snapshot, 25_000, false);
    assert_eq!(table.node(node).status, Status::Up, "a 30 s check went unknown after 24 s");
    table.refresh(&snapshot, 70_000, false);
    assert_eq!(table.node(node).status, Status::Unknown, "two missed rounds must make it unknown");
}

#[test]
fn a_verification_only_check_does_not_make_nodes_down() {
    let mut b = InventoryBuilder::new();
    let site = b.site("s");
    b.observer("o", site);
    let web1 = b.node("web1", site, &[]);
    let web2 = b.node("web2", site, &[]);
    let http = b.check("http", CheckKind::Http, &[web1, web2], 1, 1);
    let here = b.check("vip-here", CheckKind::Exec, &[web1, web2], 1, 1);
    let www = b.service("www", crate::inventory::ServiceKind::Vip, "g", &[web1, web2], &[web1]);
    b.service_mut(www).checks = vec![http];
    b.service_mut(www).verify = vec![here];
    let snapshot = b.build();
    let mut table = HealthTable::new(&snapshot);
    // http passes everywhere; "is the VIP here" fails on web2, which does not hold it.
    for (probe, outcome) in [(0, Pass), (1, Pass), (2, Pass), (3, Fail)] {
        table.ingest(&snapshot, &Observation::new(ProbeId(probe), ObserverId(0), 1_000, outcome));
    }
    table.refresh(&snapshot, 1_000, false);
    assert_eq!(table.node(web2).status, Status::Up);

    // Without explicit health checks, a verify check is also a health check.
    let mut parts = snapshot.parts().clone();
    parts.services[0].checks.clear();
    let snapshot = Snapshot::assemble(parts);
    let mut table = HealthTable::new(&snapshot);
    for (probe, outcome) in [(0, Pass), (1, Pass), (2, Pass), (3, Fail)] {
        table.ingest(&snapshot, &Observation::new(ProbeId(probe), ObserverId(0), 1_000, outcome));
    }
    table.refresh(&snapshot, 1_000, false);
    assert_eq!(table.node(web2).status, Status::Down);
}

#[test]
fn replication_evidence_keeps_its_age_and_last_healthy_report() {
    let (snap, probe) = replicated();
    let replica = NodeId(1);
    let mut table = HealthTable::new(&snap);
    assert_eq!(table.node(replica).replication_evidence, ReplicationEvidence::default());
    table.ingest(&snap, &replication_obs(probe, 1_000, true, Some(0), None));
    table.refresh(&snap, 1_000, false);
    // Running without a lag figure: not healthy, and said so.
    table.ingest(&snap, &replication_obs(probe, 5_000, true, None, None));
    table.refresh(&snap, 5_000, false);
    let evidence = table.node(replica).replication_evidence;
    assert_eq!((evidence.at_ms, evidence.healthy_at_ms, evidence.lag_unknown), (Some(5_000), Some(1_000), true));
    // A time anomaly forgets everything received before it.
    table.invalidate_before(6_000);
    table.refresh(&snap, 6_000, false);
    assert_eq!(table.node(replica).replication_evidence.at_ms, None);
    assert_eq!(table.node(replica).replication_evidence.healthy_at_ms, None);
}

#[test]
fn a_primary_report_keeps_its_flush_position_and_write_rate() {
    let (snap, _) = replicated();
    let master = NodeId(0);
    let probe = snap.probe_id(master, snap.check_id("mysql").unwrap()).unwrap();
    let mut table = HealthTable::new(&snap);
    let report = |at: TimeMs, flush: u64| {
        let mut obs = Observation::new(probe, ObserverId(0), at, Pass);
        obs.detail = Some(Box::new(ProbeDetail::Primary(crate::observation::PrimaryStatus {
            flush_position: Some(flush),
            synchronous_standbys: vec!["db1-scl2".into()],
            summary: String::new(),
            writable: None,
        })));
        obs
    };
    table.ingest(&snap, &report(1_000, 10_000));
    table.ingest(&snap, &report(3_000, 14_000));
    // An older report arriving late changes nothing.
    table.ingest(&snap, &report(2_000, 1));
    let primary = table.node(master).primary.clone().expect("a report");
    assert_eq!((primary.at_ms, primary.flush_position, primary.flush_per_s), (3_000, Some(14_000), Some(2_000)));
    assert_eq!(primary.synchronous_standbys, vec!["db1-scl2".to_string()]);
    table.invalidate_before(4_000);
    assert_eq!(table.node(master).primary, None);
}
