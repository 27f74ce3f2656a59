//! Runs a scenario in both modes and reports: metrics side by side, expectations,
//! journal hashes. Plain text for people, JSON (`serde`) for machines.

use serde::Serialize;
use ward_core::time::human_duration;
use ward_core::Mode;

use crate::expect::{evaluate, ExpectResult, RunView};
use crate::metrics::{journal_sha256, summarize, Metrics};
use crate::runner::{self, RunOutput};
use crate::scenario::Scenario;

#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub mode: String,
    pub events: u64,
    pub journal_records: usize,
    pub journal_sha256: String,
    pub failure: Option<String>,
    pub metrics: Metrics,
}

#[derive(Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub file: String,
    pub seed: u64,
    pub ward: RunSummary,
    pub naive: RunSummary,
    pub expectations: Vec<ExpectResult>,
    pub passed: bool,
    /// The Guarded run's timeline, in Markdown.
    #[serde(skip)]
    pub timeline_markdown: String,
    /// The baseline run's timeline, for comparison.
    #[serde(skip)]
    pub naive_timeline_markdown: String,
}

fn summary(out: &RunOutput, duration_ms: u64) -> RunSummary {
    RunSummary {
        mode: match out.mode {
            Mode::Guarded => "ward".into(),
            Mode::Naive => "naive".into(),
        },
        events: out.events,
        journal_records: out.controller.journal.len(),
        journal_sha256: journal_sha256(&out.controller.journal),
        failure: out.failure.clone(),
        metrics: summarize(out, duration_ms),
    }
}

/// Runs the scenario as Ward and as the naive baseline with the same seed.
pub fn run_scenario(scenario: &Scenario, seed: u64) -> Result<ScenarioReport, String> {
    let ward = runner::run(scenario, Mode::Guarded, seed)?;
    let naive = runner::run(scenario, Mode::Naive, seed)?;
    let (ws, ns) = (summary(&ward, scenario.duration_ms), summary(&naive, scenario.duration_ms));
    let expectations = evaluate(
        &scenario.expect,
        scenario.start_clock_ms,
        &RunView { out: &ward, metrics: &ws.metrics },
        &RunView { out: &naive, metrics: &ns.metrics },
    );
    let title = format!("{} — Ward timeline (seed {seed})", scenario.name);
    Ok(ScenarioReport {
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        seed,
        passed: expectations.iter().all(|e| e.passed),
        expectations,
        timeline_markdown: ward.timeline.markdown(&title),
        naive_timeline_markdown: naive.timeline.markdown(&format!("{} — naive baseline timeline (seed {seed})", scenario.name)),
        ward: ws,
        naive: ns,
    })
}

/// Per-service rows printed per mode in the text table.
const SERVICE_ROWS_MAX: usize = 5;

fn opt_ms(v: Option<u64>) -> String {
    v.map_or("-".into(), human_duration)
}

impl ScenarioReport {
    /// The side-by-side table and the expectations, as plain text.
    pub fn text(&self) -> String {
        let (w, n) = (&self.ward.metrics, &self.naive.metrics);
        let rows: Vec<(&str, String, String)> = vec![
            ("availability", format!("{:.4}", w.availability), format!("{:.4}", n.availability)),
            ("outage", human_duration(w.outage_ms), human_duration(n.outage_ms)),
            ("time to recover (max)", human_duration(w.recovery_ms_max), human_duration(n.recovery_ms_max)),
            ("moves", w.moves.to_string(), n.moves.to_string()),
            ("flaps", w.flaps.to_string(), n.flaps.to_string()),
            ("refused", w.refused.to_string(), n.refused.to_string()),
            ("approval-gated", w.approval_gated.to_string(), n.approval_gated.to_string()),
            ("time to detect (mean)", opt_ms(w.ttd_ms_mean), opt_ms(n.ttd_ms_mean)),
            ("time to detect (max)", opt_ms(w.ttd_ms_max), opt_ms(n.ttd_ms_max)),
            ("faults undetected", w.faults_undetected.to_string(), n.faults_undetected.to_string()),
            ("split brain", human_duration(w.split_brain_ms), human_duration(n.split_brain_ms)),
            ("longest without writer", human_duration(w.writerless_ms_max), human_duration(n.writerless_ms_max)),
            ("longest fenced, no writer", human_duration(w.stranded_ms_max), human_duration(n.stranded_ms_max)),
            ("acked writes lost", w.acked_writes_lost.to_string(), n.acked_writes_lost.to_string()),
            ("alerts raised", w.alerts_raised.to_string(), n.alerts_raised.to_string()),
            ("pages sent", w.pages_sent.to_string(), n.pages_sent.to_string()),
            ("jobs finished", w.jobs.to_string(), n.jobs.to_string()),
            ("journal records", self.ward.journal_records.to_string(), self.naive.journal_records.to_string()),
            ("journal sha256", self.ward.journal_sha256[..16].to_string(), self.naive.journal_sha256[..16].to_string()),
        ];
        let mut out = format!("== {} ({}) seed {}\n", self.name, self.file, self.seed);
        out.push_str(&format!("  {:<24} {:>16} {:>16}\n", "metric", "ward", "naive"));
        for (name, a, b) in rows {
            out.push_str(&format!("  {name:<24} {a:>16} {b:>16}\n"));
        }
        for (label, s) in [("ward", &w.services), ("naive", &n.services)] {
            // Many services: show the least available few, not a wall of rows.
            let mut shown: Vec<_> = s.iter().collect();
            if shown.len() > SERVICE_ROWS_MAX {
                shown.sort_by(|a, b| a.availability.total_cmp(&b.availability));
                shown.truncate(SERVICE_ROWS_MAX);
            }
            for svc in shown {
                out.push_str(&format!(
                    "  {label:<5} service {:<20} availability {:.4}  outage {:>9}  moves {:>3}  flaps {:>3}\n",
                    svc.name,
                    svc.availability,
                    human_duration(svc.outage_ms),
                    svc.moves,
                    svc.flaps
                ));
            }
        }
        for e in &self.expectations {
            out.push_str(&format!("  [{}] {}: {}\n", if e.passed { "pass" } else { "FAIL" }, e.name, e.sentence));
        }
        if !self.passed {
            out.push_str(&format!("  FAILED — reproduce with --seed {}\n", self.seed));
        }
        out
    }
}
