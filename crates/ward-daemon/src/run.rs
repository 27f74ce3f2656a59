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

use crate::api::conn::BoundedListener;
use crate::api::{self, AppState, Tokens};
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
    /// The operator token: enables mutating API requests (and every read).
    pub token_file: Option<PathBuf>,
    /// The read token: journal, timeline, why and observations, nothing else.
    pub read_token_file: Option<PathBuf>,
    /// The observer agents' token: posting observations, nothing else.
    pub observer_token_file: Option<PathBuf>,
    /// The `ward agent` token: renewing leases, nothing else.
    pub agent_token_file: Option<PathBuf>,
    /// Start on an empty or missing store in a data dir that has been used
    /// (a new history: the operator has accepted losing the old one).
    pub reinitialize: bool,
    /// How long a journal that cannot be written is retried before Ward exits non-zero.
    pub journal_failure_exit_after: Duration,
    /// Which inventory observer this controller is (default: the first one).
    pub observer: Option<String>,
    /// On SIGTERM, steps in flight get this long to finish.
    pub grace: Duration,
    pub probe_concurrency_max: usize,
    /// Stops the controller like SIGTERM does (for embedding: `ward demo`, tests).
    pub stop: Option<Arc<tokio::sync::Notify>>,
}

/// A token file holds one token and a newline.
const TOKEN_FILE_BYTES_MAX: u64 = 4096;

/// How often the inventory file is looked at (besides SIGHUP).
const INVENTORY_POLL: Duration = Duration::from_secs(1);

pub async fn run(config: RunConfig) -> Result<(), String> {
    // Config and durable state.
    let nofile = crate::limits::raise_nofile_limit();
    let read = |path: &Option<PathBuf>| path.as_deref().map(read_token).transpose();
    let tokens = Tokens {
        operator: read(&config.token_file)?,
        read: read(&config.read_token_file)?,
        observer: read(&config.observer_token_file)?,
        agent: read(&config.agent_token_file)?,
    };
    let options = ward_store::OpenOptions { reinitialize: config.reinitialize };
    let store = Arc::new(
        tokio::task::spawn_blocking({
            let dir = config.data_dir.clone();
            move || Store::open_with(&dir, options)
        })
        .await
        .map_err(|e| format!("opening the store failed: {e}"))?
        .map_err(|e| e.to_string())?,
    );
    let snapshot = match read_stable(&config.inventory).await {
        ReadOutcome::Loaded(snapshot) => snapshot,
        ReadOutcome::Rejected(errors) => return Err(format!("{}\n{} error(s); Ward did not start", errors.join("\n"), errors.len())),
        ReadOutcome::Unstable => return Err(format!("{} kept changing while being read; try again", config.inventory.display())),
    };
    let observer = pick_observer(&snapshot, config.observer.as_deref())?;
    let controller = snapshot.observer(observer).name.clone();
    // Recovery starts at the latest checkpoint and folds only the records after it.
    let (checkpoint, journal) = tokio::task::spawn_blocking({
        let store = store.clone();
        move || -> Result<_, ward_store::StoreError> {
            let checkpoint = store.latest_checkpoint()?;
            let journal = match &checkpoint {
                Some(checkpoint) => store.journal_from(checkpoint.seq, usize::MAX)?,
                None => store.journal()?,
            };
            Ok((checkpoint, journal))
        }
    })
    .await
    .map_err(|e| format!("reading the journal failed: {e}"))?
    .map_err(|e| e.to_string())?;
    let now = now_ms();
    let engine = if journal.is_empty() && checkpoint.is_none() {
        Engine::new(snapshot.clone(), Mode::Guarded, now)
    } else {
        tracing::info!(
            records = journal.len(),
            checkpoint = checkpoint.as_ref().map(|c| c.seq),
            "recovering from the latest checkpoint and the journal after it"
        );
        Engine::recover_from(snapshot.clone(), Mode::Guarded, checkpoint.as_ref(), &journal, now)
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

    let probes =
        start_probes(engine.snapshot(), observer, events_tx.clone(), snapshot_rx.clone(), config.probe_concurrency_max, counters.clone());
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
    let on_halt = crate::notifier::halt_pager(actuators.clone(), snapshot_rx.clone(), controller.clone());
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
        tokens: Arc::new(tokens),
    };
    let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let connections_max = crate::limits::api_connections_max(nofile);
    let listener = BoundedListener::new(listener, connections_max);
    tracing::info!(
        listen = %config.listen,
        controller = %controller,
        inventory = %snapshot.short_hash(),
        open_files_max = nofile,
        api_connections_max = connections_max,
        "ward is running"
    );
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
        on_halt: Some(on_halt),
        halt_exit_after: config.journal_failure_exit_after,
        held: Default::default(),
    };
    let mut driver_task = tokio::spawn(driver.run());
    // The driver ends early only when Ward must not go on (its journal cannot be
    // written): then the process exits non-zero, for a supervisor to restart it.
    let early = tokio::select! {
        _ = wait_for_stop(config.stop.clone()) => None,
        ended = &mut driver_task => Some(ended),
    };
    if let Some(ended) = early {
        let error = match ended {
            Ok(Ok(())) => "the driver stopped unexpectedly".to_string(),
            Ok(Err(e)) => e,
            Err(e) => format!("the driver panicked: {e}"),
        };
        tracing::error!("{error}");
        draining.store(true, Ordering::SeqCst);
        let _ = api_stop_tx.send(());
        executor_task.abort();
        notifier_task.abort();
        let _ = tokio::time::timeout(config.grace, api_task).await;
        return Err(error);
    }
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

/// A token file is a secret: refused when others may read it, and read bounded.
pub fn read_token(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: cannot read the token file: {e}", path.display()))?;
    let mode = file.metadata().map_err(|e| format!("{}: cannot read the token file: {e}", path.display()))?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "{}: the token file can be read by other users (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        ));
    }
    let mut text = String::new();
    file.take(TOKEN_FILE_BYTES_MAX + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: cannot read the token file: {e}", path.display()))?;
    if text.len() as u64 > TOKEN_FILE_BYTES_MAX {
        return Err(format!("{}: the token file is over {TOKEN_FILE_BYTES_MAX} bytes; it should hold one token", path.display()));
    }
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
    counters: Arc<Counters>,
) -> SharedProbes {
    let (sink, mut results) = mpsc::channel(driver::EVENTS_QUEUED_MAX);
    let config = SchedulerConfig { concurrency_max, ..SchedulerConfig::default() };
    let handle = Scheduler::start(ward_probe::specs(snapshot), observer, sink, config);
    let shared: SharedProbes = Arc::new(std::sync::Mutex::new(Some(handle)));
    let scheduler = shared.clone();
    let mut version: Arc<str> = snapshot.hash().into();
    let mut last_fault_log: Option<tokio::time::Instant> = None;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                result = results.recv() => match result {
                    Some(observation) if crate::limits::is_observer_fault(&observation) => {
                        // This machine's trouble (out of descriptors, a failed spawn)
                        // says nothing about the node: dropped, counted, logged.
                        counters.observer_faults.inc();
                        let now = tokio::time::Instant::now();
                        if last_fault_log.is_none_or(|at| now.duration_since(at) >= OBSERVER_FAULT_LOG_EVERY) {
                            last_fault_log = Some(now);
                            let message = observation.detail.as_deref().map(|d| format!("{d:?}")).unwrap_or_default();
                            tracing::error!(
                                faults = counters.observer_faults.get(),
                                "a probe failed because of this controller, not the node; not counted as evidence: {message}"
                            );
                        }
                    }
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

/// Observer faults are logged at most this often (each is counted).
const OBSERVER_FAULT_LOG_EVERY: Duration = Duration::from_secs(10);

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
