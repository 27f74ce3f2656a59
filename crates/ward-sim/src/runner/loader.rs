//! The one place the simulator reads an inventory document into a snapshot.

use std::sync::Arc;

use ward_core::inventory::Snapshot;

use crate::scenario::{InventoryDoc, Torn};

/// Parses and validates a document, as the daemon's loader would.
pub fn load(doc: &InventoryDoc) -> Result<Arc<Snapshot>, Vec<String>> {
    match doc {
        InventoryDoc::Text { source, text } => load_text(source, text),
        InventoryDoc::Built(snapshot) => Ok(snapshot.clone()),
        InventoryDoc::Unreadable { errors, .. } => Err(errors.clone()),
    }
}

pub fn source(doc: &InventoryDoc) -> String {
    match doc {
        InventoryDoc::Text { source, .. } | InventoryDoc::Unreadable { source, .. } => source.clone(),
        InventoryDoc::Built(s) => s.source().to_string(),
    }
}

fn load_text(source: &str, text: &str) -> Result<Arc<Snapshot>, Vec<String>> {
    ward_inventory::load(source, text).map(Arc::new).map_err(|errors| errors.iter().map(|e| e.to_string()).collect())
}

/// What a reader sees when it reads `doc` while a writer is halfway through.
pub fn torn(doc: &InventoryDoc, torn: &Torn) -> InventoryDoc {
    match (torn, doc) {
        (Torn::Doc(d), _) => d.clone(),
        (Torn::Prefix(percent), InventoryDoc::Text { source, text }) => {
            let mut cut = text.len() * *percent as usize / 100;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            InventoryDoc::Text { source: source.clone(), text: text[..cut].to_string() }
        }
        (Torn::Prefix(_), other) => InventoryDoc::Unreadable {
            source: source(other),
            errors: vec![format!("{}: unexpected end of file (read while being written)", source(other))],
        },
    }
}
