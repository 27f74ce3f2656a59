//! Failure backoff: a service whose last changes failed is not changed again
//! automatically at once. Each failure in a row doubles the wait (2 s, 4 s, ... up
//! to 10 minutes); a success ends the streak. Without it a hook that fails at once
//! turns into hundreds of failed jobs a minute, each one a fence, a page and a
//! journal record. An operator's own request is not held back: a person decided.
//! Derived from the durable finished jobs, so a restart keeps the backoff.

use crate::action::{Cause, GuardVerdict};
use crate::guards::{Guard, GuardContext, Proposal};
use crate::journal::JobEnd;
use crate::state::Durable;
use crate::time::{human_duration, TimeMs, MINUTE_MS};

pub struct FailureBackoff;

pub const NAME: &str = "failure-backoff";

/// The wait after the first failure in a row; each further failure doubles it.
pub const BACKOFF_FIRST_MS: u64 = 2_000;
/// The longest wait between two automatic attempts on a failing service.
pub const BACKOFF_MAX_MS: u64 = 10 * MINUTE_MS;

/// A service's failures in a row: how many, and when the last one ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureStreak {
    pub failures: u32,
    pub last_ms: TimeMs,
    pub last_sentence: String,
}

impl FailureStreak {
    /// The streak of `service` from the durable finished jobs (failed and rolled
    /// back jobs count; a success ends it; abandoned jobs neither count nor end it).
    pub fn of(durable: &Durable, service: &str) -> Option<FailureStreak> {
        let mut streak: Option<FailureStreak> = None;
        for job in durable.finished.iter().rev().filter(|j| j.action.service_ref().map(String::as_str) == Some(service)) {
            match job.end {
                JobEnd::Failed | JobEnd::RolledBack => {
                    let s = streak.get_or_insert_with(|| FailureStreak {
                        failures: 0,
                        last_ms: job.at_ms,
                        last_sentence: job.sentence.clone(),
                    });
                    s.failures += 1;
                }
                JobEnd::Succeeded => break,
                JobEnd::Abandoned => {}
            }
        }
        streak
    }

    pub fn wait_ms(&self) -> u64 {
        let doublings = self.failures.saturating_sub(1).min(20);
        BACKOFF_FIRST_MS.saturating_mul(1 << doublings).min(BACKOFF_MAX_MS)
    }

    /// When Ward may change the service again automatically.
    pub fn retry_at_ms(&self) -> TimeMs {
        self.last_ms.saturating_add(self.wait_ms())
    }
}

/// Whether every failed job of the service's current streak was a fence of `node`.
fn streak_is_fences_of(durable: &Durable, service: &str, node: &str) -> bool {
    for job in durable.finished.iter().rev().filter(|j| j.action.service_ref().map(String::as_str) == Some(service)) {
        match job.end {
            JobEnd::Failed | JobEnd::RolledBack => {
                if !matches!(&job.action, crate::action::NamedAction::Fence { node: n, .. } if n == node) {
                    return false;
                }
            }
            JobEnd::Succeeded => break,
            JobEnd::Abandoned => {}
        }
    }
    true
}

/// When each failing service may be changed automatically again, from one walk
/// over the finished jobs (newest first), for the engine's wake-up.
pub fn retry_times(durable: &Durable) -> impl Iterator<Item = TimeMs> {
    let mut streaks: std::collections::BTreeMap<&str, (Option<FailureStreak>, bool)> = Default::default();
    for job in durable.finished.iter().rev() {
        let Some(service) = job.action.service_ref() else { continue };
        let (streak, ended) = streaks.entry(service.as_str()).or_insert((None, false));
        if *ended {
            continue;
        }
        match job.end {
            JobEnd::Failed | JobEnd::RolledBack => {
                let s = streak.get_or_insert_with(|| FailureStreak { failures: 0, last_ms: job.at_ms, last_sentence: String::new() });
                s.failures += 1;
            }
            JobEnd::Succeeded => *ended = true,
            JobEnd::Abandoned => {}
        }
    }
    streaks.into_values().filter_map(|(streak, _)| streak.map(|s| s.retry_at_ms())).collect::<Vec<_>>().into_iter()
}

impl Guard for FailureBackoff {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        if let Cause::Operator { .. } = proposal.cause {
            return GuardVerdict::not_applicable(NAME, "an operator asked for it");
        }
        let Some(service) = proposal.action.service() else {
            return GuardVerdict::not_applicable(NAME, "not a service change");
        };
        let name = ctx.snapshot.service_name(service);
        // Fences of the old primary that could not be confirmed, settled since
        // (it counts as fenced now, by its lease): the promotion they were for is
        // not a retry of them.
        if let crate::action::Action::Promote { from: Some(old), .. } = proposal.action {
            let old = ctx.snapshot.node_name(*old);
            if ctx.durable.fenced.contains(&(name.to_string(), old.to_string())) && streak_is_fences_of(ctx.durable, name, old) {
                return GuardVerdict::allow(NAME, format!("the failed attempts were fences of {old}, which counts as fenced now"));
            }
        }
        match FailureStreak::of(ctx.durable, name) {
            Some(streak) if ctx.now_ms < streak.retry_at_ms() => GuardVerdict::refuse(
                NAME,
                format!(
                    "the last {} attempt(s) to change {name} failed (the last: {}); Ward waits {} before trying again on its own",
                    streak.failures,
                    streak.last_sentence,
                    human_duration(streak.retry_at_ms() - ctx.now_ms)
                ),
            ),
            _ => GuardVerdict::allow(NAME, format!("no recent failed change of {name}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::NamedAction;
    use crate::ids::JobId;
    use crate::state::FinishedJob;

    fn durable_with(ends: &[(JobEnd, TimeMs)]) -> Durable {
        let mut durable = Durable::default();
        for (index, (end, at_ms)) in ends.iter().enumerate() {
            durable.finished.push_back(FinishedJob {
                id: JobId(index as u64 + 1),
                action: NamedAction::MoveVip { service: "www".into(), from: Some("a".into()), to: "b".into() },
                end: *end,
                at_ms: *at_ms,
                sentence: format!("job {index} ended"),
            });
        }
        durable
    }

    #[test]
    fn each_failure_in_a_row_doubles_the_wait_up_to_the_cap() {
        let streak = FailureStreak::of(&durable_with(&[(JobEnd::Failed, 1_000)]), "www").unwrap();
        assert_eq!((streak.failures, streak.wait_ms()), (1, 2_000));
        let three = durable_with(&[(JobEnd::Failed, 1_000), (JobEnd::RolledBack, 2_000), (JobEnd::Failed, 3_000)]);
        let streak = FailureStreak::of(&three, "www").unwrap();
        assert_eq!((streak.failures, streak.wait_ms(), streak.retry_at_ms()), (3, 8_000, 11_000));
        let many: Vec<(JobEnd, TimeMs)> = (0..40).map(|i| (JobEnd::Failed, i)).collect();
        assert_eq!(FailureStreak::of(&durable_with(&many), "www").unwrap().wait_ms(), BACKOFF_MAX_MS);
        // The engine's wake-up agrees with the guard.
        assert_eq!(retry_times(&three).collect::<Vec<_>>(), vec![11_000]);
    }

    #[test]
    fn a_success_ends_the_streak_and_other_services_do_not_count() {
        let durable = durable_with(&[(JobEnd::Failed, 1_000), (JobEnd::Succeeded, 2_000)]);
        assert_eq!(FailureStreak::of(&durable, "www"), None);
        assert_eq!(FailureStreak::of(&durable_with(&[(JobEnd::Failed, 1_000)]), "other"), None);
        let durable = durable_with(&[(JobEnd::Succeeded, 1_000), (JobEnd::Failed, 2_000), (JobEnd::Abandoned, 3_000)]);
        assert_eq!(FailureStreak::of(&durable, "www").map(|s| s.failures), Some(1));
    }
}
