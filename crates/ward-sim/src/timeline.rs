//! A timeline in the style of the seed reports: `HH:MM what happened`, built from
//! the world's faults and the engine's journal (decisions with their verdict
//! sentences, jobs, alerts, holds, approvals).

use std::collections::BTreeMap;

use serde::Serialize;
use ward_core::engine::Command;
use ward_core::journal::{JournalEvent, JournalRecord};

use crate::clock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    World,
    Operator,
    Ward,
}

#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub at_ms: u64,
    pub source: Source,
    pub text: String,
}

/// Lines kept per run: a timeline longer than this is not read by anyone.
pub const ENTRIES_MAX: usize = 5_000;

#[derive(Clone, Debug, Default)]
pub struct Timeline {
    start_clock_ms: u64,
    pub entries: Vec<Entry>,
    pub omitted: u64,
    /// The last verdict rendered per action, so a decision repeated every tick shows once.
    last_decision: BTreeMap<String, String>,
}

impl Timeline {
    pub fn new(start_clock_ms: u64) -> Timeline {
        Timeline { start_clock_ms, ..Timeline::default() }
    }

    pub fn label(&self, at_ms: u64) -> String {
        clock::label(at_ms, self.start_clock_ms)
    }

    fn push(&mut self, at_ms: u64, source: Source, text: String) {
        if self.entries.len() >= ENTRIES_MAX {
            self.omitted += 1;
        } else {
            // One line per entry: multi-line notification bodies are folded.
            let text = text.trim_end().replace('\n', " / ");
            self.entries.push(Entry { at_ms, source, text });
        }
    }

    pub fn world(&mut self, at_ms: u64, text: String) {
        self.push(at_ms, Source::World, text);
    }

    /// Fine-grained world changes (each flap transition).
    pub fn world_detail(&mut self, at_ms: u64, text: String) {
        self.push(at_ms, Source::World, text);
    }

    pub fn operator(&mut self, at_ms: u64, text: String) {
        self.push(at_ms, Source::Operator, text);
    }

    pub fn journal(&mut self, at_ms: u64, record: &JournalRecord) {
        if let Some(text) = self.render(&record.event) {
            self.push(at_ms, Source::Ward, text);
        }
    }

    fn render(&mut self, event: &JournalEvent) -> Option<String> {
        if let JournalEvent::Decision { action, verdict, .. } = event {
            // A decision repeated with the same outcome is shown once.
            let key = action.identity();
            let outcome = verdict.outcome.name().to_string();
            if self.last_decision.get(&key) == Some(&outcome) {
                return None;
            }
            self.last_decision.insert(key, outcome);
        }
        ward_core::journal::sentence(event)
    }

    /// Markdown, one line per entry: `- HH:MM:SS **who** what happened`.
    pub fn markdown(&self, title: &str) -> String {
        let mut out = format!("# {title}\n\n");
        for e in &self.entries {
            let who = match e.source {
                Source::World => "world",
                Source::Operator => "operator",
                Source::Ward => "ward",
            };
            out.push_str(&format!("- {} **{who}** {}\n", self.label(e.at_ms), e.text));
        }
        if self.omitted > 0 {
            out.push_str(&format!("\n({} more lines omitted)\n", self.omitted));
        }
        out
    }
}

/// A command in a few words, for the timeline.
pub fn command_summary(c: &Command) -> String {
    match c {
        Command::Hold { target, reason, .. } => format!("holds {target} ({reason})"),
        Command::Release { target, .. } => format!("releases the hold on {target}"),
        Command::Approve { decision, .. } => format!("approves decision {}", decision.0),
        Command::Reject { decision, .. } => format!("rejects decision {}", decision.0),
        Command::Drain { node, .. } => format!("drains {node}"),
        Command::Undrain { node, .. } => format!("undrains {node}"),
        Command::Ack { alert, .. } => format!("acknowledges alert {}", alert.0),
        Command::Sync { service, from, to, .. } => format!("requests sync of {service} from {from} to {to}"),
        Command::Switchover { service, to, .. } => {
            format!("requests switchover of {service} to {to}")
        }
        Command::Rollout { nodes, batch_size, operation, .. } => {
            format!("starts a rolling {operation} of {} in batches of {batch_size}", nodes.join(", "))
        }
        Command::RolloutControl { control, .. } => format!("{}s the rollout in progress", control.verb()),
    }
}
