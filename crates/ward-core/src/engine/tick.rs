//! One planning round: health, time, holds, jobs, rollouts, plan, escalation.

use crate::engine::{Engine, Mode};
use crate::guards::FleetView;
use crate::health::{HealthEvent, ReplicationHealth, Status};
use crate::ids::*;
use crate::journal::{HoldTarget, JournalEvent, Severity};
use crate::time::{human_duration, TimeMs};

impl Engine {
    pub(crate) fn tick(&mut self, now_ms: TimeMs) {
        self.last_tick_ms = now_ms;
        self.plan_due = false;
        self.planning_rounds += 1;
        self.expire_holds(now_ms);
        let naive = self.mode == Mode::Naive;
        let events = self.health.refresh(&self.snapshot, now_ms, naive);
        for event in events {
            self.on_health_event(now_ms, event);
        }
        self.fleet = self.fleet_view();
        self.track_sites(now_ms);
        self.track_leases(now_ms);
        self.fence_by_leases(now_ms);
        self.fence_second_writers(now_ms);
        self.check_job_deadlines(now_ms);
        self.advance_rollouts(now_ms);
        self.plan_and_act(now_ms);
        self.check_standby_coverage(now_ms);
        self.start_queued_jobs(now_ms);
        // A time anomaly is an event, not a lasting condition: its alert starts
        // clearing on the next tick (a new anomaly restarts the quiet period).
        if self.durable.alerts.contains_key("time:anomaly") {
            self.resolve(now_ms, "time:anomaly", "no further pause or clock jump".into());
        }
        self.settle_resolutions(now_ms);
        self.escalate(now_ms);
        self.flush_deferred_starts();
        self.next_tick_ms = self.next_wake_ms(now_ms);
    }

    fn fleet_view(&self) -> FleetView {
        let mut view = FleetView { nodes_total: self.snapshot.nodes().len() as u32, ..FleetView::default() };
        for index in 0..self.snapshot.nodes().len() {
            if self.health.node(NodeId(index as u32)).status == Status::Down {
                view.nodes_down += 1;
            }
        }
        view.suspect_observers = self.health.suspect_observers().iter().map(|o| self.snapshot.observer(*o).name.clone()).collect();
        view.observers_total = self.snapshot.observers().len() as u32;
        view.silent_observers = self.health.silent_observers().iter().map(|o| self.snapshot.observer(*o).name.clone()).collect();
        view.sites = crate::health::site_loss::site_view(&self.snapshot, &self.health);
        view
    }

    fn expire_holds(&mut self, now_ms: TimeMs) {
        let expired: Vec<HoldTarget> =
            self.durable.holds.iter().filter(|h| h.until_ms.is_some_and(|u| now_ms >= u)).map(|h| h.target.clone()).collect();
        for target in expired {
            self.record(now_ms, JournalEvent::HoldReleased { target, author: "ward (hold expired)".into() });
        }
    }

    /// Plans no later than a regular tick after the last round would have: after a
    /// pause that is at once (as the fixed tick did), so the stale evidence shows.
    fn plan_by_next_tick(&mut self) {
        self.plan_due = true;
        self.next_tick_ms = self.next_tick_ms.min(self.last_tick_ms + self.snapshot.policy().tick_ms.max(1));
    }

    pub(crate) fn on_time_anomaly(&mut self, now_ms: TimeMs, gap_ms: i64) {
        // Inputs that piled up during a pause arrive at this very instant: stale too.
        self.health.invalidate_before(now_ms + 1);
        // Renewals held up by the pause say nothing about the agents: every lease
        // Ward granted is assumed renewed now, as after a restart.
        let granted = self.durable.leases_granted.clone();
        self.leases.assume_renewed(&granted, now_ms);
        self.plan_by_next_tick();
        let sentence = if gap_ms > 0 {
            format!(
                "No input for {} (the process was paused or the clock jumped forward); every earlier observation is now stale and Ward re-observes before acting.",
                human_duration(gap_ms as u64)
            )
        } else {
            format!(
                "The clock stepped back by {}; every earlier observation is now stale and Ward re-observes before acting.",
                human_duration(gap_ms.unsigned_abs())
            )
        };
        self.record(now_ms, JournalEvent::TimeAnomaly { gap_ms, sentence: sentence.clone() });
        self.raise(now_ms, "time:anomaly", Severity::Warning, sentence, &[]);
    }

    /// Most observers' clocks moved against ours: ours stood still (a VM frozen with
    /// its clock stopped) or was stepped. Whatever arrived before now is suspect.
    pub(crate) fn on_clock_disagreement(&mut self, now_ms: TimeMs, shift_ms: i64) {
        self.health.invalidate_before(now_ms + 1);
        self.plan_by_next_tick();
        let sentence = format!(
            "Most observers' clocks moved {} {} against the controller's: its clock stood still (a pause) or was stepped. \
             Earlier observations are stale; Ward re-observes before acting.",
            human_duration(shift_ms.unsigned_abs()),
            if shift_ms > 0 { "ahead" } else { "behind" }
        );
        self.record(now_ms, JournalEvent::TimeAnomaly { gap_ms: shift_ms, sentence: sentence.clone() });
        self.raise(now_ms, "time:anomaly", Severity::Warning, sentence, &[]);
    }

    fn on_health_event(&mut self, now_ms: TimeMs, event: HealthEvent) {
        match event {
            HealthEvent::NodeStatus { node, from, to } => {
                let name = self.snapshot.node_name(node).to_string();
                let sentence = match to {
                    Status::Down => format!("{name} is down (a quorum of observers agrees)"),
                    Status::Up => format!("{name} is up"),
                    Status::Unknown => format!("{name}'s health is unknown (observations stale or observers disagree)"),
                };
                self.record(now_ms, JournalEvent::Health { node: name.clone(), status: to.name().into(), sentence: sentence.clone() });
                // A down node's alert is raised by `track_sites`, which knows whether
                // it is part of a lost site.
                let cause = format!("node-down:{name}");
                if to == Status::Up && from != Status::Up {
                    self.resolve(now_ms, &cause, format!("{name} is up again"));
                }
            }
            HealthEvent::Suppressed { node, penalty } => {
                let name = self.snapshot.node_name(node).to_string();
                let flaps = self.health.node(node).flaps;
                let sentence =
                    format!("{name} is flapping ({flaps} failures, damping penalty {penalty}); Ward keeps it out until it is stable");
                self.record(now_ms, JournalEvent::Health { node: name.clone(), status: "suppressed".into(), sentence: sentence.clone() });
                let routes = self.node_routes(node);
                self.raise(now_ms, &format!("flapping:{name}"), Severity::Warning, sentence, &routes);
            }
            HealthEvent::Reused { node, penalty } => {
                let name = self.snapshot.node_name(node).to_string();
                let sentence = format!("{name} has been stable long enough (penalty decayed to {penalty}); it may take traffic again");
                self.record(now_ms, JournalEvent::Health { node: name.clone(), status: "reusable".into(), sentence: sentence.clone() });
                self.resolve(now_ms, &format!("flapping:{name}"), sentence);
            }
            HealthEvent::Replication { node, to, .. } => self.on_replication(now_ms, node, to),
            HealthEvent::DiskForecast { node, full_in_ms } => {
                let name = self.snapshot.node_name(node).to_string();
                let sentence = format!(
                    "{name}'s disk will be full in about {} at the current growth rate (root-reserved space excluded)",
                    human_duration(full_in_ms)
                );
                self.record(now_ms, JournalEvent::Health { node: name.clone(), status: "disk-filling".into(), sentence: sentence.clone() });
                let routes = self.node_routes(node);
                self.raise(now_ms, &format!("disk:{name}"), Severity::Page, sentence, &routes);
            }
            HealthEvent::ObserverSuspect { observer, failing, of, flapping } => {
                let name = self.snapshot.observer(observer).name.clone();
                let sentence = if flapping {
                    format!(
                        "Observer {name} saw {failing} of {of} targets flap within a few minutes while others did not; suspecting the observer \
                         (or its network), not the targets: their flaps add no damping penalty"
                    )
                } else {
                    format!(
                        "Observer {name} sees {failing} of {of} targets failing at once while others do not; suspecting the observer (or its network), not the targets"
                    )
                };
                self.raise(now_ms, &format!("observer:{name}"), Severity::Warning, sentence, &[]);
            }
            HealthEvent::ObserverSilent { observer, last_at_ms } => {
                let name = self.snapshot.observer(observer).name.clone();
                let others = self.snapshot.observers().len().saturating_sub(1);
                let when = match last_at_ms {
                    Some(at) => {
                        format!("for {} (its last report came at {})", human_duration(now_ms.saturating_sub(at)), crate::time::clock(at))
                    }
                    None => "since this controller started".to_string(),
                };
                let sentence = format!(
                    "Observer {name} has reported nothing {when}: its probes no longer count, so quorum rests on the other {others} observer(s). \
                     Check that its `ward observe` agent runs and can reach the controller."
                );
                let routes = self.snapshot.policy().default_notify.clone();
                self.raise(now_ms, &format!("observer-silent:{name}"), Severity::Warning, sentence, &routes);
            }
            HealthEvent::ObserverReporting { observer } => {
                let name = self.snapshot.observer(observer).name.clone();
                self.resolve(now_ms, &format!("observer-silent:{name}"), format!("observer {name} reports again"));
            }
            HealthEvent::ObserverCleared { observer } => {
                let name = self.snapshot.observer(observer).name.clone();
                self.resolve(now_ms, &format!("observer:{name}"), format!("observer {name} agrees with the others again"));
            }
        }
    }

    fn on_replication(&mut self, now_ms: TimeMs, node: NodeId, to: ReplicationHealth) {
        if let Some(slot) = self.replication_bad_since.get_mut(node.index()) {
            match &to {
                ReplicationHealth::Healthy { .. } => *slot = None,
                ReplicationHealth::Broken { .. } | ReplicationHealth::Lagging { .. } => *slot = Some(slot.unwrap_or(now_ms)),
                ReplicationHealth::Unknown => {}
            }
        }
        let name = self.snapshot.node_name(node).to_string();
        let cause = format!("replication:{name}");
        match &to {
            ReplicationHealth::Broken { error } => {
                let sentence = format!("Replication to {name} is broken: {error}");
                self.record(
                    now_ms,
                    JournalEvent::Health { node: name.clone(), status: "replication-broken".into(), sentence: sentence.clone() },
                );
                let routes = self.node_routes(node);
                self.raise(now_ms, &cause, Severity::Page, sentence, &routes);
            }
            ReplicationHealth::Lagging { lag_ms, lag_max_ms } => {
                let sentence =
                    format!("{name} is {} behind its replication source (bound {})", human_duration(*lag_ms), human_duration(*lag_max_ms));
                self.record(
                    now_ms,
                    JournalEvent::Health { node: name.clone(), status: "replication-lagging".into(), sentence: sentence.clone() },
                );
                let routes = self.node_routes(node);
                self.raise(now_ms, &cause, Severity::Warning, sentence, &routes);
            }
            ReplicationHealth::Healthy { .. } => {
                self.record(
                    now_ms,
                    JournalEvent::Health {
                        node: name.clone(),
                        status: "replication-healthy".into(),
                        sentence: format!("replication to {name} is healthy"),
                    },
                );
                self.resolve(now_ms, &cause, format!("replication to {name} is healthy again"));
            }
            ReplicationHealth::Unknown => {}
        }
    }
}
