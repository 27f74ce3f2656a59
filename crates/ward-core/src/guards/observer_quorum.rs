//! Observer quorum and self-partition (seed 000: the monitoring server itself lost
//! its network). Quorum is enforced in health aggregation; this guard adds the
//! fleet-level sanity check: when an implausible share of the fleet looks down at
//! once, suspect the observers before failing everything over.

use crate::action::{Cause, GuardVerdict};
use crate::guards::{Guard, GuardContext, Proposal};

pub struct ObserverQuorum;

pub const NAME: &str = "observer-quorum";

/// Below this fleet size one or two failures are plausible whatever their share.
const FLEET_SIZE_MIN: u32 = 4;

impl Guard for ObserverQuorum {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        if !matches!(proposal.cause, Cause::HolderDown { .. } | Cause::TargetsChanged) {
            return GuardVerdict::not_applicable(NAME, "not a failover");
        }
        let fleet = ctx.fleet;
        let percent = ctx.snapshot.policy().observer_suspect_percent;
        if fleet.nodes_total >= FLEET_SIZE_MIN && fleet.nodes_down as u64 * 100 > fleet.nodes_total as u64 * percent as u64 {
            return GuardVerdict::needs_approval(
                NAME,
                format!(
                    "{} of {} nodes look down at once; that is more likely a fault of the observers or their network than of the nodes. \
                     Approve to fail over anyway.",
                    fleet.nodes_down, fleet.nodes_total
                ),
            );
        }
        if !fleet.suspect_observers.is_empty() {
            return GuardVerdict::allow(
                NAME,
                format!("observer(s) {} are suspect and abstain; a quorum of the others agrees", fleet.suspect_observers.join(", ")),
            );
        }
        GuardVerdict::allow(NAME, "a quorum of observers agrees")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, Outcome};
    use crate::guards::test_support::World;
    use crate::guards::FleetView;

    #[test]
    fn mass_failure_is_suspected_not_acted_on() {
        let mut world = World::two_sites();
        world.fleet = FleetView { nodes_total: 40, nodes_down: 38, suspect_observers: Vec::new(), ..FleetView::default() };
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let action = Action::MoveVip { service: world.service("gw"), from: Some(phx), to: scl };
        let verdict = world.judge_with(&ObserverQuorum, &action, &Cause::HolderDown { node: phx });
        assert_eq!(verdict.outcome, Outcome::NeedsApproval);
        assert!(verdict.sentence.contains("38 of 40"), "{}", verdict.sentence);
        world.fleet = FleetView { nodes_total: 40, nodes_down: 4, suspect_observers: Vec::new(), ..FleetView::default() };
        assert_eq!(world.judge_with(&ObserverQuorum, &action, &Cause::HolderDown { node: phx }).outcome, Outcome::Allow);
    }
}
