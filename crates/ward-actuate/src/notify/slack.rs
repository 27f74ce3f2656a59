//! Slack incoming-webhook payload: `{"text": "[PAGE] <title>\n<body>"}`. Plain text
//! tags rather than emoji, so the message reads the same in any client or log.

use serde_json::{json, Value};
use ward_core::engine::Notification;

use super::severity_name;

pub fn slack_payload(notification: &Notification) -> Value {
    let severity = severity_name(notification.severity).to_uppercase();
    let tag = match notification.escalation {
        0 => format!("[{severity}]"),
        n => format!("[{severity}, escalation {n}]"),
    };
    let mut text = format!("{tag} {}", notification.title);
    if !notification.body.is_empty() {
        text.push('\n');
        text.push_str(&notification.body);
    }
    json!({ "text": text })
}
