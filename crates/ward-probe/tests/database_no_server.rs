//! postgres/mysql probes against things that are not database servers: these need no
//! real server (those tests are `tests/databases.rs`, feature `db-tests`).

mod common;

use std::time::{Duration, Instant};

use common::{spec, tcp_accepting, tcp_closed_port};
use tokio::net::TcpListener;
use ward_core::inventory::CheckKind;
use ward_core::observation::ProbeOutcome;
use ward_probe::probe;
use ward_probe::ProbeContext;

fn target(kind: CheckKind, address: impl std::fmt::Display) -> String {
    match kind {
        CheckKind::Postgres => format!("postgres://ward:ward@{address}/postgres"),
        _ => format!("mysql://ward:ward@{address}"),
    }
}

#[tokio::test]
async fn nothing_listening_fails_with_connect_refused() {
    let down = tcp_closed_port().await;
    for kind in [CheckKind::Postgres, CheckKind::Mysql] {
        let result = probe(&spec(kind, target(kind, down), 2_000), &ProbeContext::default()).await;
        assert_eq!(result.outcome, ProbeOutcome::Fail, "{kind:?}: {result:?}");
        assert_eq!(result.message(), Some("connect refused"), "{kind:?}");
    }
}

#[tokio::test]
async fn a_port_that_hangs_up_fails() {
    let up = tcp_accepting().await;
    for kind in [CheckKind::Postgres, CheckKind::Mysql] {
        let result = probe(&spec(kind, target(kind, up), 2_000), &ProbeContext::default()).await;
        assert_eq!(result.outcome, ProbeOutcome::Fail, "{kind:?}: {result:?}");
    }
}

/// A server that accepts and never says a word: the probe ends at its timeout.
#[tokio::test]
async fn a_silent_server_times_out_within_the_bound() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    for kind in [CheckKind::Postgres, CheckKind::Mysql] {
        let started = Instant::now();
        let result = probe(&spec(kind, target(kind, address), 300), &ProbeContext::default()).await;
        assert_eq!(result.outcome, ProbeOutcome::Timeout, "{kind:?}: {result:?}");
        assert!(started.elapsed() < Duration::from_millis(800), "{kind:?} took {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn a_malformed_target_fails_and_says_why() {
    for (kind, bad) in [(CheckKind::Postgres, "postgres://[::1"), (CheckKind::Mysql, "http://127.0.0.1:1")] {
        let result = probe(&spec(kind, bad, 1_000), &ProbeContext::default()).await;
        assert_eq!(result.outcome, ProbeOutcome::Fail, "{kind:?}: {result:?}");
        assert!(!result.message().unwrap_or("").is_empty(), "{kind:?}: {result:?}");
    }
}
