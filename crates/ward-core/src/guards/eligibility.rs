//! Whether a node may take traffic or a role, and if not, why, in one sentence.
//! Composed from the holds, readiness and damping guards' node-level checks.

use crate::guards::GuardContext;
use crate::health::{ReplicationHealth, Status};
use crate::ids::*;
use crate::inventory::Lifecycle;
use crate::mode::Mode;
use crate::state::Hold;
use crate::time::human_duration;

/// What a node would be used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Hold a VIP, be a DNS target or become primary.
    Serve,
    /// Be the source a tree is copied from.
    SyncSource,
    /// Receive a copy.
    SyncTarget,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Ineligible {
    Held(Hold),
    Lifecycle(Lifecycle, Role),
    Drained(String),
    Down {
        since_ms: u64,
    },
    Unknown,
    Suppressed {
        penalty: u32,
        flaps: u32,
    },
    Replication(ReplicationHealth),
    /// No fresh evidence that replication is healthy: the freshest report is `age_ms`
    /// old (None: never reported), or it gave no lag figure.
    ReplicationEvidence {
        age_ms: Option<u64>,
        max_age_ms: u64,
        lag_unknown: bool,
    },
    Dependency {
        node: NodeId,
        why: Box<Ineligible>,
    },
}

impl Ineligible {
    pub fn sentence(&self, ctx: &GuardContext, node: NodeId) -> String {
        let name = ctx.snapshot.node_name(node);
        match self {
            Ineligible::Held(hold) => format!(
                "{name} is under an operator hold on {} by {} (\"{}\"); automation never overrides a hold",
                hold.target, hold.author, hold.reason
            ),
            Ineligible::Lifecycle(lifecycle, role) => match role {
                Role::SyncSource => format!(
                    "{name} is {}, not ready: it may receive a sync but must not be a sync source until it is ready",
                    lifecycle.name()
                ),
                Role::SyncTarget => format!("{name} is {} and may not receive a sync", lifecycle.name()),
                Role::Serve => format!("{name} is {}, not ready; only ready nodes may serve", lifecycle.name()),
            },
            Ineligible::Drained(author) => format!("{name} was drained by {author}"),
            Ineligible::Down { since_ms } => {
                format!("{name} is down (for {})", human_duration(ctx.now_ms.saturating_sub(*since_ms)))
            }
            Ineligible::Unknown => format!("{name}'s health is unknown (no fresh observations from a quorum of observers)"),
            Ineligible::Suppressed { penalty, flaps } => format!(
                "{name} has flapped {flaps} times (damping penalty {penalty}, reuse below {}); it stays out until it has been stable",
                ctx.snapshot.policy().damping.reuse_below
            ),
            Ineligible::Replication(ReplicationHealth::Broken { error }) => {
                format!("{name}'s replication is broken: {error}")
            }
            Ineligible::Replication(ReplicationHealth::Lagging { lag_ms, lag_max_ms }) => {
                format!("{name} is {} behind its replication source (bound {})", human_duration(*lag_ms), human_duration(*lag_max_ms))
            }
            Ineligible::Replication(_) => format!("{name}'s replication state is unknown"),
            Ineligible::ReplicationEvidence { age_ms: None, .. } => {
                format!("{name}'s replication state is unknown: it has not reported it since Ward started observing; no data is never \"fine\"")
            }
            Ineligible::ReplicationEvidence { lag_unknown: true, .. } => format!(
                "{name}'s replication state is unknown: its last report says it runs but gives no lag figure (replication may have silently stopped)"
            ),
            Ineligible::ReplicationEvidence { age_ms: Some(age), max_age_ms, .. } => format!(
                "{name}'s replication evidence is {} old (bound {}): it may have stopped since",
                human_duration(*age),
                human_duration(*max_age_ms)
            ),
            Ineligible::Dependency { node: dep, why } => {
                format!("{name} depends on {}, and {}", ctx.snapshot.node_name(*dep), why.sentence(ctx, *dep))
            }
        }
    }
}

/// Dependencies are followed this deep at most (validation rejects cycles).
const DEPENDENCY_DEPTH_MAX: u32 = 4;

impl Ineligible {
    /// Not known bad: the node's health, or a dependency's, is only unknown.
    pub fn is_unknown(&self) -> bool {
        match self {
            Ineligible::Unknown => true,
            Ineligible::Dependency { why, .. } => why.is_unknown(),
            _ => false,
        }
    }
}

pub fn node_eligibility(ctx: &GuardContext, node: NodeId, role: Role) -> Result<(), Ineligible> {
    if ctx.mode == Mode::Naive {
        // The baseline trusts its last check and nothing else.
        return match ctx.health.node(node).status {
            Status::Up => Ok(()),
            Status::Down => Err(Ineligible::Down { since_ms: ctx.health.node(node).since_ms }),
            Status::Unknown if role != Role::Serve => Ok(()),
            Status::Unknown => Err(Ineligible::Unknown),
        };
    }
    check(ctx, node, role, 0)
}

fn check(ctx: &GuardContext, node: NodeId, role: Role, depth: u32) -> Result<(), Ineligible> {
    if let Some(hold) = super::holds::node_hold(ctx, node) {
        if role != Role::SyncTarget {
            return Err(Ineligible::Held(hold.clone()));
        }
    }
    super::readiness::node_ready(ctx, node, role)?;
    super::damping::node_damped(ctx, node)?;
    if depth < DEPENDENCY_DEPTH_MAX {
        for &dep in &ctx.snapshot.node(node).depends_on {
            if let Err(why) = check(ctx, dep, Role::Serve, depth + 1) {
                return Err(Ineligible::Dependency { node: dep, why: Box::new(why) });
            }
        }
    }
    Ok(())
}
