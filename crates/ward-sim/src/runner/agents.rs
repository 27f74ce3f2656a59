//! The simulated agents' renewals: each agent renews every `renew_every` (its
//! host frozen: at the thaw), through the links the world has between its host
//! and the controller, then decides whether to fence its own server.

use ward_core::agent::LeaseRequest;

use super::queue::Ev;
use super::Run;

impl Run<'_> {
    /// Every agent's first renewal, spread over one renewal interval.
    pub(super) fn schedule_agents(&mut self) -> Result<(), String> {
        let every = self.world.truth.policy().agent.renew_every_ms.max(1);
        let nodes: Vec<usize> = self.world.agents.keys().copied().collect();
        for (k, node) in nodes.into_iter().enumerate() {
            self.queue.push(1 + (k as u64 * 97) % every, Ev::AgentRenew { node })?;
        }
        Ok(())
    }

    pub(super) fn agent_renew(&mut self, node: usize) -> Result<(), String> {
        let every = self.world.truth.policy().agent.renew_every_ms.max(1);
        if let Some(until) = self.world.agents.get(&node).and_then(|a| a.frozen_until_ms).filter(|&u| u > self.now) {
            return self.queue.push(until, Ev::AgentRenew { node });
        }
        let reaches_controller = self.ctl.running() && self.world.links.reachable(self.world.point(node), self.world.controller_point());
        if reaches_controller {
            let agent = &self.world.agents[&node];
            let request = LeaseRequest {
                node: self.world.nodes[node].name.clone(),
                token_seen: agent.keeper.token_seen(),
                // The agent's own clock: true time, whatever the controller's says.
                sent_at_unix_ms: self.ctl.epoch_ms + self.now,
                inventory_hash: String::new(),
                peers: self.world.agent_peer_reports(node),
                self_fenced: agent.keeper.self_fenced().to_vec(),
            };
            let now = self.ctl.now(self.now);
            let answer = self.ctl.engine.as_mut().expect("running").renew_lease(now, &request);
            self.drain()?;
            let sent_at = self.now;
            if let Some(agent) = self.world.agents.get_mut(&node) {
                // A lower token is refused by the keeper itself; nothing else to do.
                let _ = agent.keeper.on_answer(sent_at, &answer);
            }
        }
        if let Some(sentence) = self.world.agent_decide(node) {
            self.timeline.world(self.now, sentence);
        }
        self.queue.push(self.now + every, Ev::AgentRenew { node })
    }
}
