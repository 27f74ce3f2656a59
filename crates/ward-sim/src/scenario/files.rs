//! The one place the simulator touches the file system: reading a scenario and
//! the inventory it names, and listing a folder of scenarios. Everything else in
//! ward-sim is as sans-IO as the core (its clippy.toml bans the file system);
//! this module is the reviewed exception, and every read through it is bounded.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};

/// Reads a UTF-8 text file of bounded size (`ward_inventory::read_bounded`: a
/// character device such as /dev/zero would otherwise be read until memory runs out).
pub fn read_text(path: &Path) -> Result<String, String> {
    let bytes = ward_inventory::read_bounded(path)?;
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))
}

/// Every `*.toml` file directly in `dir`, sorted by name.
pub fn toml_files_in(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: cannot list: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml")).collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_device_is_refused_not_read_without_bound() {
        let error = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(error.contains("larger than"), "{error}");
    }
}
