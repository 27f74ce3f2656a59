//! Carries out job steps: apply, rollback and preview through the service's hook
//! (ward-actuate); verify by running the service's verification checks end to end
//! against the nodes the action sent traffic to (seed 004: can answers get out?).
//! Every step is bounded by its deadline; results go back to the driver.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use ward_actuate::{Actuators, StepContext};
use ward_core::action::Action;
use ward_core::engine::{JobOutcome, JobRequest};
use ward_core::ids::{CheckId, NodeId};
use ward_core::inventory::Snapshot;
use ward_core::journal::JobStep;
use ward_probe::{ProbeContext, ProbeSpec};

use crate::driver::{now_ms, Event};

/// Job steps running at once across all hooks (hooks bound themselves further).
pub const STEPS_RUNNING_MAX: usize = 256;
/// A fresh move may need a moment before it answers: verification tries this often.
const VERIFY_ATTEMPTS_MAX: u32 = 3;
const VERIFY_RETRY_PAUSE: Duration = Duration::from_secs(1);

pub struct Executor {
    pub actuators: Arc<Actuators>,
    pub probes: Arc<ProbeContext>,
    pub snapshot: watch::Receiver<Arc<Snapshot>>,
    pub events: mpsc::Sender<Event>,
    pub controller: String,
    /// Set on SIGTERM: no new step starts; running ones finish within the grace period.
    pub draining: Arc<AtomicBool>,
    /// Steps running now (the shutdown waits for this to reach zero).
    pub running: Arc<AtomicUsize>,
}

impl Executor {
    /// Runs until the request channel closes, then waits for the steps in flight.
    pub async fn run(self, mut requests: mpsc::Receiver<JobRequest>) {
        let slots = Arc::new(Semaphore::new(STEPS_RUNNING_MAX));
        let mut running = JoinSet::new();
        let this = Arc::new(self);
        while let Some(request) = requests.recv().await {
            if this.draining.load(Ordering::SeqCst) {
                // Its intent is journaled: the next start reconciles it.
                tracing::warn!(
                    job = request.job.0,
                    step = request.step.name(),
                    "shutting down: step not started; it is reconciled at the next start"
                );
                continue;
            }
            let Ok(slot) = slots.clone().acquire_owned().await else { break };
            let this = this.clone();
            this.running.fetch_add(1, Ordering::SeqCst);
            running.spawn(async move {
                let outcome = this.step(&request).await;
                let _ = this.events.send(Event::JobOutcome(outcome)).await;
                this.running.fetch_sub(1, Ordering::SeqCst);
                drop(slot);
            });
            while running.try_join_next().is_some() {}
        }
        while running.join_next().await.is_some() {}
    }

    async fn step(&self, request: &JobRequest) -> JobOutcome {
        let snapshot = self.snapshot.borrow().clone();
        match request.step {
            JobStep::Verify => self.verify(&snapshot, request).await,
            _ => {
                let hook = snapshot.hooks().get(request.hook.index()).cloned();
                match hook {
                    Some(hook) => {
                        let ctx = StepContext { controller: self.controller.clone(), snapshot: snapshot.clone() };
                        self.actuators.run_step(&hook, request, &ctx).await
                    }
                    None => failed(request, format!("hook #{} is not in inventory {}", request.hook.0, snapshot.short_hash())),
                }
            }
        }
    }

    /// Every verification check of the service must pass on every node the action
    /// sent traffic to (for maintenance: every check of the maintained nodes).
    async fn verify(&self, snapshot: &Snapshot, request: &JobRequest) -> JobOutcome {
        let pairs = verification_pairs(snapshot, &request.action);
        if pairs.is_empty() {
            return JobOutcome { job: request.job, step: request.step, ok: true, message: "nothing to verify".into(), preview: None };
        }
        let specs: Vec<ProbeSpec> = ward_probe::specs(snapshot)
            .into_iter()
            .filter(|spec| pairs.iter().any(|(node, check)| snapshot.probe_id(*node, *check) == Some(spec.probe)))
            .collect();
        let mut failures = Vec::new();
        for attempt in 1..=VERIFY_ATTEMPTS_MAX {
            failures.clear();
            for spec in &specs {
                if now_ms() >= request.deadline_ms {
                    return failed(request, "verification ran out of time".into());
                }
                let result = ward_probe::probe(spec, &self.probes).await;
                if !result.outcome.is_pass() {
                    failures.push(format!("{} on {}: {}", spec.check, spec.node, result.message().unwrap_or("failed")));
                }
            }
            if failures.is_empty() {
                let checks: Vec<String> = specs.iter().map(|s| format!("{} on {}", s.check, s.node)).collect();
                return JobOutcome {
                    job: request.job,
                    step: request.step,
                    ok: true,
                    message: format!("verified: {}", checks.join(", ")),
                    preview: None,
                };
            }
            if attempt < VERIFY_ATTEMPTS_MAX {
                tokio::time::sleep(VERIFY_RETRY_PAUSE).await;
            }
        }
        failed(request, failures.join("; "))
    }
}

fn verification_pairs(snapshot: &Snapshot, action: &Action) -> Vec<(NodeId, CheckId)> {
    match action {
        Action::Maintain { nodes, .. } => {
            nodes.iter().flat_map(|&node| snapshot.probes_of_node(node).iter().map(move |&p| (node, snapshot.probe(p).check))).collect()
        }
        other => {
            let Some(service) = other.service() else { return Vec::new() };
            let checks = &snapshot.service(service).verify;
            other.destinations().into_iter().flat_map(|node| checks.iter().map(move |&check| (node, check))).collect()
        }
    }
}

fn failed(request: &JobRequest, message: String) -> JobOutcome {
    JobOutcome { job: request.job, step: request.step, ok: false, message, preview: None }
}
