//! Scenario tests are data: one test per file under `scenarios/` (adding a case is
//! adding a file), plus determinism and a random fault sweep.

use std::path::{Path, PathBuf};

use ward_sim::{load_scenario, run_scenario};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

/// Runs one scenario file with its own seed and asserts every expectation.
fn check_scenario(file: &str) {
    let path = scenarios_dir().join(file);
    let scenario = load_scenario(&path).unwrap_or_else(|e| panic!("{e}"));
    let report = run_scenario(&scenario, scenario.seed).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.passed, "{}", report.text());
}

/// Every file in scenarios/ must have a test below; this catches a forgotten one.
#[test]
fn every_scenario_file_has_a_test() {
    let listed = include_str!("scenarios.rs");
    for file in ward_sim::scenario::files_in(&scenarios_dir()).unwrap() {
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        assert!(listed.contains(&format!("\"{name}\"")), "scenarios/{name} has no test in tests/scenarios.rs");
    }
}

macro_rules! scenario_tests {
    ($($test:ident => $file:literal),* $(,)?) => {
        $( #[test] fn $test() { check_scenario($file); } )*
    };
}

scenario_tests! {
    s000_persona_flapping_site => "000-persona-flapping-site.toml",
    s001_wikimedia_sync_from_unprovisioned => "001-wikimedia-sync-from-unprovisioned.toml",
    s002_graphite_torn_inventory => "002-graphite-torn-inventory.toml",
    s003_matrix_pause_and_diskfill => "003-matrix-pause-and-diskfill.toml",
    s004_bytemark_rolling_reboot => "004-bytemark-rolling-reboot.toml",
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
