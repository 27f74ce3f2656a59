//! Seed 000: a site's database replica stopped replicating and its front end went on
//! serving stale data for hours, silently. Against the real PostgreSQL cluster that
//! `scripts/db-up.sh` starts (primary :15432, standbys :15433 and :15434): breaking
//! standby1's replication must page within a minute with what the server says, and
//! take the front end that reads from it out of DNS; repairing it brings it back.

use std::process::Command;
use std::time::Duration;

use crate::support::{list, Backend, Deadline, Env, Ward};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const PRIMARY: u16 = 15432;
const STANDBY1: u16 = 15433;

fn pg(port: u16, sql: &str) -> String {
    let output = Command::new(format!("{PG_BIN}/psql"))
        .args(["-X", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-d", "postgres", "-tAc", sql])
        .env("PGPASSWORD", "ward")
        .output()
        .expect("psql");
    assert!(output.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Runs its closure when dropped: the repair happens even if the test fails.
struct Undo<F: FnMut()>(F);

impl<F: FnMut()> Drop for Undo<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

fn inventory(env: &Env, web1: &Backend, web2: &Backend) -> String {
    let root = env.root();
    let mut text = format!(
        r#"
[policy]
tick = "200ms"
stale_after = "5s"
quorum = 1
notify = ["log"]

[policy.budget]
window = "10m"
group_moves_max = 10
fleet_moves_max = 10

[[site]]
name = "phx"

[[site]]
name = "scl"

[[observer]]
name = "ctl"
site = "phx"

[[node]]
name = "pg-primary"
site = "phx"
address = "127.0.0.1:{PRIMARY}"

[[node]]
name = "standby1"
site = "phx"
address = "127.0.0.1:{STANDBY1}"
replication = {{ source = "pg-primary", lag_max = "30s", check = "pg" }}

[[node]]
name = "standby2"
site = "scl"
address = "127.0.0.1:{standby2}"
replication = {{ source = "pg-primary", lag_max = "30s", check = "pg" }}

[[check]]
name = "pg"
kind = "postgres"
target = "postgresql://postgres:ward@{{address}}/postgres?connect_timeout=2"
interval = "500ms"
timeout = "400ms"
rise = 1
fall = 2
nodes = ["pg-primary", "standby1", "standby2"]

[[hook]]
name = "move"
kind = "exec"
command = ["/bin/sh", "{root}/hook.sh", "{root}"]
timeout = "5s"
services = ["www"]

[[route]]
name = "log"
kind = "log"

[[service]]
name = "www"
kind = "dns"
candidates = ["web-phx", "web-scl"]
initial = ["web-phx", "web-scl"]
checks = ["web-http"]
actuator = "move"
notify = ["log"]
min_targets = 1
"#,
        standby2 = STANDBY1 + 1,
    );
    for (name, site, backend, replica) in [("web-phx", "phx", web1, "standby1"), ("web-scl", "scl", web2, "standby2")] {
        text.push_str(&format!(
            "\n[[node]]\nname = \"{name}\"\nsite = \"{site}\"\naddress = \"127.0.0.1\"\ndepends_on = {}\n",
            list(&[replica])
        ));
        text.push_str(&format!(
            "\n[[check]]\nname = \"{name}-http\"\nkind = \"http\"\ntarget = \"http://{{address}}:{}/health\"\ninterval = \"300ms\"\ntimeout = \"250ms\"\nrise = 1\nfall = 2\nnodes = [\"{name}\"]\n",
            backend.port
        ));
    }
    // One check list for the dns service: each web node's own http check.
    text.replace("checks = [\"web-http\"]", "checks = [\"web-phx-http\", \"web-scl-http\"]")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_replication_pages_within_a_minute_and_its_site_leaves_dns_until_repaired() {
    let env = Env::new();
    let (web1, web2) = (Backend::start().await, Backend::start().await);
    env.write_inventory(&inventory(&env, &web1, &web2));
    let ward = Ward::start(&env).await;
    ward.wait_node("standby1", "up", Duration::from_secs(30)).await;
    ward.wait_node("web-phx", "up", Duration::from_secs(30)).await;
    ward.wait_holders("www", &["web-phx", "web-scl"], Duration::from_secs(30)).await;
    // Replication is healthy before anything is broken.
    let deadline = Deadline::new("standby1's replication to be healthy", Duration::from_secs(30));
    while !ward.node("standby1").await.to_string().contains("healthy") {
        deadline.tick().await;
    }

    // Break it the way seed 000 did: the replica cannot reach its source any more.
    let conninfo = pg(STANDBY1, "SHOW primary_conninfo");
    assert!(conninfo.contains(&format!("port={PRIMARY}")), "{conninfo}");
    let set = |info: &str| {
        pg(STANDBY1, &format!("ALTER SYSTEM SET primary_conninfo = '{}'", info.replace('\'', "''")));
        pg(STANDBY1, "SELECT pg_reload_conf()");
    };
    let repair = Undo(|| set(&conninfo));
    set(&conninfo.replace(&format!("port={PRIMARY}"), "port=1"));
    let broken_at = std::time::Instant::now();

    let alert = ward.wait_alert("replication:standby1", Duration::from_secs(60)).await;
    let title = alert["title"].as_str().unwrap_or_default();
    assert!(title.starts_with("Replication to standby1 is broken: "), "{alert}");
    assert!(title.contains("WAL receiver") || title.contains("not connected"), "the server's own words: {alert}");
    assert_eq!(alert["severity"], "page", "{alert}");
    // The front end that reads from the broken replica leaves DNS; the other stays.
    ward.wait_holders("www", &["web-scl"], Duration::from_secs(30)).await;
    assert!(broken_at.elapsed() < Duration::from_secs(60), "gate and alert took {:?}", broken_at.elapsed());
    let why = ward.get("/v1/why/www").await.to_string();
    assert!(why.contains("standby1"), "the decision names the broken replica: {why}");

    drop(repair);
    ward.wait_holders("www", &["web-phx", "web-scl"], Duration::from_secs(60)).await;
    pg(PRIMARY, "SELECT 1");
}
