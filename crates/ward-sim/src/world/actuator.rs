//! Actuators: one per hook, each running at most `parallel_max` calls at once and
//! queueing the rest. A call keeps running if the controller that started it
//! dies; its effect lands in the world all the same (seed 002).

use std::collections::{BTreeMap, VecDeque};

use ward_core::ids::JobId;
use ward_core::journal::JobStep;

use super::Effect;

#[derive(Clone, Debug)]
pub struct Call {
    pub job: JobId,
    pub step: JobStep,
    pub hook: String,
    pub effect: Effect,
    pub fencing_token: u64,
    /// The controller incarnation that started it; only it can hear the result.
    pub incarnation: u32,
    /// The shell has already reported this call (e.g. at its deadline).
    pub reported: bool,
    /// Virtual time at which the shell gives up on it.
    pub deadline_ms: u64,
}

#[derive(Debug, Default)]
struct HookQueue {
    running: u32,
    waiting: VecDeque<u64>,
    max_token: u64,
}

/// Calls waiting for a hook slot, per hook: a bound, not a tuning knob.
pub const WAITING_MAX: usize = 10_000;

#[derive(Debug, Default)]
pub struct Actuators {
    hooks: BTreeMap<String, HookQueue>,
    pub calls: BTreeMap<u64, Call>,
    next_id: u64,
}

pub enum Submitted {
    /// Started now; the runner schedules its completion.
    Started(u64),
    /// Waiting for a free slot.
    Queued(u64),
    /// Refused at once (a stale fencing token, or the queue is full).
    Refused(String),
}

impl Actuators {
    pub fn submit(&mut self, call: Call, parallel_max: u32) -> Submitted {
        let q = self.hooks.entry(call.hook.clone()).or_default();
        if call.fencing_token < q.max_token {
            return Submitted::Refused(format!(
                "fenced: token {} is older than {} already seen by hook {}",
                call.fencing_token, q.max_token, call.hook
            ));
        }
        q.max_token = call.fencing_token;
        if q.waiting.len() >= WAITING_MAX {
            return Submitted::Refused(format!("hook {} has {WAITING_MAX} calls waiting", call.hook));
        }
        self.next_id += 1;
        let id = self.next_id;
        let started = q.running < parallel_max.max(1);
        if started {
            q.running += 1;
        } else {
            q.waiting.push_back(id);
        }
        self.calls.insert(id, call);
        if started {
            Submitted::Started(id)
        } else {
            Submitted::Queued(id)
        }
    }

    /// Removes a finished call and starts the next waiting one on its hook.
    pub fn finish(&mut self, id: u64) -> Option<(Call, Option<u64>)> {
        let call = self.calls.remove(&id)?;
        let q = self.hooks.get_mut(&call.hook).expect("a call's hook has a queue");
        let next = q.waiting.pop_front();
        if next.is_none() {
            q.running = q.running.saturating_sub(1);
        }
        Some((call, next))
    }

    pub fn in_flight(&self) -> usize {
        self.calls.len()
    }
}
