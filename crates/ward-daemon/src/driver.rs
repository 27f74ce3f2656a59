//! The driver: the one task that owns the engine. It feeds inputs in, writes every
//! journal record durably before carrying out any effect, hands job steps to the
//! executor and notifications to the notifier, and publishes a view for the API.
//! It is the daemon's single writer: everything else talks to it through channels.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot, watch};
use ward_core::agent::{LeaseAnswer, LeaseRequest};
use ward_core::engine::{Checkpoint, Command, Engine, Input, JobOutcome, JobRequest, Notification, Output};
use ward_core::ids::NotificationId;
use ward_core::inventory::Snapshot;
use ward_core::journal::JournalRecord;
use ward_core::observation::Observation;
use ward_core::time::TimeMs;

use crate::halt::{halted_sentence, HELD_EVENTS_MAX, JOURNAL_RETRY_EVERY};
use crate::inventory_source::ReadOutcome;
use crate::limits::{cap_errors, journal_text};
use crate::metrics::Counters;
use crate::view::{self, View};

/// Bounds on the driver's queues: inputs wait here, never without limit.
pub const EVENTS_QUEUED_MAX: usize = 65_536;
pub const JOBS_QUEUED_MAX: usize = 4_096;
pub const NOTIFICATIONS_QUEUED_MAX: usize = 4_096;
/// The API's view is rebuilt at most this often.
const VIEW_EVERY: Duration = Duration::from_millis(250);

/// Where journal records go before anything they precede happens. Called from a
/// blocking thread (an append waits for an fsync).
pub trait Journal: Send + Sync + 'static {
    /// Durable (fsync'd) when it returns Ok.
    fn append(&self, records: &[JournalRecord]) -> Result<(), String>;
    /// Keeps a checkpoint of the engine's durable state and drops what precedes
    /// the previous one; says what it dropped. A journal kept whole (a test's)
    /// need not keep checkpoints.
    fn save_checkpoint(&self, _checkpoint: &Checkpoint) -> Result<String, String> {
        Ok("kept whole".into())
    }
}

/// An answer waiting for the journal records it produced to be written.
enum Reply {
    Command(oneshot::Sender<Result<String, String>>, Result<String, String>),
    Lease(oneshot::Sender<LeaseAnswer>, LeaseAnswer),
}

pub enum Event {
    /// Probe results with the hash of the inventory their probe ids belong to:
    /// ids from another inventory would name other probes, so those are dropped.
    Observation(Observation, Arc<str>),
    Observations(Vec<Observation>, Arc<str>),
    JobOutcome(JobOutcome),
    Delivered {
        notification: NotificationId,
        ok: bool,
        error: Option<String>,
    },
    Inventory(ReadOutcome, String),
    Command {
        command: Command,
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// A `ward agent` renewal, answered once the records it produced are durable.
    Lease {
        request: LeaseRequest,
        reply: oneshot::Sender<LeaseAnswer>,
    },
    Shutdown,
}

pub struct Driver {
    pub engine: Engine,
    pub journal: Arc<dyn Journal>,
    pub events: mpsc::Receiver<Event>,
    pub jobs: mpsc::Sender<JobRequest>,
    pub notifications: mpsc::Sender<Notification>,
    pub view: watch::Sender<Arc<View>>,
    /// The snapshot in force, for the probes and the executor.
    pub snapshot: watch::Sender<Arc<Snapshot>>,
    pub counters: Arc<Counters>,
    pub controller: String,
    pub started_at_ms: TimeMs,
    /// Called once when the journal cannot be written, with the error: pages
    /// through every route (the engine cannot: its notifications need the journal).
    pub on_halt: Option<Box<dyn Fn(String) + Send + Sync>>,
    /// How long to keep trying a failed append before giving up (exit non-zero).
    pub halt_exit_after: Duration,
    /// Events taken while halted, fed to the engine once the journal works again.
    pub held: VecDeque<Event>,
}

pub fn now_ms() -> TimeMs {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as TimeMs).unwrap_or(0)
}

impl Driver {
    /// Runs until `Event::Shutdown` or every sender is gone. An error means the
    /// journal could not be written: Ward stops rather than act without a record.
    pub async fn run(mut self) -> Result<(), String> {
        self.flush().await?;
        self.publish(now_ms());
        let mut last_view = tokio::time::Instant::now();
        // An input changed the engine since the view was last published: publish
        // within VIEW_EVERY even if nothing else comes in (a lease renewed between
        // two quiet stretches must show in /v1/status).
        let mut view_stale = false;
        loop {
            let wake_ms = self.engine.poll_timeout().unwrap_or_else(|| now_ms() + 1_000);
            let mut sleep = Duration::from_millis(wake_ms.saturating_sub(now_ms()));
            if view_stale {
                sleep = sleep.min(VIEW_EVERY.saturating_sub(last_view.elapsed()));
            }
            let mut reply = None;
            if let Some(event) = self.held.pop_front() {
                reply = self.on_event(event);
            } else {
                tokio::select! {
                    event = self.events.recv() => match event {
                        None | Some(Event::Shutdown) => break,
                        Some(event) => reply = self.on_event(event),
                    },
                    _ = tokio::time::sleep(sleep) => {
                        let now = now_ms();
                        if now >= wake_ms {
                            self.engine.handle(now, Input::Tick);
                        }
                    }
                }
            }
            view_stale = true;
            self.flush().await?;
            // An operator is told "done", and an agent "granted", only once the
            // records behind the answer are durable.
            match reply {
                Some(Reply::Command(reply, answer)) => {
                    let _ = reply.send(answer);
                    self.publish(now_ms());
                }
                Some(Reply::Lease(reply, answer)) => {
                    let _ = reply.send(answer);
                }
                None => {}
            }
            if last_view.elapsed() >= VIEW_EVERY {
                self.publish(now_ms());
                last_view = tokio::time::Instant::now();
                view_stale = false;
            }
        }
        self.flush().await?;
        self.publish(now_ms());
        Ok(())
    }

    /// Feeds one event to the engine. A command's answer is returned, not sent: it
    /// goes out after the records the command produced are durable.
    fn on_event(&mut self, event: Event) -> Option<Reply> {
        let now = now_ms();
        match event {
            Event::Observation(observation, inventory) => {
                if self.current(&inventory) {
                    self.counters.observations.inc();
                    self.engine.handle(now, Input::Observation(sanitized(observation)));
                }
            }
            Event::Observations(batch, inventory) => {
                if self.current(&inventory) {
                    for observation in batch {
                        // An agent's own trouble is no more evidence than ours.
                        if crate::limits::is_observer_fault(&observation) {
                            self.counters.observer_faults.inc();
                            continue;
                        }
                        self.counters.observations.inc();
                        self.engine.handle(now, Input::Observation(sanitized(observation)));
                    }
                }
            }
            Event::JobOutcome(mut outcome) => {
                // A hook's answer is input: bounded and without secrets before it is journaled.
                outcome.message = journal_text(std::mem::take(&mut outcome.message));
                self.engine.handle(now, Input::JobOutcome(outcome))
            }
            Event::Delivered { notification, ok, error } => {
                let error = error.map(journal_text);
                self.engine.handle(now, Input::NotificationDelivered { notification, ok, error })
            }
            Event::Inventory(outcome, source) => match outcome {
                ReadOutcome::Loaded(snapshot) => {
                    let before = self.engine.snapshot().hash().to_string();
                    self.engine.handle(now, Input::Inventory(snapshot));
                    if self.engine.snapshot().hash() != before {
                        tracing::info!(hash = %self.engine.snapshot().short_hash(), "inventory applied");
                        let _ = self.snapshot.send(self.engine.snapshot().clone());
                    }
                }
                ReadOutcome::Rejected(errors) => {
                    tracing::warn!(%source, errors = errors.len(), "inventory rejected; the last good one stays in force");
                    let errors = cap_errors(errors);
                    self.engine.handle(now, Input::InventoryRejected { source, errors });
                }
                ReadOutcome::Unstable => tracing::warn!(%source, "inventory kept changing while read; will read it again"),
            },
            Event::Command { command, reply } => {
                let answer = self.engine.command(now, command);
                // Operators expect to see their command's effect at once: the view is
                // published when the answer is sent.
                return Some(Reply::Command(reply, answer));
            }
            Event::Lease { request, reply } => {
                self.counters.lease_renewals.inc();
                let answer = self.engine.renew_lease(now, &request);
                return Some(Reply::Lease(reply, answer));
            }
            Event::Shutdown => {}
        }
        None
    }

    fn current(&self, inventory: &str) -> bool {
        let current = self.engine.snapshot().hash() == inventory;
        if !current {
            self.counters.observations_stale.inc();
        }
        current
    }

    /// Journal first (one fsync for the batch), then the effects, in order.
    async fn flush(&mut self) -> Result<(), String> {
        let mut records: Vec<JournalRecord> = Vec::new();
        let mut effects = Vec::new();
        while let Some(output) = self.engine.poll_output() {
            match output {
                Output::Journal(record) => records.push(record),
                effect => effects.push(effect),
            }
        }
        if !records.is_empty() {
            let started = std::time::Instant::now();
            let (back, result) = self.append(records).await;
            records = back;
            if let Err(error) = result {
                records = self.halt(records, error).await?;
            }
            self.counters.journal_append_seconds.observe(started.elapsed().as_secs_f64());
            self.counters.journal_records.add(records.len() as u64);
            for record in &records {
                if let Some(sentence) = ward_core::journal::sentence(&record.event) {
                    tracing::info!(seq = record.seq, "{sentence}");
                }
            }
        }
        for effect in effects {
            match effect {
                Output::StartJob(request) => {
                    self.counters.job_steps.inc();
                    if self.jobs.send(request).await.is_err() {
                        return Err("the executor stopped".into());
                    }
                }
                Output::Notify(notification) => {
                    self.counters.notifications.inc();
                    if self.notifications.send(notification).await.is_err() {
                        return Err("the notifier stopped".into());
                    }
                }
                Output::Checkpoint(checkpoint) => self.save_checkpoint(checkpoint).await,
                Output::Journal(_) => {}
            }
        }
        Ok(())
    }

    /// Saves a checkpoint on a blocking thread, after the records before it (they
    /// were appended above). A failure is logged, not fatal: nothing is dropped
    /// unless the new checkpoint is durable, so recovery still has the previous
    /// checkpoint and every record after it.
    async fn save_checkpoint(&self, checkpoint: Box<Checkpoint>) {
        let journal = self.journal.clone();
        let seq = checkpoint.seq;
        match tokio::task::spawn_blocking(move || journal.save_checkpoint(&checkpoint)).await {
            Ok(Ok(compacted)) => tracing::info!(seq, "checkpoint saved; {compacted}"),
            Ok(Err(e)) => tracing::error!(seq, "cannot save a checkpoint (recovery keeps using the previous one): {e}"),
            Err(e) => tracing::error!(seq, "the checkpoint writer thread failed: {e}"),
        }
    }

    /// One append on a blocking thread (it waits for an fsync); the records come back.
    async fn append(&self, records: Vec<JournalRecord>) -> (Vec<JournalRecord>, Result<(), String>) {
        let journal = self.journal.clone();
        match tokio::task::spawn_blocking(move || {
            let result = journal.append(&records);
            (records, result)
        })
        .await
        {
            Ok(done) => done,
            Err(e) => (Vec::new(), Err(format!("the journal writer thread failed: {e}"))),
        }
    }

    /// The journal cannot be written: say so at once (log, status, pages), stop
    /// acting, and keep trying the same records. Returns them once written; an
    /// error once `halt_exit_after` has passed (the process then exits non-zero)
    /// or on shutdown. Meanwhile commands are refused, observations dropped (health
    /// is re-established after), and job outcomes, deliveries and inventory reloads
    /// held for the engine.
    async fn halt(&mut self, mut records: Vec<JournalRecord>, mut error: String) -> Result<Vec<JournalRecord>, String> {
        let since = now_ms();
        let started = tokio::time::Instant::now();
        tracing::error!(
            records = records.len(),
            retry_every_s = JOURNAL_RETRY_EVERY.as_secs(),
            exit_after_s = self.halt_exit_after.as_secs(),
            "cannot write the journal: Ward stops acting until it can (no job step, no command): {error}"
        );
        self.counters.journal.fail(since, &error);
        if let Some(page) = &self.on_halt {
            page(error.clone());
        }
        let mut retry = tokio::time::interval_at(started + JOURNAL_RETRY_EVERY, JOURNAL_RETRY_EVERY);
        loop {
            tokio::select! {
                event = self.events.recv() => match event {
                    None | Some(Event::Shutdown) => {
                        return Err(format!("stopped while the journal could not be written: {error}"));
                    }
                    Some(Event::Command { reply, .. }) => {
                        let _ = reply.send(Err(halted_sentence(since, &error)));
                    }
                    // No lease is granted while nothing can be journaled: the reply is
                    // dropped, the agent hears 503 and its lease runs its course (its
                    // own rule keeps a primary whose peers it can see).
                    Some(Event::Lease { .. }) => {}
                    Some(Event::Observation(..)) | Some(Event::Observations(..)) => {}
                    Some(event) => {
                        if self.held.len() < HELD_EVENTS_MAX {
                            self.held.push_back(event);
                        } else {
                            tracing::error!("an event was dropped while the journal could not be written");
                        }
                    }
                },
                _ = retry.tick() => {
                    let (back, result) = self.append(records).await;
                    records = back;
                    match result {
                        Ok(()) => {
                            self.counters.journal.recover();
                            tracing::warn!(
                                after_ms = started.elapsed().as_millis() as u64,
                                "the journal can be written again: Ward acts again"
                            );
                            return Ok(records);
                        }
                        Err(e) => {
                            self.counters.journal.fail(now_ms(), &e);
                            error = e;
                            if started.elapsed() >= self.halt_exit_after {
                                return Err(format!(
                                    "the journal could not be written for {} s, so Ward exits rather than run without one \
                                     (a supervisor should restart it once the disk is fixed): {error}",
                                    started.elapsed().as_secs()
                                ));
                            }
                        }
                    }
                }
            }
        }
    }

    fn publish(&self, now: TimeMs) {
        let view = view::build(&self.engine, &self.controller, self.started_at_ms, now);
        let _ = self.view.send(Arc::new(view));
    }
}

/// A probe's message is input too: bounded and without secrets. (Its time is the
/// engine's to stamp, on receipt.)
fn sanitized(mut observation: Observation) -> Observation {
    match observation.detail.as_deref_mut() {
        Some(ward_core::observation::ProbeDetail::Message(text)) => *text = journal_text(std::mem::take(text)),
        Some(ward_core::observation::ProbeDetail::Primary(status)) => {
            status.summary = journal_text(std::mem::take(&mut status.summary));
        }
        _ => {}
    }
    observation
}
