//! `ward demo`: Ward failing over for real, on this machine, in half a minute.
//! Three local HTTP backends on loopback, a controller on an embedded data dir,
//! an exec actuator that "moves" a VIP (a state file) and an end-to-end check
//! that reads it. Then one backend is killed, and the demo narrates detection,
//! decision, move and verification live, and prints the timeline and `why`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::client::{Client, ControllerArgs};

#[derive(Args, Clone, Debug)]
pub struct DemoArgs {
    /// Where the demo writes its inventory, scripts and data (default: a temp dir, removed after).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The controller's API port on 127.0.0.1.
    #[arg(long, default_value_t = 17171)]
    pub port: u16,
}

const BACKENDS: [(&str, &str); 3] = [("web1", "127.0.0.11"), ("web2", "127.0.0.12"), ("web3", "127.0.0.13")];
/// Every wait in the demo gives up after this.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(args: DemoArgs) -> Result<(), String> {
    let temp = tempfile::tempdir().map_err(|e| format!("cannot make a temp dir: {e}"))?;
    let dir = args.dir.clone().unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let backend_port = free_port()?;
    say(&format!("ward demo: files in {}", dir.display()));

    // Three backends, each switchable.
    let mut switches = Vec::new();
    for (name, address) in BACKENDS {
        let up = Arc::new(AtomicBool::new(true));
        let addr: SocketAddr = format!("{address}:{backend_port}").parse().map_err(|e| format!("{e}"))?;
        serve_backend(addr, up.clone()).await.map_err(|e| format!("cannot start backend {name} on {addr}: {e}"))?;
        switches.push((name, up));
    }
    say(&format!("started 3 HTTP backends on 127.0.0.11-13:{backend_port} (GET /health answers \"ok\")"));

    write_files(&dir, backend_port)?;
    let stop = Arc::new(tokio::sync::Notify::new());
    let config = ward_daemon::run::RunConfig {
        inventory: dir.join("inventory.toml"),
        data_dir: dir.join("data"),
        listen: SocketAddr::from(([127, 0, 0, 1], args.port)),
        token_file: Some(dir.join("token")),
        read_token_file: None,
        observer_token_file: None,
        agent_token_file: None,
        reinitialize: false,
        journal_failure_exit_after: ward_daemon::halt::JOURNAL_FAILURE_EXIT_AFTER,
        observer: None,
        grace: Duration::from_secs(5),
        probe_concurrency_max: 64,
        stop: Some(stop.clone()),
    };
    let controller = tokio::spawn(ward_daemon::run::run(config));
    let client = Client::new(&ControllerArgs {
        controller: format!("http://127.0.0.1:{}", args.port),
        token_file: Some(dir.join("token")),
        output: crate::OutputFormat::Text,
    })?;
    let result = narrate(&client, &dir, &switches).await;
    stop.notify_one();
    let _ = tokio::time::timeout(Duration::from_secs(10), controller).await;
    if args.dir.is_none() {
        drop(temp);
    }
    result
}

async fn narrate(client: &Client, dir: &Path, switches: &[(&str, Arc<AtomicBool>)]) -> Result<(), String> {
    let spinner =
        ProgressBar::new_spinner().with_style(ProgressStyle::with_template("{spinner} {elapsed:>3} {msg}").map_err(|e| e.to_string())?);
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner.set_message("controller starting, observing the backends...");
    wait_until(&spinner, || async { client.get_json("/v1/status").await.ok().filter(|s| s["nodes_up"].as_u64() == Some(3)) }).await?;
    let services = client.get_json("/v1/services").await?;
    let holder = services[0]["holders"][0].as_str().unwrap_or("web1").to_string();
    note(&spinner, format!("  all 3 backends are up; the VIP `www` is on {holder}"));
    note(
        &spinner,
        format!(
            "\n{}",
            crate::cmd_ctl::render_status(
                &client.get_json("/v1/status").await?,
                &services,
                &client.get_json("/v1/nodes").await?,
                &client.get_json("/v1/alerts").await?,
                &client.get_json("/v1/approvals").await?,
            )
        ),
    );

    let Some((_, switch)) = switches.iter().find(|(name, _)| *name == holder) else {
        return Err(format!("no backend named {holder}"));
    };
    switch.store(false, Ordering::SeqCst);
    let killed = Instant::now();
    note(&spinner, format!("  killed {holder}'s backend (it now answers 503)"));
    spinner.set_message(format!("waiting for Ward to notice {holder} is down (fall = 3 failed checks, quorum)..."));
    wait_until(&spinner, || async {
        let nodes = client.get_json("/v1/nodes").await.ok()?;
        nodes.as_array()?.iter().find(|n| n["name"] == holder.as_str() && n["status"] == "down").cloned()
    })
    .await?;
    note(&spinner, format!("  {:>6.2}s  detected: {holder} is down (a quorum of observers agrees)", killed.elapsed().as_secs_f64()));
    spinner.set_message("waiting for the decision, the move and its verification...");
    let moved = wait_until(&spinner, || async {
        let services = client.get_json("/v1/services").await.ok()?;
        let now = services[0]["holders"][0].as_str()?.to_string();
        (now != holder).then_some(now)
    })
    .await?;
    note(
        &spinner,
        format!(
            "  {:>6.2}s  moved: the VIP is on {moved} (the actuator ran: {})",
            killed.elapsed().as_secs_f64(),
            last_line(&dir.join("actuator.log"))
        ),
    );
    wait_until(&spinner, || async { client.get_json("/v1/status").await.ok().filter(|s| s["jobs_in_flight"].as_u64() == Some(0)) }).await?;
    note(&spinner, format!("  {:>6.2}s  verified end to end: clients reach {moved}", killed.elapsed().as_secs_f64()));
    spinner.finish_and_clear();

    println!("\n$ ward why www\n{}", crate::cmd_ctl::render_why("www", &client.get_json("/v1/why/www").await?));
    println!("$ ward timeline --since 5m\n{}", client.get_text("/v1/timeline?since=5m").await?);
    Ok(())
}

async fn wait_until<T, F, Fut>(spinner: &ProgressBar, mut probe: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return Ok(value);
        }
        if started.elapsed() > STEP_TIMEOUT {
            spinner.abandon();
            return Err(format!("the demo gave up after {}s waiting for: {}", STEP_TIMEOUT.as_secs(), spinner.message()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Above the spinner on a terminal; plain lines when piped (a hidden bar prints nothing).
fn note(spinner: &ProgressBar, text: String) {
    if spinner.is_hidden() {
        println!("{text}");
    } else {
        spinner.println(text);
    }
}

fn say(text: &str) {
    println!("{text}");
}

fn last_line(path: &Path) -> String {
    std::fs::read_to_string(path).ok().and_then(|t| t.lines().last().map(str::to_string)).unwrap_or_default()
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

async fn serve_backend(addr: SocketAddr, up: Arc<AtomicBool>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let app = axum::Router::new().route(
        "/health",
        get(move || {
            let up = up.clone();
            async move {
                if up.load(Ordering::SeqCst) {
                    (axum::http::StatusCode::OK, "ok")
                } else {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down")
                }
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(())
}

fn write_files(dir: &Path, backend_port: u16) -> Result<(), String> {
    let write = |name: &str, text: &str, executable: bool| -> Result<(), String> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        if executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    };
    let dir_text = dir.display().to_string();
    // The demo API listens on loopback only, but its token is still a real random one.
    write("token", &format!("{:032x}\n", rand::random::<u128>()), false)?;
    {
        // `ward run` refuses a token file other users can read.
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("token");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    write("vip", "web1\n", false)?;
    write(
        "move-vip.sh",
        &format!(
            "#!/bin/sh\n# keepalived-notify style: Ward says what to do in its environment.\nset -e\nif [ \"$WARD_STEP\" = apply ] || [ \"$WARD_STEP\" = rollback ]; then echo \"$WARD_TO\" > {dir_text}/vip; fi\necho \"$WARD_STEP $WARD_SERVICE: $WARD_FROM -> $WARD_TO (job $WARD_JOB, fencing token $WARD_FENCING_TOKEN)\" >> {dir_text}/actuator.log\necho \"vip on $WARD_TO\"\n"
        ),
        true,
    )?;
    write(
        "vip-here.sh",
        &format!("#!/bin/sh\n# End to end: the VIP is on this node, and the node answers.\n[ \"$(cat {dir_text}/vip)\" = \"$1\" ] && curl -fsS -m 1 \"$2\" >/dev/null\n"),
        true,
    )?;
    let nodes: String = BACKENDS
        .iter()
        .map(|(name, address)| format!("[[node]]\nname = \"{name}\"\nsite = \"local\"\naddress = \"{address}\"\n\n"))
        .collect();
    let inventory = format!(
        r#"# Written by `ward demo`.
[policy]
tick = "200ms"
stale_after = "3s"

[[site]]
name = "local"

{nodes}[[check]]
name = "http"
kind = "http"
target = "http://{{address}}:{backend_port}/health"
expect_body = "ok"
interval = "300ms"
timeout = "250ms"
rise = 2
fall = 3
nodes = ["web1", "web2", "web3"]

[[check]]
name = "vip-here"
kind = "exec"
target = "{dir_text}/vip-here.sh {{node}} http://{{address}}:{backend_port}/health"
interval = "5s"
timeout = "2s"
rise = 1
fall = 1
nodes = ["web1", "web2", "web3"]

[[hook]]
name = "move-vip"
kind = "exec"
command = ["{dir_text}/move-vip.sh"]
timeout = "10s"
services = ["www"]

[[route]]
name = "console"
kind = "log"

[[service]]
name = "www"
kind = "vip"
candidates = ["web1", "web2", "web3"]
initial = ["web1"]
checks = ["http"]
verify = ["vip-here"]
actuator = "move-vip"
notify = ["console"]
"#
    );
    write("inventory.toml", &inventory, false)
}
