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
const EVENT_CAUSES: [&str; 4] = ["job:", "rollout:", "approval:", "site-approval:"];

/// The longest a working primary may stay fenced with no other writer: the fence,
/// its promotion and, if that cannot follow, the unfence, each within a job
/// timeout and a failure backoff or two.
const STRANDED_MAX_MS: u64 = 5 * 60_000;

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
    // No service left without a writer by Ward: a fence whose promotion does not
    // follow is undone once the primary is back.
    // A hold on a database's node, site or the fleet forbids Ward giving writes
    // back to a primary its agent fenced (a hold is never overridden).
    let held = s.faults.iter().any(|(_, f)| match f {
        FaultSpec::Hold { target: HoldTarget::Fleet, .. } => true,
        FaultSpec::Hold { target: HoldTarget::Site(site), .. } => {
            s.topology.agents && s.topology.nodes().iter().any(|n| n.starts_with(&format!("{site}-db")))
        }
        FaultSpec::Hold { target: HoldTarget::Node(node), .. } => s.topology.agents && node.contains("-db"),
        _ => false,
    });
    if out.recorder.stranded_max_ms > STRANDED_MAX_MS && !(held && s.topology.agents) {
        return Err(format!(
            "safety: a working primary stayed fenced with no other writer for {} ms (at most {STRANDED_MAX_MS} ms)",
            out.recorder.stranded_max_ms
        ));
    }
    acknowledged_writes_kept(out)?;
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
    alert_repeats_keyed_by_cause(out)?;
    approvals_stand(out)
}

/// An approval request stands until a person answers it or a different decision
/// supersedes it: while a VIP move, fence or promotion of a service waits for a
/// person, no automatic action of that kind on that service starts. (The sweep
/// plays no approving operator, so every pending request is unanswered.)
fn approvals_stand(out: &RunOutput) -> Result<(), String> {
    use ward_core::action::{ActionKind, Outcome};
    use ward_core::journal::JournalEvent;
    let gated = |k: ActionKind| matches!(k, ActionKind::MoveVip | ActionKind::Fence | ActionKind::Promote);
    // (service, kind) -> the pending decision.
    let mut pending: BTreeMap<(String, ActionKind), u64> = BTreeMap::new();
    for record in &out.controller.journal {
        match &record.event {
            JournalEvent::Decision { decision, action, verdict, job, .. } => {
                let (Some(service), kind) = (action.service_ref(), action.kind()) else { continue };
                if !gated(kind) {
                    continue;
                }
                let key = (service.clone(), kind);
                match (verdict.outcome, job) {
                    (Outcome::NeedsApproval, None) => {
                        pending.insert(key, decision.0);
                    }
                    (Outcome::Allow, Some(_)) => {
                        if let Some(waiting) = pending.get(&key).filter(|w| **w != decision.0) {
                            return Err(format!(
                                "safety: decision {} ran a {kind} of {service} while decision {waiting} still waited for a person",
                                decision.0
                            ));
                        }
                    }
                    _ => {}
                }
            }
            JournalEvent::Rejected { decision, .. } | JournalEvent::Approved { decision, .. } => {
                pending.retain(|_, d| *d != decision.0);
            }
            _ => {}
        }
    }
    Ok(())
}

/// A condition that keeps firing is journaled again only after the repeat
/// interval (or when its severity rises), however its sentence changes. Events
/// (a job or a repair failing) and grouped alerts whose members changed journal
/// their own news.
fn alert_repeats_keyed_by_cause(out: &RunOutput) -> Result<(), String> {
    use ward_core::journal::{AlertChange, JournalEvent};
    let mut last: BTreeMap<&str, (u64, ward_core::journal::Severity)> = BTreeMap::new();
    for record in &out.controller.journal {
        let JournalEvent::Alert { cause, severity, state, members, .. } = &record.event else { continue };
        let previous = last.insert(cause.as_str(), (record.at_ms, *severity));
        let event = ["job:", "replication:"].iter().any(|p| cause.starts_with(p));
        if *state != AlertChange::Repeated || event || !members.is_empty() {
            continue;
        }
        if let Some((at, was)) = previous {
            let every = ward_core::engine::REPEAT_JOURNALED_EVERY_MS;
            if *severity <= was && record.at_ms < at + every {
                return Err(format!(
                    "safety: alert {cause} journaled again after {} ms without news (repeats are keyed by cause, at most every {every} ms)",
                    record.at_ms.saturating_sub(at)
                ));
            }
        }
    }
    Ok(())
}

/// No automatic promotion loses an acknowledged write (the sweep plays no approving
/// operator, so every promotion in it is automatic; one a person approved, loss
/// stated, would be exempt). Counted are the writes the old primary had acknowledged
/// when a probe last saw it: an isolated primary that keeps acknowledging unseen
/// over asynchronous replication loses the rest whatever a controller decides.
fn acknowledged_writes_kept(out: &RunOutput) -> Result<(), String> {
    match out.world.writes.losses.iter().find(|l| l.lost_observed > 0) {
        Some(l) => Err(format!(
            "safety: promoting {} for {} at {} ms lost {} acknowledged write(s) {} had acknowledged when last observed",
            l.to, l.service, l.at_ms, l.lost_observed, l.from
        )),
        None => Ok(()),
    }
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
        // A clock step or a frozen pause leaves the controller's own clock off true
        // time for good (nothing in the world sets it right): the agents' clocks
        // rightly disagree with it, and the alert that says so stays.
        if a.cause.starts_with("agent-clock:") && out.controller.offset_ms != 0 {
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
        // The same for a primary's standbys: one whose configured source no longer
        // holds the primary cannot become promotable again on its own.
        if let Some(service) = a.cause.strip_prefix("standby-coverage:") {
            let primary: Vec<&String> = out.world.services.iter().filter(|s| s.name == service).flat_map(|s| &s.holders).collect();
            let stranded = out.world.truth.nodes().iter().filter_map(|n| n.replication.as_ref()).any(|r| {
                let source = out.world.truth.node_name(r.source);
                !primary.iter().any(|h| *h == source)
            });
            if stranded {
                continue;
            }
        }
        return Err(format!("convergence: alert `{}` still open: {}", a.cause, a.title));
    }
    Ok(())
}
