//! Sends notifications through their routes (ward-actuate) and reports each
//! delivery to the driver; an undelivered one stays in the journal and is sent
//! again after a restart.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use ward_actuate::Actuators;
use ward_core::engine::Notification;
use ward_core::inventory::{RouteKind, Snapshot};

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
