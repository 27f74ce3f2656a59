//! Flap damping: a node that keeps coming back and failing stays out until it has
//! been stable (seed 000: a site re-enabled six times in an hour).

use crate::action::GuardVerdict;
use crate::guards::eligibility::Ineligible;
use crate::guards::{Guard, GuardContext, Proposal};
use crate::ids::NodeId;

pub struct FlapDamping;

pub const NAME: &str = "flap-damping";

pub fn node_damped(ctx: &GuardContext, node: NodeId) -> Result<(), Ineligible> {
    let health = ctx.health.node(node);
    if health.suppressed {
        return Err(Ineligible::Suppressed { penalty: health.penalty, flaps: health.flaps });
    }
    Ok(())
}

impl Guard for FlapDamping {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        // Giving writes back to a fenced primary that still holds its service sends
        // it no traffic it does not already have: the service has no other writer.
        if let crate::action::Action::Unfence { .. } = proposal.action {
            return GuardVerdict::not_applicable(NAME, "an unfence moves no traffic: the node still holds its service");
        }
        for node in proposal.action.destinations() {
            if let Err(why) = node_damped(ctx, node) {
                return GuardVerdict::refuse(NAME, format!("Not sending traffic back: {}.", why.sentence(ctx, node)));
            }
        }
        GuardVerdict::allow(NAME, "no destination is flapping")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Cause, Outcome};
    use crate::guards::test_support::World;

    #[test]
    fn a_flapping_node_is_kept_out_until_stable() {
        let mut world = World::two_sites();
        for _ in 0..4 {
            world.mark_down("scl2-web");
            world.mark_up("scl2-web");
        }
        let verdict = world.judge_with(&FlapDamping, &world.set_dns_add_scl2(), &Cause::TargetsChanged);
        assert_eq!(verdict.outcome, Outcome::Refuse);
        assert!(verdict.sentence.contains("flapped"), "{}", verdict.sentence);
        world.advance_stable(3 * 3_600_000);
        let verdict = world.judge_with(&FlapDamping, &world.set_dns_add_scl2(), &Cause::TargetsChanged);
        assert_eq!(verdict.outcome, Outcome::Allow, "{}", verdict.sentence);
    }
}
