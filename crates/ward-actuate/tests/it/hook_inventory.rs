//! The built-in hooks as an inventory declares them: the documented block of
//! examples/reference.toml loads, and mistakes get file:line:col, field, what and a hint.

use ward_core::inventory::HookKind;
use ward_inventory::{load, InventoryError};

const REFERENCE: &str = include_str!("../../../../examples/reference.toml");

/// The reference with its commented-out built-in hooks block enabled.
fn reference_with_builtin_hooks() -> String {
    let block: Vec<&str> =
        REFERENCE.lines().skip_while(|l| *l != "# BEGIN built-in hooks").skip(1).take_while(|l| *l != "# END built-in hooks").collect();
    assert!(block.len() > 20, "the built-in hooks block is missing from examples/reference.toml");
    let uncommented: Vec<&str> = block.iter().map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#'))).collect();
    format!("{REFERENCE}\n{}\n", uncommented.join("\n"))
}

#[test]
fn the_documented_block_loads() {
    let snapshot = load("reference.toml", &reference_with_builtin_hooks()).unwrap_or_else(|e| panic!("{}", render(&e)));
    let pg = snapshot.hook(snapshot.hook_id("pg").unwrap());
    assert_eq!(
        pg.kind,
        HookKind::Postgres {
            dsn: "postgresql://postgres:secret@{address}/postgres?connect_timeout=2".into(),
            fence_command: Some(vec!["/usr/local/bin/stonith".into(), "{node}".into()]),
        }
    );
    assert_eq!(pg.timeout_ms, 30_000);
    let haproxy = snapshot.hook(snapshot.hook_id("haproxy").unwrap());
    assert_eq!(haproxy.kind, HookKind::Haproxy { socket: "/run/haproxy/admin.sock".into(), backend: "pg_rw".into() });
    let mysql = snapshot.hook(snapshot.hook_id("mysql").unwrap());
    assert_eq!(mysql.kind, HookKind::Mysql { dsn: "mysql://ward:secret@{address}".into() });
}

const BASE: &str = r#"
[[site]]
name = "a"

[[node]]
name = "db1"
site = "a"
address = "127.0.0.1:15432"
labels = { role = "db" }

[[node]]
name = "db2"
site = "a"
address = "127.0.0.1:15433"
labels = { role = "db" }

[[check]]
name = "pg"
kind = "postgres"
target = "postgresql://ward@{address}/postgres"
interval = "2s"
timeout = "1s"
nodes = { role = "db" }

[[hook]]
name = "pg"
kind = "postgres"
dsn = "postgresql://postgres:pw@{address}/postgres"
services = ["main"]

[[route]]
name = "log"
kind = "log"

[[service]]
name = "main"
kind = "primary"
candidates = { role = "db" }
initial = ["db1"]
actuator = "pg"
notify = ["log"]
fence = "read_only"
"#;

fn with(replace: &str, by: &str) -> String {
    assert!(BASE.contains(replace), "BASE has no {replace:?}");
    BASE.replacen(replace, by, 1)
}

fn render(errors: &[InventoryError]) -> String {
    errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
}

/// The error on `field` whose message contains `message`, with a location.
fn error(text: &str, field: &str, message: &str) -> InventoryError {
    let errors = load("t.toml", text).err().unwrap_or_else(|| panic!("expected errors for:\n{text}"));
    let found = errors.iter().find(|e| e.field == field && e.message.contains(message)).cloned();
    let found = found.unwrap_or_else(|| panic!("no error {field}: {message} in:\n{}", render(&errors)));
    assert!(found.line > 0 && found.column > 0 && !found.hint.is_empty(), "{found}");
    found
}

#[test]
fn base_is_valid() {
    load("t.toml", BASE).unwrap_or_else(|e| panic!("{}", render(&e)));
}

#[test]
fn a_postgres_hook_needs_a_dsn_that_varies_per_node() {
    let e = error(&with("dsn = \"postgresql://postgres:pw@{address}/postgres\"\n", ""), "hook[pg].dsn", "needs a dsn");
    assert!(e.hint.contains("{address}"), "{e}");
    error(&with("pw@{address}/postgres\"\n", "pw@10.0.0.1/postgres\"\n"), "hook[pg].dsn", "neither {address} nor {node}");
    error(&with("dsn = \"postgresql", "dsn = \"mysql"), "hook[pg].dsn", "is not a PostgreSQL connection string");
    // key=value pairs are fine.
    load("t.toml", &with("dsn = \"postgresql://postgres:pw@{address}/postgres\"", "dsn = \"host={node}.db user=postgres\""))
        .unwrap_or_else(|e| panic!("{}", render(&e)));
}

#[test]
fn fencing_by_stop_needs_a_fence_command() {
    let text = with("fence = \"read_only\"\n", "");
    let e = error(&text, "hook[pg].fence_command", "fences with \"stop\", but this postgres hook has no fence_command");
    assert!(e.hint.contains("fence = \"read_only\""), "{e}");
    let with_command =
        text.replace("services = [\"main\"]", "services = [\"main\"]\nfence_command = [\"/usr/local/bin/stonith\", \"{node}\"]");
    load("t.toml", &with_command).unwrap_or_else(|e| panic!("{}", render(&e)));
    error(&with("services = [\"main\"]", "services = [\"main\"]\nfence_command = []"), "hook[pg].fence_command", "empty");
}

#[test]
fn kinds_only_serve_services_they_can_move() {
    let e = error(&with("kind = \"primary\"", "kind = \"vip\""), "hook[pg].kind", "cannot act for service \"main\": it is a vip service");
    assert!(e.hint.contains("haproxy"), "{e}");
    let haproxy = with(
        "kind = \"postgres\"\ndsn = \"postgresql://postgres:pw@{address}/postgres\"",
        "kind = \"haproxy\"\nsocket = \"/run/h.sock\"\nbackend = \"rw\"",
    );
    error(&haproxy, "hook[pg].kind", "a haproxy hook cannot act for service \"main\": it is a primary service");
    load("t.toml", &haproxy.replace("kind = \"primary\"", "kind = \"vip\"").replace("fence = \"read_only\"\n", ""))
        .unwrap_or_else(|e| panic!("{}", render(&e)));
}

#[test]
fn haproxy_needs_a_socket_and_a_backend() {
    let haproxy = |fields: &str| {
        with("kind = \"postgres\"\ndsn = \"postgresql://postgres:pw@{address}/postgres\"", &format!("kind = \"haproxy\"\n{fields}"))
            .replace("kind = \"primary\"", "kind = \"vip\"")
            .replace("fence = \"read_only\"\n", "")
    };
    error(&haproxy("backend = \"rw\""), "hook[pg].socket", "needs the runtime API's socket");
    error(&haproxy("socket = \"/run/h.sock\""), "hook[pg].backend", "needs a backend");
    error(&haproxy("socket = \"admin.sock\"\nbackend = \"rw\""), "hook[pg].socket", "neither a unix socket path nor host:port");
    error(&haproxy("socket = \"/run/h.sock\"\nbackend = \"r w\""), "hook[pg].backend", "not a usable backend name");
    load("t.toml", &haproxy("socket = \"127.0.0.1:9999\"\nbackend = \"rw\"")).unwrap_or_else(|e| panic!("{}", render(&e)));
}

#[test]
fn fields_of_other_kinds_and_unknown_kinds_are_named() {
    let e = error(
        &with("kind = \"postgres\"\ndsn", "kind = \"exec\"\ncommand = [\"/bin/true\"]\ndsn"),
        "hook[pg].dsn",
        "dsn applies to postgres or mysql hooks, not exec",
    );
    assert_eq!(e.hint, "remove dsn, or set kind = \"postgres\" or \"mysql\"");
    let e = error(&with("kind = \"postgres\"\ndsn", "kind = \"postgresql\"\ndsn"), "hook[pg].kind", "unknown value \"postgresql\"");
    assert_eq!(e.hint, "valid values: exec, http, postgres, haproxy, mysql");
    let e = error(
        &with("services = [\"main\"]", "services = [\"main\"]\ncommand = [\"/bin/stonith\"]"),
        "hook[pg].command",
        "takes no command",
    );
    assert!(e.hint.contains("fence_command"), "{e}");
}
