//! Checks a scenario's expectations against its two runs, one sentence each.
//!
//! `beats_baseline = [...]` is defined as: for every listed metric Ward is no worse
//! than the naive baseline, and on at least one of them it is strictly better.
//! "Better" means higher availability, and fewer moves, outage, split-brain time
//! or flaps. Availability is compared with a tolerance of 1e-6.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use ward_core::action::ActionKind;
use ward_core::inventory::ServiceKind;
use ward_core::journal::{JournalEvent, JournalRecord};
use ward_core::Mode;

use super::{outcome_name, CheckKind, CheckSpec, Expect, Metric, Window};
use crate::clock::label;
use crate::metrics::Metrics;
use crate::runner::RunOutput;
use crate::scenario::RawBounds;

#[derive(Clone, Debug, Serialize)]
pub struct ExpectResult {
    pub name: String,
    pub passed: bool,
    pub sentence: String,
}

pub struct RunView<'a> {
    pub out: &'a RunOutput,
    pub metrics: &'a Metrics,
}

const EPSILON: f64 = 1e-6;

pub fn evaluate(expect: &Expect, start_clock_ms: u64, ward: &RunView, naive: &RunView) -> Vec<ExpectResult> {
    let mut results = Vec::new();
    for (name, run) in [("ward", ward), ("naive", naive)] {
        results.push(match &run.out.failure {
            None => ExpectResult {
                name: format!("{name}.completed"),
                passed: true,
                sentence: format!("{name}: the run completed with every invariant holding"),
            },
            Some(f) => ExpectResult { name: format!("{name}.completed"), passed: false, sentence: format!("{name}: the run failed: {f}") },
        });
    }
    // An approval the file scripts that never met its request tests nothing: the
    // scenario says so instead of passing (the naive baseline asks for none).
    if !ward.out.unmatched.is_empty() {
        let lines: Vec<String> = ward.out.unmatched.iter().map(|(t, s)| format!("at {}: {s}", label(*t, start_clock_ms))).collect();
        results.push(ExpectResult {
            name: "ward.operator_commands".into(),
            passed: false,
            sentence: format!("ward: {}; fix `matching` to text of the approval's summary or reasons", lines.join("; ")),
        });
    }
    bounds(&mut results, "ward", &expect.ward, ward.metrics);
    bounds(&mut results, "naive", &expect.naive, naive.metrics);
    if !expect.beats_baseline.is_empty() {
        results.push(beats_baseline(&expect.beats_baseline, ward.metrics, naive.metrics));
    }
    for check in &expect.checks {
        let run = if check.mode == Mode::Guarded { ward } else { naive };
        results.push(evaluate_check(check, start_clock_ms, run.out));
    }
    results
}

fn bounds(results: &mut Vec<ExpectResult>, who: &str, b: &RawBounds, m: &Metrics) {
    let mut push = |field: &str, passed: bool, sentence: String| {
        results.push(ExpectResult { name: format!("{who}.{field}"), passed, sentence: format!("{who}: {sentence}") });
    };
    if let Some(min) = b.availability_min {
        push("availability_min", m.availability + EPSILON >= min, format!("availability {:.4} (want >= {min})", m.availability));
    }
    if let Some(max) = b.availability_max {
        push("availability_max", m.availability <= max + EPSILON, format!("availability {:.4} (want <= {max})", m.availability));
    }
    let mut int = |field: &str, value: u64, bound: Option<u64>, at_most: bool, what: &str| {
        if let Some(bound) = bound {
            let passed = if at_most { value <= bound } else { value >= bound };
            push(field, passed, format!("{what} {value} (want {} {bound})", if at_most { "<=" } else { ">=" }));
        }
    };
    int("split_brain_ms_max", m.split_brain_ms, b.split_brain_ms_max, true, "split-brain ms");
    int("outage_ms_max", m.outage_ms, b.outage_ms_max, true, "outage ms");
    int("moves_max", m.moves, b.moves_max, true, "moves");
    int("moves_min", m.moves, b.moves_min, false, "moves");
    int("flaps_max", m.flaps, b.flaps_max, true, "flaps");
    int("refused_min", m.refused, b.refused_min, false, "refused decisions");
    int("approval_gated_min", m.approval_gated, b.approval_gated_min, false, "approval-gated decisions");
    int("alerts_min", m.alerts_raised, b.alerts_min, false, "alerts raised");
    int("pages_min", m.pages_sent, b.pages_min, false, "pages sent");
    int("alerts_max", m.alerts_raised, b.alerts_max, true, "alerts raised");
    int("pages_max", m.pages_sent, b.pages_max, true, "pages sent");
    int("writerless_ms_max", m.writerless_ms_max, b.writerless_ms_max, true, "longest stretch without a writer (ms)");
    int("acked_writes_lost_max", m.acked_writes_lost, b.acked_writes_lost_max, true, "acknowledged writes lost");
    int("acked_writes_lost_min", m.acked_writes_lost, b.acked_writes_lost_min, false, "acknowledged writes lost");
}

/// (Ward's value, naive's value, Ward is no worse, Ward is strictly better).
fn compare(metric: Metric, w: &Metrics, n: &Metrics) -> (String, String, bool, bool) {
    let lower = |a: u64, b: u64| (a.to_string(), b.to_string(), a <= b, a < b);
    match metric {
        Metric::Availability => (
            format!("{:.4}", w.availability),
            format!("{:.4}", n.availability),
            w.availability + EPSILON >= n.availability,
            w.availability > n.availability + EPSILON,
        ),
        Metric::Moves => lower(w.moves, n.moves),
        Metric::Outage => lower(w.outage_ms, n.outage_ms),
        Metric::SplitBrain => lower(w.split_brain_ms, n.split_brain_ms),
        Metric::Flaps => lower(w.flaps, n.flaps),
        Metric::AckedWritesLost => lower(w.acked_writes_lost, n.acked_writes_lost),
    }
}

fn beats_baseline(metrics: &[Metric], w: &Metrics, n: &Metrics) -> ExpectResult {
    let mut parts = Vec::new();
    let (mut all_no_worse, mut any_better) = (true, false);
    for &m in metrics {
        let (wv, nv, no_worse, better) = compare(m, w, n);
        all_no_worse &= no_worse;
        any_better |= better;
        parts.push(format!(
            "{} {wv} vs {nv}{}",
            m.name(),
            if better {
                " (better)"
            } else if no_worse {
                " (equal)"
            } else {
                " (WORSE)"
            }
        ));
    }
    let passed = all_no_worse && any_better;
    let verdict = if passed {
        "Ward beats the naive baseline"
    } else if all_no_worse {
        "Ward only ties the naive baseline"
    } else {
        "Ward is worse than the naive baseline"
    };
    ExpectResult { name: "beats_baseline".into(), passed, sentence: format!("{verdict}: {}", parts.join(", ")) }
}

fn window_text(w: &Window, start: u64) -> String {
    match w.before_ms {
        Some(b) => format!("between {} and {}", label(w.after_ms, start), label(b, start)),
        None if w.after_ms > 0 => format!("after {}", label(w.after_ms, start)),
        None => "during the run".into(),
    }
}

/// Journal records with the virtual time they were emitted at.
fn journal(out: &RunOutput) -> impl Iterator<Item = (u64, &JournalRecord)> {
    out.controller.journal_virt_ms.iter().copied().zip(out.controller.journal.iter())
}

/// The world's placement of `service` at `at_ms` (the last change at or before it).
fn holders_at(out: &RunOutput, service: &str, at_ms: u64) -> Vec<String> {
    out.world.placement_log.iter().rev().find(|c| c.service == service && c.at_ms <= at_ms).map(|c| c.holders.clone()).unwrap_or_default()
}

fn evaluate_check(check: &CheckSpec, start: u64, out: &RunOutput) -> ExpectResult {
    let name = format!("check[{}]", check.index);
    let (passed, mut sentence) = check_kind(&check.kind, start, out);
    if let Some(note) = &check.note {
        sentence = format!("{note}: {sentence}");
    }
    let who = if check.mode == Mode::Guarded { "ward" } else { "naive" };
    ExpectResult { name, passed, sentence: format!("{who}: {sentence}") }
}

fn check_kind(kind: &CheckKind, start: u64, out: &RunOutput) -> (bool, String) {
    match kind {
        CheckKind::AlertRaised { cause_prefix, severity_min, window } => {
            // The cause fired (raised, or repeated on an alert already open) in the window.
            let hit = journal(out)
                .filter_map(|(t, r)| match &r.event {
                    JournalEvent::Alert { cause, severity, state, .. }
                        if cause.starts_with(cause_prefix.as_str())
                            && *state != ward_core::journal::AlertChange::Resolved
                            && severity_min.is_none_or(|m| *severity >= m) =>
                    {
                        Some(t)
                    }
                    _ => None,
                })
                .find(|t| window.contains(*t));
            let hit = hit.as_ref();
            match hit {
                Some(t) => (true, format!("alert `{cause_prefix}…` raised at {}", label(*t, start))),
                None => (false, format!("no alert `{cause_prefix}…` raised {}", window_text(window, start))),
            }
        }
        CheckKind::AlertsDistinct { cause_prefix, other_prefix } => {
            let ids = |p: &str| -> BTreeSet<u64> {
                journal(out)
                    .filter_map(|(_, r)| match &r.event {
                        JournalEvent::Alert { alert, cause, .. } if cause.starts_with(p) => Some(alert.0),
                        _ => None,
                    })
                    .collect()
            };
            let (a, b) = (ids(cause_prefix), ids(other_prefix));
            let shared = a.intersection(&b).count();
            (
                !a.is_empty() && shared == 0,
                format!("`{cause_prefix}…` alerts ({}) and `{other_prefix}…` alerts ({}) share {shared} alert groups", a.len(), b.len()),
            )
        }
        CheckKind::Escalated { cause_prefix } => {
            let n = out.notifications.iter().filter(|(_, n)| n.cause.starts_with(cause_prefix.as_str()) && n.escalation > 0).count();
            (n > 0, format!("{n} escalated notifications for `{cause_prefix}…`"))
        }
        CheckKind::Decision { outcome, action, contains, window, min, max } => {
            let mut last: BTreeMap<String, String> = BTreeMap::new();
            let mut count = 0u64;
            for (t, r) in journal(out) {
                let JournalEvent::Decision { action: a, verdict, summary, .. } = &r.event else {
                    continue;
                };
                let key = a.identity();
                let o = format!("{:?}", verdict.outcome);
                let new_episode = last.insert(key, o) != Some(format!("{:?}", verdict.outcome));
                let text = format!("{summary} {} {}", a.detail(), verdict.reasons().join(" "));
                if new_episode
                    && window.contains(t)
                    && outcome.is_none_or(|x| x == verdict.outcome)
                    && action.is_none_or(|x| x == a.kind())
                    && contains.as_ref().is_none_or(|x| text.contains(x.as_str()))
                {
                    count += 1;
                }
            }
            let passed = count >= *min && max.is_none_or(|m| count <= m);
            let what = format!(
                "{}{}{}",
                outcome.map_or(String::new(), |o| format!("{} ", outcome_name(o))),
                action.map_or(String::new(), |a| format!("{a} ")),
                contains.as_deref().map_or(String::new(), |c| format!("mentioning `{c}` "))
            );
            (
                passed,
                format!(
                    "{count} {what}decisions {} (want {min}..{})",
                    window_text(window, start),
                    max.map_or("".into(), |m| m.to_string())
                ),
            )
        }
        CheckKind::Moves { window, min, max } => {
            let n = out.world.moves.iter().filter(|(t, _, _)| window.contains(*t)).count() as u64;
            let passed = min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
            (
                passed,
                format!(
                    "{n} moves applied {} (want {}..{})",
                    window_text(window, start),
                    min.unwrap_or(0),
                    max.map_or("".into(), |m| m.to_string())
                ),
            )
        }
        CheckKind::NodeAdded { service, node, window, max, not_before } => {
            let mut before: Option<&Vec<String>> = None;
            let mut adds = Vec::new();
            for c in out.world.placement_log.iter().filter(|c| &c.service == service) {
                if before.is_some_and(|b| !b.contains(node)) && c.holders.contains(node) && window.contains(c.at_ms) {
                    adds.push(c.at_ms);
                }
                before = Some(&c.holders);
            }
            let early = adds.iter().filter(|t| not_before.is_some_and(|nb| **t < nb)).count();
            let passed = max.is_none_or(|m| adds.len() as u64 <= m) && early == 0;
            let times: Vec<String> = adds.iter().map(|t| label(*t, start)).collect();
            (
                passed,
                format!(
                    "{node} added to {service} {} times {} [{}]{}",
                    adds.len(),
                    window_text(window, start),
                    times.join(", "),
                    not_before.map_or(String::new(), |nb| format!("; {early} before {}", label(nb, start)))
                ),
            )
        }
        CheckKind::JobEnded { end, action, min } => {
            let kinds: BTreeMap<u64, ActionKind> = journal(out)
                .filter_map(|(_, r)| match &r.event {
                    JournalEvent::JobIntent { job, action, .. } => Some((job.0, action.kind())),
                    _ => None,
                })
                .collect();
            let n = journal(out)
                .filter(|(_, r)| match &r.event {
                    JournalEvent::JobFinished { job, end: e, .. } => {
                        format!("{e:?}").to_lowercase().replace("rolledback", "rolled_back") == *end
                            && action.is_none_or(|a| kinds.get(&job.0) == Some(&a))
                    }
                    _ => false,
                })
                .count() as u64;
            (n >= *min, format!("{n} {}jobs ended {end} (want >= {min})", action.map_or(String::new(), |a| format!("{a} "))))
        }
        CheckKind::JobsTerminalOnce => {
            let mut started = BTreeSet::new();
            let mut finished: BTreeMap<u64, u32> = BTreeMap::new();
            for (_, r) in journal(out) {
                match &r.event {
                    JournalEvent::JobIntent { job, .. } => {
                        started.insert(job.0);
                    }
                    JournalEvent::JobFinished { job, .. } => *finished.entry(job.0).or_insert(0) += 1,
                    _ => {}
                }
            }
            let unfinished = started.iter().filter(|j| !finished.contains_key(j)).count();
            let twice = finished.values().filter(|c| **c > 1).count();
            (unfinished == 0 && twice == 0, format!("{} jobs: {unfinished} never finished, {twice} finished more than once", started.len()))
        }
        CheckKind::NotificationsDelivered => {
            let queued: BTreeSet<u64> = journal(out)
                .filter_map(|(_, r)| match &r.event {
                    JournalEvent::NotificationQueued { notification } => Some(notification.id.0),
                    _ => None,
                })
                .collect();
            let lost = queued.iter().filter(|id| !out.delivered.contains(id)).count();
            (lost == 0, format!("{} notifications queued, {lost} never delivered", queued.len()))
        }
        CheckKind::Placement { service, at_ms, holders } => {
            let actual = holders_at(out, service, *at_ms);
            let (a, w): (BTreeSet<_>, BTreeSet<_>) = (actual.iter().collect(), holders.iter().collect());
            (a == w, format!("{service} at {} is held by [{}] (want [{}])", label(*at_ms, start), actual.join(", "), holders.join(", ")))
        }
        CheckKind::NoPromotionIntoSite { site, window } => {
            let truth = &out.world.truth;
            let in_site = |node: &String| truth.node_id(node).is_some_and(|n| truth.site(truth.node(n).site).name == *site);
            let primaries: BTreeSet<&str> =
                out.world.services.iter().filter(|s| s.kind == ServiceKind::Primary).map(|s| s.name.as_str()).collect();
            let hit = out.world.placement_log.iter().find(|c| {
                c.at_ms > 0 && window.contains(c.at_ms) && primaries.contains(c.service.as_str()) && c.holders.iter().any(in_site)
            });
            match hit {
                Some(c) => (false, format!("{} was promoted into site {site} at {}", c.service, label(c.at_ms, start))),
                None => (true, format!("no primary was promoted into site {site} {}", window_text(window, start))),
            }
        }
        CheckKind::HoldersMin { service, at_ms, min } => {
            let actual = holders_at(out, service, *at_ms).len() as u64;
            (actual >= *min, format!("{service} at {} has {actual} holder(s) (want at least {min})", label(*at_ms, start)))
        }
        CheckKind::Order { first, then } => {
            let at = |text: &str| {
                journal(out).find(|(_, r)| ward_core::journal::sentence(&r.event).is_some_and(|s| s.contains(text))).map(|(t, _)| t)
            };
            match (at(first), at(then)) {
                (Some(a), Some(b)) if a <= b => {
                    (true, format!("\"{first}\" at {} before \"{then}\" at {}", label(a, start), label(b, start)))
                }
                (Some(a), Some(b)) => (false, format!("\"{first}\" at {} came after \"{then}\" at {}", label(a, start), label(b, start))),
                (None, _) => (false, format!("nothing journaled contains \"{first}\"")),
                (_, None) => (false, format!("nothing journaled contains \"{then}\"")),
            }
        }
        CheckKind::AlertJournaled { cause_prefix, window, min, max } => {
            let n = journal(out)
                .filter(|(t, r)| {
                    matches!(&r.event, JournalEvent::Alert { cause, .. } if cause.starts_with(cause_prefix.as_str())) && window.contains(*t)
                })
                .count() as u64;
            (
                n >= *min && max.is_none_or(|m| n <= m),
                format!(
                    "{n} alert records for `{cause_prefix}…` journaled {} (want {min}..{})",
                    window_text(window, start),
                    max.map_or("".into(), |m| m.to_string())
                ),
            )
        }
        CheckKind::TimeAnomaly { window } => {
            let hit = journal(out).find(|(t, r)| matches!(r.event, JournalEvent::TimeAnomaly { .. }) && window.contains(*t));
            match hit {
                Some((t, _)) => (true, format!("time anomaly journaled at {}", label(t, start))),
                None => (false, format!("no time anomaly journaled {}", window_text(window, start))),
            }
        }
    }
}
