//! Every file in examples/ is a contract: all must validate except the ones named
//! `*-broken.toml`, which must fail for the reason they exist. And no input, not
//! even an inventory torn mid-write (seed 002), may panic the loader or slip a
//! rule violation through.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ward_core::ids::*;
use ward_core::inventory::*;
use ward_inventory::{load, load_file, InventoryError};

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn render(errs: &[InventoryError]) -> String {
    errs.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_example_validates_except_the_broken_ones() {
    let files = examples();
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| Some(p.file_name()?.to_str()?.to_string()))
        .collect();
    for expected in [
        "reference.toml",
        "persona.toml",
        "wikimedia.toml",
        "graphite.toml",
        "matrix.toml",
        "bytemark.toml",
        "bytemark-broken.toml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "examples/{expected} is missing"
        );
    }
    for path in files {
        let broken = path.to_string_lossy().ends_with("-broken.toml");
        match load_file(&path) {
            Ok(snapshot) => {
                assert!(!broken, "{} should not validate", path.display());
                check_invariants(&snapshot);
            }
            Err(errs) => assert!(broken, "{} failed:\n{}", path.display(), render(&errs)),
        }
    }
}

#[test]
fn seed_004_broken_hook_is_rejected_with_the_existing_services() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bytemark-broken.toml");
    let errs = load_file(&path).err().unwrap_or_default();
    let e = errs
        .iter()
        .find(|e| e.field == "hook[default-route].services")
        .unwrap_or_else(|| panic!("{}", render(&errs)));
    assert!(e.message.contains("service \"gw\" does not exist"), "{e}");
    assert!(e.hint.contains("gw-v4") && e.hint.contains("gw-v6"), "{e}");
    assert!(e.line > 0 && e.column > 0);
    assert_eq!(errs.len(), 1, "{}", render(&errs));
}

#[test]
fn example_details_match_their_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let ok = |name: &str| load_file(&dir.join(name)).unwrap_or_else(|e| panic!("{}", render(&e)));

    let graphite = ok("graphite.toml");
    assert_eq!(graphite.nodes().len(), 50);
    assert_eq!(graphite.services().len(), 40);
    assert_eq!(graphite.observers().len(), 3);
    for service in graphite.services() {
        assert_eq!(service.candidates.len(), 40);
        assert!(service.candidates.iter().all(|&n| graphite
            .node(n)
            .labels
            .get("config")
            .map(String::as_str)
            == Some("ingest")));
    }

    let wikimedia = ok("wikimedia.toml");
    let tin = wikimedia
        .node_id("tin")
        .map(|id| wikimedia.node(id).lifecycle);
    assert_eq!(tin, Some(Lifecycle::Syncing));
    assert_eq!(wikimedia.services()[0].kind, ServiceKind::Sync);

    let persona = ok("persona.toml");
    let db = persona
        .node_id("scl2-db1")
        .map(|id| persona.node(id).replication.clone());
    assert!(matches!(
        db,
        Some(Some(Replication {
            lag_max_ms: 30_000,
            ..
        }))
    ));

    let reference = ok("reference.toml");
    assert_eq!(
        ward_inventory::summary(&reference),
        "4 nodes in 2 sites, 3 observers (quorum 2), 3 checks, 1 service (1 dns), 1 hook, 2 routes"
    );
}

/// A file torn at any byte either fails to load or loads into a snapshot that
/// still satisfies every rule.
#[test]
fn truncated_examples_never_panic_or_break_rules() {
    for path in examples() {
        let text = std::fs::read_to_string(&path).expect("readable example");
        // Every byte for small files; large generated ones are sampled to keep the test fast.
        let step = (text.len() / 3000).max(1);
        for cut in (0..=text.len()).step_by(step).chain([text.len()]) {
            if !text.is_char_boundary(cut) {
                continue;
            }
            if let Ok(snapshot) = load("torn.toml", &text[..cut]) {
                check_invariants(&snapshot);
            }
        }
    }
}

mod fuzz {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Arbitrary text, and arbitrary edits of the reference, never panic.
        #[test]
        fn arbitrary_input_never_panics(text in "\\PC{0,200}") {
            if let Ok(s) = ward_inventory::load("fuzz.toml", &text) {
                super::check_invariants(&s);
            }
        }

        #[test]
        fn mutated_reference_never_panics(at in 0usize..4000, len in 0usize..40, insert in "[a-z0-9\"=\\[\\]{}, \n.]{0,12}") {
            let base = include_str!("../../../examples/reference.toml");
            let at = at.min(base.len());
            let end = (at + len).min(base.len());
            if base.is_char_boundary(at) && base.is_char_boundary(end) {
                let text = format!("{}{}{}", &base[..at], insert, &base[end..]);
                if let Ok(s) = ward_inventory::load("fuzz.toml", &text) {
                    super::check_invariants(&s);
                }
            }
        }
    }
}

/// The validation rules, restated independently over the output.
fn check_invariants(s: &Snapshot) {
    assert_eq!(s.hash().len(), 64);
    assert!(!s.sites().is_empty());
    assert!(!s.observers().is_empty());
    let q = s.policy().quorum as usize;
    assert!(q >= 1 && q <= s.observers().len());
    let d = &s.policy().damping;
    assert!(d.reuse_below < d.suppress_above && d.suppress_above <= d.penalty_max);
    let p = s.policy();
    for pct in [
        p.observer_suspect_percent,
        p.budget.group_percent_max,
        p.budget.fleet_percent_max,
        p.integrity.changed_percent_max,
    ] {
        assert!(pct <= 100);
    }
    for names in [
        s.sites().iter().map(|x| &x.name).collect::<Vec<_>>(),
        s.nodes().iter().map(|x| &x.name).collect(),
        s.checks().iter().map(|x| &x.name).collect(),
        s.services().iter().map(|x| &x.name).collect(),
        s.hooks().iter().map(|x| &x.name).collect(),
        s.routes().iter().map(|x| &x.name).collect(),
        s.observers().iter().map(|x| &x.name).collect(),
    ] {
        assert_eq!(
            names.len(),
            names.iter().collect::<HashSet<_>>().len(),
            "names unique"
        );
    }
    let node_ok = |n: NodeId| n.index() < s.nodes().len();
    let check_ok = |c: CheckId| c.index() < s.checks().len();
    let route_ok = |r: RouteId| r.index() < s.routes().len();
    for o in s.observers() {
        assert!(o.site.index() < s.sites().len());
    }
    for (i, n) in s.nodes().iter().enumerate() {
        assert!(n.site.index() < s.sites().len());
        assert!(n.depends_on.iter().all(|&d| node_ok(d) && d.index() != i));
        if let Some(r) = &n.replication {
            assert!(node_ok(r.source) && r.source.index() != i && check_ok(r.check));
            assert!(s.check(r.check).nodes.contains(&NodeId(i as u32)));
        }
        if let Some(c) = n.disk_check {
            assert!(s.check(c).nodes.contains(&NodeId(i as u32)));
        }
    }
    for c in s.checks() {
        assert!(c.timeout_ms > 0 && c.timeout_ms < c.interval_ms);
        assert!(c.rise >= 1 && c.fall >= 1);
        assert!(!c.nodes.is_empty() && c.nodes.iter().all(|&n| node_ok(n)));
        assert!(c.nodes.windows(2).all(|w| w[0] < w[1]), "inventory order");
    }
    for h in s.hooks() {
        assert!(h.services.iter().all(|sv| sv.index() < s.services().len()));
        assert!(h.parallel_max >= 1 && h.timeout_ms > 0);
    }
    for r in s.routes() {
        assert!(r.escalate_to.is_none_or(route_ok));
    }
    assert!(p.default_notify.iter().all(|&r| route_ok(r)));
    for sv in s.services() {
        assert!(!sv.candidates.is_empty() && sv.candidates.iter().all(|&n| node_ok(n)));
        assert!(
            sv.candidates.windows(2).all(|w| w[0] < w[1]),
            "inventory order"
        );
        assert!(sv.initial.iter().all(|n| sv.candidates.contains(n)));
        if sv.kind != ServiceKind::Dns {
            assert!(sv.initial.len() <= 1);
        }
        assert!(sv.checks.iter().chain(&sv.verify).all(|&c| check_ok(c)));
        assert!(sv.actuator.index() < s.hooks().len());
        assert!(sv.notify.iter().all(|&r| route_ok(r)));
        for &n in &sv.candidates {
            let seen = s.checks().iter().enumerate().any(|(ci, c)| {
                c.nodes.contains(&n)
                    && (sv.checks.is_empty() || sv.checks.contains(&CheckId(ci as u32)))
            });
            assert!(
                seen,
                "candidate {} of {} has no check",
                s.node_name(n),
                sv.name
            );
        }
    }
    // No dependency cycles: repeatedly peel nodes whose dependencies are all peeled.
    let mut done = vec![false; s.nodes().len()];
    loop {
        let mut progress = false;
        for (i, n) in s.nodes().iter().enumerate() {
            if !done[i] && n.depends_on.iter().all(|d| done[d.index()]) {
                done[i] = true;
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    assert!(done.iter().all(|&d| d), "dependency cycle slipped through");
}
