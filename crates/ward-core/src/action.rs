//! What the planner may want done, why, and what the guards said about it.

use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::time::TimeMs;

/// What a sync would do, as previewed before it runs (seed 001: "the following
/// actions are going to be performed (delete X, delete Y, ...) OK?").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPreview {
    pub files_added: u32,
    pub files_changed: u32,
    pub files_deleted: u32,
    /// The first few paths that would be deleted, for the operator.
    pub deleted_sample: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Move a VIP from one node to another.
    MoveVip { service: ServiceId, from: Option<NodeId>, to: NodeId },
    /// Publish a new set of DNS targets.
    SetDnsTargets { service: ServiceId, from: Vec<NodeId>, to: Vec<NodeId> },
    /// Stop the old primary from accepting writes.
    Fence { service: ServiceId, node: NodeId },
    /// Make a standby the primary.
    Promote { service: ServiceId, from: Option<NodeId>, to: NodeId },
    /// Copy a tree from one node to another.
    Sync { service: ServiceId, from: NodeId, to: NodeId, preview: SyncPreview },
    /// One batch of a rolling maintenance (e.g. reboot), verified before the next.
    Maintain { rollout: u32, batch: u32, nodes: Vec<NodeId>, operation: String },
    /// Repair something on one node through its replication's `repair` hook
    /// (`restart_replication`: seed 000's `STOP SLAVE; START SLAVE`). Not a move:
    /// no traffic or role changes hands, so it has no budget and no rollback.
    Repair { node: NodeId, operation: String },
}

/// The one repair Ward knows: restart a replica's stopped replication.
pub const RESTART_REPLICATION: &str = "restart_replication";

impl Action {
    pub fn service(&self) -> Option<ServiceId> {
        match self {
            Action::MoveVip { service, .. }
            | Action::SetDnsTargets { service, .. }
            | Action::Fence { service, .. }
            | Action::Promote { service, .. }
            | Action::Sync { service, .. } => Some(*service),
            Action::Maintain { .. } | Action::Repair { .. } => None,
        }
    }

    /// Moves count against the blast-radius budget.
    pub fn is_move(&self) -> bool {
        matches!(self, Action::MoveVip { .. } | Action::SetDnsTargets { .. } | Action::Promote { .. })
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            Action::MoveVip { .. } => "move_vip",
            Action::SetDnsTargets { .. } => "set_dns_targets",
            Action::Fence { .. } => "fence",
            Action::Promote { .. } => "promote",
            Action::Sync { .. } => "sync",
            Action::Maintain { .. } => "maintain",
            Action::Repair { .. } => "repair",
        }
    }

    /// Nodes this action sends traffic or a role to.
    pub fn destinations(&self) -> Vec<NodeId> {
        match self {
            Action::MoveVip { to, .. } | Action::Promote { to, .. } => vec![*to],
            Action::SetDnsTargets { from, to, .. } => to.iter().filter(|n| !from.contains(n)).copied().collect(),
            Action::Sync { to, .. } => vec![*to],
            Action::Fence { .. } | Action::Maintain { .. } | Action::Repair { .. } => Vec::new(),
        }
    }

    /// Nodes this action takes traffic or a role away from.
    pub fn sources(&self) -> Vec<NodeId> {
        match self {
            Action::MoveVip { from, .. } | Action::Promote { from, .. } => from.iter().copied().collect(),
            Action::SetDnsTargets { from, to, .. } => from.iter().filter(|n| !to.contains(n)).copied().collect(),
            Action::Fence { node, .. } => vec![*node],
            Action::Sync { from, .. } => vec![*from],
            Action::Maintain { nodes, .. } => nodes.clone(),
            Action::Repair { .. } => Vec::new(),
        }
    }

    /// The node an action works on without moving anything to or from it (a repair).
    pub fn repaired_node(&self) -> Option<NodeId> {
        match self {
            Action::Repair { node, .. } => Some(*node),
            _ => None,
        }
    }
}

/// Why the planner wants an action. Guards read this: a move away from a healthy
/// holder because the inventory changed is very different from one away from a dead node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum Cause {
    /// The current holder is confirmed down.
    HolderDown { node: NodeId },
    /// The current holder is no longer eligible (drained, held, lifecycle, replication).
    HolderIneligible { node: NodeId, why: String },
    /// The current holder is no longer a candidate in the applied inventory.
    HolderNotCandidate { node: NodeId },
    /// Eligible targets changed (dns): some went away or came back.
    TargetsChanged,
    /// The service has no holder at all.
    Unplaced,
    /// An operator asked for it (sync, switchover, rolling maintenance).
    Operator { author: String },
    /// The primary service this one follows has a new writable node.
    PrimaryMoved { primary: ServiceId, node: NodeId },
    /// A node's replication has stopped with an error (seed 000: the IO thread).
    ReplicationStopped { node: NodeId, error: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allow,
    NeedsApproval,
    Refuse,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::NeedsApproval => "needs_approval",
            Outcome::Refuse => "refuse",
        }
    }
}

/// One guard's answer, with the sentence a tired operator reads at 3 a.m.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardVerdict {
    pub guard: String,
    pub outcome: Outcome,
    pub sentence: String,
}

impl GuardVerdict {
    pub fn allow(guard: &str, sentence: impl Into<String>) -> Self {
        GuardVerdict { guard: guard.into(), outcome: Outcome::Allow, sentence: sentence.into() }
    }
    pub fn needs_approval(guard: &str, sentence: impl Into<String>) -> Self {
        GuardVerdict { guard: guard.into(), outcome: Outcome::NeedsApproval, sentence: sentence.into() }
    }
    pub fn refuse(guard: &str, sentence: impl Into<String>) -> Self {
        GuardVerdict { guard: guard.into(), outcome: Outcome::Refuse, sentence: sentence.into() }
    }
    /// The guard has nothing to say about this kind of action.
    pub fn not_applicable(guard: &str, why: &str) -> Self {
        GuardVerdict { guard: guard.into(), outcome: Outcome::Allow, sentence: format!("{NOT_APPLICABLE}{why}") }
    }
    pub fn applies(&self) -> bool {
        !self.sentence.starts_with(NOT_APPLICABLE)
    }
}

/// The sentence prefix of a guard that does not apply to an action.
pub const NOT_APPLICABLE: &str = "does not apply: ";

/// The combined verdict: the strictest outcome wins; its sentences explain it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub outcome: Outcome,
    pub guards: Vec<GuardVerdict>,
}

impl Verdict {
    pub fn combine(guards: Vec<GuardVerdict>) -> Verdict {
        let outcome = guards.iter().map(|g| g.outcome).max().unwrap_or(Outcome::Allow);
        Verdict { outcome, guards }
    }

    /// The sentences that explain the outcome: for a refusal or an approval, the
    /// guards that asked for it; for an allowed action, any approval and the last
    /// guard's account (the budget), not nine "all clear" lines.
    pub fn reasons(&self) -> Vec<&str> {
        if self.outcome != Outcome::Allow {
            return self.guards.iter().filter(|g| g.outcome == self.outcome).map(|g| g.sentence.as_str()).collect();
        }
        let approved: Vec<&str> = self.guards.iter().filter(|g| g.sentence.contains("Approved by")).map(|g| g.sentence.as_str()).collect();
        if !approved.is_empty() {
            return approved;
        }
        // The last guard that had something to say (the budget for a move, the
        // preview for a sync).
        self.guards.iter().rev().find(|g| g.applies()).map(|g| vec![g.sentence.as_str()]).unwrap_or_default()
    }
}

/// A probe result as evidence: who saw what, and how old it was at decision time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservationEvidence {
    pub node: String,
    pub check: String,
    pub observer: String,
    pub status: String,
    pub age_ms: Option<u64>,
}

/// A candidate as the planner weighed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateEvidence {
    pub node: String,
    pub eligible: bool,
    /// Why not, in one sentence, when not eligible.
    pub why_not: Option<String>,
}

/// Everything a decision saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub snapshot_hash: String,
    pub observations: Vec<ObservationEvidence>,
    pub candidates: Vec<CandidateEvidence>,
}

/// One action the planner wants, with its reason, evidence and verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedAction {
    pub action: Action,
    pub cause: Cause,
    /// The planner's sentence: why it wants this.
    pub summary: String,
    pub evidence: Evidence,
    pub verdict: Verdict,
    pub planned_at_ms: TimeMs,
}
