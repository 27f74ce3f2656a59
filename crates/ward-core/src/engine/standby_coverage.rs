//! Standby coverage: a `primary` service whose primary is still healthy but whose
//! standbys could not take over (lagging hours behind, replication broken or
//! silent, down, drained) raises its own alert, before the primary fails and it is
//! too late: "if pg1 fails now nothing can take over: ...". One alert per service
//! (cause `standby-coverage:<service>`), resolved when a standby is promotable again.

use std::collections::BTreeMap;

use crate::engine::{Engine, Mode};
use crate::guards::eligibility::{node_eligibility, Role};
use crate::health::Status;
use crate::ids::*;
use crate::inventory::ServiceKind;
use crate::journal::Severity;
use crate::time::TimeMs;

/// Volatile: since when each service (by name) has had no promotable standby. Losing
/// it at a restart only restarts the grace period; an alert already open is not
/// delayed by it.
#[derive(Default)]
pub(crate) struct CoverageRuntime {
    lost_since: BTreeMap<String, TimeMs>,
}

pub(crate) const CAUSE_PREFIX: &str = "standby-coverage:";

impl Engine {
    /// Raises or resolves each primary service's coverage alert. A condition must
    /// last `policy.evidence_max_age` before it is raised, so a controller that just
    /// started (every standby unknown until its first reports) or re-observes after
    /// a pause does not page.
    pub(crate) fn check_standby_coverage(&mut self, now_ms: TimeMs) {
        if self.mode == Mode::Naive {
            return;
        }
        let grace_ms = self.snapshot.policy().evidence_max_age_ms;
        let mut raise = Vec::new();
        let mut covered = Vec::new();
        {
            let ctx = self.guard_context(now_ms);
            for (index, spec) in self.snapshot.services().iter().enumerate() {
                if spec.kind != ServiceKind::Primary || spec.follows.is_some() {
                    continue;
                }
                let Some(&holder) = self.placement(ServiceId(index as u32)).first() else { continue };
                let holder_name = self.snapshot.node_name(holder);
                let fenced = self.durable.fenced.contains(&(spec.name.clone(), holder_name.to_string()));
                // A primary that is down or fenced is the failover's business (and its
                // "no candidate" alert), not a warning about the future.
                if fenced || self.health.node(holder).status != Status::Up {
                    continue;
                }
                let standbys: Vec<NodeId> = spec.candidates.iter().copied().filter(|&c| c != holder).collect();
                if standbys.is_empty() {
                    continue;
                }
                let reasons: Vec<String> = standbys
                    .iter()
                    .filter_map(|&c| node_eligibility(&ctx, c, Role::Serve).err().map(|why| why.sentence(&ctx, c)))
                    .collect();
                if reasons.len() < standbys.len() {
                    covered.push(spec.name.clone());
                } else {
                    let sentence = format!("If {holder_name} fails now nothing can take over {}: {}", spec.name, reasons.join("; "));
                    raise.push((ServiceId(index as u32), spec.name.clone(), sentence));
                }
            }
        }
        for name in covered {
            self.standby_coverage.lost_since.remove(&name);
            let cause = format!("{CAUSE_PREFIX}{name}");
            if self.durable.alerts.contains_key(&cause) {
                self.resolve(now_ms, &cause, format!("{name} has a promotable standby again"));
            }
        }
        for (service, name, sentence) in raise {
            let cause = format!("{CAUSE_PREFIX}{name}");
            let since = *self.standby_coverage.lost_since.entry(name).or_insert(now_ms);
            if now_ms.saturating_sub(since) < grace_ms && !self.durable.alerts.contains_key(&cause) {
                continue;
            }
            let routes = self.service_routes(service);
            self.raise(now_ms, &cause, Severity::Warning, sentence, &routes);
        }
    }
}
