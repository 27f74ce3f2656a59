//! What the controller knows of each host agent's lease: when it last renewed
//! (the controller's clock), what the agent sees of its peers, how far its wall
//! clock is from the controller's. Not durable: after a restart, or a pause of the
//! controller, every lease Ward had granted is assumed renewed at that moment, so
//! a restart can only delay a promotion by one lease, never hasten it.
//!
//! `verdict` is the controller's half of the lease rule (the agent's half is
//! `agent::LeaseKeeper`): an unanswering primary's server counts as fenced only
//! once its lease plus the margin has passed since the last renewal Ward
//! received, and more than half of the service's other members report, in
//! renewals of their own that are fresh, that they cannot reach it either. That is
//! exactly when its agent, if it runs at all, has fenced it: it saw neither the
//! controller nor a majority.

use std::collections::BTreeMap;

use crate::ids::*;
use crate::inventory::Snapshot;
use crate::time::{clock, human_duration, TimeMs};

/// One agent as the controller last heard it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentView {
    /// When its last renewal arrived; after a restart, when the controller
    /// restarted (it cannot know better).
    pub last_renewal_ms: Option<TimeMs>,
    /// Other members' names -> (reachable, answers as writable primary).
    pub peers: BTreeMap<String, (bool, bool)>,
    /// Agent wall clock minus controller clock at the last renewal.
    pub clock_skew_ms: i64,
    /// Services whose server the agent says it fenced itself.
    pub self_fenced: Vec<String>,
    /// `last_renewal_ms` is a renewal the agent sent, not one a restart assumed.
    pub heard: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseVerdict {
    /// The node runs no agent: nothing can fence it when it stops answering.
    NoAgent,
    /// Its agent has not renewed since this controller started.
    NeverRenewed,
    /// Its clock is further from the controller's than the policy allows.
    ClockSkew { skew_ms: i64 },
    /// Still possibly valid: not before `until_ms` (lease + margin).
    Running { until_ms: TimeMs },
    /// Lease and margin are over and enough of the others cannot reach it.
    Counted { lapsed_at_ms: TimeMs, unreachable: usize, others: usize },
    /// Lease and margin are over but too few others report it unreachable: it
    /// may be cut off from the controller alone, and serving.
    Contested { lapsed_at_ms: TimeMs, unreachable: usize, others: usize },
}

impl LeaseVerdict {
    /// The sentence for the decision, the journal and `ward why`.
    pub fn sentence(&self, node: &str) -> String {
        match self {
            LeaseVerdict::NoAgent => format!("{node} runs no ward agent, so nothing fences it while it does not answer"),
            LeaseVerdict::NeverRenewed => {
                format!("{node}'s ward agent has not renewed a lease since this controller started, so Ward cannot count on it")
            }
            LeaseVerdict::ClockSkew { skew_ms } => format!(
                "{node}'s clock is {} {} Ward's, beyond policy.agent.clock_skew_max, so Ward does not count on its lease",
                human_duration(skew_ms.unsigned_abs()),
                if *skew_ms > 0 { "ahead of" } else { "behind" }
            ),
            LeaseVerdict::Running { until_ms } => format!(
                "{node}'s agent lease (plus the safety margin) runs until {}: Ward waits for it, then promotes if the other members cannot reach {node} either",
                clock(*until_ms)
            ),
            LeaseVerdict::Counted { lapsed_at_ms, unreachable, others } => format!(
                "{node}'s agent lease and its safety margin ran out at {}, and {unreachable} of {others} other members cannot reach it: \
                 it has fenced itself, or nobody can reach it to write",
                clock(*lapsed_at_ms)
            ),
            LeaseVerdict::Contested { lapsed_at_ms, unreachable, others } => format!(
                "{node}'s agent lease and its safety margin ran out at {}, but only {unreachable} of {others} other members cannot reach it: \
                 it may be cut off from Ward alone and still writable",
                clock(*lapsed_at_ms)
            ),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct AgentLeases {
    agents: BTreeMap<String, AgentView>,
}

impl AgentLeases {
    pub fn view(&self, node: &str) -> Option<&AgentView> {
        self.agents.get(node)
    }

    pub fn renewed(&mut self, node: &str, view: AgentView) {
        self.agents.insert(node.to_string(), view);
    }

    /// A restart or a pause of the controller: it cannot know when these agents
    /// last renewed, so it assumes just now.
    pub fn assume_renewed<'a>(&mut self, nodes: impl IntoIterator<Item = &'a String>, now_ms: TimeMs) {
        for node in nodes {
            let view = self.agents.entry(node.clone()).or_default();
            view.last_renewal_ms = Some(view.last_renewal_ms.map_or(now_ms, |at| at.max(now_ms)));
            view.heard = false;
            // What it saw of its peers is as old as the pause: not evidence now.
            view.peers.clear();
        }
    }

    /// Whether `node`'s agent renewed at or after `at_ms` (a restart's assumed
    /// renewal does not count: it is no word from the agent).
    pub fn renewed_since(&self, node: &str, at_ms: TimeMs) -> bool {
        self.agents.get(node).is_some_and(|v| v.heard && v.last_renewal_ms.is_some_and(|last| last >= at_ms))
    }

    /// When the lease of `node` (plus the margin) runs out, if it was ever renewed.
    pub fn lapses_at(&self, snapshot: &Snapshot, node: &str) -> Option<TimeMs> {
        let policy = &snapshot.policy().agent;
        let last = self.agents.get(node)?.last_renewal_ms?;
        Some(last + policy.lease_ms + policy.margin_ms)
    }

    /// Whether `node`'s agent renewed within one lease: its peer reports count.
    fn fresh(&self, snapshot: &Snapshot, node: &str, now_ms: TimeMs) -> Option<&AgentView> {
        let view = self.agents.get(node)?;
        let last = view.last_renewal_ms?;
        (now_ms.saturating_sub(last) <= snapshot.policy().agent.lease_ms).then_some(view)
    }

    /// May Ward count `old`, the unanswering primary of `service`, as fenced?
    pub fn verdict(&self, snapshot: &Snapshot, now_ms: TimeMs, service: ServiceId, old: NodeId) -> LeaseVerdict {
        let node = snapshot.node(old);
        if !node.agent {
            return LeaseVerdict::NoAgent;
        }
        let Some(view) = self.agents.get(&node.name) else { return LeaseVerdict::NeverRenewed };
        if view.clock_skew_ms.unsigned_abs() > snapshot.policy().agent.clock_skew_max_ms {
            return LeaseVerdict::ClockSkew { skew_ms: view.clock_skew_ms };
        }
        let Some(lapsed_at_ms) = self.lapses_at(snapshot, &node.name) else { return LeaseVerdict::NeverRenewed };
        if now_ms < lapsed_at_ms {
            return LeaseVerdict::Running { until_ms: lapsed_at_ms };
        }
        let others: Vec<&str> =
            snapshot.service(service).candidates.iter().filter(|n| **n != old).map(|n| snapshot.node_name(*n)).collect();
        // A member whose agent is silent (or absent) says nothing: it counts as
        // one that may still reach the old primary.
        let unreachable = others
            .iter()
            .filter_map(|other| self.fresh(snapshot, other, now_ms))
            .filter(|view| view.peers.get(&node.name).is_some_and(|(reachable, _)| !reachable))
            .count();
        if !others.is_empty() && unreachable * 2 > others.len() {
            LeaseVerdict::Counted { lapsed_at_ms, unreachable, others: others.len() }
        } else {
            LeaseVerdict::Contested { lapsed_at_ms, unreachable, others: others.len() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::InventoryBuilder;

    fn trio(agents: bool) -> Snapshot {
        let mut b = InventoryBuilder::new().policy(|p| {
            p.agent.lease_ms = 5_000;
            p.agent.margin_ms = 2_000;
        });
        let site = b.site("a");
        let nodes: Vec<NodeId> = ["pg1", "pg2", "pg3"].iter().map(|n| b.node(n, site, &[])).collect();
        for &n in &nodes {
            b.node_mut(n).agent = agents;
        }
        b.service("db", crate::inventory::ServiceKind::Primary, "db", &nodes, &nodes[..1]);
        b.build()
    }

    fn renewal(at: TimeMs, peers: &[(&str, bool)]) -> AgentView {
        AgentView {
            last_renewal_ms: Some(at),
            peers: peers.iter().map(|(n, r)| (n.to_string(), (*r, false))).collect(),
            ..AgentView::default()
        }
    }

    #[test]
    fn counted_only_after_lease_and_margin_and_with_a_majority_of_the_others() {
        let snapshot = trio(true);
        let (db, pg1) = (snapshot.service_id("db").unwrap(), snapshot.node_id("pg1").unwrap());
        let mut leases = AgentLeases::default();
        leases.renewed("pg1", renewal(1_000, &[("pg2", true), ("pg3", true)]));
        assert_eq!(leases.verdict(&snapshot, 7_999, db, pg1), LeaseVerdict::Running { until_ms: 8_000 });
        // Lapsed, but no other member has said anything: contested.
        assert!(matches!(leases.verdict(&snapshot, 8_000, db, pg1), LeaseVerdict::Contested { unreachable: 0, .. }));
        leases.renewed("pg2", renewal(7_500, &[("pg1", false)]));
        assert!(matches!(leases.verdict(&snapshot, 8_000, db, pg1), LeaseVerdict::Contested { unreachable: 1, others: 2, .. }));
        leases.renewed("pg3", renewal(7_900, &[("pg1", false)]));
        let verdict = leases.verdict(&snapshot, 8_000, db, pg1);
        assert!(matches!(verdict, LeaseVerdict::Counted { unreachable: 2, others: 2, .. }), "{verdict:?}");
        assert!(verdict.sentence("pg1").contains("2 of 2 other members cannot reach it"));
        // The others' reports go stale when they stop renewing.
        assert!(matches!(leases.verdict(&snapshot, 13_000, db, pg1), LeaseVerdict::Contested { unreachable: 0, .. }));
    }

    #[test]
    fn a_restart_assumes_every_granted_lease_renewed_just_now() {
        let snapshot = trio(true);
        let (db, pg1) = (snapshot.service_id("db").unwrap(), snapshot.node_id("pg1").unwrap());
        let mut leases = AgentLeases::default();
        leases.assume_renewed(&["pg1".to_string()], 50_000);
        assert_eq!(leases.verdict(&snapshot, 50_001, db, pg1), LeaseVerdict::Running { until_ms: 57_000 });
    }

    #[test]
    fn no_agent_never_renewed_and_skewed_clocks_are_not_counted_on() {
        let snapshot = trio(false);
        let (db, pg1) = (snapshot.service_id("db").unwrap(), snapshot.node_id("pg1").unwrap());
        assert_eq!(AgentLeases::default().verdict(&snapshot, 1, db, pg1), LeaseVerdict::NoAgent);
        let snapshot = trio(true);
        assert_eq!(AgentLeases::default().verdict(&snapshot, 1, db, pg1), LeaseVerdict::NeverRenewed);
        let mut leases = AgentLeases::default();
        leases.renewed("pg1", AgentView { clock_skew_ms: -3_000, ..renewal(0, &[]) });
        let verdict = leases.verdict(&snapshot, 100_000, db, pg1);
        assert_eq!(verdict, LeaseVerdict::ClockSkew { skew_ms: -3_000 });
        assert!(verdict.sentence("pg1").contains("3s behind"));
    }
}
