//! The daemon on a bad day: an API flood at a low descriptor limit, a full disk, an
//! inventory with thousands of errors, secrets in URLs, a lost or damaged store,
//! closed pipes and absurd values. Ward's own trouble must never become evidence
//! about a node, and it must never fail silently.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

const READ_TOKEN: &str = "e2e-read-token-0123456789abcdef";
const OBSERVER_TOKEN: &str = "e2e-observer-token-0123456789ab";

fn two_nodes(web1: &Backend, web2: &Backend) -> Inventory {
    Inventory::new(&[("web1", web1), ("web2", web2)]).vip("www", &["web1", "web2"], "web1", "log")
}

/// Raises this test process's own open-files limit (it opens many sockets).
fn raise_own_nofile() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain struct in, plain struct out.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_flood_at_a_low_descriptor_limit_is_not_node_down() {
    raise_own_nofile();
    let env = Env::new();
    let web1 = Backend::start().await;
    let web2 = Backend::start().await;
    env.set_vip("www", "web1");
    env.write_inventory(&two_nodes(&web1, &web2).render(&env));
    let mut ward = Ward::configured(&env, Some(env.path("token")));
    // Soft = hard: raising the soft limit cannot help, only the connection cap can.
    ward.nofile = Some(512);
    ward.spawn().await;
    ward.wait_node("web1", "up", secs(10)).await;

    // 700 idle connections: more than the descriptors the daemon has.
    let addr = ward.url.trim_start_matches("http://").to_string();
    let flood = tokio::task::spawn_blocking(move || {
        let mut held = Vec::new();
        for _ in 0..700 {
            match std::net::TcpStream::connect_timeout(&addr.parse().expect("addr"), Duration::from_secs(2)) {
                Ok(stream) => held.push(stream),
                Err(_) => break,
            }
        }
        held
    })
    .await
    .expect("connect");
    // Beyond the served connections and the kernel's listen backlog, connects time out: the
    // flood holds what it can (an unbounded daemon would have accepted all 700).
    assert!(flood.len() >= 150, "the flood opened only {} connections", flood.len());
    // Probes run every 200 ms with fall = 2: seconds are plenty to be declared down.
    tokio::time::sleep(secs(3)).await;
    drop(flood);

    let journal = ward.journal().await;
    let downs: Vec<&Value> = events(&journal, "health").into_iter().filter(|r| r["status"] == "down").collect();
    assert!(downs.is_empty(), "healthy nodes were declared down during the flood: {downs:?}");
    assert!(events(&journal, "decision").is_empty(), "no failover may start from the controller's own trouble");
    assert_eq!(ward.holders("www").await, ["web1"]);
    assert!(!ward.stderr_text().contains("Too many open files"), "{}", ward.stderr_text());
}

/// Mounts a small tmpfs, or says why the test is skipped.
fn mount_tmpfs(path: &std::path::Path, size: &str) -> bool {
    std::fs::create_dir_all(path).expect("mount point");
    let status = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(path).status();
    match status {
        Ok(s) if s.success() => true,
        _ => {
            eprintln!("skipped: cannot mount a tmpfs (needs root)");
            false
        }
    }
}

struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system under `path` until a write fails.
fn fill(path: &std::path::Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("filler");
    let block = vec![0x5au8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    let mut small = vec![0u8; 512];
    while file.write_all(&small).is_ok() {}
    small.truncate(1);
    while file.write_all(&small).is_ok() {}
    let _ = file.sync_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_ward_loudly_and_it_recovers_or_exits_for_a_restart() {
    let env = Env::new();
    let small = env.path("small");
    if !mount_tmpfs(&small, "8m") {
        return;
    }
    let _unmount = Unmount(small.clone());
    let web1 = Backend::start().await;
    let web2 = Backend::start().await;
    let mut inventory = two_nodes(&web1, &web2);
    inventory.routes = pager_routes(&env, "1h");
    env.set_vip("www", "web1");
    env.write_inventory(&inventory.render(&env));
    let mut ward = Ward::configured(&env, Some(env.path("token")));
    ward.set_data_dir(small.join("data"));
    ward.extra_args = vec!["--journal-failure-exit-seconds".into(), "8".into()];
    ward.spawn().await;
    ward.wait_node("web2", "up", secs(10)).await;

    fill(&small.join("filler"));
    // Journal records until one cannot be written: holds and releases with long reasons.
    let reason = "r".repeat(1000);
    // A short timeout: the command that meets the full disk is not answered until
    // its records are durable.
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("client");
    let mut failed = false;
    for i in 0..5_000 {
        let (path, body) = if i % 2 == 0 {
            ("/v1/hold", json!({"target": "node:web2", "reason": reason}))
        } else {
            ("/v1/release", json!({"target": "node:web2"}))
        };
        let sent = http.post(format!("{}{path}", ward.url)).bearer_auth(TOKEN).json(&body).send().await;
        if !sent.is_ok_and(|r| r.status().is_success()) {
            failed = true;
            break;
        }
    }
    assert!(failed, "the journal never filled the disk");

    // Said at once and everywhere.
    let deadline = Deadline::new("an ERROR line about the journal", secs(5));
    while !ward.stderr_text().contains("cannot write the journal") {
        deadline.tick().await;
    }
    assert!(ward.stderr_text().contains("ERROR"), "{}", ward.stderr_text());
    if ward.is_running() {
        let status = ward.get("/v1/status").await;
        assert_eq!(status["acting"], false, "{status}");
        assert!(status["halted"].as_str().is_some_and(|h| h.contains("journal")), "{status}");
        let (code, body) = ward.get_as("/readyz", None).await;
        assert_eq!(code, 503, "{body}");
        let (_, metrics) = ward.get_as("/metrics", None).await;
        assert!(metrics.contains("ward_acting 0"), "{metrics}");
    }
    let deadline = Deadline::new("a page through the exec routes", secs(5));
    while !std::fs::read_to_string(env.path("notifications.log")).unwrap_or_default().contains("cause=journal:unwritable") {
        deadline.tick().await;
    }

    // Space comes back: Ward acts again by itself, or has exited non-zero for its
    // supervisor (here: the test) to restart it.
    std::fs::remove_file(small.join("filler")).expect("free the space");
    let deadline = Deadline::new("Ward to recover or exit", secs(15));
    loop {
        if !ward.is_running() {
            let status = ward.child.take().map(|mut c| c.try_wait());
            if let Some(Ok(Some(status))) = status {
                assert!(!status.success(), "a Ward that gave up must exit non-zero");
            }
            ward.spawn().await;
            break;
        }
        // The process may exit between the check above and this request.
        let ready = ward.http.get(format!("{}/readyz", ward.url)).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        deadline.tick().await;
    }
    // And it fails over again.
    let (code, body) = ward.post("/v1/release", json!({"target": "node:web2"})).await;
    assert!(code == 200 || code == 409, "{code} {body}");
    web1.set_up(false);
    ward.wait_holders("www", &["web2"], secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inventory_with_thirty_thousand_errors_is_refused_and_ward_goes_on() {
    let env = Env::new();
    let web1 = Backend::start().await;
    let web2 = Backend::start().await;
    let inventory = two_nodes(&web1, &web2);
    let ward = start(&env, &inventory, &[("www", "web1")]).await;
    ward.wait_node("web2", "up", secs(10)).await;

    let mut bad = inventory.render(&env);
    for i in 0..30_000 {
        bad.push_str(&format!("\n[[node]]\nname = \"n{i}\"\nsite = \"nosuch\"\n"));
    }
    env.write_inventory(&bad);
    let deadline = Deadline::new("the rejection in the journal", secs(30));
    let rejection = loop {
        if let Some(r) = events(&ward.journal().await, "inventory_rejected").first() {
            break (*r).clone();
        }
        deadline.tick().await;
    };
    let errors = rejection["errors"].as_array().expect("errors");
    assert!(errors.len() <= 51, "journaled capped, not {} errors", errors.len());
    assert!(errors.last().and_then(Value::as_str).is_some_and(|e| e.contains("more error")), "{rejection}");

    // The decision loop is alive: it still fails over.
    web1.set_up(false);
    ward.wait_holders("www", &["web2"], secs(20)).await;
    assert_eq!(ward.get("/v1/status").await["acting"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_journal_or_the_log_and_reads_need_a_token() {
    let env = Env::new();
    std::fs::write(env.path("read-token"), format!("{READ_TOKEN}\n")).expect("write");
    chmod(&env.path("read-token"), 0o600);
    std::fs::write(env.path("observer-token"), format!("{OBSERVER_TOKEN}\n")).expect("write");
    chmod(&env.path("observer-token"), 0o600);
    let web1 = Backend::start().await;
    let web2 = Backend::start().await;
    let mut inventory = two_nodes(&web1, &web2);
    inventory.services.push(
        "[[service]]\nname = \"api\"\nkind = \"vip\"\ngroup = \"api\"\ncandidates = [\"web1\", \"web2\"]\ninitial = [\"web1\"]\nactuator = \"remote\"\nnotify = [\"slack\"]\n"
            .into(),
    );
    inventory.routes = "\n[[hook]]\nname = \"remote\"\nkind = \"http\"\nurl = \"http://admin:hunter2@127.0.0.1:9/apply?api_key=SECRETAPIKEY123\"\ntimeout = \"2s\"\nservices = [\"api\"]\n\n[[route]]\nname = \"slack\"\nkind = \"slack\"\nurl = \"http://127.0.0.1:9/services/T0001/B0001/SECRETWEBHOOKTOKEN\"\n".into();
    inventory.policy_notify = "slack";
    env.set_vip("www", "web1");
    env.write_inventory(&inventory.render(&env));
    let mut ward = Ward::configured(&env, Some(env.path("token")));
    ward.extra_args = vec![
        "--read-token-file".into(),
        env.path("read-token").display().to_string(),
        "--observer-token-file".into(),
        env.path("observer-token").display().to_string(),
    ];
    ward.spawn().await;
    ward.wait_node("web2", "up", secs(10)).await;
    web1.set_up(false);
    // Both services move off web1: the exec one succeeds, the http one fails (port 9),
    // and the Slack route fails to deliver: every error names its URL.
    ward.wait_holders("www", &["web2"], secs(20)).await;
    let deadline = Deadline::new("the api move to fail and a delivery to fail", secs(30));
    loop {
        let text = serde_json::to_string(&ward.journal().await).expect("json");
        if text.contains("127.0.0.1:9/") {
            break;
        }
        deadline.tick().await;
    }
    tokio::time::sleep(secs(2)).await;
    let journal = serde_json::to_string(&ward.journal().await).expect("json");
    let (_, timeline) = ward.get_as("/v1/timeline?since=1h", Some(READ_TOKEN)).await;
    for secret in ["hunter2", "SECRETAPIKEY123", "SECRETWEBHOOKTOKEN", "B0001"] {
        assert!(!journal.contains(secret), "{secret} in the journal: {journal}");
        assert!(!timeline.contains(secret), "{secret} in the timeline");
        assert!(!ward.stderr_text().contains(secret), "{secret} in the log");
    }

    // Reads of the journal need a token; each token does what it is for and no more.
    for path in ["/v1/journal", "/v1/timeline", "/v1/why/www", "/v1/observations"] {
        let (code, body) = ward.get_as(path, None).await;
        assert_eq!(code, 401, "{path} without a token: {body}");
        let (code, body) = ward.get_as(path, Some(READ_TOKEN)).await;
        assert_eq!(code, 200, "{path} with the read token: {body}");
        let (code, _) = ward.get_as(path, Some(OBSERVER_TOKEN)).await;
        assert_eq!(code, 403, "{path} with the observer token");
    }
    let (code, _) = ward.get_as("/v1/status", None).await;
    assert_eq!(code, 200, "status stays open");
    let hold = json!({"target": "node:web2", "reason": "x"});
    assert_eq!(ward.post_as("/v1/hold", hold.clone(), Some(READ_TOKEN)).await.0, 403);
    assert_eq!(ward.post_as("/v1/hold", hold, Some(OBSERVER_TOKEN)).await.0, 403);
    let batch = json!({"observer": "ctl", "observations": []});
    let (code, body) = ward.post_as("/v1/observations", batch.clone(), Some(OBSERVER_TOKEN)).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(ward.post_as("/v1/observations", batch, Some(READ_TOKEN)).await.0, 403);

    // The data dir and its files are the controller's alone.
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&env.path("data")), 0o700);
    assert_eq!(mode(&env.path("data").join("ward.redb")), 0o600);
    ward.kill9().await;

    // A token file others can read is refused.
    chmod(&env.path("read-token"), 0o644);
    let (status, stderr) = ward.run_to_exit(secs(20)).await;
    assert!(!status.success() && stderr.contains("chmod 600"), "{status}: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_store_is_refused_and_a_new_history_keeps_fencing_tokens_unique() {
    let env = Env::new();
    let web1 = Backend::start().await;
    let web2 = Backend::start().await;
    let mut ward = start(&env, &two_nodes(&web1, &web2), &[("www", "web1")]).await;
    ward.wait_node("web2", "up", secs(10)).await;
    web1.set_up(false);
    ward.wait_holders("www", &["web2"], secs(20)).await;
    let first: Vec<HookCall> = env.started("apply");
    let first_token = first.iter().map(|c| c.token).max().expect("an apply");
    ward.kill9().await;
    let db = env.path("data").join("ward.redb");
    let whole = std::fs::read(&db).expect("read the store");

    // Truncated: a clean error, not a panic (exit 101).
    std::fs::write(&db, &whole[..whole.len() / 2]).expect("truncate");
    let (status, stderr) = ward.run_to_exit(secs(20)).await;
    assert!(!status.success() && status.code() != Some(101), "{status}: {stderr}");
    assert!(!stderr.contains("panicked") && stderr.contains("hint:"), "{stderr}");

    // Emptied: refused without --reinitialize.
    std::fs::write(&db, b"").expect("empty");
    let (status, stderr) = ward.run_to_exit(secs(20)).await;
    assert!(!status.success() && stderr.contains("--reinitialize"), "{status}: {stderr}");

    // A new history on purpose: its fencing tokens are above every earlier one.
    ward.extra_args = vec!["--reinitialize".into()];
    web1.set_up(true);
    env.set_vip("www", "web1");
    // The test actuator's record of the earlier move would fail verification on web2.
    std::fs::remove_file(env.path("target").join("www")).expect("reset the test actuator");
    ward.spawn().await;
    ward.wait_node("web1", "up", secs(10)).await;
    ward.wait_node("web2", "up", secs(10)).await;
    web1.set_up(false);
    let deadline = Deadline::new("an apply in the new history", secs(20));
    while env.started("apply").len() <= first.len() {
        deadline.tick().await;
    }
    let later: Vec<HookCall> = env.started("apply").into_iter().skip(first.len()).collect();
    assert!(later.iter().all(|c| c.token > first_token), "tokens must not repeat after a lost store: {first:?} then {later:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_liners_survive_closed_pipes_devices_and_absurd_values() {
    let env = Env::new();
    let web1 = Backend::start().await;
    let web2 = Backend::start().await;
    let inventory = two_nodes(&web1, &web2);
    let mut many = inventory.render(&env);
    for i in 0..3_000 {
        many.push_str(&format!("\n[[node]]\nname = \"n{i}\"\nsite = \"nosuch\"\n"));
    }
    std::fs::write(env.path("many.toml"), &many).expect("write");

    // `ward validate many.toml | head -1`: the reader goes away after one line.
    let mut child = std::process::Command::new(WARD)
        .args(["validate"])
        .arg(env.path("many.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("one line");
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.code() != Some(101) && !stderr.contains("panicked"), "{:?}: {stderr}", output.status);

    // `ward status --output json | head`: the same with the reader gone at once.
    let ward = start(&env, &inventory, &[("www", "web1")]).await;
    let mut child = std::process::Command::new(WARD)
        .args(["status", "--output", "json", "--controller", &ward.url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.code() != Some(101) && !stderr.contains("panicked"), "{:?}: {stderr}", output.status);

    // A device is not read without bound.
    let output = std::process::Command::new(WARD).args(["validate", "/dev/zero"]).output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string() + &String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("MiB"), "names the limit: {stderr}");

    // Durations near u64::MAX and absurd counts fail validation, naming the maximum.
    let huge = inventory
        .render(&env)
        .replace("interval = \"200ms\"", "interval = \"18446744073709551615ms\"")
        .replace("tick = \"200ms\"", "tick = \"100000h\"")
        .replace("rise = 1\n", "rise = 4000000000\n");
    std::fs::write(env.path("huge.toml"), huge).expect("write");
    let output = std::process::Command::new(WARD).arg("validate").arg(env.path("huge.toml")).output().expect("run");
    let text = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("maximum of 720h") && text.contains("maximum of 1000"), "{text}");
}
