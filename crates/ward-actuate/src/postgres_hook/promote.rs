//! `Action::Promote` on PostgreSQL: make `to` the primary without losing
//! acknowledged writes, and point the service's other standbys at it.
//!
//! 1. `to` must answer. Already primary and writable: nothing to promote (a step
//!    re-applied after a controller restart must not fail). Already primary but
//!    read-only: refused (it may be a fenced old primary that missed later writes).
//! 2. If `from` answers (a switchover: it was fenced read-only), read its
//!    `pg_current_wal_lsn()` and wait, polling every 50 ms and bounded by the
//!    deadline, until `to` has replayed that far; if it has not, fail *without*
//!    promoting. If `from` answers and still accepts writes, refuse: that would make
//!    two writable primaries. If `from` does not answer (a crash), skip the wait:
//!    synchronous commit protects acknowledged writes.
//! 3. Repoint the service's other standbys at `to` (`repoint.rs` says why before).
//! 4. Clear a `default_transaction_read_only` left on `to` by an earlier fence, then
//!    `pg_promote(wait => true)`, then confirm `pg_is_in_recovery()` is false and
//!    report the new timeline and WAL position.
//! 5. Confirm (bounded) the repointed standbys stream from `to` on its new timeline.
//!
//! Every sub-step is in the step message: it is the job's evidence in the journal.

use std::time::Duration;

use tokio::time::Instant;
use ward_core::inventory::{Node, Service};

use super::lsn::Lsn;
use super::repoint;
use super::server::{Server, Session, Unreachable};
use super::Job;
use crate::step::StepResult;

/// How often `to`'s replay position is read while it catches up.
const REPLAY_POLL: Duration = Duration::from_millis(50);
/// Time kept for the promotion itself when waiting for replay (at most half of what is left).
const PROMOTE_RESERVE_MAX: Duration = Duration::from_secs(5);
/// How long new sessions may take to see a cleared read-only setting.
const READ_ONLY_CHECK_MAX: Duration = Duration::from_secs(2);

/// What the old primary showed.
enum Old {
    /// It answered, read-only, at this WAL position.
    Fenced(Lsn),
    /// It is a standby now: it writes nothing.
    Standby,
    /// It did not answer (refused, timed out, starting up or shutting down).
    Silent(String),
}

pub(super) async fn promote(job: &Job<'_>, service: &Service, from: Option<&Node>, to: &Node) -> StepResult {
    match run(job, service, from, to).await {
        Ok(message) => StepResult { ok: true, message, preview: None },
        Err(message) => StepResult::failed(message),
    }
}

async fn run(job: &Job<'_>, service: &Service, from: Option<&Node>, to: &Node) -> Result<String, String> {
    let target = Server::new(job.dsn, to)?;
    let t = target
        .connect(job.until)
        .await
        .map_err(|e| format!("{} does not answer at {} ({}): not promoted", to.name, target.endpoint(), e.describe()))?;
    let row = t.one("SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')", &[]).await?;
    let (in_recovery, read_only) = (t.get::<bool>(&row, 0)?, t.get::<String>(&row, 1)? == "on");
    let old = match from {
        Some(node) => Some((node, old_primary(job, node, to).await?)),
        None => None,
    };
    let mut evidence = Vec::new();
    if !in_recovery {
        if read_only {
            return Err(format!(
                "{} is already a primary but read-only (fenced?): it may be an old primary that missed later writes, \
                 so Ward will not make it writable. Rebuild it as a standby (pg_rewind) first, or reset \
                 default_transaction_read_only by hand if you know it has every write",
                to.name
            ));
        }
        let (timeline, lsn) = position(&t).await?;
        evidence.push(format!("{} was already primary (timeline {timeline}, LSN {lsn}): nothing to promote", to.name));
        let repointed = repoint_others(job, service, from, to, &target, &t, &mut evidence).await;
        evidence.extend(repoint::confirm(repointed, &target, timeline, job.until).await);
        return Ok(evidence.join("; "));
    }

    let replayed = match &old {
        Some((node, Old::Fenced(goal))) => Some(wait_for_replay(job, &t, &to.name, &node.name, *goal).await?),
        _ => None,
    };
    let mut later = Vec::new();
    let repointed = repoint_others(job, service, from, to, &target, &t, &mut later).await;
    if read_only {
        // Left by an earlier fence of this node; a promoted read-only primary serves nobody.
        t.run("ALTER SYSTEM RESET default_transaction_read_only").await?;
        t.one("SELECT pg_reload_conf()", &[]).await?;
        later.push(format!("cleared default_transaction_read_only left on {} by an earlier fence", to.name));
    }
    let wait_seconds = job.until.saturating_duration_since(Instant::now()).as_secs().clamp(1, i32::MAX as u64) as i32;
    let row = t.one("SELECT pg_promote(wait => true, wait_seconds => $1)", &[&wait_seconds]).await?;
    if !t.get::<bool>(&row, 0)? {
        return Err(format!(
            "pg_promote on {} did not finish within {wait_seconds} s; it may still finish (Ward verifies before deciding again)",
            to.name
        ));
    }
    let still: bool = t.get(&t.one("SELECT pg_is_in_recovery()", &[]).await?, 0)?;
    if still {
        return Err(format!("pg_promote on {} returned, but it is still in recovery", to.name));
    }
    let (timeline, lsn) = position(&t).await?;
    let mut head = format!("promoted {} (timeline {timeline}, LSN {lsn})", to.name);
    match (&old, replayed) {
        (Some((node, _)), Some(replayed)) => head.push_str(&format!(" after it replayed {replayed} from {}", node.name)),
        (Some((node, Old::Standby)), _) => head.push_str(&format!("; {} is a standby, so there was nothing to wait for", node.name)),
        (Some((node, Old::Silent(why))), _) => head.push_str(&format!(
            "; {} did not answer ({why}), so there was no replay wait (synchronous commit protects acknowledged writes)",
            node.name
        )),
        _ => {}
    }
    evidence.push(head);
    evidence.extend(later);
    if read_only {
        if let Some(why) = still_read_only(&target, job.until).await {
            evidence.push(why);
            return Err(evidence.join("; "));
        }
    }
    evidence.extend(repoint::confirm(repointed, &target, timeline, job.until).await);
    Ok(evidence.join("; "))
}

/// Looks at the old primary, for at most a quarter of the time left (a dead one must
/// not eat the promotion's time). `Err` when promoting would be unsafe.
async fn old_primary(job: &Job<'_>, node: &Node, to: &Node) -> Result<Old, String> {
    let server = Server::new(job.dsn, node)?;
    let session = match server.connect_by(job.quarter_of_the_time_left(), job.until).await {
        Ok(session) => session,
        Err(e @ (Unreachable::Refused(_) | Unreachable::TimedOut(_))) => return Ok(Old::Silent(e.describe())),
        Err(e) if e.cannot_connect_now() => return Ok(Old::Silent(e.describe())),
        Err(e) => {
            return Err(format!(
                "{} answered but gave no session ({}): Ward cannot tell how far its WAL goes, so {} was not promoted",
                node.name,
                e.describe(),
                to.name
            ))
        }
    };
    let unreadable = |e: String| format!("could not read {}'s WAL position ({e}), so {} was not promoted", node.name, to.name);
    let row = session.one("SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')", &[]).await.map_err(unreadable)?;
    if session.get::<bool>(&row, 0).map_err(unreadable)? {
        return Ok(Old::Standby);
    }
    if session.get::<String>(&row, 1).map_err(unreadable)? != "on" {
        return Err(format!(
            "{} answers and still accepts writes: promoting {} now would make two writable primaries. Fence {} first",
            node.name, to.name, node.name
        ));
    }
    let text = session.text("SELECT pg_current_wal_lsn()::text").await.map_err(unreadable)?;
    Lsn::parse(&text).map(Old::Fenced).ok_or_else(|| unreadable(format!("it said \"{text}\"")))
}

/// Polls `to`'s replay position until it reaches `goal`, keeping time for the promotion.
async fn wait_for_replay(job: &Job<'_>, t: &Session, to: &str, from: &str, goal: Lsn) -> Result<Lsn, String> {
    let left = job.until.saturating_duration_since(Instant::now());
    let give_up = Instant::now() + left.saturating_sub(PROMOTE_RESERVE_MAX.min(left / 2));
    loop {
        let text = t.text("SELECT coalesce(pg_last_wal_replay_lsn()::text, '0/0')").await?;
        let replayed = Lsn::parse(&text).unwrap_or(Lsn(0));
        if replayed >= goal {
            return Ok(replayed);
        }
        if Instant::now() + REPLAY_POLL >= give_up {
            return Err(format!(
                "{to} had replayed {replayed} of {goal} from {from}; promoting it would lose writes, so it was not promoted"
            ));
        }
        tokio::time::sleep(REPLAY_POLL).await;
    }
}

/// Prepares every other candidate; sentences for those that could not be, in `notes`.
async fn repoint_others(
    job: &Job<'_>,
    service: &Service,
    from: Option<&Node>,
    to: &Node,
    target: &Server,
    t: &Session,
    notes: &mut Vec<String>,
) -> Vec<repoint::Repointed> {
    let mut repointed = Vec::new();
    for &id in &service.candidates {
        let node = job.snapshot.node(id);
        if node.name == to.name || from.is_some_and(|f| f.name == node.name) {
            continue;
        }
        match repoint::prepare(job, node, target, t).await {
            Ok(r) => repointed.push(r),
            Err(why) => notes.push(why),
        }
    }
    repointed
}

/// The primary's timeline (from its current WAL file name) and WAL position.
async fn position(t: &Session) -> Result<(u32, Lsn), String> {
    let row = t.one("SELECT pg_current_wal_lsn()::text, pg_walfile_name(pg_current_wal_lsn())", &[]).await?;
    let (lsn, file): (String, String) = (t.get(&row, 0)?, t.get(&row, 1)?);
    let timeline = file.get(..8).and_then(|hex| u32::from_str_radix(hex, 16).ok());
    match (timeline, Lsn::parse(&lsn)) {
        (Some(timeline), Some(lsn)) => Ok((timeline, lsn)),
        _ => Err(format!("{} reported an unreadable WAL position ({lsn}, {file})", t.node())),
    }
}

/// After clearing a fence's setting: a sentence if new sessions still see the new
/// primary read-only (set in its configuration files, not by Ward), checked for up
/// to `READ_ONLY_CHECK_MAX` (the postmaster applies a reload asynchronously).
async fn still_read_only(target: &Server, until: Instant) -> Option<String> {
    let until = until.min(Instant::now() + READ_ONLY_CHECK_MAX);
    loop {
        let setting = match target.connect(until).await {
            Ok(session) => session.text("SHOW default_transaction_read_only").await,
            Err(e) => Err(e.describe()),
        };
        match setting {
            Ok(setting) if setting == "off" => return None,
            _ if Instant::now() + REPLAY_POLL < until => tokio::time::sleep(REPLAY_POLL).await,
            Ok(_) => {
                return Some(format!(
                    "but {} is read-only for new sessions: default_transaction_read_only is on in its configuration files; \
                     turn it off there and reload",
                    target.node
                ))
            }
            Err(e) => return Some(format!("but whether {} accepts writes could not be checked: {e}", target.node)),
        }
    }
}
