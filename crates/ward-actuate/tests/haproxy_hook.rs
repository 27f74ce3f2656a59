//! The haproxy hook against a real HAProxy (Debian's, installed by
//! `scripts/haproxy-up.sh`), started per test on loopback with its runtime API on a
//! unix socket (or TCP) in a temporary directory. Built only with
//! `--features haproxy-tests`; run through `scripts/test-db.sh`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tokio::process::{Child, Command};
use ward_actuate::{Actuators, StepContext};
use ward_core::action::Action;
use ward_core::engine::{JobOutcome, JobRequest};
use ward_core::ids::{HookId, JobId, NodeId, ServiceId};
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{Hook, HookKind};
use ward_core::journal::JobStep;

const HAPROXY: &str = "/usr/sbin/haproxy";

/// A running haproxy with one backend `pg_rw`; killed when dropped.
struct Haproxy {
    _child: Child,
    _dir: tempfile::TempDir,
    /// Where clients connect (the frontend).
    frontend: u16,
    /// The runtime API: the unix socket, or `127.0.0.1:port` when asked for TCP.
    socket: String,
}

impl Haproxy {
    /// `servers`: (name, port, starts disabled).
    async fn start(servers: &[(&str, u16, bool)], tcp_api: bool) -> Haproxy {
        let dir = tempfile::tempdir().unwrap();
        let frontend = free_port();
        let socket = if tcp_api { format!("127.0.0.1:{}", free_port()) } else { dir.path().join("admin.sock").display().to_string() };
        let bind = if tcp_api { format!("ipv4@{socket}") } else { socket.clone() };
        let mut config = format!(
            "global\n    stats socket {bind} level admin\n\
             defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n\
             frontend clients\n    bind 127.0.0.1:{frontend}\n    default_backend pg_rw\n\
             backend pg_rw\n"
        );
        for (name, port, disabled) in servers {
            config.push_str(&format!("    server {name} 127.0.0.1:{port}{}\n", if *disabled { " disabled" } else { "" }));
        }
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, config).unwrap();
        let child = Command::new(HAPROXY)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{HAPROXY}: {e} (install it with scripts/haproxy-up.sh)"));
        let haproxy = Haproxy { _child: child, _dir: dir, frontend, socket };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", frontend)).await.is_err() || !haproxy.api_answers().await {
            assert!(Instant::now() < deadline, "haproxy did not come up within 10 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        haproxy
    }

    async fn api_answers(&self) -> bool {
        if tcp(&self.socket) {
            TcpStream::connect(&self.socket).await.is_ok()
        } else {
            Path::new(&self.socket).exists()
        }
    }

    fn hook(&self, timeout_ms: u64) -> Hook {
        hook(&self.socket, timeout_ms)
    }

    /// Which backend server a new client lands on (each says its name first).
    async fn lands_on(&self) -> String {
        let mut client = TcpStream::connect(("127.0.0.1", self.frontend)).await.unwrap();
        read_name(&mut client).await
    }
}

fn tcp(socket: &str) -> bool {
    !socket.starts_with('/')
}

fn hook(socket: &str, timeout_ms: u64) -> Hook {
    Hook {
        name: "haproxy".into(),
        kind: HookKind::Haproxy { socket: socket.to_string(), backend: "pg_rw".into() },
        timeout_ms,
        retries: 0,
        parallel_max: 1,
        services: vec![ServiceId(0)],
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A backend server that greets every client with its name and then keeps the
/// connection open until the client (or HAProxy) closes it.
async fn backend_server(name: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.write_all(format!("{name}\n").as_bytes()).await;
                let mut sink = [0u8; 64];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
    });
    port
}

async fn read_name(client: &mut TcpStream) -> String {
    let mut buffer = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buffer)).await.expect("no greeting within 5 s").unwrap();
    String::from_utf8_lossy(&buffer[..n]).trim().to_string()
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn request(kind: &str, from: &[&str], to: &[&str], step: JobStep) -> JobRequest {
    let mut all: Vec<&str> = Vec::new();
    for name in from.iter().chain(to) {
        if !all.contains(name) {
            all.push(name);
        }
    }
    let id = |name: &str| NodeId(all.iter().position(|n| *n == name).unwrap_or(0) as u32);
    let ids = |names: &[&str]| names.iter().map(|n| id(n)).collect::<Vec<_>>();
    let action = match kind {
        "move_vip" => Action::MoveVip { service: ServiceId(0), from: Some(id(from[0])), to: id(to[0]) },
        "set_dns_targets" => Action::SetDnsTargets { service: ServiceId(0), from: ids(from), to: ids(to) },
        _ => Action::Fence { service: ServiceId(0), node: id(from[0]) },
    };
    // As the engine sends it: a rollback carries the concrete undo.
    let action = match step {
        JobStep::Rollback => action.rollback().unwrap_or(action),
        _ => action,
    };
    let named = action.map(|n| all[n.index()].to_string(), |_| "pg-rw".to_string());
    JobRequest { job: JobId(7), step, action, named, hook: HookId(0), attempt: 1, deadline_ms: now_ms() + 30_000, fencing_token: 1 }
}

async fn step(hook: &Hook, request: &JobRequest) -> JobOutcome {
    let ctx = StepContext { controller: "ctl-test".into(), snapshot: Arc::new(InventoryBuilder::new().build()) };
    Actuators::new().unwrap().run_step(hook, request, &ctx).await
}

#[tokio::test]
async fn move_vip_readies_the_new_server_and_cuts_the_old_ones_sessions() {
    let (pg1, pg2) = (backend_server("pg1").await, backend_server("pg2").await);
    let haproxy = Haproxy::start(&[("pg1", pg1, false), ("pg2", pg2, true)], false).await;
    let mut old_client = TcpStream::connect(("127.0.0.1", haproxy.frontend)).await.unwrap();
    assert_eq!(read_name(&mut old_client).await, "pg1");

    let outcome = step(&haproxy.hook(5_000), &request("move_vip", &["pg1"], &["pg2"], JobStep::Apply)).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.message, "hook haproxy: backend pg_rw: pg2 ready, running, pg1 maint, stopped; confirmed by show servers state");
    // The old holder's client was cut off (HAProxy closed it) and new ones land on pg2.
    let mut rest = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), old_client.read(&mut rest)).await.expect("old session still open after 5 s");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    for _ in 0..3 {
        assert_eq!(haproxy.lands_on().await, "pg2");
    }

    // Rollback: the engine sends the undo (from and to swapped).
    let outcome = step(&haproxy.hook(5_000), &request("move_vip", &["pg1"], &["pg2"], JobStep::Rollback)).await;
    assert!(outcome.ok, "{outcome:?}");
    assert!(outcome.message.contains("pg1 ready, running, pg2 maint, stopped"), "{}", outcome.message);
    assert_eq!(haproxy.lands_on().await, "pg1");
}

#[tokio::test]
async fn dns_targets_over_a_tcp_runtime_api() {
    let (a, b, c) = (backend_server("a").await, backend_server("b").await, backend_server("c").await);
    let haproxy = Haproxy::start(&[("a", a, false), ("b", b, false), ("c", c, true)], true).await;
    assert!(tcp(&haproxy.socket));
    let outcome = step(&haproxy.hook(5_000), &request("set_dns_targets", &["a", "b"], &["b", "c"], JobStep::Apply)).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(
        outcome.message,
        "hook haproxy: backend pg_rw: b ready, running, c ready, running, a maint, stopped; confirmed by show servers state"
    );
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..6 {
        seen.insert(haproxy.lands_on().await);
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["b", "c"], "round robin over the new targets only");
}

#[tokio::test]
async fn haproxys_error_is_surfaced_verbatim_and_nothing_else_is_touched() {
    let (pg1, pg2) = (backend_server("pg1").await, backend_server("pg2").await);
    let haproxy = Haproxy::start(&[("pg1", pg1, false), ("pg2", pg2, true)], false).await;
    let outcome = step(&haproxy.hook(5_000), &request("move_vip", &["pg1"], &["pg9"], JobStep::Apply)).await;
    assert!(!outcome.ok);
    assert_eq!(
        outcome.message,
        "hook haproxy: backend pg_rw: `set server pg_rw/pg9 state ready` failed: HAProxy said: No such server. (nothing changed)"
    );
    assert_eq!(haproxy.lands_on().await, "pg1", "the old holder keeps serving");

    let mut wrong_backend = haproxy.hook(5_000);
    wrong_backend.kind = HookKind::Haproxy { socket: haproxy.socket.clone(), backend: "pg_ro".into() };
    let outcome = step(&wrong_backend, &request("move_vip", &["pg1"], &["pg2"], JobStep::Apply)).await;
    assert!(outcome.message.ends_with("HAProxy said: No such backend. (nothing changed)"), "{}", outcome.message);

    let outcome = step(&haproxy.hook(5_000), &request("move_vip", &["pg1"], &["pg2;disable server pg_rw/pg1"], JobStep::Apply)).await;
    assert!(!outcome.ok);
    assert!(outcome.message.contains("cannot be named in a HAProxy command"), "{}", outcome.message);
    assert_eq!(haproxy.lands_on().await, "pg1");

    let outcome = step(&haproxy.hook(5_000), &request("fence", &["pg1"], &[], JobStep::Apply)).await;
    assert!(!outcome.ok);
    assert!(outcome.message.contains("cannot carry out fence"), "{}", outcome.message);
}

#[tokio::test]
async fn a_socket_that_never_answers_times_out_within_the_hooks_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("mute.sock");
    let listener = UnixListener::bind(&path).unwrap();
    // Accepts, reads, never answers, never closes.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let started = Instant::now();
    let outcome = step(&hook(&path.display().to_string(), 700), &request("move_vip", &["pg1"], &["pg2"], JobStep::Apply)).await;
    let took = started.elapsed();
    assert!(!outcome.ok);
    assert!(
        outcome.message.contains("did not answer `set server pg_rw/pg2 state ready` within 700ms; whether it took effect is unknown"),
        "{}",
        outcome.message
    );
    assert!(took >= Duration::from_millis(650) && took < Duration::from_secs(2), "{took:?}");

    // Nothing listening at all: said at once.
    drop(dir);
    let outcome = step(&hook(&path.display().to_string(), 700), &request("move_vip", &["pg1"], &["pg2"], JobStep::Apply)).await;
    assert!(!outcome.ok && outcome.message.contains("No such file or directory"), "{}", outcome.message);
}
