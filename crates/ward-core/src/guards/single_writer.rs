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
        // The agent renews although its server does not answer: the host is up,
        // so the lease will not run out and waiting for it would be forever.
        let renewing = ctx.leases.renewed_since(old_name, ctx.health.node(*old).since_ms + ctx.snapshot.policy().agent.renew_every_ms * 2);
        if matches!(lease, LeaseVerdict::Running { .. }) && renewing {
            return GuardVerdict::needs_approval(
                NAME,
                format!(
                    "Fencing of {old_name} could not be confirmed, and its ward agent still renews its lease while its server does not answer \
                     (the host is up, the server hung or unreachable from here), so no lease fence will come. Approve only if you know \
                     {old_name}'s server is stopped or cannot take writes."
                ),
            );
        }
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

    #[test]
    fn a_running_lease_is_waited_for_unless_the_agent_renews_while_its_server_is_down() {
        let mut world = World::two_sites();
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let mut parts = world.snapshot.parts().clone();
        parts.nodes[phx.index()].agent = true;
        world.snapshot = crate::inventory::Snapshot::assemble(parts);
        world.mark_down("phx1-web");
        let action = Action::Promote { service: world.service("gw"), from: Some(phx), to: scl };
        let down_since = world.health.node(phx).since_ms;
        // Its last renewal came before the server went down: the lease runs out.
        let view = |at| crate::health::agent_leases::AgentView { last_renewal_ms: Some(at), heard: true, ..Default::default() };
        world.leases.renewed("phx1-web", view(down_since.saturating_sub(500)));
        world.now_ms = down_since + 1_000;
        let verdict = world.judge_with(&SingleWriter, &action, &Cause::HolderDown { node: phx });
        assert_eq!(verdict.outcome, Outcome::Refuse, "{}", verdict.sentence);
        assert!(verdict.sentence.contains("Ward waits for it"), "{}", verdict.sentence);
        // It keeps renewing while its server is down: a person decides.
        world.leases.renewed("phx1-web", view(down_since + 3_000));
        world.now_ms = down_since + 3_500;
        let verdict = world.judge_with(&SingleWriter, &action, &Cause::HolderDown { node: phx });
        assert_eq!(verdict.outcome, Outcome::NeedsApproval, "{}", verdict.sentence);
        assert!(verdict.sentence.contains("still renews its lease"), "{}", verdict.sentence);
    }
}
