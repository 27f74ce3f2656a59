//! Controller majority: a controller that hears fewer than a quorum of its
//! observers, or no more than half of them, may sit on the minority side of a
//! partition, where what looks down is only out of its sight and the other side
//! may be acting. It takes no automatic action; a person still may.

use crate::action::{Cause, GuardVerdict};
use crate::guards::{Guard, GuardContext, Proposal};

pub struct ControllerMajority;

pub const NAME: &str = "controller-majority";

impl Guard for ControllerMajority {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        if matches!(proposal.cause, Cause::Operator { .. }) {
            return GuardVerdict::not_applicable(NAME, "an operator asked for it");
        }
        let total = ctx.fleet.observers_total as usize;
        if total == 0 {
            return GuardVerdict::not_applicable(NAME, "no observers are counted yet");
        }
        let silent = &ctx.fleet.silent_observers;
        let hearing = total.saturating_sub(silent.len());
        let quorum = ctx.snapshot.policy().quorum as usize;
        let minority = total >= 2 && hearing * 2 <= total;
        if hearing < quorum || minority {
            return GuardVerdict::refuse(
                NAME,
                format!(
                    "Ward hears only {hearing} of its {total} observers ({} silent): it may be on the minority side of a partition, \
                     where nodes only look down and the other side may be acting. No automatic action until it hears a majority again.",
                    silent.join(", ")
                ),
            );
        }
        GuardVerdict::allow(NAME, format!("Ward hears {hearing} of its {total} observers"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, Outcome};
    use crate::guards::test_support::World;

    fn move_gw(world: &World) -> (Action, Cause) {
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        (Action::MoveVip { service: world.service("gw"), from: Some(phx), to: scl }, Cause::HolderDown { node: phx })
    }

    #[test]
    fn a_controller_hearing_half_its_observers_or_fewer_takes_no_automatic_action() {
        let mut world = World::two_sites();
        world.fleet.observers_total = 3;
        let (action, cause) = move_gw(&world);
        assert_eq!(world.judge_with(&ControllerMajority, &action, &cause).outcome, Outcome::Allow);
        world.fleet.silent_observers = vec!["obs-b".into()];
        assert_eq!(world.judge_with(&ControllerMajority, &action, &cause).outcome, Outcome::Allow, "2 of 3 is a majority");
        world.fleet.silent_observers = vec!["obs-b".into(), "obs-c".into()];
        let verdict = world.judge_with(&ControllerMajority, &action, &cause);
        assert_eq!(verdict.outcome, Outcome::Refuse);
        assert!(verdict.sentence.contains("only 1 of its 3 observers"), "{}", verdict.sentence);
        assert!(verdict.sentence.contains("obs-b, obs-c"), "{}", verdict.sentence);
    }

    #[test]
    fn half_is_not_a_majority_but_an_operator_may_still_act() {
        let mut world = World::two_sites();
        world.fleet.observers_total = 2;
        world.fleet.silent_observers = vec!["obs-b".into()];
        let (action, cause) = move_gw(&world);
        assert_eq!(world.judge_with(&ControllerMajority, &action, &cause).outcome, Outcome::Refuse);
        let operator = Cause::Operator { author: "alice".into() };
        assert_eq!(world.judge_with(&ControllerMajority, &action, &operator).outcome, Outcome::Allow);
    }
}
