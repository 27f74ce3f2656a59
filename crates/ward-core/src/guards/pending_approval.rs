//! Pending approvals stand: while a service has a decision waiting for a person,
//! no automatic action of the same kind on that service goes ahead without that
//! person's answer. Without this, a trigger that flickers (the holder is down,
//! up for a round, down again) would re-judge the gated move afresh, and once
//! the reason for asking had faded (the budget window rolled over) the move would
//! run as "allowed" with nobody having said yes. It gates the single-holder
//! kinds (a VIP move, a fence, a promotion), where a move nobody approved is the
//! damage; DNS changes are re-judged each time (see `judge`).

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
        // A second writer is fenced whatever waits for a person: nobody is asked
        // whether two primaries may go on taking writes.
        if matches!(proposal.cause, Cause::SecondWriter { .. }) {
            return GuardVerdict::not_applicable(NAME, "fencing a second writable primary waits for no approval");
        }
        let Some(service) = proposal.action.service() else {
            return GuardVerdict::not_applicable(NAME, "not a service action");
        };
        // A DNS change is judged on its own each time: leaving dead answers in place
        // is itself the outage, and the budget (answers removed, pool share) still
        // asks a person before a mass removal. Its pending request is not withdrawn
        // by quiet rounds either; a later DNS decision supersedes it, saying so.
        if matches!(proposal.action, Action::SetDnsTargets { .. }) {
            return GuardVerdict::not_applicable(NAME, "a DNS change is judged on its own each time");
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
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let gw = Action::MoveVip { service: world.service("gw"), from: Some(phx), to: scl };
        let cause = Cause::HolderDown { node: phx };
        assert_eq!(world.judge_with(&PendingApproval, &gw, &cause).outcome, Outcome::Allow);
        pend(&mut world, 7, &gw);
        let verdict = world.judge_with(&PendingApproval, &gw, &cause);
        assert_eq!(verdict.outcome, Outcome::NeedsApproval);
        assert!(verdict.sentence.contains("Decision 7"), "{}", verdict.sentence);
        // An operator's own request is not gated by it; nor is a DNS change, judged on its own.
        let operator = Cause::Operator { author: "ana".into() };
        assert_ne!(world.judge_with(&PendingApproval, &gw, &operator).outcome, Outcome::NeedsApproval);
        let dns = world.set_dns_add_scl2();
        pend(&mut world, 8, &dns);
        assert_ne!(world.judge_with(&PendingApproval, &dns, &Cause::TargetsChanged).outcome, Outcome::NeedsApproval);
    }
}
