//! Scenario files: one TOML file per incident under `scenarios/`. `load` parses,
//! checks every field and answers with precise errors (file, field, what is
//! wrong); it never panics on bad input.

mod event;
mod files;
mod knobs;
mod names;
mod raw;
mod typed;

use std::path::{Path, PathBuf};

pub use event::*;
pub use knobs::*;
pub use raw::{RawBounds, RawCheck, RawExpect};

use crate::expect::Expect;

/// A checked scenario, ready to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub seed_report: Option<String>,
    pub description: String,
    /// The scenario file, for messages.
    pub file: String,
    pub inventory: InventoryDoc,
    pub duration_ms: u64,
    /// Milliseconds since midnight of virtual t = 0, for timeline labels.
    pub start_clock_ms: u64,
    pub seed: u64,
    pub world: WorldKnobs,
    /// Sorted by time (stable: file order breaks ties).
    pub events: Vec<ScenarioEvent>,
    pub expect: Expect,
}

/// A scenario that could not be loaded: where, which field, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: `{}`: {}", self.file, self.field, self.message)
        }
    }
}

impl std::error::Error for ScenarioError {}

/// The longest scenario the runner accepts (a bound, like every other).
pub const DURATION_MS_MAX: u64 = 7 * 24 * 3_600_000;

/// Reads and checks a scenario file and the inventory it names.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = files::read_text(path).map_err(|e| ScenarioError {
        file: file.clone(),
        field: String::new(),
        message: format!("cannot read: {e}"),
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    parse(&file, &text, &base)
}

/// Parses scenario text; `base` is the folder relative paths are resolved from.
pub fn parse(file: &str, text: &str, base: &Path) -> Result<Scenario, ScenarioError> {
    let raw: raw::RawScenario = toml::from_str(text).map_err(|e| ScenarioError {
        file: file.into(),
        field: String::new(),
        message: e.to_string().trim_end().replace('\n', "\n    "),
    })?;
    typed::convert(file, raw, base)
}

/// Every `*.toml` file directly in `dir`, sorted by name.
pub fn files_in(dir: &Path) -> Result<Vec<PathBuf>, String> {
    files::toml_files_in(dir)
}
