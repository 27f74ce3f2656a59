//! The controller's side of `ward agent` leases: renewals in, answers out; a lease
//! that lapses is journaled and alerted; an unanswering primary whose lease
//! verdict is "counted" is journaled as fenced by its lease, so the promotion that
//! follows is an ordinary one after a fence (the single-writer guard allows it,
//! its sentence saying why). Without an agent nothing changes: a fence that cannot
//! be confirmed still needs a person.

use crate::action::NamedAction;
use crate::agent::{LeaseAnswer, LeaseRequest};
use crate::engine::{Engine, Mode};
use crate::health::agent_leases::{AgentView, LeaseVerdict};
use crate::health::Status;
use crate::ids::*;
use crate::inventory::ServiceKind;
use crate::journal::{JournalEvent, Severity};
use crate::time::{clock, human_duration, TimeMs};

/// The shortest deadline a network fence gets when it is cut to its node's lease.
const FENCE_DEADLINE_FLOOR_MS: u64 = 1_000;

impl Engine {
    /// One renewal from the agent on `request.node`, answered at once.
    pub fn renew_lease(&mut self, now_ms: TimeMs, request: &LeaseRequest) -> LeaseAnswer {
        let policy = self.snapshot.policy().agent.clone();
        let token = self.durable.starts;
        let mut answer =
            LeaseAnswer { granted: false, token, lease_ms: policy.lease_ms, renew_every_ms: policy.renew_every_ms, ..Default::default() };
        let Some(node) = self.snapshot.node_id(&request.node) else {
            answer.sentence = format!(
                "node {:?} is not in inventory {}: start the agent with --node set to a node of that inventory",
                request.node,
                self.snapshot.short_hash()
            );
            return answer;
        };
        if !self.snapshot.node(node).agent {
            answer.sentence = format!(
                "node {} has no `agent = true` in inventory {}: add it to give this agent a lease",
                request.node,
                self.snapshot.short_hash()
            );
            return answer;
        }
        if request.token_seen > token {
            answer.sentence = format!(
                "this agent has seen fencing token {}, newer than this controller's {token}: another controller has taken over since this one started",
                request.token_seen
            );
            return answer;
        }
        let name = request.node.clone();
        let skew_ms = request.sent_at_unix_ms as i64 - now_ms as i64;
        let peers = request.peers.iter().map(|p| (p.node.clone(), (p.reachable, p.writable))).collect();
        let previous = self.leases.view(&name).cloned();
        let view = AgentView {
            last_renewal_ms: Some(now_ms),
            peers,
            clock_skew_ms: skew_ms,
            self_fenced: request.self_fenced.clone(),
            heard: true,
        };
        let changed = previous.as_ref().is_none_or(|p| p.peers != view.peers || p.self_fenced != view.self_fenced);
        self.leases.renewed(&name, view);
        if !self.durable.leases_granted.contains(&name) {
            let sentence = format!(
                "{name}'s ward agent holds a lease again ({}, renewed every {})",
                human_duration(policy.lease_ms),
                human_duration(policy.renew_every_ms)
            );
            self.record(now_ms, JournalEvent::AgentLease { node: name.clone(), granted: true, sentence });
            self.resolve(now_ms, &format!("agent:{name}"), format!("{name}'s ward agent renews its lease again"));
        }
        let cause = format!("agent-clock:{name}");
        if skew_ms.unsigned_abs() > policy.clock_skew_max_ms {
            let sentence = format!(
                "{name}'s clock is {} {} Ward's (at most {} allowed): its lease is not counted on, so if {name} stops answering its primary fails over only with a person's approval. Fix time sync on {name} or on the controller.",
                human_duration(skew_ms.unsigned_abs()),
                if skew_ms > 0 { "ahead of" } else { "behind" },
                human_duration(policy.clock_skew_max_ms)
            );
            let routes = self.node_routes(node);
            self.raise(now_ms, &cause, Severity::Warning, sentence, &routes);
        } else if self.durable.alerts.contains_key(&cause) {
            self.resolve(now_ms, &cause, format!("{name}'s clock agrees with Ward's again"));
        }
        self.count_self_fences(now_ms, node, &request.self_fenced);
        if changed {
            self.plan_soon(now_ms);
        }
        answer.granted = true;
        answer.stay_fenced = self.stay_fenced(&name);
        answer.sentence = format!("lease granted for {}", human_duration(policy.lease_ms));
        self.checkpoint_if_due();
        answer
    }

    /// Services Ward counts as fenced on `node`, except where a job is now making
    /// it a primary again (a promotion to it, an unfence).
    fn stay_fenced(&self, node: &str) -> Vec<String> {
        self.durable
            .fenced
            .iter()
            .filter(|(_, n)| n == node)
            .filter(|(service, _)| {
                !self
                    .durable
                    .jobs
                    .values()
                    .any(|j| j.action.service_ref() == Some(service) && j.action.to_nodes().iter().any(|n| *n == node))
            })
            .map(|(service, _)| service.clone())
            .collect()
    }

    /// An agent fenced a primary Ward still counts as writable: the service has no
    /// writer until Ward acts, so it is journaled as fenced and the planner takes
    /// it from there (a promotion, or writes given back when none can follow).
    fn count_self_fences(&mut self, now_ms: TimeMs, node: NodeId, services: &[String]) {
        let name = self.snapshot.node_name(node).to_string();
        for service in services {
            let Some(id) = self.snapshot.service_id(service) else { continue };
            let key = (service.clone(), name.clone());
            if self.snapshot.service(id).kind != ServiceKind::Primary || self.durable.fenced.contains(&key) {
                continue;
            }
            if !self.placement(id).contains(&node) {
                continue;
            }
            let sentence = format!(
                "{name}'s ward agent fenced its {service} server itself: its lease ran out and it could see no majority of the other members, or another member answered as writable"
            );
            self.record(now_ms, JournalEvent::FencedByLease { service: service.clone(), node: name.clone(), sentence });
            self.plan_soon(now_ms);
        }
    }

    /// Leases that lapsed are journaled; agents that never renewed are alerted.
    pub(crate) fn track_leases(&mut self, now_ms: TimeMs) {
        let policy = self.snapshot.policy().agent.clone();
        let lapsed: Vec<String> = self
            .durable
            .leases_granted
            .iter()
            .filter(|n| self.leases.lapses_at(&self.snapshot, n).is_some_and(|at| now_ms >= at))
            .cloned()
            .collect();
        for name in lapsed {
            let last = self.leases.view(&name).and_then(|v| v.last_renewal_ms).unwrap_or(now_ms);
            let sentence = format!(
                "{name}'s ward agent has not renewed its lease since {}: it ran out at {}; if {name} can see no majority of its peers it has fenced its primary",
                clock(last),
                clock(last + policy.lease_ms)
            );
            self.record(now_ms, JournalEvent::AgentLease { node: name.clone(), granted: false, sentence: sentence.clone() });
            if let Some(node) = self.snapshot.node_id(&name) {
                let routes = self.node_routes(node);
                self.raise(now_ms, &format!("agent:{name}"), Severity::Warning, sentence, &routes);
            }
        }
        if now_ms < self.started_ms + policy.lease_ms + policy.margin_ms {
            return;
        }
        for index in 0..self.snapshot.nodes().len() {
            let node = NodeId(index as u32);
            let name = self.snapshot.node_name(node).to_string();
            if !self.snapshot.node(node).agent || self.leases.view(&name).is_some() || self.durable.leases_granted.contains(&name) {
                continue;
            }
            let cause = format!("agent:{name}");
            if self.durable.alerts.contains_key(&cause) {
                continue;
            }
            let sentence = format!(
                "{name} is declared with `agent = true` but its ward agent has not renewed a lease since Ward started at {}: \
                 if {name} stops answering, its primary fails over only with a person's approval. Start `ward agent --node {name}` on it.",
                clock(self.started_ms)
            );
            let routes = self.node_routes(node);
            self.raise(now_ms, &cause, Severity::Warning, sentence, &routes);
        }
    }

    /// Journals, as fenced by its lease, every primary whose server stopped
    /// answering and whose lease verdict is counted.
    pub(crate) fn fence_by_leases(&mut self, now_ms: TimeMs) {
        if self.mode != Mode::Guarded {
            return;
        }
        for (service, holder) in self.held_primaries() {
            let (service_name, node_name) = (self.snapshot.service_name(service).to_string(), self.snapshot.node_name(holder).to_string());
            if self.health.node(holder).status != Status::Down || self.durable.fenced.contains(&(service_name.clone(), node_name.clone())) {
                continue;
            }
            let verdict = self.leases.verdict(&self.snapshot, now_ms, service, holder);
            if let LeaseVerdict::Counted { .. } = verdict {
                let sentence = verdict.sentence(&node_name);
                self.record(now_ms, JournalEvent::FencedByLease { service: service_name, node: node_name, sentence });
            }
        }
    }

    /// Every writable-primary service (not a write address following one) that has
    /// a holder, with it.
    pub(crate) fn held_primaries(&self) -> Vec<(ServiceId, NodeId)> {
        (0..self.snapshot.services().len())
            .map(|index| ServiceId(index as u32))
            .filter(|&s| self.snapshot.service(s).kind == ServiceKind::Primary && self.snapshot.service(s).follows.is_none())
            .filter_map(|s| self.placement(s).first().map(|&holder| (s, holder)))
            .collect()
    }

    /// Whether each primary service can fail over without a person if its holder
    /// stops answering (not merely crashes), and why not.
    pub fn automatic_failover(&self, now_ms: TimeMs, service: ServiceId) -> Option<Result<String, String>> {
        let spec = self.snapshot.service(service);
        if spec.kind != ServiceKind::Primary || spec.follows.is_some() {
            return None;
        }
        let &holder = self.placement(service).first()?;
        let name = self.snapshot.node_name(holder);
        Some(match self.leases.verdict(&self.snapshot, now_ms, service, holder) {
            verdict @ (LeaseVerdict::NoAgent | LeaseVerdict::NeverRenewed | LeaseVerdict::ClockSkew { .. }) => {
                Err(format!("if {name} stops answering, promoting another needs a person's approval: {}", verdict.sentence(name)))
            }
            LeaseVerdict::Running { .. } => {
                Ok(format!("if {name} stops answering, its ward agent fences it within its lease and Ward promotes after lease + margin"))
            }
            verdict => Err(verdict.sentence(name)),
        })
    }

    /// A fence still waiting on a host that stopped answering, for a node that
    /// counts as fenced by its lease by now: neither its service nor its hook
    /// waits for it any more (an unanswering host only runs out its deadline).
    pub(crate) fn is_moot_fence(&self, action: &NamedAction) -> bool {
        matches!(action, NamedAction::Fence { service, node }
            if self.durable.lease_fenced.contains_key(&(service.clone(), node.clone())))
    }

    /// A network fence of a node whose agent lease still runs need not outlast the
    /// lease: by then the lease fence is counted on, and a call hanging on an
    /// unanswering host would only hold its hook (a one-at-a-time hook would hold
    /// the promotion behind it). At least a second, for a host that does answer.
    pub(crate) fn fence_deadline_within_lease(
        &self,
        now_ms: TimeMs,
        action: &crate::action::Action,
        step: crate::journal::JobStep,
    ) -> Option<u64> {
        let crate::action::Action::Fence { service, node } = action else { return None };
        if step != crate::journal::JobStep::Apply {
            return None;
        }
        match self.leases.verdict(&self.snapshot, now_ms, *service, *node) {
            LeaseVerdict::Running { until_ms } => Some(until_ms.saturating_sub(now_ms).max(FENCE_DEADLINE_FLOOR_MS)),
            _ => None,
        }
    }

    /// When the next lease (plus margin) runs out, or an agent never heard from
    /// is to be alerted, for the wake-up deadline.
    pub(crate) fn next_lease_deadline(&self) -> Option<TimeMs> {
        let lapses = self.durable.leases_granted.iter().filter_map(|n| self.leases.lapses_at(&self.snapshot, n)).min();
        let policy = &self.snapshot.policy().agent;
        let silent = self.snapshot.nodes().iter().any(|n| {
            n.agent
                && self.leases.view(&n.name).is_none()
                && !self.durable.leases_granted.contains(&n.name)
                && !self.durable.alerts.contains_key(&format!("agent:{}", n.name))
        });
        let alert_at = silent.then_some(self.started_ms + policy.lease_ms + policy.margin_ms);
        lapses.into_iter().chain(alert_at).min()
    }
}
