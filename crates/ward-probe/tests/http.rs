mod common;

use std::time::{Duration, Instant};

use common::{http_server, silent_server, spec, tcp_closed_port};
use ward_core::inventory::CheckKind;
use ward_core::observation::ProbeOutcome;
use ward_probe::kinds::probe_http;
use ward_probe::ProbeContext;

#[tokio::test]
async fn http_any_2xx_passes_by_default() {
    let address = http_server(204, "").await;
    let result = probe_http(&spec(CheckKind::Http, format!("http://{address}/health"), 2_000), &ProbeContext::default()).await;
    assert_eq!(result.outcome, ProbeOutcome::Pass, "{result:?}");
}

#[tokio::test]
async fn http_status_mismatch_fails_and_names_both() {
    let address = http_server(503, "down").await;
    let context = ProbeContext::default();
    let mut check = spec(CheckKind::Http, format!("http://{address}/"), 2_000);
    check.expect_status = Some(200);
    let result = probe_http(&check, &context).await;
    assert_eq!(result.outcome, ProbeOutcome::Fail);
    assert_eq!(result.message(), Some("status 503, expected 200"));
    check.expect_status = None;
    let result = probe_http(&check, &context).await;
    assert_eq!(result.message(), Some("status 503, expected 2xx"));
}

#[tokio::test]
async fn http_expected_status_outside_2xx_passes() {
    let address = http_server(418, "teapot").await;
    let mut check = spec(CheckKind::Http, format!("http://{address}/"), 2_000);
    check.expect_status = Some(418);
    assert_eq!(probe_http(&check, &ProbeContext::default()).await.outcome, ProbeOutcome::Pass);
}

#[tokio::test]
async fn http_body_must_contain_the_expected_text() {
    let address = http_server(200, "{\"status\":\"ok\"}").await;
    let context = ProbeContext::default();
    let mut check = spec(CheckKind::Http, format!("http://{address}/"), 2_000);
    check.expect_body = Some("\"ok\"".into());
    assert_eq!(probe_http(&check, &context).await.outcome, ProbeOutcome::Pass);
    check.expect_body = Some("ready".into());
    let result = probe_http(&check, &context).await;
    assert_eq!(result.outcome, ProbeOutcome::Fail);
    assert_eq!(result.message(), Some("body lacks \"ready\""));
}

#[tokio::test]
async fn http_connect_refused_fails() {
    let address = tcp_closed_port().await;
    let result = probe_http(&spec(CheckKind::Http, format!("http://{address}/"), 2_000), &ProbeContext::default()).await;
    assert_eq!(result.outcome, ProbeOutcome::Fail);
    assert_eq!(result.message(), Some("connect refused"), "{result:?}");
}

/// Seed 003: a server that accepts and never answers must cost one timeout, not a wedge.
#[tokio::test]
async fn http_server_that_never_answers_times_out() {
    let address = silent_server().await;
    let started = Instant::now();
    let result = probe_http(&spec(CheckKind::Http, format!("http://{address}/"), 300), &ProbeContext::default()).await;
    assert_eq!(result.outcome, ProbeOutcome::Timeout, "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(300 + 1_500), "took {:?}", started.elapsed());
    assert!(result.latency >= Duration::from_millis(250));
}
