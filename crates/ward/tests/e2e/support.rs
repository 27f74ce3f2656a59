//! The harness: in-process HTTP backends that can be switched down and up, exec
//! hook / verify / notification scripts in a temp dir, the real `ward` binary as a
//! child process, and bounded polling helpers. Only loopback addresses are used.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::process::{Child, Command};

pub const WARD: &str = env!("CARGO_BIN_EXE_ward");
pub const TOKEN: &str = "e2e-test-token-0123456789abcdef";

/// How often the polling helpers look again.
const POLL_EVERY: Duration = Duration::from_millis(100);
/// Every HTTP request of the harness gives up after this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A bounded wait: `tick()` sleeps a little, and panics with `what` once the time is up.
pub struct Deadline {
    what: String,
    until: Instant,
}

impl Deadline {
    pub fn new(what: impl Into<String>, within: Duration) -> Deadline {
        Deadline { what: what.into(), until: Instant::now() + within }
    }

    pub async fn tick(&self) {
        if Instant::now() >= self.until {
            panic!("timed out waiting for: {}", self.what);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }

    pub fn expired(&self) -> bool {
        Instant::now() >= self.until
    }
}

/// A free loopback port (bound and released; the daemon binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port").local_addr().unwrap().port()
}

/// A tiny HTTP backend: `GET /health` answers `ok` while up, 503 while down.
pub struct Backend {
    pub port: u16,
    up: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Backend {
    pub async fn start() -> Backend {
        let up = Arc::new(AtomicBool::new(true));
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind a backend");
        let port = listener.local_addr().unwrap().port();
        let flag = up.clone();
        let app = axum::Router::new().route(
            "/health",
            axum::routing::get(move || {
                let flag = flag.clone();
                async move {
                    if flag.load(Ordering::SeqCst) {
                        (axum::http::StatusCode::OK, "ok")
                    } else {
                        (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down")
                    }
                }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Backend { port, up, task }
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/health", self.port)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One call of the exec hook, as the actuator log recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookCall {
    pub phase: String,
    pub job: u64,
    pub step: String,
    pub service: String,
    pub from: String,
    pub to: String,
    pub token: u64,
    pub attempt: u64,
}

/// One delivered notification, as the exec route's script recorded it.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub route: String,
    pub alert: String,
    pub cause: String,
    pub escalation: u32,
    pub status: String,
}

const HOOK_SH: &str = r#"#!/bin/sh
# Test actuator: logs each call, "moves" the VIP by writing a state file.
d="$1"
line="job=$WARD_JOB step=$WARD_STEP service=$WARD_SERVICE from=$WARD_FROM to=$WARD_TO token=$WARD_FENCING_TOKEN attempt=$WARD_ATTEMPT"
echo "phase=start $line" >> "$d/actuator.log"
cat > /dev/null
mkdir -p "$d/vip" "$d/target"
# Where the VIP is being sent: verification fails until it is there.
printf '%s' "$WARD_TO" > "$d/target/$WARD_SERVICE.tmp.$$" && mv "$d/target/$WARD_SERVICE.tmp.$$" "$d/target/$WARD_SERVICE"
if [ -f "$d/hook-sleep" ]; then sleep "$(cat "$d/hook-sleep")"; fi
# With lose-orphans, a call whose controller died meanwhile never lands.
if [ -f "$d/lose-orphans" ] && ! kill -0 "$PPID" 2>/dev/null; then
  echo "phase=lost $line" >> "$d/actuator.log"
  exit 1
fi
printf '%s' "$WARD_TO" > "$d/vip/$WARD_SERVICE.tmp.$$" && mv "$d/vip/$WARD_SERVICE.tmp.$$" "$d/vip/$WARD_SERVICE"
echo "phase=done $line" >> "$d/actuator.log"
echo "moved $WARD_SERVICE to $WARD_TO"
"#;

/// Verification: every service whose last move targeted NODE must have its VIP there
/// (the hook records the target before it starts, the VIP when it is done).
const VERIFY_SH: &str = r#"#!/bin/sh
d="$1"; node="$2"
for t in "$d"/target/*; do
  [ -f "$t" ] || continue
  svc=$(basename "$t")
  if [ "$(cat "$t")" = "$node" ] && [ "$(cat "$d/vip/$svc" 2>/dev/null)" != "$node" ]; then
    echo "the VIP of $svc is not on $node" >&2
    exit 1
  fi
done
echo "vip state consistent on $node"
"#;

const NOTIFY_SH: &str = r#"#!/bin/sh
d="$1"; route="$2"
cat > /dev/null
echo "route=$route alert=$WARD_ALERT escalation=$WARD_ESCALATION status=$WARD_STATUS cause=$WARD_CAUSE" >> "$d/notifications.log"
"#;

/// A test's files: scripts, token, inventory, data dir, logs.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new().prefix("ward-e2e-").tempdir().expect("temp dir");
        let env = Env { dir };
        std::fs::write(env.path("hook.sh"), HOOK_SH).unwrap();
        std::fs::write(env.path("verify.sh"), VERIFY_SH).unwrap();
        std::fs::write(env.path("notify.sh"), NOTIFY_SH).unwrap();
        std::fs::write(env.path("token"), format!("{TOKEN}\n")).unwrap();
        // `ward run` refuses a token file other users can read.
        chmod(&env.path("token"), 0o600);
        std::fs::create_dir_all(env.path("vip")).unwrap();
        std::fs::create_dir_all(env.path("target")).unwrap();
        env
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn root(&self) -> String {
        self.dir.path().display().to_string()
    }

    pub fn inventory(&self) -> PathBuf {
        self.path("inventory.toml")
    }

    pub fn write_inventory(&self, text: &str) {
        // Written whole and renamed, as an operator's tool should.
        let tmp = self.path("inventory.toml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.inventory()).unwrap();
    }

    /// Where the test actuator last put a service's VIP.
    pub fn vip(&self, service: &str) -> Option<String> {
        std::fs::read_to_string(self.path("vip").join(service)).ok()
    }

    pub fn set_vip(&self, service: &str, node: &str) {
        std::fs::write(self.path("vip").join(service), node).unwrap();
    }

    /// Whether hook calls whose controller died before they finished are lost (true)
    /// or still land (false).
    pub fn set_lose_orphans(&self, lose: bool) {
        if lose {
            std::fs::write(self.path("lose-orphans"), "").unwrap();
        } else {
            let _ = std::fs::remove_file(self.path("lose-orphans"));
        }
    }

    pub fn set_hook_sleep(&self, seconds: &str) {
        std::fs::write(self.path("hook-sleep"), seconds).unwrap();
    }

    pub fn hook_calls(&self) -> Vec<HookCall> {
        let text = std::fs::read_to_string(self.path("actuator.log")).unwrap_or_default();
        text.lines().filter_map(parse_hook_line).collect()
    }

    /// Hook calls that started the given step.
    pub fn started(&self, step: &str) -> Vec<HookCall> {
        self.hook_calls().into_iter().filter(|c| c.phase == "start" && c.step == step).collect()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        let text = std::fs::read_to_string(self.path("notifications.log")).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let f = fields(line);
                Some(Delivery {
                    route: f.get("route")?.clone(),
                    alert: f.get("alert")?.clone(),
                    cause: f.get("cause").cloned().unwrap_or_default(),
                    escalation: f.get("escalation")?.parse().ok()?,
                    status: f.get("status").cloned().unwrap_or_default(),
                })
            })
            .collect()
    }

    pub fn actuator_log(&self) -> String {
        std::fs::read_to_string(self.path("actuator.log")).unwrap_or_default()
    }
}

fn fields(line: &str) -> std::collections::HashMap<String, String> {
    // `cause=` is last and may contain spaces.
    let mut map = std::collections::HashMap::new();
    let (head, cause) = match line.split_once(" cause=") {
        Some((h, c)) => (h, Some(c)),
        None => (line, None),
    };
    for word in head.split_whitespace() {
        if let Some((k, v)) = word.split_once('=') {
            map.insert(k.to_string(), v.to_string());
        }
    }
    if let Some(c) = cause {
        map.insert("cause".into(), c.to_string());
    }
    map
}

fn parse_hook_line(line: &str) -> Option<HookCall> {
    let f = fields(line);
    Some(HookCall {
        phase: f.get("phase")?.clone(),
        job: f.get("job")?.parse().ok()?,
        step: f.get("step")?.clone(),
        service: f.get("service")?.clone(),
        from: f.get("from")?.clone(),
        to: f.get("to")?.clone(),
        token: f.get("token")?.parse().ok()?,
        attempt: f.get("attempt")?.parse().ok()?,
    })
}

/// What a test inventory contains: nodes with their backends, the services, and
/// fast policies so that every test finishes in seconds.
pub struct Inventory {
    /// (node name, backend port)
    pub nodes: Vec<(String, u16)>,
    /// Raw `[[service]]` blocks.
    pub services: Vec<String>,
    /// Names of the services the exec hook serves.
    pub hooked: Vec<String>,
    pub group_moves_max: u32,
    pub fleet_moves_max: u32,
    pub damping_half_life: &'static str,
    pub suppress_above: u32,
    pub reuse_below: u32,
    pub job_timeout: &'static str,
    pub hook_timeout: &'static str,
    pub hook_parallel_max: u32,
    /// Extra raw TOML (routes beyond the default `log` route).
    pub routes: String,
    pub policy_notify: &'static str,
    pub comment: String,
}

impl Inventory {
    pub fn new(nodes: &[(&str, &Backend)]) -> Inventory {
        Inventory {
            nodes: nodes.iter().map(|(n, b)| (n.to_string(), b.port)).collect(),
            services: Vec::new(),
            hooked: Vec::new(),
            group_moves_max: 10,
            fleet_moves_max: 10,
            damping_half_life: "5s",
            suppress_above: 2500,
            reuse_below: 750,
            job_timeout: "10s",
            hook_timeout: "8s",
            hook_parallel_max: 8,
            routes: String::new(),
            policy_notify: "log",
            comment: String::new(),
        }
    }

    /// A VIP service on the given candidates, starting on `initial` (the test
    /// actuator's state file is set to match by `Env::place`).
    pub fn vip(mut self, name: &str, candidates: &[&str], initial: &str, notify: &str) -> Inventory {
        self.services.push(format!(
            "[[service]]\nname = \"{name}\"\nkind = \"vip\"\ngroup = \"web\"\ncandidates = {}\ninitial = [\"{initial}\"]\nverify = [\"vip-verify\"]\nactuator = \"move\"\nnotify = [\"{notify}\"]\n",
            list(candidates)
        ));
        self.hooked.push(name.to_string());
        self
    }

    pub fn dns(mut self, name: &str, candidates: &[&str]) -> Inventory {
        self.services.push(format!(
            "[[service]]\nname = \"{name}\"\nkind = \"dns\"\ngroup = \"dns\"\ncandidates = {c}\ninitial = {c}\nactuator = \"move\"\nnotify = [\"log\"]\nmin_targets = 1\n",
            c = list(candidates)
        ));
        self.hooked.push(name.to_string());
        self
    }

    pub fn render(&self, env: &Env) -> String {
        let root = env.root();
        let mut t = String::new();
        let _ = writeln!(t, "# Ward end-to-end test inventory{}", self.comment);
        let _ = write!(
            t,
            r#"
[policy]
tick = "200ms"
stale_after = "3s"
quorum = 1
time_gap_max = "10s"
job_timeout = "{job_timeout}"
notify = ["{notify}"]

[policy.budget]
window = "10m"
group_moves_max = {group}
group_percent_max = 0
fleet_moves_max = {fleet}
fleet_percent_max = 0

[policy.damping]
penalty_per_flap = 1000
half_life = "{half_life}"
suppress_above = {suppress}
reuse_below = {reuse}
penalty_max = 6000

[policy.integrity]
removed_active_max = 0
changed_percent_max = 100

[[site]]
name = "dc"

[[observer]]
name = "ctl"
site = "dc"
"#,
            job_timeout = self.job_timeout,
            notify = self.policy_notify,
            group = self.group_moves_max,
            fleet = self.fleet_moves_max,
            half_life = self.damping_half_life,
            suppress = self.suppress_above,
            reuse = self.reuse_below,
        );
        for (name, port) in &self.nodes {
            let _ = write!(
                t,
                r#"
[[node]]
name = "{name}"
site = "dc"
address = "127.0.0.1"

[[check]]
name = "{name}-http"
kind = "http"
target = "http://{{address}}:{port}/health"
expect_status = 200
expect_body = "ok"
interval = "200ms"
timeout = "150ms"
rise = 1
fall = 2
nodes = ["{name}"]
"#
            );
        }
        let names: Vec<&str> = self.nodes.iter().map(|(n, _)| n.as_str()).collect();
        let _ = write!(
            t,
            r#"
[[check]]
name = "vip-verify"
kind = "exec"
target = "/bin/sh {root}/verify.sh {root} {{node}}"
interval = "500ms"
timeout = "400ms"
rise = 1
# Fails on a move's destination while the actuator works (and after a lost call),
# which must not make the node itself look down: only verification acts on it.
fall = 30
nodes = {nodes}

[[hook]]
name = "move"
kind = "exec"
command = ["/bin/sh", "{root}/hook.sh", "{root}"]
timeout = "{hook_timeout}"
parallel_max = {parallel}
services = {services}

[[route]]
name = "log"
kind = "log"
{routes}
"#,
            nodes = list(&names),
            hook_timeout = self.hook_timeout,
            parallel = self.hook_parallel_max,
            services = list(&self.hooked.iter().map(String::as_str).collect::<Vec<_>>()),
            routes = self.routes,
        );
        for service in &self.services {
            t.push('\n');
            t.push_str(service);
        }
        t
    }
}

pub fn list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Two exec routes writing to `notifications.log`: `pager` escalates to `backup`,
/// which keeps re-sending to itself, both after `after`.
pub fn pager_routes(env: &Env, after: &str) -> String {
    let root = env.root();
    format!(
        r#"
[[route]]
name = "pager"
kind = "exec"
command = ["/bin/sh", "{root}/notify.sh", "{root}", "pager"]
escalate_to = "backup"
escalate_after = "{after}"

[[route]]
name = "backup"
kind = "exec"
command = ["/bin/sh", "{root}/notify.sh", "{root}", "backup"]
escalate_after = "{after}"
"#
    )
}

/// The `ward run` daemon as a child process; its stderr goes to a file that is
/// printed if the test fails.
pub struct Ward {
    pub child: Option<Child>,
    pub url: String,
    pub stderr: PathBuf,
    pub http: reqwest::Client,
    data_dir: PathBuf,
    inventory: PathBuf,
    token_file: Option<PathBuf>,
    starts: u32,
    /// More `ward run` arguments (read token, --reinitialize, ...).
    pub extra_args: Vec<String>,
    /// An open-files limit (soft = hard) for the daemon, as a tight host would set.
    pub nofile: Option<u64>,
    /// Listen on this port at every start (agents keep the controller's URL).
    pub port: Option<u16>,
    /// Listen on this address instead of 127.0.0.1 (a bridge agents in network
    /// namespaces reach).
    pub host: Option<String>,
}

impl Ward {
    /// Starts `ward run` on the env's inventory and data dir and waits until it answers.
    pub async fn start(env: &Env) -> Ward {
        Ward::start_with(env, Some(env.path("token"))).await
    }

    pub async fn start_with(env: &Env, token_file: Option<PathBuf>) -> Ward {
        let mut ward = Ward::configured(env, token_file);
        ward.spawn().await;
        ward
    }

    /// A daemon not yet started: set `extra_args`/`nofile`, then `spawn` (or `run_to_exit`).
    pub fn configured(env: &Env, token_file: Option<PathBuf>) -> Ward {
        Ward {
            child: None,
            url: String::new(),
            stderr: env.path("ward.stderr"),
            http: reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().unwrap(),
            data_dir: env.path("data"),
            inventory: env.inventory(),
            token_file,
            starts: 0,
            extra_args: Vec::new(),
            nofile: None,
            port: None,
            host: None,
        }
    }

    /// Another data dir (e.g. on a small tmpfs), before `spawn`.
    pub fn set_data_dir(&mut self, path: PathBuf) {
        self.data_dir = path;
    }

    /// Runs `ward run` expecting it to exit by itself (a refused start): its exit
    /// status and stderr.
    pub async fn run_to_exit(&mut self, within: Duration) -> (std::process::ExitStatus, String) {
        let mut command = self.command(free_port());
        command.stderr(Stdio::piped());
        let child = command.spawn().expect("spawn ward run");
        let output = tokio::time::timeout(within, child.wait_with_output()).await.expect("ward run to exit by itself").expect("ward run");
        (output.status, String::from_utf8_lossy(&output.stderr).into_owned())
    }

    fn command(&self, port: u16) -> Command {
        let mut command = Command::new(WARD);
        command
            .arg("run")
            .arg("--inventory")
            .arg(&self.inventory)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen")
            .arg(format!("{}:{port}", self.host.as_deref().unwrap_or("127.0.0.1")))
            .arg("--grace-seconds")
            .arg("1")
            .args(&self.extra_args)
            .env("WARD_LOG", "info")
            .env_remove("WARD_CONTROLLER")
            .env_remove("WARD_TOKEN_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        if let Some(token) = &self.token_file {
            command.arg("--token-file").arg(token);
        }
        if let Some(limit) = self.nofile {
            // SAFETY: only async-signal-safe setrlimit between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    let rlimit = libc::rlimit { rlim_cur: limit as libc::rlim_t, rlim_max: limit as libc::rlim_t };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        command
    }

    /// (Re)starts the daemon on the same data dir, on a fresh port. `free_port` can race
    /// with another process taking the same ephemeral port (every daemon reserves a block
    /// of source ports for its half-open probes): on "Address already in use" it tries
    /// again on another port, a bounded number of times.
    pub async fn spawn(&mut self) {
        for attempt in 1..=5 {
            match self.spawn_once().await {
                Ok(()) => return,
                Err(text) if attempt < 5 && text.contains("Address already in use") => continue,
                Err(text) => panic!("{text}"),
            }
        }
    }

    async fn spawn_once(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "the daemon is still running");
        self.starts += 1;
        let port = self.port.unwrap_or_else(free_port);
        self.url = format!("http://{}:{port}", self.host.as_deref().unwrap_or("127.0.0.1"));
        let mut log = std::fs::OpenOptions::new().create(true).append(true).open(&self.stderr).unwrap();
        use std::io::Write;
        let _ = writeln!(log, "===== ward run, start #{} on port {port} =====", self.starts);
        let mut command = self.command(port);
        command.stderr(Stdio::from(log));
        self.child = Some(command.spawn().expect("spawn ward run"));
        let deadline = Deadline::new(format!("ward run to answer on {}", self.url), Duration::from_secs(30));
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Err(format!("ward run exited before it was ready: {status}\n{}", self.stderr_text()));
            }
            if let Ok(response) = self.http.get(format!("{}/v1/status", self.url)).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            deadline.tick().await;
        }
    }

    /// SIGKILL: no grace, no shutdown code runs.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("kill ward");
            let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("ward to die after SIGKILL");
        }
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => child.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// GET with the operator token (the journal, timeline and why need a token).
    pub async fn get(&self, path: &str) -> Value {
        let response =
            self.http.get(format!("{}{path}", self.url)).bearer_auth(TOKEN).send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
    }

    /// GET with the given token (or none): the status code and the body text.
    pub async fn get_as(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut request = self.http.get(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// POST with the token; returns the status code and the JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_as(path, body, Some(TOKEN)).await
    }

    pub async fn post_as(&self, path: &str, body: Value, token: Option<&str>) -> (u16, Value) {
        let mut request = self.http.post(format!("{}{path}", self.url)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Runs a CLI verb of the real binary against this controller.
    pub async fn cli(&self, env: &Env, args: &[&str]) -> std::process::Output {
        let output = tokio::time::timeout(
            Duration::from_secs(30),
            Command::new(WARD)
                .args(args)
                .arg("--controller")
                .arg(&self.url)
                .arg("--token-file")
                .arg(env.path("token"))
                .env("WARD_LOG", "warn")
                .stdin(Stdio::null())
                .output(),
        )
        .await
        .expect("the CLI to finish")
        .expect("run the CLI");
        output
    }

    /// Every journal record, oldest first. `since` is exclusive and the first record
    /// has seq 0, so the first page is asked for without `since` (the newest records)
    /// and must reach back to seq 0; later pages follow with `since`.
    pub async fn journal(&self) -> Vec<Value> {
        const PAGE: usize = 10_000;
        let mut all: Vec<Value> = self.get(&format!("/v1/journal?limit={PAGE}")).await.as_array().cloned().unwrap_or_default();
        if let Some(first) = all.first() {
            assert_eq!(first["seq"], 0, "the test journal outgrew one page of {PAGE}");
        }
        for _ in 0..100 {
            let Some(since) = all.last().map(|r| r["seq"].as_u64().unwrap()) else { break };
            let page = self.get(&format!("/v1/journal?since={since}&limit={PAGE}")).await.as_array().cloned().unwrap_or_default();
            if page.is_empty() {
                break;
            }
            all.extend(page);
        }
        all
    }

    pub async fn holders(&self, service: &str) -> Vec<String> {
        let services = self.get("/v1/services").await;
        let service = services.as_array().unwrap().iter().find(|s| s["name"] == service).unwrap_or_else(|| panic!("no service {service}"));
        service["holders"].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_string()).collect()
    }

    pub async fn node(&self, name: &str) -> Value {
        self.get(&format!("/v1/nodes/{name}")).await
    }

    pub async fn node_status(&self, name: &str) -> String {
        self.node(name).await["status"].as_str().unwrap_or("").to_string()
    }

    pub async fn open_alert(&self, cause_prefix: &str) -> Option<Value> {
        let alerts = self.get("/v1/alerts").await;
        alerts.as_array().unwrap().iter().find(|a| a["cause"].as_str().unwrap_or("").starts_with(cause_prefix)).cloned()
    }

    pub async fn wait_node(&self, name: &str, status: &str, within: Duration) {
        let deadline = Deadline::new(format!("node {name} to be {status}"), within);
        while self.node_status(name).await != status {
            deadline.tick().await;
        }
    }

    pub async fn wait_holders(&self, service: &str, holders: &[&str], within: Duration) {
        let deadline = Deadline::new(format!("{service} to be held by {holders:?}"), within);
        loop {
            let now = self.holders(service).await;
            if now.iter().map(String::as_str).eq(holders.iter().copied()) {
                return;
            }
            deadline.tick().await;
        }
    }

    pub async fn wait_alert(&self, cause_prefix: &str, within: Duration) -> Value {
        let deadline = Deadline::new(format!("an open alert {cause_prefix}*"), within);
        loop {
            if let Some(alert) = self.open_alert(cause_prefix).await {
                return alert;
            }
            deadline.tick().await;
        }
    }
}

impl Drop for Ward {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let text = self.stderr_text();
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(300);
            eprintln!("----- ward stderr ({} lines, last {}) -----", lines.len(), lines.len() - from);
            for line in &lines[from..] {
                eprintln!("{line}");
            }
            eprintln!("----- end of ward stderr -----");
        }
    }
}

/// The events of a journal of a given type.
pub fn events<'a>(journal: &'a [Value], kind: &str) -> Vec<&'a Value> {
    journal.iter().filter(|r| r["type"] == kind).collect()
}

/// Writes the inventory, the initial VIP state files and starts a controller.
pub async fn start(env: &Env, inventory: &Inventory, placements: &[(&str, &str)]) -> Ward {
    for (service, node) in placements {
        env.set_vip(service, node);
    }
    env.write_inventory(&inventory.render(env));
    Ward::start(env).await
}

pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn assert_path_exists(path: &Path) {
    assert!(path.exists(), "{} should exist", path.display());
}
