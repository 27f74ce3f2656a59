//! Repairs (issue 4, seed 000): a replica whose replication stopped on an error and
//! stayed stopped (MySQL's IO thread after a transient "fatal error ... SERVER_ID")
//! gets `restart_replication` through its replication's `repair` hook, once it has
//! been broken long enough to not be a blip, and never twice within a cooldown.
//! A repair is an action like any other: it goes through `decide()` and the guards
//! (a held node or site is never repaired automatically).

use crate::action::{Action, Cause, NamedAction, RepairOperation};
use crate::engine::plan::Wanted;
use crate::engine::Engine;
use crate::health::{ReplicationHealth, Status};
use crate::ids::*;
use crate::journal::Severity;
use crate::time::{clock, human_duration, TimeMs, MINUTE_MS};

/// Replication must have been broken this long before Ward restarts it.
pub const REPAIR_AFTER_MS: u64 = 30_000;
/// After a repair of a node (whatever its outcome), none again for this long.
pub const REPAIR_COOLDOWN_MS: u64 = 10 * MINUTE_MS;

impl Engine {
    /// The repairs wanted now: one per node whose replication has a repair hook and
    /// has been broken for at least `REPAIR_AFTER_MS`, with no repair of it in
    /// flight or within the cooldown.
    pub(crate) fn want_repairs(&mut self, now_ms: TimeMs) -> Vec<Wanted> {
        let mut wanted = Vec::new();
        for index in 0..self.snapshot.nodes().len() {
            let node = NodeId(index as u32);
            let name = self.snapshot.node_name(node).to_string();
            let Some(repl) = &self.snapshot.node(node).replication else { continue };
            if repl.repair.is_none() {
                continue;
            }
            let health = self.health.node(node);
            let error = match &health.replication {
                Some(ReplicationHealth::Broken { error }) if health.status != Status::Down => error.clone(),
                _ => {
                    // Nothing to repair (any more): a later refusal is news again.
                    self.repair_blocked.remove(&name);
                    continue;
                }
            };
            let Some(since) = self.replication_bad_since.get(index).copied().flatten() else { continue };
            let stopped_ms = now_ms.saturating_sub(since);
            if stopped_ms < REPAIR_AFTER_MS
                || self.repair_in_flight(&name)
                || self.last_repair_ms(&name).is_some_and(|at| now_ms < at + REPAIR_COOLDOWN_MS)
            {
                continue;
            }
            wanted.push(Wanted {
                action: Action::Repair { node, operation: RepairOperation::RestartReplication },
                cause: Cause::ReplicationStopped { node, error: error.clone() },
                summary: format!("stopped for {}: {error}", human_duration(stopped_ms)),
                preview_first: false,
                prepares: None,
            });
        }
        wanted
    }

    fn repair_in_flight(&self, node: &str) -> bool {
        let is_repair = |a: &NamedAction| matches!(a, NamedAction::Repair { node: n, .. } if n == node);
        self.durable.jobs.values().any(|j| is_repair(&j.action)) || self.durable.queued.values().any(|q| is_repair(&q.action))
    }

    /// When the last repair of `node` finished, from the durable finished jobs (so a
    /// restarted controller does not repair again at once).
    pub(crate) fn last_repair_ms(&self, node: &str) -> Option<TimeMs> {
        self.durable.finished.iter().rev().find(|f| matches!(&f.action, NamedAction::Repair { node: n, .. } if n == node)).map(|f| f.at_ms)
    }

    /// A failed repair leaves the replication alert open and says when Ward may try again.
    pub(crate) fn on_repair_failed(&mut self, now_ms: TimeMs, node: NodeId, message: &str) {
        let name = self.snapshot.node_name(node).to_string();
        let error = match &self.health.node(node).replication {
            Some(ReplicationHealth::Broken { error }) => error.clone(),
            _ => "replication stopped".into(),
        };
        let sentence = format!(
            "Replication to {name} is broken: {error}. Ward's restart of its replication failed ({message}); \
             it will not try again before {}. A person should look.",
            clock(now_ms + REPAIR_COOLDOWN_MS)
        );
        let routes = self.node_routes(node);
        self.raise_event(now_ms, &format!("replication:{name}"), Severity::Page, sentence, &routes);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::action::Action;
    use crate::engine::io::HoldTarget;
    use crate::engine::{Command, Engine, JobRequest};
    use crate::ids::*;
    use crate::inventory::testing::InventoryBuilder;
    use crate::inventory::{CheckKind, HookKind, Replication, ServiceKind};
    use crate::journal::{JobStep, JournalEvent};
    use crate::observation::{ProbeDetail, ReplicationStatus};
    use crate::testing::{Harness, World};

    const DB2: NodeId = NodeId(1);
    const ERROR: &str = "Fatal error: The slave I/O thread stops because master and slave have equal MySQL server ids";

    /// db2's replication as its probe reports it: running, or stopped with ERROR.
    fn replication(running: bool) -> impl Fn(&Engine, &World, NodeId) -> Option<ProbeDetail> {
        move |_, _, node| {
            (node == DB2).then(|| {
                ProbeDetail::Replication(ReplicationStatus {
                    running,
                    lag_ms: running.then_some(0),
                    last_error: (!running).then(|| ERROR.into()),
                    replayed_position: 0,
                    retained_bytes: 0,
                    received_position: None,
                })
            })
        }
    }

    /// db1 and db2 (replicating from db1) probed every second, the engine woken
    /// whenever it asks (every 100 ms); five seconds in.
    fn start() -> Harness {
        let mut b = InventoryBuilder::new().policy(|p| p.tick_ms = 1_000);
        let site = b.site("dc1");
        b.observer("controller", site);
        let db1 = b.node("db1", site, &[]);
        let db2 = b.node("db2", site, &[]);
        let check = b.check("db-repl", CheckKind::Mysql, &[db1, db2], 1, 2);
        b.check_mut(check).interval_ms = 1_000;
        b.check_mut(check).timeout_ms = 500;
        let mysql = b.hook("mysql", 10_000, 1);
        b.hook_mut(mysql).kind = HookKind::Mysql { dsn: "mysql://ward:secret@{address}".into() };
        b.node_mut(db2).replication = Some(Replication { source: db1, lag_max_ms: 30_000, check, repair: Some(mysql) });
        b.service("db-rw", ServiceKind::Vip, "db", &[db1], &[db1]);
        let mut db = Harness::new(Arc::new(b.build())).timing(100, 1_000);
        db.set_detail(replication(true));
        db.run_ms(5_000);
        db
    }

    fn repairs_started(db: &Harness) -> Vec<&JobRequest> {
        db.started.iter().filter(|r| matches!(r.action, Action::Repair { node: DB2, .. }) && r.step == JobStep::Apply).collect()
    }

    fn decisions(db: &Harness) -> Vec<(String, bool)> {
        db.journal
            .iter()
            .filter_map(|r| match &r.event {
                JournalEvent::Decision { action, summary, job, .. } if action.kind() == crate::action::ActionKind::Repair => {
                    Some((summary.clone(), job.is_some()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn repaired_only_after_thirty_seconds_with_the_error_verbatim() {
        let mut db = start();
        db.set_detail(replication(false));
        db.run_ms(25_000);
        assert!(repairs_started(&db).is_empty(), "too early: {:?}", decisions(&db));
        db.run_ms(10_000);
        let repairs = repairs_started(&db);
        assert_eq!(repairs.len(), 1, "{:?}", decisions(&db));
        assert_eq!(
            repairs[0].named,
            crate::action::NamedAction::Repair { node: "db2".into(), operation: crate::action::RepairOperation::RestartReplication }
        );
        assert_eq!(repairs[0].hook, HookId(1));
        let (summary, allowed) = decisions(&db).pop().expect("a decision");
        assert!(allowed);
        assert!(summary.starts_with("stopped for 3") && summary.ends_with(ERROR), "{summary}");
        // The hook restarted it; the probes see it healthy again, and nothing more is started.
        db.answer_all_with(true, "replication running again");
        db.set_detail(replication(true));
        db.run_ms(20 * 60_000);
        assert!(db.started.is_empty());
        assert!(db
            .journal
            .iter()
            .any(|r| matches!(&r.event, JournalEvent::Health { node, status, .. } if node == "db2" && status == "replication-healthy")));
        assert!(db.engine.alerts().iter().all(|a| a.cause != "replication:db2" || a.resolved_ms.is_some()));
    }

    #[test]
    fn not_again_within_ten_minutes_and_the_alert_says_so() {
        let mut db = start();
        db.set_detail(replication(false));
        db.run_ms(35_000);
        assert_eq!(repairs_started(&db).len(), 1);
        db.answer_all_with(false, "Slave_IO_Running stayed No: equal server ids");
        db.run_ms(9 * 60_000);
        assert!(repairs_started(&db).is_empty(), "retried within the cooldown: {:?}", decisions(&db));
        let alert = db.engine.alerts().into_iter().find(|a| a.cause == "replication:db2").expect("alert");
        assert!(alert.resolved_ms.is_none());
        assert!(alert.title.contains("will not try again before"), "{}", alert.title);
        assert!(alert.title.contains(ERROR), "{}", alert.title);
        db.run_ms(2 * 60_000);
        assert_eq!(repairs_started(&db).len(), 1, "after the cooldown Ward tries once more");
    }

    #[test]
    fn an_unanswered_repair_fails_and_is_not_retried_in_the_cooldown() {
        let mut db = start();
        db.set_detail(replication(false));
        db.run_ms(35_000);
        assert_eq!(repairs_started(&db).len(), 1);
        db.started.clear();
        db.run_ms(5 * 60_000);
        assert!(db.started.is_empty(), "no verify step, no retry: {:?}", db.started);
        let alert = db.engine.alerts().into_iter().find(|a| a.cause == "replication:db2").expect("alert");
        assert!(alert.title.contains("will not try again before"), "{}", alert.title);
    }

    #[test]
    fn a_held_node_is_not_repaired() {
        let mut db = start();
        db.engine
            .command(
                db.now_ms,
                Command::Hold {
                    target: HoldTarget::Node("db2".into()),
                    author: "alice".into(),
                    reason: "rebuilding".into(),
                    until_ms: None,
                },
            )
            .expect("hold");
        db.set_detail(replication(false));
        db.run_ms(60_000);
        assert!(repairs_started(&db).is_empty());
        let refused = decisions(&db);
        assert_eq!(refused.len(), 1, "a refusal is journaled once: {refused:?}");
        assert!(!refused[0].1);
        let verdict = db
            .journal
            .iter()
            .find_map(|r| match &r.event {
                JournalEvent::Decision { action, verdict, .. } if action.kind() == crate::action::ActionKind::Repair => {
                    Some(verdict.clone())
                }
                _ => None,
            })
            .expect("verdict");
        assert!(verdict.reasons().iter().any(|s| s.contains("does not repair a held node")), "{verdict:?}");
    }
}
