mod common;

use std::time::{Duration, Instant};

use common::{dns_server, dns_silent, spec};
use ward_core::inventory::CheckKind;
use ward_core::observation::ProbeOutcome;
use ward_probe::kinds::probe_dns;
use ward_probe::ProbeContext;

#[tokio::test]
async fn dns_resolves_against_the_named_server() {
    let server = dns_server([10, 1, 2, 3]).await;
    let context = ProbeContext::default();
    let mut check = spec(CheckKind::Dns, format!("db.ward.test@{server}"), 2_000);
    let result = probe_dns(&check, &context).await;
    assert_eq!(result.outcome, ProbeOutcome::Pass, "{result:?}");

    check.expect_body = Some("10.1.2.3".into());
    let result = probe_dns(&check, &context).await;
    assert_eq!(result.outcome, ProbeOutcome::Pass, "{result:?}");

    check.expect_body = Some("10.1.2.3, 10.9.9.9".into());
    let result = probe_dns(&check, &context).await;
    assert_eq!(result.outcome, ProbeOutcome::Fail);
    assert_eq!(result.message(), Some("answer 10.1.2.3, expected 10.1.2.3,10.9.9.9"));
}

#[tokio::test]
async fn dns_server_that_never_answers_is_bounded_by_the_timeout() {
    let server = dns_silent().await;
    let started = Instant::now();
    let result = probe_dns(&spec(CheckKind::Dns, format!("db.ward.test@{server}"), 300), &ProbeContext::default()).await;
    assert_eq!(result.outcome, ProbeOutcome::Timeout, "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(300 + 1_500), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn dns_rejects_a_server_that_is_not_an_address() {
    let result = probe_dns(&spec(CheckKind::Dns, "db.ward.test@ns1.example", 1_000), &ProbeContext::default()).await;
    assert_eq!(result.outcome, ProbeOutcome::Fail);
    assert_eq!(result.message(), Some("dns server \"ns1.example\" is not ip[:port]"));
    let mut check = spec(CheckKind::Dns, "db.ward.test@127.0.0.1:1", 1_000);
    check.expect_body = Some("10.0.0.x".into());
    let result = probe_dns(&check, &ProbeContext::default()).await;
    assert_eq!(result.message(), Some("expected answer \"10.0.0.x\" is not an IP address"));
}
