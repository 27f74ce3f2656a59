//! The shell around the engine, as the daemon would be: it delivers inputs, drains
//! outputs (journal first), runs job steps through actuators, sends notifications
//! and runs probes. Only the controller incarnation that started a call hears its result.

use rand::Rng;
use ward_core::engine::{Input, JobOutcome, JobRequest, Output};
use ward_core::observation::Observation;

use super::queue::{CallFate, Ev};
use super::{loader, Run};
use crate::scenario::InventoryDoc;
use crate::world::actuator::{Call, Submitted};
use crate::world::{Blocked, Point};

impl Run<'_> {
    /// Hands one input to the controller: dropped if it is down, buffered if paused.
    pub(super) fn deliver(&mut self, input: Input) -> Result<(), String> {
        if self.ctl.engine.is_none() {
            return Ok(());
        }
        if self.ctl.paused_until_ms.is_some() {
            self.ctl.buffer(input);
            return Ok(());
        }
        let now = self.ctl.now(self.now);
        self.ctl.engine.as_mut().expect("checked above").handle(now, input);
        self.drain()
    }

    /// Drains every output, then checks the engine's invariants.
    pub(super) fn drain(&mut self) -> Result<(), String> {
        let mut outputs = Vec::new();
        {
            let Some(engine) = self.ctl.engine.as_mut() else {
                return Ok(());
            };
            while let Some(output) = engine.poll_output() {
                outputs.push(output);
            }
        }
        for output in outputs {
            match output {
                Output::Journal(record) => {
                    self.timeline.journal(self.now, &record);
                    self.ctl.journal.push(record);
                    self.ctl.journal_virt_ms.push(self.now);
                }
                Output::StartJob(request) => self.start_job(request)?,
                Output::Checkpoint(checkpoint) => self.ctl.checkpoint = Some(checkpoint),
                Output::Notify(n) => {
                    self.notifications.push((self.now, n.clone()));
                    let at = self.now + self.world.knobs.notify_latency_ms;
                    self.queue.push(at, Ev::Notified { notification: n, incarnation: self.ctl.incarnation })?;
                }
            }
        }
        let engine = self.ctl.engine.as_ref().expect("present while draining");
        engine.check_invariants().map_err(|e| format!("engine invariant broken: {e}"))?;
        self.ensure_probing()
    }

    fn start_job(&mut self, req: JobRequest) -> Result<(), String> {
        let snapshot = self.ctl.engine.as_ref().expect("a running engine asked").snapshot().clone();
        let hook = snapshot.hook(req.hook);
        let call = Call {
            job: req.job,
            step: req.step,
            hook: hook.name.clone(),
            effect: req.named.clone(),
            fencing_token: req.fencing_token,
            incarnation: self.ctl.incarnation,
            reported: false,
            deadline_ms: 0,
        };
        let deadline = self.ctl.virt(req.deadline_ms).max(self.now);
        let call = Call { deadline_ms: deadline, ..call };
        match self.actuators.submit(call, hook.parallel_max) {
            Submitted::Started(id) => {
                self.queue.push(deadline, Ev::CallDeadline { id })?;
                self.begin_call(id)
            }
            Submitted::Queued(id) => self.queue.push(deadline, Ev::CallDeadline { id }),
            Submitted::Refused(message) => {
                let outcome = JobOutcome { job: req.job, step: req.step, ok: false, message, preview: None };
                self.queue.push(self.now, Ev::Deliver(Input::JobOutcome(outcome)))
            }
        }
    }

    /// A call got a slot: it takes the hook's latency (plus a reboot's downtime).
    fn begin_call(&mut self, id: u64) -> Result<(), String> {
        let call = &self.actuators.calls[&id];
        let knobs = self.world.knobs.hook(&call.hook).clone();
        let mut latency = knobs.latency_ms + self.rng.random_range(0..=knobs.jitter_ms);
        let mut fate = if self.rng.random_bool(knobs.failure_rate) { CallFate::Injected } else { CallFate::Completes };
        match self.world.call_blocked(call.step, &call.effect) {
            Some(Blocked::Unreachable) => {
                let lost_at = call.deadline_ms.max(self.now) + 1;
                return self.queue.push(lost_at, Ev::CallDone { id, fate: CallFate::Lost });
            }
            Some(Blocked::Refused(message)) => fate = CallFate::Refused(message),
            None => {}
        }
        if let (ward_core::journal::JobStep::Apply, ward_core::action::NamedAction::Maintain { nodes, .. }) = (call.step, &call.effect) {
            let until = self.now + self.world.knobs.reboot_ms;
            // A reboot call reports when the nodes are back, as a reboot script waits for them.
            latency = latency.max(self.world.knobs.reboot_ms + 1);
            for n in nodes.clone() {
                if let Some(i) = self.world.node_index(&n) {
                    self.world.nodes[i].alive = false;
                    self.world.nodes[i].rebooting_until_ms = Some(until);
                }
            }
            self.world.refresh_replication();
            self.queue.push(until, Ev::RebootDone { nodes: nodes.clone() })?;
        }
        self.queue.push(self.now + latency, Ev::CallDone { id, fate })
    }

    pub(super) fn call_done(&mut self, id: u64, fate: CallFate) -> Result<(), String> {
        let Some((call, next)) = self.actuators.finish(id) else {
            return Ok(());
        };
        if let Some(next) = next {
            self.begin_call(next)?;
        }
        let result = match fate {
            CallFate::Completes => {
                let result = self.world.complete_step(call.step, &call.effect);
                if result.ok && call.step == ward_core::journal::JobStep::Apply {
                    self.fire_armed(call.effect.kind())?;
                }
                result
            }
            CallFate::Injected => crate::world::StepResult::injected(),
            CallFate::Refused(message) => crate::world::StepResult::failed(message),
            CallFate::Lost => return Ok(()),
        };
        if call.reported || call.incarnation != self.ctl.incarnation {
            return Ok(());
        }
        let outcome = JobOutcome { job: call.job, step: call.step, ok: result.ok, message: result.message, preview: result.preview };
        self.deliver(Input::JobOutcome(outcome))
    }

    /// Fires the armed events waiting for an action of `kind` (now, in order).
    fn fire_armed(&mut self, kind: ward_core::action::ActionKind) -> Result<(), String> {
        let scenario = self.scenario;
        let now = self.now;
        self.armed.retain(|i| scenario.events[*i].armed_until_ms.is_none_or(|until| now <= until));
        let (fire, keep): (Vec<usize>, Vec<usize>) = self.armed.iter().partition(|i| scenario.events[**i].after_action == Some(kind));
        self.armed = keep;
        for i in fire {
            self.queue.push(self.now, Ev::Scenario(i))?;
        }
        Ok(())
    }

    /// The shell gives up on a step at its deadline; the call itself runs on.
    pub(super) fn call_deadline(&mut self, id: u64) -> Result<(), String> {
        let Some(call) = self.actuators.calls.get_mut(&id) else {
            return Ok(());
        };
        if call.reported || call.incarnation != self.ctl.incarnation {
            return Ok(());
        }
        call.reported = true;
        let outcome =
            JobOutcome { job: call.job, step: call.step, ok: false, message: format!("hook {} timed out", call.hook), preview: None };
        self.deliver(Input::JobOutcome(outcome))
    }

    pub(super) fn notified(&mut self, n: ward_core::engine::Notification, incarnation: u32) -> Result<(), String> {
        self.delivered.insert(n.id.0);
        if incarnation != self.ctl.incarnation {
            return Ok(());
        }
        self.deliver(Input::NotificationDelivered { notification: n.id, ok: true, error: None })
    }

    /// Starts probe rounds for (observer, check) pairs of a newly applied snapshot.
    fn ensure_probing(&mut self) -> Result<(), String> {
        let Some(engine) = self.ctl.engine.as_ref() else {
            return Ok(());
        };
        let snapshot = engine.snapshot().clone();
        if self.seen_snapshot.as_ref().is_some_and(|s| std::sync::Arc::ptr_eq(s, &snapshot)) {
            return Ok(());
        }
        for observer in snapshot.observers() {
            for check in snapshot.checks() {
                let key = (observer.name.clone(), check.name.clone());
                if self.probing.insert(key.clone()) {
                    let jitter = self.rng.random_range(0..=self.world.knobs.probe_jitter_ms.min(check.interval_ms));
                    self.queue.push(self.now + jitter, Ev::ProbeRound { observer: key.0, check: key.1 })?;
                }
            }
        }
        self.seen_snapshot = Some(snapshot);
        Ok(())
    }

    /// One observer probes every node of one check, then schedules its next round.
    pub(super) fn probe_round(&mut self, observer: String, check: String) -> Result<(), String> {
        let snapshot = match self.ctl.engine.as_ref() {
            Some(e) => e.snapshot().clone(),
            None => self.ctl.last_good.clone(),
        };
        let (Some(oid), Some(cid)) = (snapshot.observer_id(&observer), snapshot.check_id(&check)) else {
            self.probing.remove(&(observer, check));
            return Ok(());
        };
        let c = snapshot.check(cid).clone();
        let site = snapshot.site(snapshot.observer(oid).site).name.clone();
        for &node in &c.nodes {
            let Some(probe) = snapshot.probe_id(node, cid) else {
                continue;
            };
            let point = Point::Observer { name: &observer, site: &site };
            let r = self.world.probe(point, snapshot.node_name(node), &c, &mut self.rng);
            // An observer cut off from the controller probes on, but its reports are lost.
            if !self.world.links.reachable(point, self.world.controller_point()) {
                continue;
            }
            // Observers are separate processes: their clocks keep true time.
            let observer_clock_ms = Some(self.ctl.epoch_ms + self.now);
            let o = Observation {
                probe,
                observer: oid,
                at_ms: 0,
                outcome: r.outcome,
                latency_ms: r.latency_ms,
                detail: r.detail,
                observer_clock_ms,
            };
            self.deliver(Input::Observation(o))?;
        }
        self.queue.push(self.now + c.interval_ms.max(1), Ev::ProbeRound { observer, check })
    }

    /// The shell reads the inventory file and hands the engine the result.
    pub(super) fn read_inventory(&mut self, doc: &InventoryDoc) -> Result<(), String> {
        match loader::load(doc) {
            Ok(snapshot) => {
                self.ctl.last_good = snapshot.clone();
                self.deliver(Input::Inventory(snapshot))
            }
            Err(errors) => self.deliver(Input::InventoryRejected { source: loader::source(doc), errors }),
        }
    }
}
