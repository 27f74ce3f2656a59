//! tcp checks on the half-open (SYN) path against real loopback listeners. The path
//! needs CAP_NET_RAW: without it these tests assert the fallback to `connect()`
//! instead (and every outcome must be the same either way).

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{spec, tcp_accepting, tcp_closed_port};
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use ward_core::ids::{ObserverId, ProbeId};
use ward_core::inventory::CheckKind;
use ward_core::observation::ProbeOutcome;
use ward_probe::{probe, ProbeContext, ProbeSpec, Scheduler, SchedulerConfig, TcpPath};

/// Whether this process may open a raw socket (root, or CAP_NET_RAW).
fn raw_socket_allowed() -> bool {
    // SAFETY: socket() either fails or returns a descriptor we close at once.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_TCP);
        if fd >= 0 {
            libc::close(fd);
        }
        fd >= 0
    }
}

fn half_open_context() -> ProbeContext {
    let context = ProbeContext::default().with_tcp_path(TcpPath::HalfOpenWhenAvailable);
    assert_eq!(context.tcp_half_open(), raw_socket_allowed(), "half-open exactly when a raw socket can be opened");
    context
}

/// The runs since `before` went the expected way: half-open if allowed, else connect.
fn assert_path(context: &ProbeContext, before: (u64, u64), runs: u64) {
    let (half_open, connect) = context.tcp_runs();
    let done = (half_open - before.0, connect - before.1);
    if raw_socket_allowed() {
        assert_eq!(done, (runs, 0), "half-open runs, connect runs");
    } else {
        assert_eq!(done, (0, runs), "no raw socket: every run connects");
    }
}

/// A listener whose accept queue is full (backlog 0, one connection never accepted):
/// Linux drops further SYNs, so nothing answers: the no-iptables way to a timeout.
async fn tcp_full_listener() -> (SocketAddr, Vec<std::net::TcpStream>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let address = listener.local_addr().unwrap();
    let first = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2)).unwrap();
    // Keep the listener open (never accepting) for the rest of the test.
    tokio::spawn(async move {
        let _listener = listener;
        std::future::pending::<()>().await
    });
    (address, vec![first])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_port_passes() {
    let context = half_open_context();
    let address = tcp_accepting().await;
    let before = context.tcp_runs();
    for _ in 0..3 {
        let result = probe(&spec(CheckKind::Tcp, address.to_string(), 1_000), &context).await;
        assert_eq!(result.outcome, ProbeOutcome::Pass, "{result:?}");
        assert!(result.detail.is_none());
    }
    assert_path(&context, before, 3);
    if let Some(counts) = context.tcp_half_open_counts() {
        assert_eq!((counts.sent, counts.syn_acks), (3, 3), "{counts:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_refused_quickly() {
    let context = half_open_context();
    let address = tcp_closed_port().await;
    let before = context.tcp_runs();
    let started = Instant::now();
    let result = probe(&spec(CheckKind::Tcp, address.to_string(), 2_000), &context).await;
    assert_eq!(result.outcome, ProbeOutcome::Fail, "{result:?}");
    assert_eq!(result.message(), Some("connect refused"));
    assert!(started.elapsed() < Duration::from_millis(500), "a refusal is an answer, not a wait: {:?}", started.elapsed());
    assert_path(&context, before, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_that_drops_syns_times_out_within_the_bound() {
    let context = half_open_context();
    let (address, _held) = tcp_full_listener().await;
    let before = context.tcp_runs();
    let started = Instant::now();
    let result = probe(&spec(CheckKind::Tcp, address.to_string(), 300), &context).await;
    let elapsed = started.elapsed();
    assert_eq!(result.outcome, ProbeOutcome::Timeout, "{result:?}");
    assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(800), "{elapsed:?}");
    assert_path(&context, before, 1);
    // The timed-out run gave its slot back: the same context still answers.
    let open = tcp_accepting().await;
    let result = probe(&spec(CheckKind::Tcp, open.to_string(), 1_000), &context).await;
    assert_eq!(result.outcome, ProbeOutcome::Pass, "{result:?}");
}

/// A retransmitted SYN (timeout beyond 1 s) is still answered by the same run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_timeout_resends_the_syn() {
    let context = half_open_context();
    if !context.tcp_half_open() {
        return; // connect()'s retransmissions are the kernel's, tested by Linux.
    }
    let (address, _held) = tcp_full_listener().await;
    let result = probe(&spec(CheckKind::Tcp, address.to_string(), 1_500), &context).await;
    assert_eq!(result.outcome, ProbeOutcome::Timeout, "{result:?}");
    let counts = context.tcp_half_open_counts().unwrap();
    assert_eq!(counts.sent, 2, "a SYN at 0 and at 1 s: {counts:?}");
}

/// Names and IPv6 literals connect even when the half-open path is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_ipv6_targets_connect() {
    let context = half_open_context();
    let address = tcp_accepting().await;
    let before = context.tcp_runs();
    let result = probe(&spec(CheckKind::Tcp, format!("localhost:{}", address.port()), 2_000), &context).await;
    assert_eq!(result.outcome, ProbeOutcome::Pass, "{result:?}");
    let result = probe(&spec(CheckKind::Tcp, "[::1]:1", 1_000), &context).await;
    assert_ne!(result.outcome, ProbeOutcome::Pass, "nothing listens on [::1]:1: {result:?}");
    let (half_open, connect) = context.tcp_runs();
    assert_eq!((half_open - before.0, connect - before.1), (0, 2));
}

/// Without a raw socket (simulated), tcp checks connect and give the same answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_raw_socket_checks_connect() {
    let context = ProbeContext::default().with_tcp_path(TcpPath::HalfOpenDenied);
    assert!(!context.tcp_half_open());
    assert_eq!(context.tcp_half_open_counts(), None);
    let open = tcp_accepting().await;
    let closed = tcp_closed_port().await;
    assert_eq!(probe(&spec(CheckKind::Tcp, open.to_string(), 1_000), &context).await.outcome, ProbeOutcome::Pass);
    let refused = probe(&spec(CheckKind::Tcp, closed.to_string(), 1_000), &context).await;
    assert_eq!(refused.message(), Some("connect refused"), "{refused:?}");
    assert_eq!(context.tcp_runs(), (0, 2));
}

/// Many runs in flight at once, to open and closed ports: each reply finds its own run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_get_their_own_answers() {
    let context = half_open_context();
    let mut open = Vec::new();
    let mut closed = Vec::new();
    for _ in 0..8 {
        open.push(tcp_accepting().await);
        closed.push(tcp_closed_port().await);
    }
    let runs: Vec<_> = (0..2_000)
        .map(|index| {
            let context = context.clone();
            let (target, expected) =
                if index % 3 == 0 { (closed[index % 8], ProbeOutcome::Fail) } else { (open[index % 8], ProbeOutcome::Pass) };
            tokio::spawn(async move { (probe(&spec(CheckKind::Tcp, target.to_string(), 3_000), &context).await, expected) })
        })
        .collect();
    for run in runs {
        let (result, expected) = run.await.unwrap();
        assert_eq!(result.outcome, expected, "{result:?}");
    }
    if let Some(counts) = context.tcp_half_open_counts() {
        assert_eq!(counts.syn_acks + counts.resets, 2_000, "{counts:?}");
        assert_eq!(counts.unmatched, 0, "{counts:?}");
    }
}

/// The scheduler takes the half-open path by default, and connects when told to
/// (or when it has no raw socket).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_uses_the_half_open_path_when_available() {
    let address = tcp_accepting().await.to_string();
    for (path, half_open) in [(TcpPath::default(), raw_socket_allowed()), (TcpPath::HalfOpenDenied, false), (TcpPath::Connect, false)] {
        let specs: Vec<ProbeSpec> = (0..50)
            .map(|index| {
                let mut spec = ProbeSpec::new(ProbeId(index), CheckKind::Tcp, address.clone());
                spec.interval = Duration::from_millis(100);
                spec.timeout = Duration::from_millis(80);
                spec
            })
            .collect();
        let (sink, mut receiver) = mpsc::channel(10_000);
        let handle = Scheduler::start(specs, ObserverId(0), sink, SchedulerConfig { tcp_path: path, ..SchedulerConfig::default() });
        tokio::time::sleep(Duration::from_millis(600)).await;
        let stats = handle.stats();
        handle.stop().await;
        assert_eq!(stats.tcp_half_open, half_open, "{path:?}: {stats:?}");
        let runs = stats.tcp_half_open_runs + stats.tcp_connect_runs;
        assert!(runs >= 100, "{path:?}: {stats:?}");
        if half_open {
            assert_eq!(stats.tcp_connect_runs, 0, "{stats:?}");
        } else {
            assert_eq!(stats.tcp_half_open_runs, 0, "{stats:?}");
        }
        assert!(stats.passed >= runs * 9 / 10, "{path:?}: {stats:?}");
        let mut passed = 0;
        while let Ok(observation) = receiver.try_recv() {
            passed += (observation.outcome == ProbeOutcome::Pass) as u64;
        }
        // Runs in flight when the stats were read finish (and report) before `stop` returns.
        assert!(passed >= stats.passed, "{passed} < {}", stats.passed);
    }
}

/// Outside a tokio runtime there is no reactor for the raw socket: connect, no panic.
#[test]
fn outside_a_runtime_the_context_connects() {
    let context = ProbeContext::default().with_tcp_path(TcpPath::HalfOpenWhenAvailable);
    assert!(!context.tcp_half_open());
}

/// Special IPv4 addresses are not sent SYNs (the reply would not come from them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unspecified_address_connects() {
    let context = half_open_context();
    let before = context.tcp_runs();
    let _ = probe(&spec(CheckKind::Tcp, "0.0.0.0:1", 500), &context).await;
    let _ = probe(&spec(CheckKind::Tcp, "127.0.0.1:0", 500), &context).await;
    let (half_open, connect) = context.tcp_runs();
    assert_eq!((half_open - before.0, connect - before.1), (0, 2));
}
