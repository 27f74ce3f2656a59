//! Candidate readiness: a destination must be ready, healthy, not drained, with
//! replication healthy and within its lag bound; a sync source must be ready
//! (seed 001: a freshly reimaged server became the source of a sync and wiped the tree).

use crate::action::{Action, GuardVerdict};
use crate::guards::eligibility::{Ineligible, Role};
use crate::guards::{Guard, GuardContext, Proposal};
use crate::health::{ReplicationHealth, Status};
use crate::ids::NodeId;
use crate::inventory::ServiceKind;

pub struct CandidateReadiness;

pub const NAME: &str = "candidate-readiness";

/// Lifecycle, drain, health and replication of one node for one role.
pub fn node_ready(ctx: &GuardContext, node: NodeId, role: Role) -> Result<(), Ineligible> {
    let inventory = ctx.snapshot.node(node);
    let lifecycle_ok = match role {
        Role::Serve => inventory.lifecycle.may_serve(),
        Role::SyncSource => inventory.lifecycle.may_be_sync_source(),
        Role::SyncTarget => inventory.lifecycle.may_receive_sync(),
    };
    if !lifecycle_ok {
        return Err(Ineligible::Lifecycle(inventory.lifecycle, role));
    }
    if role != Role::SyncTarget {
        if let Some(author) = ctx.durable.drained.get(&inventory.name) {
            return Err(Ineligible::Drained(author.clone()));
        }
    }
    let health = ctx.health.node(node);
    match health.status {
        Status::Up => {}
        Status::Down => return Err(Ineligible::Down { since_ms: health.since_ms }),
        Status::Unknown => return Err(Ineligible::Unknown),
    }
    // The writable primary is the source of replication, not a replica of anything.
    if role == Role::Serve && !holds_a_primary(ctx, node) {
        if let Some(replication) = &health.replication {
            if !replication.is_healthy() && !broke_with_its_source(ctx, node) {
                return Err(Ineligible::Replication(replication.clone()));
            }
        } else if inventory.replication.is_some() {
            return Err(Ineligible::Replication(ReplicationHealth::Unknown));
        }
    }
    Ok(())
}

/// Replication always "breaks" when its source dies. A standby whose replication
/// was healthy until its source went down is still a fit replacement (the one that
/// replayed most is chosen); one that was already broken or lagging before is not
/// (seed 003: promote the hot spare only when its lag is within bound).
fn broke_with_its_source(ctx: &GuardContext, node: NodeId) -> bool {
    let Some(source) = replication_source(ctx, node) else { return false };
    let source = ctx.health.node(source);
    if source.status != Status::Down {
        return false;
    }
    match ctx.replication_bad_since.get(node.index()).copied().flatten() {
        Some(bad_since) => bad_since + SOURCE_FAILURE_GRACE_MS >= source.since_ms,
        None => true,
    }
}

/// Whom `node` replicates from now: the current primary of a `primary` service it is
/// a candidate of (after a failover the standbys follow the new primary, whatever the
/// inventory said at the start), otherwise the source the inventory names.
pub fn replication_source(ctx: &GuardContext, node: NodeId) -> Option<NodeId> {
    let declared = ctx.snapshot.node(node).replication.as_ref()?.source;
    match primaries_of(ctx, node).next() {
        Some(primary) if primary != node => Some(primary),
        _ => Some(declared),
    }
}

fn holds_a_primary(ctx: &GuardContext, node: NodeId) -> bool {
    primaries_of(ctx, node).any(|holder| holder == node)
}

/// The current holders of the `primary` services `node` is a candidate of (the
/// snapshot's per-node index: this runs for every node in every planning round).
fn primaries_of<'a>(ctx: &'a GuardContext, node: NodeId) -> impl Iterator<Item = NodeId> + 'a {
    ctx.snapshot
        .services_of_node(node)
        .iter()
        .filter(|s| ctx.snapshot.service(**s).kind == ServiceKind::Primary)
        .filter_map(|s| ctx.durable.placements.get(s.index()).and_then(|p| p.first().copied()))
}

/// Replication noticed broken this long before its source was confirmed down still
/// counts as broken by the source's failure (detection takes rise/fall cycles).
const SOURCE_FAILURE_GRACE_MS: u64 = 60_000;

impl Guard for CandidateReadiness {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        let (sources, role) = match proposal.action {
            Action::Sync { from, to, .. } => {
                if let Err(why) = node_ready(ctx, *from, Role::SyncSource) {
                    return GuardVerdict::refuse(NAME, format!("Refusing the sync: {}.", why.sentence(ctx, *from)));
                }
                (vec![*to], Role::SyncTarget)
            }
            Action::Fence { .. } | Action::Maintain { .. } | Action::Repair { .. } => {
                return GuardVerdict::not_applicable(NAME, "no node receives traffic")
            }
            action => (action.destinations(), Role::Serve),
        };
        for node in sources {
            if let Err(why) = node_ready(ctx, node, role) {
                return GuardVerdict::refuse(NAME, format!("{}.", capitalize(&why.sentence(ctx, node))));
            }
        }
        GuardVerdict::allow(NAME, "every destination is ready and healthy")
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Cause, Outcome, SyncPreview};
    use crate::guards::test_support::World;
    use crate::inventory::Lifecycle;

    #[test]
    fn a_syncing_node_may_receive_but_not_be_a_source() {
        let mut world = World::two_sites();
        world.set_lifecycle("scl2-web", Lifecycle::Syncing);
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let service = world.service("web");
        let from_tin = Action::Sync { service, from: scl, to: phx, preview: SyncPreview::default() };
        let verdict = world.judge_with(&CandidateReadiness, &from_tin, &Cause::Operator { author: "jynus".into() });
        assert_eq!(verdict.outcome, Outcome::Refuse);
        assert!(verdict.sentence.contains("must not be a sync source"), "{}", verdict.sentence);
        let to_tin = Action::Sync { service, from: phx, to: scl, preview: SyncPreview::default() };
        let verdict = world.judge_with(&CandidateReadiness, &to_tin, &Cause::Operator { author: "jynus".into() });
        assert_eq!(verdict.outcome, Outcome::Allow, "{}", verdict.sentence);
    }

    #[test]
    fn a_down_destination_is_refused() {
        let mut world = World::two_sites();
        world.mark_down("scl2-web");
        let verdict = world.judge_with(&CandidateReadiness, &world.set_dns_add_scl2(), &Cause::TargetsChanged);
        assert_eq!(verdict.outcome, Outcome::Refuse);
        assert!(verdict.sentence.contains("is down"), "{}", verdict.sentence);
    }

    #[test]
    fn broken_replication_keeps_a_node_from_serving() {
        let mut world = World::two_sites();
        world.break_replication("scl2-web", "Got fatal error 1236 from master");
        let verdict = world.judge_with(&CandidateReadiness, &world.set_dns_add_scl2(), &Cause::TargetsChanged);
        assert_eq!(verdict.outcome, Outcome::Refuse);
        assert!(verdict.sentence.contains("fatal error 1236"), "{}", verdict.sentence);
    }
}
