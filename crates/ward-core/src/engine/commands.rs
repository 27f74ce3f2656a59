//! Operator commands. Each is checked against the snapshot in force; a bad one
//! changes nothing and says what is wrong and how to fix it.

use crate::action::{Action, Cause, NamedAction, SyncPreview};
use crate::engine::io::{Command, HoldTarget};
use crate::engine::plan::Wanted;
use crate::engine::Engine;
use crate::ids::*;
use crate::inventory::ServiceKind;
use crate::journal::JournalEvent;
use crate::state::Pending;
use crate::time::TimeMs;

impl Engine {
    /// Runs an operator command; the answer is a sentence for the operator.
    pub fn command(&mut self, now_ms: TimeMs, command: Command) -> Result<String, String> {
        // A command may change what is wanted (a hold, an approval, a rollout): plan soon.
        self.plan_soon(now_ms);
        let answer = self.run_command(now_ms, command);
        self.checkpoint_if_due();
        answer
    }

    fn run_command(&mut self, now_ms: TimeMs, command: Command) -> Result<String, String> {
        let answer = match command {
            Command::Hold { target, author, reason, until_ms } => {
                self.check_target(&target)?;
                if reason.trim().is_empty() {
                    return Err("a hold needs a reason (who else will know why it is there?)".into());
                }
                let text = if target == HoldTarget::Fleet {
                    format!(
                        "the whole fleet is frozen by {author}: Ward takes no automatic action (failover, DNS change, repair, rollout batch) until `ward release --all`; your own explicit commands still act"
                    )
                } else {
                    format!("{target} is held by {author}: automation will not send it traffic or change it until released")
                };
                self.record(now_ms, JournalEvent::HoldPlaced { target: target.clone(), author, reason, until_ms });
                text
            }
            Command::Release { target, author } => {
                if !self.durable.holds.iter().any(|h| h.target == target) {
                    let held: Vec<String> = self.durable.holds.iter().map(|h| h.target.to_string()).collect();
                    return Err(format!(
                        "there is no hold on {target}; current holds: {}",
                        if held.is_empty() { "none".into() } else { held.join(", ") }
                    ));
                }
                self.record(now_ms, JournalEvent::HoldReleased { target: target.clone(), author });
                format!("released the hold on {target}")
            }
            Command::Approve { decision, author } => return self.approve(now_ms, decision, author),
            Command::Reject { decision, author, reason } => {
                if !self.durable.pending.contains_key(&decision) {
                    return Err(self.no_such_pending(decision));
                }
                let _ = self.take_held_inventory(decision);
                self.record(now_ms, JournalEvent::Rejected { decision, author, reason });
                format!("rejected decision {}", decision.0)
            }
            Command::Drain { node, author } => {
                self.node_named(&node)?;
                if self.durable.drained.contains_key(&node) {
                    return Ok(format!("{node} is already drained"));
                }
                self.record(now_ms, JournalEvent::Drained { node: node.clone(), author });
                format!("{node} is drained: Ward moves its services to other nodes and sends it nothing new")
            }
            Command::Undrain { node, author } => {
                self.node_named(&node)?;
                if !self.durable.drained.contains_key(&node) {
                    return Err(format!("{node} is not drained"));
                }
                self.record(now_ms, JournalEvent::Undrained { node: node.clone(), author });
                format!("{node} may take traffic again once it is healthy")
            }
            Command::Ack { alert, author } => {
                let Some(open) = self.durable.alerts.values().find(|a| a.id == alert) else {
                    let open: Vec<String> = self.durable.alerts.values().map(|a| a.id.0.to_string()).collect();
                    return Err(format!(
                        "alert {} is not open; open alerts: {}",
                        alert.0,
                        if open.is_empty() { "none".into() } else { open.join(", ") }
                    ));
                };
                let title = open.title.clone();
                self.record(now_ms, JournalEvent::Acknowledged { alert, author });
                format!("acknowledged alert {}: {title}; it will not escalate further", alert.0)
            }
            Command::Sync { service, from, to, author } => {
                let id = self.service_named(&service)?;
                if self.snapshot.service(id).kind != ServiceKind::Sync {
                    return Err(format!("{service} is a {} service; only sync services can sync", self.snapshot.service(id).kind.name()));
                }
                let (from_id, to_id) = (self.node_named(&from)?, self.node_named(&to)?);
                if from_id == to_id {
                    return Err("a sync needs two different nodes".into());
                }
                let action = Action::Sync { service: id, from: from_id, to: to_id, preview: SyncPreview::default() };
                return self.decide_operator_action(now_ms, action, author, true);
            }
            Command::Switchover { service, to, author } => {
                let id = self.service_named(&service)?;
                let to_id = self.node_named(&to)?;
                if !self.snapshot.service(id).candidates.contains(&to_id) {
                    return Err(format!("{to} is not a candidate of {service}"));
                }
                let from = self.placement(id).first().copied();
                if from == Some(to_id) {
                    return Ok(format!("{service} is already on {to}"));
                }
                let action = match self.snapshot.service(id).kind {
                    ServiceKind::Vip => Action::MoveVip { service: id, from, to: to_id },
                    ServiceKind::Primary => match from {
                        Some(old) if !self.durable.fenced.contains(&(service.clone(), self.snapshot.node_name(old).to_string())) => {
                            self.record(
                                now_ms,
                                JournalEvent::SwitchoverRequested { service: service.clone(), to: to.clone(), author: author.clone() },
                            );
                            Action::Fence { service: id, node: old }
                        }
                        _ => Action::Promote { service: id, from, to: to_id },
                    },
                    kind => return Err(format!("{service} is a {} service; switchover applies to vip and primary services", kind.name())),
                };
                return self.decide_operator_action(now_ms, action, author, false);
            }
            Command::Rollout { nodes, batch_size, operation, author, scope } => {
                if nodes.is_empty() || batch_size == 0 {
                    return Err("a rollout needs at least one node and a batch size of at least 1".into());
                }
                for node in &nodes {
                    self.node_named(node)?;
                }
                if self.snapshot.hook_id(&operation).is_none() {
                    return Err(format!(
                        "no [[hook]] named {operation:?}: a rollout runs the hook named after its operation; add one that performs it and returns when the nodes are back"
                    ));
                }
                if let Some(running) = self.durable.rollouts.values().find(|r| r.state.active()) {
                    return Err(format!("rollout {} is still in progress; wait for it, or `ward rollout pause|cancel` it", running.id));
                }
                if let Some(percent) = scope.pool_percent_max.filter(|p| *p > 100) {
                    return Err(format!("a pool share of {percent}% is not a percentage (0 to 100)"));
                }
                let rollout = self.durable.next_rollout;
                let text = format!(
                    "rollout {rollout}: {operation} on {} node(s) in batches of {batch_size}, halting at the first failed verification",
                    nodes.len()
                );
                self.record(now_ms, JournalEvent::RolloutStarted { rollout, nodes, batch_size, operation, author, scope });
                // An over-broad rollout is refused now, as a decision, before anything is drained.
                if let Some(sentence) = self.refuse_if_over_broad(now_ms, rollout) {
                    return Err(sentence);
                }
                text
            }
            Command::RolloutControl { control, author } => return self.control_rollout(now_ms, control, author),
        };
        Ok(answer)
    }

    fn approve(&mut self, now_ms: TimeMs, decision: DecisionId, author: String) -> Result<String, String> {
        let Some(pending) = self.durable.pending.get(&decision).cloned() else {
            return Err(self.no_such_pending(decision));
        };
        self.record(now_ms, JournalEvent::Approved { decision, author: author.clone() });
        match pending.pending {
            Pending::Inventory { hash, .. } => {
                let Some(snapshot) = self.take_held_inventory(decision) else {
                    return Err(format!("inventory {hash} is no longer waiting (superseded)"));
                };
                self.apply_inventory(now_ms, snapshot);
                Ok(format!("inventory {} is now in force", &hash[..hash.len().min(12)]))
            }
            Pending::Action { action, .. } => {
                // Operator-requested syncs are carried out now; automatic moves are
                // taken up by the next planning round if they are still wanted.
                if let NamedAction::Sync { .. } = action {
                    if let Some(resolved) = self.snapshot.resolve_action(&action) {
                        return self.decide_operator_action(now_ms, resolved, author, false);
                    }
                }
                Ok(format!("approved decision {}; Ward carries it out in the next planning round if it is still wanted", decision.0))
            }
        }
    }

    /// Judges and (if allowed) starts an operator's action right away.
    pub(crate) fn decide_operator_action(
        &mut self,
        now_ms: TimeMs,
        action: Action,
        author: String,
        preview_first: bool,
    ) -> Result<String, String> {
        let what = self.describe(&action);
        self.defer_starts();
        let wanted =
            Wanted { action, cause: Cause::Operator { author }, summary: "requested by an operator".into(), preview_first, prepares: None };
        let next_decision = self.durable.next_decision;
        let started = self.decide(now_ms, wanted);
        self.start_queued_jobs(now_ms);
        self.flush_deferred_starts();
        let decision = if self.durable.next_decision > next_decision { next_decision } else { next_decision.saturating_sub(1) };
        match (started, self.last_plan.last()) {
            (Some(_), _) => Ok(format!("started: {what}")),
            (None, Some(planned)) => {
                let reasons = planned.verdict.reasons().join(" ");
                match planned.verdict.outcome {
                    crate::action::Outcome::NeedsApproval => {
                        Ok(format!("waiting for approval (decision {decision}; `ward approve {decision}`): {what}. {reasons}"))
                    }
                    _ => Err(format!("decision {decision}, {what}: {reasons}")),
                }
            }
            (None, None) => Err(format!("nothing to do for {what}")),
        }
    }

    fn no_such_pending(&self, decision: DecisionId) -> String {
        let pending: Vec<String> = self.durable.pending.keys().map(|d| d.0.to_string()).collect();
        format!(
            "decision {} is not waiting for approval; pending decisions: {}",
            decision.0,
            if pending.is_empty() { "none".into() } else { pending.join(", ") }
        )
    }

    fn check_target(&self, target: &HoldTarget) -> Result<(), String> {
        match target {
            HoldTarget::Fleet => Ok(()),
            HoldTarget::Node(n) => self.node_named(n).map(|_| ()),
            HoldTarget::Service(s) => self.service_named(s).map(|_| ()),
            HoldTarget::Site(s) => self.snapshot.site_id(s).map(|_| ()).ok_or_else(|| {
                format!(
                    "no site named {s:?}; sites: {}",
                    self.snapshot.sites().iter().map(|x| x.name.as_str()).collect::<Vec<_>>().join(", ")
                )
            }),
        }
    }

    fn node_named(&self, name: &str) -> Result<NodeId, String> {
        self.snapshot.node_id(name).ok_or_else(|| {
            format!("no node named {name:?} in inventory {}; check `ward status` for node names", self.snapshot.short_hash())
        })
    }

    fn service_named(&self, name: &str) -> Result<ServiceId, String> {
        self.snapshot.service_id(name).ok_or_else(|| {
            let known: Vec<&str> = self.snapshot.services().iter().take(10).map(|s| s.name.as_str()).collect();
            format!("no service named {name:?}; services include: {}", known.join(", "))
        })
    }
}
