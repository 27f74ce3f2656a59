//! Rollout scope: how much of the fleet a rolling maintenance may take out at
//! once. A batch may span at most K failure domains (sites, and the label the
//! rollout names, such as a rack), at most P % of any service's candidates
//! (never below one node), and must leave every service its minimum: a vip or
//! primary an eligible candidate outside the batch, a dns name `min_targets`.
//! An over-broad rollout is refused with this sentence before anything is
//! drained; a batch that would break a limit at run time waits.

use std::collections::BTreeSet;

use crate::action::{Action, GuardVerdict};
use crate::guards::eligibility::{node_eligibility, Role};
use crate::guards::{Guard, GuardContext, Proposal};
use crate::ids::NodeId;
use crate::inventory::{Budget, ServiceKind};
use crate::journal::RolloutScope;

pub struct RolloutScopeGuard;

pub const NAME: &str = "rollout-scope";

/// Judges one batch of a rollout against its scope and the fleet as it is now.
pub fn check_batch(ctx: &GuardContext, batch: &[NodeId], scope: &RolloutScope) -> GuardVerdict {
    let policy = &ctx.snapshot.policy().rollout;
    let domains_max = scope.domains_max.unwrap_or(policy.domains_max).max(1);
    let percent = scope.pool_percent_max.unwrap_or(policy.pool_percent_max);
    let names = |nodes: &[NodeId]| nodes.iter().map(|n| ctx.snapshot.node_name(*n)).collect::<Vec<_>>().join(", ");
    // Failure domains: sites always, and the label the rollout names.
    let sites: BTreeSet<&str> = batch.iter().map(|n| ctx.snapshot.site(ctx.snapshot.node(*n).site).name.as_str()).collect();
    if sites.len() as u32 > domains_max {
        return GuardVerdict::refuse(
            NAME,
            format!(
                "The batch ({}) spans {} sites ({}); at most {domains_max} failure domain(s) may have nodes out at once. Split it by site.",
                names(batch),
                sites.len(),
                sites.into_iter().collect::<Vec<_>>().join(", ")
            ),
        );
    }
    if let Some(label) = &scope.domain_label {
        let domains: BTreeSet<&str> =
            batch.iter().map(|n| ctx.snapshot.node(*n).labels.get(label).map(String::as_str).unwrap_or("(unlabelled)")).collect();
        if domains.len() as u32 > domains_max {
            return GuardVerdict::refuse(
                NAME,
                format!(
                    "The batch ({}) spans {} {label}s ({}); at most {domains_max} may have nodes out at once. Split it by {label}.",
                    names(batch),
                    domains.len(),
                    domains.into_iter().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
    for service in ctx.snapshot.services() {
        let out: Vec<NodeId> = service.candidates.iter().copied().filter(|c| batch.contains(c)).collect();
        if out.is_empty() {
            continue;
        }
        let pool = service.candidates.len();
        let limit = Budget::pool_limit(percent, pool);
        if out.len() as u32 > limit {
            return GuardVerdict::refuse(
                NAME,
                format!(
                    "The batch takes {} of {}'s {pool} candidates out at once ({}); at most {percent}% ({limit}) may be out. Use smaller batches.",
                    out.len(),
                    service.name,
                    names(&out)
                ),
            );
        }
        let left =
            service.candidates.iter().filter(|c| !batch.contains(c) && node_eligibility(ctx, **c, Role::Serve).is_ok()).count() as u32;
        let minimum = match service.kind {
            ServiceKind::Vip | ServiceKind::Primary => 1,
            ServiceKind::Dns => service.min_targets.max(1),
            ServiceKind::Sync => 0,
        };
        if left < minimum {
            return GuardVerdict::refuse(
                NAME,
                format!(
                    "With {} out, {} would keep {left} eligible candidate(s), below its minimum of {minimum}; it would go down.",
                    names(&out),
                    service.name
                ),
            );
        }
    }
    GuardVerdict::allow(
        NAME,
        format!(
            "{} node(s) out stay within {domains_max} failure domain(s), {percent}% of every pool and every service's minimum",
            batch.len()
        ),
    )
}

impl Guard for RolloutScopeGuard {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        let Action::Maintain { rollout, nodes, .. } = proposal.action else {
            return GuardVerdict::not_applicable(NAME, "not a maintenance batch");
        };
        let scope = ctx.durable.rollouts.get(rollout).map(|r| r.scope.clone()).unwrap_or_default();
        check_batch(ctx, nodes, &scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Outcome;
    use crate::guards::test_support::World;

    #[test]
    fn a_batch_across_sites_or_taking_a_whole_pool_is_refused() {
        let world = World::two_sites();
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let ctx = world.context();
        let both = check_batch(&ctx, &[phx, scl], &RolloutScope::default());
        assert_eq!(both.outcome, Outcome::Refuse);
        assert!(both.sentence.contains("spans 2 sites"), "{}", both.sentence);
        // Two sites allowed, but then the whole pool of each service is out.
        let wide = RolloutScope { domains_max: Some(2), pool_percent_max: Some(100), ..RolloutScope::default() };
        let verdict = check_batch(&ctx, &[phx, scl], &wide);
        assert_eq!(verdict.outcome, Outcome::Refuse);
        assert!(verdict.sentence.contains("below its minimum"), "{}", verdict.sentence);
        // One node of two: at 25 % the pool limit is still one node, and the other serves.
        let one = check_batch(&ctx, &[phx], &RolloutScope::default());
        assert_eq!(one.outcome, Outcome::Allow, "{}", one.sentence);
    }

    #[test]
    fn a_batch_leaving_a_service_without_an_eligible_candidate_is_refused() {
        let mut world = World::two_sites();
        world.mark_down("scl2-web");
        let phx = world.node("phx1-web");
        let verdict = check_batch(&world.context(), &[phx], &RolloutScope::default());
        assert_eq!(verdict.outcome, Outcome::Refuse);
        assert!(verdict.sentence.contains("keep 0 eligible"), "{}", verdict.sentence);
    }
}
