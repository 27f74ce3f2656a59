mod common;

use common::{spec, tcp_accepting, tcp_closed_port};
use ward_core::inventory::CheckKind;
use ward_core::observation::ProbeOutcome;
use ward_probe::kinds::probe_tcp;

#[tokio::test]
async fn tcp_passes_when_the_port_accepts() {
    let address = tcp_accepting().await;
    let result = probe_tcp(&spec(CheckKind::Tcp, address.to_string(), 1_000)).await;
    assert_eq!(result.outcome, ProbeOutcome::Pass, "{result:?}");
    assert!(result.detail.is_none());
}

#[tokio::test]
async fn tcp_fails_with_connect_refused_when_nothing_listens() {
    let address = tcp_closed_port().await;
    let result = probe_tcp(&spec(CheckKind::Tcp, address.to_string(), 1_000)).await;
    assert_eq!(result.outcome, ProbeOutcome::Fail);
    assert_eq!(result.message(), Some("connect refused"));
}

#[tokio::test]
async fn tcp_resolves_a_host_name() {
    let address = tcp_accepting().await;
    let result = probe_tcp(&spec(CheckKind::Tcp, format!("localhost:{}", address.port()), 2_000)).await;
    // localhost may resolve to ::1 first; the probe tries every address in order.
    assert_eq!(result.outcome, ProbeOutcome::Pass, "{result:?}");
}

#[tokio::test]
async fn tcp_rejects_a_target_without_a_port() {
    let result = probe_tcp(&spec(CheckKind::Tcp, "127.0.0.1", 1_000)).await;
    assert_eq!(result.outcome, ProbeOutcome::Fail);
    assert!(result.message().unwrap().contains("not host:port"), "{result:?}");
}
