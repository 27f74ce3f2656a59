//! Time sanity (seed 003: a VM froze for nine minutes and its clock jumped).
//! After a pause or a clock jump every earlier observation is stale; Ward
//! re-observes before it acts.

use crate::action::{Cause, GuardVerdict};
use crate::guards::{Guard, GuardContext, Proposal};
use crate::time::{clock, human_duration};

pub struct TimeSanityGuard;

pub const NAME: &str = "time-sanity";

impl Guard for TimeSanityGuard {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        if matches!(proposal.cause, Cause::Operator { .. }) {
            return GuardVerdict::allow(NAME, "an operator asked for it");
        }
        if let Some((until_ms, gap_ms)) = ctx.time.settling(ctx.now_ms) {
            return GuardVerdict::refuse(
                NAME,
                format!(
                    "The controller just saw a {} gap in time (a pause or a clock jump); everything it knew is stale, \
                     so it re-observes until {} before acting.",
                    human_duration(gap_ms.unsigned_abs()),
                    clock(until_ms)
                ),
            );
        }
        GuardVerdict::allow(NAME, "time is continuous")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, Outcome};
    use crate::guards::test_support::World;

    #[test]
    fn no_action_right_after_a_pause() {
        let mut world = World::two_sites();
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let action = Action::MoveVip { service: world.service("gw"), from: Some(phx), to: scl };
        let policy = world.snapshot.policy().clone();
        let before = world.now_ms;
        world.now_ms += 9 * 60_000;
        assert!(world.time.observe(&world.snapshot, &policy, world.now_ms).is_some());
        let _ = before;
        let verdict = world.judge_with(&TimeSanityGuard, &action, &Cause::HolderDown { node: phx });
        assert_eq!(verdict.outcome, Outcome::Refuse);
        assert!(verdict.sentence.contains("9m 0"), "{}", verdict.sentence);
        world.now_ms += 60_000;
        assert_eq!(world.judge_with(&TimeSanityGuard, &action, &Cause::HolderDown { node: phx }).outcome, Outcome::Allow);
    }
}
