//! Pending approvals stand: while a service has a decision waiting for a person,
//! no automatic action of the same kind on that service goes ahead without that
//! person's answer. Without this, a trigger that flickers (the holder is down,
//! up for a round, down again) would re-judge the gated move afresh, and once
//! the reason for asking had faded (the budget window rolled over) the move would
//! run as "allowed" with nobody having said yes.

use crate::action::{Action, Cause, GuardVerdict};
use crate::guards::{Guard, GuardContext, Proposal};
use crate::state::Pending;

pub struct PendingApproval;

pub const NAME: &str = "pending-approval";

impl Guard for PendingApproval {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        // An operator's own request is itself a person's answer.
        if matches!(proposal.cause, Cause::Operator { .. }) {
            return GuardVerdict::not_applicable(NAME, "an operator asked for it");
        }
        let Some(service) = proposal.action.service() else {
            return GuardVerdict::not_applicable(NAME, "not a service action");
        };
        // Putting answers back removes nothing: it cannot be the gated change
        // slipping through, and a fleet must be able to heal while a person decides.
        if let Action::SetDnsTargets { from, to, .. } = proposal.action {
            if from.iter().all(|n| to.contains(n)) {
                return GuardVerdict::not_applicable(NAME, "adds answers, removes none");
            }
        }
        let name = ctx.snapshot.service_name(service);
        let kind = proposal.action.kind();
        let waiting = ctx.durable.pending.values().find(|p| {
            matches!(&p.pending, Pending::Action { action, .. } if action.service_ref().is_some_and(|s| s == name) && action.kind() == kind)
        });
        match waiting {
            Some(p) => {
                let summary = match &p.pending {
                    Pending::Action { summary, .. } => summary.as_str(),
                    Pending::Inventory { .. } => "",
                };
                GuardVerdict::needs_approval(
                    NAME,
                    format!(
                        "Decision {} ({kind} on {name}: {summary}) has waited for a person since {}; Ward takes no automatic {kind} on {name} until someone answers it (`ward approve {}` or `ward reject {}`).",
                        p.decision.0,
                        crate::time::clock(p.at_ms),
                        p.decision.0,
                        p.decision.0
                    ),
                )
            }
            None => GuardVerdict::allow(NAME, format!("no {kind} on {name} waits for approval")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Outcome;
    use crate::guards::test_support::World;
    use crate::ids::DecisionId;
    use crate::state::PendingDecision;

    fn pend(world: &mut World, decision: u64, action: &crate::action::Action) {
        let named = world.snapshot.name_action(action);
        world.durable.pending.insert(
            DecisionId(decision),
            PendingDecision {
                decision: DecisionId(decision),
                at_ms: world.now_ms,
                pending: Pending::Action { action: named, summary: "scl2-web is down".into(), reasons: vec![] },
            },
        );
    }

    #[test]
    fn a_pending_approval_gates_the_same_kind_on_the_same_service() {
        let mut world = World::two_sites();
        let action = world.set_dns_add_scl2();
        assert_eq!(world.judge_with(&PendingApproval, &action, &Cause::TargetsChanged).outcome, Outcome::Allow);
        pend(&mut world, 7, &action);
        // Adding answers back is never gated; removing one is.
        assert_ne!(world.judge_with(&PendingApproval, &action, &Cause::TargetsChanged).outcome, Outcome::NeedsApproval);
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let removal = crate::action::Action::SetDnsTargets { service: world.service("web"), from: vec![phx, scl], to: vec![phx] };
        let verdict = world.judge_with(&PendingApproval, &removal, &Cause::TargetsChanged);
        assert_eq!(verdict.outcome, Outcome::NeedsApproval);
        assert!(verdict.sentence.contains("Decision 7"), "{}", verdict.sentence);
        // Another service, or an operator's own request, is not gated by it.
        let gw = crate::action::Action::MoveVip { service: world.service("gw"), from: Some(phx), to: scl };
        assert_eq!(world.judge_with(&PendingApproval, &gw, &Cause::HolderDown { node: phx }).outcome, Outcome::Allow);
        let operator = Cause::Operator { author: "ana".into() };
        assert_ne!(world.judge_with(&PendingApproval, &removal, &operator).outcome, Outcome::NeedsApproval);
    }
}
