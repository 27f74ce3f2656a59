//! What a job step does to the world when its actuator call completes. Actions
//! carry ids relative to the snapshot the engine had applied when it asked; they
//! are resolved to names at submission, so a later inventory cannot change them.

use ward_core::action::{Action, SyncPreview};
use ward_core::inventory::Snapshot;
use ward_core::journal::JobStep;

use super::World;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    MoveVip { service: String, from: Option<String>, to: String },
    SetTargets { service: String, from: Vec<String>, to: Vec<String> },
    Fence { service: String, node: String },
    Promote { service: String, from: Option<String>, to: String },
    Sync { service: String, from: String, to: String },
    Maintain { nodes: Vec<String>, operation: String },
    Repair { node: String, operation: String },
}

impl Effect {
    pub fn from_action(action: &Action, snapshot: &Snapshot) -> Effect {
        let n = |id: ward_core::ids::NodeId| snapshot.node_name(id).to_string();
        let s = |id: ward_core::ids::ServiceId| snapshot.service_name(id).to_string();
        match action {
            Action::MoveVip { service, from, to } => Effect::MoveVip { service: s(*service), from: from.map(n), to: n(*to) },
            Action::SetDnsTargets { service, from, to } => Effect::SetTargets {
                service: s(*service),
                from: from.iter().map(|&x| n(x)).collect(),
                to: to.iter().map(|&x| n(x)).collect(),
            },
            Action::Fence { service, node } => Effect::Fence { service: s(*service), node: n(*node) },
            Action::Promote { service, from, to } => Effect::Promote { service: s(*service), from: from.map(n), to: n(*to) },
            Action::Sync { service, from, to, .. } => Effect::Sync { service: s(*service), from: n(*from), to: n(*to) },
            Action::Maintain { nodes, operation, .. } => {
                Effect::Maintain { nodes: nodes.iter().map(|&x| n(x)).collect(), operation: operation.clone() }
            }
            Action::Repair { node, operation } => Effect::Repair { node: n(*node), operation: operation.clone() },
        }
    }

    pub fn is_move(&self) -> bool {
        matches!(self, Effect::MoveVip { .. } | Effect::SetTargets { .. } | Effect::Promote { .. })
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            Effect::MoveVip { .. } => "move_vip",
            Effect::SetTargets { .. } => "set_dns_targets",
            Effect::Fence { .. } => "fence",
            Effect::Promote { .. } => "promote",
            Effect::Sync { .. } => "sync",
            Effect::Maintain { .. } => "maintain",
            Effect::Repair { .. } => "repair",
        }
    }
}

/// A completed call's result, before the shell turns it into a `JobOutcome`.
pub struct StepResult {
    pub ok: bool,
    pub message: String,
    pub preview: Option<SyncPreview>,
}

impl StepResult {
    /// An actuator failure the world injected (`failure_rate`); nothing changed.
    pub fn injected() -> StepResult {
        StepResult::fail("actuator error: HTTP 503 from the provider API")
    }
    fn ok(message: impl Into<String>) -> StepResult {
        StepResult { ok: true, message: message.into(), preview: None }
    }
    fn fail(message: impl Into<String>) -> StepResult {
        StepResult { ok: false, message: message.into(), preview: None }
    }
}

/// Paths shown as a preview's sample: how many the operator sees.
const DELETED_SAMPLE_MAX: u32 = 5;

impl World {
    fn service_or_fail(&self, name: &str) -> Result<usize, StepResult> {
        self.service_index(name).ok_or_else(|| StepResult::fail(format!("no service `{name}` in the world")))
    }

    /// A node gives up a VIP; once it holds none, a broken transition script's
    /// missing route no longer matters (it is a backup again).
    fn release_vip(&mut self, node: &str, service: usize) {
        let still_holds = self
            .services
            .iter()
            .enumerate()
            .any(|(i, s)| i != service && s.kind == ward_core::inventory::ServiceKind::Vip && s.holders.iter().any(|h| h == node));
        if let Some(i) = self.node_index(node) {
            if self.nodes[i].route_script_broken && !still_holds {
                self.nodes[i].egress_ok = true;
            }
        }
    }

    /// Runs one step's effect now (the call has completed).
    pub fn complete_step(&mut self, step: JobStep, effect: &Effect) -> StepResult {
        let result = match step {
            JobStep::Preview => Ok(self.preview(effect)),
            JobStep::Apply => self.apply(effect, false),
            JobStep::Rollback => self.apply(effect, true),
            JobStep::Verify => Ok(self.verify(effect)),
        };
        self.refresh_replication();
        result.unwrap_or_else(|e| e)
    }

    fn preview(&self, effect: &Effect) -> StepResult {
        let Effect::Sync { from, to, .. } = effect else {
            return StepResult::ok("nothing to preview");
        };
        let files = |n: &str| self.node_index(n).map_or(0, |i| self.nodes[i].tree_files);
        let (source, target) = (files(from), files(to));
        let deleted = target.saturating_sub(source);
        let preview = SyncPreview {
            files_added: source.saturating_sub(target),
            files_changed: 0,
            files_deleted: deleted,
            deleted_sample: (0..deleted.min(DELETED_SAMPLE_MAX))
                .map(|i| format!("/srv/tree/{}", ["wikiversions.php", "php-1.27", "docroot", "w", "private"][i as usize]))
                .collect(),
        };
        StepResult { ok: true, message: format!("sync {from} -> {to} would delete {deleted} of {target} files"), preview: Some(preview) }
    }

    fn apply(&mut self, effect: &Effect, rollback: bool) -> Result<StepResult, StepResult> {
        match effect {
            Effect::MoveVip { service, from, to } => {
                let s = self.service_or_fail(service)?;
                let target = if rollback { from.clone() } else { Some(to.clone()) };
                for old in self.services[s].holders.clone() {
                    self.release_vip(&old, s);
                }
                if let Some(i) = target.as_deref().and_then(|t| self.node_index(t)) {
                    if self.nodes[i].route_script_broken {
                        self.nodes[i].egress_ok = false;
                    }
                }
                self.set_holders(s, target.into_iter().collect());
            }
            Effect::SetTargets { service, from, to } => {
                let s = self.service_or_fail(service)?;
                self.set_holders(s, if rollback { from.clone() } else { to.clone() });
            }
            Effect::Fence { node, .. } => {
                let i = self.node_index(node).ok_or_else(|| StepResult::fail(format!("no node `{node}`")))?;
                self.nodes[i].writable = rollback;
            }
            Effect::Promote { service, from, to } => {
                let s = self.service_or_fail(service)?;
                let (up, down) = if rollback { (from.clone(), Some(to.clone())) } else { (Some(to.clone()), None) };
                if let Some(up) = &up {
                    let i = self.node_index(up).ok_or_else(|| StepResult::fail(format!("no node `{up}`")))?;
                    if !self.nodes[i].alive {
                        return Err(StepResult::fail(format!("{up} is down: cannot promote it")));
                    }
                    self.nodes[i].writable = true;
                }
                if let Some(i) = down.and_then(|d| self.node_index(&d)) {
                    self.nodes[i].writable = false;
                }
                self.set_holders(s, up.into_iter().collect());
            }
            Effect::Sync { from, to, .. } => {
                if rollback {
                    return Err(StepResult::fail("a sync cannot be rolled back"));
                }
                let (f, t) = match (self.node_index(from), self.node_index(to)) {
                    (Some(f), Some(t)) => (f, t),
                    _ => return Err(StepResult::fail("unknown sync node")),
                };
                if !self.nodes[f].alive || !self.nodes[t].alive {
                    return Err(StepResult::fail("rsync: connection refused"));
                }
                self.nodes[t].tree_files = self.nodes[f].tree_files;
                self.dirty = true;
            }
            // The reboot itself was started when the call began (the runner brings
            // the nodes back after `world.reboot`); the call only reports.
            Effect::Maintain { nodes, operation } => {
                self.dirty = true;
                return Ok(StepResult::ok(format!("{operation} of {} done", nodes.join(", "))));
            }
            Effect::Repair { node, operation } => return self.repair(node, operation, rollback),
        }
        if effect.is_move() && !rollback {
            let service = match effect {
                Effect::MoveVip { service, .. } | Effect::SetTargets { service, .. } | Effect::Promote { service, .. } => service,
                _ => unreachable!("is_move"),
            };
            self.moves.push((self.now_ms, service.clone(), effect.kind_name()));
        }
        Ok(StepResult::ok(format!("{} {}", effect.kind_name(), if rollback { "rolled back" } else { "applied" })))
    }

    /// `restart_replication` restarts a replica's stopped threads, as `STOP SLAVE;
    /// START SLAVE` does: it runs again (and flows if its source is reachable).
    fn repair(&mut self, node: &str, operation: &str, rollback: bool) -> Result<StepResult, StepResult> {
        if rollback || operation != ward_core::action::RESTART_REPLICATION {
            return Err(StepResult::fail(format!("the simulator has no repair for {operation} on {node}")));
        }
        let i = self.node_index(node).ok_or_else(|| StepResult::fail(format!("no node `{node}`")))?;
        if !self.nodes[i].alive {
            return Err(StepResult::fail(format!("{node} is down: cannot restart its replication")));
        }
        let replica = self
            .replicas
            .get_mut(&i)
            .ok_or_else(|| StepResult::fail(format!("the simulator has no repair for {node}: it does not replicate")))?;
        replica.running = true;
        replica.last_error = None;
        self.dirty = true;
        Ok(StepResult::ok(format!("replication on {node} restarted")))
    }

    /// End-to-end verification: the service's holders answer clients, answers
    /// included (seed 004); for maintenance, the nodes came back healthy.
    fn verify(&self, effect: &Effect) -> StepResult {
        let check = |names: &[String]| -> Option<String> {
            names.iter().find_map(|n| match self.node_index(n) {
                Some(i) if self.serves(i) => None,
                Some(i) if !self.nodes[i].egress_ok => Some(format!("{n} answers but replies cannot get out (no default route)")),
                _ => Some(format!("{n} does not answer end to end")),
            })
        };
        let holders: Vec<String> = match effect {
            Effect::MoveVip { service, .. } | Effect::SetTargets { service, .. } | Effect::Promote { service, .. } => {
                match self.service_index(service) {
                    Some(s) => self.services[s].holders.clone(),
                    None => return StepResult::fail(format!("no service `{service}`")),
                }
            }
            Effect::Fence { node, .. } => {
                return match self.node_index(node) {
                    Some(i) if !self.nodes[i].writable => StepResult::ok(format!("{node} no longer accepts writes")),
                    _ => StepResult::fail(format!("{node} still accepts writes")),
                }
            }
            Effect::Sync { to, .. } => {
                return match self.node_index(to) {
                    Some(i) if self.nodes[i].tree_files >= self.tree_files_intact => StepResult::ok(format!("{to}'s tree is complete")),
                    _ => StepResult::fail(format!("{to}'s tree is incomplete after the sync")),
                }
            }
            Effect::Maintain { nodes, .. } => nodes.clone(),
            Effect::Repair { node, .. } => {
                return match self.node_index(node).and_then(|i| self.replicas.get(&i)) {
                    Some(r) if r.running => StepResult::ok(format!("replication on {node} runs")),
                    _ => StepResult::fail(format!("replication on {node} is still stopped")),
                }
            }
        };
        if holders.is_empty() {
            return StepResult::fail("nobody holds the service");
        }
        match check(&holders) {
            None => StepResult::ok(format!("verified end to end on {}", holders.join(", "))),
            Some(why) => StepResult::fail(why),
        }
    }
}
