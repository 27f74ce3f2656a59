//! Pointing the service's other standbys at the new primary.
//!
//! Done *before* the promotion, while the new primary is still a standby: the
//! others then stream from it (cascading) and follow its timeline switch on their
//! own (`recovery_target_timeline = latest`, the default). Repointing them after
//! the promotion would leave a window in which a standby still streaming from the
//! fenced old primary receives a record the new primary never got (the old primary
//! still logs a running-transactions record every 15 s after activity): that
//! standby's history would then fork from the new timeline and it could never
//! follow it.
//!
//! Per standby: create the physical slot named by its `primary_slot_name` on the
//! new primary if missing, rewrite the host and port of its `primary_conninfo`
//! (`ALTER SYSTEM`, applied by a reload on PostgreSQL 13+), then, after the
//! promotion, confirm `pg_stat_wal_receiver` shows it streaming from the new
//! primary on the new timeline. A standby that cannot be repointed does not fail
//! the promotion: the step message says so plainly.

use std::time::Duration;

use tokio::time::Instant;
use ward_core::inventory::Node;

use super::conninfo::{sql_literal, with_host_port};
use super::server::{Server, Session};
use super::Job;

/// How often the WAL receivers are looked at while confirming.
const STREAM_POLL: Duration = Duration::from_millis(100);
/// Confirming streaming never takes longer than this: the promotion is done by
/// then, and a standby that does not stream shows up as broken replication anyway.
const STREAM_CONFIRM_MAX: Duration = Duration::from_secs(15);

/// A standby pointed at the new primary, not yet confirmed streaming.
pub(super) struct Repointed {
    node: String,
    session: Session,
    /// What was done, for the message: "repointed to pg2 (slot pg3 created)".
    done: String,
}

/// Points `standby` at `primary` (whose session is `primary_session`). `Err` is the
/// sentence for the step message.
pub(super) async fn prepare(job: &Job<'_>, standby: &Node, primary: &Server, primary_session: &Session) -> Result<Repointed, String> {
    let server = Server::new(job.dsn, standby).map_err(|e| format!("{} not repointed: {e}", standby.name))?;
    // A standby that does not answer must not eat the promotion's time.
    let session = server
        .connect_by(job.quarter_of_the_time_left(), job.until)
        .await
        .map_err(|e| format!("{} not repointed: no session at {} ({})", standby.name, server.endpoint(), e.describe()))?;
    let not = |e: String| format!("{} not repointed: {e}", standby.name);
    let row = session.one("SELECT pg_is_in_recovery()", &[]).await.map_err(not)?;
    if !session.get::<bool>(&row, 0).map_err(not)? {
        return Err(format!("{} is not a standby (not in recovery): left alone", standby.name));
    }
    let conninfo = session.text("SHOW primary_conninfo").await.map_err(not)?;
    let slot = session.text("SHOW primary_slot_name").await.map_err(not)?;
    let rewritten = with_host_port(&conninfo, &primary.host, primary.port).map_err(not)?;
    let mut notes = Vec::new();
    if !slot.is_empty() {
        notes.push(ensure_slot(primary_session, &slot).await.map_err(not)?);
    }
    let done = if rewritten == conninfo {
        format!("already pointed at {}", primary.node)
    } else {
        let literal = sql_literal(&rewritten).map_err(not)?;
        session.run(&format!("ALTER SYSTEM SET primary_conninfo = {literal}")).await.map_err(not)?;
        session.one("SELECT pg_reload_conf()", &[]).await.map_err(not)?;
        format!("repointed to {}", primary.node)
    };
    let done = if notes.is_empty() { done } else { format!("{done} ({})", notes.join(", ")) };
    Ok(Repointed { node: standby.name.clone(), session, done })
}

/// Creates the physical slot `slot` on the new primary unless it exists.
async fn ensure_slot(primary: &Session, slot: &str) -> Result<String, String> {
    let row = primary.one("SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", &[&slot]).await?;
    if primary.get::<i64>(&row, 0)? > 0 {
        return Ok(format!("slot {slot} exists"));
    }
    // Reserve WAL now, so nothing the standby still needs is recycled before it connects.
    primary.one("SELECT pg_create_physical_replication_slot($1, true)", &[&slot]).await?;
    Ok(format!("slot {slot} created"))
}

/// Waits (bounded) until every repointed standby streams from `primary` on
/// `timeline` or later; one sentence per standby.
pub(super) async fn confirm(repointed: Vec<Repointed>, primary: &Server, timeline: u32, until: Instant) -> Vec<String> {
    let until = until.min(Instant::now() + STREAM_CONFIRM_MAX);
    let mut pending: Vec<(Repointed, String)> = repointed.into_iter().map(|r| (r, String::new())).collect();
    let mut out = Vec::new();
    loop {
        let mut still = Vec::new();
        for (standby, _) in pending {
            match receiver(&standby.session, primary, timeline).await {
                Ok(()) => out.push(format!("{} {}, streaming", standby.node, standby.done)),
                Err(why) => still.push((standby, why)),
            }
        }
        pending = still;
        if pending.is_empty() || Instant::now() + STREAM_POLL >= until {
            break;
        }
        tokio::time::sleep(STREAM_POLL).await;
    }
    for (standby, why) in pending {
        out.push(format!("{} {} but is NOT streaming from it: {why}", standby.node, standby.done));
    }
    out
}

/// `Ok` when the standby's WAL receiver streams from `primary` on `timeline` or later.
async fn receiver(session: &Session, primary: &Server, timeline: u32) -> Result<(), String> {
    let rows = session.rows("SELECT status, sender_host, sender_port, received_tli FROM pg_stat_wal_receiver", &[]).await?;
    let Some(row) = rows.first() else {
        return Err("it has no WAL receiver (not connected to any primary)".into());
    };
    let status: Option<String> = session.get(row, 0)?;
    let host: Option<String> = session.get(row, 1)?;
    let port: Option<i32> = session.get(row, 2)?;
    let tli: Option<i32> = session.get(row, 3)?;
    let status = status.unwrap_or_default();
    let from = format!("{}:{}", host.as_deref().unwrap_or("?"), port.unwrap_or(0));
    if status != "streaming" {
        return Err(format!("WAL receiver {status} (sender {from})"));
    }
    if host.as_deref() != Some(primary.host.as_str()) || port != Some(i32::from(primary.port)) {
        return Err(format!("it streams from {from}"));
    }
    match tli {
        Some(tli) if tli >= 0 && tli as u32 >= timeline => Ok(()),
        other => Err(format!("it streams timeline {} (the new primary is on {timeline})", other.unwrap_or(0))),
    }
}
