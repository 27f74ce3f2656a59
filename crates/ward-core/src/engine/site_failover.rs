//! One decision per lost site. The services a lost site held would each want a
//! fence and a promotion or a move; deciding them one by one turned a short cut
//! between sites into a fleet of cross-site failovers, each "allowed" on its own.
//! Instead: nothing during `partition_grace` (the site's alert says until when),
//! then one `FailoverSite` judgement for the whole site, at most one approval, and
//! only then the per-service moves that carry it out.

use std::collections::BTreeMap;

use crate::action::{Action, Cause, NamedAction, Outcome, PlannedAction};
use crate::engine::plan::Wanted;
use crate::engine::Engine;
use crate::guards::{judge, Proposal};
use crate::ids::*;
use crate::inventory::ServiceKind;
use crate::journal::{JournalEvent, Severity};
use crate::mode::Mode;
use crate::time::TimeMs;

/// The cause of a site's approval alert.
pub(crate) fn site_approval_cause(site: &str) -> String {
    format!("site-approval:{site}")
}

impl Engine {
    /// Takes out of `wanted` every move away from a lost site and decides those
    /// once per site; returns the moves that may go on to be decided per service.
    pub(crate) fn decide_lost_sites(&mut self, now_ms: TimeMs, wanted: Vec<Wanted>) -> Vec<Wanted> {
        if self.mode == Mode::Naive || self.fleet.sites.lost.is_empty() {
            return wanted;
        }
        let mut by_site: BTreeMap<SiteId, Vec<Wanted>> = BTreeMap::new();
        let mut rest = Vec::new();
        for w in wanted {
            match self.lost_site_of(&w) {
                Some(site) => by_site.entry(site).or_default().push(w),
                None => rest.push(w),
            }
        }
        let grace = self.snapshot.policy().partition_grace_ms;
        for (site, group) in by_site {
            let Some(loss) = self.fleet.sites.loss_of(site).cloned() else { continue };
            let Some(&first) = loss.nodes.first() else { continue };
            if now_ms < loss.since_ms + grace {
                continue;
            }
            let name = self.snapshot.site(site).name.clone();
            if self.site_failover_approval(&name).is_some() {
                rest.extend(group);
                continue;
            }
            let mut services: Vec<ServiceId> = group.iter().filter_map(|w| w.action.service()).collect();
            services.sort_unstable();
            services.dedup();
            let action = Action::FailoverSite { site: name.clone(), services, nodes: loss.nodes.clone() };
            let cause = Cause::HolderDown { node: first };
            let verdict = {
                let ctx = self.guard_context(now_ms);
                judge(&ctx, &Proposal { action: &action, cause: &cause }, None)
            };
            if verdict.outcome == Outcome::Allow {
                rest.extend(group);
                continue;
            }
            self.record_site_decision(now_ms, &name, action, cause, verdict, group.len());
        }
        rest
    }

    /// The lost site a wanted action would move a role out of, if any.
    fn lost_site_of(&self, wanted: &Wanted) -> Option<SiteId> {
        let Cause::HolderDown { node } = wanted.cause else { return None };
        let site = self.snapshot.node(node).site;
        self.fleet.sites.loss_of(site)?;
        let leaves_site = match &wanted.action {
            // A fence is the first half of a failover out of the site.
            Action::Fence { .. } => true,
            Action::Promote { to, .. } | Action::MoveVip { to, .. } => self.snapshot.node(*to).site != site,
            _ => false,
        };
        leaves_site.then_some(site)
    }

    fn record_site_decision(
        &mut self,
        now_ms: TimeMs,
        site: &str,
        action: Action,
        cause: Cause,
        verdict: crate::action::Verdict,
        moves: usize,
    ) {
        let named = self.snapshot.name_action(&action);
        let listed = match &named {
            NamedAction::FailoverSite { services, .. } => services.join(","),
            _ => String::new(),
        };
        let fingerprint = format!("{:?}|{listed}", verdict.outcome);
        if self.last_site_blocked.get(site) == Some(&fingerprint) {
            return;
        }
        self.last_site_blocked.insert(site.to_string(), fingerprint);
        let decision = DecisionId(self.durable.next_decision);
        // A newer judgement of the same site replaces a request still waiting.
        let stale: Vec<DecisionId> = self
            .durable
            .pending
            .values()
            .filter(|p| matches!(&p.pending, crate::state::Pending::Action { action: NamedAction::FailoverSite { site: s, .. }, .. } if s == site))
            .map(|p| p.decision)
            .collect();
        for old in stale {
            self.record(
                now_ms,
                JournalEvent::Rejected { decision: old, author: "ward".into(), reason: format!("superseded by decision {}", decision.0) },
            );
        }
        let evidence = self.evidence(now_ms, &action);
        let services = self.site_services_sentence(&action);
        let summary = format!("site {site} is unreachable; {moves} move(s) would take {services} out of it");
        let cause_text = format!("every node of site {site} is out of sight");
        self.last_plan.push(PlannedAction {
            action: action.clone(),
            cause,
            summary: summary.clone(),
            evidence: evidence.clone(),
            verdict: verdict.clone(),
            planned_at_ms: now_ms,
        });
        let reasons = verdict.reasons().join(" ");
        let outcome = verdict.outcome;
        self.record(
            now_ms,
            JournalEvent::Decision { decision, action: named, cause: cause_text, summary: summary.clone(), evidence, verdict, job: None },
        );
        if outcome == Outcome::NeedsApproval {
            let text = format!("Approval needed (decision {}): fail over {services} out of site {site}. {reasons}", decision.0);
            let routes = self.snapshot.policy().default_notify.clone();
            self.raise(now_ms, &site_approval_cause(site), Severity::Page, text, &routes);
        }
    }

    fn site_services_sentence(&self, action: &Action) -> String {
        let Action::FailoverSite { services, .. } = action else { return String::new() };
        let primaries = services.iter().filter(|s| self.snapshot.service(**s).kind == ServiceKind::Primary).count();
        let names: Vec<&str> = services.iter().take(8).map(|s| self.snapshot.service_name(*s)).collect();
        let more = services.len().saturating_sub(8);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        format!("{} service(s), {primaries} of them database primaries ({}{more})", services.len(), names.join(", "))
    }

    /// The person who approved failing over out of `site`, while that approval stands.
    pub(crate) fn site_failover_approval(&self, site: &str) -> Option<String> {
        self.durable.approved.values().find_map(|(author, action)| match action {
            Some(NamedAction::FailoverSite { site: s, .. }) if s == site => Some(author.clone()),
            _ => None,
        })
    }

    /// The approval of a site failover that covers `named` (a move out of that site).
    pub(crate) fn covering_site_approval(&self, named: &NamedAction) -> Option<String> {
        if self.durable.approved.is_empty() {
            return None;
        }
        let service = named.service_ref()?;
        let from = named.from_nodes();
        self.durable.approved.values().find_map(|(author, action)| match action {
            Some(NamedAction::FailoverSite { services, nodes, site })
                if services.contains(service) && from.iter().all(|n| nodes.contains(n)) =>
            {
                Some(format!("{author} (failover of site {site})"))
            }
            _ => None,
        })
    }
}
