//! mysql: replication of one MariaDB/MySQL server (seed 000: the replica's IO thread
//! stopped on "a fatal error ... SERVER_ID" and nothing said so for four hours).
//!
//! Target: `mysql://user:pass@host:port` (no TLS). The server answering is a pass,
//! whatever its replication says: Ward folds replication health separately.
//! - a replica (it has a `SHOW REPLICA STATUS` row) reports `ProbeDetail::Replication`:
//!   running = IO and SQL threads both "Yes", `Seconds_Behind_Master` as lag,
//!   `Last_IO_Error` / `Last_SQL_Error` verbatim, and the GTID sequence it has applied.
//!   `retained_bytes` is 0: the source does not track binlog retention per replica.
//! - a server without replication configured (a primary) reports a `Message` with
//!   read_only, its binlog GTID position and how many replicas are connected.
//!
//! Not reported (left unknown): a replica's received position and a primary's flush
//! position and semi-synchronous replicas. GTID sequences count transactions, not
//! bytes, and are comparable only within one domain/server uuid, so Ward cannot
//! show that a MySQL replica holds every acknowledged commit: an automatic MySQL
//! promotion asks a person first (`policy.promotion_data_loss = "approve"`) unless
//! the policy allows the loss.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row};
use ward_core::observation::{ProbeDetail, ProbeOutcome, ReplicationStatus};

use crate::result::{bounded, fail, pass_with, short_error, ProbeResult, Verdict};
use crate::spec::ProbeSpec;

pub async fn probe_mysql(spec: &ProbeSpec) -> ProbeResult {
    bounded(spec.timeout, async {
        let opts = match Opts::from_url(&spec.target) {
            Ok(opts) => opts,
            Err(error) => return fail(format!("bad target {:?}: {error}", spec.target)),
        };
        // prefer_socket(false): for a loopback target mysql_async would otherwise switch
        // to the server's unix socket, and the probe would no longer test the network path.
        let opts = OptsBuilder::from_opts(opts).prefer_socket(false).wait_timeout(Some(timeout_secs(spec.timeout)));
        let mut conn = match Conn::new(opts).await {
            Ok(conn) => DropAway(Some(conn)),
            Err(error) => return fail(short_error(&error)),
        };
        let verdict = observe(conn.0.as_mut().unwrap()).await.unwrap_or_else(|error| fail(short_error(&error)));
        // A polite COM_QUIT; the bound above still applies if the server stalls here.
        let _ = conn.0.take().unwrap().disconnect().await;
        verdict
    })
    .await
}

/// Holds the connection while the probe may be cut short by its timeout.
///
/// mysql_async's own Drop spawns a cleanup task on the runtime that first reads the rest
/// of an unfinished result set: against a server that hangs mid-answer that task, and its
/// socket, never end, one more per probe run (an unbounded leak; tests/databases.rs
/// shows it). Dropped on a plain thread, outside any runtime, the connection just closes.
struct DropAway(Option<Conn>);

impl Drop for DropAway {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            // If no thread can be had, the closure (and the connection) drops here.
            let _ = std::thread::Builder::new().name("ward-mysql-drop".into()).spawn(move || drop(conn));
        }
    }
}

/// The server closes the session by itself if the probe vanishes mid-way (a timeout).
fn timeout_secs(timeout: Duration) -> usize {
    timeout.as_secs().max(1) as usize + 1
}

async fn observe(conn: &mut Conn) -> Result<Verdict, mysql_async::Error> {
    // MariaDB ≥ 10.5 and MySQL ≥ 8.0.22 know REPLICA; older servers only SLAVE.
    let rows: Vec<Row> = match conn.query("SHOW REPLICA STATUS").await {
        Ok(rows) => rows,
        Err(mysql_async::Error::Server(_)) => conn.query("SHOW SLAVE STATUS").await?,
        Err(error) => return Err(error),
    };
    let read_only: Option<String> = conn.query_first("SELECT @@read_only").await?;
    let read_only = if read_only.as_deref() == Some("1") { "read-only" } else { "accepts writes" };
    let Some(row) = rows.first() else {
        let position = query_text(conn, "SELECT @@gtid_binlog_pos").await;
        let replicas: Option<String> =
            conn.query_first("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'").await?;
        return Ok(pass_with(format!(
            "primary ({read_only}, no replication configured); gtid_binlog_pos {}; {} replica(s) connected",
            position.as_deref().unwrap_or("-"),
            replicas.as_deref().unwrap_or("?")
        )));
    };
    // MariaDB's applied position; MySQL has no such variable, its row has Executed_Gtid_Set.
    let gtid = match query_text(conn, "SELECT @@gtid_slave_pos").await {
        Some(gtid) => Some(gtid),
        None => text(row, "Executed_Gtid_Set"),
    };
    Ok((ProbeOutcome::Pass, Some(ProbeDetail::Replication(replica_status(row, gtid.as_deref())))))
}

/// A single text value, or None if the server does not know the query.
async fn query_text(conn: &mut Conn, query: &str) -> Option<String> {
    conn.query_first::<Option<String>, _>(query).await.ok().flatten().flatten()
}

fn replica_status(row: &Row, gtid: Option<&str>) -> ReplicationStatus {
    let column = |mariadb: &str, mysql: &str| text(row, mariadb).or_else(|| text(row, mysql));
    let io = column("Slave_IO_Running", "Replica_IO_Running").unwrap_or_default();
    let sql = column("Slave_SQL_Running", "Replica_SQL_Running").unwrap_or_default();
    let running = io == "Yes" && sql == "Yes";
    let errors: Vec<String> = [column("Last_IO_Error", "Last_IO_Error"), column("Last_SQL_Error", "Last_SQL_Error")]
        .into_iter()
        .flatten()
        .filter(|error| !error.is_empty())
        .collect();
    let last_error = match errors.is_empty() {
        // The server's own words, untouched (seed 000); both threads' if both failed.
        false => Some(errors.join(" | ")),
        true if running => None,
        true => Some(format!("replication stopped without an error: IO thread {io}, SQL thread {sql}")),
    };
    let lag_ms = column("Seconds_Behind_Master", "Seconds_Behind_Source")
        .and_then(|seconds| seconds.parse::<u64>().ok())
        .map(|seconds| seconds * 1000);
    ReplicationStatus {
        running,
        lag_ms: if running { lag_ms } else { None },
        last_error,
        replayed_position: gtid.and_then(gtid_sequence).unwrap_or(0),
        retained_bytes: 0,
        received_position: None,
    }
}

/// A column as text (the text protocol sends everything as bytes); None if the column
/// is missing or NULL.
fn text(row: &Row, name: &str) -> Option<String> {
    row.get_opt::<Option<String>, _>(name)?.ok().flatten()
}

/// The applied sequence number of the last GTID domain, comparable between replicas of
/// one source: MariaDB `"0-1-42,1-2-7"` → 7; MySQL `"uuid:1-42"` → 42.
pub(crate) fn gtid_sequence(gtid: &str) -> Option<u64> {
    let last = gtid.split(',').map(str::trim).rfind(|part| !part.is_empty())?;
    last.rsplit(['-', ':']).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::gtid_sequence;

    #[test]
    fn gtid_positions() {
        assert_eq!(gtid_sequence("0-1-42"), Some(42));
        assert_eq!(gtid_sequence("0-1-42,1-2-7"), Some(7));
        assert_eq!(gtid_sequence("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-42"), Some(42));
        assert_eq!(gtid_sequence(""), None);
    }
}
