//! Alerts grouped by cause, notifications and escalation.
//!
//! One cause (e.g. `replication:scl2-db1`) is one alert however often it fires, so
//! a new, unrelated cause always pages on its own instead of hiding in a known
//! noisy group (seed 000). An unacknowledged page is re-sent along each route's
//! `escalate_to` chain on its schedule (seed 003: pages were slept through).

use crate::engine::io::Notification;
use crate::engine::{Engine, Mode};
use crate::ids::*;
use crate::journal::{AlertChange, JournalEvent, Severity};
use crate::time::TimeMs;

/// A cause must stay clear this long before its alert resolves, so a flapping
/// condition is one alert that counts its flaps, not a stream of new pages.
pub const RESOLVE_QUIET_MS: u64 = 5 * crate::time::MINUTE_MS;
/// An open alert whose cause keeps firing is journaled at most this often (whatever
/// its sentence says), unless its severity rises.
pub const REPEAT_JOURNALED_EVERY_MS: u64 = 10 * crate::time::MINUTE_MS;
/// A cause that fires again within this long after its alert resolved reopens it.
pub const REOPEN_WINDOW_MS: u64 = crate::time::HOUR_MS;

/// Causes that have cleared, waiting out the quiet period: cause -> (since, sentence).
#[derive(Default)]
pub struct AlertRuntime {
    clearing: std::collections::BTreeMap<String, (TimeMs, String)>,
}

impl AlertRuntime {
    /// Since when each cleared cause has been clear.
    pub(crate) fn clearing_since(&self) -> impl Iterator<Item = TimeMs> + '_ {
        self.clearing.values().map(|(since, _)| *since)
    }
}

impl Engine {
    /// Raises (or repeats) the alert for a condition that holds (`cause`). Pages
    /// only when the cause is new or its severity rose.
    pub(crate) fn raise(&mut self, now_ms: TimeMs, cause: &str, severity: Severity, title: String, routes: &[RouteId]) {
        self.raise_alert(now_ms, cause, severity, title, routes, false, &[])
    }

    /// One alert for one cause shared by several nodes (a site cut off, a switch
    /// down: "site B unreachable from A: 23 nodes"), instead of one alert and one
    /// page per node. `members` are the nodes it covers now (any order); the
    /// alert lists them. It is journaled when raised and again whenever the member
    /// list changes, never because only its words changed, and pages once (again
    /// only if its severity rises). `resolve(cause)` when no member is left.
    pub(crate) fn raise_group(
        &mut self,
        now_ms: TimeMs,
        cause: &str,
        severity: Severity,
        title: String,
        members: &[String],
        routes: &[RouteId],
    ) {
        let mut members = members.to_vec();
        members.sort();
        members.dedup();
        let changed = self.durable.alerts.get(cause).is_some_and(|open| open.members != members);
        self.raise_alert(now_ms, cause, severity, title, routes, changed, &members)
    }

    /// As `raise`, for something that happened (a job or a repair failing): each
    /// event's own sentence is journaled on the open alert, even within the repeat
    /// window. Events are bounded by the failure backoff, conditions are not.
    pub(crate) fn raise_event(&mut self, now_ms: TimeMs, cause: &str, severity: Severity, title: String, routes: &[RouteId]) {
        self.raise_alert(now_ms, cause, severity, title, routes, true, &[])
    }

    /// `news`: journal this firing even within the repeat window when its words
    /// differ (an event's own sentence, a group whose members changed).
    #[allow(clippy::too_many_arguments)]
    fn raise_alert(
        &mut self,
        now_ms: TimeMs,
        cause: &str,
        severity: Severity,
        title: String,
        routes: &[RouteId],
        news: bool,
        members: &[String],
    ) {
        self.alerts_rt.clearing.remove(cause);
        if let Some(open) = self.durable.alerts.get(cause) {
            let (id, old_severity) = (open.id, open.severity);
            // A condition that keeps firing is journaled now and then, not every round:
            // its repeats are keyed by cause and severity, never by the words (a title
            // with a running duration would otherwise be journaled every tick).
            // The naive baseline dedupes by the words, as alerting keyed by message
            // text does: what Ward's cause key is measured against.
            let naive_text_key = self.mode == Mode::Naive && open.title != title;
            let news = (news && (open.title != title || !members.is_empty())) || naive_text_key;
            if severity <= old_severity && !news && now_ms < open.last_ms + REPEAT_JOURNALED_EVERY_MS {
                return;
            }
            return self.fire_again(now_ms, id, old_severity, AlertChange::Repeated, cause, severity, title, routes, members);
        }
        // The same cause again soon after it resolved: reopen that alert (one group
        // counting its recurrences) instead of paging anew for known noise.
        let recent = self
            .durable
            .closed_alerts
            .iter()
            .rev()
            .find(|a| a.cause == cause && a.resolved_ms.is_some_and(|r| now_ms < r + REOPEN_WINDOW_MS))
            .map(|a| (a.id, a.severity));
        if let Some((id, old_severity)) = recent {
            return self.fire_again(now_ms, id, old_severity, AlertChange::Reopened, cause, severity, title, routes, members);
        }
        let id = AlertId(self.durable.next_alert);
        let route_names = self.route_names(routes);
        self.record(
            now_ms,
            JournalEvent::Alert {
                alert: id,
                cause: cause.into(),
                severity,
                state: AlertChange::Raised,
                sentence: title.clone(),
                routes: route_names,
                members: members.to_vec(),
            },
        );
        self.send_to_routes(now_ms, Some(id), cause, severity, &title, routes, 0);
    }

    /// An existing alert fired again: journaled; pages only if its severity rose.
    #[allow(clippy::too_many_arguments)]
    fn fire_again(
        &mut self,
        now_ms: TimeMs,
        id: AlertId,
        old_severity: Severity,
        state: AlertChange,
        cause: &str,
        severity: Severity,
        title: String,
        routes: &[RouteId],
        members: &[String],
    ) {
        let event = JournalEvent::Alert {
            alert: id,
            cause: cause.into(),
            severity,
            state,
            sentence: title.clone(),
            routes: Vec::new(),
            members: members.to_vec(),
        };
        self.record(now_ms, event);
        if severity > old_severity {
            self.send_to_routes(now_ms, Some(id), cause, severity, &title, routes, 0);
        }
    }

    /// The cause cleared: the alert resolves once it has stayed clear for the quiet period.
    pub(crate) fn resolve(&mut self, now_ms: TimeMs, cause: &str, sentence: String) {
        if self.durable.alerts.contains_key(cause) {
            self.alerts_rt.clearing.entry(cause.to_string()).or_insert((now_ms, sentence));
        }
    }

    /// After a restart: which causes had cleared (and since when) was not durable,
    /// and the transition that clears a cause (a node coming up, an observer
    /// agreeing again, the inventory reading back) may have happened while Ward was
    /// down. Every open alert starts clearing; a cause still present fires again
    /// within the quiet period, which cancels that. A failed job or rollout is a
    /// fact an operator acknowledges, not a condition, so those stay open.
    pub(crate) fn recheck_open_alerts(&mut self, now_ms: TimeMs) {
        let open: Vec<String> =
            self.durable.alerts.keys().filter(|c| !c.starts_with("job:") && !c.starts_with("rollout:")).cloned().collect();
        for cause in open {
            self.resolve(now_ms, &cause, "the cause was not seen again after Ward restarted".into());
        }
    }

    /// Resolves the alerts whose causes stayed clear for the quiet period.
    pub(crate) fn settle_resolutions(&mut self, now_ms: TimeMs) {
        let due: Vec<(String, String)> = self
            .alerts_rt
            .clearing
            .iter()
            .filter(|(_, (since, _))| now_ms >= since + RESOLVE_QUIET_MS)
            .map(|(cause, (_, sentence))| (cause.clone(), sentence.clone()))
            .collect();
        for (cause, sentence) in due {
            self.alerts_rt.clearing.remove(&cause);
            self.resolve_now(now_ms, &cause, sentence);
        }
    }

    fn resolve_now(&mut self, now_ms: TimeMs, cause: &str, sentence: String) {
        let Some(open) = self.durable.alerts.get(cause) else { return };
        let (id, severity, routes) = (open.id, open.severity, open.routes.clone());
        self.record(
            now_ms,
            JournalEvent::Alert {
                alert: id,
                cause: cause.into(),
                severity,
                state: AlertChange::Resolved,
                sentence: sentence.clone(),
                routes: Vec::new(),
                members: Vec::new(),
            },
        );
        if severity >= Severity::Warning {
            let routes: Vec<RouteId> = routes.iter().filter_map(|r| self.snapshot.route_id(r)).collect();
            self.send_to_routes(now_ms, Some(id), cause, Severity::Info, &format!("Resolved: {sentence}"), &routes, 0);
        }
    }

    /// The next escalation of every open, unacknowledged page: each first route's
    /// chain followed as far as the alert went. `escalate` sends the due ones;
    /// `wake` wakes the engine for the earliest.
    pub(crate) fn escalations_ahead(&self) -> Vec<EscalationAhead> {
        let mut ahead = Vec::new();
        for alert in self.durable.alerts.values() {
            if alert.severity < Severity::Page || alert.acked_by.is_some() {
                continue;
            }
            for first in &alert.routes {
                let Some(mut route) = self.snapshot.route_id(first) else { continue };
                // The cap is the first route's: it is the team that was paged.
                if alert.escalations >= self.snapshot.route(route).escalations_max {
                    continue;
                }
                for _ in 0..alert.escalations {
                    route = self.snapshot.route(route).escalate_to.unwrap_or(route);
                }
                // Along the chain: the route's `escalate_after`; at its end, the
                // same route again every `repeat_every`.
                let at = self.snapshot.route(route);
                let after = if at.escalate_to.is_some() { at.escalate_after_ms } else { at.repeat_every_ms };
                if after > 0 {
                    ahead.push(EscalationAhead {
                        due_ms: alert.last_notified_ms.saturating_add(after),
                        alert: alert.id,
                        cause: alert.cause.clone(),
                        title: alert.title.clone(),
                        route: self.snapshot.route(route).escalate_to.unwrap_or(route),
                        level: alert.escalations + 1,
                        first_ms: alert.first_ms,
                    });
                }
            }
        }
        ahead
    }

    /// Re-sends unacknowledged pages along the escalation chain.
    pub(crate) fn escalate(&mut self, now_ms: TimeMs) {
        for due in self.escalations_ahead().into_iter().filter(|e| now_ms >= e.due_ms) {
            let open = crate::time::human_duration(now_ms.saturating_sub(due.first_ms));
            let text = format!("ESCALATION {}: unacknowledged for {open}: {}", due.level, due.title);
            self.send_to_routes(now_ms, Some(due.alert), &due.cause, Severity::Page, &text, &[due.route], due.level);
        }
    }

    /// Queues one notification per route (journaled first, so a restart resends it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_to_routes(
        &mut self,
        now_ms: TimeMs,
        alert: Option<AlertId>,
        cause: &str,
        severity: Severity,
        title: &str,
        routes: &[RouteId],
        escalation: u32,
    ) {
        let routes = if routes.is_empty() { self.snapshot.policy().default_notify.clone() } else { routes.to_vec() };
        for route in routes {
            let notification = Notification {
                id: NotificationId(self.durable.next_notification),
                route,
                route_name: self.snapshot.route(route).name.clone(),
                alert,
                severity,
                cause: cause.to_string(),
                title: title.to_string(),
                body: self.notification_body(title),
                escalation,
            };
            self.record(now_ms, JournalEvent::NotificationQueued { notification: notification.clone() });
            self.outputs.push_back(crate::engine::Output::Notify(notification));
        }
    }

    fn notification_body(&self, title: &str) -> String {
        format!("{title}\ninventory {} ({})", self.snapshot.short_hash(), self.snapshot.source())
    }

    fn route_names(&self, routes: &[RouteId]) -> Vec<String> {
        let routes = if routes.is_empty() { &self.snapshot.policy().default_notify[..] } else { routes };
        routes.iter().map(|r| self.snapshot.route(*r).name.clone()).collect()
    }

    /// Routes for a service's alerts (its own, else the policy's).
    pub(crate) fn service_routes(&self, service: ServiceId) -> Vec<RouteId> {
        let own = &self.snapshot.service(service).notify;
        if own.is_empty() {
            self.snapshot.policy().default_notify.clone()
        } else {
            own.clone()
        }
    }

    /// Routes for a node's alerts: those of every service it is a candidate for.
    pub(crate) fn node_routes(&self, node: NodeId) -> Vec<RouteId> {
        let mut routes: Vec<RouteId> = Vec::new();
        for &service in self.snapshot.services_of_node(node) {
            for route in self.service_routes(service) {
                if !routes.contains(&route) {
                    routes.push(route);
                }
            }
        }
        if routes.is_empty() {
            routes = self.snapshot.policy().default_notify.clone();
        }
        routes
    }
}

/// One escalation an open page is heading for.
pub(crate) struct EscalationAhead {
    pub due_ms: TimeMs,
    pub alert: AlertId,
    pub cause: String,
    pub title: String,
    /// The route it goes to.
    pub route: RouteId,
    pub level: u32,
    pub first_ms: TimeMs,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::{Command, Output};
    use crate::inventory::testing::InventoryBuilder;
    use crate::inventory::{CheckKind, Route, RouteKind, ServiceKind, Snapshot};
    use crate::journal::JournalRecord;
    use crate::time::SECOND_MS;

    /// Two nodes and a pager route that escalates to itself every minute, at most
    /// three times.
    fn snapshot() -> Arc<Snapshot> {
        let mut b = InventoryBuilder::new();
        let site = b.site("dc1");
        b.observer("ctl", site);
        let a = b.node("a", site, &[]);
        let c = b.node("c", site, &[]);
        b.check("tcp", CheckKind::Tcp, &[a, c], 1, 1);
        b.service("gw", ServiceKind::Vip, "edge", &[a, c], &[a]);
        let mut snapshot = b.build();
        let mut parts = snapshot.parts().clone();
        parts.routes = vec![Route {
            name: "pager".into(),
            kind: RouteKind::Log,
            escalate_to: None,
            escalate_after_ms: 60 * SECOND_MS,
            repeat_every_ms: 60 * SECOND_MS,
            escalations_max: 3,
        }];
        snapshot = Snapshot::assemble(parts);
        Arc::new(snapshot)
    }

    fn engine(mode: Mode) -> Engine {
        Engine::new(snapshot(), mode, 0)
    }

    fn journal(engine: &mut Engine) -> Vec<JournalRecord> {
        let mut records = Vec::new();
        while let Some(output) = engine.poll_output() {
            if let Output::Journal(record) = output {
                records.push(record);
            }
        }
        records
    }

    fn alert_records(records: &[JournalRecord], cause: &str) -> Vec<JournalRecord> {
        records.iter().filter(|r| matches!(&r.event, JournalEvent::Alert { cause: c, .. } if c == cause)).cloned().collect()
    }

    fn pager(engine: &Engine) -> Vec<RouteId> {
        vec![engine.snapshot.route_id("pager").expect("pager route")]
    }

    #[test]
    fn a_sentence_that_changes_every_tick_is_journaled_once() {
        let mut engine = engine(Mode::Guarded);
        let routes = pager(&engine);
        let mut records = journal(&mut engine);
        // A condition held for five minutes, its sentence saying for how long, once a second.
        for second in 1..300u64 {
            let sentence = format!("gw needs a new holder but no candidate is eligible: c is down (for {second}s)");
            engine.raise(second * SECOND_MS, "no-candidate:gw", Severity::Warning, sentence, &routes);
            records.extend(journal(&mut engine));
        }
        assert_eq!(alert_records(&records, "no-candidate:gw").len(), 1, "re-journaled because its words changed");
        // The naive baseline keys repeats by the words: once per tick.
        let mut naive = self::engine(Mode::Naive);
        let mut records = journal(&mut naive);
        for second in 1..300u64 {
            let sentence = format!("c is down (for {second}s)");
            naive.raise(second * SECOND_MS, "no-candidate:gw", Severity::Warning, sentence, &routes);
            records.extend(journal(&mut naive));
        }
        assert_eq!(alert_records(&records, "no-candidate:gw").len(), 299);
    }

    #[test]
    fn a_group_lists_its_members_and_is_journaled_when_they_change_only() {
        let mut engine = engine(Mode::Guarded);
        let routes = pager(&engine);
        journal(&mut engine);
        let members = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let mut records = Vec::new();
        let cause = "site-unreachable:b";
        for second in 1..=10u64 {
            // Two nodes first, a third from second 6; the words change every time.
            let now = if second < 6 { members(&["b2", "b1"]) } else { members(&["b1", "b3", "b2"]) };
            let title = format!("site b unreachable for {second}s: {} nodes", now.len());
            engine.raise_group(second * SECOND_MS, cause, Severity::Page, title, &now, &routes);
            records.extend(journal(&mut engine));
        }
        let journaled = alert_records(&records, cause);
        assert_eq!(journaled.len(), 2, "raised, then once when b3 joined: {journaled:?}");
        let JournalEvent::Alert { members: last, .. } = &journaled[1].event else { unreachable!() };
        assert_eq!(last, &members(&["b1", "b2", "b3"]));
        assert_eq!(engine.durable.alerts[cause].members, members(&["b1", "b2", "b3"]));
        let pages = engine.durable.undelivered.values().filter(|n| n.cause == cause).count();
        assert_eq!(pages, 1, "one page for the group, not one per node");
    }

    #[test]
    fn escalation_repeats_on_its_interval_up_to_its_cap_and_stops_on_ack() {
        let mut engine = engine(Mode::Guarded);
        let routes = pager(&engine);
        journal(&mut engine);
        engine.raise(0, "disk:a", Severity::Page, "a's disk will be full in about 2h".into(), &routes);
        let escalations = |engine: &Engine| engine.durable.undelivered.values().filter(|n| n.escalation > 0).count();
        engine.escalate(59 * SECOND_MS);
        assert_eq!(escalations(&engine), 0, "not before repeat_every");
        engine.escalate(60 * SECOND_MS);
        assert_eq!(escalations(&engine), 1);
        for minute in 2..10u64 {
            engine.escalate(minute * 60 * SECOND_MS);
        }
        assert_eq!(escalations(&engine), 3, "capped by escalations_max");

        let mut acked = self::engine(Mode::Guarded);
        acked.raise(0, "disk:a", Severity::Page, "a's disk will be full in about 2h".into(), &routes);
        acked.escalate(60 * SECOND_MS);
        let id = acked.durable.alerts["disk:a"].id;
        acked.command(61 * SECOND_MS, Command::Ack { alert: id, author: "matthew".into() }).expect("ack");
        for minute in 2..10u64 {
            acked.escalate(minute * 60 * SECOND_MS);
        }
        assert_eq!(escalations(&acked), 1, "acknowledged: no further escalation");
    }
}
