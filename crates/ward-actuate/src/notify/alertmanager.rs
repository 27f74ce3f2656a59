//! The Alertmanager webhook payload (version 4), so anything that accepts
//! Alertmanager's webhooks (PagerDuty and Opsgenie bridges, custom receivers)
//! accepts Ward's alerts.

use serde_json::{json, Value};
use ward_core::engine::Notification;

use super::{is_resolved, severity_name};
use crate::rfc3339::rfc3339_utc;

/// Alertmanager's way of saying "not ended yet".
const NOT_ENDED: &str = "0001-01-01T00:00:00Z";

/// One alert per notification, grouped by cause. `startsAt` (and `endsAt` when
/// resolved) is `now_unix_ms`: Ward does not know the alert's first-fire time here.
pub fn alertmanager_payload(route_name: &str, notification: &Notification, now_unix_ms: u64) -> Value {
    let status = if is_resolved(notification) { "resolved" } else { "firing" };
    let now = rfc3339_utc(now_unix_ms);
    let alert_id = notification.alert.map(|a| a.0.to_string()).unwrap_or_default();
    let severity = severity_name(notification.severity);
    let labels = json!({
        "alertname": "ward",
        "cause": notification.cause,
        "severity": severity,
        "alert_id": alert_id,
    });
    json!({
        "version": "4",
        "groupKey": notification.cause,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": route_name,
        "groupLabels": { "cause": notification.cause },
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": [{
            "status": status,
            "labels": labels,
            "annotations": { "summary": notification.title, "description": notification.body },
            "startsAt": now,
            "endsAt": if status == "resolved" { now.clone() } else { NOT_ENDED.to_string() },
            "generatorURL": "",
            "fingerprint": fingerprint(&notification.cause, &alert_id),
        }],
    })
}

/// Stable per alert (cause and id, not severity: the all-clear goes out as info and
/// must match the page it resolves). FNV-1a 64, as 16 hex digits like Alertmanager's.
fn fingerprint(cause: &str, alert_id: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"ward\0".iter().chain(cause.as_bytes()).chain(b"\0").chain(alert_id.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    #[test]
    fn fingerprint_is_stable_and_distinguishes_alerts() {
        assert_eq!(fingerprint("replication:db1", "4"), fingerprint("replication:db1", "4"));
        assert_ne!(fingerprint("replication:db1", "4"), fingerprint("replication:db1", "5"));
        assert_ne!(fingerprint("a", "1"), fingerprint("a\u{0}1", ""));
        assert_eq!(fingerprint("x", "1").len(), 16);
    }
}
