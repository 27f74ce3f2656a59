//! `ward observe`: an observer agent. It runs the inventory's probes from another
//! vantage point and streams the results to the controller, so quorum is counted
//! over real, separate processes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde_json::json;
use tokio::sync::mpsc;
use ward_core::inventory::Snapshot;
use ward_core::observation::Observation;
use ward_daemon::inventory_source::{read_stable, ReadOutcome, Watcher};
use ward_probe::{Scheduler, SchedulerConfig};

use crate::client::{Client, ControllerArgs};

#[derive(Args, Clone, Debug)]
pub struct ObserveArgs {
    #[command(flatten)]
    pub controller: ControllerArgs,
    /// The inventory (the same file the controller reads; reloaded on change).
    #[arg(long)]
    pub inventory: PathBuf,
    /// This agent's observer name in the inventory.
    #[arg(long)]
    pub name: String,
}

/// Results are sent in batches at least this often, and at most this large.
const BATCH_EVERY: Duration = Duration::from_millis(500);
const BATCH_MAX: usize = 10_000;
/// Results waiting while the controller is unreachable; beyond this the oldest go
/// (stale data is worth nothing to the controller anyway).
const BACKLOG_MAX: usize = 100_000;

pub async fn run(args: ObserveArgs) -> Result<(), String> {
    let client = Client::new(&args.controller)?;
    let mut snapshot = load(&args.inventory).await?;
    let observer = snapshot.observer_id(&args.name).ok_or_else(|| {
        let known: Vec<&str> = snapshot.observers().iter().map(|o| o.name.as_str()).collect();
        format!("--name {:?} is not an observer in {}; observers: {}", args.name, args.inventory.display(), known.join(", "))
    })?;
    let (sink, mut results) = mpsc::channel::<Observation>(BATCH_MAX * 4);
    let scheduler = Scheduler::start(ward_probe::specs(&snapshot), observer, sink, SchedulerConfig::default());
    let mut watcher = Watcher::new(args.inventory.clone());
    let mut backlog: Vec<serde_json::Value> = Vec::new();
    let mut ticker = tokio::time::interval(BATCH_EVERY);
    eprintln!("observer {} probing {} targets for {}", args.name, snapshot.probes().len(), args.controller.controller);
    loop {
        tokio::select! {
            Some(observation) = results.recv() => {
                backlog.push(by_name(&snapshot, &observation));
                if backlog.len() > BACKLOG_MAX {
                    let excess = backlog.len() - BACKLOG_MAX;
                    backlog.drain(..excess);
                }
            }
            _ = ticker.tick() => {
                if watcher.changed() {
                    if let Ok(next) = load(&args.inventory).await {
                        scheduler.replace(ward_probe::specs(&next)).await;
                        while results.try_recv().is_ok() {}
                        snapshot = next;
                    }
                }
                while !backlog.is_empty() {
                    let take = backlog.len().min(BATCH_MAX);
                    let batch: Vec<_> = backlog.drain(..take).collect();
                    if let Err(e) = client.post_json("/v1/observations", json!({"observer": args.name, "observations": batch})).await {
                        eprintln!("cannot deliver observations: {e}");
                        break;
                    }
                }
            }
        }
    }
}

async fn load(path: &std::path::Path) -> Result<Arc<Snapshot>, String> {
    match read_stable(path).await {
        ReadOutcome::Loaded(snapshot) => Ok(snapshot),
        ReadOutcome::Rejected(errors) => Err(errors.join("\n")),
        ReadOutcome::Unstable => Err(format!("{} kept changing while read", path.display())),
    }
}

fn by_name(snapshot: &Snapshot, o: &Observation) -> serde_json::Value {
    let probe = snapshot.probe(o.probe);
    json!({
        "node": snapshot.node_name(probe.node),
        "check": snapshot.check(probe.check).name,
        "outcome": o.outcome,
        "latency_ms": o.latency_ms,
        "observer_clock_ms": o.observer_clock_ms.unwrap_or(o.at_ms),
        "detail": o.detail.as_deref(),
    })
}
