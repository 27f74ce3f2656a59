//! A replicated database through the engine: fence, promote the standby that has the
//! most WAL, and the write address following the promotion; a freeze shorter than the
//! timeout grace moves nothing; a fenced primary that comes back is not trusted again.

use std::sync::Arc;

use ward_core::action::Action;
use ward_core::ids::*;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{CheckKind, FenceMode, Replication, ServiceKind, Snapshot};
use ward_core::journal::JobStep;
use ward_core::observation::{PrimaryStatus, ProbeDetail, ProbeOutcome, ReplicationStatus};
use ward_core::testing::Harness;

const PG1: NodeId = NodeId(0);
const _PG2: NodeId = NodeId(1);
const PG3: NodeId = NodeId(2);
const MAIN: ServiceId = ServiceId(0);
const WRITE_ADDRESS: ServiceId = ServiceId(1);

/// pg1 primary, pg2 and pg3 standbys; probes every 250 ms: two refusals make a node
/// down, a freeze (timeouts) needs eight.
fn cluster() -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new().policy(|p| {
        p.tick_ms = 250;
        p.budget.group_moves_max = 100;
        p.budget.fleet_moves_max = 100;
    });
    let site = b.site("dc1");
    b.observer("controller", site);
    let nodes: Vec<NodeId> = ["pg1", "pg2", "pg3"].iter().map(|n| b.node(n, site, &[])).collect();
    let check = b.check("pg", CheckKind::Postgres, &nodes, 1, 2);
    b.check_mut(check).interval_ms = 250;
    b.check_mut(check).timeout_ms = 200;
    b.check_mut(check).timeout_fall = 8;
    for &standby in &nodes[1..] {
        b.node_mut(standby).replication = Some(Replication { source: PG1, lag_max_ms: 10_000, check, repair: None });
    }
    let main = b.service("pg-main", ServiceKind::Primary, "pg-main", &nodes, &[PG1]);
    b.service_mut(main).fence = FenceMode::ReadOnly;
    let write = b.service("pg-rw", ServiceKind::Vip, "pg-rw", &nodes, &[PG1]);
    b.service_mut(write).follows = Some(main);
    Arc::new(b.build())
}

const RECEIVED: [u64; 3] = [0, 900, 1_000];

/// The cluster probed every 250 ms, the engine woken whenever it asks (every 10 ms).
fn start() -> Harness {
    let mut c = Harness::new(cluster()).timing(10, 250);
    c.set_detail(|engine, world, node| {
        // Each standby's received WAL position; its receiver stops when its primary is gone.
        let standby = engine.placement(MAIN).first() != Some(&node);
        let answer = world.outcome(node, ObserverId(0));
        if !standby {
            // The primary's flush position: every acknowledged commit is at or below it.
            return answer.is_pass().then(|| {
                ProbeDetail::Primary(PrimaryStatus {
                    flush_position: Some(1_000),
                    synchronous_standbys: Vec::new(),
                    summary: String::new(),
                    writable: None,
                })
            });
        }
        answer.is_pass().then(|| {
            let running = world.outcome(PG1, ObserverId(0)).is_pass() || engine.placement(MAIN) != [PG1];
            ProbeDetail::Replication(ReplicationStatus {
                running,
                lag_ms: Some(0),
                last_error: (!running).then(|| "WAL receiver stopped".into()),
                replayed_position: RECEIVED[node.index()],
                retained_bytes: 0,
                received_position: None,
            })
        })
    });
    c.run_ms(2_000);
    c
}

/// Answers every started step, then lets 50 ms pass so the engine can go on.
fn answer_steps(c: &mut Harness, ok: bool) -> Vec<(String, JobStep)> {
    let seen = c.answer_all(ok).iter().map(|r| (r.action.kind().name().to_string(), r.step)).collect();
    c.run_ms(50);
    seen
}

#[test]
fn a_crashed_primary_is_fenced_the_furthest_standby_promoted_and_the_write_address_follows() {
    let mut c = start();
    c.set_outcome(PG1, ProbeOutcome::Fail); // connection refused: the process is gone
    c.run_ms(600);
    assert_eq!(c.started_kinds(), vec!["fence"], "two refusals at 250 ms make pg1 down");
    assert_eq!(answer_steps(&mut c, true), vec![("fence".to_string(), JobStep::Apply)]);
    // Fencing needs no verification through the service's checks; promotion comes next.
    let mut steps = Vec::new();
    for _ in 0..6 {
        steps.extend(answer_steps(&mut c, true));
        if c.engine.placement(WRITE_ADDRESS) == [PG3] {
            break;
        }
    }
    assert!(steps.iter().any(|(kind, _)| kind == "promote"), "{steps:?}");
    assert!(
        matches!(
            c.journal.iter().rev().find_map(|r| match &r.event {
                ward_core::journal::JournalEvent::JobQueued { action: ward_core::action::NamedAction::Promote { to, .. }, .. } => Some(vec![to.clone()]),
                _ => None,
            }),
            Some(to) if to == vec!["pg3".to_string()]
        ),
        "pg3 has received the most WAL"
    );
    assert_eq!(c.engine.placement(MAIN), &[PG3]);
    assert_eq!(c.engine.placement(WRITE_ADDRESS), &[PG3], "the write address follows the promotion: {steps:?}");
}

#[test]
fn a_freeze_shorter_than_the_timeout_grace_moves_nothing() {
    let mut c = start();
    c.set_outcome(PG1, ProbeOutcome::Timeout);
    c.run_ms(1_500); // six timeouts: below timeout_fall (8)
    assert!(c.started.is_empty(), "a 1.5 s freeze failed over: {:?}", c.started_kinds());
    c.set_outcome(PG1, ProbeOutcome::Pass);
    c.run_ms(1_000);
    assert!(c.started.is_empty());
    // A freeze beyond the grace is a failure like any other.
    c.set_outcome(PG1, ProbeOutcome::Timeout);
    c.run_ms(2_300);
    assert_eq!(c.started_kinds(), vec!["fence"]);
}

#[test]
fn a_fenced_primary_that_comes_back_up_is_still_replaced() {
    let mut c = start();
    c.set_outcome(PG1, ProbeOutcome::Fail);
    c.run_ms(600);
    assert_eq!(c.started_kinds(), vec!["fence"]);
    // pg1 is back (read-only now) by the time the fence is confirmed.
    c.set_outcome(PG1, ProbeOutcome::Pass);
    c.run_ms(500);
    answer_steps(&mut c, true);
    c.run_ms(500);
    assert!(
        c.started.iter().any(|r| matches!(r.action, Action::Promote { from: Some(PG1), .. })),
        "a read-only pg1 is not a primary: {:?}",
        c.started_kinds()
    );
}
