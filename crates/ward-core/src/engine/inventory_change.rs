//! Taking in a new inventory snapshot: apply it, or hold it for approval when it
//! contradicts what Ward observes (seed 002), and alert when the loader refused one.

use std::sync::Arc;

use crate::action::Outcome;
use crate::engine::{Engine, Mode};
use crate::guards::integrity;
use crate::ids::DecisionId;
use crate::inventory::Snapshot;
use crate::journal::{JournalEvent, Severity};
use crate::time::TimeMs;

#[derive(Default)]
pub struct InventoryRuntime {
    /// A valid snapshot waiting for an operator's approval.
    pub(crate) held: Option<(DecisionId, Arc<Snapshot>)>,
}

impl Engine {
    pub(crate) fn on_inventory(&mut self, now_ms: TimeMs, snapshot: Arc<Snapshot>) {
        if snapshot.hash() == self.snapshot.hash() {
            // The same bytes as the inventory in force: a torn read healed itself.
            if let Some((decision, _)) = self.inventory.held.take() {
                self.record(
                    now_ms,
                    JournalEvent::Rejected { decision, author: "ward".into(), reason: "the inventory read back unchanged".into() },
                );
                self.resolve(now_ms, "inventory:held", "the inventory reads back as the one in force".into());
            }
            self.resolve(now_ms, "inventory:rejected", "the inventory reads back as the one in force".into());
            return;
        }
        if self.mode == Mode::Guarded {
            let diff = integrity::diff(&self.snapshot, &snapshot, &self.health, &self.durable.placements);
            let verdict = integrity::assess(&self.snapshot, &snapshot, &diff);
            if verdict.outcome != Outcome::Allow {
                if self.inventory.held.as_ref().is_some_and(|(_, s)| s.hash() == snapshot.hash()) {
                    return;
                }
                if let Some((old, _)) = self.inventory.held.take() {
                    self.record(
                        now_ms,
                        JournalEvent::Rejected { decision: old, author: "ward".into(), reason: "superseded by a newer inventory".into() },
                    );
                }
                let decision = DecisionId(self.durable.next_decision);
                self.record(
                    now_ms,
                    JournalEvent::InventoryHeld { hash: snapshot.hash().to_string(), decision, sentence: verdict.sentence.clone() },
                );
                self.raise(
                    now_ms,
                    "inventory:held",
                    Severity::Page,
                    format!("Approval needed (decision {}): {}", decision.0, verdict.sentence),
                    &[],
                );
                self.inventory.held = Some((decision, snapshot));
                return;
            }
        }
        self.apply_inventory(now_ms, snapshot);
    }

    pub(crate) fn apply_inventory(&mut self, now_ms: TimeMs, snapshot: Arc<Snapshot>) {
        if let Some((decision, _)) = self.inventory.held.take() {
            if !self.durable.approved.contains_key(&decision) {
                self.record(
                    now_ms,
                    JournalEvent::Rejected { decision, author: "ward".into(), reason: "superseded by a newer inventory".into() },
                );
            }
        }
        let old = std::mem::replace(&mut self.snapshot, snapshot);
        self.health.rebase(&old, &self.snapshot);
        self.durable.rebase(&self.snapshot);
        self.last_blocked = vec![None; self.snapshot.services().len()];
        let mut bad_since = vec![None; self.snapshot.nodes().len()];
        for (index, node) in old.nodes().iter().enumerate() {
            if let Some(new_id) = self.snapshot.node_id(&node.name) {
                bad_since[new_id.index()] = self.replication_bad_since.get(index).copied().flatten();
            }
        }
        self.replication_bad_since = bad_since;
        let summary = format!(
            "{} nodes, {} services, {} checks",
            self.snapshot.nodes().len(),
            self.snapshot.services().len(),
            self.snapshot.checks().len()
        );
        self.record(
            now_ms,
            JournalEvent::InventoryApplied { hash: self.snapshot.hash().to_string(), source: self.snapshot.source().to_string(), summary },
        );
        self.assume_placements(now_ms);
        self.resolve(now_ms, "inventory:held", format!("inventory {} is in force", self.snapshot.short_hash()));
        self.resolve(now_ms, "inventory:rejected", format!("inventory {} is in force", self.snapshot.short_hash()));
    }

    pub(crate) fn on_inventory_rejected(&mut self, now_ms: TimeMs, source: String, errors: Vec<String>) {
        let first = errors.first().cloned().unwrap_or_default();
        let sentence = format!(
            "The inventory at {source} was refused ({} error(s), first: {first}); inventory {} stays in force.",
            errors.len(),
            self.snapshot.short_hash()
        );
        self.record(now_ms, JournalEvent::InventoryRejected { source, errors });
        self.raise(now_ms, "inventory:rejected", Severity::Warning, sentence, &[]);
    }

    /// The held snapshot, if `decision` is its approval.
    pub(crate) fn take_held_inventory(&mut self, decision: DecisionId) -> Option<Arc<Snapshot>> {
        match &self.inventory.held {
            Some((held, _)) if *held == decision => self.inventory.held.take().map(|(_, s)| s),
            _ => None,
        }
    }
}
