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

/// What Ward may do, generic over how nodes (`N`) and services (`S`) are named:
/// [`Action`] uses the ids of the snapshot in force (the engine's form),
/// [`NamedAction`] uses names (the journal's form, stable across inventory
/// reloads). [`ActionOf::map`] and [`ActionOf::try_map`] convert between them.
/// A new kind is a new variant: the compiler then walks through every match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionOf<N, S> {
    /// Move a VIP from one node to another.
    MoveVip { service: S, from: Option<N>, to: N },
    /// Publish a new set of DNS targets.
    SetDnsTargets { service: S, from: Vec<N>, to: Vec<N> },
    /// Stop the old primary from accepting writes.
    Fence { service: S, node: N },
    /// Undo a fence (the rollback of `Fence`): the node may accept writes again.
    Unfence { service: S, node: N },
    /// Make a standby the primary.
    Promote { service: S, from: Option<N>, to: N },
    /// Copy a tree from one node to another.
    Sync { service: S, from: N, to: N, preview: SyncPreview },
    /// One batch of a rolling maintenance (e.g. reboot), verified before the next.
    Maintain { rollout: u32, batch: u32, nodes: Vec<N>, operation: String },
    /// Repair something on one node through its replication's `repair` hook. Not a
    /// move: no traffic or role changes hands, so it has no budget and no rollback.
    Repair { node: N, operation: RepairOperation },
    /// Take the roles of `services` out of `site`, which is unreachable as a whole
    /// (`nodes`). A decision only, never a job: one judgement (and at most one
    /// approval) for a site instead of one failover per service; the moves that
    /// carry it out are decided per service afterwards.
    FailoverSite { site: String, services: Vec<S>, nodes: Vec<N> },
}

/// The engine's form: ids of the snapshot in force.
pub type Action = ActionOf<NodeId, ServiceId>;
/// The journal's and the hooks' form: names.
pub type NamedAction = ActionOf<String, String>;

/// The kind of an action alone (scenario expectations, metrics, the hook contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    MoveVip,
    SetDnsTargets,
    Fence,
    Unfence,
    Promote,
    Sync,
    Maintain,
    Repair,
    FailoverSite,
}

impl ActionKind {
    pub const ALL: [ActionKind; 9] = [
        ActionKind::MoveVip,
        ActionKind::SetDnsTargets,
        ActionKind::Fence,
        ActionKind::Unfence,
        ActionKind::Promote,
        ActionKind::Sync,
        ActionKind::Maintain,
        ActionKind::Repair,
        ActionKind::FailoverSite,
    ];

    /// The name hooks see (`WARD_ACTION`, the payload's `kind`).
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::MoveVip => "move_vip",
            ActionKind::SetDnsTargets => "set_dns_targets",
            ActionKind::Fence => "fence",
            ActionKind::Unfence => "unfence",
            ActionKind::Promote => "promote",
            ActionKind::Sync => "sync",
            ActionKind::Maintain => "maintain",
            ActionKind::Repair => "repair",
            ActionKind::FailoverSite => "failover_site",
        }
    }

    pub fn parse(text: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.name() == text)
    }

    /// Moves count against the blast-radius budget.
    pub fn is_move(self) -> bool {
        matches!(self, ActionKind::MoveVip | ActionKind::SetDnsTargets | ActionKind::Promote)
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The repairs Ward knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairOperation {
    /// Restart a replica's stopped replication (seed 000's `STOP SLAVE; START SLAVE`).
    RestartReplication,
}

impl RepairOperation {
    pub fn name(self) -> &'static str {
        match self {
            RepairOperation::RestartReplication => "restart_replication",
        }
    }
}

impl<N, S> ActionOf<N, S> {
    pub fn kind(&self) -> ActionKind {
        match self {
            ActionOf::MoveVip { .. } => ActionKind::MoveVip,
            ActionOf::SetDnsTargets { .. } => ActionKind::SetDnsTargets,
            ActionOf::Fence { .. } => ActionKind::Fence,
            ActionOf::Unfence { .. } => ActionKind::Unfence,
            ActionOf::Promote { .. } => ActionKind::Promote,
            ActionOf::Sync { .. } => ActionKind::Sync,
            ActionOf::Maintain { .. } => ActionKind::Maintain,
            ActionOf::Repair { .. } => ActionKind::Repair,
            ActionOf::FailoverSite { .. } => ActionKind::FailoverSite,
        }
    }

    /// The service it changes; `None` for a maintenance batch or a repair.
    pub fn service_ref(&self) -> Option<&S> {
        match self {
            ActionOf::MoveVip { service, .. }
            | ActionOf::SetDnsTargets { service, .. }
            | ActionOf::Fence { service, .. }
            | ActionOf::Unfence { service, .. }
            | ActionOf::Promote { service, .. }
            | ActionOf::Sync { service, .. } => Some(service),
            ActionOf::Maintain { .. } | ActionOf::Repair { .. } | ActionOf::FailoverSite { .. } => None,
        }
    }

    /// Moves count against the blast-radius budget.
    pub fn is_move(&self) -> bool {
        self.kind().is_move()
    }

    /// The nodes the hook contract calls `from`: losing the traffic or role (a fence:
    /// the node to fence; a maintenance batch: its nodes; a repair: the node).
    pub fn from_nodes(&self) -> Vec<&N> {
        match self {
            ActionOf::MoveVip { from, .. } | ActionOf::Promote { from, .. } => from.iter().collect(),
            ActionOf::SetDnsTargets { from, .. } => from.iter().collect(),
            ActionOf::Fence { node, .. } | ActionOf::Repair { node, .. } => vec![node],
            ActionOf::Unfence { .. } => Vec::new(),
            ActionOf::Sync { from, .. } => vec![from],
            ActionOf::Maintain { nodes, .. } | ActionOf::FailoverSite { nodes, .. } => nodes.iter().collect(),
        }
    }

    /// The nodes the hook contract calls `to`: receiving the traffic or role.
    pub fn to_nodes(&self) -> Vec<&N> {
        match self {
            ActionOf::MoveVip { to, .. } | ActionOf::Promote { to, .. } | ActionOf::Sync { to, .. } => vec![to],
            ActionOf::SetDnsTargets { to, .. } => to.iter().collect(),
            ActionOf::Unfence { node, .. } => vec![node],
            ActionOf::Fence { .. } | ActionOf::Maintain { .. } | ActionOf::Repair { .. } | ActionOf::FailoverSite { .. } => Vec::new(),
        }
    }

    /// Words for people beyond the kind and the nodes (a sync's preview, a rollout
    /// batch, a repair's operation); empty when there is nothing to add.
    pub fn detail(&self) -> String {
        match self {
            ActionOf::Sync { preview, .. } => {
                format!("adds {}, changes {}, deletes {} files", preview.files_added, preview.files_changed, preview.files_deleted)
            }
            ActionOf::Maintain { rollout, batch, operation, .. } => format!("{operation} (rollout {rollout}, batch {})", batch + 1),
            ActionOf::Repair { operation, .. } => operation.name().to_string(),
            ActionOf::FailoverSite { site, services, .. } => format!("{} service(s) out of site {site}", services.len()),
            _ => String::new(),
        }
    }

    /// The same action with nodes and services named another way.
    pub fn map<N2, S2>(&self, mut node: impl FnMut(&N) -> N2, mut service: impl FnMut(&S) -> S2) -> ActionOf<N2, S2> {
        let r: Result<ActionOf<N2, S2>, std::convert::Infallible> = self.try_map(|n| Ok(node(n)), |s| Ok(service(s)));
        match r {
            Ok(mapped) => mapped,
            Err(never) => match never {},
        }
    }

    /// As `map`, failing on the first node or service that cannot be named (a name
    /// that left the inventory).
    pub fn try_map<N2, S2, E>(
        &self,
        mut node: impl FnMut(&N) -> Result<N2, E>,
        mut service: impl FnMut(&S) -> Result<S2, E>,
    ) -> Result<ActionOf<N2, S2>, E> {
        let mut nodes = |list: &[N]| list.iter().map(&mut node).collect::<Result<Vec<N2>, E>>();
        Ok(match self {
            ActionOf::MoveVip { service: s, from, to } => {
                let from = match from {
                    Some(f) => Some(nodes(std::slice::from_ref(f))?.remove(0)),
                    None => None,
                };
                ActionOf::MoveVip { service: service(s)?, from, to: nodes(std::slice::from_ref(to))?.remove(0) }
            }
            ActionOf::SetDnsTargets { service: s, from, to } => {
                ActionOf::SetDnsTargets { service: service(s)?, from: nodes(from)?, to: nodes(to)? }
            }
            ActionOf::Fence { service: s, node: n } => {
                ActionOf::Fence { service: service(s)?, node: nodes(std::slice::from_ref(n))?.remove(0) }
            }
            ActionOf::Unfence { service: s, node: n } => {
                ActionOf::Unfence { service: service(s)?, node: nodes(std::slice::from_ref(n))?.remove(0) }
            }
            ActionOf::Promote { service: s, from, to } => {
                let from = match from {
                    Some(f) => Some(nodes(std::slice::from_ref(f))?.remove(0)),
                    None => None,
                };
                ActionOf::Promote { service: service(s)?, from, to: nodes(std::slice::from_ref(to))?.remove(0) }
            }
            ActionOf::Sync { service: s, from, to, preview } => ActionOf::Sync {
                service: service(s)?,
                from: nodes(std::slice::from_ref(from))?.remove(0),
                to: nodes(std::slice::from_ref(to))?.remove(0),
                preview: preview.clone(),
            },
            ActionOf::Maintain { rollout, batch, nodes: list, operation } => {
                ActionOf::Maintain { rollout: *rollout, batch: *batch, nodes: nodes(list)?, operation: operation.clone() }
            }
            ActionOf::Repair { node: n, operation } => {
                ActionOf::Repair { node: nodes(std::slice::from_ref(n))?.remove(0), operation: *operation }
            }
            ActionOf::FailoverSite { site, services, nodes: list } => ActionOf::FailoverSite {
                site: site.clone(),
                services: services.iter().map(&mut service).collect::<Result<Vec<S2>, E>>()?,
                nodes: nodes(list)?,
            },
        })
    }
}

impl<N: std::fmt::Debug, S: std::fmt::Debug> ActionOf<N, S> {
    /// What makes two decisions "the same action" for de-duplication (a timeline
    /// shows a repeated decision once): kind, service and nodes, not a preview.
    pub fn identity(&self) -> String {
        format!("{}:{:?}:{:?}:{:?}", self.kind(), self.service_ref(), self.from_nodes(), self.to_nodes())
    }
}

impl<N: Clone + PartialEq, S: Clone> ActionOf<N, S> {
    /// The service it changes; `None` for a maintenance batch or a repair.
    pub fn service(&self) -> Option<S> {
        self.service_ref().cloned()
    }

    /// The node an action works on without moving anything to or from it (a repair).
    pub fn repaired_node(&self) -> Option<N> {
        match self {
            ActionOf::Repair { node, .. } => Some(node.clone()),
            _ => None,
        }
    }

    /// Nodes this action sends traffic or a role to.
    pub fn destinations(&self) -> Vec<N> {
        match self {
            ActionOf::MoveVip { to, .. } | ActionOf::Promote { to, .. } | ActionOf::Sync { to, .. } => vec![to.clone()],
            ActionOf::SetDnsTargets { from, to, .. } => to.iter().filter(|n| !from.contains(n)).cloned().collect(),
            ActionOf::Unfence { node, .. } => vec![node.clone()],
            ActionOf::Fence { .. } | ActionOf::Maintain { .. } | ActionOf::Repair { .. } | ActionOf::FailoverSite { .. } => Vec::new(),
        }
    }

    /// Nodes this action takes traffic or a role away from.
    pub fn sources(&self) -> Vec<N> {
        match self {
            ActionOf::MoveVip { from, .. } | ActionOf::Promote { from, .. } => from.iter().cloned().collect(),
            ActionOf::SetDnsTargets { from, to, .. } => from.iter().filter(|n| !to.contains(n)).cloned().collect(),
            ActionOf::Fence { node, .. } => vec![node.clone()],
            ActionOf::Sync { from, .. } => vec![from.clone()],
            ActionOf::Maintain { nodes, .. } => nodes.clone(),
            ActionOf::Unfence { .. } | ActionOf::Repair { .. } | ActionOf::FailoverSite { .. } => Vec::new(),
        }
    }

    /// Whether this action can be the concrete undo of another, i.e. what a rollback
    /// step may carry (a move back to a previous holder, a target set, an unfence).
    pub fn is_undo(&self) -> bool {
        match self {
            ActionOf::MoveVip { from, .. } => from.is_some(),
            ActionOf::SetDnsTargets { .. } | ActionOf::Unfence { .. } => true,
            _ => false,
        }
    }

    /// The concrete action that undoes this one once applied, if there is one. The
    /// engine sends it with a rollback step; a hook carries out what it receives.
    /// A move onto a first placement (no `from`) has no undo, nor has a promotion
    /// (the new primary has its own timeline), a sync, a maintenance or a repair.
    pub fn rollback(&self) -> Option<ActionOf<N, S>> {
        match self {
            ActionOf::MoveVip { service, from: Some(from), to } => {
                Some(ActionOf::MoveVip { service: service.clone(), from: Some(to.clone()), to: from.clone() })
            }
            ActionOf::SetDnsTargets { service, from, to } if !from.is_empty() => {
                Some(ActionOf::SetDnsTargets { service: service.clone(), from: to.clone(), to: from.clone() })
            }
            ActionOf::Fence { service, node } => Some(ActionOf::Unfence { service: service.clone(), node: node.clone() }),
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
    /// `node` answers as a writable primary while `holder` holds the service:
    /// two writers, the one outcome a failover must never leave behind.
    SecondWriter { node: NodeId, holder: NodeId },
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
