//! `ward run`: config, store, recovery, wiring, serve, drain. Reads top to bottom.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use ward_actuate::Actuators;
use ward_core::engine::{Engine, Mode};
use ward_core::ids::ObserverId;
use ward_core::inventory::Snapshot;
use ward_probe::{ProbeContext, Scheduler, SchedulerConfig, SchedulerHandle};
use ward_store::Store;

use crate::api::{self, AppState};
use crate::driver::{self, now_ms, Driver, Event};
use crate::executor::Executor;
use crate::inventory_source::{read_stable, ReadOutcome, Watcher};
use crate::metrics::{Counters, Extra};
use crate::notifier::Notifier;

#[derive(Clone, Debug)]
pub struct RunConfig {
    pub inventory: PathBuf,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Enables mutating API requests (and observer agents).
    pub token_file: Option<PathBuf>,
    /// Which inventory observer this controller is (default: the first one).
    pub observer: Option<String>,
    /// On SIGTERM, steps in flight get this long to finish.
    pub grace: Duration,
    pub probe_concurrency_max: usize,
    /// Stops the controller like SIGTERM does (for embedding: `ward demo`, tests).
    pub stop: Option<Arc<tokio::sync::Notify>>,
}

/// How often the inventory file is looked at (besides SIGHUP).
const INVENTORY_POLL: Duration = Duration::from_secs(1);

pub async fn run(config: RunConfig) -> Result<(), String> {
    // Config and durable state.
    let token = match &config.token_file {
        Some(path) => Some(Arc::new(read_token(path)?)),
        None => None,
    };
    let store = Arc::new(Store::open(&config.data_dir).map_err(|e| e.to_string())?);
    let snapshot = match read_stable(&config.inventory).await {
        ReadOutcome::Loaded(snapshot) => snapshot,
        ReadOutcome::Rejected(errors) => return Err(format!("{}\n{} error(s); Ward did not start", errors.join("\n"), errors.len())),
        ReadOutcome::Unstable => return Err(format!("{} kept changing while being read; try again", config.inventory.display())),
    };
    let observer = pick_observer(&snapshot, config.observer.as_deref())?;
    let controller = snapshot.observer(observer).name.clone();
    let journal = store.journal().map_err(|e| e.to_string())?;
    let now = now_ms();
    let engine = if journal.is_empty() {
        Engine::new(snapshot.clone(), Mode::Guarded, now)
    } else {
        tracing::info!(records = journal.len(), "recovering from the journal");
        Engine::recover(snapshot.clone(), Mode::Guarded, &journal, now)
    };
    drop(journal);

    // Wiring.
    let (events_tx, events_rx) = mpsc::channel(driver::EVENTS_QUEUED_MAX);
    let (jobs_tx, jobs_rx) = mpsc::channel(driver::JOBS_QUEUED_MAX);
    let (notify_tx, notify_rx) = mpsc::channel(driver::NOTIFICATIONS_QUEUED_MAX);
    let (snapshot_tx, snapshot_rx) = watch::channel(engine.snapshot().clone());
    let (view_tx, view_rx) = watch::channel(Arc::new(crate::view::build(&engine, &controller, now, now)));
    let counters = Arc::new(Counters::default());
    let actuators = Arc::new(Actuators::new()?);
    let draining = Arc::new(AtomicBool::new(false));
    let steps_running = Arc::new(AtomicUsize::new(0));

    let probes = start_probes(engine.snapshot(), observer, events_tx.clone(), snapshot_rx.clone(), config.probe_concurrency_max);
    let probe_stats = probes.clone();
    let executor = Executor {
        actuators: actuators.clone(),
        probes: Arc::new(ProbeContext::new(Duration::from_secs(5))),
        snapshot: snapshot_rx.clone(),
        events: events_tx.clone(),
        controller: controller.clone(),
        draining: draining.clone(),
        running: steps_running.clone(),
    };
    let executor_task = tokio::spawn(executor.run(jobs_rx));
    let notifier = Notifier { actuators, snapshot: snapshot_rx.clone(), events: events_tx.clone() };
    let notifier_task = tokio::spawn(notifier.run(notify_rx));
    tokio::spawn(watch_inventory(config.inventory.clone(), events_tx.clone()));

    let extra: Vec<Extra> = vec![Box::new(move |out: &mut String| {
        if let Ok(guard) = probe_stats.lock() {
            if let Some(handle) = guard.as_ref() {
                crate::metrics::render_probe_stats(out, &handle.stats());
            }
        }
    })];
    let state = AppState {
        view: view_rx,
        snapshot: snapshot_rx,
        events: events_tx.clone(),
        journal: store.clone(),
        counters: counters.clone(),
        extra_metrics: Arc::new(extra),
        token,
    };
    let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    tracing::info!(listen = %config.listen, controller = %controller, inventory = %snapshot.short_hash(), "ward is running");
    let (api_stop_tx, api_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let api_task = tokio::spawn(async move {
        let serve = axum::serve(listener, api::router(state)).with_graceful_shutdown(async move {
            let _ = api_stop_rx.await;
        });
        if let Err(e) = serve.await {
            tracing::error!("API server stopped: {e}");
        }
    });

    // Run until SIGTERM/SIGINT, then drain: no new steps, running ones get the grace period.
    let driver = Driver {
        engine,
        journal: store.clone(),
        events: events_rx,
        jobs: jobs_tx,
        notifications: notify_tx,
        view: view_tx,
        snapshot: snapshot_tx,
        counters,
        controller,
        started_at_ms: now,
    };
    let driver_task = tokio::spawn(driver.run());
    wait_for_stop(config.stop.clone()).await;
    tracing::info!(grace_s = config.grace.as_secs(), "stopping: no new job steps; running ones get the grace period");
    draining.store(true, Ordering::SeqCst);
    let _ = api_stop_tx.send(());
    if let Ok(mut guard) = probes.lock() {
        if let Some(handle) = guard.take() {
            tokio::spawn(handle.stop());
        }
    }
    // Steps in flight finish (their outcomes are journaled by the driver, which is
    // still running); whatever is left after the grace period is reconciled at the
    // next start from its journaled intent.
    let deadline = tokio::time::Instant::now() + config.grace;
    while steps_running.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = events_tx.send(Event::Shutdown).await;
    let result = match tokio::time::timeout(config.grace, driver_task).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(format!("the driver panicked: {e}")),
        Err(_) => Err("the driver did not stop within the grace period".into()),
    };
    executor_task.abort();
    notifier_task.abort();
    let _ = api_task.await;
    result
}

fn read_token(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read the token file: {e}", path.display()))?;
    let token = text.trim().to_string();
    if token.len() < 16 {
        return Err(format!("{}: the token is {} characters; use at least 16 (e.g. `openssl rand -hex 32`)", path.display(), token.len()));
    }
    Ok(token)
}

fn pick_observer(snapshot: &Snapshot, name: Option<&str>) -> Result<ObserverId, String> {
    match name {
        None => Ok(ObserverId(0)),
        Some(name) => snapshot.observer_id(name).ok_or_else(|| {
            let known: Vec<&str> = snapshot.observers().iter().map(|o| o.name.as_str()).collect();
            format!("--observer {name:?} is not in the inventory; observers: {}", known.join(", "))
        }),
    }
}

type SharedProbes = Arc<std::sync::Mutex<Option<SchedulerHandle>>>;

/// Runs this controller's own probes; follows the snapshot in force, tagging each
/// observation with the inventory version its probe ids belong to.
fn start_probes(
    snapshot: &Arc<Snapshot>,
    observer: ObserverId,
    events: mpsc::Sender<Event>,
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    concurrency_max: usize,
) -> SharedProbes {
    let (sink, mut results) = mpsc::channel(driver::EVENTS_QUEUED_MAX);
    let config = SchedulerConfig { concurrency_max, ..SchedulerConfig::default() };
    let handle = Scheduler::start(ward_probe::specs(snapshot), observer, sink, config);
    let shared: SharedProbes = Arc::new(std::sync::Mutex::new(Some(handle)));
    let scheduler = shared.clone();
    let mut version: Arc<str> = snapshot.hash().into();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                result = results.recv() => match result {
                    Some(observation) => {
                        if events.send(Event::Observation(observation, version.clone())).await.is_err() {
                            break;
                        }
                    }
                    None => break,
                },
                changed = snapshots.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let next = snapshots.borrow_and_update().clone();
                    let handle = scheduler.lock().ok().and_then(|mut g| g.take());
                    if let Some(handle) = handle {
                        handle.replace(ward_probe::specs(&next)).await;
                        // Results still queued were taken under the old ids.
                        while results.try_recv().is_ok() {}
                        version = next.hash().into();
                        if let Ok(mut g) = scheduler.lock() {
                            *g = Some(handle);
                        }
                    }
                }
            }
        }
    });
    shared
}

/// Polls the file and listens for SIGHUP; every change is read atomically and
/// handed to the driver (which applies it, holds it for approval, or refuses it).
async fn watch_inventory(path: PathBuf, events: mpsc::Sender<Event>) {
    let mut watcher = Watcher::new(path.clone());
    let mut hangup = signal(SignalKind::hangup()).ok();
    let source = path.display().to_string();
    loop {
        let reread = match hangup.as_mut() {
            Some(sig) => tokio::select! {
                _ = sig.recv() => true,
                _ = tokio::time::sleep(INVENTORY_POLL) => watcher.changed(),
            },
            None => {
                tokio::time::sleep(INVENTORY_POLL).await;
                watcher.changed()
            }
        };
        if reread {
            let outcome = read_stable(&path).await;
            if events.send(Event::Inventory(outcome, source.clone())).await.is_err() {
                return;
            }
        }
    }
}

async fn wait_for_stop(stop: Option<Arc<tokio::sync::Notify>>) {
    let embedded = async {
        match stop {
            Some(stop) => stop.notified().await,
            None => std::future::pending().await,
        }
    };
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
                _ = embedded => {},
            }
        }
        _ => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = embedded => {},
            }
        }
    }
}
