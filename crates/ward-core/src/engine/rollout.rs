//! Rolling maintenance (seed 004): drain a batch, let the planner move its
//! services away, run the operation, verify, undrain, next batch; halt at the
//! first failed verification anywhere.

use crate::action::{Action, GuardVerdict, Verdict};
use crate::engine::Engine;
use crate::ids::*;
use crate::journal::{JobStep, JournalEvent, RolloutPhase, Severity};
use crate::state::{Rollout, RolloutState};
use crate::time::TimeMs;

fn batch_nodes(rollout: &Rollout, batch: u32) -> Vec<String> {
    rollout.nodes.chunks(rollout.batch_size.max(1) as usize).nth(batch as usize).map(|c| c.to_vec()).unwrap_or_default()
}

fn batch_count(rollout: &Rollout) -> u32 {
    rollout.nodes.len().div_ceil(rollout.batch_size.max(1) as usize) as u32
}

impl Engine {
    pub(crate) fn advance_rollouts(&mut self, now_ms: TimeMs) {
        let Some(rollout) = self.durable.rollouts.values().find(|r| r.state == RolloutState::Running).cloned() else { return };
        // A freeze stops rollouts too: no batch begins or is maintained while it stands.
        if self.mode == crate::mode::Mode::Guarded
            && self.durable.fleet_hold().is_some_and(|h| h.until_ms.is_none_or(|until| now_ms < until))
        {
            return;
        }
        match (rollout.batch, rollout.batch_state) {
            (None, _) => self.begin_batch(now_ms, &rollout, 0),
            (Some(batch), Some(RolloutPhase::BatchDone)) if batch + 1 < batch_count(&rollout) => {
                self.begin_batch(now_ms, &rollout, batch + 1)
            }
            (Some(batch), Some(RolloutPhase::BatchDone)) => {
                let sentence = format!(
                    "Rollout {} finished: {} node(s) in {} batch(es), every batch verified.",
                    rollout.id,
                    rollout.nodes.len(),
                    batch + 1
                );
                self.record(
                    now_ms,
                    JournalEvent::RolloutProgress { rollout: rollout.id, batch, state: RolloutPhase::Done, sentence: sentence.clone() },
                );
                self.send_to_routes(now_ms, None, &format!("rollout:{}", rollout.id), Severity::Info, &sentence, &[], 0);
            }
            (Some(batch), _) => self.maybe_maintain(now_ms, &rollout, batch),
        }
    }

    fn begin_batch(&mut self, now_ms: TimeMs, rollout: &Rollout, batch: u32) {
        let nodes = batch_nodes(rollout, batch);
        let sentence = format!(
            "Rollout {}: batch {} of {} ({}) {} its {}",
            rollout.id,
            batch + 1,
            batch_count(rollout),
            nodes.join(", "),
            if self.mode == crate::mode::Mode::Naive { "starts (the naive baseline does not drain before)" } else { "drains before" },
            rollout.operation
        );
        self.record(now_ms, JournalEvent::RolloutProgress { rollout: rollout.id, batch, state: RolloutPhase::Started, sentence });
        // The naive baseline is a reboot script: it neither drains nor waits.
        if self.mode == crate::mode::Mode::Naive {
            return;
        }
        for node in nodes {
            if !self.durable.drained.contains_key(&node) {
                self.record(now_ms, JournalEvent::Drained { node, author: format!("rollout {} ({})", rollout.id, rollout.author) });
            }
        }
    }

    /// Once every service has moved off the batch and no job runs, maintain it.
    fn maybe_maintain(&mut self, now_ms: TimeMs, rollout: &Rollout, batch: u32) {
        if !self.durable.jobs.is_empty() || self.jobs.queued_len() > 0 {
            return;
        }
        let ids: Vec<NodeId> = batch_nodes(rollout, batch).iter().filter_map(|n| self.snapshot.node_id(n)).collect();
        let still_placed = (0..self.snapshot.services().len()).any(|s| self.placement(ServiceId(s as u32)).iter().any(|n| ids.contains(n)));
        if still_placed && self.mode == crate::mode::Mode::Guarded {
            return;
        }
        let action = Action::Maintain { rollout: rollout.id, batch, nodes: ids, operation: rollout.operation.clone() };
        let decision = DecisionId(self.durable.next_decision);
        let job = JobId(self.durable.next_job);
        let evidence = self.evidence(now_ms, &action);
        let verdict = Verdict::combine(vec![match self.mode {
            crate::mode::Mode::Guarded => GuardVerdict::allow("rollout", "every service has moved off this batch and its moves verified"),
            crate::mode::Mode::Naive => GuardVerdict::allow("naive-baseline", "the naive baseline reboots without draining or verifying"),
        }]);
        self.record(
            now_ms,
            JournalEvent::Decision {
                decision,
                action: self.snapshot.name_action(&action),
                cause: format!("{} asked for a rolling {}", rollout.author, rollout.operation),
                summary: format!("{} batch {} of {}", rollout.operation, batch + 1, batch_count(rollout)),
                evidence,
                verdict,
                job: Some(job),
            },
        );
        self.create_job(now_ms, decision, job, action, JobStep::Apply, Some(rollout.author.clone()));
    }

    /// Called when a maintenance job ends.
    pub(crate) fn on_maintenance_end(&mut self, now_ms: TimeMs, rollout: u32, batch: u32, ok: bool, why: &str) {
        let Some(state) = self.durable.rollouts.get(&rollout).cloned() else { return };
        if state.state != RolloutState::Running {
            return;
        }
        self.undrain_batch(now_ms, &state, batch, "");
        if ok {
            let sentence = format!("Rollout {rollout}: batch {} verified", batch + 1);
            self.record(now_ms, JournalEvent::RolloutProgress { rollout, batch, state: RolloutPhase::BatchDone, sentence });
        } else {
            self.halt_rollout(now_ms, rollout, batch, why);
        }
    }

    /// A failed verification anywhere halts every running rollout at its current batch,
    /// and puts the batch's nodes back as they were.
    pub(crate) fn halt_rollouts_on_failure(&mut self, now_ms: TimeMs, what: &str) {
        let running: Vec<Rollout> = self.durable.rollouts.values().filter(|r| r.state == RolloutState::Running).cloned().collect();
        for rollout in running {
            let batch = rollout.batch.unwrap_or(0);
            self.undrain_batch(now_ms, &rollout, batch, " (halted)");
            self.halt_rollout(now_ms, rollout.id, batch, &format!("verification failed while {what}"));
        }
    }

    fn undrain_batch(&mut self, now_ms: TimeMs, rollout: &Rollout, batch: u32, note: &str) {
        for node in batch_nodes(rollout, batch) {
            if self.durable.drained.get(&node).is_some_and(|by| by.starts_with(&format!("rollout {}", rollout.id))) {
                self.record(now_ms, JournalEvent::Undrained { node, author: format!("rollout {}{note}", rollout.id) });
            }
        }
    }

    fn halt_rollout(&mut self, now_ms: TimeMs, rollout: u32, batch: u32, why: &str) {
        let sentence = format!("Rollout {rollout} halted at batch {}: {why}. The remaining batches were not started.", batch + 1);
        self.record(now_ms, JournalEvent::RolloutProgress { rollout, batch, state: RolloutPhase::Halted, sentence: sentence.clone() });
        self.raise(now_ms, &format!("rollout:{rollout}"), Severity::Page, sentence, &[]);
    }
}
