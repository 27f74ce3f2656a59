//! Scenario tests are data: every file under `scenarios/` runs (adding a case is
//! adding a file), plus determinism and precise errors for bad files.

use std::path::{Path, PathBuf};

use ward_sim::{load_scenario, run_scenario};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

/// Every `*.toml` in scenarios/ runs with its own seed and must meet its
/// expectations; a new scenario needs no code. All failures are reported at once.
#[test]
fn every_scenario_meets_its_expectations() {
    let files = ward_sim::scenario::files_in(&scenarios_dir()).unwrap();
    assert!(!files.is_empty(), "no scenarios in {}", scenarios_dir().display());
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let scenario = match load_scenario(path) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{name}: does not load: {e}"));
                continue;
            }
        };
        let seed = scenario.seed;
        match std::panic::catch_unwind(|| run_scenario(&scenario, seed)) {
            Ok(Ok(report)) if report.passed => {}
            Ok(Ok(report)) => failures.push(format!("{name} (seed {seed}):\n{}", report.text())),
            Ok(Err(e)) => failures.push(format!("{name} (seed {seed}): {e}")),
            Err(_) => failures.push(format!("{name} (seed {seed}): the run panicked")),
        }
    }
    assert!(failures.is_empty(), "{} of {} scenario(s) failed:\n{}", failures.len(), files.len(), failures.join("\n"));
}

#[test]
fn same_seed_same_journal() {
    let path = scenarios_dir().join("000-persona-flapping-site.toml");
    let scenario = load_scenario(&path).unwrap();
    let a = run_scenario(&scenario, 7).unwrap();
    let b = run_scenario(&scenario, 7).unwrap();
    assert_eq!(a.ward.journal_sha256, b.ward.journal_sha256);
    assert_eq!(a.naive.journal_sha256, b.naive.journal_sha256);
    assert_eq!(a.timeline_markdown, b.timeline_markdown);
}

#[test]
fn bad_scenarios_get_precise_errors() {
    let base = scenarios_dir();
    let cases = [
        ("name = \"x\"\ninventory = \"../examples/persona.toml\"\nduration = \"1h\"\ntypo = 1\n", "typo"),
        ("name = \"x\"\ninventory = \"../examples/persona.toml\"\nduration = \"1x\"\n", "`duration`: `1x`: unknown unit"),
        (
            "name = \"x\"\ninventory = \"../examples/persona.toml\"\nduration = \"1h\"\n[[event]]\nat = \"5m\"\nkind = \"node_crash\"\n",
            "`event[0].node`: give exactly one of `node` or a non-empty `nodes` list",
        ),
        (
            "name = \"x\"\ninventory = \"../examples/persona.toml\"\nduration = \"1h\"\n[[event]]\nat = \"5m\"\nkind = \"node_crash\"\nnode = \"a\"\nerror = \"e\"\n",
            "`event[0].error`: is not used by kind `node_crash`",
        ),
        (
            "name = \"x\"\ninventory = \"../examples/persona.toml\"\nduration = \"1h\"\n[[event]]\nat = \"2h\"\nkind = \"heal\"\n",
            "is after the end",
        ),
        ("name = \"x\"\ninventory = \"nope.toml\"\nduration = \"1h\"\n", "`inventory`: cannot read"),
        (
            "name = \"x\"\ninventory = \"../examples/persona.toml\"\nduration = \"1h\"\n[[expect.check]]\nkind = \"bogus\"\n",
            "`expect.check[0].kind`: unknown check",
        ),
    ];
    for (text, want) in cases {
        let err = ward_sim::scenario::parse("bad.toml", text, &base).err().unwrap_or_else(|| panic!("accepted: {text}"));
        let msg = err.to_string();
        assert!(msg.starts_with("bad.toml"), "{msg}");
        assert!(msg.contains(want), "want `{want}` in: {msg}");
    }
}

/// What a scenario names must exist, and what it expects must be possible:
/// otherwise it passes while testing nothing.
#[test]
fn meaningless_scenarios_are_rejected_with_the_field_and_the_fix() {
    let base = scenarios_dir();
    let head = "name = \"x\"\ninventory = \"../examples/persona.toml\"\nduration = \"1h\"\n";
    let event = |body: &str| format!("{head}[[event]]\nat = \"5m\"\n{body}\n");
    let cases = [
        (event("kind = \"partition\"\nbetween = [\"site:ams\", \"*\"]"), "`event[0].between`: no site named `ams`", "phx1, scl2"),
        (event("kind = \"heal\"\nbetween = [\"observer:ctl-nyc\", \"*\"]"), "`event[0].between`: no observer named `ctl-nyc`", "ctl-phx1"),
        (event("kind = \"node_crash\"\nnode = \"phx1-webb\""), "`event[0].node`: no node named `phx1-webb`", "phx1-web"),
        (event("kind = \"misconfigured\"\nnode = \"phx1-web\"\ncheck = \"http\""), "`event[0].check`: no check named `http`", "web-http"),
        (
            event("kind = \"operator\"\ncommand = \"switchover\"\nservice = \"persona-dns\"\nto = \"phx1-db1\""),
            "`event[0].to`: `phx1-db1` is not a candidate of `persona-dns`",
            "phx1-web",
        ),
        (
            event("kind = \"operator\"\ncommand = \"sync\"\nservice = \"persona-dns\"\nfrom = \"phx1-web\"\nto = \"scl2-web\""),
            "`event[0].service`: `persona-dns` is a dns service; only a sync service can sync",
            "",
        ),
        (format!("{head}[[expect.check]]\nkind = \"decision\"\nmax = 0\n"), "`expect.check[0].min`: min 1 is above max 0", "set `min = 0`"),
        (format!("{head}[expect]\nward.availability_min = 99.9\n"), "`expect.ward.availability_min`: 99.9 is not an availability", "0.999"),
        (
            format!("{head}[expect]\nnaive.moves_min = 5\nnaive.moves_max = 2\n"),
            "`expect.naive.moves_min`: moves_min is above moves_max",
            "",
        ),
    ];
    for (text, want, hint) in cases {
        let err = ward_sim::scenario::parse("bad.toml", &text, &base).err().unwrap_or_else(|| panic!("accepted: {text}"));
        let msg = err.to_string();
        assert!(msg.starts_with("bad.toml") && msg.contains(want) && msg.contains(hint), "want `{want}` and `{hint}` in: {msg}");
    }
}

/// An approval scripted with text that never matches a pending request would be
/// refused at run time (nothing to approve): the scenario fails saying so.
#[test]
fn an_approval_that_never_matches_fails_the_scenario() {
    let base = scenarios_dir();
    let text = include_str!("../../../scenarios/031-approved-sync-preview-grew.toml");
    let text = text.replace("matching = \"would delete 100 files\"", "matching = \"would delete 1000 files\"");
    let scenario = ward_sim::scenario::parse("031-typo.toml", &text, &base).unwrap();
    let report = run_scenario(&scenario, scenario.seed).unwrap();
    assert!(!report.passed);
    let text = report.text();
    assert!(
        text.contains("[FAIL] ward.operator_commands") && text.contains("\"would delete 1000 files\" matched no pending approval"),
        "{text}"
    );
}

/// An http check named as a replication check could never report replication:
/// the inventory loader refuses it, and so does the scenario loader, saying where.
#[test]
fn a_scenario_whose_inventory_uses_an_http_replication_check_is_rejected() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let text = "name = \"x\"\ninventory = \"http-replication-check.toml\"\nduration = \"1h\"\n";
    let msg = ward_sim::scenario::parse("bad.toml", text, &base).expect_err("rejected").to_string();
    assert!(msg.contains("`inventory`") && msg.contains("node[db2].replication.check"), "{msg}");
    assert!(msg.contains("is a http check, which cannot report replication state"), "{msg}");
}
