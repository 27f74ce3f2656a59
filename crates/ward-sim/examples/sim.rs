//! Developer harness: `cargo run -p ward-sim --example sim -- FILE [SEED] [TIMELINE.md]`.
//! The real entry point is `ward simulate`.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scenario = ward_sim::load_scenario(std::path::Path::new(&args[1])).unwrap_or_else(|e| panic!("{e}"));
    let seed = args.get(2).map_or(scenario.seed, |s| s.parse().expect("seed"));
    let report = ward_sim::run_scenario(&scenario, seed).unwrap_or_else(|e| panic!("{e}"));
    print!("{}", report.text());
    if let Some(path) = args.get(3) {
        std::fs::write(path, &report.timeline_markdown).expect("write timeline");
        std::fs::write(format!("{path}.naive.md"), &report.naive_timeline_markdown).expect("write timeline");
    }
}
