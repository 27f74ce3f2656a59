//! Blast-radius budget (seed 002): moves per window per service group and
//! fleet-wide, by count and by percent. Beyond it a person decides; a mass
//! failover is never silent.

use crate::action::{Action, Cause, GuardVerdict};
use crate::guards::{Guard, GuardContext, Proposal};
use crate::inventory::Budget;

pub struct BlastRadiusBudget;

pub const NAME: &str = "blast-radius-budget";

impl Guard for BlastRadiusBudget {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        if !proposal.action.is_move() && !matches!(proposal.action, Action::Fence { .. }) {
            return GuardVerdict::not_applicable(NAME, "not a move");
        }
        if let Action::Promote { service, from: Some(old), .. } = proposal.action {
            let (service, old) = (ctx.snapshot.service_name(*service), ctx.snapshot.node_name(*old));
            if ctx.durable.fenced.contains(&(service.to_string(), old.to_string())) {
                return GuardVerdict::allow(NAME, format!("completes the failover whose fence of {old} the budget already counted"));
            }
        }
        let Some(service) = proposal.action.service() else {
            return GuardVerdict::not_applicable(NAME, "not a service move");
        };
        if let Cause::PrimaryMoved { primary, .. } = proposal.cause {
            // The promotion it completes was counted (and approved if it had to be).
            return GuardVerdict::allow(
                NAME,
                format!("follows the promotion of {}, which the budget already counted", ctx.snapshot.service_name(*primary)),
            );
        }
        let budget = &ctx.snapshot.policy().budget;
        let group = &ctx.snapshot.service(service).group;
        let group_size = ctx.snapshot.services().iter().filter(|s| &s.group == group).count();
        let group_limit = Budget::limit(budget.group_moves_max, budget.group_percent_max, group_size);
        let fleet_limit = Budget::limit(budget.fleet_moves_max, budget.fleet_percent_max, ctx.snapshot.services().len());
        let (in_group, in_fleet) = ctx.durable.moves_in_window(ctx.now_ms, budget.window_ms, group);
        let window = crate::time::human_duration(budget.window_ms);
        if in_group + 1 > group_limit {
            return GuardVerdict::needs_approval(
                NAME,
                format!("Group {group} has already moved {in_group} time(s) in the last {window} (budget {group_limit}); a move beyond the budget needs approval."),
            );
        }
        if in_fleet + 1 > fleet_limit {
            return GuardVerdict::needs_approval(
                NAME,
                format!("The fleet has already moved {in_fleet} time(s) in the last {window} (budget {fleet_limit}); a move beyond the budget needs approval."),
            );
        }
        GuardVerdict::allow(NAME, format!("move {} of {group_limit} for group {group} in {window}", in_group + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, Cause, Outcome};
    use crate::guards::test_support::World;

    #[test]
    fn moves_beyond_the_budget_need_approval() {
        let mut world = World::two_sites();
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let action = Action::MoveVip { service: world.service("gw"), from: Some(phx), to: scl };
        let cause = Cause::HolderDown { node: phx };
        // Default budget: 2 per group, 5 fleet-wide, per 10 minutes.
        assert_eq!(world.judge_with(&BlastRadiusBudget, &action, &cause).outcome, Outcome::Allow);
        world.durable.budget_ledger.push_back((world.now_ms, "edge".into()));
        world.durable.budget_ledger.push_back((world.now_ms, "edge".into()));
        let verdict = world.judge_with(&BlastRadiusBudget, &action, &cause);
        assert_eq!(verdict.outcome, Outcome::NeedsApproval);
        assert!(verdict.sentence.contains("budget 2"), "{}", verdict.sentence);
        world.now_ms += 11 * 60_000;
        assert_eq!(world.judge_with(&BlastRadiusBudget, &action, &cause).outcome, Outcome::Allow);
    }
}
