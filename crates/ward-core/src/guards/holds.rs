//! Holds: an operator's pin. Automation never overrides one (seed 000: the DNS
//! balancer re-enabled a site after a person had pulled it).
//!
//! A fleet-wide hold (a freeze, `ward hold --all`) refuses every automatic action
//! while it stands. It is the operator's tool: an operator's own explicit command
//! (a switchover, a sync) still acts, so a person can work through the freeze.

use crate::action::{Action, Cause, GuardVerdict};
use crate::guards::{Guard, GuardContext, Proposal};
use crate::ids::{NodeId, ServiceId};
use crate::state::Hold;

pub struct Holds;

pub const NAME: &str = "holds";

/// The hold in force on a node (directly or through its site), if any.
pub fn node_hold<'a>(ctx: &GuardContext<'a>, node: NodeId) -> Option<&'a Hold> {
    ctx.durable.hold_on_node(ctx.snapshot, node).filter(|h| in_force(ctx, h))
}

/// The fleet-wide hold (a freeze) in force, if any.
pub fn fleet_hold<'a>(ctx: &GuardContext<'a>) -> Option<&'a Hold> {
    ctx.durable.fleet_hold().filter(|h| in_force(ctx, h))
}

/// The hold in force on a service, if any.
pub fn service_hold<'a>(ctx: &GuardContext<'a>, service: ServiceId) -> Option<&'a Hold> {
    ctx.durable.hold_on_service(ctx.snapshot, service).filter(|h| in_force(ctx, h))
}

/// Expired holds are released at the next tick; until then they no longer count.
fn in_force(ctx: &GuardContext, hold: &Hold) -> bool {
    hold.until_ms.is_none_or(|until| ctx.now_ms < until)
}

impl Guard for Holds {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        if let Some(hold) = fleet_hold(ctx).filter(|_| !matches!(proposal.cause, Cause::Operator { .. })) {
            return GuardVerdict::refuse(
                NAME,
                format!(
                    "The whole fleet is frozen by a hold from {} (\"{}\"); Ward takes no automatic action until `ward release --all`",
                    hold.author, hold.reason
                ),
            );
        }
        if let Some(service) = proposal.action.service() {
            if let Some(hold) = service_hold(ctx, service) {
                return GuardVerdict::refuse(
                    NAME,
                    format!(
                        "{} is frozen by a hold from {} (\"{}\"); release the hold to let Ward change it",
                        ctx.snapshot.service_name(service),
                        hold.author,
                        hold.reason
                    ),
                );
            }
        }
        // A held node (or site) is never repaired automatically: a person is working on it.
        if let Some(node) = proposal.action.repaired_node() {
            if let Some(hold) = node_hold(ctx, node) {
                return GuardVerdict::refuse(
                    NAME,
                    format!(
                        "{} is held by {} on {} (\"{}\"); Ward does not repair a held node",
                        ctx.snapshot.node_name(node),
                        hold.author,
                        hold.target,
                        hold.reason
                    ),
                );
            }
        }
        // A sync may copy onto a held node; everything else may not send traffic or a role to one.
        let receiving_ok = matches!(proposal.action, Action::Sync { .. });
        for node in proposal.action.destinations() {
            if let Some(hold) = node_hold(ctx, node) {
                if !receiving_ok {
                    return GuardVerdict::refuse(
                        NAME,
                        format!(
                            "{} is held out by {} on {} (\"{}\"); automation never overrides a hold",
                            ctx.snapshot.node_name(node),
                            hold.author,
                            hold.target,
                            hold.reason
                        ),
                    );
                }
            }
        }
        GuardVerdict::allow(NAME, "no hold applies")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Cause, Outcome};
    use crate::guards::test_support::World;
    use crate::journal::HoldTarget;

    #[test]
    fn a_held_site_never_receives_traffic() {
        let mut world = World::two_sites();
        world.hold(HoldTarget::Site("scl2".into()));
        let action = world.set_dns_add_scl2();
        let verdict = world.judge_with(&Holds, &action, &Cause::TargetsChanged);
        assert_eq!(verdict.outcome, Outcome::Refuse);
        assert!(verdict.sentence.contains("held out"), "{}", verdict.sentence);
    }

    #[test]
    fn a_frozen_service_is_not_changed() {
        let mut world = World::two_sites();
        world.hold(HoldTarget::Service("web".into()));
        let action = world.set_dns_add_scl2();
        assert_eq!(world.judge_with(&Holds, &action, &Cause::TargetsChanged).outcome, Outcome::Refuse);
    }

    #[test]
    fn a_freeze_refuses_automation_but_not_an_operator() {
        let mut world = World::two_sites();
        world.hold(HoldTarget::Fleet);
        let action = world.set_dns_add_scl2();
        let verdict = world.judge_with(&Holds, &action, &Cause::TargetsChanged);
        assert_eq!(verdict.outcome, Outcome::Refuse);
        assert!(verdict.sentence.contains("whole fleet is frozen"), "{}", verdict.sentence);
        let operator = Cause::Operator { author: "ana".into() };
        assert_eq!(world.judge_with(&Holds, &action, &operator).outcome, Outcome::Allow);
    }

    #[test]
    fn without_a_hold_it_allows() {
        let world = World::two_sites();
        let action = world.set_dns_add_scl2();
        assert_eq!(world.judge_with(&Holds, &action, &Cause::TargetsChanged).outcome, Outcome::Allow);
    }
}
