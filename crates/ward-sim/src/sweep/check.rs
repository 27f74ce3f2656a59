//! Running one schedule and judging it: safety during the run, convergence after
//! the heal, and (on request) determinism.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use ward_core::engine::HoldTarget;
use ward_core::inventory::ServiceKind;
use ward_core::Mode;

use super::gen::{scenario, FaultSpec, Schedule};
use super::reproduction;
use crate::metrics::journal_sha256;
use crate::runner::RunOutput;

/// A job already in flight when a hold lands may still complete: this long.
const HOLD_GRACE_MS: u64 = 30_000;

/// Alert causes that record a one-off event rather than a condition that heals:
/// a failed job stays open until an operator acknowledges it, because nothing
/// Ward observes later undoes the fact that an action failed (the same for a
/// rollout stopped at a failed verification). The sweep does not acknowledge, so
/// these are exempt from "no alert left open".
/// An approval alert stays open while a decision waits for a human (a move
/// beyond the budget, a failover when most nodes look down at once): waiting is
/// the guarded behaviour, and the sweep plays no approving operator.
const EVENT_CAUSES: [&str; 3] = ["job:", "rollout:", "approval:"];

/// A schedule that broke a property.
#[derive(Clone, Debug)]
pub struct Violation {
    pub seed: u64,
    pub schedule: Box<Schedule>,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seed {}: {}\n  reproduce: {}", self.seed, self.message, reproduction(self.seed))
    }
}

/// What a passing run leaves for the caller.
pub struct Outcome {
    pub journal_sha256: String,
    pub events: u64,
}

/// Runs the schedule and checks it; never panics (an engine panic is a violation).
pub fn check(s: &Schedule) -> Result<Outcome, Violation> {
    let fail = |message: String| Violation { seed: s.seed, schedule: Box::new(s.clone()), message };
    let sc = scenario(s);
    let out = catch_unwind(AssertUnwindSafe(|| crate::runner::run(&sc, Mode::Guarded, s.seed)))
        .map_err(|p| {
            let m = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            fail(format!("the engine panicked: {}", m.unwrap_or_default()))
        })?
        .map_err(&fail)?;
    safety(s, &out).map_err(&fail)?;
    convergence(&out).map_err(&fail)?;
    Ok(Outcome { journal_sha256: journal_sha256(&out.controller.journal), events: out.events })
}

/// `check`, twice, and the two journals must be identical.
pub fn check_deterministic(s: &Schedule) -> Result<(), Violation> {
    let a = check(s)?;
    let b = check(s)?;
    if a.journal_sha256 != b.journal_sha256 {
        return Err(Violation {
            seed: s.seed,
            schedule: Box::new(s.clone()),
            message: format!("not deterministic: journal {} then {}", a.journal_sha256, b.journal_sha256),
        });
    }
    Ok(())
}

fn safety(s: &Schedule, out: &RunOutput) -> Result<(), String> {
    if let Some(f) = &out.failure {
        return Err(format!("safety: {f}"));
    }
    if out.recorder.split_brain_ms > 0 {
        return Err(format!("safety: split brain for {} ms", out.recorder.split_brain_ms));
    }
    // No node added to a service while a hold on it (or its site, or the whole
    // fleet: a freeze) stood.
    let site_of = |n: &str| out.world.nodes.iter().find(|x| x.name == n).map(|x| x.site.clone()).unwrap_or_default();
    for (at, f) in &s.faults {
        let FaultSpec::Hold { target, for_ms } = f else { continue };
        // A hold given while the controller is crashed or paused never reaches it
        // (the runner drops the command), so there is nothing to override.
        let controller_down = s.faults.iter().any(|(a, g)| match g {
            FaultSpec::ControllerCrash { for_ms: d } | FaultSpec::ControllerPause { for_ms: d, .. } => (*a..=a + d).contains(at),
            _ => false,
        });
        if controller_down {
            continue;
        }
        // A release ends every hold on its target, so a later, shorter hold on the
        // same target cuts this one short.
        let to = s
            .faults
            .iter()
            .filter_map(|(a, g)| match g {
                FaultSpec::Hold { target: t, for_ms: d } if t == target && a + d > *at => Some(a + d),
                _ => None,
            })
            .min()
            .unwrap_or(at + for_ms);
        let from = *at;
        let covers = |node: &str| match target {
            HoldTarget::Node(n) => n == node,
            HoldTarget::Site(site) => *site == site_of(node),
            HoldTarget::Fleet => true,
            _ => false,
        };
        let mut before: BTreeMap<&str, &Vec<String>> = BTreeMap::new();
        for c in &out.world.placement_log {
            if let Some(b) = before.get(c.service.as_str()) {
                for added in c.holders.iter().filter(|h| !b.contains(h) && covers(h)) {
                    if c.at_ms > from + HOLD_GRACE_MS && c.at_ms < to {
                        return Err(format!("safety: {added} added to {} at {} ms under a hold {from}..{to} ms", c.service, c.at_ms));
                    }
                }
            }
            before.insert(c.service.as_str(), &c.holders);
        }
    }
    Ok(())
}

fn convergence(out: &RunOutput) -> Result<(), String> {
    let Some(engine) = out.controller.engine.as_ref() else {
        return Err("convergence: the controller is not running after the heal".into());
    };
    if engine.jobs_in_flight() > 0 {
        return Err(format!("convergence: {} job(s) still running or queued at the end", engine.jobs_in_flight()));
    }
    // Every service has a holder (vip/primary: exactly one; dns: at least one):
    // after the heal every candidate is alive, reachable and replicating.
    for svc in &out.world.services {
        let alive = |h: &String| out.world.node_index(h).is_some_and(|i| out.world.nodes[i].alive);
        let n = svc.holders.iter().filter(|h| alive(h)).count();
        let ok = match svc.kind {
            ServiceKind::Vip | ServiceKind::Primary => n == 1,
            ServiceKind::Dns => n >= 1,
            ServiceKind::Sync => true,
        };
        if !ok {
            return Err(format!("convergence: service {} ({:?}) has holders {:?} after the heal", svc.name, svc.kind, svc.holders));
        }
    }
    // No alert left open whose cause healed: `SETTLE_MS` covers detection plus
    // the alerts' quiet period.
    for a in engine.alerts() {
        if a.resolved_ms.is_some() || EVENT_CAUSES.iter().any(|p| a.cause.starts_with(p)) {
            continue;
        }
        // The world does not re-point replicas at a new primary after a failover
        // (rebuilding them is the database's and the operator's work, not Ward's):
        // a replica whose configured source no longer holds the primary stays behind.
        if let Some(replica) = a.cause.strip_prefix("replication:") {
            let source_is_primary =
                out.world.truth.node_id(replica).and_then(|n| out.world.truth.nodes()[n.index()].replication.as_ref()).is_some_and(|r| {
                    let source = out.world.truth.node_name(r.source);
                    out.world.services.iter().any(|s| s.kind == ServiceKind::Primary && s.holders.iter().any(|h| h == source))
                });
            if !source_is_primary {
                continue;
            }
        }
        return Err(format!("convergence: alert `{}` still open: {}", a.cause, a.title));
    }
    Ok(())
}
