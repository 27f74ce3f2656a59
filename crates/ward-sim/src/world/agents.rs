//! `ward agent` on the simulated hosts that declare `agent = true`: each renews
//! its lease with the controller every `renew_every` when it can reach it, sees
//! the other members of its primary services through the world's links, and
//! fences its own server by the same rule as the real agent
//! (`ward_core::agent::LeaseKeeper`). A frozen host's agent does nothing until it
//! thaws, then acts on the time that passed (its lease ran out meanwhile).

use std::collections::BTreeMap;

use ward_core::agent::{Decision, LeaseKeeper, PeerReport, PeerSight};
use ward_core::inventory::ServiceKind;

use super::World;

#[derive(Clone, Debug)]
pub struct SimAgent {
    pub keeper: LeaseKeeper,
    /// The host is frozen (a paused VM) until then: its agent does nothing.
    pub frozen_until_ms: Option<u64>,
}

impl SimAgent {
    pub fn new() -> SimAgent {
        SimAgent { keeper: LeaseKeeper::new(0), frozen_until_ms: None }
    }
}

impl Default for SimAgent {
    fn default() -> Self {
        SimAgent::new()
    }
}

/// The agents of a world, by node index.
pub fn agents_of(world: &World) -> BTreeMap<usize, SimAgent> {
    world.truth.nodes().iter().enumerate().filter(|(_, n)| n.agent).map(|(i, _)| (i, SimAgent::new())).collect()
}

impl World {
    pub fn frozen(&self, node: usize) -> bool {
        self.agents.get(&node).and_then(|a| a.frozen_until_ms).is_some_and(|until| self.now_ms < until)
    }

    /// What the agent on `node` sees of the other members of each primary
    /// service it is a candidate of: (service, peers).
    pub fn agent_sight(&self, node: usize) -> Vec<(String, Vec<PeerSight>)> {
        let me = self.truth.nodes()[node].name.as_str();
        self.services
            .iter()
            .filter(|s| s.kind == ServiceKind::Primary && s.candidates.iter().any(|c| c == me))
            .map(|s| {
                let peers = s
                    .candidates
                    .iter()
                    .filter(|c| *c != me)
                    .filter_map(|c| self.node_index(c))
                    .map(|j| {
                        let reachable = self.nodes[j].alive && !self.frozen(j) && self.links.reachable(self.point(node), self.point(j));
                        PeerSight { node: self.nodes[j].name.clone(), reachable, writable: reachable && self.nodes[j].writable }
                    })
                    .collect();
                (s.name.clone(), peers)
            })
            .collect()
    }

    /// The peers as the lease request reports them (every member, once).
    pub fn agent_peer_reports(&self, node: usize) -> Vec<PeerReport> {
        let mut reports: BTreeMap<String, PeerReport> = BTreeMap::new();
        for (_, peers) in self.agent_sight(node) {
            for p in peers {
                reports.entry(p.node.clone()).or_insert(PeerReport { node: p.node, reachable: p.reachable, writable: p.writable });
            }
        }
        reports.into_values().collect()
    }

    /// The agent on `node` decides with what it sees now; returns the sentence
    /// when it fenced its server.
    pub fn agent_decide(&mut self, node: usize) -> Option<String> {
        // Asked every round, writable or not: an instruction of the controller is
        // acted on (or dropped) once, never saved for later.
        let writable = self.nodes[node].writable && self.nodes[node].alive;
        let sight = if writable { self.agent_sight(node) } else { Vec::new() };
        let now = self.now_ms;
        let agent = self.agents.get_mut(&node)?;
        match agent.keeper.decide(now, &sight) {
            Decision::Fence { own, sentence, .. } => {
                self.nodes[node].writable = false;
                self.agents.get_mut(&node).expect("looked up above").keeper.fenced(&own);
                self.refresh_replication();
                Some(format!("{}'s agent: {sentence}", self.nodes[node].name))
            }
            Decision::Keep | Decision::KeepWithoutLease(_) => None,
        }
    }
}
