//! Inventory integrity (seed 002): automation read a corrupted inventory and
//! failed over every healthy VIP. A snapshot that drops active, healthy nodes from
//! candidacy, or changes too much at once, is not acted on without approval; and a
//! move away from a healthy holder on the inventory's word alone needs approval.

use std::collections::BTreeSet;

use crate::action::{Cause, GuardVerdict};
use crate::guards::{Guard, GuardContext, Proposal};
use crate::health::{HealthTable, Status};
use crate::ids::*;
use crate::inventory::Snapshot;

pub struct InventoryIntegrity;

pub const NAME: &str = "inventory-integrity";

impl Guard for InventoryIntegrity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        if let Cause::HolderNotCandidate { node } = proposal.cause {
            if ctx.health.node(*node).status == Status::Up {
                let service = proposal.action.service().map(|s| ctx.snapshot.service_name(s)).unwrap_or("the service");
                return GuardVerdict::needs_approval(
                    NAME,
                    format!(
                        "{} is healthy and serving {service}, but inventory {} no longer lists it as a candidate; \
                         Ward will not move traffic off a healthy node on the inventory's word alone.",
                        ctx.snapshot.node_name(*node),
                        ctx.snapshot.short_hash()
                    ),
                );
            }
        }
        GuardVerdict::allow(NAME, "the move does not rest on an inventory change alone")
    }
}

/// How a new snapshot compares with the one in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotDiff {
    /// (service, node) pairs: healthy current holders the new snapshot no longer lists as candidates.
    pub removed_active: Vec<(String, String)>,
    /// Nodes and services added, removed or changed.
    pub changed: u32,
    pub total: u32,
}

impl SnapshotDiff {
    pub fn changed_percent(&self) -> u32 {
        if self.total == 0 {
            0
        } else {
            (self.changed as u64 * 100 / self.total as u64) as u32
        }
    }
}

pub fn diff(old: &Snapshot, new: &Snapshot, health: &HealthTable, placements: &[Vec<NodeId>]) -> SnapshotDiff {
    let mut removed_active = Vec::new();
    for (index, holders) in placements.iter().enumerate() {
        let service = &old.services()[index];
        for &holder in holders {
            if health.node(holder).status != Status::Up {
                continue;
            }
            let name = old.node_name(holder);
            let still = new
                .service_id(&service.name)
                .map(|s| new.service(s).candidates.iter().any(|c| new.node_name(*c) == name))
                .unwrap_or(false);
            if !still {
                removed_active.push((service.name.clone(), name.to_string()));
            }
        }
    }
    let mut changed = 0u32;
    let old_nodes: BTreeSet<&str> = old.nodes().iter().map(|n| n.name.as_str()).collect();
    for node in new.nodes() {
        match old.node_id(&node.name) {
            None => changed += 1,
            Some(id) => {
                let before = old.node(id);
                if before.lifecycle != node.lifecycle || before.labels != node.labels || old.site(before.site).name != new.site(node.site).name {
                    changed += 1;
                }
            }
        }
    }
    changed += old_nodes.iter().filter(|n| new.node_id(n).is_none()).count() as u32;
    for service in new.services() {
        match old.service_id(&service.name) {
            None => changed += 1,
            Some(id) => {
                let before = old.service(id);
                let names = |s: &Snapshot, list: &[NodeId]| list.iter().map(|n| s.node_name(*n).to_string()).collect::<Vec<_>>();
                if names(old, &before.candidates) != names(new, &service.candidates) || before.kind != service.kind {
                    changed += 1;
                }
            }
        }
    }
    changed += old.services().iter().filter(|s| new.service_id(&s.name).is_none()).count() as u32;
    let total = (old.nodes().len() + old.services().len()).max(1) as u32;
    SnapshotDiff { removed_active, changed, total }
}

/// The verdict on applying a new snapshot.
pub fn assess(old: &Snapshot, new: &Snapshot, diff: &SnapshotDiff) -> GuardVerdict {
    let policy = &old.policy().integrity;
    if diff.removed_active.len() as u32 > policy.removed_active_max {
        let sample: Vec<String> = diff.removed_active.iter().take(5).map(|(s, n)| format!("{n} ({s})")).collect();
        return GuardVerdict::needs_approval(
            NAME,
            format!(
                "Inventory {} would drop {} healthy, serving node(s) from candidacy ({}{}); that contradicts what Ward observes, \
                 so it keeps inventory {} in force until an operator approves.",
                new.short_hash(),
                diff.removed_active.len(),
                sample.join(", "),
                if diff.removed_active.len() > 5 { ", ..." } else { "" },
                old.short_hash()
            ),
        );
    }
    if diff.changed_percent() > policy.changed_percent_max {
        return GuardVerdict::needs_approval(
            NAME,
            format!(
                "Inventory {} changes {}% of nodes and services at once (limit {}%); keeping {} in force until an operator approves.",
                new.short_hash(),
                diff.changed_percent(),
                policy.changed_percent_max,
                old.short_hash()
            ),
        );
    }
    GuardVerdict::allow(NAME, format!("inventory {} changes {} of {} entries", new.short_hash(), diff.changed, diff.total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, Outcome};
    use crate::guards::test_support::World;

    #[test]
    fn moving_off_a_healthy_holder_because_the_inventory_says_so_needs_approval() {
        let world = World::two_sites();
        let service = world.service("gw");
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let action = Action::MoveVip { service, from: Some(phx), to: scl };
        let verdict = world.judge_with(&InventoryIntegrity, &action, &Cause::HolderNotCandidate { node: phx });
        assert_eq!(verdict.outcome, Outcome::NeedsApproval);
        assert!(verdict.sentence.contains("healthy and serving"), "{}", verdict.sentence);
        let verdict = world.judge_with(&InventoryIntegrity, &action, &Cause::HolderDown { node: phx });
        assert_eq!(verdict.outcome, Outcome::Allow);
    }

    #[test]
    fn a_snapshot_dropping_serving_nodes_is_held() {
        let world = World::two_sites();
        let torn = World::two_sites_without_phx_candidate();
        let diff = diff(&world.snapshot, &torn, &world.health, &world.durable.placements);
        assert_eq!(diff.removed_active.len(), 2, "{diff:?}");
        let verdict = assess(&world.snapshot, &torn, &diff);
        assert_eq!(verdict.outcome, Outcome::NeedsApproval);
        assert!(verdict.sentence.contains("contradicts what Ward observes"), "{}", verdict.sentence);
        let same = diff_same(&world);
        assert_eq!(assess(&world.snapshot, &world.snapshot, &same).outcome, Outcome::Allow);
    }

    fn diff_same(world: &World) -> SnapshotDiff {
        diff(&world.snapshot, &world.snapshot, &world.health, &world.durable.placements)
    }
}
