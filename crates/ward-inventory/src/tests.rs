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
    errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
}

fn with(replace: &str, by: &str) -> String {
    assert!(BASE.contains(replace), "BASE has no {replace:?}");
    BASE.replacen(replace, by, 1)
}

#[test]
fn base_is_valid() {
    let s = load("t.toml", BASE).unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(s.nodes().len(), 2);
    assert_eq!(s.services()[0].candidates, vec![ward_core::ids::NodeId(0), ward_core::ids::NodeId(1)]);
    assert_eq!(s.observers()[0].name, "controller");
    assert_eq!(s.policy().quorum, 1);
    assert_eq!(s.hash().len(), 64);
}

#[test]
fn syntax_errors_have_line_and_column() {
    let e = assert_error("[[site]]\nname = \"a\nx", "", "");
    assert_eq!(e.line, 2);
    assert!(e.column > 1);
}

#[test]
fn type_errors_name_the_field() {
    let e = assert_error(&with("address = \"127.0.0.2\"", "address = 7"), "node[n2].address", "invalid type");
    assert_eq!((e.line, e.column), (14, 11));
}

#[test]
fn missing_fields_are_named() {
    assert_error(&with("address = \"127.0.0.2\"\n", ""), "node[n2].address", "missing field");
}

#[test]
fn unknown_fields_list_the_valid_ones() {
    let e = assert_error(
        &with("labels = { role = \"web\" }\n\n[[node]]", "labels = { role = \"web\" }\nlable = 1\n\n[[node]]"),
        "node[n1].lable",
        "unknown field",
    );
    assert!(e.hint.contains("valid fields: name, site, address, labels"), "{}", e.hint);
    assert_error("[policy.damping]\nhalflife = \"1m\"\n", "policy.damping.halflife", "unknown field");
    assert_error(&format!("{BASE}\n[surprise]\n"), "surprise", "unknown top-level key");
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = with("site = \"a\"\naddress = \"127.0.0.2\"", "site = \"b\"\naddress = 7");
    let text = text.replacen("actuator = \"api\"", "actuator = \"apii\"", 1);
    let errs = errors(&text);
    assert!(errs.iter().any(|e| e.field == "node[n2].address"), "{}", render(&errs));
    assert!(errs.iter().any(|e| e.field == "service[svc].actuator"), "{}", render(&errs));
    // n2 failed to parse, yet "n2" is not reported as missing anywhere.
    assert!(!errs.iter().any(|e| e.message.contains("\"n2\" does not exist")), "{}", render(&errs));
}

#[test]
fn names_are_unique_per_kind() {
    assert_error(&with("name = \"n2\"", "name = \"n1\""), "node[n1].name", "duplicate node name");
}

#[test]
fn unresolved_references_list_known_names() {
    let e = assert_error(&with("actuator = \"api\"", "actuator = \"apii\""), "service[svc].actuator", "hook \"apii\" does not exist");
    assert_eq!(e.hint, "known hooks: api; add a [[hook]] named \"apii\" or fix the name");
    assert_error(
        &with("site = \"a\"\naddress = \"127.0.0.2\"", "site = \"b\"\naddress = \"127.0.0.2\""),
        "node[n2].site",
        "site \"b\" does not exist",
    );
    assert_error(&with("notify = [\"log\"]", "notify = [\"pager\"]"), "service[svc].notify", "route \"pager\" does not exist");
    assert_error(&with("initial = [\"n1\"]", "initial = [\"n9\"]"), "service[svc].initial", "node \"n9\" does not exist");
    assert_error(&with("notify = [\"log\"]", "checks = [\"tcp\"]"), "service[svc].checks", "check \"tcp\" does not exist");
    assert_error(&with("notify = [\"log\"]", "verify = [\"egress\"]"), "service[svc].verify", "check \"egress\" does not exist");
    assert_error(
        &with("kind = \"log\"", "kind = \"log\"\nescalate_to = \"boss\""),
        "route[log].escalate_to",
        "route \"boss\" does not exist",
    );
    assert_error(&format!("[policy]\nnotify = [\"x\"]\n{BASE}"), "policy.notify", "route \"x\" does not exist");
    assert_error(&format!("{BASE}\n[[observer]]\nname = \"o\"\nsite = \"zz\"\n"), "observer[o].site", "site \"zz\" does not exist");
    assert_error(
        &with("labels = { role = \"web\" }\n\n[[node]]", "labels = { role = \"web\" }\ndepends_on = [\"db\"]\n\n[[node]]"),
        "node[n1].depends_on",
        "node \"db\" does not exist",
    );
    assert_error(
        &with("labels = { role = \"web\" }\n\n[[node]]", "labels = { role = \"web\" }\ndisk_check = \"disk\"\n\n[[node]]"),
        "node[n1].disk_check",
        "check \"disk\" does not exist",
    );
    assert_error(&with("nodes = { role = \"web\" }", "nodes = [\"n1\", \"n3\"]"), "check[http].nodes", "node \"n3\" does not exist");
    assert_error(
        &with("candidates = { role = \"web\" }", "candidates = [\"n1\", \"nx\"]"),
        "service[svc].candidates",
        "node \"nx\" does not exist",
    );
}

#[test]
fn replication_references_resolve_and_its_check_runs_on_the_node() {
    let rep = |source: &str, check: &str| {
        let text = with(
            "labels = { role = \"web\" }\n\n[[node]]",
            &format!("labels = {{ role = \"web\" }}\nreplication = {{ source = \"{source}\", lag_max = \"30s\", check = \"{check}\" }}\n\n[[node]]"),
        );
        format!("{text}{PG_CHECK}")
    };
    assert_error(&rep("n9", "pg"), "node[n1].replication.source", "node \"n9\" does not exist");
    assert_error(&rep("n2", "repl"), "node[n1].replication.check", "check \"repl\" does not exist");
    assert_error(&rep("n1", "pg"), "node[n1].replication.source", "cannot replicate from itself");
    load("t.toml", &rep("n2", "pg")).unwrap_or_else(|e| panic!("{}", render(&e)));
    let off_node = rep("n2", "pg").replacen("nodes = [\"n1\", \"n2\"]", "nodes = [\"n2\"]", 1);
    let off_node = off_node.replacen("candidates = { role = \"web\" }", "candidates = [\"n2\"]", 1).replacen("initial = [\"n1\"]", "", 1);
    assert_error(&off_node, "node[n1].replication.check", "does not run on this node");
}

/// A database check on both nodes, for replication tests.
const PG_CHECK: &str = "\n[[check]]\nname = \"pg\"\nkind = \"postgres\"\ntarget = \"postgres://ward@{address}:5432/postgres\"\ninterval = \"1s\"\ntimeout = \"500ms\"\nnodes = [\"n1\", \"n2\"]\n";

#[test]
fn a_replication_check_must_be_a_database_check() {
    let text = with(
        "labels = { role = \"web\" }\n\n[[node]]",
        "labels = { role = \"web\" }\nreplication = { source = \"n2\", lag_max = \"30s\", check = \"http\" }\n\n[[node]]",
    );
    let e = assert_error(&text, "node[n1].replication.check", "check \"http\" is a http check, which cannot report replication state");
    assert!(e.hint.contains("postgres") && e.hint.contains("mysql"), "{}", e.hint);
}

#[test]
fn route_escalation_fields_load_with_defaults_and_bounds() {
    let snapshot = load("t.toml", BASE).unwrap_or_else(|e| panic!("{}", render(&e)));
    let log = snapshot.route(snapshot.route_id("log").unwrap());
    assert_eq!((log.repeat_every_ms, log.escalations_max), (log.escalate_after_ms, 10));
    let text = with("kind = \"log\"", "kind = \"log\"\nescalate_after = \"2m\"\nrepeat_every = \"30m\"\nescalations_max = 4");
    let snapshot = load("t.toml", &text).unwrap_or_else(|e| panic!("{}", render(&e)));
    let log = snapshot.route(snapshot.route_id("log").unwrap());
    assert_eq!((log.escalate_after_ms, log.repeat_every_ms, log.escalations_max), (120_000, 1_800_000, 4));
    assert_error(&with("kind = \"log\"", "kind = \"log\"\nrepeat_every = \"0s\""), "route[log].repeat_every", "more than zero");
    assert_error(&with("kind = \"log\"", "kind = \"log\"\nescalations_max = 5000"), "route[log].escalations_max", "above the maximum");
}

#[test]
fn replication_repair_names_a_hook_that_can_restart_replication() {
    let rep = |repair: &str, hooks: &str| {
        let text = with(
            "labels = { role = \"web\" }\n\n[[node]]",
            &format!(
                "labels = {{ role = \"web\" }}\nreplication = {{ source = \"n2\", lag_max = \"30s\", check = \"pg\", repair = \"{repair}\" }}\n\n[[node]]"
            ),
        );
        format!("{text}{PG_CHECK}{hooks}")
    };
    let mysql = "\n[[hook]]\nname = \"mysql\"\nkind = \"mysql\"\ndsn = \"mysql://ward:secret@{address}\"\n";
    let snapshot = load("t.toml", &rep("mysql", mysql)).unwrap_or_else(|e| panic!("{}", render(&e)));
    let n1 = snapshot.node(snapshot.node_id("n1").unwrap());
    let hook = n1.replication.as_ref().and_then(|r| r.repair).expect("repair hook");
    assert_eq!(snapshot.hook(hook).kind, ward_core::inventory::HookKind::Mysql { dsn: "mysql://ward:secret@{address}".into() });
    // An exec or http hook may repair too (it gets WARD_ACTION=repair).
    load("t.toml", &rep("api", "")).unwrap_or_else(|e| panic!("{}", render(&e)));
    let e = assert_error(&rep("mysqll", mysql), "node[n1].replication.repair", "hook \"mysqll\" does not exist");
    assert!(e.hint.contains("mysql"), "{}", e.hint);
    let e = assert_error(&rep("mysql", &mysql.replace("{address}", "db")), "hook[mysql].dsn", "neither {address} nor {node}");
    assert!(e.line > 0 && e.column > 0);
    let pg = "\n[[hook]]\nname = \"pg\"\nkind = \"postgres\"\ndsn = \"postgresql://u@{address}/postgres\"\n";
    let e = assert_error(&rep("pg", pg), "node[n1].replication.repair", "a postgres hook, which cannot restart replication");
    assert!(e.hint.contains("kind \"mysql\""), "{}", e.hint);
    assert_error(&rep("mysql", &mysql.replace("mysql://", "postgresql://")), "hook[mysql].dsn", "is not a MySQL URL");
    assert_error(
        &with("kind = \"http\"\nurl = \"http://127.0.0.1/x\"", "kind = \"mysql\"\ndsn = \"mysql://u@{address}\""),
        "hook[api].kind",
        "only repairs replication",
    );
}

#[test]
fn seed_004_hook_naming_a_renamed_service_is_rejected() {
    let text = with("services = [\"svc\"]", "services = [\"gw\"]");
    let e = assert_error(&text, "hook[api].services", "service \"gw\" does not exist");
    assert!(e.hint.contains("known services: svc"), "{}", e.hint);
}

#[test]
fn label_selectors_must_match_a_node() {
    let e = assert_error(
        &with("candidates = { role = \"web\" }", "candidates = { role = \"lb\" }"),
        "service[svc].candidates",
        "matches no node",
    );
    assert!(e.hint.contains("role=web"), "{}", e.hint);
    assert_error(&with("nodes = { role = \"web\" }", "nodes = {}"), "check[http].nodes", "empty");
}

#[test]
fn checks_need_a_timeout_below_the_interval() {
    assert_error(&with("timeout = \"500ms\"\n", ""), "check[http].timeout", "no timeout");
    assert_error(&with("timeout = \"500ms\"", "timeout = \"1s\""), "check[http].timeout", "not below the interval");
    assert_error(&with("timeout = \"500ms\"", "timeout = \"0ms\""), "check[http].timeout", "more than zero");
}

#[test]
fn rise_and_fall_are_at_least_one() {
    assert_error(&with("timeout = \"500ms\"", "timeout = \"500ms\"\nrise = 0"), "check[http].rise", "at least 1");
    assert_error(&with("timeout = \"500ms\"", "timeout = \"500ms\"\nfall = 0"), "check[http].fall", "at least 1");
}

#[test]
fn durations_need_a_unit() {
    let e = assert_error(&with("interval = \"1s\"", "interval = \"1\""), "check[http].interval", "no unit");
    assert!(e.hint.contains("\"500ms\""));
    assert_error(&format!("[policy]\ntick = \"1d\"\n{BASE}"), "policy.tick", "unknown unit");
}

#[test]
fn services_need_candidates_and_initial_within_them() {
    assert_error(&with("candidates = { role = \"web\" }", "candidates = []"), "service[svc].candidates", "empty");
    let text = with("candidates = { role = \"web\" }", "candidates = [\"n2\"]");
    assert_error(&text, "service[svc].initial", "not a candidate");
}

#[test]
fn single_holder_services_have_one_initial_node() {
    assert_error(&with("initial = [\"n1\"]", "initial = [\"n1\", \"n2\"]"), "service[svc].initial", "held by one node");
    let dns = with("initial = [\"n1\"]", "initial = [\"n1\", \"n2\"]").replacen("kind = \"vip\"", "kind = \"dns\"", 1);
    load("t.toml", &dns).unwrap_or_else(|e| panic!("{}", render(&e)));
}

#[test]
fn enumerations_list_valid_values() {
    let e = assert_error(&with("kind = \"vip\"", "kind = \"vipp\""), "service[svc].kind", "unknown value \"vipp\"");
    assert_eq!(e.hint, "valid values: vip, dns, primary, sync");
    assert_error(&with("kind = \"http\"\ntarget", "kind = \"htp\"\ntarget"), "check[http].kind", "unknown value");
    assert_error(
        &with("labels = { role = \"web\" }\n\n[[node]]", "labels = { role = \"web\" }\nlifecycle = \"up\"\n\n[[node]]"),
        "node[n1].lifecycle",
        "unknown value",
    );
}

#[test]
fn service_kind_specific_fields() {
    assert_error(&with("notify = [\"log\"]", "notify = [\"log\"]\nfence = \"stop\""), "service[svc].fence", "applies to primary");
    assert_error(&with("notify = [\"log\"]", "notify = [\"log\"]\nsync_delete_max = 5"), "service[svc].sync_delete_max", "applies to sync");
}

#[test]
fn hooks_and_routes_need_their_endpoint() {
    assert_error(&with("url = \"http://127.0.0.1/x\"\n", ""), "hook[api].url", "needs a url");
    assert_error(&with("kind = \"log\"", "kind = \"exec\""), "route[log].command", "needs a command");
    assert_error(&with("kind = \"log\"", "kind = \"exec\"\ncommand = []"), "route[log].command", "empty");
    assert_error(
        &with("url = \"http://127.0.0.1/x\"", "url = \"http://127.0.0.1/x\"\nparallel_max = 0"),
        "hook[api].parallel_max",
        "at least 1",
    );
}

#[test]
fn quorum_is_between_one_and_the_observer_count() {
    let observers =
        "[[observer]]\nname = \"o1\"\nsite = \"a\"\n[[observer]]\nname = \"o2\"\nsite = \"a\"\n[[observer]]\nname = \"o3\"\nsite = \"a\"\n";
    let s = load("t.toml", &format!("{BASE}\n{observers}")).unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(s.policy().quorum, 2, "default is a majority");
    assert_eq!(s.observers().len(), 3, "no implicit observer when some are declared");
    assert_error(&format!("[policy]\nquorum = 4\n{BASE}\n{observers}"), "policy.quorum", "not between 1");
    assert_error(&format!("[policy]\nquorum = 0\n{BASE}\n{observers}"), "policy.quorum", "not between 1");
    assert_error(&format!("[policy]\nquorum = 2\n{BASE}"), "policy.quorum", "not between 1");
}

#[test]
fn an_inventory_needs_a_site() {
    assert_error("[[route]]\nname = \"log\"\nkind = \"log\"\n", "site", "no [[site]]");
}

#[test]
fn damping_thresholds_are_ordered() {
    assert_error(&format!("[policy.damping]\nreuse_below = 3000\n{BASE}"), "policy.damping.reuse_below", "must be below suppress_above");
    assert_error(&format!("[policy.damping]\nsuppress_above = 7000\n{BASE}"), "policy.damping.suppress_above", "above penalty_max");
}

#[test]
fn percentages_are_at_most_100() {
    assert_error(&format!("[policy]\nobserver_suspect_percent = 101\n{BASE}"), "policy.observer_suspect_percent", "not a percentage");
    assert_error(&format!("[policy.budget]\nfleet_percent_max = 150\n{BASE}"), "policy.budget.fleet_percent_max", "not a percentage");
    assert_error(
        &format!("[policy.integrity]\nchanged_percent_max = 150\n{BASE}"),
        "policy.integrity.changed_percent_max",
        "not a percentage",
    );
}

#[test]
fn omitted_policy_fields_take_the_defaults() {
    let s = load("t.toml", &format!("[policy]\ntick = \"2s\"\n[policy.budget]\nwindow = \"5m\"\n{BASE}"))
        .unwrap_or_else(|e| panic!("{}", render(&e)));
    let mut expected = ward_core::inventory::Policy { tick_ms: 2_000, ..Default::default() };
    expected.budget.window_ms = 300_000;
    assert_eq!(s.policy(), &expected);
}

#[test]
fn replication_evidence_policy() {
    let s = load("t.toml", &format!("[policy]\nevidence_max_age = \"45s\"\npromotion_data_loss = \"allow\"\n{BASE}"))
        .unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(s.policy().evidence_max_age_ms, 45_000);
    assert_eq!(s.policy().promotion_data_loss, ward_core::inventory::PromotionDataLoss::Allow);
    assert_error(&format!("[policy]\npromotion_data_loss = \"sometimes\"\n{BASE}"), "policy.promotion_data_loss", "unknown value");
    assert_error(&format!("[policy]\nevidence_max_age = \"0s\"\n{BASE}"), "policy.evidence_max_age", "more than zero");
    // A replication check probing less often than the bound leaves standbys unpromotable.
    let replicated = with(
        "labels = { role = \"web\" }\n\n[[node]]",
        "labels = { role = \"web\" }\nreplication = { source = \"n2\", lag_max = \"30s\", check = \"http\" }\n\n[[node]]",
    )
    .replacen("kind = \"http\"", "kind = \"postgres\"", 1);
    load("t.toml", &replicated).unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_error(
        &format!("[policy]\nevidence_max_age = \"1ms\"\n{replicated}"),
        "policy.evidence_max_age",
        "not longer than check http's interval",
    );
}

#[test]
fn dependency_cycles_are_rejected() {
    let text = with("labels = { role = \"web\" }\n\n[[node]]", "labels = { role = \"web\" }\ndepends_on = [\"n2\"]\n\n[[node]]").replacen(
        "address = \"127.0.0.2\"",
        "address = \"127.0.0.2\"\ndepends_on = [\"n1\"]",
        1,
    );
    let e = assert_error(&text, "node[n2].depends_on", "dependency cycle: n1 -> n2 -> n1");
    assert!(!e.hint.is_empty());
    assert_error(&with("address = \"127.0.0.2\"", "address = \"127.0.0.2\"\ndepends_on = [\"n2\"]"), "node[n2].depends_on", "n2 -> n2");
}

#[test]
fn every_candidate_needs_a_check_running_on_it() {
    let text = with("nodes = { role = \"web\" }", "nodes = [\"n1\"]");
    let e = assert_error(&text, "service[svc].candidates", "n2");
    assert!(e.hint.contains("check"));
}

#[test]
fn names_resolve_to_inventory_order_ids() {
    use ward_core::ids::*;
    let text = with("candidates = { role = \"web\" }", "candidates = [\"n2\", \"n1\"]");
    let s = load("t.toml", &text).unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(s.services()[0].candidates, vec![NodeId(0), NodeId(1)]);
    assert_eq!(s.hooks()[0].services, vec![ServiceId(0)]);
    assert_eq!(s.services()[0].actuator, HookId(0));
    assert_eq!(s.services()[0].notify, vec![RouteId(0)]);
    assert_eq!(s.services()[0].group, "svc");
    assert_eq!(s.checks()[0].rise, 2);
}

#[test]
fn hash_is_sha256_of_the_bytes() {
    let s = load("t.toml", BASE).unwrap_or_else(|e| panic!("{}", render(&e)));
    let again = load("other.toml", BASE).unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(s.hash(), again.hash());
    assert!(s.hash().chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

#[test]
fn unreadable_file_is_an_error() {
    let errs = load_file(Path::new("/nonexistent/ward.toml")).err().unwrap_or_default();
    assert_eq!(errs.len(), 1);
    assert!(errs[0].message.contains("cannot read"));
}

#[test]
fn summary_counts_things() {
    let s = load("t.toml", BASE).unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(summary(&s), "2 nodes in 1 site, 1 observer (quorum 1), 1 check, 1 service (1 vip), 1 hook, 1 route");
}

#[test]
fn several_bad_fields_in_one_item_are_all_reported() {
    let text = with(
        "site = \"a\"\naddress = \"127.0.0.2\"",
        "site = \"b\"\naddress = \"127.0.0.2\"\npriority = \"high\"\nlifecycle = 3\ncolour = 1",
    );
    let errs = errors(&text);
    for field in ["node[n2].site", "node[n2].priority", "node[n2].lifecycle", "node[n2].colour"] {
        assert!(errs.iter().any(|e| e.field == field), "no {field} in:\n{}", render(&errs));
    }
}

#[test]
fn timeout_fall_below_fall_is_rejected() {
    let text = with("timeout = \"500ms\"\nnodes", "timeout = \"500ms\"\nfall = 3\ntimeout_fall = 2\nnodes");
    let e = assert_error(&text, "check[http].timeout_fall", "below fall 3");
    assert!(e.hint.contains("at least fall"), "{}", e.hint);
    let ok = with("timeout = \"500ms\"\nnodes", "timeout = \"500ms\"\nfall = 2\ntimeout_fall = 8\nnodes");
    let s = load("t.toml", &ok).unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!((s.checks()[0].fall, s.checks()[0].timeout_fall), (2, 8));
    assert_eq!(load("t.toml", BASE).map(|s| s.checks()[0].timeout_fall).ok(), Some(3), "defaults to fall");
}

#[test]
fn follows_must_name_a_primary_whose_candidates_it_covers() {
    let db = r#"
[[service]]
name = "db"
kind = "primary"
candidates = ["n1"]
actuator = "api"
"#;
    let not_primary = format!("{}\nfollows = \"svc\"\n", with("notify = [\"log\"]", "notify = [\"log\"]"));
    assert_error(&not_primary, "service[svc].follows", "only a primary service can be followed");
    let good = format!("{BASE}follows = \"db\"\n{db}");
    let s = load("t.toml", &good).unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(s.services()[0].follows, Some(ward_core::ids::ServiceId(1)));
    let narrow = format!(
        "{}follows = \"db\"\n{}",
        BASE.replace("candidates = { role = \"web\" }\ninitial", "candidates = [\"n2\"]\ninitial")
            .replace("initial = [\"n1\"]", "initial = [\"n2\"]"),
        db
    );
    assert_error(&narrow, "service[svc].follows", "n1 can become primary of \"db\"");
    assert_error(&format!("{BASE}follows = \"nope\"\n"), "service[svc].follows", "nope");
}

#[test]
fn fleet_scope_policy_fields_are_checked_and_named() {
    assert_error(&format!("[policy.budget]\npool_percent_max = 101\n{BASE}"), "policy.budget.pool_percent_max", "not a percentage");
    assert_error(&format!("[policy.rollout]\npool_percent_max = 200\n{BASE}"), "policy.rollout.pool_percent_max", "not a percentage");
    assert_error(&format!("[policy.rollout]\ndomains_max = 0\n{BASE}"), "policy.rollout.domains_max", "no rollout could ever");
}

#[test]
fn agent_leases_policy() {
    let s = load(
        "t.toml",
        &format!("[policy]\nfence_retry_after = \"10s\"\n\n[policy.agent]\nlease = \"10s\"\nrenew_every = \"2s\"\nmargin = \"3s\"\n{BASE}")
            .replacen("address = \"127.0.0.2\"", "address = \"127.0.0.2\"\nagent = true", 1),
    )
    .unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!((s.policy().agent.lease_ms, s.policy().agent.renew_every_ms, s.policy().agent.margin_ms), (10_000, 2_000, 3_000));
    assert_eq!(s.policy().fence_retry_after_ms, 10_000);
    assert!(s.nodes().iter().any(|n| n.agent));
    // One late renewal must not lapse every lease.
    let e = assert_error(
        &format!("[policy]\n[policy.agent]\nlease = \"1s\"\nrenew_every = \"1s\"\n{BASE}"),
        "policy.agent.lease",
        "shorter than two renewals",
    );
    assert!(e.hint.contains("twice renew_every"));
    // The margin must cover an agent clock running 1 % slow over the lease.
    assert_error(&format!("[policy]\n[policy.agent]\nlease = \"10m\"\nmargin = \"1s\"\n{BASE}"), "policy.agent.margin", "1 % slow");
    assert_error(&format!("[policy]\n[policy.agent]\nlease = \"five\"\n{BASE}"), "policy.agent.lease", "");
}
