//! `ward agent` through the real binary, on loopback (no database: its probes are
//! http checks, which never answer as a writable primary, so it never fences here;
//! tests/db/agent_leases.rs fences real PostgreSQL servers in namespaces):
//! - errors for people at start: unknown node, a node without `agent = true`, a
//!   token file others can read, a state dir that cannot be written;
//! - started before its controller it keeps trying, then holds a lease; `ward status` says the primary fails over on its own, and an
//!   agent never heard from is alerted and its primary shown as needing approval;
//! - a controller outage lapses the lease without the agent stopping; a controller
//!   with a lower fencing token than one already seen is refused.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::support::{Backend, Deadline, Env, Inventory, Ward, WARD};

const AGENT_TOKEN: &str = "e2e-agent-token-0123456789abcdef";

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// db on a1 (standbys a2, a3), reports on a2 (standby a3); every node declares an
/// agent; short leases.
fn inventory(env: &Env, backends: &[(&str, &Backend)]) -> String {
    let mut text = Inventory::new(backends).render(env);
    text = text.replace("address = \"127.0.0.1\"\n", "address = \"127.0.0.1\"\nagent = true\n");
    text = text.replace("services = []", "services = [\"db\", \"reports\"]");
    text.push_str(
        r#"
[policy.agent]
lease = "2s"
renew_every = "500ms"
margin = "1s"
clock_skew_max = "30s"

[[service]]
name = "db"
kind = "primary"
group = "db"
candidates = ["a1", "a2", "a3"]
initial = ["a1"]
checks = ["a1-http", "a2-http", "a3-http"]
actuator = "move"
notify = ["log"]

[[service]]
name = "reports"
kind = "primary"
group = "reports"
candidates = ["a2", "a3"]
initial = ["a2"]
checks = ["a2-http", "a3-http"]
actuator = "move"
notify = ["log"]
"#,
    );
    text
}

fn agent_command(env: &Env, ward: &str, node: &str, token_file: &Path, state_dir: &Path) -> Command {
    let mut command = Command::new(WARD);
    command
        .args(["agent", "--node", node, "--controller", ward])
        .arg("--inventory")
        .arg(env.inventory())
        .arg("--token-file")
        .arg(token_file)
        .arg("--state-dir")
        .arg(state_dir)
        .env("WARD_LOG", "info")
        .env_remove("WARD_CONTROLLER")
        .env_remove("WARD_AGENT_TOKEN_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true);
    command
}

async fn refused_start(mut command: Command) -> String {
    command.stderr(Stdio::piped());
    let child = command.spawn().expect("spawn ward agent");
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("ward agent to exit by itself")
        .expect("its output");
    assert!(!output.status.success(), "ward agent should refuse to start");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

struct Agent {
    child: Child,
    log: std::path::PathBuf,
}

impl Agent {
    fn start(env: &Env, url: &str, node: &str) -> Agent {
        let log = env.path(&format!("agent-{node}.stderr"));
        let file = std::fs::File::create(&log).unwrap();
        let mut command = agent_command(env, url, node, &env.path("agent-token"), &env.path(&format!("state-{node}")));
        command.stderr(Stdio::from(file));
        Agent { child: command.spawn().expect("spawn ward agent"), log }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_log(&mut self, what: &str, within: Duration) {
        let deadline = Deadline::new(format!("the agent to log {what:?}"), within);
        loop {
            if self.text().contains(what) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the agent exited ({status}):\n{}", self.text());
            }
            if deadline.expired() {
                panic!("the agent did not log {what:?} within {within:?}:\n{}", self.text());
            }
            deadline.tick().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_refuses_to_start_with_an_explanation() {
    let (b1, b2, b3) = (Backend::start().await, Backend::start().await, Backend::start().await);
    let env = Env::new();
    env.write_inventory(&inventory(&env, &[("a1", &b1), ("a2", &b2), ("a3", &b3)]));
    std::fs::write(env.path("agent-token"), format!("{AGENT_TOKEN}\n")).unwrap();
    chmod(&env.path("agent-token"), 0o600);
    let url = "http://127.0.0.1:9";
    let state = env.path("state");

    let error = refused_start(agent_command(&env, url, "a9", &env.path("agent-token"), &state)).await;
    assert!(error.contains("--node \"a9\" is not a node of") && error.contains("a1, a2, a3"), "{error}");

    let without = inventory(&env, &[("a1", &b1), ("a2", &b2), ("a3", &b3)]).replacen("agent = true\n", "", 1);
    env.write_inventory(&without);
    let error = refused_start(agent_command(&env, url, "a1", &env.path("agent-token"), &state)).await;
    assert!(error.contains("node a1 has no `agent = true`"), "{error}");

    chmod(&env.path("agent-token"), 0o644);
    let error = refused_start(agent_command(&env, url, "a2", &env.path("agent-token"), &state)).await;
    assert!(error.contains("chmod 600"), "{error}");
    chmod(&env.path("agent-token"), 0o600);
    let error = refused_start(agent_command(&env, url, "a2", &env.path("no-such-token"), &state)).await;
    assert!(error.contains("cannot read the token file"), "{error}");

    // A state dir below a regular file can never be created.
    let error = refused_start(agent_command(&env, url, "a2", &env.path("agent-token"), &env.path("agent-token").join("state"))).await;
    assert!(error.contains("--state-dir") && error.contains("cannot create it"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_holds_a_lease_outlives_a_controller_outage_and_refuses_a_deposed_controller() {
    let (b1, b2, b3) = (Backend::start().await, Backend::start().await, Backend::start().await);
    let env = Env::new();
    env.write_inventory(&inventory(&env, &[("a1", &b1), ("a2", &b2), ("a3", &b3)]));
    std::fs::write(env.path("agent-token"), format!("{AGENT_TOKEN}\n")).unwrap();
    chmod(&env.path("agent-token"), 0o600);
    let mut ward = Ward::configured(&env, Some(env.path("token")));
    ward.extra_args = vec!["--agent-token-file".into(), env.path("agent-token").display().to_string()];
    let port = crate::support::free_port();
    ward.port = Some(port);
    let url = format!("http://127.0.0.1:{port}");

    // Started before its controller: it keeps trying, then gets its lease.
    let mut agent = Agent::start(&env, &url, "a1");
    agent.wait_log("cannot renew the lease", Duration::from_secs(10)).await;
    ward.spawn().await;
    agent.wait_log("lease granted", Duration::from_secs(10)).await;
    let deadline = Deadline::new("db to fail over on its own in /v1/status", Duration::from_secs(5));
    loop {
        let status = ward.get("/v1/status").await;
        let db = status["failover"].as_array().into_iter().flatten().find(|f| f["service"] == "db").cloned().unwrap_or_default();
        if db["automatic"] == true {
            break;
        }
        deadline.tick().await;
    }

    // a2's agent never started: alerted (within lease + margin + the engine's idle
    // bound), and `ward status` says its primary needs approval.
    let deadline = Deadline::new("an alert for a2's silent agent", Duration::from_secs(20));
    loop {
        let alerts = ward.get("/v1/alerts").await;
        if alerts.as_array().into_iter().flatten().any(|a| a["cause"] == "agent:a2") {
            break;
        }
        deadline.tick().await;
    }
    let output = ward.cli(&env, &["status"]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("db on a1: automatic"), "{text}");
    assert!(text.contains("reports on a2: needs approval") && text.contains("has not renewed"), "{text}");
    assert!(text.contains("agent:a2"), "the alert is listed: {text}");

    // The controller goes away: the lease runs out, the agent keeps going.
    ward.kill9().await;
    agent.wait_log("the lease ran out", Duration::from_secs(10)).await;
    agent.wait_log("cannot renew the lease", Duration::from_secs(5)).await;
    let token: u64 = std::fs::read_to_string(env.path("state-a1").join("fencing-token")).unwrap().trim().parse().unwrap();
    assert!(token >= 1, "the token is kept: {token}");

    // The same data dir: a higher token, granted again and persisted.
    ward.spawn().await;
    let deadline = Deadline::new("the agent to persist the restarted controller's token", Duration::from_secs(10));
    loop {
        let now: u64 = std::fs::read_to_string(env.path("state-a1").join("fencing-token")).unwrap().trim().parse().unwrap_or(0);
        if now > token {
            break;
        }
        deadline.tick().await;
    }
    let granted = agent.text().matches("lease granted").count();
    assert!(granted >= 2, "granted again after the restart:\n{}", agent.text());

    // An agent that has seen a higher token than this controller's (another
    // controller took over since) refuses its answers, and the controller says why.
    let _ = agent.child.kill().await;
    std::fs::write(env.path("state-a1").join("fencing-token"), format!("{}\n", u64::MAX / 2)).unwrap();
    let mut agent = Agent::start(&env, &url, "a1");
    agent.wait_log("another controller has taken over", Duration::from_secs(10)).await;
    agent.wait_log("lower than", Duration::from_secs(5)).await;
    assert!(!agent.text().contains("lease granted"), "{}", agent.text());
    let _ = agent.child.kill().await;
}
