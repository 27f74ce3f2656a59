//! Rolling maintenance (seed 004): drain a batch, let the planner move its
//! services away, run the operation, verify, undrain, next batch; halt at the
//! first failed verification anywhere.

use crate::action::{Action, GuardVerdict, Outcome, Verdict};
use crate::engine::Engine;
use crate::guards::rollout_scope::check_batch;
use crate::ids::*;
use crate::journal::RolloutControl;
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
        // A paused rollout begins nothing; its batch in progress still completes (`on_maintenance_end`).
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
        // Before each batch: would it break the scope with the fleet as it is now
        // (something else failed meanwhile)? Then it waits, and is refused after a bound.
        if self.mode == crate::mode::Mode::Guarded {
            let ids: Vec<NodeId> = nodes.iter().filter_map(|n| self.snapshot.node_id(n)).collect();
            let verdict = check_batch(&self.guard_context(now_ms), &ids, &rollout.scope);
            if verdict.outcome != Outcome::Allow {
                let waited = rollout.waiting_since.map_or(0, |since| now_ms.saturating_sub(since));
                let bound = self.snapshot.policy().rollout.batch_wait_max_ms;
                if rollout.waiting_since.is_none() {
                    let sentence = format!(
                        "Rollout {}: batch {} ({}) waits: {} It starts once the fleet allows it, or is refused after {}.",
                        rollout.id,
                        batch + 1,
                        nodes.join(", "),
                        verdict.sentence,
                        crate::time::human_duration(bound)
                    );
                    self.record(
                        now_ms,
                        JournalEvent::RolloutProgress { rollout: rollout.id, batch, state: RolloutPhase::Waiting, sentence },
                    );
                } else if waited >= bound {
                    self.refuse_rollout(now_ms, rollout, batch, verdict, &format!("after waiting {}", crate::time::human_duration(waited)));
                }
                return;
            }
        }
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
        if state.state == RolloutState::Cancelled {
            // The batch that was mid-maintenance when it was cancelled: now it may serve again.
            self.undrain_batch(now_ms, &state, batch, " (cancelled; its maintenance has ended)");
            return;
        }
        if !state.state.active() {
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

    /// Refuses an over-broad rollout before anything is drained: the first batch
    /// that breaks its scope is journaled as a refused decision with the sentence.
    pub(crate) fn refuse_if_over_broad(&mut self, now_ms: TimeMs, rollout: u32) -> Option<String> {
        if self.mode == crate::mode::Mode::Naive {
            return None;
        }
        let state = self.durable.rollouts.get(&rollout).cloned()?;
        let refused = (0..batch_count(&state)).find_map(|batch| {
            let ids: Vec<NodeId> = batch_nodes(&state, batch).iter().filter_map(|n| self.snapshot.node_id(n)).collect();
            let verdict = check_batch(&self.guard_context(now_ms), &ids, &state.scope);
            (verdict.outcome != Outcome::Allow).then_some((batch, verdict))
        });
        let (batch, verdict) = refused?;
        Some(self.refuse_rollout(now_ms, &state, batch, verdict, "before anything was drained"))
    }

    /// Journals the refusal as a decision (visible in `why` and the timeline) and ends the rollout.
    fn refuse_rollout(&mut self, now_ms: TimeMs, rollout: &Rollout, batch: u32, verdict: GuardVerdict, when: &str) -> String {
        let ids: Vec<NodeId> = batch_nodes(rollout, batch).iter().filter_map(|n| self.snapshot.node_id(n)).collect();
        let action = Action::Maintain { rollout: rollout.id, batch, nodes: ids, operation: rollout.operation.clone() };
        let evidence = self.evidence(now_ms, &action);
        let reason = verdict.sentence.clone();
        self.record(
            now_ms,
            JournalEvent::Decision {
                decision: DecisionId(self.durable.next_decision),
                action: self.snapshot.name_action(&action),
                cause: format!("{} asked for a rolling {}", rollout.author, rollout.operation),
                summary: format!("{} batch {} of {}", rollout.operation, batch + 1, batch_count(rollout)),
                evidence,
                verdict: Verdict::combine(vec![verdict]),
                job: None,
            },
        );
        let sentence = format!("Rollout {} refused {when}: {reason}", rollout.id);
        self.record(
            now_ms,
            JournalEvent::RolloutProgress { rollout: rollout.id, batch, state: RolloutPhase::Refused, sentence: sentence.clone() },
        );
        // Whatever an earlier batch drained goes back (a refusal at run time).
        for node in rollout.nodes.clone() {
            if self.durable.drained.get(&node).is_some_and(|by| by.starts_with(&format!("rollout {} ", rollout.id))) {
                self.record(now_ms, JournalEvent::Undrained { node, author: format!("rollout {} (refused)", rollout.id) });
            }
        }
        self.raise(now_ms, &format!("rollout:{}", rollout.id), Severity::Warning, sentence.clone(), &[]);
        sentence
    }

    /// `ward rollout pause|resume|cancel` on the rollout in progress.
    pub(crate) fn control_rollout(&mut self, now_ms: TimeMs, control: RolloutControl, author: String) -> Result<String, String> {
        let Some(rollout) = self.durable.rollouts.values().find(|r| r.state.active()).cloned() else {
            return Err("no rollout is in progress (running or paused); `ward status` lists rollouts".into());
        };
        let batch = rollout.batch.unwrap_or(0);
        let id = rollout.id;
        let (state, sentence) = match control {
            RolloutControl::Pause if rollout.state == RolloutState::Paused => return Ok(format!("rollout {id} is already paused")),
            RolloutControl::Resume if rollout.state == RolloutState::Running => return Ok(format!("rollout {id} is not paused")),
            RolloutControl::Pause => (
                RolloutPhase::Paused,
                format!(
                    "Rollout {id} paused by {author} at batch {}: no new batch begins until `ward rollout resume`; a maintenance already running finishes and is verified.",
                    batch + 1
                ),
            ),
            RolloutControl::Resume => (RolloutPhase::Resumed, format!("Rollout {id} resumed by {author} at batch {}.", batch + 1)),
            RolloutControl::Cancel => (RolloutPhase::Cancelled, self.cancel_sentence(&rollout, &author)),
        };
        self.record(now_ms, JournalEvent::RolloutProgress { rollout: id, batch, state, sentence: sentence.clone() });
        if control == RolloutControl::Cancel {
            let in_flight = self.maintenance_in_flight(id);
            for node in rollout.nodes.clone() {
                let mid_maintenance = in_flight.is_some_and(|b| batch_nodes(&rollout, b).contains(&node));
                if !mid_maintenance && self.durable.drained.get(&node).is_some_and(|by| by.starts_with(&format!("rollout {id} "))) {
                    self.record(now_ms, JournalEvent::Undrained { node, author: format!("rollout {id} (cancelled by {author})") });
                }
            }
            self.send_to_routes(now_ms, None, &format!("rollout:{id}"), Severity::Info, &sentence, &[], 0);
        }
        Ok(sentence)
    }

    /// The batch of this rollout whose maintenance job is running or queued, if any.
    fn maintenance_in_flight(&self, rollout: u32) -> Option<u32> {
        let actions = self.durable.jobs.values().map(|j| &j.action).chain(self.durable.queued.values().map(|q| &q.action));
        actions.into_iter().find_map(|a| match a {
            crate::action::NamedAction::Maintain { rollout: r, batch, .. } if *r == rollout => Some(*batch),
            _ => None,
        })
    }

    /// What a cancel leaves behind, said plainly: never a half-done batch unmentioned.
    fn cancel_sentence(&self, rollout: &Rollout, author: &str) -> String {
        let id = rollout.id;
        let drained: Vec<String> = rollout
            .nodes
            .iter()
            .filter(|n| self.durable.drained.get(*n).is_some_and(|by| by.starts_with(&format!("rollout {id} "))))
            .cloned()
            .collect();
        let done = match (rollout.batch, rollout.batch_state) {
            (Some(b), Some(RolloutPhase::BatchDone)) => b + 1,
            (Some(b), _) => b,
            (None, _) => 0,
        };
        let mut text =
            format!("Rollout {id} cancelled by {author}: {done} of {} batch(es) were done; the rest will not start.", batch_count(rollout));
        match self.maintenance_in_flight(id) {
            Some(b) => text.push_str(&format!(
                " Batch {} ({}) is mid-maintenance: its {} cannot be taken back, so it finishes and its nodes are undrained when it ends.",
                b + 1,
                batch_nodes(rollout, b).join(", "),
                rollout.operation
            )),
            None if !drained.is_empty() => {
                text.push_str(&format!(" Undrained {} (drained for the next batch, nothing was run on them).", drained.join(", ")))
            }
            None => {}
        }
        text
    }

    fn halt_rollout(&mut self, now_ms: TimeMs, rollout: u32, batch: u32, why: &str) {
        let sentence = format!("Rollout {rollout} halted at batch {}: {why}. The remaining batches were not started.", batch + 1);
        self.record(now_ms, JournalEvent::RolloutProgress { rollout, batch, state: RolloutPhase::Halted, sentence: sentence.clone() });
        self.raise(now_ms, &format!("rollout:{rollout}"), Severity::Page, sentence, &[]);
    }
}
