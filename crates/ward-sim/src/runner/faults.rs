//! Scenario events as the runner carries them out: world faults go to the world;
//! links, the inventory file, the controller process and operators are handled here.

use rand::Rng;
use ward_core::engine::{Command, Input};

use super::queue::Ev;
use super::{loader, Run};
use crate::scenario::{Endpoint, Fault, OperatorCommand};

/// Flap transitions one link event may schedule: a bound on a random schedule.
const FLAP_TRANSITIONS_MAX: usize = 10_000;

impl Run<'_> {
    pub(super) fn scenario_event(&mut self, index: usize) -> Result<(), String> {
        let event = self.scenario.events[index].clone();
        let touched = self.touched_nodes(&event.fault);
        let sentence = match &event.fault {
            Fault::LinkFlap { cut, until_ms, up, random } => {
                self.schedule_flap(index, cut.clone(), *until_ms, up, *random)?;
                format!("link {cut} starts flapping")
            }
            Fault::Partition { cut, duration_ms } => {
                let id = self.world.links.cut(cut.clone())?;
                self.world.refresh_replication();
                if let Some(d) = duration_ms {
                    self.queue.push(self.now + d, Ev::HealCut(id))?;
                }
                format!("partition: {cut}")
            }
            Fault::NodeFreeze { nodes, duration_ms } => {
                for node in nodes {
                    let i = self.world.node_index(node).ok_or_else(|| format!("no node named `{node}` in the scenario's inventory"))?;
                    let cut = crate::scenario::Cut { a: Endpoint::Node(node.clone()), b: Endpoint::Rest };
                    let id = self.world.links.cut(cut)?;
                    self.queue.push(self.now + duration_ms, Ev::HealCut(id))?;
                    // Overlapping freezes: the host wakes when the last one ends.
                    let until = self.now + duration_ms;
                    if let Some(agent) = self.world.agents.get_mut(&i) {
                        agent.frozen_until_ms = Some(agent.frozen_until_ms.map_or(until, |u| u.max(until)));
                    }
                }
                self.world.refresh_replication();
                format!("{} frozen for {}", nodes.join(", "), ward_core::time::human_duration(*duration_ms))
            }
            Fault::Heal { cut } => {
                self.world.links.heal(cut.as_ref());
                self.world.refresh_replication();
                cut.as_ref().map_or("all partitions healed".into(), |c| format!("healed: {c}"))
            }
            Fault::InventoryTorn { torn, duration_ms } => {
                let doc = loader::torn(&self.doc, torn);
                self.queue.push(self.now + duration_ms, Ev::InventoryWritten)?;
                self.log_fault(touched, "the inventory is read while it is being written (torn read)".into());
                return self.read_inventory(&doc);
            }
            Fault::InventoryReplace { doc } => {
                self.doc = doc.clone();
                self.log_fault(touched, format!("the inventory file is replaced ({})", loader::source(doc)));
                return self.read_inventory(&self.doc.clone());
            }
            Fault::ControllerCrash { restart_after_ms } => {
                self.ctl.crash()?;
                self.tick_at = None;
                if let Some(d) = restart_after_ms {
                    self.queue.push(self.now + d, Ev::Restart)?;
                }
                "the controller crashed".into()
            }
            Fault::ControllerRestart => {
                self.log_fault(touched, "the controller is restarted".into());
                return self.restart();
            }
            Fault::ControllerPause { duration_ms, clock_frozen } => {
                if self.ctl.engine.is_some() {
                    self.ctl.paused_until_ms = Some(self.now + duration_ms);
                    self.queue.push(self.now + duration_ms, Ev::Resume)?;
                    if *clock_frozen {
                        self.ctl.offset_ms -= *duration_ms as i64;
                    }
                }
                format!("the controller is paused for {}", ward_core::time::human_duration(*duration_ms))
            }
            Fault::ClockJump { jump_ms } => {
                self.ctl.offset_ms += jump_ms;
                format!(
                    "the controller's clock jumps by {}{}",
                    if *jump_ms < 0 { "-" } else { "+" },
                    ward_core::time::human_duration(jump_ms.unsigned_abs())
                )
            }
            Fault::Operator { author, command } => return self.operator(author, command),
            world_fault => self.world.apply_fault(world_fault).map_err(|e| format!("{}: event[{index}]: {e}", self.scenario.file))?,
        };
        let sentence = match &event.note {
            Some(note) => format!("{sentence} ({note})"),
            None => sentence,
        };
        self.log_fault(touched, sentence);
        Ok(())
    }

    fn log_fault(&mut self, touched: Vec<String>, sentence: String) {
        self.timeline.world(self.now, sentence.clone());
        self.faults.push((self.now, touched, sentence));
    }

    /// Node names a fault concerns, to tell which later decision is about it.
    fn touched_nodes(&self, fault: &Fault) -> Vec<String> {
        let endpoint_nodes = |e: &Endpoint| -> Vec<String> {
            match e {
                Endpoint::Node(n) => vec![n.clone()],
                Endpoint::Site(s) => self.world.nodes.iter().filter(|n| &n.site == s).map(|n| n.name.clone()).collect(),
                _ => Vec::new(),
            }
        };
        match fault {
            Fault::LinkFlap { cut, .. } | Fault::Partition { cut, .. } => [endpoint_nodes(&cut.a), endpoint_nodes(&cut.b)].concat(),
            Fault::NodeCrash { nodes } | Fault::NodeFreeze { nodes, .. } => nodes.clone(),
            Fault::ReplicationBreak { node, .. }
            | Fault::ReplicationSilentStop { node }
            | Fault::ReplicationLag { node, .. }
            | Fault::DiskFillRate { node, .. }
            | Fault::EgressBroken { node }
            | Fault::Misconfigured { node, .. } => vec![node.clone()],
            _ => Vec::new(),
        }
    }

    fn schedule_flap(
        &mut self,
        key: usize,
        cut: crate::scenario::Cut,
        until_ms: u64,
        up: &[(u64, u64)],
        random: Option<(u64, u64)>,
    ) -> Result<(), String> {
        self.flaps.insert(key, (cut, None));
        let mut transitions = vec![(self.now, true)];
        match random {
            Some((min, max)) => {
                let mut t = self.now;
                let mut down = true;
                while t < until_ms && transitions.len() < FLAP_TRANSITIONS_MAX {
                    t += self.rng.random_range(min..=max);
                    down = !down;
                    transitions.push((t.min(until_ms), down));
                }
            }
            None => {
                for &(a, b) in up {
                    transitions.push((a, false));
                    transitions.push((b, true));
                }
            }
        }
        transitions.push((until_ms, false));
        for (at, down) in transitions {
            self.queue.push(at, Ev::Flap { key, down })?;
        }
        Ok(())
    }

    pub(super) fn flap(&mut self, key: usize, down: bool) -> Result<(), String> {
        let Some((cut, active)) = self.flaps.get_mut(&key) else {
            return Ok(());
        };
        match (down, *active) {
            (true, None) => *active = Some(self.world.links.cut(cut.clone())?),
            (false, Some(id)) => {
                self.world.links.heal_id(id);
                *active = None;
            }
            _ => return Ok(()),
        }
        let sentence = format!("link {cut} {}", if down { "down" } else { "up" });
        self.world.refresh_replication();
        self.timeline.world_detail(self.now, sentence);
        Ok(())
    }

    /// A pause ends: the controller's clock has moved on (or not, if it froze) and
    /// everything that queued up arrives at once.
    pub(super) fn resume(&mut self) -> Result<(), String> {
        if self.ctl.paused_until_ms.take().is_none() {
            return Ok(());
        }
        self.timeline.world(self.now, "the controller resumes; queued inputs arrive at once".into());
        let buffered: Vec<Input> = self.ctl.buffered.drain(..).collect();
        for input in buffered {
            self.deliver(input)?;
        }
        self.deliver(Input::Tick)?;
        self.schedule_tick()
    }

    pub(super) fn restart(&mut self) -> Result<(), String> {
        if self.ctl.engine.is_some() {
            return Ok(());
        }
        let snapshot = loader::load(&self.doc).unwrap_or_else(|_| self.ctl.last_good.clone());
        self.ctl.restart(snapshot, self.now);
        self.seen_snapshot = None;
        self.drain()?;
        self.schedule_tick()
    }

    pub(super) fn operator(&mut self, author: &str, command: &OperatorCommand) -> Result<(), String> {
        let author = author.to_string();
        let now = self.ctl.now(self.now);
        if !self.ctl.running() {
            self.timeline.world(self.now, format!("{author}: {command:?} — the controller is not running"));
            return Ok(());
        }
        let engine = self.ctl.engine.as_ref().expect("running");
        let commands: Vec<Command> = match command.clone() {
            OperatorCommand::Hold { target, reason, until_ms } => {
                vec![Command::Hold { target, author: author.clone(), reason, until_ms: until_ms.map(|u| self.ctl.now(u)) }]
            }
            OperatorCommand::Release { target } => vec![Command::Release { target, author: author.clone() }],
            OperatorCommand::Approve { matching } => engine
                .pending_approvals()
                .into_iter()
                .filter(|p| p.summary.contains(&matching) || p.reasons.iter().any(|r| r.contains(&matching)))
                .map(|p| Command::Approve { decision: p.decision, author: author.clone() })
                .collect(),
            OperatorCommand::Reject { matching, reason } => engine
                .pending_approvals()
                .into_iter()
                .filter(|p| p.summary.contains(&matching))
                .map(|p| Command::Reject { decision: p.decision, author: author.clone(), reason: reason.clone() })
                .collect(),
            OperatorCommand::Ack { cause_prefix } => engine
                .alerts()
                .into_iter()
                .filter(|a| a.cause.starts_with(&cause_prefix) && a.acked_by.is_none() && a.resolved_ms.is_none())
                .map(|a| Command::Ack { alert: a.id, author: author.clone() })
                .collect(),
            OperatorCommand::Drain { node } => vec![Command::Drain { node, author: author.clone() }],
            OperatorCommand::Undrain { node } => vec![Command::Undrain { node, author: author.clone() }],
            OperatorCommand::Sync { service, from, to } => vec![Command::Sync { service, from, to, author: author.clone() }],
            OperatorCommand::Switchover { service, to } => vec![Command::Switchover { service, to, author: author.clone() }],
            OperatorCommand::Rollout { nodes, batch_size, operation, scope } => {
                vec![Command::Rollout { nodes, batch_size, operation, author: author.clone(), scope }]
            }
            OperatorCommand::RolloutControl { control } => vec![Command::RolloutControl { control, author: author.clone() }],
        };
        if commands.is_empty() {
            self.timeline.world(self.now, format!("{author}: {command:?} — nothing matched"));
            // An empty `matching` means "whatever is pending, if anything".
            let named = match command {
                OperatorCommand::Approve { matching } | OperatorCommand::Reject { matching, .. } => Some(matching),
                _ => None,
            };
            if let Some(matching) = named.filter(|m| !m.is_empty()) {
                let pending: Vec<String> = engine.pending_approvals().iter().map(|p| p.summary.clone()).collect();
                self.unmatched.push((
                    self.now,
                    format!(
                        "{author}'s {} matching {matching:?} matched no pending approval (pending: {})",
                        if matches!(command, OperatorCommand::Approve { .. }) { "approve" } else { "reject" },
                        if pending.is_empty() { "none".into() } else { pending.join("; ") }
                    ),
                ));
            }
        }
        for command in commands {
            let summary = crate::timeline::command_summary(&command);
            let answer = self.ctl.engine.as_mut().expect("running").command(now, command);
            let line = match answer {
                Ok(s) => format!("{author} {summary}: {s}"),
                Err(e) => format!("{author} {summary}: refused: {e}"),
            };
            self.timeline.operator(self.now, line);
            self.drain()?;
        }
        self.schedule_tick()
    }
}
