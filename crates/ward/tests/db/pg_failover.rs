//! Seed 003 asked for scripted promotion of the hot spare; issue 4 for it with no
//! acknowledged write lost. The real `ward` binary manages a PostgreSQL 15 cluster of
//! its own (primary pg1 :17432, standbys pg2 :17433 and pg3 :17434, synchronous
//! commit to ANY 1 standby), through the built-in `postgres` hook, with a write
//! address (`pg-rw`, a vip that follows the primary) that a client writes through:
//!
//! 1. `kill -9` of the primary's postmaster under a write load: Ward confirms the
//!    fence (the port refuses), promotes the standby with the most WAL, repoints the
//!    other, moves the write address; every acknowledged write is on the new primary.
//! 2. The old primary is re-attached as a standby (pg_rewind, scripts/pg-rejoin.sh).
//! 3. `ward switchover pg-main --to pg1` under the same load: the old primary is made
//!    read-only, pg1 promoted once it has replayed everything; no write is lost.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_postgres::NoTls;

use crate::support::{Env, Ward};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const BASE_PORT: u16 = 17432;
const NODES: [&str; 3] = ["pg1", "pg2", "pg3"];
/// The data directory db-up.sh gives each node.
const DIRS: [&str; 3] = ["primary", "standby1", "standby2"];

fn port_of(node: &str) -> u16 {
    BASE_PORT + NODES.iter().position(|n| *n == node).unwrap_or_else(|| panic!("no node {node}")) as u16
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The cluster's own directory and ports, torn down (stopped and deleted) on drop.
struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    fn script(&self, script: &str, args: &[&str]) -> std::process::Output {
        Command::new("bash")
            .arg(repo().join("scripts").join(script))
            .args(args)
            .env("WARD_DB_DIR", &self.dir)
            .env("WARD_PG_PORT", BASE_PORT.to_string())
            .env("WARD_DB_ONLY", "pg")
            .env("WARD_PG_SYNC_STANDBYS", "ANY 1 (*)")
            .output()
            .unwrap_or_else(|e| panic!("run {script}: {e}"))
    }

    fn up() -> Cluster {
        let dir = PathBuf::from(format!("/var/tmp/ward-test-failover-{}", std::process::id()));
        let cluster = Cluster { dir };
        let _ = std::fs::remove_dir_all(&cluster.dir);
        let output = cluster.script("db-up.sh", &[]);
        assert!(
            output.status.success(),
            "db-up.sh: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        cluster
    }

    fn data_dir(&self, node: &str) -> PathBuf {
        self.dir.join("pg").join(DIRS[NODES.iter().position(|n| *n == node).unwrap()])
    }

    fn postmaster_pid(&self, node: &str) -> String {
        let text = std::fs::read_to_string(self.data_dir(node).join("postmaster.pid")).expect("postmaster.pid");
        text.lines().next().unwrap_or_default().trim().to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.script("db-down.sh", &[]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn connect(node: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let dsn = format!("host=127.0.0.1 port={} user=postgres password=ward dbname=postgres connect_timeout=1", port_of(node));
    let (client, connection) = tokio_postgres::connect(&dsn, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

async fn sql(node: &str, query: &str) -> String {
    let client = connect(node).await.unwrap_or_else(|e| panic!("connect {node}: {e}"));
    let rows = client.simple_query(query).await.unwrap_or_else(|e| panic!("{node}: {query}: {e}"));
    rows.iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap_or_default()
}

/// A client writing through the write address: each INSERT goes to the node the
/// address points at now (the exec hook's state file); the ids the server
/// acknowledged are kept. Bounded by `stop` and two minutes.
struct Writer {
    acked: Arc<Mutex<Vec<i64>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    fn start(env: &Env) -> Writer {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let vip = env.path("vip").join("pg-rw");
        let task = {
            let (acked, stop) = (acked.clone(), stop.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let mut next_id = 0i64;
                let mut client: Option<(String, tokio_postgres::Client)> = None;
                while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(120) {
                    let target = std::fs::read_to_string(&vip).unwrap_or_default();
                    if client.as_ref().is_none_or(|(node, c)| *node != target || c.is_closed()) {
                        client = match tokio::time::timeout(Duration::from_secs(2), connect(&target)).await {
                            Ok(Ok(c)) => Some((target.clone(), c)),
                            _ => None,
                        };
                    }
                    if let Some((_, c)) = &client {
                        next_id += 1;
                        let id = next_id;
                        let insert = async move { c.execute("INSERT INTO acked (id) VALUES ($1)", &[&id]).await };
                        match tokio::time::timeout(Duration::from_secs(2), insert).await {
                            Ok(Ok(1)) => acked.lock().unwrap().push(next_id),
                            _ => client = None,
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        Writer { acked, stop, task }
    }

    fn acked(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    async fn finish(self) -> Vec<i64> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        let acked = self.acked.lock().unwrap().clone();
        acked
    }
}

/// Every acknowledged id must be on `node`.
async fn assert_none_lost(node: &str, acked: &[i64]) {
    let client = connect(node).await.unwrap();
    let rows = client.query("SELECT id FROM acked", &[]).await.unwrap();
    let present: BTreeSet<i64> = rows.iter().map(|r| r.get(0)).collect();
    let lost: Vec<i64> = acked.iter().copied().filter(|id| !present.contains(id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes are missing on {node}: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(20)]
    );
}

async fn wait_streaming_from(standby: &str, primary: &str, within: Duration) {
    let deadline = Instant::now() + within;
    let query = "SELECT status || ' ' || sender_port FROM pg_stat_wal_receiver";
    loop {
        let state = sql(standby, query).await;
        if state == format!("streaming {}", port_of(primary)) {
            return;
        }
        assert!(Instant::now() < deadline, "{standby} does not stream from {primary}: {state:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn inventory(env: &Env) -> String {
    let root = env.root();
    std::fs::write(
        env.path("write-check.sh"),
        format!(
            "#!/bin/sh\n# Verification: the node takes a write.\nexec {PG_BIN}/psql -X -q \"postgresql://postgres:ward@$1/postgres?connect_timeout=1\" -v ON_ERROR_STOP=1 -c 'INSERT INTO ward_verify DEFAULT VALUES'\n"
        ),
    )
    .unwrap();
    let mut text = format!(
        r#"
[policy]
tick = "100ms"
stale_after = "5s"
quorum = 1
job_timeout = "30s"
notify = ["log"]

[policy.budget]
window = "10m"
group_moves_max = 20
fleet_moves_max = 20

[[site]]
name = "dc"

[[observer]]
name = "ctl"
site = "dc"

[[check]]
name = "pg"
kind = "postgres"
target = "postgresql://postgres:ward@{{address}}/postgres?connect_timeout=1"
interval = "250ms"
timeout = "200ms"
rise = 1
fall = 2
timeout_fall = 20
nodes = ["pg1", "pg2", "pg3"]

[[check]]
name = "takes-writes"
kind = "exec"
target = "/bin/sh {root}/write-check.sh {{address}}"
interval = "30s"
timeout = "3s"
rise = 1
fall = 1
nodes = ["pg1", "pg2", "pg3"]

[[hook]]
name = "pg"
kind = "postgres"
dsn = "postgresql://postgres:ward@{{address}}/postgres?connect_timeout=1"
timeout = "20s"
services = ["pg-main"]

[[hook]]
name = "move"
kind = "exec"
command = ["/bin/sh", "{root}/hook.sh", "{root}"]
timeout = "5s"
services = ["pg-rw"]

[[route]]
name = "log"
kind = "log"

[[service]]
name = "pg-main"
kind = "primary"
candidates = ["pg1", "pg2", "pg3"]
initial = ["pg1"]
checks = ["pg"]
actuator = "pg"
fence = "read_only"
notify = ["log"]

[[service]]
name = "pg-rw"
kind = "vip"
follows = "pg-main"
candidates = ["pg1", "pg2", "pg3"]
initial = ["pg1"]
checks = ["pg"]
verify = ["takes-writes"]
actuator = "move"
notify = ["log"]
"#
    );
    for node in NODES {
        // Whoever is primary now, the others replicate from it (the engine follows the
        // primary service's placement; `source` only names the initial one).
        let source = if node == "pg1" { "pg2" } else { "pg1" };
        text.push_str(&format!(
            "\n[[node]]\nname = \"{node}\"\nsite = \"dc\"\naddress = \"127.0.0.1:{}\"\nreplication = {{ source = \"{source}\", lag_max = \"30s\", check = \"pg\" }}\n",
            port_of(node)
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_primary_and_a_switchover_under_writes_lose_no_acknowledged_write() {
    let cluster = Cluster::up();
    sql(
        "pg1",
        "CREATE TABLE IF NOT EXISTS acked (id bigint PRIMARY KEY); CREATE TABLE IF NOT EXISTS ward_verify (at timestamptz DEFAULT now())",
    )
    .await;
    let env = Env::new();
    env.set_vip("pg-rw", "pg1");
    env.write_inventory(&inventory(&env));
    let ward = Ward::start(&env).await;
    for node in NODES {
        ward.wait_node(node, "up", Duration::from_secs(30)).await;
    }
    wait_streaming_from("pg2", "pg1", Duration::from_secs(30)).await;
    wait_streaming_from("pg3", "pg1", Duration::from_secs(30)).await;

    // 1. kill -9 under writes.
    let writer = Writer::start(&env);
    let deadline = Instant::now() + Duration::from_secs(20);
    while writer.acked() < 50 {
        assert!(Instant::now() < deadline, "the writer cannot write through pg-rw");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = writer.acked();
    let killed_at = Instant::now();
    let status = Command::new("kill").args(["-9", &cluster.postmaster_pid("pg1")]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let new_primary = loop {
        let holders = ward.holders("pg-rw").await;
        if let Some(holder) = holders.first().filter(|h| *h != "pg1") {
            if writer.acked() > before + 20 {
                break holder.clone();
            }
        }
        assert!(Instant::now() < deadline, "no recovery within 60 s: pg-rw on {holders:?}, {} writes acknowledged", writer.acked());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let recovered_in = killed_at.elapsed();
    eprintln!("kill -9: writes through pg-rw recovered on {new_primary} in {recovered_in:?}");
    assert_eq!(ward.holders("pg-main").await, vec![new_primary.clone()]);
    let other = if new_primary == "pg2" { "pg3" } else { "pg2" };
    wait_streaming_from(other, &new_primary, Duration::from_secs(30)).await;
    let acked = writer.finish().await;
    assert_none_lost(&new_primary, &acked).await;
    let text = serde_json::to_string(&ward.journal().await).unwrap();
    assert!(text.contains("refused"), "the fence was confirmed by a refused connection");

    // 2. The old primary comes back as a standby of the new one (pg_rewind).
    let output = cluster.script("pg-rejoin.sh", &[cluster.data_dir("pg1").to_str().unwrap(), &port_of(&new_primary).to_string(), "pg1"]);
    assert!(output.status.success(), "pg-rejoin.sh: {}", String::from_utf8_lossy(&output.stderr));
    wait_streaming_from("pg1", &new_primary, Duration::from_secs(30)).await;

    // 3. Switchover back to pg1 under writes: no acknowledged write lost.
    let writer = Writer::start(&env);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let switch = ward.cli(&env, &["switchover", "pg-main", "--to", "pg1", "--wait-max", "60s"]).await;
    assert!(
        switch.status.success(),
        "ward switchover: {}{}",
        String::from_utf8_lossy(&switch.stdout),
        String::from_utf8_lossy(&switch.stderr)
    );
    assert!(String::from_utf8_lossy(&switch.stdout).contains("pg-main is on pg1"), "{}", String::from_utf8_lossy(&switch.stdout));
    ward.wait_holders("pg-rw", &["pg1"], Duration::from_secs(30)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let before = writer.acked();
    while writer.acked() < before + 20 {
        assert!(Instant::now() < deadline, "no writes through pg-rw after the switchover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let acked = writer.finish().await;
    assert_none_lost("pg1", &acked).await;
    assert_eq!(sql(&new_primary, "SHOW default_transaction_read_only").await, "on", "the old primary was fenced read-only");
    wait_streaming_from(other, "pg1", Duration::from_secs(30)).await;
    drop(cluster);
}
