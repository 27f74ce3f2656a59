//! `ward simulate`: runs incident scenarios against Ward and the naive baseline.
//!
//! `ward simulate scenarios/000-persona-flapping-site.toml --seed 7 --timeline t.md --output json`
//! `ward simulate --all scenarios/`
//! `ward simulate --sweep 1000 --seed 7` (random fault schedules; see `ward_sim::sweep`)

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use ward_sim::{load_scenario, run_scenario, ScenarioReport};

#[derive(clap::Args, Debug, Clone)]
pub struct SimulateArgs {
    /// A scenario file (TOML).
    pub scenario: Option<PathBuf>,
    /// Run every `*.toml` scenario in this folder.
    #[arg(long, value_name = "DIR", conflicts_with = "scenario")]
    pub all: Option<PathBuf>,
    /// Run N random fault schedules from `--seed` (default 0), checking safety and
    /// convergence; exits non-zero on any violation and prints its reproduction.
    #[arg(long, value_name = "N", conflicts_with_all = ["scenario", "all", "timeline"])]
    pub sweep: Option<u64>,
    /// Seed for the run (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the Ward run's timeline as Markdown to this file.
    #[arg(long, value_name = "FILE.md")]
    pub timeline: Option<PathBuf>,
    /// `--output json` prints machine-readable reports.
    #[arg(long = "output", value_name = "FORMAT", default_value = "text", value_parser = parse_output, action = clap::ArgAction::Set)]
    pub json: bool,
}

fn parse_output(text: &str) -> Result<bool, String> {
    match text {
        "json" => Ok(true),
        "text" => Ok(false),
        other => Err(format!("`{other}`: expected `text` or `json`")),
    }
}

/// Runs the scenarios; the exit code is 0 only when every expectation holds.
pub fn run(args: SimulateArgs) -> i32 {
    if let Some(count) = args.sweep {
        return run_sweep(count, args.seed.unwrap_or(0));
    }
    let files = match (&args.scenario, &args.all) {
        (Some(file), None) => vec![file.clone()],
        (None, Some(dir)) => match ward_sim::scenario::files_in(dir) {
            Ok(files) if !files.is_empty() => files,
            Ok(_) => {
                eprintln!("error: {}: no *.toml scenarios", dir.display());
                return 2;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        },
        _ => {
            eprintln!("error: give a scenario file or --all DIR");
            return 2;
        }
    };
    if args.timeline.is_some() && files.len() > 1 {
        eprintln!("error: --timeline needs a single scenario");
        return 2;
    }
    let (mut passed, mut failed) = (0, 0);
    let mut reports = Vec::new();
    for file in &files {
        match run_one(file, &args) {
            Ok(report) => {
                if report.passed {
                    passed += 1;
                } else {
                    failed += 1;
                }
                if !args.json {
                    print!("{}", report.text());
                }
                reports.push(report);
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if args.json {
        let json = if args.all.is_some() {
            serde_json::to_string_pretty(&reports)
        } else {
            reports.first().map_or(Ok("null".into()), serde_json::to_string_pretty)
        };
        println!("{}", json.expect("reports serialize"));
    } else {
        println!("{passed} passed, {failed} failed");
    }
    i32::from(failed > 0)
}

fn run_one(file: &Path, args: &SimulateArgs) -> Result<ScenarioReport, String> {
    let scenario = load_scenario(file).map_err(|e| e.to_string())?;
    let seed = args.seed.unwrap_or(scenario.seed);
    // An engine panic is a bug in the engine; report it with the seed that
    // reproduces it instead of aborting the whole sweep.
    let report = catch_unwind(AssertUnwindSafe(|| run_scenario(&scenario, seed)))
        .map_err(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            format!("{}: the run panicked (seed {seed}): {message}", file.display())
        })?
        .map_err(|e| format!("{e} (seed {seed})"))?;
    if let Some(path) = &args.timeline {
        std::fs::write(path, &report.timeline_markdown).map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    }
    Ok(report)
}

/// `--sweep N`: N schedules from `seed`; one line per violation plus its shrunk
/// schedule, then the totals.
fn run_sweep(count: u64, seed: u64) -> i32 {
    use ward_sim::sweep;
    let start = std::time::Instant::now();
    let totals = sweep::sweep(seed, count, 100, |v| {
        println!("VIOLATION {v}");
        let small = sweep::shrink(v);
        println!("  shrunk to {} fault(s): {}\n{}", small.schedule.faults.len(), small.message, sweep::describe(&small.schedule));
    });
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    println!(
        "schedules {}  violations {}  schedules/s {:.1}  (seed {seed})",
        totals.schedules,
        totals.violations.len(),
        totals.schedules as f64 / secs
    );
    if let Some(v) = totals.violations.first() {
        println!("reproduce: {}", sweep::reproduction(v.seed));
    }
    i32::from(!totals.violations.is_empty())
}
