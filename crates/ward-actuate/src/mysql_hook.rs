//! The built-in MySQL/MariaDB actuator (`kind = "mysql"`): repairs a replica's
//! replication (issue 4, seed 000: the IO thread stopped on a transient "fatal error
//! ... SERVER_ID" and stayed stopped for hours; `STOP SLAVE; START SLAVE` fixed it).
//!
//! `Repair { operation: "restart_replication" }` on node N: connect to N (the hook's
//! `dsn` rendered for N, no TLS), `STOP SLAVE`, `START SLAVE`, then read
//! `SHOW SLAVE STATUS` until both threads run (seen twice in a row, half a second
//! apart, so a thread that starts and dies again is not taken for a repair), or
//! fail with the server's `Last_IO_Error` / `Last_SQL_Error` verbatim. Everything
//! ends by the step's deadline and the hook's timeout, whichever is first.
//! Any other action is refused with a sentence: this hook moves nothing.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row};
use tokio::time::Instant;
use ward_core::action::{NamedAction, RepairOperation};
use ward_core::inventory::{render_target, AddressForm, Hook, Snapshot};
use ward_core::journal::JobStep;

use crate::step::StepResult;

/// Between two reads of the replica's status.
const POLL_PAUSE: Duration = Duration::from_millis(500);
/// Consecutive reads with both threads running that count as "running again".
const RUNNING_READS: u32 = 2;

pub(crate) async fn run(hook: &Hook, dsn: &str, named: &NamedAction, step: JobStep, snapshot: &Snapshot, deadline: Instant) -> StepResult {
    let until = deadline.min(Instant::now() + Duration::from_millis(hook.timeout_ms.max(1)));
    let name = match (step, named) {
        (JobStep::Apply, NamedAction::Repair { node, operation: RepairOperation::RestartReplication }) => node,
        (_, other) => {
            return StepResult::failed(format!(
            "a mysql hook only restarts replication (action repair); it cannot carry out {} {} (give that service an exec or http hook)",
            step.name(),
            other.kind()
        ))
        }
    };
    let Some(node) = snapshot.node_id(name).map(|id| snapshot.node(id)) else {
        return StepResult::failed(format!(
            "node {name} is not in inventory {} (renamed or removed since the job was decided)",
            snapshot.short_hash()
        ));
    };
    let target = render_target(dsn, &node.address, &node.name, AddressForm::HostPort);
    match tokio::time::timeout_at(until, restart(name, &target, until)).await {
        Ok(Ok(message)) => StepResult { ok: true, message, preview: None },
        Ok(Err(message)) => StepResult::failed(message),
        Err(_) => StepResult::failed(format!("restarting replication on {name} did not finish before the step's deadline")),
    }
}

async fn restart(name: &str, target: &str, until: Instant) -> Result<String, String> {
    let opts = Opts::from_url(target).map_err(|e| format!("the dsn for {name} is not a MySQL URL: {e}"))?;
    // prefer_socket(false): talk to the address in the inventory, as the probe does.
    let opts = OptsBuilder::from_opts(opts).prefer_socket(false);
    let conn = Conn::new(opts).await.map_err(|e| format!("cannot connect to {name}: {e}"))?;
    let mut conn = DropAway(Some(conn));
    let result = stop_start_and_wait(name, conn.0.as_mut().expect("connection"), until).await;
    if let Some(conn) = conn.0.take() {
        let _ = conn.disconnect().await;
    }
    result
}

async fn stop_start_and_wait(name: &str, conn: &mut Conn, until: Instant) -> Result<String, String> {
    let started = Instant::now();
    let before = status(conn).await.map_err(|e| format!("SHOW SLAVE STATUS on {name} failed: {e}"))?;
    let Some(before) = before else {
        return Err(format!("{name} has no replication configured (SHOW SLAVE STATUS is empty): nothing to restart"));
    };
    conn.query_drop("STOP SLAVE").await.map_err(|e| format!("STOP SLAVE on {name} failed: {e}"))?;
    conn.query_drop("START SLAVE").await.map_err(|e| format!("START SLAVE on {name} failed: {e}"))?;
    let mut running_reads = 0;
    loop {
        tokio::time::sleep(POLL_PAUSE.min(until.saturating_duration_since(Instant::now()))).await;
        let last = match status(conn).await {
            Ok(Some(now)) => {
                running_reads = if now.running() { running_reads + 1 } else { 0 };
                now
            }
            Ok(None) => return Err(format!("{name}'s replication configuration disappeared after START SLAVE")),
            Err(e) => return Err(format!("SHOW SLAVE STATUS on {name} failed after START SLAVE: {e}")),
        };
        if running_reads >= RUNNING_READS {
            return Ok(format!(
                "STOP SLAVE; START SLAVE on {name}: IO and SQL threads running again after {:.1}s (before: {})",
                started.elapsed().as_secs_f64(),
                before.describe()
            ));
        }
        if Instant::now() + POLL_PAUSE >= until {
            return Err(format!("STOP SLAVE; START SLAVE on {name}: replication did not come back: {}", last.describe()));
        }
    }
}

#[derive(Clone, Debug)]
struct SlaveStatus {
    io: String,
    sql: String,
    io_error: String,
    sql_error: String,
}

impl SlaveStatus {
    fn running(&self) -> bool {
        self.io == "Yes" && self.sql == "Yes"
    }

    /// The threads' states and the server's errors, verbatim.
    fn describe(&self) -> String {
        let mut text = format!("IO thread {}, SQL thread {}", self.io, self.sql);
        for error in [&self.io_error, &self.sql_error] {
            if !error.is_empty() {
                text.push_str(": ");
                text.push_str(error);
            }
        }
        text
    }
}

/// `SHOW SLAVE STATUS` (MariaDB and MySQL both still answer it); None: not a replica.
async fn status(conn: &mut Conn) -> Result<Option<SlaveStatus>, mysql_async::Error> {
    let rows: Vec<Row> = conn.query("SHOW SLAVE STATUS").await?;
    Ok(rows.first().map(|row| {
        let column = |a: &str, b: &str| text(row, a).or_else(|| text(row, b)).unwrap_or_default();
        SlaveStatus {
            io: column("Slave_IO_Running", "Replica_IO_Running"),
            sql: column("Slave_SQL_Running", "Replica_SQL_Running"),
            io_error: column("Last_IO_Error", "Last_IO_Error"),
            sql_error: column("Last_SQL_Error", "Last_SQL_Error"),
        }
    }))
}

fn text(row: &Row, name: &str) -> Option<String> {
    row.get_opt::<Option<String>, _>(name)?.ok().flatten()
}

/// mysql_async's Drop spawns a cleanup task that reads the rest of an unfinished
/// result set, which never ends against a stalled server; dropped on a plain
/// thread, the connection just closes (as ward-probe's mysql probe does).
struct DropAway(Option<Conn>);

impl Drop for DropAway {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            let _ = std::thread::Builder::new().name("ward-mysql-drop".into()).spawn(move || drop(conn));
        }
    }
}
