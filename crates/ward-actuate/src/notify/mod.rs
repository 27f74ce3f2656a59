//! Notification routes: Slack and Alertmanager webhooks, an exec command, or just
//! the log. Each delivery is one try with a timeout; a failure goes back to the
//! engine (`Input::NotificationDelivered`), which keeps the notification
//! undelivered and escalates, so nothing is lost by not retrying here.

mod alertmanager;
mod exec_route;
mod slack;

use std::time::Duration;

use ward_core::engine::Notification;
use ward_core::inventory::{Route, RouteKind};
use ward_core::journal::Severity;

use crate::http::{describe, read_body};
use crate::text::one_line;

pub use alertmanager::alertmanager_payload;
pub use exec_route::NotificationPayload;
pub use slack::slack_payload;

/// Delivers one notification through one route. `now_unix_ms` stamps Alertmanager's
/// `startsAt` (the formatter never reads a clock). Errors are whole sentences:
/// `slack route oncall: POST http://127.0.0.1:9/hook: connection refused`.
pub async fn deliver(
    route: &Route,
    notification: &Notification,
    client: &reqwest::Client,
    timeout: Duration,
    now_unix_ms: u64,
) -> Result<(), String> {
    match &route.kind {
        RouteKind::Slack { url } => post_json("slack", route, url, &slack_payload(notification), client, timeout).await,
        RouteKind::Alertmanager { url } => {
            let payload = alertmanager_payload(&route.name, notification, now_unix_ms);
            post_json("alertmanager", route, url, &payload, client, timeout).await
        }
        RouteKind::Exec { command } => {
            exec_route::run(command, notification, timeout).await.map_err(|e| format!("exec route {}: {e}", route.name))
        }
        // The daemon logs and journals every notification anyway.
        RouteKind::Log => Ok(()),
    }
}

/// The engine titles the all-clear of an alert `Resolved: …`.
pub(crate) fn is_resolved(notification: &Notification) -> bool {
    notification.title.starts_with("Resolved:")
}

pub(crate) fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Page => "page",
    }
}

async fn post_json(
    kind: &str,
    route: &Route,
    url: &str,
    payload: &serde_json::Value,
    client: &reqwest::Client,
    timeout: Duration,
) -> Result<(), String> {
    let shown = crate::text::redact_urls(url);
    let fail = |what: String| crate::text::redact_urls(&format!("{kind} route {}: POST {shown}: {what}", route.name));
    let response = client.post(url).timeout(timeout).json(payload).send().await.map_err(|e| fail(describe(&e, timeout)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let said = read_body(response, 4096).await.map(|b| one_line(&b)).unwrap_or_default();
    Err(fail(if said.is_empty() { format!("HTTP {}", status.as_u16()) } else { format!("HTTP {}: {said}", status.as_u16()) }))
}
