//! Single writer: never two writable primaries. A promotion needs the old primary
//! fenced first, or an operator's approval when fencing cannot be confirmed.

use crate::action::{Action, GuardVerdict};
use crate::guards::{Guard, GuardContext, Proposal};
use crate::health::agent_leases::LeaseVerdict;
use crate::health::Status;

pub struct SingleWriter;

pub const NAME: &str = "single-writer";

impl Guard for SingleWriter {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        let Action::Promote { service, from: Some(old), to } = proposal.action else {
            return GuardVerdict::not_applicable(NAME, "not a promotion of a replacement primary");
        };
        let service_name = ctx.snapshot.service_name(*service);
        let old_name = ctx.snapshot.node_name(*old);
        let key = (service_name.to_string(), old_name.to_string());
        let to_name = ctx.snapshot.node_name(*to);
        if let Some(why) = ctx.durable.lease_fenced.get(&key) {
            return GuardVerdict::allow(NAME, format!("{why}; {to_name} will be the only writable primary"));
        }
        if ctx.durable.fenced.contains(&key) {
            return GuardVerdict::allow(NAME, format!("{old_name} is fenced; {to_name} will be the only writable primary"));
        }
        if ctx.health.node(*old).status == Status::Up {
            return GuardVerdict::refuse(
                NAME,
                format!("{old_name} is up and may still accept writes; promoting {to_name} now could make two primaries. Fence {old_name} first."),
            );
        }
        let lease = ctx.leases.verdict(ctx.snapshot, ctx.now_ms, *service, *old);
        match lease {
            // Its agent fences it within its lease: wait for that rather than ask
            // a person to guess.
            LeaseVerdict::Running { .. } => GuardVerdict::refuse(
                NAME,
                format!("Fencing of {old_name} could not be confirmed over the network; {}.", lease.sentence(old_name)),
            ),
            LeaseVerdict::Counted { .. } => {
                GuardVerdict::allow(NAME, format!("{}; {to_name} will be the only writable primary", lease.sentence(old_name)))
            }
            _ => GuardVerdict::needs_approval(
                NAME,
                format!(
                    "Fencing of {old_name} could not be confirmed, and {}; if it comes back writable there would be two primaries. \
                     Approve only if you know {old_name} is stopped.",
                    lease.sentence(old_name)
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Cause, Outcome};
    use crate::guards::test_support::World;

    #[test]
    fn promotion_needs_fencing_or_approval() {
        let mut world = World::two_sites();
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let service = world.service("gw");
        let action = Action::Promote { service, from: Some(phx), to: scl };
        let up = world.judge_with(&SingleWriter, &action, &Cause::HolderDown { node: phx });
        assert_eq!(up.outcome, Outcome::Refuse, "{}", up.sentence);
        world.mark_down("phx1-web");
        let down = world.judge_with(&SingleWriter, &action, &Cause::HolderDown { node: phx });
        assert_eq!(down.outcome, Outcome::NeedsApproval, "{}", down.sentence);
        world.durable.fenced.insert(("gw".into(), "phx1-web".into()));
        assert_eq!(world.judge_with(&SingleWriter, &action, &Cause::HolderDown { node: phx }).outcome, Outcome::Allow);
    }
}
