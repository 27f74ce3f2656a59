//! What the API shows: a read-only picture of the engine, rebuilt by the driver
//! after it changes (at most a few times a second) and shared with the handlers.

use serde::Serialize;
use ward_core::action::NamedAction;
use ward_core::engine::{AlertView, BudgetUsage, Engine, PendingApproval};
use ward_core::health::{ReplicationHealth, Status};
use ward_core::ids::*;
use ward_core::time::TimeMs;

#[derive(Clone, Debug, Default, Serialize)]
pub struct View {
    pub status: StatusView,
    pub nodes: Vec<NodeView>,
    pub services: Vec<ServiceView>,
    pub alerts: Vec<AlertView>,
    pub approvals: Vec<PendingApproval>,
    pub plan: Vec<PlanView>,
    pub budget: Vec<BudgetUsage>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct StatusView {
    pub controller: String,
    pub mode: String,
    pub inventory_hash: String,
    pub inventory_source: String,
    pub started_at_ms: TimeMs,
    pub at_ms: TimeMs,
    pub nodes_up: u32,
    pub nodes_down: u32,
    pub nodes_unknown: u32,
    pub services: u32,
    pub jobs_in_flight: u32,
    pub open_alerts: u32,
    pub pending_approvals: u32,
    /// Moves used and allowed in the budget window, per group and for the fleet ("*").
    pub budget: Vec<BudgetUsage>,
    /// False while Ward has stopped acting (its journal cannot be written).
    pub acting: bool,
    /// Why Ward has stopped acting, while it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halted: Option<String>,
    /// Per held primary service: whether it fails over without a person if its
    /// holder stops answering (not merely crashes), and why not.
    pub failover: Vec<FailoverView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FailoverView {
    pub service: String,
    pub holder: String,
    /// True: the holder's `ward agent` lease lets Ward promote after lease + margin;
    /// false: a promotion around an unanswering holder needs approval.
    pub automatic: bool,
    pub sentence: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct NodeView {
    pub name: String,
    pub site: String,
    pub lifecycle: String,
    pub status: Status,
    pub since_ms: TimeMs,
    pub suppressed: bool,
    pub penalty: u32,
    pub flaps: u32,
    pub replication: Option<ReplicationHealth>,
    pub disk_full_in_ms: Option<u64>,
    pub probes: Vec<ProbeVoteView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProbeVoteView {
    pub check: String,
    pub status: Status,
    pub votes: Vec<VoteView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct VoteView {
    pub observer: String,
    pub status: Status,
    pub age_ms: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ServiceView {
    pub name: String,
    pub kind: String,
    pub group: String,
    pub holders: Vec<String>,
    pub candidates: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlanView {
    pub action: NamedAction,
    pub summary: String,
    pub outcome: String,
    pub reasons: Vec<String>,
    pub planned_at_ms: TimeMs,
}

/// Nodes listed with per-probe votes only up to this many (large fleets: use /v1/nodes/{name}).
const NODES_WITH_VOTES_MAX: usize = 2_000;

pub fn build(engine: &Engine, controller: &str, started_at_ms: TimeMs, now_ms: TimeMs) -> View {
    let snapshot = engine.snapshot();
    let health = engine.health();
    let mut status = StatusView {
        controller: controller.to_string(),
        mode: format!("{:?}", engine.mode()).to_lowercase(),
        inventory_hash: snapshot.hash().to_string(),
        inventory_source: snapshot.source().to_string(),
        started_at_ms,
        at_ms: now_ms,
        services: snapshot.services().len() as u32,
        jobs_in_flight: engine.jobs_in_flight() as u32,
        ..StatusView::default()
    };
    let with_votes = snapshot.nodes().len() <= NODES_WITH_VOTES_MAX;
    let nodes = snapshot
        .nodes()
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let id = NodeId(index as u32);
            let h = health.node(id);
            match h.status {
                Status::Up => status.nodes_up += 1,
                Status::Down => status.nodes_down += 1,
                Status::Unknown => status.nodes_unknown += 1,
            }
            let probes = if with_votes {
                snapshot
                    .probes_of_node(id)
                    .iter()
                    .map(|&probe| ProbeVoteView {
                        check: snapshot.check(snapshot.probe(probe).check).name.clone(),
                        status: health.probe(probe).status,
                        votes: health
                            .votes(probe)
                            .into_iter()
                            .map(|(observer, status, at)| VoteView {
                                observer: snapshot.observer(observer).name.clone(),
                                status,
                                age_ms: at.map(|t| now_ms.saturating_sub(t)),
                            })
                            .collect(),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            NodeView {
                name: node.name.clone(),
                site: snapshot.site(node.site).name.clone(),
                lifecycle: node.lifecycle.name().to_string(),
                status: h.status,
                since_ms: h.since_ms,
                suppressed: h.suppressed,
                penalty: h.penalty,
                flaps: h.flaps,
                replication: h.replication.clone(),
                disk_full_in_ms: h.disk_full_in_ms,
                probes,
            }
        })
        .collect();
    let services = snapshot
        .services()
        .iter()
        .enumerate()
        .map(|(index, service)| ServiceView {
            name: service.name.clone(),
            kind: service.kind.name().to_string(),
            group: service.group.clone(),
            holders: engine.placement(ServiceId(index as u32)).iter().map(|n| snapshot.node_name(*n).to_string()).collect(),
            candidates: service.candidates.iter().map(|n| snapshot.node_name(*n).to_string()).collect(),
        })
        .collect();
    let alerts: Vec<AlertView> = engine.alerts().into_iter().filter(|a| a.resolved_ms.is_none()).collect();
    status.open_alerts = alerts.len() as u32;
    let approvals = engine.pending_approvals();
    status.pending_approvals = approvals.len() as u32;
    let plan = engine
        .last_plan()
        .iter()
        .map(|p| PlanView {
            action: snapshot.name_action(&p.action),
            summary: p.summary.clone(),
            outcome: p.verdict.outcome.name().to_string(),
            reasons: p.verdict.reasons().iter().map(|s| s.to_string()).collect(),
            planned_at_ms: p.planned_at_ms,
        })
        .collect();
    let budget = engine.budget_usage(now_ms);
    status.budget = budget.clone();
    status.failover = (0..snapshot.services().len())
        .filter_map(|index| {
            let id = ServiceId(index as u32);
            let verdict = engine.automatic_failover(now_ms, id)?;
            let holder = engine.placement(id).first().map(|n| snapshot.node_name(*n).to_string()).unwrap_or_default();
            let (automatic, sentence) = match verdict {
                Ok(sentence) => (true, sentence),
                Err(sentence) => (false, sentence),
            };
            Some(FailoverView { service: snapshot.service(id).name.clone(), holder, automatic, sentence })
        })
        .collect();
    View { status, nodes, services, alerts, approvals, plan, budget }
}
