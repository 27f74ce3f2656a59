//! What a job step does to the world when its actuator call completes. Actions
//! carry ids relative to the snapshot the engine had applied when it asked; they
//! are named at submission, so a later inventory cannot change them. A rollback
//! arrives as its concrete undo and is carried out like any apply.

use ward_core::action::{NamedAction, RepairOperation, SyncPreview};
use ward_core::journal::JobStep;

use super::World;

/// What a call carries out, with names: the engine's concrete action (for a
/// rollback, already its undo), resolved at submission.
pub type Effect = NamedAction;

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
    /// The call's target refused it; nothing changed.
    pub fn failed(message: impl Into<String>) -> StepResult {
        StepResult::fail(message)
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
            JobStep::Apply => self.apply(effect, true),
            JobStep::Rollback => self.apply(effect, false),
            JobStep::Verify => Ok(self.verify(effect)),
        };
        self.refresh_replication();
        result.unwrap_or_else(|e| e)
    }

    fn preview(&self, effect: &Effect) -> StepResult {
        let NamedAction::Sync { from, to, .. } = effect else {
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

    /// Carries out `effect`; `counted`: an apply (a move the metrics count), not
    /// the undo a rollback sends.
    fn apply(&mut self, effect: &Effect, counted: bool) -> Result<StepResult, StepResult> {
        match effect {
            NamedAction::MoveVip { service, to, .. } => {
                let s = self.service_or_fail(service)?;
                for old in self.services[s].holders.clone() {
                    self.release_vip(&old, s);
                }
                if let Some(i) = self.node_index(to) {
                    if self.nodes[i].route_script_broken {
                        self.nodes[i].egress_ok = false;
                    }
                }
                self.set_holders(s, vec![to.clone()]);
            }
            NamedAction::SetDnsTargets { service, to, .. } => {
                let s = self.service_or_fail(service)?;
                self.set_holders(s, to.clone());
            }
            NamedAction::Fence { node, .. } | NamedAction::Unfence { node, .. } => {
                let i = self.node_index(node).ok_or_else(|| StepResult::fail(format!("no node `{node}`")))?;
                self.nodes[i].writable = matches!(effect, NamedAction::Unfence { .. });
            }
            NamedAction::Promote { service, to, .. } => {
                let s = self.service_or_fail(service)?;
                let i = self.node_index(to).ok_or_else(|| StepResult::fail(format!("no node `{to}`")))?;
                if !self.nodes[i].alive {
                    return Err(StepResult::fail(format!("{to} is down: cannot promote it")));
                }
                self.note_promotion(s, i);
                self.nodes[i].writable = true;
                self.set_holders(s, vec![to.clone()]);
            }
            NamedAction::Sync { from, to, .. } => {
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
            NamedAction::Maintain { nodes, operation, .. } => {
                self.dirty = true;
                return Ok(StepResult::ok(format!("{operation} of {} done", nodes.join(", "))));
            }
            NamedAction::Repair { node, operation } => return self.repair(node, *operation),
            NamedAction::FailoverSite { .. } => return Err(StepResult::fail("a site failover is a decision, not an actuator call")),
        }
        if let (Some(service), true) = (effect.service_ref(), effect.is_move() && counted) {
            self.moves.push((self.now_ms, service.clone(), effect.kind().name()));
        }
        Ok(StepResult::ok(format!("{} {}", effect.kind(), if counted { "applied" } else { "rolled back" })))
    }

    /// `restart_replication` restarts a replica's stopped threads, as `STOP SLAVE;
    /// START SLAVE` does: it runs again (and flows if its source is reachable).
    fn repair(&mut self, node: &str, operation: RepairOperation) -> Result<StepResult, StepResult> {
        let RepairOperation::RestartReplication = operation;
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
            NamedAction::MoveVip { service, .. } | NamedAction::SetDnsTargets { service, .. } | NamedAction::Promote { service, .. } => {
                match self.service_index(service) {
                    Some(s) => self.services[s].holders.clone(),
                    None => return StepResult::fail(format!("no service `{service}`")),
                }
            }
            NamedAction::Unfence { node, .. } => {
                return match self.node_index(node) {
                    Some(i) if self.nodes[i].writable => StepResult::ok(format!("{node} accepts writes again")),
                    _ => StepResult::fail(format!("{node} still refuses writes")),
                }
            }
            NamedAction::Fence { node, .. } => {
                return match self.node_index(node) {
                    Some(i) if !self.nodes[i].writable => StepResult::ok(format!("{node} no longer accepts writes")),
                    _ => StepResult::fail(format!("{node} still accepts writes")),
                }
            }
            NamedAction::Sync { to, .. } => {
                return match self.node_index(to) {
                    Some(i) if self.nodes[i].tree_files >= self.tree_files_intact => StepResult::ok(format!("{to}'s tree is complete")),
                    _ => StepResult::fail(format!("{to}'s tree is incomplete after the sync")),
                }
            }
            NamedAction::Maintain { nodes, .. } => nodes.clone(),
            NamedAction::FailoverSite { .. } => return StepResult::fail("a site failover is a decision, not an actuator call"),
            NamedAction::Repair { node, .. } => {
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
