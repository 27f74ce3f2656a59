//! Candidate readiness: a destination must be ready, healthy, not drained, with
//! replication known healthy (fresh evidence, lag within bound); a sync source must be ready
//! (seed 001: a freshly reimaged server became the source of a sync and wiped the tree).

use crate::action::{Action, GuardVerdict};
use crate::guards::eligibility::{Ineligible, Role};
use crate::guards::{Guard, GuardContext, Proposal};
use crate::health::{ReplicationHealth, Status};
use crate::ids::NodeId;
use crate::inventory::ServiceKind;
use crate::time::TimeMs;

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
    if role == Role::Serve && inventory.replication.is_some() && !holds_a_primary(ctx, node) {
        replication_known_good(ctx, node)?;
    }
    Ok(())
}

/// A standby serves (or is promoted) only on evidence: its replication healthy in a
/// report at most `policy.evidence_max_age` old. No data is never "fine": a report
/// without a lag figure, or none at all, is not healthy (the replica whose
/// replication silently stopped and was promoted the moment its source died).
///
/// Replication always stops when its source dies; then the evidence from before the
/// death counts, if it showed replication healthy and was at most
/// `evidence_max_age` old when the source was confirmed down (the one that
/// received most is chosen). One already broken, lagging or silent before is not a
/// fit replacement (seed 003: promote the hot spare only when its lag is in bound).
fn replication_known_good(ctx: &GuardContext, node: NodeId) -> Result<(), Ineligible> {
    let health = ctx.health.node(node);
    let evidence = health.replication_evidence;
    let max_age = ctx.snapshot.policy().evidence_max_age_ms;
    let state = health.replication.clone().unwrap_or(ReplicationHealth::Unknown);
    let age = evidence.at_ms.map(|at| ctx.now_ms.saturating_sub(at));
    if state.is_healthy() && age.is_some_and(|age| age <= max_age) {
        return Ok(());
    }
    if let Some(died_ms) = source_died_at(ctx, node) {
        if evidence.healthy_at_ms.is_some_and(|healthy| healthy.saturating_add(max_age) >= died_ms) {
            return Ok(());
        }
    }
    Err(match state {
        ReplicationHealth::Broken { .. } | ReplicationHealth::Lagging { .. } => Ineligible::Replication(state),
        ReplicationHealth::Healthy { .. } | ReplicationHealth::Unknown => {
            Ineligible::ReplicationEvidence { age_ms: age, max_age_ms: max_age, lag_unknown: evidence.lag_unknown }
        }
    })
}

/// When the node's replication source was confirmed down, if it is down now.
fn source_died_at(ctx: &GuardContext, node: NodeId) -> Option<TimeMs> {
    let source = ctx.health.node(replication_source(ctx, node)?);
    (source.status == Status::Down).then_some(source.since_ms)
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

    use crate::guards::eligibility::node_eligibility;
    use crate::guards::test_support::{primary_status, replication_status};

    fn serve(world: &World, name: &str) -> Result<(), Ineligible> {
        node_eligibility(&world.context(), world.node(name), Role::Serve)
    }

    fn sentence(world: &World, name: &str) -> String {
        let ctx = world.context();
        serve(world, name).map_or_else(|why| why.sentence(&ctx, world.node(name)), |()| "eligible".into())
    }

    /// pg2 streams healthily, pg3 reports running without a lag figure (replication
    /// silently stopped), both for a while.
    fn silent_pg3() -> World {
        let mut world = World::primary_cluster();
        world.details.insert("pg1".into(), primary_status(Some(1_000), &[]));
        world.details.insert("pg2".into(), replication_status(true, Some(0), 1_000));
        world.details.insert("pg3".into(), replication_status(true, None, 200));
        world.observe_all();
        world
    }

    #[test]
    fn running_without_a_lag_figure_is_not_ready_even_when_its_source_dies() {
        let mut world = silent_pg3();
        assert_eq!(serve(&world, "pg2"), Ok(()));
        assert!(sentence(&world, "pg3").contains("gives no lag figure"), "{}", sentence(&world, "pg3"));
        // The source dies: pg2's evidence was healthy then and counts; pg3's never was.
        world.details.insert("pg2".into(), replication_status(false, None, 1_000));
        world.mark_down("pg1");
        assert_eq!(serve(&world, "pg2"), Ok(()), "{}", sentence(&world, "pg2"));
        assert!(sentence(&world, "pg3").contains("replication state is unknown"), "{}", sentence(&world, "pg3"));
    }

    #[test]
    fn a_standby_that_never_reported_is_not_ready() {
        let mut world = World::primary_cluster();
        world.observe_all();
        world.mark_down("pg1");
        assert!(sentence(&world, "pg2").contains("has not reported it"), "{}", sentence(&world, "pg2"));
    }

    #[test]
    fn evidence_older_than_the_bound_at_the_sources_death_does_not_count() {
        let mut world = silent_pg3();
        // pg2's reports stop (its probe answers without detail) for two minutes.
        world.details.remove("pg2");
        world.advance_stable(120_000);
        assert!(sentence(&world, "pg2").contains("evidence is"), "{}", sentence(&world, "pg2"));
        world.mark_down("pg1");
        assert!(serve(&world, "pg2").is_err(), "{}", sentence(&world, "pg2"));
    }

    #[test]
    fn lagging_before_the_source_died_stays_unfit() {
        let mut world = silent_pg3();
        world.details.insert("pg2".into(), replication_status(true, Some(120_000), 900));
        world.advance_stable(120_000);
        world.mark_down("pg1");
        assert!(sentence(&world, "pg2").contains("behind its replication source"), "{}", sentence(&world, "pg2"));
    }

    #[test]
    fn healthy_evidence_older_than_the_bound_is_not_enough_while_the_source_lives() {
        let mut world = silent_pg3();
        world.set_policy(|p| p.evidence_max_age_ms = 500);
        world.now_ms += 1_000;
        assert!(sentence(&world, "pg2").contains("bound 500ms"), "{}", sentence(&world, "pg2"));
    }
}
