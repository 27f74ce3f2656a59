//! Seed 000 (issue 4): a MariaDB replica's IO thread stopped on a transient fatal
//! error about server ids and stayed stopped for hours; `STOP SLAVE; START SLAVE`
//! fixed it. Against the MariaDB pair `scripts/db-up.sh` starts (primary :13306,
//! replica :13307, user ward/ward): the replica gets the primary's server id, so its
//! IO thread stops with the server's fatal error; Ward pages with that error
//! verbatim. Then the cause goes away (the server id is restored), but replication
//! stays stopped, as in the seed, until Ward's repair (the built-in mysql hook)
//! restarts it, after it has been broken for 30 s.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Deadline, Env, Ward};

const MY_PRIMARY: u16 = 13306;
const MY_REPLICA: u16 = 13307;

fn my(port: u16, sql: &str) -> Result<String, String> {
    let port = format!("-P{port}");
    let output = Command::new("mariadb")
        .args(["--no-defaults", "-h127.0.0.1", &port, "-uward", "-pward", "-N", "-B", "-e", sql])
        .output()
        .map_err(|e| format!("mariadb: {e}"))?;
    if !output.status.success() {
        return Err(format!("mariadb {sql}: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// `SHOW SLAVE STATUS` as (IO running, SQL running, Last_IO_Error).
fn slave_status() -> (String, String, String) {
    let port = format!("-P{MY_REPLICA}");
    let output = Command::new("mariadb")
        .args(["--no-defaults", "-h127.0.0.1", &port, "-uward", "-pward", "-e", "SHOW SLAVE STATUS\\G"])
        .output()
        .expect("mariadb");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let field = |name: &str| text.lines().find_map(|l| l.trim().strip_prefix(&format!("{name}: ")).map(str::to_string)).unwrap_or_default();
    (field("Slave_IO_Running"), field("Slave_SQL_Running"), field("Last_IO_Error"))
}

/// Puts the replica back as db-up.sh made it, whatever the test did.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = my(MY_REPLICA, "STOP SLAVE; SET GLOBAL server_id = 2; START SLAVE");
    }
}

fn inventory() -> String {
    format!(
        r#"
[policy]
tick = "200ms"
stale_after = "5s"
quorum = 1
notify = ["log"]

[[site]]
name = "dc1"

[[observer]]
name = "ctl"
site = "dc1"

[[node]]
name = "my-primary"
site = "dc1"
address = "127.0.0.1:{MY_PRIMARY}"

[[node]]
name = "my-replica"
site = "dc1"
address = "127.0.0.1:{MY_REPLICA}"
replication = {{ source = "my-primary", lag_max = "30s", check = "my", repair = "mysql" }}

[[check]]
name = "my"
kind = "mysql"
target = "mysql://ward:ward@{{address}}"
interval = "500ms"
timeout = "400ms"
rise = 1
fall = 2
nodes = ["my-primary", "my-replica"]

[[hook]]
name = "mysql"
kind = "mysql"
dsn = "mysql://ward:ward@{{address}}"
timeout = "20s"

[[route]]
name = "log"
kind = "log"
"#
    )
}

fn repair_records(journal: &[Value]) -> Vec<&Value> {
    let jobs: Vec<u64> =
        journal.iter().filter(|r| r["type"] == "decision" && r["action"]["kind"] == "repair").filter_map(|r| r["job"].as_u64()).collect();
    journal.iter().filter(|r| r["job"].as_u64().is_some_and(|j| jobs.contains(&j)) || r["action"]["kind"] == "repair").collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_io_thread_is_restarted_by_ward_after_thirty_seconds() {
    let env = Env::new();
    env.write_inventory(&inventory());
    let _restore = Restore;
    my(MY_REPLICA, "STOP SLAVE; SET GLOBAL server_id = 2; START SLAVE").expect("replica reset");
    let ward = Ward::start(&env).await;
    ward.wait_node("my-replica", "up", Duration::from_secs(30)).await;
    let deadline = Deadline::new("my-replica's replication to be healthy", Duration::from_secs(30));
    while !ward.node("my-replica").await.to_string().contains("healthy") {
        deadline.tick().await;
    }

    // Seed 000: the IO thread stops on a fatal error about server ids.
    my(MY_REPLICA, "STOP SLAVE; SET GLOBAL server_id = 1; START SLAVE").expect("break");
    let broken_at = Instant::now();
    // The probe may first catch the threads between STOP and START (stopped without an
    // error); the alert's words follow the server's until they carry its fatal error.
    let deadline = Deadline::new("a replication page with the server's error", Duration::from_secs(30));
    let alert = loop {
        if let Some(alert) = ward.open_alert("replication:my-replica").await {
            if alert["title"].as_str().is_some_and(|t| t.contains("master and slave have equal")) {
                break alert;
            }
        }
        deadline.tick().await;
    };
    let title = alert["title"].as_str().unwrap_or_default().to_string();
    let (io, _, error) = slave_status();
    assert_eq!(io, "No", "the IO thread stopped");
    assert!(error.contains("master and slave have equal"), "{error}");
    assert_eq!(title, format!("Replication to my-replica is broken: {error}"), "the server's words verbatim");
    assert_eq!(alert["severity"], "page", "{alert}");

    // The cause goes away; replication does not come back by itself.
    if my(MY_REPLICA, "SET GLOBAL server_id = 2").is_err() {
        // Some versions refuse while the SQL thread runs: stop it too (still stopped, still Ward's to restart).
        my(MY_REPLICA, "STOP SLAVE SQL_THREAD; SET GLOBAL server_id = 2").expect("restore the server id");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(slave_status().0, "No", "replication stays stopped until someone restarts it");
    assert!(ward.journal().await.iter().all(|r| r["action"]["kind"] != "repair"), "no repair before 30 s");

    // Ward restarts it once it has been broken for 30 s.
    let deadline = Deadline::new("Ward's repair to succeed", Duration::from_secs(90));
    let (decision, finished) = loop {
        let journal = ward.journal().await;
        let records: Vec<Value> = repair_records(&journal).into_iter().cloned().collect();
        let decision = records.iter().find(|r| r["type"] == "decision").cloned();
        let finished = records.iter().find(|r| r["type"] == "job_finished").cloned();
        if let (Some(decision), Some(finished)) = (decision, finished) {
            break (decision, finished);
        }
        deadline.tick().await;
    };
    let repaired_after = broken_at.elapsed();
    let journal = ward.journal().await;
    let step = repair_records(&journal).into_iter().find(|r| r["type"] == "job_step_done").cloned().expect("the repair's step");
    let message = step["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("STOP SLAVE; START SLAVE on my-replica: IO and SQL threads running again"), "{step}");
    assert!(repaired_after >= Duration::from_secs(30), "repaired after {repaired_after:?}");
    assert_eq!(finished["end"], "succeeded", "{finished}");
    let summary = decision["summary"].as_str().unwrap_or_default();
    assert!(summary.starts_with("stopped for ") && summary.ends_with(&error), "the decision quotes the error: {summary}");
    assert_eq!(decision["action"]["node"], "my-replica");
    assert_eq!(decision["action"]["operation"], "restart_replication");
    let (io, sql, _) = slave_status();
    assert_eq!((io.as_str(), sql.as_str()), ("Yes", "Yes"), "replication runs again");
    // And Ward sees it healthy again.
    let deadline = Deadline::new("Ward to see my-replica's replication healthy again", Duration::from_secs(30));
    loop {
        let journal = ward.journal().await;
        let last_seq = |status: &str| {
            journal
                .iter()
                .filter(|r| r["type"] == "health" && r["node"] == "my-replica" && r["status"] == status)
                .filter_map(|r| r["seq"].as_u64())
                .max()
        };
        let healthy_again = last_seq("replication-healthy") > last_seq("replication-broken");
        if healthy_again && ward.node("my-replica").await.to_string().contains("healthy") {
            break;
        }
        deadline.tick().await;
    }
    eprintln!("repaired {:.1}s after the break: {message}", repaired_after.as_secs_f64());
}
