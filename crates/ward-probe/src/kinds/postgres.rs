//! postgres: role and replication of one PostgreSQL server (seed 003: replication broke
//! silently and the primary kept WAL until its disk filled).
//!
//! Target: `postgres://user:pass@host:port/db` (no TLS). The server answering is a pass,
//! whatever its replication says: Ward folds replication health separately.
//! - a standby reports `ProbeDetail::Replication`: running = its WAL receiver streams,
//!   lag, the replayed LSN (for choosing whom to promote) and the received (flushed)
//!   LSN. `retained_bytes` is 0: only the primary knows what it retains for a standby.
//! - a primary reports `ProbeDetail::Primary`: its flush LSN (every acknowledged
//!   commit is at or below it), the standbys that are synchronous and in sync (by
//!   `application_name`: set it to the node's inventory name), and a summary for
//!   people: writable or not, timeline, each standby's state and lag, each slot's
//!   retained WAL. Not a Replication detail: the core reads one as "this node's
//!   replication", and a primary has none to be healthy or broken.

use std::fmt::Write;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, NoTls, Row};
use ward_core::observation::{PrimaryStatus, ProbeDetail, ProbeOutcome, ReplicationStatus};

use crate::result::{bounded, fail, short_error, ProbeResult, Verdict};
use crate::spec::ProbeSpec;

pub async fn probe_postgres(spec: &ProbeSpec) -> ProbeResult {
    bounded(spec.timeout, async {
        match observe(&spec.target, spec.timeout).await {
            Ok(verdict) => verdict,
            Err(error) => fail(short_error(&error)),
        }
    })
    .await
}

/// Aborts the connection task if the probe is dropped (its timeout fired) while the
/// server hangs: the task would otherwise wait on the socket forever.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn observe(target: &str, timeout: Duration) -> Result<Verdict, tokio_postgres::Error> {
    let mut config: Config = target.parse()?;
    config.connect_timeout(timeout).application_name("ward-probe");
    let (client, connection) = config.connect(NoTls).await?;
    let _connection = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let role = client
        .query_one(
            "SELECT pg_is_in_recovery(), current_setting('transaction_read_only'),
                    (SELECT timeline_id FROM pg_control_checkpoint())::text",
            &[],
        )
        .await?;
    let in_recovery: bool = role.get(0);
    if in_recovery {
        standby(&client).await
    } else {
        primary(&client, role.get(1), role.get(2)).await
    }
}

async fn standby(client: &Client) -> Result<Verdict, tokio_postgres::Error> {
    // Lag is 0 while everything received is replayed (an idle primary sends nothing, so
    // "now - last replayed commit" would grow forever); otherwise the age of the last
    // replayed commit. The same rule as postgres_exporter's pg_replication_lag.
    let row = client
        .query_one(
            "SELECT r.status, r.sender_host, r.sender_port,
                    -- Received WAL counts: a promoted standby replays all it has flushed, and
                    -- synchronous commit acknowledges on flush, not on replay.
                    GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text,
                    CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                         ELSE (1000 * EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()))::bigint
                    END,
                    pg_last_wal_receive_lsn()::text
             FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver AS r ON true",
            &[],
        )
        .await?;
    Ok((ProbeOutcome::Pass, Some(ProbeDetail::Replication(standby_status(&row)))))
}

fn standby_status(row: &Row) -> ReplicationStatus {
    let status: Option<String> = row.get(0);
    let sender: Option<String> = row.get(1);
    let sender_port: Option<i32> = row.get(2);
    let replayed: Option<String> = row.get(3);
    let lag_ms: Option<i64> = row.get(4);
    let received: Option<String> = row.get(5);
    let running = status.as_deref() == Some("streaming");
    // PostgreSQL keeps the WAL receiver's errors in its log only: say what the view shows.
    let last_error = match (&status, &sender) {
        (_, _) if running => None,
        (None, _) => Some("no WAL receiver: the standby is not connected to a primary".to_string()),
        (Some(status), Some(host)) => Some(format!("WAL receiver {status} (sender {host}:{})", sender_port.unwrap_or(0))),
        (Some(status), None) => Some(format!("WAL receiver {status}")),
    };
    ReplicationStatus {
        running,
        lag_ms: lag_ms.map(|ms| ms.max(0) as u64),
        last_error,
        replayed_position: replayed.as_deref().and_then(parse_lsn).unwrap_or(0),
        retained_bytes: 0,
        // Flushed to the standby's disk: what a promotion keeps. NULL on a standby that
        // never streamed (restored from archive only): unknown, not zero.
        received_position: received.as_deref().and_then(parse_lsn),
    }
}

async fn primary(client: &Client, read_only: String, timeline: String) -> Result<Verdict, tokio_postgres::Error> {
    let standbys = client
        .query(
            "SELECT application_name, coalesce(state, '?'), coalesce(sync_state, '?'),
                    coalesce(sent_lsn::text, '-'), coalesce(write_lsn::text, '-'),
                    coalesce(flush_lsn::text, '-'), coalesce(replay_lsn::text, '-'),
                    (1000 * EXTRACT(EPOCH FROM replay_lag))::bigint
             FROM pg_stat_replication ORDER BY application_name",
            &[],
        )
        .await?;
    // Every commit acknowledged so far is at or below the flush position; with
    // synchronous_commit waiting on standbys, the ones in sync ("sync", streaming)
    // had each acknowledged commit before the client heard of it. "quorum" (ANY n)
    // standbys are not listed: none of them alone is sure to hold every commit.
    let position = client
        .query_one(
            "SELECT pg_current_wal_flush_lsn()::text,
                    current_setting('synchronous_commit') IN ('on', 'remote_write', 'remote_apply')",
            &[],
        )
        .await?;
    let flush: Option<String> = position.get(0);
    let waits_for_standbys: bool = position.get(1);
    let slots = client
        .query(
            "SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint
             FROM pg_replication_slots ORDER BY slot_name",
            &[],
        )
        .await?;
    let writes = if read_only == "off" { "accepts writes" } else { "read-only" };
    let mut text = format!("primary ({writes}, timeline {timeline}); standbys:");
    if standbys.is_empty() {
        text.push_str(" none");
    }
    for s in &standbys {
        let (name, state, sync, sent, write, flush, replay): (String, String, String, String, String, String, String) =
            (s.get(0), s.get(1), s.get(2), s.get(3), s.get(4), s.get(5), s.get(6));
        let lag: Option<i64> = s.get(7);
        let lag = lag.map_or("-".to_string(), |ms| format!("{ms} ms"));
        let _ = write!(text, " {name} {state} {sync} sent {sent} write {write} flush {flush} replay {replay} lag {lag};");
    }
    text.push_str(" slots:");
    if slots.is_empty() {
        text.push_str(" none");
    }
    for slot in &slots {
        let (name, active, retained): (String, bool, Option<i64>) = (slot.get(0), slot.get(1), slot.get(2));
        let active = if active { "active" } else { "INACTIVE" };
        let _ = write!(text, " {name} {active} retains {} bytes;", retained.unwrap_or(0));
    }
    let synchronous_standbys = if waits_for_standbys {
        standbys
            .iter()
            .filter(|s| s.get::<_, String>(1) == "streaming" && s.get::<_, String>(2) == "sync")
            .map(|s| s.get::<_, String>(0))
            .collect()
    } else {
        Vec::new()
    };
    let status = PrimaryStatus {
        flush_position: flush.as_deref().and_then(parse_lsn),
        synchronous_standbys,
        summary: text.trim_end_matches(';').to_string(),
        writable: Some(read_only == "off"),
    };
    Ok((ProbeOutcome::Pass, Some(ProbeDetail::Primary(status))))
}

/// An LSN `"16/B374D848"` as the 64-bit WAL position it names.
pub(crate) fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    Some((u64::from_str_radix(high, 16).ok()? << 32) | u64::from_str_radix(low, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::parse_lsn;

    #[test]
    fn lsn() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(parse_lsn("x"), None);
    }
}
