//! ward-core's layers, bottom to top: the vocabulary (ids, time, mode, actions,
//! observations, the inventory model, journal records), the durable state (a fold
//! over the journal), health, guards (pure functions of a read-only view), and the
//! engine that turns state into outputs. A module may use its own layer and those
//! below it, never one above: this test fails on any `crate::` path that goes up.

// This test reads the crate's own source files; the core itself never reads any.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

const LAYERS: &[(&str, u32)] = &[
    ("ids", 0),
    ("time", 0),
    ("mode", 0),
    ("action", 1),
    ("observation", 1),
    ("inventory", 2),
    ("agent", 2),
    ("journal", 3),
    ("state", 4),
    ("health", 5),
    ("guards", 6),
    ("engine", 7),
    // Test support (the engine harness) sits with the engine it drives, so the
    // engine's unit tests may use it.
    ("testing", 7),
];

fn layer(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(name, _)| *name == module).map(|(_, rank)| *rank)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file names through `crate::`.
fn used_modules(text: &str) -> Vec<String> {
    let mut used = Vec::new();
    for (index, _) in text.match_indices("crate::") {
        let rest = &text[index + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() && !used.contains(&name) {
            used.push(name);
        }
    }
    used
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if first == "lib" {
            continue;
        }
        let own = layer(&first).unwrap_or_else(|| panic!("{}: module {first} has no layer in tests/layers.rs", relative.display()));
        let text = std::fs::read_to_string(file).unwrap();
        for used in used_modules(&text) {
            match layer(&used) {
                Some(rank) if rank > own => violations.push(format!("{} ({first}) uses crate::{used}, a layer above", relative.display())),
                Some(_) => {}
                None => violations.push(format!("{}: crate::{used} has no layer in tests/layers.rs", relative.display())),
            }
        }
    }
    assert!(violations.is_empty(), "layer violations:\n{}", violations.join("\n"));
}
