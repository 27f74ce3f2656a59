//! Role holder: a sync never overwrites a node that holds a role. A sync aimed at
//! the current primary, a VIP holder, a DNS target in service, the source of a
//! sync in progress, or the last ready source of its tree is refused outright, not
//! approval-gated: an approval at 3 a.m. is too easy to give for a wipe of the
//! node everything depends on. Move the role away first, then sync.

use crate::action::{Action, GuardVerdict};
use crate::guards::{Guard, GuardContext, Proposal};
use crate::ids::{NodeId, ServiceId};
use crate::inventory::ServiceKind;

pub struct RoleHolder;

pub const NAME: &str = "role-holder";

impl Guard for RoleHolder {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        let Action::Sync { service, from, to, .. } = proposal.action else {
            return GuardVerdict::not_applicable(NAME, "not a sync");
        };
        let (from_name, to_name) = (ctx.snapshot.node_name(*from), ctx.snapshot.node_name(*to));
        if let Some(role) = role_of(ctx, *service, *to) {
            return GuardVerdict::refuse(
                NAME,
                format!(
                    "Refusing to sync {from_name} -> {to_name}: {to_name} is {role}, and a sync would overwrite it. \
                     Move that role to another node first (or sync in the other direction if that was meant)."
                ),
            );
        }
        GuardVerdict::allow(NAME, format!("{to_name} holds no role a sync could destroy"))
    }
}

/// The role `node` holds that a sync into it would destroy, in words.
fn role_of(ctx: &GuardContext, sync_service: ServiceId, node: NodeId) -> Option<String> {
    let node_name = ctx.snapshot.node_name(node);
    for (index, service) in ctx.snapshot.services().iter().enumerate() {
        let holds = ctx.durable.placements.get(index).is_some_and(|holders| holders.contains(&node));
        if !holds {
            continue;
        }
        let role = match service.kind {
            ServiceKind::Primary => "the current primary",
            ServiceKind::Vip => "the VIP holder",
            ServiceKind::Dns => "a DNS target in service",
            ServiceKind::Sync => continue,
        };
        return Some(format!("{role} of {}", service.name));
    }
    let source_of_running_sync =
        ctx.durable.jobs.values().find(|job| matches!(&job.action, crate::action::NamedAction::Sync { from, .. } if from == node_name));
    if let Some(job) = source_of_running_sync {
        return Some(format!("the source of sync job {} in progress", job.id.0));
    }
    let sync = ctx.snapshot.service(sync_service);
    let ready = |n: &NodeId| ctx.snapshot.node(*n).lifecycle.may_be_sync_source();
    if ready(&node) && !sync.candidates.iter().any(|c| *c != node && ready(c)) {
        return Some(format!("the last ready source of {}", sync.name));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Cause, Outcome, SyncPreview};
    use crate::guards::test_support::World;
    use crate::inventory::Lifecycle;

    fn sync(world: &World, from: &str, to: &str) -> Action {
        Action::Sync { service: world.service("web"), from: world.node(from), to: world.node(to), preview: SyncPreview::default() }
    }

    fn operator() -> Cause {
        Cause::Operator { author: "jynus".into() }
    }

    #[test]
    fn a_sync_into_a_role_holder_is_refused_not_gated() {
        let world = World::two_sites();
        // phx1-web holds the VIP of gw and is a DNS target of web.
        let verdict = world.judge_with(&RoleHolder, &sync(&world, "scl2-web", "phx1-web"), &operator());
        assert_eq!(verdict.outcome, Outcome::Refuse);
        assert!(verdict.sentence.contains("phx1-web is") && verdict.sentence.contains("Move that role"), "{}", verdict.sentence);
    }

    #[test]
    fn a_sync_into_a_node_without_a_role_is_allowed() {
        let world = World::two_sites();
        assert_eq!(world.judge_with(&RoleHolder, &sync(&world, "phx1-web", "scl2-web"), &operator()).outcome, Outcome::Allow);
    }

    #[test]
    fn the_last_ready_source_is_not_overwritten() {
        let mut world = World::two_sites();
        world.set_lifecycle("phx1-web", Lifecycle::Syncing);
        let verdict = world.judge_with(&RoleHolder, &sync(&world, "phx1-web", "scl2-web"), &operator());
        assert_eq!(verdict.outcome, Outcome::Refuse);
        assert!(verdict.sentence.contains("last ready source"), "{}", verdict.sentence);
    }

    #[test]
    fn the_source_of_a_running_sync_is_not_overwritten() {
        let mut world = World::two_sites();
        let named = world.snapshot.name_action(&sync(&world, "scl2-web", "phx1-web"));
        world.durable.jobs.insert(
            crate::ids::JobId(7),
            crate::state::JobState {
                id: crate::ids::JobId(7),
                decision: crate::ids::DecisionId(1),
                action: named,
                step: crate::journal::JobStep::Apply,
                step_result: None,
                last_message: String::new(),
                attempt: 1,
                started_ms: 0,
                step_started_ms: 0,
                fencing_token: 1,
                author: None,
                retry_at: None,
                unanswered_apply: false,
                unanswered_rollback: false,
                reapplied: 0,
            },
        );
        let verdict = world.judge_with(&RoleHolder, &sync(&world, "phx1-web", "scl2-web"), &operator());
        assert_eq!(verdict.outcome, Outcome::Refuse);
        assert!(verdict.sentence.contains("sync job 7 in progress"), "{}", verdict.sentence);
    }
}
