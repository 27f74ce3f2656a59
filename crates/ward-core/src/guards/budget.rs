//! Blast-radius budget (seed 002): targets removed per window per service group
//! and fleet-wide, by count and by percent, and per pool (a DNS service's
//! candidates) by share. A DNS change that drops ten answers counts ten; a VIP
//! move, a promotion or a fence counts one. Beyond it a person decides; a mass
//! failover is never silent.

use crate::action::{Action, Cause, GuardVerdict};
use crate::guards::{Guard, GuardContext, Proposal};
use crate::inventory::Budget;
use crate::state::budget_weight;

pub struct BlastRadiusBudget;

pub const NAME: &str = "blast-radius-budget";

impl Guard for BlastRadiusBudget {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        let weight = budget_weight(proposal.action);
        if weight == 0 {
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
        if let Cause::SecondWriter { node, .. } = proposal.cause {
            // Fencing a second writer takes no traffic from where it belongs.
            return GuardVerdict::allow(
                NAME,
                format!(
                    "fencing {}, a second writable primary, moves no traffic: the budget does not count it",
                    ctx.snapshot.node_name(*node)
                ),
            );
        }
        if let Cause::PrimaryMoved { primary, .. } = proposal.cause {
            // The promotion it completes was counted (and approved if it had to be).
            return GuardVerdict::allow(
                NAME,
                format!("follows the promotion of {}, which the budget already counted", ctx.snapshot.service_name(*primary)),
            );
        }
        // Moving off nodes a rollout drained is the rollout's own doing: its scope
        // (the rollout-scope guard) already limited how much of the fleet is out.
        let removed: Vec<crate::ids::NodeId> = match proposal.action {
            Action::SetDnsTargets { from, to, .. } => from.iter().copied().filter(|n| !to.contains(n)).collect(),
            Action::MoveVip { from, .. } | Action::Promote { from, .. } => from.iter().copied().collect(),
            _ => Vec::new(),
        };
        let by_rollout =
            |n: &crate::ids::NodeId| ctx.durable.drained.get(ctx.snapshot.node_name(*n)).is_some_and(|by| by.starts_with("rollout "));
        if !removed.is_empty() && removed.iter().all(by_rollout) {
            return GuardVerdict::allow(NAME, "moves off nodes a rollout drained; the rollout's scope limits those, not the budget");
        }
        // A fence carries the whole failover's cost: the promotion after its own
        // fence is not counted again (above), and the planner fences only when
        // that promotion would be allowed now.
        let need = weight;
        let budget = &ctx.snapshot.policy().budget;
        let group = &ctx.snapshot.service(service).group;
        let group_size = ctx.snapshot.services().iter().filter(|s| &s.group == group).count();
        let group_limit = Budget::limit(budget.group_moves_max, budget.group_percent_max, group_size);
        let fleet_limit = Budget::limit(budget.fleet_moves_max, budget.fleet_percent_max, ctx.snapshot.services().len());
        let (in_group, in_fleet) = ctx.durable.moves_in_window(ctx.now_ms, budget.window_ms, group);
        let window = crate::time::human_duration(budget.window_ms);
        let this = if weight > 1 { format!("This change removes {weight} targets; ") } else { String::new() };
        if in_group + need > group_limit {
            return GuardVerdict::needs_approval(
                NAME,
                format!("{this}Group {group} has already removed {in_group} target(s) in the last {window} (budget {group_limit}); a change beyond the budget needs approval."),
            );
        }
        if in_fleet + need > fleet_limit {
            return GuardVerdict::needs_approval(
                NAME,
                format!("{this}The fleet has already removed {in_fleet} target(s) in the last {window} (budget {fleet_limit}); a change beyond the budget needs approval."),
            );
        }
        if let Action::SetDnsTargets { from, to, .. } = proposal.action {
            let name = ctx.snapshot.service_name(service);
            let pool = ctx.snapshot.service(service).candidates.len();
            let pool_limit = Budget::pool_limit(budget.pool_percent_max, pool);
            let mut removed = ctx.durable.pool_removed_in_window(ctx.now_ms, budget.window_ms, name);
            let before = removed.len();
            for node in from.iter().filter(|n| !to.contains(n)) {
                removed.insert(ctx.snapshot.node_name(*node));
            }
            if removed.len() as u32 > pool_limit {
                return GuardVerdict::needs_approval(
                    NAME,
                    format!(
                        "{this}{name} would lose {} of its {pool} candidates within {window} ({before} already, {} now); at most {}% ({pool_limit}) may go without approval.",
                        removed.len(),
                        removed.len() - before,
                        budget.pool_percent_max
                    ),
                );
            }
        }
        GuardVerdict::allow(NAME, format!("{} of {group_limit} for group {group} in {window}", in_group + need))
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

    #[test]
    fn moving_off_a_node_a_rollout_drained_is_the_rollouts_budget_not_this_one() {
        let mut world = World::two_sites();
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let action = Action::MoveVip { service: world.service("gw"), from: Some(phx), to: scl };
        let cause = Cause::HolderDown { node: phx };
        world.durable.budget_ledger.extend([(world.now_ms, "edge".to_string()), (world.now_ms, "edge".to_string())]);
        assert_eq!(world.judge_with(&BlastRadiusBudget, &action, &cause).outcome, Outcome::NeedsApproval);
        world.durable.drained.insert("phx1-web".into(), "rollout 3 (ana)".into());
        assert_eq!(world.judge_with(&BlastRadiusBudget, &action, &cause).outcome, Outcome::Allow);
        world.durable.drained.insert("phx1-web".into(), "ana".into());
        assert_eq!(world.judge_with(&BlastRadiusBudget, &action, &cause).outcome, Outcome::NeedsApproval);
    }

    #[test]
    fn a_fence_counts_for_its_failover_and_the_promotion_after_it_is_not_counted_again() {
        let mut world = World::two_sites();
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let gw = world.service("gw");
        let fence = Action::Fence { service: gw, node: phx };
        let cause = Cause::HolderDown { node: phx };
        // Default budget: 2 per group. One failover already counted: room for one more.
        world.durable.budget_ledger.push_back((world.now_ms, "edge".into()));
        assert_eq!(world.judge_with(&BlastRadiusBudget, &fence, &cause).outcome, Outcome::Allow);
        world.durable.budget_ledger.push_back((world.now_ms, "edge".into()));
        assert_eq!(world.judge_with(&BlastRadiusBudget, &fence, &cause).outcome, Outcome::NeedsApproval);
        // Once phx is fenced, promoting in its place costs nothing more.
        world.durable.fenced.insert(("gw".into(), "phx1-web".into()));
        let promote = Action::Promote { service: gw, from: Some(phx), to: scl };
        let verdict = world.judge_with(&BlastRadiusBudget, &promote, &cause);
        assert_eq!(verdict.outcome, Outcome::Allow, "{}", verdict.sentence);
    }

    #[test]
    fn a_dns_change_counts_the_answers_it_drops_and_the_pool_share() {
        let mut world = World::two_sites();
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let web = world.service("web");
        let drop_both = Action::SetDnsTargets { service: web, from: vec![phx, scl], to: vec![] };
        assert_eq!(budget_weight(&drop_both), 2);
        let drop_one = Action::SetDnsTargets { service: web, from: vec![phx, scl], to: vec![phx] };
        assert_eq!(budget_weight(&drop_one), 1);
        let add = Action::SetDnsTargets { service: web, from: vec![phx], to: vec![phx, scl] };
        assert_eq!(budget_weight(&add), 1, "an add-only change counts one");
        // Two candidates at 50 %: one may go per window, not both.
        let cause = Cause::TargetsChanged;
        assert_eq!(world.judge_with(&BlastRadiusBudget, &drop_one, &cause).outcome, Outcome::Allow);
        let verdict = world.judge_with(&BlastRadiusBudget, &drop_both, &cause);
        assert_eq!(verdict.outcome, Outcome::NeedsApproval);
        assert!(verdict.sentence.contains("removes 2 targets"), "{}", verdict.sentence);
        // The same node removed again (a flapping site) is still one node of the pool.
        world.durable.pool_ledger.push_back((world.now_ms, "web".into(), "scl2-web".into()));
        let verdict = world.judge_with(&BlastRadiusBudget, &drop_one, &cause);
        assert_eq!(verdict.outcome, Outcome::Allow, "{}", verdict.sentence);
        world.durable.pool_ledger.push_back((world.now_ms, "web".into(), "phx1-web".into()));
        let verdict = world.judge_with(&BlastRadiusBudget, &drop_one, &cause);
        assert_eq!(verdict.outcome, Outcome::NeedsApproval, "{}", verdict.sentence);
        assert!(verdict.sentence.contains("at most 50%"), "{}", verdict.sentence);
    }
}
