//! Exec routes: run a command (no shell) per notification, e.g. a pager CLI.
//! Exit 0 means delivered.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use ward_core::engine::Notification;
use ward_core::time::human_duration;

use super::{is_resolved, severity_name};
use crate::process::{self, describe_status, Ending, Invocation};
use crate::text::last_line;

/// The notification as an exec route reads it on stdin, version 1:
///
/// ```json
/// {"version":1,"notification":12,"route":"oncall","alert":4,"severity":"page",
///  "status":"firing","cause":"replication:db1","title":"…","body":"…","escalation":0}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationPayload {
    pub version: u32,
    pub notification: u64,
    /// The route's name.
    pub route: String,
    pub alert: Option<u64>,
    /// `info`, `warning` or `page`.
    pub severity: String,
    /// `firing` or `resolved`.
    pub status: String,
    pub cause: String,
    pub title: String,
    pub body: String,
    /// 0 for the first page; each escalation adds one.
    pub escalation: u32,
}

impl NotificationPayload {
    pub fn new(notification: &Notification) -> NotificationPayload {
        NotificationPayload {
            version: 1,
            notification: notification.id.0,
            route: notification.route_name.clone(),
            alert: notification.alert.map(|a| a.0),
            severity: severity_name(notification.severity).to_string(),
            status: if is_resolved(notification) { "resolved" } else { "firing" }.to_string(),
            cause: notification.cause.clone(),
            title: notification.title.clone(),
            body: notification.body.clone(),
            escalation: notification.escalation,
        }
    }

    /// `WARD_ALERT` (empty when the notification belongs to no alert), `WARD_CAUSE`,
    /// `WARD_SEVERITY`, `WARD_STATUS`, `WARD_TITLE`, `WARD_ESCALATION`, `WARD_ROUTE`,
    /// `WARD_NOTIFICATION`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("WARD_ALERT", self.alert.map(|a| a.to_string()).unwrap_or_default()),
            ("WARD_CAUSE", self.cause.clone()),
            ("WARD_SEVERITY", self.severity.clone()),
            ("WARD_STATUS", self.status.clone()),
            ("WARD_TITLE", self.title.clone()),
            ("WARD_ESCALATION", self.escalation.to_string()),
            ("WARD_ROUTE", self.route.clone()),
            ("WARD_NOTIFICATION", self.notification.to_string()),
        ]
    }
}

pub(crate) async fn run(command: &[String], notification: &Notification, timeout: Duration) -> Result<(), String> {
    let payload = NotificationPayload::new(notification);
    let stdin = serde_json::to_vec(&payload).unwrap_or_default();
    let program = command.first().cloned().unwrap_or_default();
    let finished = process::run(Invocation { argv: command, env: payload.env(), env_remove: &[], stdin, timeout }).await?;
    match &finished.ending {
        Ending::Exited(status) if status.success() => Ok(()),
        Ending::Exited(status) => Err(match last_line(&finished.stderr).or_else(|| last_line(&finished.stdout)) {
            Some(line) => format!("{program}: {}: {line}", describe_status(status)),
            None => format!("{program}: {}", describe_status(status)),
        }),
        Ending::TimedOut => Err(format!("{program}: timed out after {} and was killed", human_duration(timeout.as_millis() as u64))),
    }
}
