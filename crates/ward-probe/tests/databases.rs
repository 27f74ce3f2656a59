//! postgres/mysql probes against the real servers of `scripts/db-up.sh` (issue 4).
//! Built only with `--features db-tests`; run through `scripts/test-db.sh`, as root
//! (the tests stop, freeze and restart the servers as their own users).
//!
//! The tests change the shared servers (break and repair replication, stop a server),
//! so each database family runs one test at a time under its lock, and every change is
//! undone by a guard's Drop even when an assertion fails.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use ward_core::inventory::CheckKind;
use ward_core::observation::{ProbeDetail, ProbeOutcome, ReplicationStatus};
use ward_probe::{probe, ProbeContext, ProbeResult};

static PG_LOCK: Mutex<()> = Mutex::const_new(());
static MY_LOCK: Mutex<()> = Mutex::const_new(());

const PG_PRIMARY: u16 = 15432;
const PG_STANDBYS: [u16; 2] = [15433, 15434];
const MY_PRIMARY: u16 = 13306;
const MY_REPLICA: u16 = 13307;
const TIMEOUT_MS: u64 = 2_000;
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn db_dir() -> String {
    std::env::var("WARD_DB_DIR").unwrap_or_else(|_| format!("{}/../../target/db", env!("CARGO_MANIFEST_DIR")))
}

async fn probe_at(kind: CheckKind, port: u16) -> ProbeResult {
    let target = match kind {
        CheckKind::Postgres => format!("postgres://postgres:ward@127.0.0.1:{port}/postgres"),
        _ => format!("mysql://ward:ward@127.0.0.1:{port}"),
    };
    probe(&common::spec(kind, target, TIMEOUT_MS), &ProbeContext::default()).await
}

/// The probe passed (the server answered) and reported replication.
fn replication(result: &ProbeResult) -> ReplicationStatus {
    assert_eq!(result.outcome, ProbeOutcome::Pass, "{result:?}");
    match &result.detail {
        Some(ProbeDetail::Replication(status)) => status.clone(),
        other => panic!("expected a Replication detail, got {other:?}"),
    }
}

/// Probes until `accept` holds (at most 30 s), returning the status that satisfied it.
async fn until(kind: CheckKind, port: u16, what: &str, accept: impl Fn(&ReplicationStatus) -> bool) -> ReplicationStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = replication(&probe_at(kind, port).await);
        if accept(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "{kind:?} :{port}: never {what}; last {status:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).env("PGPASSWORD", "ward").output().expect(program);
    assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn pg(port: u16, sql: &str) -> String {
    let port = port.to_string();
    run(&format!("{PG_BIN}/psql"), &["-X", "-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-d", "postgres", "-tAc", sql])
}

fn my(port: u16, sql: &str) -> String {
    let port = format!("-P{port}");
    run("mariadb", &["--no-defaults", "-h127.0.0.1", &port, "-uward", "-pward", "-N", "-B", "-e", sql])
}

/// Runs its closure when dropped: the repair that must happen even if the test fails.
struct Undo<F: FnMut()>(F);

impl<F: FnMut()> Drop for Undo<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

fn signal(pid_file: &str, signal: &str) {
    let pid = std::fs::read_to_string(pid_file).expect(pid_file);
    run("kill", &[signal, pid.lines().next().unwrap().trim()]);
}

// --- PostgreSQL ----------------------------------------------------------------------

#[tokio::test]
async fn pg_primary_reports_role_standbys_and_slots() {
    let _lock = PG_LOCK.lock().await;
    // Another test may just have restarted a standby: give it time to reconnect.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let result = probe_at(CheckKind::Postgres, PG_PRIMARY).await;
        assert_eq!(result.outcome, ProbeOutcome::Pass, "{result:?}");
        let message = result.message().expect("a primary reports a summary");
        assert!(message.starts_with("primary (accepts writes, timeline "), "{message}");
        let streaming = ["standby1", "standby2"]
            .iter()
            .all(|name| message.contains(&format!("{name} streaming")) && message.contains(&format!("{name} active retains")));
        if streaming {
            return;
        }
        assert!(Instant::now() < deadline, "standbys never all streaming: {message}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn pg_standbys_stream_with_small_lag_and_replay_advances_after_writes() {
    let _lock = PG_LOCK.lock().await;
    let mut before = Vec::new();
    for port in PG_STANDBYS {
        let status = until(CheckKind::Postgres, port, "streaming", |s| s.running).await;
        assert!(status.lag_ms.unwrap() < 5_000, "{status:?}");
        assert_eq!(status.last_error, None);
        assert!(status.replayed_position > 0, "{status:?}");
        before.push(status.replayed_position);
    }
    pg(PG_PRIMARY, "CREATE TABLE IF NOT EXISTS ward_probe_test (at timestamptz); INSERT INTO ward_probe_test VALUES (now())");
    for (port, before) in PG_STANDBYS.into_iter().zip(before) {
        until(CheckKind::Postgres, port, "replayed the write", |s| s.running && s.replayed_position > before).await;
    }
}

#[tokio::test]
async fn pg_broken_replication_is_reported_and_the_primary_shows_the_wal_it_retains() {
    let _lock = PG_LOCK.lock().await;
    let port = PG_STANDBYS[1];
    until(CheckKind::Postgres, port, "streaming", |s| s.running).await;
    // Point the standby at a port nobody listens on (primary_conninfo reloads live).
    let conninfo = pg(port, "SHOW primary_conninfo");
    assert!(conninfo.contains(&format!("port={PG_PRIMARY}")), "{conninfo}");
    let set = |info: &str| {
        pg(port, &format!("ALTER SYSTEM SET primary_conninfo = '{}'", info.replace('\'', "''")));
        pg(port, "SELECT pg_reload_conf()");
    };
    let _repair = Undo(|| set(&conninfo));
    set(&conninfo.replace(&format!("port={PG_PRIMARY}"), "port=1"));
    // Between attempts the receiver is gone ("not connected"); during one it may show
    // its state ("WAL receiver stopping ..."): either way not running, and saying why.
    let broken = until(CheckKind::Postgres, port, "broken", |s| !s.running).await;
    let error = broken.last_error.as_deref().unwrap();
    assert!(error.contains("not connected") || error.starts_with("WAL receiver "), "{broken:?}");

    // Seed 003: the slot keeps WAL for the absent standby, and the primary says how much.
    pg(PG_PRIMARY, "CREATE TABLE IF NOT EXISTS ward_probe_test (at timestamptz); INSERT INTO ward_probe_test VALUES (now())");
    pg(PG_PRIMARY, "SELECT pg_switch_wal()");
    let primary = probe_at(CheckKind::Postgres, PG_PRIMARY).await;
    let message = primary.message().unwrap();
    let retained: u64 =
        message.split("standby2 INACTIVE retains ").nth(1).and_then(|rest| rest.split(' ').next()).unwrap().parse().unwrap();
    assert!(retained > 0, "{message}");

    drop(_repair);
    until(CheckKind::Postgres, port, "streaming again", |s| s.running && s.last_error.is_none()).await;
}

#[tokio::test]
async fn pg_stopped_or_frozen_server_fails_within_the_timeout() {
    let _lock = PG_LOCK.lock().await;
    let dir = format!("{}/pg/standby2", db_dir());
    let pg_ctl = format!("{PG_BIN}/pg_ctl");
    let pg_ctl_as_postgres = |action: &[&str]| {
        let mut args = vec!["-u", "postgres", "--", &pg_ctl, "-D", &dir, "-w", "-t", "60"];
        args.extend_from_slice(action);
        run("runuser", &args);
    };
    // Frozen (SIGSTOP): the kernel accepts the connection, nobody answers.
    let pid_file = format!("{dir}/postmaster.pid");
    let resume = Undo(|| signal(&pid_file, "-CONT"));
    signal(&pid_file, "-STOP");
    let frozen = probe_at(CheckKind::Postgres, PG_STANDBYS[1]).await;
    assert_eq!(frozen.outcome, ProbeOutcome::Timeout, "{frozen:?}");
    assert!(frozen.latency < Duration::from_millis(TIMEOUT_MS + 200), "{frozen:?}");
    drop(resume);

    let _restart = Undo(|| pg_ctl_as_postgres(&["-l", &format!("{}/pg/standby2.log", db_dir()), "start"]));
    pg_ctl_as_postgres(&["-m", "fast", "stop"]);
    let stopped = probe_at(CheckKind::Postgres, PG_STANDBYS[1]).await;
    assert_eq!(stopped.outcome, ProbeOutcome::Fail, "{stopped:?}");
    assert_eq!(stopped.message(), Some("connect refused"));
    assert!(stopped.latency < Duration::from_millis(TIMEOUT_MS), "{stopped:?}");
}

// --- MariaDB -------------------------------------------------------------------------

#[tokio::test]
async fn my_primary_reports_its_role_and_connected_replica() {
    let _lock = MY_LOCK.lock().await;
    let result = probe_at(CheckKind::Mysql, MY_PRIMARY).await;
    assert_eq!(result.outcome, ProbeOutcome::Pass, "{result:?}");
    let message = result.message().expect("a primary reports a summary");
    assert!(message.starts_with("primary (accepts writes, no replication configured)"), "{message}");
    assert!(message.ends_with("1 replica(s) connected"), "{message}");
}

#[tokio::test]
async fn my_replica_runs_and_its_gtid_position_advances_after_writes() {
    let _lock = MY_LOCK.lock().await;
    let status = until(CheckKind::Mysql, MY_REPLICA, "running", |s| s.running).await;
    assert!(status.lag_ms.unwrap() < 5_000, "{status:?}");
    assert_eq!(status.last_error, None);
    my(MY_PRIMARY, "CREATE TABLE IF NOT EXISTS ward.probe_test (at DATETIME(6)); INSERT INTO ward.probe_test VALUES (NOW(6))");
    until(CheckKind::Mysql, MY_REPLICA, "applied the write", |s| s.running && s.replayed_position > status.replayed_position).await;
}

/// The replica's own words, as `SHOW SLAVE STATUS` has them.
fn my_last_io_error() -> String {
    let port = format!("-P{MY_REPLICA}");
    let status = run("mariadb", &["--no-defaults", "-h127.0.0.1", &port, "-uward", "-pward", "-e", "SHOW SLAVE STATUS\\G"]);
    status.lines().find_map(|l| l.trim().strip_prefix("Last_IO_Error: ").map(str::to_string)).unwrap_or_default()
}

#[tokio::test]
async fn my_io_thread_stopped_on_equal_server_ids_is_reported_verbatim() {
    // Seed 000's IO thread stopped on a fatal error about the master's SERVER_ID; the
    // nearest a current MariaDB gives on demand is the equal-server-id fatal error.
    let _lock = MY_LOCK.lock().await;
    until(CheckKind::Mysql, MY_REPLICA, "running", |s| s.running).await;
    let _repair = Undo(|| {
        my(MY_REPLICA, "STOP SLAVE; SET GLOBAL server_id = 2; START SLAVE");
    });
    my(MY_REPLICA, "STOP SLAVE; SET GLOBAL server_id = 1; START SLAVE");
    // Until the server's own error: the IO thread passes through "Preparing" first.
    let has = |s: &ReplicationStatus, text: &str| !s.running && s.last_error.as_deref().is_some_and(|e| e.contains(text));
    let broken = until(CheckKind::Mysql, MY_REPLICA, "broken", |s| has(s, "master and slave have equal")).await;
    let error = broken.last_error.unwrap();
    assert_eq!(error, my_last_io_error(), "verbatim");
    assert_eq!(broken.lag_ms, None);

    drop(_repair);
    until(CheckKind::Mysql, MY_REPLICA, "running again", |s| s.running && s.last_error.is_none()).await;
}

#[tokio::test]
async fn my_replica_pointed_at_a_dead_source_is_reported_and_repaired() {
    let _lock = MY_LOCK.lock().await;
    until(CheckKind::Mysql, MY_REPLICA, "running", |s| s.running).await;
    let _repair = Undo(|| {
        my(MY_REPLICA, &format!("STOP SLAVE; CHANGE MASTER TO MASTER_PORT = {MY_PRIMARY}; START SLAVE"));
    });
    my(MY_REPLICA, "STOP SLAVE; CHANGE MASTER TO MASTER_PORT = 1; START SLAVE");
    let broken = until(CheckKind::Mysql, MY_REPLICA, "broken", |s| {
        !s.running && s.last_error.as_deref().is_some_and(|e| e.contains("error connecting to master"))
    })
    .await;
    let error = broken.last_error.unwrap();
    assert_eq!(error, my_last_io_error(), "verbatim");

    drop(_repair);
    until(CheckKind::Mysql, MY_REPLICA, "running again", |s| s.running && s.last_error.is_none()).await;
}

#[tokio::test]
async fn my_frozen_server_times_out_within_the_timeout() {
    let _lock = MY_LOCK.lock().await;
    let pid_file = format!("{}/mariadb/replica.pid", db_dir());
    let _resume = Undo(|| signal(&pid_file, "-CONT"));
    signal(&pid_file, "-STOP");
    let frozen = probe_at(CheckKind::Mysql, MY_REPLICA).await;
    assert_eq!(frozen.outcome, ProbeOutcome::Timeout, "{frozen:?}");
    assert!(frozen.latency < Duration::from_millis(TIMEOUT_MS + 200), "{frozen:?}");
}

/// A server that hangs mid-answer (here: a proxy that holds back the end of the answer
/// to the probe's replication query). After the timeout the probe's
/// connection must be closed, not left to a cleanup task that waits forever.
#[tokio::test]
async fn my_server_hanging_mid_query_times_out_and_the_connection_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _lock = MY_LOCK.lock().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let server = tokio::net::TcpStream::connect(("127.0.0.1", MY_REPLICA)).await.unwrap();
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        let (asked_tx, asked_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 1 << 16];
            while let Ok(n @ 1..) = server_read.read(&mut buffer).await {
                if *asked_rx.borrow() {
                    // All of the answer but its last bytes: the client has the columns
                    // and is inside a result set that never ends.
                    let _ = client_write.write_all(&buffer[..n.saturating_sub(11)]).await;
                    std::future::pending::<()>().await;
                }
                let _ = client_write.write_all(&buffer[..n]).await;
            }
        });
        let mut buffer = [0u8; 4096];
        loop {
            match client_read.read(&mut buffer).await {
                Ok(n) if n > 0 => {
                    if buffer[..n].windows(12).any(|w| w == b"SHOW REPLICA") {
                        let _ = asked_tx.send(true);
                    }
                    let _ = server_write.write_all(&buffer[..n]).await;
                }
                _ => break,
            }
        }
        let _ = closed_tx.send(());
    });
    let target = format!("mysql://ward:ward@127.0.0.1:{port}");
    let result = probe(&common::spec(CheckKind::Mysql, target, 500), &ProbeContext::default()).await;
    assert_eq!(result.outcome, ProbeOutcome::Timeout, "{result:?}");
    tokio::time::timeout(Duration::from_secs(2), closed_rx).await.expect("the probe's connection stayed open").unwrap();
}
