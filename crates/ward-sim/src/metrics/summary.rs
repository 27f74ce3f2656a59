//! The numbers a run is judged by, per service and overall.
//!
//! Definitions (used by expectations and the baseline comparison):
//! - availability: time-weighted share of client traffic that reached a working
//!   node (dns: weighted by targets; primary: split brain counts as down; sync: share
//!   of ready candidates whose tree is intact), averaged over services.
//! - outage_ms: time during which any service was below full availability.
//! - recovery_ms_max: the longest continuous stretch below full availability.
//! - moves: move steps (vip, dns targets, promote) applied in the world.
//! - flaps: times a node was added back to a placement and later removed again.
//! - refused / approval_gated: decisions whose verdict was Refuse / NeedsApproval,
//!   counted once per episode (a decision repeated every tick counts once).
//! - ttd: fault -> first journal decision, alert or health record naming a node
//!   the fault touched.
//! - split_brain_ms: time with two writable primaries or two VIP holders.
//! - writerless_ms_max: the longest stretch a primary service had no working
//!   writable member; stranded_ms_max: the longest a working primary stayed
//!   fenced with no other writer (a fence whose promotion did not follow).
//! - acked_writes_lost: writes an old primary had acknowledged that the node
//!   promoted in its place had not received, summed over promotions.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha2::{Digest, Sha256};
use ward_core::action::Outcome;
use ward_core::journal::{JournalEvent, JournalRecord, Severity};

use crate::runner::RunOutput;

#[derive(Clone, Debug, Serialize)]
pub struct ServiceMetrics {
    pub name: String,
    pub availability: f64,
    pub outage_ms: u64,
    pub moves: u64,
    pub flaps: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    pub availability: f64,
    pub outage_ms: u64,
    pub recovery_ms_max: u64,
    pub moves: u64,
    pub flaps: u64,
    pub refused: u64,
    pub approval_gated: u64,
    pub ttd_ms_mean: Option<u64>,
    pub ttd_ms_max: Option<u64>,
    pub faults_undetected: u64,
    pub split_brain_ms: u64,
    pub writerless_ms_max: u64,
    pub stranded_ms_max: u64,
    pub alerts_raised: u64,
    pub pages_sent: u64,
    pub jobs: u64,
    pub services: Vec<ServiceMetrics>,
    pub acked_writes_lost: u64,
}

/// SHA-256 over the journal, one serde_json record per line.
pub fn journal_sha256(journal: &[JournalRecord]) -> String {
    let mut hasher = Sha256::new();
    for record in journal {
        hasher.update(serde_json::to_vec(record).expect("journal records serialize"));
        hasher.update(b"\n");
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn summarize(out: &RunOutput, duration_ms: u64) -> Metrics {
    let r = &out.recorder;
    let duration = duration_ms.max(1) as f64;
    let flaps_by_service = flaps(out);
    let services: Vec<ServiceMetrics> = r
        .services
        .iter()
        .enumerate()
        .map(|(i, name)| ServiceMetrics {
            name: name.clone(),
            availability: r.available_ms[i] / duration,
            outage_ms: r.degraded_ms[i],
            moves: out.world.moves.iter().filter(|(_, s, _)| s == name).count() as u64,
            flaps: flaps_by_service.get(name).copied().unwrap_or(0),
        })
        .collect();
    let availability = if services.is_empty() { 1.0 } else { services.iter().map(|s| s.availability).sum::<f64>() / services.len() as f64 };
    let (refused, approval_gated) = verdict_episodes(&out.controller.journal);
    let (ttd_mean, ttd_max, undetected) = time_to_detect(out);
    let journal = &out.controller.journal;
    let alerts: BTreeSet<u64> = journal
        .iter()
        .filter_map(|j| match &j.event {
            JournalEvent::Alert { alert, .. } => Some(alert.0),
            _ => None,
        })
        .collect();
    let jobs = journal.iter().filter(|j| matches!(j.event, JournalEvent::JobFinished { .. })).count() as u64;
    Metrics {
        availability,
        outage_ms: r.any_degraded_ms,
        recovery_ms_max: recovery_max(&r.overall_log, r.last_ms),
        moves: out.world.moves.len() as u64,
        flaps: services.iter().map(|s| s.flaps).sum(),
        refused,
        approval_gated,
        ttd_ms_mean: ttd_mean,
        ttd_ms_max: ttd_max,
        faults_undetected: undetected,
        split_brain_ms: r.split_brain_ms,
        writerless_ms_max: r.writerless_max_ms,
        stranded_ms_max: r.stranded_max_ms,
        alerts_raised: alerts.len() as u64,
        pages_sent: out.notifications.iter().filter(|(_, n)| n.severity == Severity::Page && out.delivered.contains(&n.id.0)).count()
            as u64,
        jobs,
        services,
        acked_writes_lost: out.world.writes.losses.iter().map(|l| l.lost).sum(),
    }
}

/// Per service: removals of a node that had been added back after the start.
fn flaps(out: &RunOutput) -> BTreeMap<String, u64> {
    let mut result = BTreeMap::new();
    let mut state: BTreeMap<(String, String), bool> = BTreeMap::new(); // (service, node) -> re-added
    let mut current: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for change in &out.world.placement_log {
        let before = current.insert(change.service.clone(), change.holders.clone());
        let Some(before) = before else { continue };
        for n in change.holders.iter().filter(|n| !before.contains(n)) {
            state.insert((change.service.clone(), n.clone()), true);
        }
        for n in before.iter().filter(|n| !change.holders.contains(n)) {
            if state.remove(&(change.service.clone(), n.clone())).is_some() {
                *result.entry(change.service.clone()).or_insert(0) += 1;
            }
        }
    }
    result
}

fn verdict_episodes(journal: &[JournalRecord]) -> (u64, u64) {
    let mut last: BTreeMap<String, Outcome> = BTreeMap::new();
    let (mut refused, mut gated) = (0, 0);
    for j in journal {
        if let JournalEvent::Decision { action, verdict, .. } = &j.event {
            let key = action.identity();
            if last.insert(key, verdict.outcome) != Some(verdict.outcome) {
                match verdict.outcome {
                    Outcome::Refuse => refused += 1,
                    Outcome::NeedsApproval => gated += 1,
                    Outcome::Allow => {}
                }
            }
        }
    }
    (refused, gated)
}

/// Whether a journal record is about one of these nodes.
pub fn mentions(event: &JournalEvent, nodes: &[String]) -> bool {
    let text = match event {
        JournalEvent::Decision { action, summary, cause, .. } => {
            format!("{:?} {:?} {} {}", action.from_nodes(), action.to_nodes(), summary, cause)
        }
        JournalEvent::Alert { cause, sentence, .. } => format!("{cause} {sentence}"),
        JournalEvent::Health { node, .. } => node.clone(),
        _ => return false,
    };
    nodes.iter().any(|n| text.contains(n.as_str()))
}

fn time_to_detect(out: &RunOutput) -> (Option<u64>, Option<u64>, u64) {
    let journal = &out.controller.journal;
    let at = &out.controller.journal_virt_ms;
    let mut found = Vec::new();
    let mut undetected = 0;
    for (t, nodes, _) in out.faults.iter().filter(|(_, n, _)| !n.is_empty()) {
        let start = at.partition_point(|a| a < t);
        match (start..journal.len()).find(|&i| mentions(&journal[i].event, nodes)) {
            Some(i) => found.push(at[i] - t),
            None => undetected += 1,
        }
    }
    let mean = (!found.is_empty()).then(|| found.iter().sum::<u64>() / found.len() as u64);
    (mean, found.iter().max().copied(), undetected)
}

fn recovery_max(log: &[(u64, f64)], end_ms: u64) -> u64 {
    let mut longest = 0;
    let mut down_since: Option<u64> = None;
    for &(t, a) in log {
        match (a < 1.0, down_since) {
            (true, None) => down_since = Some(t),
            (false, Some(s)) => {
                longest = longest.max(t - s);
                down_since = None;
            }
            _ => {}
        }
    }
    if let Some(s) = down_since {
        longest = longest.max(end_ms.saturating_sub(s));
    }
    longest
}
