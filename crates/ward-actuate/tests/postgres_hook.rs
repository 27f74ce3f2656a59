//! The postgres hook against real PostgreSQL 15 servers (issue 4). Built only with
//! `--features db-tests`; run through `scripts/test-db.sh`, as root.
//!
//! Every test starts its own PostgreSQL-only cluster with `scripts/db-up.sh`
//! (primary 127.0.0.1:16432, standbys 16433 and 16434, synchronous
//! `ANY 1 (standby1, standby2)`), in its own directory, and tears it down after
//! (`db-down.sh`, then the directory is deleted) even when an assertion fails: the
//! tests fence, promote, kill and freeze servers, so no state carries over. The
//! shared cluster of `scripts/test-db.sh` (15432-15434) is never touched. One test
//! at a time (they share the ports).

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};
use ward_actuate::{Actuators, StepContext};
use ward_core::action::Action;
use ward_core::engine::{JobOutcome, JobRequest};
use ward_core::ids::{HookId, JobId, NodeId, ServiceId};
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{FenceMode, Hook, HookKind, ServiceKind, Snapshot};
use ward_core::journal::JobStep;

static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const PRIMARY: u16 = 16432;
const STANDBY1: u16 = 16433;
const STANDBY2: u16 = 16434;
const NODES: [(&str, u16); 3] = [("pg1", PRIMARY), ("pg2", STANDBY1), ("pg3", STANDBY2)];
const DIR: &str = "/var/tmp/ward-actuate-pg-test";
const DSN: &str = "postgresql://postgres:ward@{address}/postgres?connect_timeout=2";

fn scripts() -> String {
    format!("{}/../../scripts", env!("CARGO_MANIFEST_DIR"))
}

fn script(name: &str) -> Command {
    let mut command = Command::new("bash");
    command
        .arg(format!("{}/{name}", scripts()))
        .env("WARD_DB_DIR", DIR)
        .env("WARD_PG_PORT", PRIMARY.to_string())
        .env("WARD_DB_ONLY", "pg")
        .env("WARD_PG_SYNC_STANDBYS", "ANY 1 (standby1, standby2)");
    command
}

/// A fresh three-node cluster of our own; stopped and deleted when dropped.
struct Cluster;

impl Cluster {
    fn up() -> Cluster {
        // SAFETY: geteuid(2) has no preconditions.
        assert_eq!(unsafe { libc::geteuid() }, 0, "the postgres hook tests run db-up.sh: run them as root (scripts/test-db.sh)");
        // A run that died half way may have left our own cluster up: stop it first.
        let _ = script("db-down.sh").output();
        let _ = std::fs::remove_dir_all(DIR);
        for (_, port) in NODES {
            assert!(
                std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
                "port {port} is in use by another process (see ss -ltnp); the postgres hook tests need 16432-16434"
            );
        }
        let started = Instant::now();
        let output = script("db-up.sh").output().expect("bash");
        assert!(
            output.status.success(),
            "db-up.sh failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!("cluster up in {:?}", started.elapsed());
        Cluster
    }

    fn postmaster_pid(&self, data_dir: &str) -> String {
        let path = format!("{DIR}/pg/{data_dir}/postmaster.pid");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        text.lines().next().unwrap_or_default().trim().to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = script("db-down.sh").output();
        let _ = std::fs::remove_dir_all(DIR);
    }
}

/// Runs its closure when dropped: the repair that must happen even if the test fails.
struct Undo<F: FnMut()>(F);

impl<F: FnMut()> Drop for Undo<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

fn kill(signal: &str, pid: &str) {
    let status = Command::new("kill").args([signal, pid]).status().expect("kill");
    assert!(status.success(), "kill {signal} {pid}");
}

// --- the inventory and the steps -----------------------------------------------------

fn snapshot(fence: FenceMode) -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new();
    let site = b.site("lab");
    let nodes: Vec<NodeId> = NODES
        .iter()
        .map(|(name, port)| {
            let id = b.node(name, site, &[("role", "db")]);
            b.node_mut(id).address = format!("127.0.0.1:{port}");
            id
        })
        .collect();
    let service = b.service("pg-main", ServiceKind::Primary, "db", &nodes, &nodes[..1]);
    b.service_mut(service).fence = fence;
    Arc::new(b.build())
}

fn hook(timeout_ms: u64) -> Hook {
    Hook {
        name: "pg".into(),
        kind: HookKind::Postgres { dsn: DSN.into(), fence_command: None },
        timeout_ms,
        retries: 0,
        parallel_max: 1,
        services: vec![ServiceId(0)],
    }
}

fn node_id(name: &str) -> NodeId {
    NodeId(NODES.iter().position(|(n, _)| *n == name).unwrap() as u32)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// `step` of job 1 as the engine sends it: for a rollback, the action's concrete undo.
fn request(action: Action, step: JobStep) -> JobRequest {
    let action = match step {
        JobStep::Rollback => action.rollback().unwrap_or(action),
        _ => action,
    };
    JobRequest {
        job: JobId(1),
        step,
        named: action.map(|n| NODES[n.index()].0.to_string(), |_| "pg-main".to_string()),
        action,
        hook: HookId(0),
        attempt: 1,
        deadline_ms: now_ms() + 30_000,
        fencing_token: 1,
    }
}

async fn fence(snapshot: &Arc<Snapshot>, hook: &Hook, node: &str) -> JobOutcome {
    run(snapshot, hook, request(Action::Fence { service: ServiceId(0), node: node_id(node) }, JobStep::Apply)).await
}

async fn promote(snapshot: &Arc<Snapshot>, from: &str, to: &str) -> JobOutcome {
    let action = Action::Promote { service: ServiceId(0), from: Some(node_id(from)), to: node_id(to) };
    run(snapshot, &hook(30_000), request(action, JobStep::Apply)).await
}

async fn run(snapshot: &Arc<Snapshot>, hook: &Hook, request: JobRequest) -> JobOutcome {
    let ctx = StepContext { controller: "ctl-test".into(), snapshot: snapshot.clone() };
    let started = Instant::now();
    let outcome = Actuators::new().unwrap().run_step(hook, &request, &ctx).await;
    eprintln!("{} in {:?}: ok={} {}", request.named.kind(), started.elapsed(), outcome.ok, outcome.message);
    outcome
}

// --- SQL helpers ---------------------------------------------------------------------

async fn connect(port: u16) -> Result<Client, String> {
    let dsn = format!("postgresql://postgres:ward@127.0.0.1:{port}/postgres?connect_timeout=2");
    let connecting = tokio::time::timeout(Duration::from_secs(3), tokio_postgres::connect(&dsn, NoTls));
    let (client, connection) = connecting.await.map_err(|_| "connect timed out".to_string())?.map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

async fn client(port: u16) -> Client {
    connect(port).await.unwrap_or_else(|e| panic!("127.0.0.1:{port}: {e}"))
}

async fn one_text(port: u16, sql: &str) -> String {
    let row = tokio::time::timeout(Duration::from_secs(10), client(port).await.query_one(sql, &[])).await.expect(sql).expect(sql);
    row.get::<_, Option<String>>(0).unwrap_or_default()
}

/// Polls `sql` (one text value) until `accept` holds, at most 30 s.
async fn until(port: u16, sql: &str, what: &str, accept: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = match connect(port).await {
            Ok(c) => match c.query_one(sql, &[]).await {
                Ok(row) => row.get::<_, Option<String>>(0).unwrap_or_default(),
                Err(e) => e.to_string(),
            },
            Err(e) => e,
        };
        if accept(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, ":{port} never {what}; last: {value}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn both_standbys_streaming() {
    until(PRIMARY, "SELECT count(*)::text FROM pg_stat_replication WHERE state = 'streaming'", "had both standbys streaming", |v| v == "2")
        .await;
}

async fn ids_on(port: u16) -> BTreeSet<i64> {
    let rows = client(port).await.query("SELECT id FROM ward_writes", &[]).await.unwrap();
    rows.iter().map(|r| r.get::<_, i64>(0)).collect()
}

/// Every acknowledged write is on `port`.
async fn assert_no_acknowledged_write_lost(port: u16, writer: &WriteLoad) {
    let acked = writer.acked();
    let present = ids_on(port).await;
    let lost: Vec<i64> = acked.iter().filter(|id| !present.contains(id)).copied().collect();
    eprintln!("{} writes acknowledged, {} failed; {} rows on :{port}; lost: {lost:?}", acked.len(), writer.failures(), present.len());
    assert!(acked.len() > 20, "too few writes to prove anything: {}", acked.len());
    assert!(lost.is_empty(), "{} acknowledged writes missing on :{port}: {lost:?}", lost.len());
}

// --- a write load ----------------------------------------------------------------------

/// INSERTs into the primary in a loop, reconnecting after any error; remembers
/// every id whose INSERT returned OK (acknowledged: in synchronous mode, flushed
/// on a standby too).
struct WriteLoad {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<i64>>>,
    failures: Arc<AtomicU64>,
    task: Option<JoinHandle<()>>,
}

impl WriteLoad {
    async fn start(port: u16) -> WriteLoad {
        client(port).await.batch_execute("CREATE TABLE IF NOT EXISTS ward_writes (id bigint PRIMARY KEY)").await.unwrap();
        let (stop, acked, failures) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicU64::new(0)));
        let task = tokio::spawn(write_loop(port, stop.clone(), acked.clone(), failures.clone()));
        WriteLoad { stop, acked, failures, task: Some(task) }
    }

    fn acked(&self) -> Vec<i64> {
        self.acked.lock().unwrap().clone()
    }

    fn failures(&self) -> u64 {
        self.failures.load(Ordering::SeqCst)
    }

    async fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task).await.expect("the write loop did not stop").unwrap();
        }
    }
}

async fn write_loop(port: u16, stop: Arc<AtomicBool>, acked: Arc<Mutex<Vec<i64>>>, failures: Arc<AtomicU64>) {
    let mut next = 1i64;
    while !stop.load(Ordering::SeqCst) {
        let Ok(client) = connect(port).await else {
            failures.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        while !stop.load(Ordering::SeqCst) {
            let id = next;
            next += 1;
            match tokio::time::timeout(Duration::from_secs(2), client.execute("INSERT INTO ward_writes (id) VALUES ($1)", &[&id])).await {
                Ok(Ok(_)) => acked.lock().unwrap().push(id),
                _ => {
                    failures.fetch_add(1, Ordering::SeqCst);
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// --- the tests -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switchover_fences_read_only_promotes_after_replay_and_repoints_the_other_standby() {
    let _lock = LOCK.lock().await;
    let _cluster = Cluster::up();
    let snapshot = snapshot(FenceMode::ReadOnly);
    both_standbys_streaming().await;
    let mut writer = WriteLoad::start(PRIMARY).await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;

    // Promoting while the old primary still takes writes would make two writers.
    let refused = promote(&snapshot, "pg1", "pg2").await;
    assert!(!refused.ok);
    assert!(refused.message.contains("pg1 answers and still accepts writes"), "{}", refused.message);
    assert_eq!(one_text(STANDBY1, "SELECT pg_is_in_recovery()::text").await, "true", "pg2 was not promoted");

    let fenced = fence(&snapshot, &hook(30_000), "pg1").await;
    assert!(fenced.ok, "{}", fenced.message);
    assert!(fenced.message.starts_with("hook pg: pg1 fenced read-only at LSN "), "{}", fenced.message);
    assert!(fenced.message.contains("default_transaction_read_only is on, seen from a new session"), "{}", fenced.message);
    assert!(fenced.message.ends_with("fencing confirmed"), "{}", fenced.message);
    let failures_at_fence = writer.failures();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(writer.failures() > failures_at_fence, "the write loop kept writing to the fenced primary");
    let acked_after_fence = writer.acked().len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(writer.acked().len(), acked_after_fence, "writes were acknowledged after the fence");

    let promoted = promote(&snapshot, "pg1", "pg2").await;
    writer.stop().await;
    assert!(promoted.ok, "{}", promoted.message);
    let m = &promoted.message;
    assert!(m.starts_with("hook pg: promoted pg2 (timeline 2, LSN "), "{m}");
    assert!(m.contains(" after it replayed ") && m.contains(" from pg1"), "{m}");
    assert!(m.contains("pg3 repointed to pg2 (slot standby2 created), streaming"), "{m}");

    assert_no_acknowledged_write_lost(STANDBY1, &writer).await;
    // pg3 streams from pg2 (and, being a synchronous standby, lets pg2 commit).
    let receiver = one_text(STANDBY2, "SELECT status || ' ' || sender_port || ' tli ' || received_tli FROM pg_stat_wal_receiver").await;
    assert_eq!(receiver, "streaming 16433 tli 2");
    let new = client(STANDBY1).await;
    tokio::time::timeout(Duration::from_secs(10), new.execute("INSERT INTO ward_writes (id) VALUES (-1)", &[]))
        .await
        .expect("a commit on pg2 waited more than 10 s for its synchronous standby")
        .unwrap();
    until(STANDBY2, "SELECT count(*)::text FROM ward_writes WHERE id = -1", "received the write on pg2", |v| v == "1").await;
    // The old primary refuses writes.
    let error = client(PRIMARY).await.execute("INSERT INTO ward_writes (id) VALUES (-2)", &[]).await.unwrap_err();
    assert_eq!(error.code(), Some(&tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION), "{error}");

    // Re-applied after a controller restart: nothing to do, and not a failure.
    let again = promote(&snapshot, "pg1", "pg2").await;
    assert!(again.ok, "{}", again.message);
    assert!(again.message.contains("pg2 was already primary (timeline 2"), "{}", again.message);
    assert!(again.message.contains("pg3 already pointed at pg2 (slot standby2 exists), streaming"), "{}", again.message);

    // A promotion has no undo; a read-only fence has one, `unfence` (the engine sends
    // it only when a fence needs rolling back: today fences are never verified, so
    // this is the hook's contract alone).
    let undo_promote =
        request(Action::Promote { service: ServiceId(0), from: Some(node_id("pg1")), to: node_id("pg2") }, JobStep::Rollback);
    let outcome = run(&snapshot, &hook(30_000), undo_promote).await;
    assert!(!outcome.ok && outcome.message.contains("promote cannot be rolled back"), "{}", outcome.message);
    let unfence = request(Action::Fence { service: ServiceId(0), node: node_id("pg1") }, JobStep::Rollback);
    let outcome = run(&snapshot, &hook(30_000), unfence).await;
    assert!(outcome.ok, "{}", outcome.message);
    until(PRIMARY, "SHOW default_transaction_read_only", "accepted writes again", |v| v == "off").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_fence_is_confirmed_by_refusal_and_the_most_advanced_standby_takes_over() {
    let _lock = LOCK.lock().await;
    let cluster = Cluster::up();
    let snapshot = snapshot(FenceMode::ReadOnly);
    both_standbys_streaming().await;
    let mut writer = WriteLoad::start(PRIMARY).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    kill("-KILL", &cluster.postmaster_pid("primary"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    writer.stop().await;

    let fenced = fence(&snapshot, &hook(30_000), "pg1").await;
    assert!(fenced.ok, "{}", fenced.message);
    assert!(fenced.message.contains("pg1 refuses connections at 127.0.0.1:16432"), "{}", fenced.message);
    assert!(fenced.message.ends_with("nothing listens there, the server is gone; fencing confirmed"), "{}", fenced.message);

    // The engine promotes the standby with the most WAL; so does this test.
    let received = |port| async move {
        one_text(port, "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::bigint::text").await.parse::<i64>().unwrap()
    };
    let (r1, r2) = (received(STANDBY1).await, received(STANDBY2).await);
    let (to, to_port, other, other_port) = if r1 >= r2 { ("pg2", STANDBY1, "pg3", STANDBY2) } else { ("pg3", STANDBY2, "pg2", STANDBY1) };
    eprintln!("received: pg2 {r1}, pg3 {r2}: promoting {to}");

    let promoted = promote(&snapshot, "pg1", to).await;
    assert!(promoted.ok, "{}", promoted.message);
    let m = &promoted.message;
    assert!(m.starts_with(&format!("hook pg: promoted {to} (timeline 2, LSN ")), "{m}");
    assert!(m.contains("pg1 did not answer (connection refused"), "{m}");
    assert!(m.contains("no replay wait (synchronous commit protects acknowledged writes)"), "{m}");
    assert!(m.contains(&format!("{other} repointed to {to} (slot ")), "{m}");
    assert!(m.ends_with("streaming"), "{m}");

    assert_no_acknowledged_write_lost(to_port, &writer).await;
    let receiver = one_text(other_port, "SELECT status || ' ' || sender_port FROM pg_stat_wal_receiver").await;
    assert_eq!(receiver, format!("streaming {to_port}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_is_not_confirmed_fenced_and_a_stop_command_is_confirmed_by_refusal() {
    let _lock = LOCK.lock().await;
    let cluster = Cluster::up();
    let snapshot = snapshot(FenceMode::ReadOnly);
    let pid = cluster.postmaster_pid("primary");
    kill("-STOP", &pid);
    let _thaw = Undo(|| kill("-CONT", &pid));

    let started = Instant::now();
    let fenced = fence(&snapshot, &hook(5_000), "pg1").await;
    let took = started.elapsed();
    assert!(!fenced.ok, "{}", fenced.message);
    assert_eq!(
        fenced.message,
        "hook pg: fencing pg1 is NOT confirmed: no answer within 2s at 127.0.0.1:16432. Only an answer showing it read-only, \
         or a refused connection, confirms a fence; a timeout or an error proves nothing (pg1 may still accept writes)"
    );
    assert!(took < Duration::from_secs(4), "took {took:?}: the DSN's connect_timeout (2 s) bounds the attempt");

    // The hook's own timeout bounds it too (no connect_timeout in this DSN).
    let mut short = hook(1_000);
    short.kind = HookKind::Postgres { dsn: "postgresql://postgres:ward@{address}/postgres".into(), fence_command: None };
    let started = Instant::now();
    let fenced = fence(&snapshot, &short, "pg1").await;
    assert!(!fenced.ok && fenced.message.contains("no answer within 1s"), "{}", fenced.message);
    assert!(started.elapsed() < Duration::from_millis(1_500), "{:?}", started.elapsed());
    kill("-CONT", &pid);

    // fence = "stop": the hook's fence_command, then the same confirmation rule.
    let snapshot = self::snapshot(FenceMode::Stop);
    let with_command = |argv: &[&str]| {
        let mut hook = hook(30_000);
        hook.kind = HookKind::Postgres { dsn: DSN.into(), fence_command: Some(argv.iter().map(|a| a.to_string()).collect()) };
        hook
    };
    let failing =
        fence(&snapshot, &with_command(&["/bin/sh", "-c", "echo 'stonith: {node} has no power switch' >&2; exit 3"]), "pg1").await;
    assert!(!failing.ok);
    assert!(
        failing.message.starts_with("hook pg: fencing pg1 is NOT confirmed: /bin/sh failed (exit 3): stonith: pg1 has no power switch."),
        "{}",
        failing.message
    );
    let data = format!("{DIR}/pg/primary");
    let pg_ctl = "/usr/lib/postgresql/15/bin/pg_ctl";
    let stop = with_command(&["runuser", "-u", "postgres", "--", pg_ctl, "-D", &data, "-m", "immediate", "-w", "stop"]);
    let stopped = fence(&snapshot, &stop, "pg1").await;
    assert!(stopped.ok, "{}", stopped.message);
    assert!(
        stopped.message.starts_with("hook pg: runuser ran (server stopped); pg1 refuses connections at 127.0.0.1:16432"),
        "{}",
        stopped.message
    );
}
