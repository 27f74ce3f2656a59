//! What a decision saw: the snapshot, the observations (with observers and ages)
//! of the nodes involved, and the candidates weighed.

use crate::action::{Action, CandidateEvidence, Evidence, ObservationEvidence};
use crate::engine::Engine;
use crate::guards::eligibility::{node_eligibility, Role};
use crate::ids::*;
use crate::time::TimeMs;

/// Evidence stays readable and bounded on large fleets.
const CANDIDATES_SHOWN_MAX: usize = 16;
const OBSERVATIONS_SHOWN_MAX: usize = 24;

impl Engine {
    pub(crate) fn evidence(&self, now_ms: TimeMs, action: &Action) -> Evidence {
        let mut nodes: Vec<NodeId> = action.sources();
        nodes.extend(action.repaired_node());
        for node in action.destinations() {
            if !nodes.contains(&node) {
                nodes.push(node);
            }
        }
        let mut observations = Vec::new();
        'outer: for &node in &nodes {
            for &probe in self.snapshot.probes_of_node(node) {
                let check = &self.snapshot.check(self.snapshot.probe(probe).check).name;
                for (observer, status, at) in self.health.votes(probe) {
                    if observations.len() >= OBSERVATIONS_SHOWN_MAX {
                        break 'outer;
                    }
                    observations.push(ObservationEvidence {
                        node: self.snapshot.node_name(node).to_string(),
                        check: check.clone(),
                        observer: self.snapshot.observer(observer).name.clone(),
                        status: status.name().to_string(),
                        age_ms: at.map(|t| now_ms.saturating_sub(t)),
                    });
                }
            }
        }
        let ctx = self.guard_context(now_ms);
        let role = match action {
            Action::Sync { .. } => Role::SyncTarget,
            _ => Role::Serve,
        };
        let candidates = action
            .service()
            .map(|s| self.snapshot.service(s).candidates.iter().take(CANDIDATES_SHOWN_MAX).copied().collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .map(|node| {
                let eligibility = node_eligibility(&ctx, node, role);
                CandidateEvidence {
                    node: self.snapshot.node_name(node).to_string(),
                    eligible: eligibility.is_ok(),
                    why_not: eligibility.err().map(|why| why.sentence(&ctx, node)),
                }
            })
            .collect();
        Evidence { snapshot_hash: self.snapshot.hash().to_string(), observations, candidates }
    }
}
