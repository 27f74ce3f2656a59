//! Replication health from `ProbeDetail::Replication` observations (seed 000: replication
//! stopped for hours and nothing said so; seed 003: broken replication filled the disk).

use super::{ReplicationEvidence, ReplicationHealth};
use crate::observation::ReplicationStatus;
use crate::time::TimeMs;

/// The newest replication report one observer delivered for one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReplicationReport {
    pub at_ms: TimeMs,
    pub status: ReplicationStatus,
}

/// Stores `status` in `slot` unless the slot already holds a newer report.
pub(crate) fn record(slot: &mut Option<ReplicationReport>, at_ms: TimeMs, status: &ReplicationStatus) {
    match slot {
        Some(existing) if existing.at_ms > at_ms => {}
        Some(existing) => {
            existing.at_ms = at_ms;
            existing.status.clone_from(status);
        }
        None => *slot = Some(ReplicationReport { at_ms, status: status.clone() }),
    }
}

/// The freshest report across observers (ties: the first, i.e. lowest observer id),
/// whether or not it is stale.
pub(crate) fn freshest<'a>(reports: impl IntoIterator<Item = &'a Option<ReplicationReport>>) -> Option<&'a ReplicationReport> {
    let mut best: Option<&ReplicationReport> = None;
    for report in reports.into_iter().flatten() {
        if best.is_none_or(|b| report.at_ms > b.at_ms) {
            best = Some(report);
        }
    }
    best
}

/// Classifies a report. Not running: Broken with the server's error verbatim (or
/// "replication stopped" when it gave none); running with lag above `lag_max_ms`:
/// Lagging; running with a known lag within bounds: Healthy. Running without a lag
/// figure cannot be shown healthy and is Unknown.
pub(crate) fn classify(status: &ReplicationStatus, lag_max_ms: u64) -> ReplicationHealth {
    if !status.running {
        let error = match &status.last_error {
            Some(e) if !e.is_empty() => e.clone(),
            _ => "replication stopped".to_string(),
        };
        return ReplicationHealth::Broken { error };
    }
    match status.lag_ms {
        Some(lag_ms) if lag_ms > lag_max_ms => ReplicationHealth::Lagging { lag_ms, lag_max_ms },
        Some(lag_ms) => ReplicationHealth::Healthy { lag_ms },
        None => ReplicationHealth::Unknown,
    }
}

/// Brings a node's evidence up to date with its freshest report (None: no report
/// since `cutoff`). Evidence from before `cutoff` (a time anomaly) is forgotten.
pub(crate) fn update_evidence(evidence: &mut ReplicationEvidence, freshest: Option<&ReplicationReport>, lag_max_ms: u64, cutoff: TimeMs) {
    if evidence.at_ms.is_some_and(|at| at < cutoff) {
        evidence.at_ms = None;
        evidence.lag_unknown = false;
    }
    if evidence.healthy_at_ms.is_some_and(|at| at < cutoff) {
        evidence.healthy_at_ms = None;
    }
    let Some(report) = freshest else { return };
    evidence.at_ms = Some(report.at_ms);
    evidence.lag_unknown = report.status.running && report.status.lag_ms.is_none();
    if classify(&report.status, lag_max_ms).is_healthy() {
        evidence.healthy_at_ms = Some(evidence.healthy_at_ms.map_or(report.at_ms, |at| at.max(report.at_ms)));
    }
    // The latest figure, not the largest: a rebuilt standby starts again from less.
    if report.status.received_position.is_some() {
        evidence.received_position = report.status.received_position;
    }
}

/// Whether a change from `from` to `to` is worth an event: the state changed, or a
/// broken replica reports a different error. Lag moving within a state is not.
pub(crate) fn is_notable_change(from: Option<&ReplicationHealth>, to: &ReplicationHealth) -> bool {
    match (from, to) {
        (None, _) => true,
        (Some(ReplicationHealth::Broken { error: a }), ReplicationHealth::Broken { error: b }) => a != b,
        (Some(a), b) => std::mem::discriminant(a) != std::mem::discriminant(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(running: bool, lag_ms: Option<u64>, last_error: Option<&str>) -> ReplicationStatus {
        ReplicationStatus {
            running,
            lag_ms,
            last_error: last_error.map(str::to_string),
            replayed_position: 42,
            retained_bytes: 0,
            received_position: None,
        }
    }

    const SEED_000_ERROR: &str =
        "The slave I/O thread stops because a fatal error is encountered when it try to get the value of SERVER_ID variable from master";

    #[test]
    fn stopped_replication_keeps_the_error_verbatim() {
        assert_eq!(
            classify(&status(false, None, Some(SEED_000_ERROR)), 1_000),
            ReplicationHealth::Broken { error: SEED_000_ERROR.to_string() }
        );
        assert_eq!(classify(&status(false, Some(0), None), 1_000), ReplicationHealth::Broken { error: "replication stopped".into() });
        assert_eq!(classify(&status(false, Some(0), Some("")), 1_000), ReplicationHealth::Broken { error: "replication stopped".into() });
    }

    #[test]
    fn lag_thresholds() {
        assert_eq!(classify(&status(true, Some(1_000), None), 1_000), ReplicationHealth::Healthy { lag_ms: 1_000 });
        assert_eq!(classify(&status(true, Some(1_001), None), 1_000), ReplicationHealth::Lagging { lag_ms: 1_001, lag_max_ms: 1_000 });
        assert_eq!(classify(&status(true, None, None), 1_000), ReplicationHealth::Unknown);
    }

    #[test]
    fn record_keeps_newest_and_freshest_picks_latest() {
        let mut a = None;
        let mut b = None;
        record(&mut a, 10, &status(true, Some(1), None));
        record(&mut a, 5, &status(false, None, None));
        assert!(a.as_ref().unwrap().status.running);
        record(&mut b, 20, &status(false, None, Some("x")));
        let slots = [a, b];
        assert_eq!(freshest(&slots).unwrap().at_ms, 20);
        let empty: [Option<ReplicationReport>; 2] = [None, None];
        assert!(freshest(&empty).is_none());
    }

    #[test]
    fn notable_changes() {
        let healthy = ReplicationHealth::Healthy { lag_ms: 1 };
        assert!(is_notable_change(None, &healthy));
        assert!(!is_notable_change(Some(&ReplicationHealth::Healthy { lag_ms: 5 }), &healthy));
        assert!(is_notable_change(Some(&ReplicationHealth::Unknown), &healthy));
        let broken = |e: &str| ReplicationHealth::Broken { error: e.into() };
        assert!(!is_notable_change(Some(&broken("a")), &broken("a")));
        assert!(is_notable_change(Some(&broken("a")), &broken("b")));
    }
}
