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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::engine::Engine;
    use crate::ids::*;
    use crate::inventory::testing::InventoryBuilder;
    use crate::inventory::{CheckKind, Replication, ServiceKind};
    use crate::journal::{AlertChange, JournalEvent};
    use crate::observation::{PrimaryStatus, ProbeDetail, ReplicationStatus};
    use crate::testing::{Harness, World};

    const PG1: NodeId = NodeId(0);
    const PG2: NodeId = NodeId(1);
    const CAUSE: &str = "standby-coverage:db";

    /// pg1 the primary, pg2 its standby reporting `lag_ms` (None: no figure).
    fn detail(lag_ms: Option<u64>) -> impl Fn(&Engine, &World, NodeId) -> Option<ProbeDetail> {
        move |_, _, node| {
            Some(if node == PG1 {
                ProbeDetail::Primary(PrimaryStatus {
                    flush_position: Some(1_000),
                    synchronous_standbys: Vec::new(),
                    summary: String::new(),
                    writable: None,
                })
            } else {
                ProbeDetail::Replication(ReplicationStatus {
                    running: true,
                    lag_ms,
                    last_error: None,
                    replayed_position: 1_000,
                    retained_bytes: 0,
                    received_position: Some(1_000),
                })
            })
        }
    }

    fn start() -> Harness {
        let mut b = InventoryBuilder::new().policy(|p| p.tick_ms = 1_000);
        let site = b.site("dc1");
        b.observer("controller", site);
        let nodes = [b.node("pg1", site, &[]), b.node("pg2", site, &[])];
        let check = b.check("pg", CheckKind::Postgres, &nodes, 1, 2);
        b.check_mut(check).interval_ms = 1_000;
        b.check_mut(check).timeout_ms = 500;
        b.node_mut(PG2).replication = Some(Replication { source: PG1, lag_max_ms: 30_000, check, repair: None });
        b.service("db", ServiceKind::Primary, "db", &nodes, &[PG1]);
        let mut db = Harness::new(Arc::new(b.build())).timing(100, 1_000);
        db.set_detail(detail(Some(0)));
        db.run_ms(5_000);
        db
    }

    fn changes(db: &Harness) -> Vec<(AlertChange, String)> {
        db.journal
            .iter()
            .filter_map(|r| match &r.event {
                JournalEvent::Alert { cause, state, sentence, .. } if cause == CAUSE => Some((*state, sentence.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn raised_once_while_the_primary_is_healthy_and_resolved_when_a_standby_is_promotable() {
        let mut db = start();
        assert!(changes(&db).is_empty(), "a promotable standby: no alert");
        db.set_detail(detail(None));
        // Not at once: the condition must outlast the evidence bound.
        db.run_ms(20_000);
        assert!(changes(&db).is_empty(), "{:?}", changes(&db));
        db.run_ms(20_000);
        let raised = changes(&db);
        assert_eq!(raised.len(), 1, "{raised:?}");
        assert_eq!(raised[0].0, AlertChange::Raised);
        assert!(
            raised[0].1.starts_with("If pg1 fails now nothing can take over db: pg2's replication state is unknown"),
            "{}",
            raised[0].1
        );
        // A condition that lasts is not re-journaled every round.
        db.run_ms(60_000);
        assert_eq!(changes(&db).len(), 1, "{:?}", changes(&db));
        db.set_detail(detail(Some(0)));
        db.run_ms(10 * 60_000);
        assert_eq!(changes(&db).last().map(|c| c.0), Some(AlertChange::Resolved), "{:?}", changes(&db));
    }
}
