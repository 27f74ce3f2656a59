//! TOML text to `RawDoc`: syntax, unknown fields and value types. Each item is
//! deserialized on its own, so one bad `[[node]]` does not hide the errors of the
//! next, and an item that fails still contributes its name (so references to it
//! do not cascade into spurious "does not exist" errors).

use std::ops::Range;

use serde::de::{DeserializeOwned, IntoDeserializer};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::Sink;
use crate::raw::*;

const REFERENCE: &str = "see examples/reference.toml for every field and its type";

/// The kinds of named things in an inventory, for paths and hints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Site,
    Observer,
    Node,
    Check,
    Hook,
    Route,
    Service,
}

impl Kind {
    pub fn key(self) -> &'static str {
        match self {
            Kind::Site => "site",
            Kind::Observer => "observer",
            Kind::Node => "node",
            Kind::Check => "check",
            Kind::Hook => "hook",
            Kind::Route => "route",
            Kind::Service => "service",
        }
    }
    pub fn plural(self) -> String {
        format!("{}s", self.key())
    }
}

/// One `[[kind]]` entry: its name and span always, its typed form if it parsed.
#[derive(Debug)]
pub struct Item<T> {
    pub kind: Kind,
    pub index: usize,
    pub name: Option<String>,
    pub name_span: Range<usize>,
    pub span: Range<usize>,
    pub raw: Option<T>,
}

impl<T> Item<T> {
    /// `node[phx1-web]`, or `node[#3]` for an entry without a usable name.
    pub fn path(&self) -> String {
        item_path(self.kind, self.name.as_deref(), self.index)
    }
}

fn item_path(kind: Kind, name: Option<&str>, index: usize) -> String {
    match name {
        Some(name) => format!("{}[{name}]", kind.key()),
        None => format!("{}[#{index}]", kind.key()),
    }
}

#[derive(Debug, Default)]
pub struct RawDoc {
    pub policy: RawPolicy,
    pub policy_span: Range<usize>,
    pub sites: Vec<Item<RawSite>>,
    pub observers: Vec<Item<RawObserver>>,
    pub nodes: Vec<Item<RawNode>>,
    pub checks: Vec<Item<RawCheck>>,
    pub hooks: Vec<Item<RawHook>>,
    pub routes: Vec<Item<RawRoute>>,
    pub services: Vec<Item<RawService>>,
}

const TOP_LEVEL: &[&str] = &[
    "policy", "site", "observer", "node", "check", "hook", "route", "service",
];

/// `None` when the text is not TOML at all: then the syntax errors are all there is to say.
pub fn parse(text: &str, sink: &mut Sink) -> Option<RawDoc> {
    let (root, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        for e in syntax {
            sink.error(
                e.span().unwrap_or(0..0),
                "",
                e.message().to_string(),
                "fix the TOML syntax here",
            );
        }
        return None;
    }
    let mut doc = RawDoc::default();
    for (key, value) in root.into_inner() {
        let key_span = key.span();
        let key = key.into_inner();
        match key.as_ref() {
            "policy" => {
                doc.policy_span = value.span();
                if value.get_ref().is_table() {
                    doc.policy = deserialize(value, "policy", sink).unwrap_or_default();
                } else {
                    sink.error(
                        value.span(),
                        "policy",
                        "policy must be a table",
                        "write it as a [policy] section",
                    );
                }
            }
            "site" => doc.sites = items(Kind::Site, value, sink),
            "observer" => doc.observers = items(Kind::Observer, value, sink),
            "node" => doc.nodes = items(Kind::Node, value, sink),
            "check" => doc.checks = items(Kind::Check, value, sink),
            "hook" => doc.hooks = items(Kind::Hook, value, sink),
            "route" => doc.routes = items(Kind::Route, value, sink),
            "service" => doc.services = items(Kind::Service, value, sink),
            other => sink.error(
                key_span,
                other.to_string(),
                format!("unknown top-level key \"{other}\""),
                format!("valid keys: {}", TOP_LEVEL.join(", ")),
            ),
        }
    }
    Some(doc)
}

fn items<T: DeserializeOwned + 'static>(
    kind: Kind,
    value: Spanned<DeValue<'_>>,
    sink: &mut Sink,
) -> Vec<Item<T>> {
    let span = value.span();
    let DeValue::Array(array) = value.into_inner() else {
        sink.error(
            span,
            kind.key(),
            format!("{} must be an array of tables", kind.key()),
            format!("write each one as a [[{}]] section", kind.key()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (index, entry) in array.into_iter().enumerate() {
        let span = entry.span();
        let (name, name_span) = match entry.get_ref().as_table().and_then(|t| field(t, "name")) {
            Some(value) => match value.get_ref().as_str() {
                Some(name) if !name.is_empty() => (Some(name.to_string()), value.span()),
                _ => (None, value.span()),
            },
            None => (None, span.clone()),
        };
        let path = item_path(kind, name.as_deref(), index);
        let raw = if entry.get_ref().is_table() {
            deserialize::<T>(entry, &path, sink)
        } else {
            let message = format!("each {} must be a table", kind.key());
            sink.error(
                span.clone(),
                path,
                message,
                format!("write it as a [[{}]] section", kind.key()),
            );
            None
        };
        out.push(Item {
            kind,
            index,
            name,
            name_span,
            span,
            raw,
        });
    }
    out
}

pub fn field<'a, 'i>(table: &'a DeTable<'i>, name: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == name)
        .map(|(_, v)| v)
}

/// Unknown keys first (all of them, each with the valid list), then serde for types.
/// A field with a bad value is reported, dropped and the item retried, so every
/// bad field is reported and, when only optional fields were bad, the item still
/// takes part in the reference checks. (An error is on record either way, so no
/// snapshot is built from an item repaired like this.)
fn deserialize<T: DeserializeOwned + 'static>(
    mut value: Spanned<DeValue<'_>>,
    path: &str,
    sink: &mut Sink,
) -> Option<T> {
    if let DeValue::Table(table) = value.get_mut() {
        strip_unknown(table, fields_of::<T>(), nested_fields::<T>(), path, sink);
    }
    let span = value.span();
    let mut dropped: Vec<String> = Vec::new();
    // Each round drops a key, so this ends; the bound is belt and braces.
    for _ in 0..64 {
        let copy = value.clone();
        let e = match T::deserialize(copy.into_deserializer()) {
            Ok(raw) => return Some(raw),
            Err(e) => e,
        };
        let at = e.span().unwrap_or(span.clone());
        let message = e.message().to_string();
        if let Some(missing) = missing_field(&message) {
            // Missing because we dropped its bad value: already reported.
            if !dropped.iter().any(|d| d == missing) {
                sink.error(
                    at,
                    format!("{path}.{missing}"),
                    message.clone(),
                    format!("add `{missing} = ...`; {REFERENCE}"),
                );
            }
            return None;
        }
        let field = value.get_ref().as_table().and_then(|t| field_at(t, &at));
        sink.error(
            at,
            field
                .as_ref()
                .map_or_else(|| path.to_string(), |f| format!("{path}.{f}")),
            message,
            REFERENCE,
        );
        let top = field
            .as_deref()
            .map(|f| f.split('.').next().unwrap_or(f).to_string());
        let removed = match (top, value.get_mut()) {
            (Some(top), DeValue::Table(table)) => {
                let key = table
                    .keys()
                    .find(|k| k.get_ref().as_ref() == top.as_str())
                    .cloned();
                key.and_then(|k| table.remove(&k))
                    .map(|_| dropped.push(top))
                    .is_some()
            }
            _ => false,
        };
        if !removed {
            return None;
        }
    }
    None
}

/// Nested structs whose keys are checked too (labels and selectors are free-form).
/// A nested table's key and a function giving its valid fields.
type Nested = (&'static str, fn() -> &'static [&'static str]);

fn nested_fields<T: 'static>() -> &'static [Nested] {
    use std::any::TypeId;
    if TypeId::of::<T>() == TypeId::of::<RawPolicy>() {
        &[
            ("budget", fields_of::<RawBudget>),
            ("damping", fields_of::<RawDamping>),
            ("integrity", fields_of::<RawIntegrity>),
        ]
    } else if TypeId::of::<T>() == TypeId::of::<RawNode>() {
        &[("replication", fields_of::<RawReplication>)]
    } else {
        &[]
    }
}

/// Removes and reports unknown keys; true if there were any.
fn strip_unknown(
    table: &mut DeTable<'_>,
    fields: &[&str],
    nested: &[Nested],
    path: &str,
    sink: &mut Sink,
) -> bool {
    let mut found = false;
    let unknown: Vec<_> = table
        .keys()
        .filter(|key| !fields.contains(&key.get_ref().as_ref()))
        .cloned()
        .collect();
    for key in &unknown {
        found = true;
        sink.error(
            key.span(),
            format!("{path}.{}", key.get_ref()),
            format!("unknown field \"{}\"", key.get_ref()),
            format!("valid fields: {}", fields.join(", ")),
        );
        table.remove(key);
    }
    for (key, value) in table.iter_mut() {
        if let Some((name, fields)) = nested
            .iter()
            .find(|(name, _)| *name == key.get_ref().as_ref())
        {
            if let DeValue::Table(inner) = value.get_mut() {
                found |= strip_unknown(inner, fields(), &[], &format!("{path}.{name}"), sink);
            }
        }
    }
    found
}

/// The dotted key whose value contains `span`, for errors serde locates by span only.
fn field_at(table: &DeTable<'_>, span: &Range<usize>) -> Option<String> {
    for (key, value) in table.iter() {
        let v = value.span();
        let k = key.span();
        let inside = |r: &Range<usize>| r.start <= span.start && span.end <= r.end;
        if inside(&v) || inside(&k) {
            if let Some(inner) = value.get_ref().as_table().and_then(|t| field_at(t, span)) {
                return Some(format!("{}.{inner}", key.get_ref()));
            }
            return Some(key.get_ref().to_string());
        }
    }
    None
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}
