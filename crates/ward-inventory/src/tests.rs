//! Loader tests: one per validation rule, each with a small TOML and the field
//! and message it must be rejected with.

use super::*;

/// A small valid inventory; tests append to it or replace a line.
const BASE: &str = r#"
[[site]]
name = "a"

[[node]]
name = "n1"
site = "a"
address = "127.0.0.1"
labels = { role = "web" }

[[node]]
name = "n2"
site = "a"
address = "127.0.0.2"
labels = { role = "web" }

[[check]]
name = "http"
kind = "http"
target = "http://{address}/"
interval = "1s"
timeout = "500ms"
nodes = { role = "web" }

[[hook]]
name = "api"
kind = "http"
url = "http://127.0.0.1/x"
services = ["svc"]

[[route]]
name = "log"
kind = "log"

[[service]]
name = "svc"
kind = "vip"
candidates = { role = "web" }
initial = ["n1"]
actuator = "api"
notify = ["log"]
"#;

fn errors(text: &str) -> Vec<InventoryError> {
    match load("t.toml", text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e,
    }
}

/// Asserts some error has this field and a message containing `message`.
fn assert_error(text: &str, field: &str, message: &str) -> InventoryError {
    let errs = errors(text);
    errs.iter()
        .find(|e| e.field == field && e.message.contains(message))
        .cloned()
        .unwrap_or_else(|| panic!("no error {field}: {message} in:\n{}", render(&errs)))
}

fn render(errs: &[InventoryError]) -> String {
    errs.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn with(replace: &str, by: &str) -> String {
    assert!(BASE.contains(replace), "BASE has no {replace:?}");
    BASE.replacen(replace, by, 1)
}

#[test]
fn base_is_valid() {
    let s = load("t.toml", BASE).unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(s.nodes().len(), 2);
    assert_eq!(
        s.services()[0].candidates,
        vec![ward_core::ids::NodeId(0), ward_core::ids::NodeId(1)]
    );
    assert_eq!(s.observers()[0].name, "controller");
    assert_eq!(s.policy().quorum, 1);
    assert_eq!(s.hash().len(), 64);
}
