//! Sites as a whole: a site lost at once is one fact, one journal record and one
//! page ("site B unreachable from A: 23 nodes"), not dozens of node-down pages; its
//! nodes' own alerts are folded into it. Node-down alerts of a site going dark wait
//! a short while to see whether the whole site goes.

use crate::engine::Engine;
use crate::health::site_loss::SiteLoss;
use crate::health::Status;
use crate::ids::*;
use crate::journal::{JournalEvent, Severity};
use crate::time::{clock, human_duration, TimeMs};

/// A site alert's cause.
pub(crate) fn site_cause(site: &str) -> String {
    format!("site:{site}")
}

/// Nodes named in a site sentence before "and N more".
const NODES_LISTED_MAX: usize = 8;

impl Engine {
    /// Journals sites lost and restored since the last round, and raises node-down
    /// alerts that are not part of a site loss. Runs after `fleet` is refreshed.
    pub(crate) fn track_sites(&mut self, now_ms: TimeMs) {
        // The naive baseline pages per node, as the tools Ward replaces do.
        let lost = if self.mode == crate::mode::Mode::Naive { Vec::new() } else { self.fleet.sites.lost.clone() };
        for loss in &lost {
            let name = self.snapshot.site(loss.site).name.clone();
            let cause = site_cause(&name);
            let mut nodes: Vec<String> = loss.nodes.iter().map(|n| self.snapshot.node_name(*n).to_string()).collect();
            nodes.sort();
            let open = self.durable.alerts.get(&cause);
            // One alert listing the site's nodes: nothing to say while that list stands.
            if open.is_none_or(|alert| alert.members != nodes || alert.resolved_ms.is_some()) {
                let sentence = self.site_lost_sentence(loss);
                if open.is_none() {
                    self.record(now_ms, JournalEvent::SiteLost { site: name.clone(), nodes: nodes.clone(), sentence: sentence.clone() });
                }
                let routes = self.snapshot.policy().default_notify.clone();
                self.raise_group(now_ms, &cause, Severity::Page, sentence, &nodes, &routes);
            }
            for node in &loss.nodes {
                let node_cause = format!("node-down:{}", self.snapshot.node_name(*node));
                if self.durable.alerts.contains_key(&node_cause) {
                    self.resolve(now_ms, &node_cause, format!("folded into the alert for site {name}"));
                }
            }
        }
        let open: Vec<String> = self.durable.alerts.keys().filter_map(|c| c.strip_prefix("site:")).map(str::to_string).collect();
        for name in open {
            let Some(site) = self.snapshot.site_id(&name) else {
                self.resolve(now_ms, &site_cause(&name), format!("site {name} left the inventory"));
                continue;
            };
            if lost.iter().any(|l| l.site == site) {
                continue;
            }
            // Not lost any more is not yet back: wait for a node actually seen up.
            let back = (0..self.snapshot.nodes().len())
                .map(|i| NodeId(i as u32))
                .any(|n| self.snapshot.node(n).site == site && self.health.node(n).status == Status::Up);
            if back {
                self.on_site_restored(now_ms, &name);
            }
        }
        self.raise_node_down_alerts(now_ms, &lost);
        self.resolve_answered_site_approvals(now_ms);
    }

    /// A site's approval alert closes once no failover of that site waits for a person.
    fn resolve_answered_site_approvals(&mut self, now_ms: TimeMs) {
        let open: Vec<String> = self.durable.alerts.keys().filter_map(|c| c.strip_prefix("site-approval:")).map(str::to_string).collect();
        for site in open {
            let waiting = self.durable.pending.values().any(|p| {
                matches!(&p.pending, crate::state::Pending::Action { action: crate::action::NamedAction::FailoverSite { site: s, .. }, .. } if *s == site)
            });
            if !waiting {
                let cause = crate::engine::site_failover::site_approval_cause(&site);
                self.resolve(now_ms, &cause, format!("the failover of site {site} no longer waits for approval"));
            }
        }
    }

    fn on_site_restored(&mut self, now_ms: TimeMs, name: &str) {
        let sentence = format!("Site {name} is reachable again.");
        self.withdraw_site_failovers(now_ms, name, &format!("site {name} is reachable again"));
        self.record(now_ms, JournalEvent::SiteRestored { site: name.to_string(), sentence: sentence.clone() });
        self.resolve(now_ms, &site_cause(name), sentence);
    }

    /// A site failover waiting for a person, or approved but not needed any more,
    /// is withdrawn with its reason.
    fn withdraw_site_failovers(&mut self, now_ms: TimeMs, site: &str, reason: &str) {
        let is_this_site =
            |a: &crate::action::NamedAction| matches!(a, crate::action::NamedAction::FailoverSite { site: s, .. } if s == site);
        let mut stale: Vec<DecisionId> = self
            .durable
            .pending
            .values()
            .filter(|p| matches!(&p.pending, crate::state::Pending::Action { action, .. } if is_this_site(action)))
            .map(|p| p.decision)
            .collect();
        stale.extend(self.durable.approved.iter().filter(|(_, (_, a))| a.as_ref().is_some_and(is_this_site)).map(|(d, _)| *d));
        for decision in stale {
            self.record(now_ms, JournalEvent::Rejected { decision, author: "ward".into(), reason: reason.into() });
        }
        self.last_site_blocked.remove(site);
    }

    fn site_lost_sentence(&self, loss: &SiteLoss) -> String {
        let policy = self.snapshot.policy();
        let name = &self.snapshot.site(loss.site).name;
        let from = match policy.controller_site {
            Some(site) => format!(" from {}", self.snapshot.site(site).name),
            None => String::new(),
        };
        let mut nodes: Vec<&str> = loss.nodes.iter().take(NODES_LISTED_MAX).map(|n| self.snapshot.node_name(*n)).collect();
        let more = loss.nodes.len().saturating_sub(NODES_LISTED_MAX);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        let silent: Vec<&str> = self
            .snapshot
            .observers()
            .iter()
            .filter(|o| o.site == loss.site && self.fleet.silent_observers.contains(&o.name))
            .map(|o| o.name.as_str())
            .collect();
        let silent = if silent.is_empty() { String::new() } else { format!("; its observer(s) {} are silent", silent.join(", ")) };
        nodes.sort_unstable();
        let grace_end = loss.since_ms + policy.partition_grace_ms;
        let then = match policy.cross_site_promotion {
            crate::inventory::CrossSitePromotion::Approve => "then one approval covers failing its services over to other sites",
            crate::inventory::CrossSitePromotion::Allow => "then Ward fails its services over to other sites within the budget",
        };
        format!(
            "Site {name} is unreachable{from}: {} node(s) ({}{more}) since {}{silent}. It may be down or only cut off; \
             Ward takes no cross-site action before {} (partition_grace {}), {then}.",
            loss.nodes.len(),
            nodes.join(", "),
            clock(loss.since_ms),
            clock(grace_end),
            human_duration(policy.partition_grace_ms),
        )
    }

    /// One alert per down node, unless the node is part of a lost site (its site's
    /// alert lists it) or its site is going dark and the node fell only moments ago.
    fn raise_node_down_alerts(&mut self, now_ms: TimeMs, lost: &[SiteLoss]) {
        let settle_ms = self.snapshot.policy().stale_after_ms;
        for index in 0..self.snapshot.nodes().len() {
            let node = NodeId(index as u32);
            let health = self.health.node(node);
            if health.status != Status::Down {
                continue;
            }
            let name = self.snapshot.node_name(node).to_string();
            let cause = format!("node-down:{name}");
            if !self.durable.alerts.is_empty() && self.durable.alerts.contains_key(&cause) {
                continue;
            }
            let site = self.snapshot.node(node).site;
            if lost.iter().any(|l| l.site == site) {
                continue;
            }
            let dark = self.mode == crate::mode::Mode::Guarded && self.fleet.sites.going_dark.get(site.index()).copied().unwrap_or(false);
            if dark && now_ms < health.since_ms + settle_ms {
                continue;
            }
            let sentence = format!("{name} is down (a quorum of observers agrees)");
            let routes = self.node_routes(node);
            self.raise(now_ms, &cause, Severity::Warning, sentence, &routes);
        }
    }
}
