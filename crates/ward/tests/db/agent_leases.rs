//! `ward agent` leases against real PostgreSQL 15, each node in its own network
//! namespace (agent-cluster.sh: pg1 primary, pg2 and pg3 synchronous standbys), the
//! real `ward run` in the root namespace on the bridge, and one `ward agent` per
//! node inside that node's namespace. Short leases (2 s, renewed every 500 ms,
//! margin 1 s) keep each case fast:
//! - an isolated primary (its link down: packets dropped, no RST) fences itself
//!   within the lease; a standby is promoted after lease + margin and takes writes;
//!   the old primary, back on the network, never takes a write;
//! - a frozen primary (SIGSTOP of postgres and its agent beyond lease + margin)
//!   wakes up writable while another holds the service, and is fenced;
//! - a controller stopped for 5 minutes fences nothing: writes continue throughout;
//! - a controller restarted during the lease window neither promotes before
//!   lease + margin nor forgets the lease (it promotes without a person).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_postgres::NoTls;

use crate::support::{free_port, Env, Ward, WARD};

const NODES: [&str; 3] = ["pg1", "pg2", "pg3"];
const BRIDGE: &str = "10.231.7.1";
const AGENT_TOKEN: &str = "db-agent-token-0123456789abcdef";
const LEASE: Duration = Duration::from_secs(2);
const MARGIN: Duration = Duration::from_secs(1);

/// The namespaces have fixed names: one case at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn address(node: &str) -> String {
    format!("10.231.7.1{}", node.strip_prefix("pg").unwrap_or("0"))
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/db/agent-cluster.sh")
}

fn helper(args: &[&str]) -> std::process::Output {
    Command::new("bash").arg(script()).args(args).output().unwrap_or_else(|e| panic!("agent-cluster.sh {args:?}: {e}"))
}

/// The cluster and its namespaces, removed on drop (every exit path of a test).
struct Cluster {
    dir: String,
}

impl Cluster {
    fn up() -> Cluster {
        let cluster = Cluster { dir: format!("/var/tmp/ward-test-agent-{}", std::process::id()) };
        let output = helper(&["up", &cluster.dir]);
        assert!(
            output.status.success(),
            "agent-cluster.sh up: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        cluster
    }

    fn run(&self, args: &[&str]) {
        let output = helper(args);
        assert!(output.status.success(), "agent-cluster.sh {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = helper(&["down", &self.dir]);
    }
}

async fn connect(node: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let dsn = format!("host={} port=5432 user=postgres password=ward dbname=postgres connect_timeout=1", address(node));
    let (client, connection) = tokio_postgres::connect(&dsn, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Whether `node` takes a write now (from the root namespace), bounded.
async fn takes_a_write(node: &str) -> Result<(), String> {
    let attempt = async {
        let client = connect(node).await.map_err(|e| e.to_string())?;
        client.execute("INSERT INTO ward_verify DEFAULT VALUES", &[]).await.map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    };
    tokio::time::timeout(Duration::from_secs(3), attempt).await.unwrap_or_else(|_| Err("no answer within 3 s".into()))
}

/// `default_transaction_read_only` of `pg1`, asked from inside its namespace (it
/// answers there while cut off).
fn read_only_inside(node: &str) -> Option<bool> {
    let n = node.strip_prefix("pg").unwrap_or("0");
    let output = Command::new("ip")
        .args(["netns", "exec", &format!("wardag{n}"), "timeout", "3", "/usr/lib/postgresql/15/bin/psql", "-X", "-tA"])
        .arg(format!("host={} user=postgres password=ward dbname=postgres connect_timeout=1", address(node)))
        .args(["-c", "SHOW default_transaction_read_only"])
        .output()
        .ok()?;
    match String::from_utf8_lossy(&output.stdout).trim() {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

fn inventory(env: &Env) -> String {
    let root = env.root();
    std::fs::write(
        env.path("write-check.sh"),
        "#!/bin/sh\nexec /usr/lib/postgresql/15/bin/psql -X -q \"postgresql://postgres:ward@$1/postgres?connect_timeout=1\" -v ON_ERROR_STOP=1 -c 'INSERT INTO ward_verify DEFAULT VALUES'\n",
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

[policy.agent]
lease = "2s"
renew_every = "500ms"
margin = "1s"
clock_skew_max = "5s"

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
timeout_fall = 4
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
timeout = "10s"
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
        let source = if node == "pg1" { "pg2" } else { "pg1" };
        text.push_str(&format!(
            "\n[[node]]\nname = \"{node}\"\nsite = \"dc\"\naddress = \"{}:5432\"\nagent = true\nreplication = {{ source = \"{source}\", lag_max = \"30s\", check = \"pg\" }}\n",
            address(node)
        ));
    }
    text
}

/// `ward agent` inside the node's namespace.
struct Agent {
    child: tokio::process::Child,
    log: PathBuf,
}

impl Agent {
    fn start(env: &Env, ward: &Ward, node: &str) -> Agent {
        let log = env.path(&format!("agent-{node}.stderr"));
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        let child = tokio::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &format!("wardag{}", node.strip_prefix("pg").unwrap_or("0")),
                WARD,
                "agent",
                "--node",
                node,
                "--controller",
                &ward.url,
            ])
            .arg("--inventory")
            .arg(env.inventory())
            .arg("--token-file")
            .arg(env.path("agent-token"))
            .arg("--state-dir")
            .arg(env.path(&format!("state-{node}")))
            .env("WARD_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn ward agent");
        Agent { child, log }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, signal: i32) {
        let pid = self.child.id().expect("the agent runs") as i32;
        // SAFETY: a signal to a child this test started, by its pid.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "signal the agent");
    }
}

struct Fleet {
    // Dropped in this order: agents, the controller, then the cluster.
    agents: Vec<Agent>,
    ward: Ward,
    env: Env,
    cluster: Cluster,
}

impl Fleet {
    async fn start() -> Fleet {
        let cluster = Cluster::up();
        let env = Env::new();
        env.set_vip("pg-rw", "pg1");
        env.write_inventory(&inventory(&env));
        std::fs::write(env.path("agent-token"), format!("{AGENT_TOKEN}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(env.path("agent-token"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut ward = Ward::configured(&env, Some(env.path("token")));
        ward.extra_args = vec!["--agent-token-file".into(), env.path("agent-token").display().to_string()];
        ward.host = Some(BRIDGE.into());
        ward.port = Some(free_port());
        ward.spawn().await;
        let agents = NODES.iter().map(|node| Agent::start(&env, &ward, node)).collect();
        let fleet = Fleet { agents, ward, env, cluster };
        for node in NODES {
            fleet.ward.wait_node(node, "up", Duration::from_secs(30)).await;
        }
        fleet.wait_automatic(Duration::from_secs(15)).await;
        fleet
    }

    /// Until `ward status` says pg-main fails over on its own (every agent renews).
    async fn wait_automatic(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let output = self.ward.cli(&self.env, &["status"]).await;
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            if text.contains("pg-main on pg1: automatic") {
                return;
            }
            assert!(Instant::now() < deadline, "pg-main does not fail over automatically:\n{text}\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn agent(&self, node: &str) -> &Agent {
        &self.agents[NODES.iter().position(|n| *n == node).unwrap()]
    }

    fn logs(&self) -> String {
        let mut text = format!("--- ward run ---\n{}", self.ward.stderr_text());
        for (node, agent) in NODES.iter().zip(&self.agents) {
            text.push_str(&format!("--- agent {node} ---\n{}", agent.text()));
        }
        text
    }

    /// The holder of pg-main once it is not `old` (bounded), and when it was seen.
    async fn wait_promotion(&self, old: &str, within: Duration) -> (String, Instant) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(holder) = self.ward.holders("pg-main").await.first().filter(|h| *h != old) {
                return (holder.clone(), Instant::now());
            }
            assert!(Instant::now() < deadline, "no promotion away from {old} within {within:?}\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A client writing through pg-rw (the node the write address names now), each
/// write bounded; it keeps when each acknowledged write happened and where.
struct Writer {
    acked: Arc<Mutex<Vec<(Instant, String)>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    fn start(env: &Env, run_max: Duration) -> Writer {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let vip = env.path("vip").join("pg-rw");
        let task = {
            let (acked, stop) = (acked.clone(), stop.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let mut next_id = 0i64;
                let mut client: Option<(String, tokio_postgres::Client)> = None;
                while !stop.load(Ordering::SeqCst) && started.elapsed() < run_max {
                    let target = std::fs::read_to_string(&vip).unwrap_or_default().trim().to_string();
                    if target.is_empty() {
                        // The hook is rewriting the file.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    if client.as_ref().is_none_or(|(node, c)| *node != target || c.is_closed()) {
                        client = match tokio::time::timeout(Duration::from_secs(1), connect(&target)).await {
                            Ok(Ok(c)) => Some((target.clone(), c)),
                            _ => None,
                        };
                    }
                    if let Some((node, c)) = &client {
                        next_id += 1;
                        let id = next_id;
                        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
                        let insert = c.execute("INSERT INTO acked (id) VALUES ($1)", &params);
                        match tokio::time::timeout(Duration::from_secs(1), insert).await {
                            Ok(Ok(1)) => acked.lock().unwrap().push((Instant::now(), node.clone())),
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

    async fn wait_acked(&self, more_than: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.acked() <= more_than {
            assert!(Instant::now() < deadline, "the writer has {} acknowledged writes, waiting for more than {more_than}", self.acked());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn finish(self) -> Vec<(Instant, String)> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        let acked = self.acked.lock().unwrap().clone();
        acked
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_primary_fences_itself_and_a_standby_takes_over_after_lease_and_margin() {
    let _one = ONE_AT_A_TIME.lock().await;
    let fleet = Fleet::start().await;
    let writer = Writer::start(&fleet.env, Duration::from_secs(120));
    writer.wait_acked(30, Duration::from_secs(20)).await;

    let cut_at = Instant::now();
    fleet.cluster.run(&["cut", "1"]);

    // (a) pg1's agent sees neither the controller nor a standby: read-only within
    // the lease (plus the fence itself and this poll).
    let deadline = cut_at + LEASE + Duration::from_secs(3);
    let fenced_after = loop {
        if read_only_inside("pg1") == Some(true) {
            break cut_at.elapsed();
        }
        assert!(Instant::now() < deadline, "pg1 is not read-only {:?} after it was cut off\n{}", deadline - cut_at, fleet.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(fenced_after <= LEASE + Duration::from_millis(1_500), "fenced {fenced_after:?} after the cut");
    assert!(fleet.agent("pg1").text().contains("fencing this server"), "{}", fleet.agent("pg1").text());
    eprintln!("pg1 fenced itself {} ms after it was cut off", fenced_after.as_millis());

    // (b) a standby is promoted, not before lease + margin, and takes writes.
    let (new, promoted_at) = fleet.wait_promotion("pg1", Duration::from_secs(40)).await;
    let promoted_after = promoted_at - cut_at;
    assert!(promoted_after >= LEASE + MARGIN - Duration::from_millis(500), "promoted {promoted_after:?} after the cut\n{}", fleet.logs());
    eprintln!("{new} promoted {} ms after pg1 was cut off", promoted_after.as_millis());
    let before = writer.acked();
    writer.wait_acked(before + 20, Duration::from_secs(30)).await;
    takes_a_write(&new).await.unwrap_or_else(|e| panic!("{new} does not take a write: {e}"));
    let journal = fleet.ward.journal().await;
    assert!(
        journal.iter().any(|r| {
            let text = r.to_string();
            text.contains("FencedByLease") || text.contains("safety margin ran out") || text.contains("fenced itself")
        }),
        "the journal says why the promotion needed no person"
    );

    // (c) back on the network, the old primary stays fenced and takes no write.
    fleet.cluster.run(&["heal", "1"]);
    let healed_at = Instant::now();
    while healed_at.elapsed() < Duration::from_secs(4) {
        assert!(takes_a_write("pg1").await.is_err(), "pg1 took a write after it came back\n{}", fleet.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let acked = writer.finish().await;
    let late: Vec<_> = acked.iter().filter(|(at, node)| *at > promoted_at && node == "pg1").collect();
    assert!(late.is_empty(), "{} writes went to pg1 after the promotion", late.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_primary_that_wakes_up_writable_while_another_holds_the_service_is_fenced() {
    let _one = ONE_AT_A_TIME.lock().await;
    let fleet = Fleet::start().await;
    let writer = Writer::start(&fleet.env, Duration::from_secs(120));
    writer.wait_acked(30, Duration::from_secs(20)).await;

    // The whole host stops: postgres and its agent (a VM freeze).
    let frozen_at = Instant::now();
    fleet.agent("pg1").signal(libc::SIGSTOP);
    fleet.cluster.run(&["freeze", &fleet.cluster.dir, "1"]);
    let (new, promoted_at) = fleet.wait_promotion("pg1", Duration::from_secs(40)).await;
    assert!(promoted_at - frozen_at >= LEASE + MARGIN - Duration::from_millis(500), "promoted too early\n{}", fleet.logs());
    let before = writer.acked();
    writer.wait_acked(before + 20, Duration::from_secs(30)).await;

    // It wakes up writable: fenced within a few seconds, and never written to.
    fleet.cluster.run(&["thaw", &fleet.cluster.dir, "1"]);
    fleet.agent("pg1").signal(libc::SIGCONT);
    let thawed_at = Instant::now();
    loop {
        if read_only_inside("pg1") == Some(true) {
            break;
        }
        assert!(thawed_at.elapsed() < Duration::from_secs(10), "pg1 is still writable 10 s after it woke up\n{}", fleet.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("pg1 fenced {} ms after it woke up; {new} holds pg-main", thawed_at.elapsed().as_millis());
    assert!(takes_a_write("pg1").await.is_err(), "pg1 took a write after it was fenced");
    let acked = writer.finish().await;
    let late: Vec<_> = acked.iter().filter(|(at, node)| *at > promoted_at && node == "pg1").collect();
    assert!(late.is_empty(), "{} writes went to pg1 after the promotion", late.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_stopped_for_five_minutes_fences_nothing_and_writes_continue() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut fleet = Fleet::start().await;
    const STOPPED: Duration = Duration::from_secs(300);
    let writer = Writer::start(&fleet.env, STOPPED + Duration::from_secs(60));
    writer.wait_acked(30, Duration::from_secs(20)).await;

    let pid = fleet.ward.child.as_ref().and_then(|c| c.id()).expect("ward runs") as i32;
    // SAFETY: signals to the controller this test started, by its pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    let stopped_at = Instant::now();
    while stopped_at.elapsed() < STOPPED {
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(read_only_inside("pg1"), Some(false), "pg1 was fenced while only the controller was gone\n{}", fleet.logs());
    }
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    let resumed_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let acked = writer.finish().await;

    // Writes went on throughout: no gap longer than a second, all on pg1.
    let during: Vec<&(Instant, String)> = acked.iter().filter(|(at, _)| *at >= stopped_at && *at <= resumed_at).collect();
    assert!(during.len() > 1_000, "only {} writes in 5 minutes", during.len());
    assert!(during.iter().all(|(_, node)| node == "pg1"));
    let gap = during.windows(2).map(|w| w[1].0 - w[0].0).max().unwrap_or_default();
    assert!(gap < Duration::from_secs(1), "writes stopped for {gap:?} while the controller was stopped");
    eprintln!("{} writes while the controller was stopped, longest gap {} ms", during.len(), gap.as_millis());
    let text = fleet.agent("pg1").text();
    assert!(text.contains("controller outage") && !text.contains("fencing this server"), "{text}");
    assert_eq!(fleet.ward.holders("pg-main").await, vec!["pg1".to_string()]);
    assert_eq!(read_only_inside("pg1"), Some(false));
    fleet.ward.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_restart_in_the_lease_window_neither_promotes_early_nor_forgets_the_lease() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut fleet = Fleet::start().await;
    let writer = Writer::start(&fleet.env, Duration::from_secs(120));
    writer.wait_acked(30, Duration::from_secs(20)).await;

    // pg1's renewals stop reaching any controller (its agent is stopped), and the
    // controller restarts: the new process has no renewal of pg1 of its own, only
    // the journal's word that pg1 holds a lease.
    fleet.agent("pg1").signal(libc::SIGSTOP);
    fleet.ward.kill9().await;
    let restarted_at = Instant::now();
    fleet.ward.spawn().await;
    // It must see pg1's server (its flush position) before pg1 goes: a promotion
    // around a primary never observed needs a person for another reason (writes
    // it may have acknowledged).
    fleet.ward.wait_node("pg1", "up", Duration::from_secs(10)).await;
    fleet.cluster.run(&["cut", "1"]);
    eprintln!("pg1 cut off {} ms after the controller restarted", restarted_at.elapsed().as_millis());

    // The restarted controller counts pg1's lease as renewed when it started: no
    // promotion before lease + margin from then, and one without a person after.
    let (new, promoted_at) = fleet.wait_promotion("pg1", Duration::from_secs(40)).await;
    let after_restart = promoted_at - restarted_at;
    assert!(after_restart >= LEASE + MARGIN, "promoted {after_restart:?} after the restart\n{}", fleet.logs());
    assert!(fleet.ward.get("/v1/approvals").await.as_array().is_none_or(|a| a.is_empty()), "a person was asked\n{}", fleet.logs());
    eprintln!("{new} promoted {} ms after the controller restarted", after_restart.as_millis());
    let before = writer.acked();
    writer.wait_acked(before + 20, Duration::from_secs(30)).await;
    let _ = writer.finish().await;

    // pg1's agent, running again, sees neither the controller nor a majority: it fences.
    fleet.agent("pg1").signal(libc::SIGCONT);
    let resumed_at = Instant::now();
    while read_only_inside("pg1") != Some(true) {
        assert!(resumed_at.elapsed() < Duration::from_secs(10), "pg1 is not fenced after its agent resumed\n{}", fleet.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
