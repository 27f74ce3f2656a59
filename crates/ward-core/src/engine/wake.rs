//! When the engine next needs to run a planning round with no new input.
//!
//! A planning round runs when something changed (an input that changes state calls
//! `plan_soon`) or when time alone makes something true. These are the moments
//! time alone matters, one per `now_ms` comparison in `engine/` and `health/`:
//!
//! | deadline | where | due at |
//! |---|---|---|
//! | a job step without an answer | `jobs.rs` `check_job_deadlines` | step start + hook timeout + grace + 1 ms |
//! | a failed fence's retry | `plan.rs` `fence_failed_this_outage` | the failure + `fence_retry_after` |
//! | a job's retry | `jobs.rs` `retry_at` | the retry time |
//! | a node passed over after a failed verification | `jobs.rs` `verify_failed`, `plan.rs` `verify_cooling` | the end of the cooldown |
//! | a probe's evidence going stale | `health/rise_fall.rs` `stale_at` (`HealthTable::next_change_ms`) | last receive + bound + 1 ms |
//! | a damped node reusable again | `health/damping.rs` `reuse_at_ms` (`HealthTable::next_change_ms`) | when the penalty decays below reuse |
//! | an observer falling silent | `health/observer_silence.rs` (`HealthTable::next_silence_ms`) | last report + quiet bound + 1 ms |
//! | an agent's lease (plus margin) running out | `leases.rs` `track_leases`, `health/agent_leases.rs` `verdict` | last renewal + lease + margin |
//! | a hold expiring | `tick.rs` `expire_holds`, `guards/holds.rs` | `until_ms` |
//! | an alert resolving after its quiet period | `alerts.rs` `settle_resolutions` | cleared + `RESOLVE_QUIET_MS` |
//! | an unacknowledged page escalating | `alerts.rs` `escalate` | last notified + the route's `escalate_after_ms` |
//! | a broken replication becoming repairable | `repair.rs` `want_repairs` | broken since + `REPAIR_AFTER_MS`, not before last repair + `REPAIR_COOLDOWN_MS` |
//! | re-observing after a pause or clock jump | `time_sanity.rs` `settling` | the end of settling |
//! | a move leaving the budget window | `durable.rs` `moves_in_window` | move + window + 1 ms |
//! | a rollout waiting for its batch to move away, jobs waiting for capacity | `rollout.rs`, `jobs.rs` `start_queued_jobs` | every tick while they wait |
//!
//! Not deadlines (they need an input first, which plans): hysteresis, quorum and
//! suspicion (observations), replication state (its detail), disk forecasts (each
//! sample plans; the forecast only moves with samples or with time the next sample
//! brings), alert repeat and reopen windows (read when a cause fires).
//!
//! Whatever this misses, `IDLE_MAX_MS` bounds: a planning round runs at least that
//! often, so a forgotten deadline is late, never lost.

use crate::engine::alerts::RESOLVE_QUIET_MS;
use crate::engine::repair::{REPAIR_AFTER_MS, REPAIR_COOLDOWN_MS};
use crate::engine::Engine;
use crate::health::{ReplicationHealth, Status};
use crate::ids::*;
use crate::state::RolloutState;
use crate::time::TimeMs;

/// The longest the engine stays without a planning round, whatever its deadlines.
pub const IDLE_MAX_MS: u64 = 10_000;

/// The earliest of a set of times after `now_ms`.
struct Earliest {
    now_ms: TimeMs,
    at: Option<TimeMs>,
}

impl Earliest {
    fn add(&mut self, at_ms: TimeMs) {
        if at_ms > self.now_ms {
            self.at = Some(self.at.map_or(at_ms, |a| a.min(at_ms)));
        } else {
            // Already due (a deadline this round did not act on): as soon as allowed.
            self.at = Some(self.now_ms);
        }
    }

    fn add_all(&mut self, times: impl IntoIterator<Item = TimeMs>) {
        times.into_iter().for_each(|t| self.add(t));
    }
}

impl Engine {
    /// The earliest real deadline after `now_ms` (or `now_ms` itself when one is
    /// already due), `None` when nothing waits on time. Not capped by `IDLE_MAX_MS`.
    pub(crate) fn next_deadline_ms(&self, now_ms: TimeMs) -> Option<TimeMs> {
        let mut next = Earliest { now_ms, at: None };
        let tick_ms = self.snapshot.policy().tick_ms.max(1);

        // Jobs: step deadlines, retries, verification cooldowns; waiting work polls.
        next.add_all(self.job_wake_times());
        // Times already passed count until a round has run after them: a wake-up
        // a moment late still finds its deadline due.
        let since = self.last_tick_ms;
        next.add_all(self.durable.verify_failed.values().copied().filter(|&until| until > since));
        // A failed fence may be tried again after `policy.fence_retry_after`.
        let retry_after = self.snapshot.policy().fence_retry_after_ms;
        next.add_all(
            self.durable
                .finished
                .iter()
                .rev()
                .take(64)
                .filter(|f| f.end == crate::journal::JobEnd::Failed && matches!(f.action, crate::action::NamedAction::Fence { .. }))
                .map(|f| f.at_ms + retry_after)
                .filter(|&at| at > since),
        );
        // Failing services: when the backoff lets Ward try again on its own.
        next.add_all(crate::guards::failure_backoff::retry_times(&self.durable).filter(|&at| at > since));
        if self.jobs.queued_len() > 0 || self.durable.rollouts.values().any(|r| r.state == RolloutState::Running) {
            // A tick after the last round, as the fixed tick did.
            next.add(self.last_tick_ms + tick_ms);
        }

        // Health: staleness, damping reuse, observer silence.
        if let Some(at) = self.health.next_change_ms(now_ms) {
            next.add(at);
        }
        if let Some(at) = self.health.next_silence_ms(now_ms) {
            next.add(at);
        }

        // Agent leases (plus margin) running out.
        if let Some(at) = self.next_lease_deadline() {
            next.add(at);
        }

        // Holds expiring.
        next.add_all(self.durable.holds.iter().filter_map(|h| h.until_ms));

        // Alerts: resolving after the quiet period, escalating.
        next.add_all(self.alerts_rt.clearing_since().map(|since| since + RESOLVE_QUIET_MS));
        self.escalation_times(&mut next);

        // Repairs becoming due.
        self.repair_times(&mut next);

        // Time sanity: the end of re-observing.
        if let Some((until_ms, _)) = self.time.settling(now_ms) {
            next.add(until_ms);
        }

        // Budget: the oldest move in the window leaving it.
        let window_ms = self.snapshot.policy().budget.window_ms;
        if let Some(at) = self.durable.budget_ledger.iter().map(|(at, _)| at + window_ms + 1).find(|&t| t > since) {
            next.add(at);
        }
        next.at
    }

    /// The earliest escalation ahead (the walk `escalate` uses).
    fn escalation_times(&self, next: &mut Earliest) {
        for ahead in self.escalations_ahead() {
            next.add(ahead.due_ms);
        }
    }

    /// Nodes whose broken replication `want_repairs` would repair once enough time passed.
    fn repair_times(&self, next: &mut Earliest) {
        for (index, node) in self.snapshot.nodes().iter().enumerate() {
            if node.replication.as_ref().is_none_or(|r| r.repair.is_none()) {
                continue;
            }
            let health = self.health.node(NodeId(index as u32));
            if !matches!(health.replication, Some(ReplicationHealth::Broken { .. })) || health.status == Status::Down {
                continue;
            }
            let Some(since) = self.replication_bad_since.get(index).copied().flatten() else { continue };
            let cooled = self.last_repair_ms(&node.name).map_or(0, |at| at + REPAIR_COOLDOWN_MS);
            next.add((since + REPAIR_AFTER_MS).max(cooled));
        }
    }

    /// Whether a planning round is due at `now_ms` without new input: a deadline has
    /// come, or the engine has been idle for `IDLE_MAX_MS`.
    pub(crate) fn round_due(&self, now_ms: TimeMs) -> bool {
        now_ms >= self.last_tick_ms + IDLE_MAX_MS || self.next_deadline_ms(now_ms).is_some_and(|at| at <= now_ms)
    }

    /// When to wake next, after a round at `now_ms` or a wake-up that found nothing
    /// due: the earliest deadline, capped at `IDLE_MAX_MS` after the last round, and
    /// never sooner than a tenth of a tick from now (a deadline already due is acted
    /// on by the next round, not in a loop at this instant).
    pub(crate) fn next_wake_ms(&self, now_ms: TimeMs) -> TimeMs {
        let min_gap_ms = (self.snapshot.policy().tick_ms / 10).max(10);
        let cap = self.last_tick_ms + IDLE_MAX_MS;
        let wake = self.next_deadline_ms(now_ms).map_or(cap, |at| at.min(cap));
        wake.max(now_ms + min_gap_ms)
    }
}
