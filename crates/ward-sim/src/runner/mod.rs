//! The discrete-event loop: the world, the controller shell around the engine,
//! and a queue of timed events. Every input goes through `deliver`, every output
//! through `drain`, and the engine's invariants are checked after each step.

mod agents;
mod controller;
mod faults;
pub mod loader;
mod queue;
mod shell;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ward_core::engine::{Input, Mode, Notification};
use ward_core::inventory::Snapshot;

pub use controller::Controller;
use queue::{Ev, Queue};

use crate::metrics::Recorder;
use crate::scenario::{InventoryDoc, Scenario};
use crate::timeline::Timeline;
use crate::world::actuator::Actuators;
use crate::world::World;

/// Everything a finished run leaves behind, for metrics, timeline and expectations.
pub struct RunOutput {
    pub mode: Mode,
    pub seed: u64,
    pub world: World,
    pub controller: Controller,
    pub recorder: Recorder,
    pub timeline: Timeline,
    /// Faults injected: (time, node names they touch, sentence).
    pub faults: Vec<(u64, Vec<String>, String)>,
    /// Notifications the engine asked for, and those the world delivered.
    pub notifications: Vec<(u64, Notification)>,
    pub delivered: BTreeSet<u64>,
    pub events: u64,
    /// Set when the run stopped early: an invariant broke or a bound was hit.
    pub failure: Option<String>,
    /// Approvals and rejections whose `matching` text matched no pending
    /// approval: (time, sentence). A scenario's Ward run fails on any.
    pub unmatched: Vec<(u64, String)>,
}

pub(crate) struct Run<'a> {
    scenario: &'a Scenario,
    now: u64,
    rng: ChaCha8Rng,
    queue: Queue,
    world: World,
    ctl: Controller,
    actuators: Actuators,
    recorder: Recorder,
    timeline: Timeline,
    faults: Vec<(u64, Vec<String>, String)>,
    notifications: Vec<(u64, Notification)>,
    delivered: BTreeSet<u64>,
    /// The inventory document the file holds now.
    doc: InventoryDoc,
    /// Flapping links: key -> the cut currently in force.
    flaps: BTreeMap<usize, (crate::scenario::Cut, Option<u64>)>,
    probing: BTreeSet<(String, String)>,
    tick_generation: u64,
    tick_at: Option<u64>,
    seen_snapshot: Option<Arc<Snapshot>>,
    /// Events waiting for Ward to complete an action of their kind.
    armed: Vec<usize>,
    unmatched: Vec<(u64, String)>,
}

/// Runs a scenario once in one mode. Never panics on scenario content; an engine
/// panic propagates (callers catch it to print the seed).
pub fn run(scenario: &Scenario, mode: Mode, seed: u64) -> Result<RunOutput, String> {
    let truth = loader::load(&scenario.inventory)
        .map_err(|errors| format!("{}: the inventory does not load:\n  {}", scenario.file, errors.join("\n  ")))?;
    let world = World::new(truth.clone(), scenario.world.clone());
    world.check_replica_knobs().map_err(|e| format!("{}: {e}", scenario.file))?;
    let recorder = Recorder::new(&world);
    let mut run = Run {
        scenario,
        now: 0,
        rng: ChaCha8Rng::seed_from_u64(seed),
        queue: Queue::default(),
        world,
        ctl: Controller::new(mode, truth, scenario.start_clock_ms),
        actuators: Actuators::default(),
        recorder,
        timeline: Timeline::new(scenario.start_clock_ms),
        faults: Vec::new(),
        notifications: Vec::new(),
        delivered: BTreeSet::new(),
        doc: scenario.inventory.clone(),
        flaps: BTreeMap::new(),
        probing: BTreeSet::new(),
        tick_generation: 0,
        tick_at: None,
        seen_snapshot: None,
        armed: Vec::new(),
        unmatched: Vec::new(),
    };
    let (events, failure) = match run.main_loop() {
        Ok(n) => (n, None),
        Err((n, e)) => (n, Some(format!("{e} (seed {seed}, mode {mode:?}, at {})", run.timeline.label(run.now)))),
    };
    run.recorder.advance(run.now);
    Ok(RunOutput {
        mode,
        seed,
        world: run.world,
        controller: run.ctl,
        recorder: run.recorder,
        timeline: run.timeline,
        faults: run.faults,
        notifications: run.notifications,
        delivered: run.delivered,
        events,
        failure,
        unmatched: run.unmatched,
    })
}

impl Run<'_> {
    fn main_loop(&mut self) -> Result<u64, (u64, String)> {
        let setup = (|| {
            for i in 0..self.scenario.events.len() {
                let event = if self.scenario.events[i].after_action.is_some() { Ev::Arm(i) } else { Ev::Scenario(i) };
                self.queue.push(self.scenario.events[i].at_ms, event)?;
            }
            self.queue.push(self.scenario.duration_ms, Ev::End)?;
            self.drain()?;
            self.schedule_agents()?;
            self.schedule_tick()
        })();
        setup.map_err(|e| (0, e))?;
        let mut events = 0u64;
        while let Some((at, ev)) = self.queue.pop() {
            events += 1;
            if events > self.scenario.world.max_events {
                return Err((events, format!("more than {} events (world.max_events)", self.scenario.world.max_events)));
            }
            self.recorder.advance(at);
            self.now = at;
            self.world.advance(at);
            if matches!(ev, Ev::End) {
                break;
            }
            self.step(ev).map_err(|e| (events, e))?;
            if self.world.dirty {
                self.recorder.refresh(&self.world);
                self.world.dirty = false;
            }
        }
        Ok(events)
    }

    fn step(&mut self, ev: Ev) -> Result<(), String> {
        match ev {
            Ev::Scenario(i) => self.scenario_event(i),
            Ev::Arm(i) => {
                self.armed.push(i);
                Ok(())
            }
            Ev::Flap { key, down } => self.flap(key, down),
            Ev::HealCut(id) => {
                self.world.links.heal_id(id);
                self.world.refresh_replication();
                self.timeline.world(self.now, "partition healed".into());
                Ok(())
            }
            Ev::ProbeRound { observer, check } => self.probe_round(observer, check),
            Ev::Tick { generation } => {
                if generation != self.tick_generation {
                    return Ok(());
                }
                self.tick_at = None;
                self.deliver(Input::Tick)?;
                self.schedule_tick()
            }
            Ev::CallDone { id, fate } => self.call_done(id, fate),
            Ev::CallDeadline { id } => self.call_deadline(id),
            Ev::Notified { notification, incarnation } => self.notified(notification, incarnation),
            Ev::Deliver(input) => self.deliver(input),
            Ev::InventoryWritten => {
                let doc = self.doc.clone();
                self.read_inventory(&doc)
            }
            Ev::RebootDone { nodes } => {
                for n in &nodes {
                    if let Some(i) = self.world.node_index(n) {
                        if self.world.nodes[i].rebooting_until_ms.take().is_some() {
                            self.world.nodes[i].alive = true;
                        }
                    }
                }
                self.world.refresh_replication();
                self.timeline.world(self.now, format!("{} back from reboot", nodes.join(", ")));
                Ok(())
            }
            Ev::Resume => self.resume(),
            Ev::AgentRenew { node } => self.agent_renew(node),
            Ev::Restart => self.restart(),
            Ev::End => Ok(()),
        }
    }

    /// Schedules the next tick: at the engine's own deadline, and at least every
    /// `policy.tick_ms`, never in the past.
    fn schedule_tick(&mut self) -> Result<(), String> {
        let Some(engine) = self.ctl.engine.as_ref() else {
            return Ok(());
        };
        let tick_ms = engine.snapshot().policy().tick_ms.max(1);
        let mut at = self.now + tick_ms;
        if let Some(t) = engine.poll_timeout() {
            at = at.min(self.ctl.virt(t).max(self.now + 1));
        }
        if self.tick_at.is_some_and(|t| t <= at && t > self.now) {
            return Ok(());
        }
        self.tick_generation += 1;
        self.tick_at = Some(at);
        self.queue.push(at, Ev::Tick { generation: self.tick_generation })
    }
}
