//! Operator flows end to end at the engine's API: a previewed sync (seed 001) and a
//! rolling maintenance that halts at the first failed verification (seed 004).

use std::sync::Arc;

use ward_core::action::SyncPreview;
use ward_core::engine::Command;
use ward_core::ids::*;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{CheckKind, Lifecycle, ServiceKind, Snapshot};
use ward_core::journal::{JobEnd, JobStep, JournalEvent};
use ward_core::testing::Harness;

/// The world up for three seconds, every probe passing.
fn start(snapshot: Arc<Snapshot>) -> Harness {
    let mut shell = Harness::new(snapshot);
    shell.seconds(3);
    shell
}

fn deployment_servers() -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new();
    let site = b.site("eqiad");
    b.observer("ctl", site);
    let tin = b.node("tin", site, &[]);
    let mira = b.node("mira", site, &[]);
    b.node_mut(tin).lifecycle = Lifecycle::Syncing;
    b.check("ssh", CheckKind::Tcp, &[tin, mira], 1, 1);
    let staging = b.service("staging", ServiceKind::Sync, "deploy", &[tin, mira], &[mira]);
    b.service_mut(staging).sync_delete_max = 100;
    Arc::new(b.build())
}

fn sync(shell: &mut Harness, from: &str, to: &str) -> Result<String, String> {
    let command = Command::Sync { service: "staging".into(), from: from.into(), to: to.into(), author: "jynus".into() };
    let answer = shell.engine.command(shell.now_ms, command);
    shell.drain();
    answer
}

#[test]
fn a_sync_from_an_unprovisioned_node_is_refused_and_to_it_is_previewed_then_run() {
    let mut shell = start(deployment_servers());
    let refused = sync(&mut shell, "tin", "mira").unwrap_err();
    assert!(refused.contains("must not be a sync source"), "{refused}");
    assert!(shell.started.is_empty());

    let started = sync(&mut shell, "mira", "tin").unwrap();
    assert!(started.starts_with("started"), "{started}");
    let preview = shell.answer_one(true, Some(SyncPreview { files_added: 40, files_deleted: 2, ..Default::default() }));
    assert_eq!(preview.step, JobStep::Preview);
    assert_eq!(shell.answer_one(true, None).step, JobStep::Apply);
    assert_eq!(shell.finished(), vec![JobEnd::Succeeded, JobEnd::Succeeded]);
}

#[test]
fn a_sync_that_would_delete_too_much_waits_for_approval() {
    let mut shell = start(deployment_servers());
    sync(&mut shell, "mira", "tin").unwrap();
    let wipe =
        SyncPreview { files_deleted: 48_213, deleted_sample: vec!["/srv/mediawiki-staging/wikiversions.php".into()], ..Default::default() };
    shell.answer_one(true, Some(wipe));
    assert!(shell.started.is_empty(), "a destructive sync ran without approval");
    let pending = shell.engine.pending_approvals();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].reasons[0].contains("48213"), "{:?}", pending[0]);
    assert!(shell.engine.alerts().iter().any(|a| a.cause == "approval:deploy"));
    let answer = shell.engine.command(shell.now_ms, Command::Approve { decision: pending[0].decision, author: "joe".into() }).unwrap();
    shell.drain();
    assert!(answer.starts_with("started"), "{answer}");
    // Previewed again right before it runs: the same deletions as approved go ahead.
    let again = shell.answer_one(true, Some(wipe_preview()));
    assert_eq!(again.step, JobStep::Preview);
    assert_eq!(shell.answer_one(true, None).step, JobStep::Apply);
    assert!(shell.engine.pending_approvals().is_empty());
}

fn wipe_preview() -> SyncPreview {
    SyncPreview { files_deleted: 48_213, deleted_sample: vec!["/srv/mediawiki-staging/wikiversions.php".into()], ..Default::default() }
}

#[test]
fn an_approved_sync_whose_preview_grew_before_it_ran_is_refused() {
    let mut shell = start(deployment_servers());
    sync(&mut shell, "mira", "tin").unwrap();
    let small = SyncPreview { files_deleted: 150, deleted_sample: vec!["/srv/a".into()], ..Default::default() };
    shell.answer_one(true, Some(small));
    let pending = shell.engine.pending_approvals();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].reasons[0].contains("150") && pending[0].reasons[0].contains("/srv/a"), "{:?}", pending[0]);
    shell.engine.command(shell.now_ms, Command::Approve { decision: pending[0].decision, author: "joe".into() }).unwrap();
    shell.drain();
    // Between the approval and the run, the source lost its tree: the fresh preview deletes everything.
    let again = shell.answer_one(true, Some(wipe_preview()));
    assert_eq!(again.step, JobStep::Preview);
    assert!(shell.started.is_empty(), "a sync whose preview grew since its approval ran");
    assert_eq!(shell.finished(), vec![JobEnd::Succeeded, JobEnd::Abandoned]);
    let refused = shell.journal.iter().rev().find_map(|r| match &r.event {
        JournalEvent::Decision { verdict, job: None, .. } if verdict.outcome == ward_core::action::Outcome::Refuse => {
            Some(verdict.reasons().join(" "))
        }
        _ => None,
    });
    let refused = refused.expect("a refused decision");
    assert!(refused.contains("approved to delete 150") && refused.contains("48213"), "{refused}");
    assert!(shell.engine.pending_approvals().is_empty(), "a refusal is final, not a new approval");
    // The refusal survives a restart as journaled facts (the job is over).
    shell.restart();
    assert!(shell.started.is_empty());
}

#[test]
fn a_sync_into_the_current_primary_is_refused_not_gated() {
    let mut b = InventoryBuilder::new();
    let site = b.site("dc1");
    b.observer("ctl", site);
    let db1 = b.node("db1", site, &[]);
    let db2 = b.node("db2", site, &[]);
    b.check("pg", CheckKind::Tcp, &[db1, db2], 1, 1);
    b.service("pg", ServiceKind::Primary, "db", &[db1, db2], &[db1]);
    b.service("pgdata", ServiceKind::Sync, "db", &[db1, db2], &[]);
    let mut shell = start(Arc::new(b.build()));
    let command = Command::Sync { service: "pgdata".into(), from: "db2".into(), to: "db1".into(), author: "tired".into() };
    let refused = shell.engine.command(shell.now_ms, command).unwrap_err();
    shell.drain();
    assert!(refused.contains("db1 is the current primary of pg"), "{refused}");
    assert!(shell.started.is_empty() && shell.engine.pending_approvals().is_empty());
}

fn routers() -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new();
    let site = b.site("bm");
    b.observer("ctl", site);
    let r1 = b.node("r1", site, &[]);
    let r2 = b.node("r2", site, &[]);
    b.check("vrrp", CheckKind::Tcp, &[r1, r2], 1, 1);
    let egress = b.check("egress", CheckKind::Exec, &[r1, r2], 1, 1);
    let gw = b.service("gw-v4", ServiceKind::Vip, "gateway", &[r1, r2], &[r1]);
    b.service_mut(gw).verify = vec![egress];
    b.hook("reboot", 600_000, 1);
    Arc::new(b.build())
}

#[test]
fn a_rolling_reboot_halts_at_the_first_failed_verification() {
    let mut shell = start(routers());
    let command = Command::Rollout {
        nodes: vec!["r2".into(), "r1".into()],
        batch_size: 1,
        operation: "reboot".into(),
        author: "pabs".into(),
        scope: Default::default(),
    };
    let missing = Command::Rollout {
        nodes: vec!["r1".into()],
        batch_size: 1,
        operation: "reimage".into(),
        author: "pabs".into(),
        scope: Default::default(),
    };
    assert!(shell.engine.command(shell.now_ms, missing).unwrap_err().contains("no [[hook]] named \"reimage\""));
    shell.engine.command(shell.now_ms, command).unwrap();
    shell.seconds(2);
    // Batch 1: r2 holds nothing, so it is maintained and verified straight away.
    let reboot = shell.answer_one(true, None);
    assert!(matches!(reboot.action, ward_core::action::Action::Maintain { batch: 0, .. }));
    assert_eq!(shell.answer_one(true, None).step, JobStep::Verify);
    shell.seconds(2);
    // Batch 2: r1 drains, so the gateway moves to r2, whose egress check fails.
    let apply = shell.answer_one(true, None);
    assert!(matches!(apply.action, ward_core::action::Action::MoveVip { to: NodeId(1), .. }), "{apply:?}");
    assert_eq!(shell.answer_one(false, None).step, JobStep::Verify);
    assert_eq!(shell.answer_one(true, None).step, JobStep::Rollback);
    assert_eq!(shell.engine.placement(ServiceId(0)), &[NodeId(0)], "rolled back to r1");
    shell.seconds(10);
    assert!(shell.started.is_empty(), "the rollout went on after a failed verification: {:?}", shell.started);
    assert!(shell
        .journal
        .iter()
        .any(|r| matches!(&r.event, JournalEvent::RolloutProgress { state: ward_core::journal::RolloutPhase::Halted, .. })));
    assert!(shell.engine.alerts().iter().any(|a| a.cause == "rollout:1"));
    assert_eq!(shell.finished(), vec![JobEnd::Succeeded, JobEnd::RolledBack]);
}

fn rollout(nodes: &[&str], batch_size: u32) -> Command {
    Command::Rollout {
        nodes: nodes.iter().map(|n| n.to_string()).collect(),
        batch_size,
        operation: "reboot".into(),
        author: "pabs".into(),
        scope: Default::default(),
    }
}

#[test]
fn an_over_broad_rollout_is_refused_as_a_decision_before_anything_is_drained() {
    let mut shell = start(routers());
    let answer = shell.engine.command(shell.now_ms, rollout(&["r1", "r2"], 2)).unwrap_err();
    assert!(answer.contains("refused") && answer.contains("candidates out at once"), "{answer}");
    shell.drain();
    assert!(shell.journal.iter().any(|r| matches!(&r.event, JournalEvent::Decision { verdict, job: None, .. }
        if verdict.outcome == ward_core::action::Outcome::Refuse && verdict.guards.iter().any(|g| g.guard == "rollout-scope"))));
    assert!(!shell.journal.iter().any(|r| matches!(&r.event, JournalEvent::Drained { .. })));
    shell.seconds(5);
    assert!(shell.started.is_empty(), "{:?}", shell.started);
    // Refused, it is not in progress: a narrower rollout may start.
    shell.engine.command(shell.now_ms, rollout(&["r2", "r1"], 1)).unwrap();
}

#[test]
fn a_paused_rollout_begins_nothing_and_a_cancel_undrains_what_it_drained() {
    let mut shell = start(routers());
    shell.engine.command(shell.now_ms, rollout(&["r2", "r1"], 1)).unwrap();
    let pause = Command::RolloutControl { control: ward_core::engine::RolloutControl::Pause, author: "pabs".into() };
    shell.engine.command(shell.now_ms, pause).unwrap();
    shell.seconds(5);
    assert!(shell.started.is_empty(), "a paused rollout began a batch: {:?}", shell.started);
    let resume = Command::RolloutControl { control: ward_core::engine::RolloutControl::Resume, author: "pabs".into() };
    shell.engine.command(shell.now_ms, resume).unwrap();
    shell.seconds(2);
    // Batch 1 (r2) is maintained and verified; batch 2 drains r1 and moves the gateway.
    assert!(matches!(shell.answer_one(true, None).action, ward_core::action::Action::Maintain { batch: 0, .. }));
    shell.answer_one(true, None);
    shell.seconds(2);
    assert!(shell.engine.command(shell.now_ms, rollout(&["r2"], 1)).unwrap_err().contains("still in progress"));
    let cancel = Command::RolloutControl { control: ward_core::engine::RolloutControl::Cancel, author: "pabs".into() };
    let said = shell.engine.command(shell.now_ms, cancel).unwrap();
    assert!(said.contains("cancelled by pabs") && said.contains("1 of 2 batch(es) were done"), "{said}");
    assert!(said.contains("Undrained r1"), "{said}");
    shell.drain();
    assert!(shell.journal.iter().any(|r| matches!(&r.event, JournalEvent::Undrained { node, .. } if node == "r1")));
}

#[test]
fn a_batch_that_would_leave_a_service_without_a_candidate_waits_then_is_refused() {
    let mut shell = start(routers());
    shell.engine.command(shell.now_ms, rollout(&["r2", "r1"], 1)).unwrap();
    shell.seconds(2);
    // Batch 1 (r2) is maintained and verified.
    assert!(matches!(shell.answer_one(true, None).action, ward_core::action::Action::Maintain { batch: 0, .. }));
    shell.answer_one(true, None);
    // Meanwhile r2 fails: taking r1 out now would leave the gateway nowhere to go.
    shell.fail(NodeId(1));
    shell.seconds(10);
    assert!(shell.started.is_empty(), "{:?}", shell.started);
    let waiting = |p: ward_core::journal::RolloutPhase| move |e: &JournalEvent| matches!(e, JournalEvent::RolloutProgress { state, .. } if *state == p);
    assert_eq!(shell.count(waiting(ward_core::journal::RolloutPhase::Waiting)), 1, "{:?}", shell.journal);
    assert!(!shell.any(|e| matches!(e, JournalEvent::Drained { node, .. } if node == "r1")));
    shell.seconds(31 * 60);
    assert_eq!(shell.count(waiting(ward_core::journal::RolloutPhase::Refused)), 1);
    assert!(shell.started.is_empty(), "{:?}", shell.started);
}
