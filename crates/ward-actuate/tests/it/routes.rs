//! Notification routes: payloads checked field by field, errors as sentences.

use std::time::{Duration, Instant};

use ward_actuate::{deliver, rfc3339_utc, Actuators};
use ward_core::engine::Notification;
use ward_core::ids::{AlertId, NotificationId, RouteId};
use ward_core::inventory::{Route, RouteKind};
use ward_core::journal::Severity;

use crate::common::*;

const NOW: u64 = 1_700_000_000_123;

fn notification() -> Notification {
    Notification {
        id: NotificationId(12),
        route: RouteId(0),
        route_name: "oncall".into(),
        alert: Some(AlertId(4)),
        severity: Severity::Page,
        cause: "replication:scl2-db1".into(),
        title: "Replication to scl2-db1 stopped".into(),
        body: "No WAL replayed for 4h; traffic kept off scl2.".into(),
        escalation: 0,
    }
}

fn route(name: &str, kind: RouteKind) -> Route {
    Route {
        name: name.into(),
        kind,
        escalate_to: None,
        escalate_after_ms: 0,
        repeat_every_ms: 0,
        escalations_max: Route::ESCALATIONS_MAX_DEFAULT,
    }
}

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn slack_gets_a_tagged_text() {
    let server = serve(&[], Duration::ZERO).await;
    let actuators = Actuators::new().unwrap();
    let oncall = route("oncall", RouteKind::Slack { url: server.url.clone() });
    deliver(&oncall, &notification(), actuators.client(), T, NOW).await.unwrap();
    let mut escalated = notification();
    escalated.escalation = 2;
    escalated.severity = Severity::Warning;
    actuators.deliver(&oncall, &escalated, T, NOW).await.unwrap();
    let seen = server.seen();
    assert_eq!(
        seen[0].json(),
        serde_json::json!({"text": "[PAGE] Replication to scl2-db1 stopped\nNo WAL replayed for 4h; traffic kept off scl2."})
    );
    assert_eq!(seen[0].header("content-type"), "application/json");
    assert_eq!(
        seen[1].json()["text"],
        "[WARNING, escalation 2] Replication to scl2-db1 stopped\nNo WAL replayed for 4h; traffic kept off scl2."
    );
}

#[tokio::test]
async fn alertmanager_gets_a_webhook_payload() {
    let server = serve(&[], Duration::ZERO).await;
    let actuators = Actuators::new().unwrap();
    let am = route("am", RouteKind::Alertmanager { url: server.url.clone() });
    actuators.deliver(&am, &notification(), T, NOW).await.unwrap();
    let mut resolved = notification();
    resolved.title = "Resolved: Replication to scl2-db1 stopped".into();
    resolved.severity = Severity::Info;
    actuators.deliver(&am, &resolved, T, NOW + 60_000).await.unwrap();

    let seen = server.seen();
    let firing = seen[0].json();
    assert_eq!(firing["version"], "4");
    assert_eq!(firing["groupKey"], "replication:scl2-db1");
    assert_eq!(firing["status"], "firing");
    assert_eq!(firing["receiver"], "am");
    assert_eq!(firing["truncatedAlerts"], 0);
    assert_eq!(firing["groupLabels"], serde_json::json!({"cause": "replication:scl2-db1"}));
    let alerts = firing["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert["status"], "firing");
    assert_eq!(
        alert["labels"],
        serde_json::json!({"alertname": "ward", "cause": "replication:scl2-db1", "severity": "page", "alert_id": "4"})
    );
    assert_eq!(alert["annotations"]["summary"], "Replication to scl2-db1 stopped");
    assert_eq!(alert["annotations"]["description"], "No WAL replayed for 4h; traffic kept off scl2.");
    assert_eq!(alert["startsAt"], "2023-11-14T22:13:20.123Z");
    assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
    let fingerprint = alert["fingerprint"].as_str().unwrap();
    assert_eq!(fingerprint.len(), 16);
    assert!(fingerprint.chars().all(|c| c.is_ascii_hexdigit()));

    let resolved = seen[1].json();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["alerts"][0]["status"], "resolved");
    assert_eq!(resolved["alerts"][0]["labels"]["severity"], "info");
    assert_eq!(resolved["alerts"][0]["endsAt"], "2023-11-14T22:14:20.123Z");
    // The all-clear matches the page it resolves.
    assert_eq!(resolved["alerts"][0]["fingerprint"], fingerprint);
}

#[tokio::test]
async fn rfc3339_known_values() {
    assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339_utc(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
}

#[tokio::test]
async fn http_route_failures_are_sentences() {
    let actuators = Actuators::new().unwrap();
    let url = refused_url();
    let err = actuators.deliver(&route("oncall", RouteKind::Slack { url: url.clone() }), &notification(), T, NOW).await.unwrap_err();
    // The URL only as scheme://host:port: a webhook's path is its secret.
    assert_eq!(err, format!("slack route oncall: POST {}: connection refused", ward_actuate::redact_urls(&url)));

    let server = serve(&[(500, "boom")], Duration::ZERO).await;
    let err =
        actuators.deliver(&route("am", RouteKind::Alertmanager { url: server.url.clone() }), &notification(), T, NOW).await.unwrap_err();
    assert_eq!(err, format!("alertmanager route am: POST {}: HTTP 500: boom", ward_actuate::redact_urls(&server.url)));

    let slow = serve(&[], Duration::from_secs(30)).await;
    let started = Instant::now();
    let err = actuators
        .deliver(&route("oncall", RouteKind::Slack { url: slow.url.clone() }), &notification(), Duration::from_millis(300), NOW)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(err, format!("slack route oncall: POST {}: no complete answer within 300ms", ward_actuate::redact_urls(&slow.url)));
}

#[tokio::test]
async fn exec_route_gets_env_and_stdin() {
    let dir = scratch();
    let pager = route("pager", RouteKind::Exec { command: argv("route.sh", dir.path()) });
    let mut escalated = notification();
    escalated.escalation = 1;
    Actuators::new().unwrap().deliver(&pager, &escalated, T, NOW).await.unwrap();
    let env = env_of(dir.path().join("env"));
    assert_eq!(env["WARD_ALERT"], "4");
    assert_eq!(env["WARD_CAUSE"], "replication:scl2-db1");
    assert_eq!(env["WARD_SEVERITY"], "page");
    assert_eq!(env["WARD_STATUS"], "firing");
    assert_eq!(env["WARD_TITLE"], "Replication to scl2-db1 stopped");
    assert_eq!(env["WARD_ESCALATION"], "1");
    assert_eq!(env["WARD_ROUTE"], "oncall");
    assert_eq!(env["WARD_NOTIFICATION"], "12");
    let stdin: serde_json::Value = serde_json::from_str(&read(dir.path().join("stdin.json"))).unwrap();
    assert_eq!(
        stdin,
        serde_json::json!({
            "version": 1, "notification": 12, "route": "oncall", "alert": 4, "severity": "page", "status": "firing",
            "cause": "replication:scl2-db1", "title": "Replication to scl2-db1 stopped",
            "body": "No WAL replayed for 4h; traffic kept off scl2.", "escalation": 1
        })
    );
}

#[tokio::test]
async fn exec_route_failure_and_timeout() {
    let dir = scratch();
    let actuators = Actuators::new().unwrap();
    let failing = route("pager", RouteKind::Exec { command: argv("route_fail.sh", dir.path()) });
    let err = actuators.deliver(&failing, &notification(), T, NOW).await.unwrap_err();
    assert_eq!(err, format!("exec route pager: {}: exit 2: pager: no such team", scripts().join("route_fail.sh").display()));

    let hanging = route("pager", RouteKind::Exec { command: argv("hang.sh", dir.path()) });
    let started = Instant::now();
    let err = actuators.deliver(&hanging, &notification(), Duration::from_millis(1_500), NOW).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.ends_with("timed out after 1.5s and was killed"), "{err}");
    assert!(eventually_dead(read(dir.path().join("pid")).trim()).await);
}

#[tokio::test]
async fn log_route_always_delivers() {
    let actuators = Actuators::new().unwrap();
    actuators.deliver(&route("log", RouteKind::Log), &notification(), T, NOW).await.unwrap();
}
