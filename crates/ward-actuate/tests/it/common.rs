//! Test fixtures: requests, hooks, scripts and a recording HTTP server.

use std::collections::VecDeque;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use ward_core::action::Action;
use ward_core::engine::JobRequest;
use ward_core::ids::{HookId, JobId, NodeId, ServiceId};
use ward_core::inventory::{Hook, HookKind};
use ward_core::journal::JobStep;

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// Job 42's `step` as the engine sends it (for a rollback, the action's concrete
/// undo when it has one), nodes named `nodes[id]`, attempt 1, fencing token 7, 30 s to go.
pub fn request(step: JobStep, action: Action, service: &str, nodes: &[&str]) -> JobRequest {
    let action = match step {
        JobStep::Rollback => action.rollback().unwrap_or(action),
        _ => action,
    };
    let named = action.map(|n| nodes[n.index()].to_string(), |_| service.to_string());
    JobRequest { job: JobId(42), step, action, named, hook: HookId(0), attempt: 1, deadline_ms: now_ms() + 30_000, fencing_token: 7 }
}

/// `www-vip` moving from lb1 to lb2.
pub fn move_vip(step: JobStep) -> JobRequest {
    request(step, Action::MoveVip { service: ServiceId(0), from: Some(NodeId(0)), to: NodeId(1) }, "www-vip", &["lb1", "lb2"])
}

pub fn sync(step: JobStep) -> JobRequest {
    let action = Action::Sync { service: ServiceId(0), from: NodeId(0), to: NodeId(1), preview: ward_core::action::SyncPreview::default() };
    request(step, action, "mirror", &["lb1", "lb2"])
}

/// An inventory with nothing in it: exec and http hooks do not read it.
pub fn empty_snapshot() -> Arc<ward_core::inventory::Snapshot> {
    Arc::new(ward_core::inventory::testing::InventoryBuilder::new().build())
}

pub fn hook(kind: HookKind, timeout_ms: u64, retries: u32) -> Hook {
    Hook { name: "test-hook".into(), kind, timeout_ms, retries, parallel_max: 1, services: vec![ServiceId(0)] }
}

/// An exec hook running `script` with the test's scratch dir as `$1`.
pub fn exec_hook(script: &str, scratch: &Path, timeout_ms: u64) -> Hook {
    hook(HookKind::Exec { command: argv(script, scratch) }, timeout_ms, 3)
}

pub fn argv(script: &str, scratch: &Path) -> Vec<String> {
    vec![scripts().join(script).display().to_string(), scratch.display().to_string()]
}

pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

/// `KEY=value` lines a script dumped with `env`.
pub fn env_of(path: impl AsRef<Path>) -> std::collections::BTreeMap<String, String> {
    read(path).lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The scripts, written once before any test runs a process. Writing an executable
/// while another test thread forks can make exec fail with ETXTBSY (the forked child
/// briefly holds the write descriptor), so every script exists before the first
/// spawn: each test reaches a process only through this function.
///
/// They live in `CARGO_TARGET_TMPDIR/ward-actuate-scripts-<pid>`; directories left by
/// earlier runs whose process is gone are removed first, so nothing piles up.
pub fn scripts() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(pid) = name.strip_prefix("ward-actuate-scripts-") {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = base.join(format!("ward-actuate-scripts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, body: &str| {
            let path: PathBuf = dir.join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        write("ok.sh", "cat > \"$1/stdin.json\"\nenv | grep '^WARD_' | sort > \"$1/env\"\necho starting\necho \"moved $WARD_SERVICE to $WARD_TO\"\n");
        write("fail.sh", "echo checking\necho 'no such VRRP instance VI_1' >&2\nexit 3");
        write("silent_fail.sh", "exit 4");
        write("hang.sh", "echo $$ > \"$1/pid\"\nsleep 30 &\necho $! > \"$1/child.pid\"\necho still working\nwait");
        write(
            "preview.sh",
            "cat > /dev/null\necho 'comparing trees'\necho '{\"files_added\":3,\"files_changed\":1,\"files_deleted\":2,\"deleted_sample\":[\"/srv/a\",\"/srv/b\"]}'",
        );
        write("garbage.sh", "echo 'rsync: connection unexpectedly closed'");
        write("route.sh", "cat > \"$1/stdin.json\"\nenv | grep '^WARD_' | sort > \"$1/env\"");
        write("route_fail.sh", "echo 'pager: no such team' >&2\nexit 2");
        dir
    })
    .as_path()
}

/// Alive and not a zombie (an orphan may wait a moment for init to reap it).
pub fn alive(pid: &str) -> bool {
    let exists = std::process::Command::new("kill").args(["-0", pid]).stderr(std::process::Stdio::null()).status().unwrap().success();
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')).unwrap_or(false))
        .unwrap_or(true);
    exists && !zombie
}

pub async fn eventually_dead(pid: &str) -> bool {
    for _ in 0..100 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// What the recording server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone)]
struct ServerState {
    seen: Arc<Mutex<Vec<Seen>>>,
    answers: Arc<Mutex<VecDeque<(u16, String)>>>,
    delay: Duration,
}

pub struct Server {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A server on 127.0.0.1:0 answering POST /hook with `answers` in order, then 200 "applied".
pub async fn serve(answers: &[(u16, &str)], delay: Duration) -> Server {
    let state = ServerState {
        seen: Arc::default(),
        answers: Arc::new(Mutex::new(answers.iter().map(|(s, b)| (*s, b.to_string())).collect())),
        delay,
    };
    let seen = state.seen.clone();
    let app = Router::new().route("/hook", post(answer)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server { url, seen }
}

async fn answer(State(state): State<ServerState>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    state.seen.lock().unwrap().push(Seen { headers, body });
    tokio::time::sleep(state.delay).await;
    let (status, body) = state.answers.lock().unwrap().pop_front().unwrap_or((200, "applied".to_string()));
    (StatusCode::from_u16(status).unwrap(), body)
}

/// A loopback URL nothing listens on (bound, then released).
pub fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/hook")
}
