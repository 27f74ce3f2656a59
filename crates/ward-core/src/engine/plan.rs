//! The planner: for each service, the action wanted now (if any), why, and the
//! guards' verdict; allowed actions become jobs, the rest are journaled once.

use std::collections::BTreeMap;

use crate::action::{Action, ActionKind, Cause, NamedAction, Outcome, PlannedAction};
use crate::engine::{Engine, Mode};
use crate::guards::eligibility::{node_eligibility, Ineligible, Role};
use crate::guards::{judge, judge_except, single_writer, Proposal};
use crate::health::Status;
use crate::ids::*;
use crate::inventory::ServiceKind;
use crate::journal::{JobEnd, JobStep, JournalEvent, Severity};
use crate::mode::Mode::Guarded;
use crate::time::TimeMs;

/// Pre-action notifications list at most this many actions, then "and N more".
const NOTIFY_ACTIONS_LISTED_MAX: usize = 10;

pub(crate) struct Wanted {
    pub action: Action,
    pub cause: Cause,
    pub summary: String,
    /// A sync is previewed (what would it delete?) before it is judged for real.
    pub preview_first: bool,
    /// A fence: the promotion it prepares. If an earlier decision of the same
    /// round took the budget that promotion needed, the promotion is decided
    /// instead (and waits for a person) and nothing is fenced.
    pub prepares: Option<Action>,
}

impl Engine {
    pub(crate) fn plan_and_act(&mut self, now_ms: TimeMs) {
        self.defer_starts();
        self.last_plan.clear();
        let eligibility: Vec<Result<(), Ineligible>> = {
            let ctx = self.guard_context(now_ms);
            (0..self.snapshot.nodes().len()).map(|n| node_eligibility(&ctx, NodeId(n as u32), Role::Serve)).collect()
        };
        let mut busy = vec![false; self.snapshot.services().len()];
        for state in self.durable.jobs.values() {
            // A fence still waiting on a host that stopped answering is moot once
            // the node counts as fenced by its lease: the promotion need not wait
            // out the fence's deadline.
            if self.is_moot_fence(&state.action) {
                continue;
            }
            if let Some(s) = state.action.service_ref().and_then(|s| self.snapshot.service_id(s)) {
                busy[s.index()] = true;
            }
        }
        for s in self.jobs.queued_services() {
            busy[s.index()] = true;
        }
        // How many single-holder services each node carries, so failovers spread out.
        let mut load = vec![0u32; self.snapshot.nodes().len()];
        for (index, service) in self.snapshot.services().iter().enumerate() {
            if matches!(service.kind, ServiceKind::Vip | ServiceKind::Primary) {
                for node in self.placement(ServiceId(index as u32)) {
                    load[node.index()] += 1;
                }
            }
        }
        // Moves decided but not finished count where they are going.
        let in_flight = self.durable.jobs.values().map(|j| &j.action).chain(self.durable.queued.values().map(|q| &q.action));
        for action in in_flight {
            if matches!(action.kind(), ActionKind::MoveVip | ActionKind::Promote) {
                for node in action.to_nodes().into_iter().filter_map(|n| self.snapshot.node_id(n)) {
                    load[node.index()] += 1;
                }
            }
        }
        let mut wanted = Vec::new();
        let mut no_candidate = Vec::new();
        let mut quiet = Vec::new();
        for (index, busy) in busy.iter().enumerate() {
            let service = ServiceId(index as u32);
            if *busy {
                continue;
            }
            match self.want(now_ms, service, &eligibility, &load) {
                Want::Action(w) => {
                    if let Action::MoveVip { to, .. } | Action::Promote { to, .. } = w.action {
                        load[to.index()] += 1;
                    }
                    wanted.push(w)
                }
                Want::NoCandidate(sentence) => no_candidate.push((service, sentence)),
                Want::Nothing => {
                    // A no-candidate alert is raised without a blocked decision, so
                    // its open alert alone must also lead to `clear_blocked`.
                    let no_candidate_open = !self.durable.alerts.is_empty()
                        && self.durable.alerts.contains_key(&format!("no-candidate:{}", self.snapshot.service_name(service)));
                    if self.last_blocked[index].is_some() || no_candidate_open || !self.durable.pending.is_empty() {
                        quiet.push(service);
                    }
                }
            }
        }
        for service in quiet {
            self.withdraw_moot_promotion(now_ms, service);
            self.clear_blocked(now_ms, service);
        }
        for (service, sentence) in no_candidate {
            let routes = self.service_routes(service);
            let cause = format!("no-candidate:{}", self.snapshot.service_name(service));
            self.raise(now_ms, &cause, Severity::Page, sentence, &routes);
        }
        let mut wanted = self.decide_lost_sites(now_ms, wanted);
        wanted.extend(self.want_repairs(now_ms));
        // Each allowed move enters the budget ledger as it is decided, so the next
        // decision in this round already counts it.
        let mut announce: BTreeMap<RouteId, Vec<String>> = BTreeMap::new();
        for mut w in wanted {
            if let Some(promote) = w.prepares.take() {
                if self.promotion_blocked(now_ms, &promote, &w.cause).is_some() {
                    w.summary = self.cause_sentence(&w.cause);
                    w.action = promote;
                }
            }
            if let Some((sentence, routes)) = self.decide(now_ms, w) {
                for route in routes {
                    announce.entry(route).or_default().push(sentence.clone());
                }
            }
        }
        self.resolve_answered_approval_alerts(now_ms);
        if self.mode == Mode::Guarded {
            for (route, lines) in announce {
                let mut text = format!("Ward is acting now ({} action(s)):", lines.len());
                for line in lines.iter().take(NOTIFY_ACTIONS_LISTED_MAX) {
                    text.push_str("\n- ");
                    text.push_str(line);
                }
                if lines.len() > NOTIFY_ACTIONS_LISTED_MAX {
                    text.push_str(&format!("\n- and {} more", lines.len() - NOTIFY_ACTIONS_LISTED_MAX));
                }
                self.send_to_routes(now_ms, None, "decision", Severity::Warning, &text, &[route], 0);
            }
        }
    }

    /// Judges one wanted action and acts on the verdict. Returns, for an action
    /// that became a job: its sentence and the routes to tell.
    pub(crate) fn decide(&mut self, now_ms: TimeMs, wanted: Wanted) -> Option<(String, Vec<RouteId>)> {
        let named = self.snapshot.name_action(&wanted.action);
        let approval = self
            .durable
            .approved
            .iter()
            .find(|(_, (_, action))| action.as_ref().is_some_and(|a| same_action(a, &named)))
            .map(|(d, (author, _))| (*d, author.clone()));
        // A move out of a lost site is covered by the approval of that site's failover.
        let approved_by = approval
            .as_ref()
            .map(|(_, a)| a.clone())
            .or_else(|| self.covering_site_approval(&named))
            .or_else(|| self.covering_promotion_approval(&named));
        let verdict = {
            let ctx = self.guard_context(now_ms);
            let proposal = Proposal { action: &wanted.action, cause: &wanted.cause };
            judge(&ctx, &proposal, approved_by.as_deref())
        };
        let evidence = self.evidence(now_ms, &wanted.action);
        self.last_plan.push(PlannedAction {
            action: wanted.action.clone(),
            cause: wanted.cause.clone(),
            summary: wanted.summary.clone(),
            evidence: evidence.clone(),
            verdict: verdict.clone(),
            planned_at_ms: now_ms,
        });
        let service_index = wanted.action.service().map(|s| s.index());
        let cause_text = self.cause_sentence(&wanted.cause);
        match verdict.outcome {
            Outcome::Allow => {
                let decision = approval.as_ref().map(|(d, _)| *d).unwrap_or(DecisionId(self.durable.next_decision));
                let job = JobId(self.durable.next_job);
                if let Some(index) = service_index {
                    let reason = format!("superseded by decision {}: {}", decision.0, self.describe(&wanted.action));
                    self.supersede_pending(now_ms, index, Some(decision), &reason);
                    self.last_blocked[index] = None;
                }
                self.record(
                    now_ms,
                    JournalEvent::Decision {
                        decision,
                        action: named,
                        cause: cause_text,
                        summary: wanted.summary.clone(),
                        evidence,
                        verdict,
                        job: Some(job),
                    },
                );
                // An approved sync is previewed again right before it runs; the job
                // keeps the approved preview to compare (`jobs::recheck_approved_preview`).
                let approved_sync = approval.is_some() && matches!(wanted.action, Action::Sync { .. });
                let first_step = if wanted.preview_first || approved_sync { JobStep::Preview } else { JobStep::Apply };
                let routes = match (wanted.action.service(), wanted.action.repaired_node()) {
                    (Some(s), _) => self.service_routes(s),
                    (None, Some(node)) => {
                        self.repair_blocked.remove(self.snapshot.node_name(node));
                        self.node_routes(node)
                    }
                    (None, None) => Vec::new(),
                };
                let author = Self::cause_author(&wanted.cause);
                let sentence = format!("{} ({})", self.describe(&wanted.action), wanted.summary);
                self.create_job(now_ms, decision, job, wanted.action, first_step, author.clone());
                // Operators asked for their own actions; only automatic ones are announced.
                let routes = if author.is_some() { Vec::new() } else { routes };
                Some((sentence, routes))
            }
            outcome => {
                // A destination exists again: the no-candidate alert gives way to this
                // decision's own sentence (an approval, a refusal), even if that is not new.
                if let Some(service) = wanted.action.service().filter(|_| !wanted.action.destinations().is_empty()) {
                    let cause = format!("no-candidate:{}", self.snapshot.service_name(service));
                    if self.durable.alerts.contains_key(&cause) {
                        self.resolve(now_ms, &cause, "an eligible candidate exists again; see the decision on it".into());
                    }
                }
                // Where a blocked move would go may change round to round (load, health);
                // what it is blocked on is the same decision, so `to` is left out.
                let fingerprint = format!("{:?}|{}|{:?}", outcome, named.kind(), named.from_nodes());
                // An operator's request is journaled every time it is asked, and its
                // pending approval is not withdrawn by the planner's quiet rounds.
                let automatic = !matches!(wanted.cause, Cause::Operator { .. });
                if let Some(index) = service_index.filter(|_| automatic) {
                    if self.last_blocked[index].as_deref() == Some(fingerprint.as_str()) {
                        return None;
                    }
                    self.last_blocked[index] = Some(fingerprint.clone());
                    // The same request already waits for a person (the trigger flickered,
                    // or the controller restarted): it stands, nothing new is asked.
                    if outcome == Outcome::NeedsApproval && self.pending_same_action(&named).is_some() {
                        return None;
                    }
                    let reason = format!(
                        "superseded by decision {}: {} ({})",
                        self.durable.next_decision,
                        self.describe(&wanted.action),
                        wanted.summary
                    );
                    self.supersede_pending(now_ms, index, None, &reason);
                }
                // A blocked repair (a held node) is journaled once, not every round.
                if let Some(node) = wanted.action.repaired_node().filter(|_| automatic) {
                    let name = self.snapshot.node_name(node).to_string();
                    if self.repair_blocked.get(&name) == Some(&fingerprint) {
                        return None;
                    }
                    self.repair_blocked.insert(name, fingerprint);
                }
                let decision = DecisionId(self.durable.next_decision);
                let reasons = verdict.reasons().join(" ");
                self.record(
                    now_ms,
                    JournalEvent::Decision {
                        decision,
                        action: named,
                        cause: cause_text,
                        summary: wanted.summary.clone(),
                        evidence,
                        verdict,
                        job: None,
                    },
                );
                if outcome == Outcome::NeedsApproval {
                    let (cause, routes) = match wanted.action.service() {
                        Some(s) => (format!("approval:{}", self.snapshot.service(s).group), self.service_routes(s)),
                        None => ("approval:maintenance".to_string(), Vec::new()),
                    };
                    let text = format!(
                        "Approval needed (decision {}): {} ({}). {reasons}",
                        decision.0,
                        self.describe(&wanted.action),
                        wanted.summary
                    );
                    self.raise(now_ms, &cause, Severity::Page, text, &routes);
                }
                None
            }
        }
    }

    /// Withdraws pending approvals for a service that a different decision for it
    /// replaced, saying which (the only way Ward withdraws a request on its own).
    fn supersede_pending(&mut self, now_ms: TimeMs, service_index: usize, keep: Option<DecisionId>, reason: &str) {
        let name = self.snapshot.services()[service_index].name.clone();
        let stale: Vec<DecisionId> = self
            .durable
            .pending
            .values()
            .filter(|p| Some(p.decision) != keep)
            .filter(|p| matches!(&p.pending, crate::state::Pending::Action { action, .. } if action.service_ref() == Some(&name)))
            .map(|p| p.decision)
            .collect();
        for decision in stale {
            self.record(now_ms, JournalEvent::Rejected { decision, author: "ward".into(), reason: reason.to_string() });
        }
    }

    /// A quiet round (nothing wanted for the service any more). A pending approval
    /// is NOT withdrawn here: a trigger that flickers would otherwise make the
    /// request evaporate and the same move come back later as "allowed" without a
    /// person. It stands until answered or superseded by a different decision.
    fn clear_blocked(&mut self, now_ms: TimeMs, service: ServiceId) {
        self.last_blocked[service.index()] = None;
        let name = self.snapshot.service_name(service).to_string();
        let cause = format!("no-candidate:{name}");
        if self.durable.alerts.contains_key(&cause) {
            self.resolve(now_ms, &cause, format!("{name} is placed on a healthy node again"));
        }
    }

    /// A promotion waiting for a person, away from a primary that is back, healthy
    /// and still holds the service, asks a question that no longer stands: it is
    /// withdrawn, saying so. Left standing, it would block the fence and the
    /// failover of that primary's next, unrelated outage (a freeze whose fence
    /// failed, the primary back, then a plain crash: nothing fenced, a person
    /// asked with a stale reason).
    fn withdraw_moot_promotion(&mut self, now_ms: TimeMs, service: ServiceId) {
        let Some(&holder) = self.placement(service).first() else { return };
        if self.health.node(holder).status != Status::Up {
            return;
        }
        let (service_name, holder_name) = (self.snapshot.service_name(service).to_string(), self.snapshot.node_name(holder).to_string());
        if self.durable.fenced.contains(&(service_name.clone(), holder_name.clone())) {
            return;
        }
        let moot: Vec<DecisionId> = self
            .durable
            .pending
            .values()
            .filter(|p| {
                matches!(&p.pending, crate::state::Pending::Action { action: NamedAction::Promote { service: s, from: Some(from), .. }, .. }
                    if *s == service_name && *from == holder_name)
            })
            .map(|p| p.decision)
            .collect();
        for decision in moot {
            let reason = format!(
                "{holder_name} is back, healthy and still the primary of {service_name}: promoting around it is no longer asked for"
            );
            self.record(now_ms, JournalEvent::Rejected { decision, author: "ward".into(), reason });
        }
    }

    /// The pending approval asking for this very action (same kind, service and
    /// origin), if one waits.
    fn pending_same_action(&self, named: &NamedAction) -> Option<DecisionId> {
        self.durable.pending.values().find_map(|p| match &p.pending {
            crate::state::Pending::Action { action, .. } if same_action(action, named) => Some(p.decision),
            _ => None,
        })
    }

    /// An approval alert closes once nothing in its group waits for approval any more.
    fn resolve_answered_approval_alerts(&mut self, now_ms: TimeMs) {
        let open: Vec<String> = self.durable.alerts.keys().filter(|c| c.starts_with("approval:")).cloned().collect();
        for cause in open {
            let group = &cause["approval:".len()..];
            let waiting = self.durable.pending.values().any(|p| match &p.pending {
                crate::state::Pending::Action { action, .. } => {
                    action.service_ref().and_then(|s| self.snapshot.service_id(s)).is_some_and(|s| self.snapshot.service(s).group == group)
                }
                crate::state::Pending::Inventory { .. } => false,
            });
            if !waiting {
                self.resolve(now_ms, &cause, format!("nothing in {group} waits for approval any more"));
            }
        }
    }

    fn cause_sentence(&self, cause: &Cause) -> String {
        match cause {
            Cause::HolderDown { node } => format!("{} is down", self.snapshot.node_name(*node)),
            Cause::HolderIneligible { node, why } => format!("{} should not serve: {why}", self.snapshot.node_name(*node)),
            Cause::HolderNotCandidate { node } => {
                format!("{} is no longer a candidate in inventory {}", self.snapshot.node_name(*node), self.snapshot.short_hash())
            }
            Cause::TargetsChanged => "the set of eligible targets changed".into(),
            Cause::Unplaced => "the service has no holder".into(),
            Cause::Operator { author } => format!("{author} asked for it"),
            Cause::ReplicationStopped { node, error } => {
                format!("replication to {} has stopped: {error}", self.snapshot.node_name(*node))
            }
            Cause::PrimaryMoved { primary, node } => {
                format!("{} is now the primary of {}", self.snapshot.node_name(*node), self.snapshot.service_name(*primary))
            }
            Cause::SecondWriter { node, holder } => format!(
                "{} answers as a writable primary while {} holds the service: two writable primaries",
                self.snapshot.node_name(*node),
                self.snapshot.node_name(*holder)
            ),
        }
    }

    fn want(&self, now_ms: TimeMs, service: ServiceId, eligibility: &[Result<(), Ineligible>], load: &[u32]) -> Want {
        match self.snapshot.service(service).kind {
            ServiceKind::Vip => self.want_single_holder(now_ms, service, eligibility, load, false),
            ServiceKind::Primary => self.want_single_holder(now_ms, service, eligibility, load, true),
            ServiceKind::Dns => self.want_dns(now_ms, service, eligibility),
            ServiceKind::Sync => Want::Nothing,
        }
    }

    fn want_single_holder(
        &self,
        now_ms: TimeMs,
        service: ServiceId,
        eligibility: &[Result<(), Ineligible>],
        load: &[u32],
        primary: bool,
    ) -> Want {
        let spec = self.snapshot.service(service);
        let holder = self.placement(service).first().copied();
        if let Some(primary) = spec.follows {
            return self.want_to_follow(service, primary, holder);
        }
        let cause = match holder {
            None => Cause::Unplaced,
            Some(h) if !spec.candidates.contains(&h) => Cause::HolderNotCandidate { node: h },
            // A fenced primary is read-only whatever its health says: coming back up does
            // not make it writable again, so the service still needs a new primary (the
            // frozen-clock run of seed 003 lost 10 hours to treating it as a healthy holder).
            Some(h) if primary && self.durable.fenced.contains(&(spec.name.clone(), self.snapshot.node_name(h).to_string())) => {
                Cause::HolderIneligible {
                    node: h,
                    why: format!("{} was fenced (made read-only) and cannot take writes", self.snapshot.node_name(h)),
                }
            }
            Some(h) => match self.health.node(h).status {
                Status::Down => Cause::HolderDown { node: h },
                Status::Unknown => return Want::Nothing,
                Status::Up => match &eligibility[h.index()] {
                    Ok(()) | Err(Ineligible::Suppressed { .. }) => return Want::Nothing,
                    Err(_) if self.mode == Mode::Naive => return Want::Nothing,
                    // A primary is never moved off a live, writable node automatically.
                    Err(_) if primary => return Want::Nothing,
                    Err(why) => Cause::HolderIneligible { node: h, why: why.sentence(&self.guard_context(now_ms), h) },
                },
            },
        };
        let Some(to) = self.best_candidate(now_ms, service, holder, eligibility, load, primary) else {
            if let (Some(old), Cause::HolderIneligible { .. }, true) = (holder, &cause, primary) {
                if let Some(unfence) = self.unfence_if_stranded(now_ms, service, old, None, &cause) {
                    return unfence;
                }
            }
            return Want::NoCandidate(format!(
                "{} needs a new {} but no candidate is eligible: {}",
                spec.name,
                if primary { "primary" } else { "holder" },
                self.why_no_candidate(now_ms, service, holder)
            ));
        };
        let summary = self.cause_sentence(&cause);
        if primary {
            let promote = Action::Promote { service, from: holder, to };
            if let (Some(old), Cause::HolderDown { .. }) = (holder, &cause) {
                let fenced = self.durable.fenced.contains(&(spec.name.clone(), self.snapshot.node_name(old).to_string()));
                // A fence only as the first half of a promotion allowed now: a fence
                // whose promotion cannot follow leaves the service with no writer.
                // A node in a lost site cannot be reached to fence: the attempt
                // would only fail; the promotion's approval covers it instead.
                let unreachable = self.fleet.sites.loss_of(self.snapshot.node(old).site).is_some();
                if self.mode == Guarded
                    && !fenced
                    && !unreachable
                    && !self.fence_failed_this_outage(now_ms, &spec.name, old)
                    && self.promotion_blocked(now_ms, &promote, &cause).is_none()
                {
                    return Want::Action(Wanted {
                        action: Action::Fence { service, node: old },
                        cause,
                        summary: format!("{summary}; fencing it before promoting {}", self.snapshot.node_name(to)),
                        preview_first: false,
                        prepares: Some(promote.clone()),
                    });
                }
            }
            if let (Some(old), Cause::HolderIneligible { .. }) = (holder, &cause) {
                if let Some(unfence) = self.unfence_if_stranded(now_ms, service, old, Some(&promote), &cause) {
                    return unfence;
                }
            }
            return Want::Action(Wanted { action: promote, cause, summary, preview_first: false, prepares: None });
        }
        Want::Action(Wanted { action: Action::MoveVip { service, from: holder, to }, cause, summary, preview_first: false, prepares: None })
    }

    /// A write address points at the writable primary, wherever the primary service's
    /// own guards put it: it moves when that placement changes (right after a
    /// promotion), never on its own judgement of health.
    fn want_to_follow(&self, service: ServiceId, primary: ServiceId, holder: Option<NodeId>) -> Want {
        let Some(&to) = self.placement(primary).first() else { return Want::Nothing };
        if holder == Some(to) {
            return Want::Nothing;
        }
        let cause = Cause::PrimaryMoved { primary, node: to };
        let summary = self.cause_sentence(&cause);
        Want::Action(Wanted { action: Action::MoveVip { service, from: holder, to }, cause, summary, preview_first: false, prepares: None })
    }

    /// A fence of `node` for `service` failed since the node went down this time,
    /// less than `policy.fence_retry_after` ago: trying again cannot confirm
    /// anything new yet (an unanswering host only makes each attempt wait out its
    /// deadline). Bounded, so a later attempt can succeed; an earlier outage's
    /// failed fence says nothing about this one (the node was seen healthy since).
    fn fence_failed_this_outage(&self, now_ms: TimeMs, service: &str, node: NodeId) -> bool {
        let since = self.health.node(node).since_ms;
        let retry_after = self.snapshot.policy().fence_retry_after_ms;
        let name = self.snapshot.node_name(node);
        self.durable.finished.iter().rev().take(64).any(|f| {
            f.end == JobEnd::Failed
                && f.at_ms >= since
                && now_ms.saturating_sub(f.at_ms) < retry_after
                && matches!(&f.action, NamedAction::Fence { service: s, node: n } if s == service && n == name)
        })
    }

    /// An approved promotion covers the fence that must come before it (the
    /// approval stays for the promotion itself).
    fn covering_promotion_approval(&self, named: &NamedAction) -> Option<String> {
        let NamedAction::Fence { service, node } = named else { return None };
        self.durable.approved.values().find_map(|(author, action)| match action {
            Some(NamedAction::Promote { service: s, from: Some(from), .. }) if s == service && from == node => Some(author.clone()),
            _ => None,
        })
    }

    /// Why a promotion could not be decided "allow" now, leaving single-writer out
    /// (it asks for the fence this question comes before); None: it could.
    fn promotion_blocked(&self, now_ms: TimeMs, promote: &Action, cause: &Cause) -> Option<String> {
        let named = self.snapshot.name_action(promote);
        let approved_by = self
            .durable
            .approved
            .values()
            .find(|(_, action)| action.as_ref().is_some_and(|a| same_action(a, &named)))
            .map(|(author, _)| author.clone())
            .or_else(|| self.covering_site_approval(&named));
        let ctx = self.guard_context(now_ms);
        let verdict = judge_except(&ctx, &Proposal { action: promote, cause }, approved_by.as_deref(), Some(single_writer::NAME));
        (verdict.outcome != Outcome::Allow).then(|| verdict.reasons().join(" "))
    }

    /// A primary Ward fenced whose promotion cannot follow (no candidate, an
    /// approval pending, the budget spent) is not left without a writer: once it
    /// is reachable and healthy again, it gets its writes back.
    fn unfence_if_stranded(
        &self,
        now_ms: TimeMs,
        service: ServiceId,
        old: NodeId,
        promote: Option<&Action>,
        cause: &Cause,
    ) -> Option<Want> {
        if self.mode != Guarded || self.health.node(old).status != Status::Up {
            return None;
        }
        let name = self.snapshot.node_name(old);
        let service_name = self.snapshot.service_name(service);
        if !self.durable.fenced.contains(&(service_name.to_string(), name.to_string())) {
            return None;
        }
        let why = match promote {
            Some(promote) => self.promotion_blocked(now_ms, promote, cause)?,
            None => "no candidate is eligible".to_string(),
        };
        Some(Want::Action(Wanted {
            action: Action::Unfence { service, node: old },
            cause: cause.clone(),
            summary: format!("{name} was fenced for a promotion that cannot follow ({why}); it is up again and takes writes back"),
            preview_first: false,
            prepares: None,
        }))
    }

    fn want_dns(&self, now_ms: TimeMs, service: ServiceId, eligibility: &[Result<(), Ineligible>]) -> Want {
        let spec = self.snapshot.service(service);
        let current = self.placement(service);
        let keep = |node: NodeId| -> bool {
            let in_current = current.contains(&node);
            match &eligibility[node.index()] {
                Ok(()) => in_current || !self.verify_cooling(now_ms, service, node),
                // Unknown is not down: a current target stays until it (or what it
                // depends on) is confirmed bad, e.g. while a restarted controller
                // has not yet heard about a dependency.
                Err(why) if why.is_unknown() => in_current,
                Err(_) => false,
            }
        };
        let changed =
            spec.candidates.iter().any(|&c| keep(c) != current.contains(&c)) || current.iter().any(|c| !spec.candidates.contains(c));
        if !changed {
            return Want::Nothing;
        }
        let desired: Vec<NodeId> = spec.candidates.iter().copied().filter(|&c| keep(c)).collect();
        if (desired.len() as u32) < spec.min_targets.max(1) {
            if current.iter().all(|c| eligibility[c.index()].is_ok()) && !current.is_empty() {
                return Want::Nothing;
            }
            return Want::NoCandidate(format!(
                "{} would have {} eligible target(s), fewer than its minimum of {}; keeping the current targets. {}",
                spec.name,
                desired.len(),
                spec.min_targets.max(1),
                self.why_no_candidate(now_ms, service, None)
            ));
        }
        let added: Vec<&str> = desired.iter().filter(|n| !current.contains(n)).map(|n| self.snapshot.node_name(*n)).collect();
        let removed: Vec<&str> = current.iter().filter(|n| !desired.contains(n)).map(|n| self.snapshot.node_name(*n)).collect();
        let mut summary = Vec::new();
        if !removed.is_empty() {
            let ctx = self.guard_context(now_ms);
            let reasons: Vec<String> = current
                .iter()
                .filter(|n| !desired.contains(n))
                .map(|n| match &eligibility[n.index()] {
                    Err(why) => why.sentence(&ctx, *n),
                    Ok(()) => format!("{} is no longer a candidate", self.snapshot.node_name(*n)),
                })
                .collect();
            summary.push(format!("removing {}: {}", removed.join(", "), reasons.join("; ")));
        }
        if !added.is_empty() {
            summary.push(format!("adding {} (eligible again)", added.join(", ")));
        }
        Want::Action(Wanted {
            action: Action::SetDnsTargets { service, from: current.to_vec(), to: desired },
            cause: Cause::TargetsChanged,
            summary: summary.join("; "),
            preview_first: false,
            prepares: None,
        })
    }

    fn verify_cooling(&self, now_ms: TimeMs, service: ServiceId, node: NodeId) -> bool {
        if self.durable.verify_failed.is_empty() {
            return false;
        }
        let key = (self.snapshot.service_name(service).to_string(), self.snapshot.node_name(node).to_string());
        self.durable.verify_failed.get(&key).is_some_and(|until| now_ms < *until)
    }

    /// The best eligible candidate other than the current holder: for a primary (in
    /// Ward's mode) first a standby known to hold every commit the old primary
    /// acknowledged (`data_loss::holding`: a synchronous standby in sync may have
    /// replayed less than an async one that lacks acknowledged commits), then the
    /// most replayed; then priority; then the least loaded; then order.
    fn best_candidate(
        &self,
        now_ms: TimeMs,
        service: ServiceId,
        holder: Option<NodeId>,
        eligibility: &[Result<(), Ineligible>],
        load: &[u32],
        primary: bool,
    ) -> Option<NodeId> {
        let spec = self.snapshot.service(service);
        let ctx = self.guard_context(now_ms);
        let old_primary = holder.filter(|_| primary && self.mode == Mode::Guarded);
        spec.candidates
            .iter()
            .copied()
            .filter(|&c| Some(c) != holder && eligibility[c.index()].is_ok() && !self.verify_cooling(now_ms, service, c))
            .max_by_key(|&c| {
                let node = self.snapshot.node(c);
                let everything = old_primary.is_some_and(|old| crate::guards::data_loss::holding(&ctx, old, c).everything());
                let replayed = if primary { self.health.node(c).replayed_position } else { 0 };
                (everything, replayed, node.priority, std::cmp::Reverse(load[c.index()]), std::cmp::Reverse(c.0))
            })
    }

    fn why_no_candidate(&self, now_ms: TimeMs, service: ServiceId, holder: Option<NodeId>) -> String {
        let ctx = self.guard_context(now_ms);
        let reasons: Vec<String> = self
            .snapshot
            .service(service)
            .candidates
            .iter()
            .filter(|&&c| Some(c) != holder)
            .take(5)
            .filter_map(|&c| node_eligibility(&ctx, c, Role::Serve).err().map(|why| why.sentence(&ctx, c)))
            .collect();
        if reasons.is_empty() {
            "every other candidate failed verification recently".into()
        } else {
            reasons.join("; ")
        }
    }
}

pub(crate) enum Want {
    Action(Wanted),
    NoCandidate(String),
    Nothing,
}

/// An approval covers the same kind of action on the same service from the same
/// place; for a single-holder move Ward may pick a better destination by the time
/// it runs (the guards judge that destination afresh).
fn same_action(a: &NamedAction, b: &NamedAction) -> bool {
    let flexible_destination = matches!(a.kind(), ActionKind::MoveVip | ActionKind::Promote);
    a.kind() == b.kind()
        && a.service() == b.service()
        && a.from_nodes() == b.from_nodes()
        && (flexible_destination || a.to_nodes() == b.to_nodes())
}
