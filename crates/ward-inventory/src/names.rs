//! Name tables per kind: uniqueness, and resolving a reference to an index with
//! an error that lists what does exist (seed 004: a hook still naming "gw" after
//! the instance was split into "gw-v4" and "gw-v6").

use std::collections::HashMap;

use toml::Spanned;

use crate::error::Sink;
use crate::parse::{Item, Kind};

/// Hints list at most this many names; a 40-VIP fleet would drown the message.
const HINT_NAMES_MAX: usize = 20;

pub struct Names {
    kind: Kind,
    by_name: HashMap<String, usize>,
    ordered: Vec<String>,
}

impl Names {
    /// Indexes every item (parsed or not: its name still exists); reports duplicates.
    pub fn new<T>(kind: Kind, items: &[Item<T>], sink: &mut Sink) -> Names {
        let mut by_name = HashMap::new();
        let mut ordered = Vec::new();
        for item in items {
            let Some(name) = &item.name else { continue };
            if let Some(&first) = by_name.get(name) {
                sink.error(
                    item.name_span.clone(),
                    format!("{}.name", item.path()),
                    format!(
                        "duplicate {} name \"{name}\" (entry #{first} has it too)",
                        kind.key()
                    ),
                    format!(
                        "names are unique per kind; rename one of the two {}",
                        kind.plural()
                    ),
                );
            } else {
                by_name.insert(name.clone(), item.index);
                ordered.push(name.clone());
            }
        }
        Names {
            kind,
            by_name,
            ordered,
        }
    }

    /// For the implicit observer, which has no item in the file.
    pub fn push(&mut self, name: &str) {
        self.by_name.insert(name.to_string(), self.ordered.len());
        self.ordered.push(name.to_string());
    }

    pub fn get(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The index of `name`, or an error at its span naming the field it came from.
    pub fn resolve(&self, name: &Spanned<String>, field: &str, sink: &mut Sink) -> Option<usize> {
        if let Some(index) = self.get(name.get_ref()) {
            return Some(index);
        }
        let kind = self.kind.key();
        let hint = if self.ordered.is_empty() {
            format!(
                "no [[{kind}]] is declared; add a [[{kind}]] named \"{}\" or fix the name",
                name.get_ref()
            )
        } else {
            format!(
                "known {}: {}; add a [[{kind}]] named \"{}\" or fix the name",
                self.kind.plural(),
                self.listing(),
                name.get_ref()
            )
        };
        sink.error(
            name.span(),
            field,
            format!("{kind} \"{}\" does not exist", name.get_ref()),
            hint,
        );
        None
    }

    /// Resolves a list, keeping the indices that exist.
    pub fn resolve_all(
        &self,
        names: &[Spanned<String>],
        field: &str,
        sink: &mut Sink,
    ) -> Vec<usize> {
        names
            .iter()
            .filter_map(|name| self.resolve(name, field, sink))
            .collect()
    }

    pub fn listing(&self) -> String {
        listing(&self.ordered)
    }
}

/// "a, b, c" or "a, b, ... (12 more)".
pub fn listing(names: &[String]) -> String {
    let mut text = names
        .iter()
        .take(HINT_NAMES_MAX)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > HINT_NAMES_MAX {
        text.push_str(&format!(", ... ({} more)", names.len() - HINT_NAMES_MAX));
    }
    text
}
