//! `ward validate <file> [--json]`: load an inventory exactly as the controller
//! would and say whether it would be accepted. It never changes anything, so the
//! closing line says so: an operator fixing a file under pressure should not
//! have to wonder.

use std::path::Path;

use serde_json::json;

/// Prints the verdict to stdout; returns the process exit code (0 accepted, 1 rejected).
pub fn run(path: &Path, json: bool) -> i32 {
    let (code, text) = render(path, json);
    println!("{text}");
    code
}

fn render(path: &Path, json: bool) -> (i32, String) {
    match ward_inventory::load_file(path) {
        Ok(snapshot) => {
            let summary = ward_inventory::summary(&snapshot);
            let text = if json {
                json!({ "ok": true, "file": path.display().to_string(), "hash": snapshot.hash(), "summary": summary }).to_string()
            } else {
                format!(
                    "OK {} sha256:{}\n{summary}",
                    path.display(),
                    snapshot.hash()
                )
            };
            (0, text)
        }
        Err(errors) => {
            let text = if json {
                json!({ "ok": false, "file": path.display().to_string(), "errors": errors })
                    .to_string()
            } else {
                let mut lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                let noun = if errors.len() == 1 { "error" } else { "errors" };
                lines.push(format!("{} {noun}; nothing changed", errors.len()));
                lines.join("\n")
            };
            (1, text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples")
            .join(name)
    }

    #[test]
    fn accepted_file_prints_ok_hash_and_summary() {
        let (code, text) = render(&example("reference.toml"), false);
        assert_eq!(code, 0, "{text}");
        assert!(
            text.starts_with("OK ") && text.contains(" sha256:"),
            "{text}"
        );
        assert!(text.contains("4 nodes in 2 sites"), "{text}");
    }

    #[test]
    fn rejected_file_prints_every_error_and_a_count() {
        let (code, text) = render(&example("bytemark-broken.toml"), false);
        assert_eq!(code, 1);
        assert!(
            text.contains("hook[default-route].services: service \"gw\" does not exist"),
            "{text}"
        );
        assert!(
            text.contains("\n  hint: known services: gw-v4, gw-v6"),
            "{text}"
        );
        assert!(text.ends_with("1 error; nothing changed"), "{text}");
    }

    #[test]
    fn json_has_ok_hash_summary_or_errors() {
        let (_, text) = render(&example("reference.toml"), true);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(v["ok"], true);
        assert_eq!(v["hash"].as_str().map(str::len), Some(64));
        assert!(v["summary"].is_string());

        let (code, text) = render(&example("bytemark-broken.toml"), true);
        assert_eq!(code, 1);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(v["ok"], false);
        let e = &v["errors"][0];
        for key in ["file", "line", "column", "field", "message", "hint"] {
            assert!(!e[key].is_null(), "missing {key} in {e}");
        }
        assert_eq!(e["field"], "hook[default-route].services");
    }
}
