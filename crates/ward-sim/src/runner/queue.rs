//! The event queue: a bounded min-heap by (virtual time, sequence). The sequence
//! number makes ties resolve in insertion order, which keeps runs deterministic.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use ward_core::engine::Input;

/// How a call that got a slot ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallFate {
    /// It does its work in the world.
    Completes,
    /// The world injected a failure (`failure_rate`): nothing changed.
    Injected,
    /// Refused by its target with this message: nothing changed.
    Refused(String),
    /// It never answered; its slot frees after the deadline reported it.
    Lost,
}

#[derive(Debug)]
pub enum Ev {
    /// A scenario event that fires after Ward's next action of its kind starts waiting.
    Arm(usize),
    /// The scenario's event at this index fires.
    Scenario(usize),
    /// A flapping link goes down (cut) or up (healed).
    Flap {
        key: usize,
        down: bool,
    },
    HealCut(u64),
    ProbeRound {
        observer: String,
        check: String,
    },
    Tick {
        generation: u64,
    },
    CallDone {
        id: u64,
        fate: CallFate,
    },
    CallDeadline {
        id: u64,
    },
    Notified {
        notification: ward_core::engine::Notification,
        incarnation: u32,
    },
    /// An input to hand the controller now (an actuator's immediate refusal).
    Deliver(Input),
    /// A torn read is over: the writer finished, the reader sees the whole file.
    InventoryWritten,
    /// Rebooting nodes come back.
    RebootDone {
        nodes: Vec<String>,
    },
    Resume,
    /// The agent on this node renews its lease and decides.
    AgentRenew {
        node: usize,
    },
    Restart,
    End,
}

struct Entry {
    at_ms: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at_ms, self.seq) == (o.at_ms, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at_ms, self.seq).cmp(&(o.at_ms, o.seq))
    }
}

/// Pending events at once: far above any scenario's need, low enough to catch a runaway.
pub const QUEUE_MAX: usize = 1_000_000;

#[derive(Default)]
pub struct Queue {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

impl Queue {
    pub fn push(&mut self, at_ms: u64, ev: Ev) -> Result<(), String> {
        if self.heap.len() >= QUEUE_MAX {
            return Err(format!("event queue full ({QUEUE_MAX} pending events)"));
        }
        self.seq += 1;
        self.heap.push(Reverse(Entry { at_ms, seq: self.seq, ev }));
        Ok(())
    }

    pub fn pop(&mut self) -> Option<(u64, Ev)> {
        self.heap.pop().map(|Reverse(e)| (e.at_ms, e.ev))
    }
}
