//! Sends notifications through their routes (ward-actuate) and reports each
//! delivery to the driver; an undelivered one stays in the journal and is sent
//! again after a restart.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use ward_actuate::Actuators;
use ward_core::engine::Notification;
use ward_core::ids::{NotificationId, RouteId};
use ward_core::inventory::{RouteKind, Snapshot};
use ward_core::journal::Severity;

use crate::driver::{now_ms, Event};

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
const DELIVERY_ATTEMPTS_MAX: u32 = 3;
const DELIVERIES_RUNNING_MAX: usize = 64;

pub struct Notifier {
    pub actuators: Arc<Actuators>,
    pub snapshot: watch::Receiver<Arc<Snapshot>>,
    pub events: mpsc::Sender<Event>,
}

impl Notifier {
    pub async fn run(self, mut notifications: mpsc::Receiver<Notification>) {
        let slots = Arc::new(Semaphore::new(DELIVERIES_RUNNING_MAX));
        let mut running = JoinSet::new();
        let this = Arc::new(self);
        while let Some(notification) = notifications.recv().await {
            let Ok(slot) = slots.clone().acquire_owned().await else { break };
            let this = this.clone();
            running.spawn(async move {
                let (ok, error) = match this.deliver(&notification).await {
                    Ok(()) => (true, None),
                    Err(e) => {
                        // Delivery errors may quote a webhook URL: never its path or query.
                        let e = crate::limits::redact_urls(&e);
                        tracing::warn!(notification = notification.id.0, route = %notification.route_name, "{e}");
                        (false, Some(e))
                    }
                };
                let _ = this.events.send(Event::Delivered { notification: notification.id, ok, error }).await;
                drop(slot);
            });
            while running.try_join_next().is_some() {}
        }
        while running.join_next().await.is_some() {}
    }

    async fn deliver(&self, notification: &Notification) -> Result<(), String> {
        let snapshot = self.snapshot.borrow().clone();
        // Routes are found by name: the inventory may have changed since it was queued.
        let Some(route) = snapshot.route_id(&notification.route_name).map(|r| snapshot.route(r).clone()) else {
            return Err(format!("route {} is no longer in the inventory", notification.route_name));
        };
        if route.kind == RouteKind::Log {
            tracing::warn!(severity = ?notification.severity, cause = %notification.cause, "{}", notification.title);
            return Ok(());
        }
        let mut last_error = String::new();
        for attempt in 0..DELIVERY_ATTEMPTS_MAX {
            match self.actuators.deliver(&route, notification, DELIVERY_TIMEOUT, now_ms()).await {
                Ok(()) => return Ok(()),
                Err(e) => last_error = e,
            }
            tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
        }
        Err(last_error)
    }
}

/// Pages through every route of the inventory in force that Ward cannot write its
/// journal. Sent directly, not through the engine: its notifications are journaled
/// first, which is exactly what fails. Each delivery is bounded by its timeout.
pub fn halt_pager(
    actuators: Arc<Actuators>,
    snapshot: watch::Receiver<Arc<Snapshot>>,
    controller: String,
) -> Box<dyn Fn(String) + Send + Sync> {
    Box::new(move |error: String| {
        let snapshot = snapshot.borrow().clone();
        let actuators = actuators.clone();
        let controller = controller.clone();
        let error = crate::limits::journal_text(error);
        tokio::spawn(async move {
            for (index, route) in snapshot.routes().iter().enumerate() {
                let notification = Notification {
                    id: NotificationId(0),
                    route: RouteId(index as u16),
                    route_name: route.name.clone(),
                    alert: None,
                    severity: Severity::Page,
                    cause: "journal:unwritable".into(),
                    title: format!("Ward controller {controller} has stopped acting: it cannot write its journal"),
                    body: format!(
                        "{error}\nNo failover happens until the journal can be written again. Free space or fix the disk \
                         under the data dir; Ward retries and resumes on its own, or exits for its supervisor to restart it."
                    ),
                    escalation: 0,
                };
                if route.kind == RouteKind::Log {
                    tracing::error!(cause = %notification.cause, "{}: {}", notification.title, notification.body);
                    continue;
                }
                if let Err(e) = actuators.deliver(route, &notification, DELIVERY_TIMEOUT, now_ms()).await {
                    tracing::error!(route = %route.name, "could not page that the journal cannot be written: {}", crate::limits::redact_urls(&e));
                }
            }
        });
    })
}
