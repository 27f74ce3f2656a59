//! The scheduler task and one probe run.

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use ward_core::ids::ObserverId;
use ward_core::inventory::CheckKind;
use ward_core::observation::Observation;

use super::queue::{interval_of, Due, DueQueue};
use super::stats::Stats;
use super::{Command, SchedulerConfig};
use crate::context::ProbeContext;
use crate::kinds::{ipv4_literal, probe, probe_tcp_parsed};
use crate::spec::ProbeSpec;

/// What the scheduler task and every run share.
pub(crate) struct Shared {
    pub(crate) observer: ObserverId,
    pub(crate) sink: mpsc::Sender<Observation>,
    pub(crate) context: ProbeContext,
    pub(crate) semaphore: Arc<Semaphore>,
    pub(crate) concurrency_max: usize,
    /// The generation whose results may be sent. A run checks it and sends under the
    /// read lock, so once `replace` holds the write lock no old result gets out.
    pub(crate) generation: RwLock<u64>,
    pub(crate) stats: Stats,
}

/// One set of specs, and which of them have a run going.
pub(crate) struct Generation {
    number: u64,
    specs: Vec<ProbeSpec>,
    busy: Vec<AtomicBool>,
    /// tcp checks' targets that are IPv4 literals, parsed once (not once a run).
    tcp_ipv4: Vec<Option<SocketAddrV4>>,
}

impl Generation {
    fn new(number: u64, specs: Vec<ProbeSpec>) -> Arc<Generation> {
        let busy = specs.iter().map(|_| AtomicBool::new(false)).collect();
        let tcp_ipv4 = specs.iter().map(|spec| if spec.kind == CheckKind::Tcp { ipv4_literal(&spec.target) } else { None }).collect();
        Arc::new(Generation { number, specs, busy, tcp_ipv4 })
    }
}

pub(crate) async fn scheduler_loop(
    shared: Arc<Shared>,
    specs: Vec<ProbeSpec>,
    mut commands: mpsc::Receiver<Command>,
    config: SchedulerConfig,
) {
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut queue = DueQueue::new(config.jitter_percent, seed);
    let mut generation = Generation::new(0, specs);
    let start = Instant::now();
    for (slot, spec) in generation.specs.iter().enumerate() {
        queue.schedule_first(spec, slot as u32, start);
    }
    Stats::set(&shared.stats.probes, generation.specs.len() as u64);
    let batch_max = config.batch_max.max(1);
    // One timer, re-armed to the earliest due time: no timer entry per probe.
    let far = || Instant::now() + Duration::from_secs(3600);
    let sleep = tokio::time::sleep_until(queue.next_at().unwrap_or_else(far));
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                Some(Command::Replace(specs, done)) => {
                    generation = replace(&shared, &mut queue, &generation, specs);
                    let _ = done.send(());
                }
                Some(Command::Stop) | None => break,
            },
            () = &mut sleep => {
                let now = Instant::now();
                let mut started = 0;
                while started < batch_max {
                    let Some(due) = queue.pop_due(now) else { break };
                    fire(&shared, &generation, &mut queue, due, now);
                    started += 1;
                }
                if started == batch_max {
                    // More are due: let runs and commands in, then carry on.
                    tokio::task::yield_now().await;
                }
            }
        }
        sleep.as_mut().reset(queue.next_at().unwrap_or_else(far));
    }
    // Graceful end: every run holds a permit until it is done, and each is bounded
    // by its timeout, so having all permits back means nothing is in flight.
    let _ = shared.semaphore.acquire_many(shared.concurrency_max as u32).await;
}

/// Starts one due run (or counts it skipped) and schedules the probe's next run.
fn fire(shared: &Arc<Shared>, generation: &Arc<Generation>, queue: &mut DueQueue, due: Due, now: Instant) {
    let slot = due.slot as usize;
    let interval = interval_of(&generation.specs[slot]);
    // Running late by whole intervals (a paused process, a starved CPU): those runs are
    // gone, count them skipped and get back onto the grid instead of catching up.
    let mut nominal = due.nominal;
    if now > nominal + interval {
        let missed = ((now - nominal).as_nanos() / interval.as_nanos()) as u32;
        Stats::add(&shared.stats.skipped, missed as u64);
        nominal += interval * missed;
    }
    queue.schedule_at(nominal + interval, interval, due.slot);

    if generation.busy[slot].swap(true, Ordering::AcqRel) {
        // Its previous run is still going (timeout close to the interval, plus jitter).
        Stats::add(&shared.stats.skipped, 1);
        return;
    }
    let Ok(permit) = shared.semaphore.clone().try_acquire_owned() else {
        generation.busy[slot].store(false, Ordering::Release);
        Stats::add(&shared.stats.skipped, 1);
        return;
    };
    Stats::add(&shared.stats.started, 1);
    let in_flight = (shared.concurrency_max - shared.semaphore.available_permits()) as u64;
    shared.stats.in_flight_max.fetch_max(in_flight, Ordering::Relaxed);
    let run = run_one(shared.clone(), generation.clone(), slot, permit);
    debug_assert!(std::mem::size_of_val(&run) < 1_024, "a run's future is {} bytes", std::mem::size_of_val(&run));
    tokio::spawn(run);
}

/// Clears the probe's busy flag however the run ends (even by a panic).
struct BusyGuard<'a>(&'a AtomicBool);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

async fn run_one(shared: Arc<Shared>, generation: Arc<Generation>, slot: usize, permit: OwnedSemaphorePermit) {
    let _permit = permit;
    let _busy = BusyGuard(&generation.busy[slot]);
    let spec = &generation.specs[slot];
    // tcp runs inline, other kinds boxed: every run's task is as large as this
    // future, and http's (reqwest) would make each tcp run's task several KB to
    // allocate and copy (malloc's slow path, memmove: measurable at 100k runs/s).
    let result = match spec.kind {
        CheckKind::Tcp => probe_tcp_parsed(spec, generation.tcp_ipv4[slot], &shared.context).await,
        _ => Box::pin(probe(spec, &shared.context)).await,
    };
    shared.stats.record(spec.kind, &result);
    let wall_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let observation = Observation {
        probe: spec.probe,
        observer: shared.observer,
        at_ms: wall_ms,
        outcome: result.outcome,
        latency_ms: result.latency_ms(),
        detail: result.detail.map(Box::new),
        observer_clock_ms: Some(wall_ms),
    };
    let current = shared.generation.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    if *current != generation.number {
        Stats::add(&shared.stats.stale, 1);
        return;
    }
    if shared.sink.try_send(observation).is_err() {
        Stats::add(&shared.stats.dropped, 1);
    }
}

/// Switches to new specs, keeping the schedule of probes that carry over.
fn replace(shared: &Shared, queue: &mut DueQueue, old: &Arc<Generation>, specs: Vec<ProbeSpec>) -> Arc<Generation> {
    let new = Generation::new(old.number + 1, specs);
    let slot_of: HashMap<(&str, &str), usize> =
        new.specs.iter().enumerate().map(|(slot, spec)| ((spec.node.as_str(), spec.check.as_str()), slot)).collect();
    let mut placed = vec![false; new.specs.len()];
    for due in queue.drain() {
        let before = &old.specs[due.slot as usize];
        let Some(&slot) = slot_of.get(&(before.node.as_str(), before.check.as_str())) else { continue };
        if !placed[slot] && interval_of(&new.specs[slot]) == interval_of(before) {
            placed[slot] = true;
            queue.push(Due { slot: slot as u32, ..due });
        }
    }
    let start = Instant::now();
    for (slot, spec) in new.specs.iter().enumerate() {
        if !placed[slot] {
            queue.schedule_first(spec, slot as u32, start);
        }
    }
    debug_assert_eq!(queue.len(), new.specs.len());
    *shared.generation.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = new.number;
    Stats::set(&shared.stats.probes, new.specs.len() as u64);
    new
}
