//! The random fault sweep (see `ward_sim::sweep`): schedules from a fixed seed,
//! each checked for safety during the run and convergence after the heal; every
//! 50th is run twice and must give the same journal.

use ward_sim::sweep;

const SEED: u64 = 0x5eed_0001;
const SCHEDULES: u64 = 1_000;

#[test]
fn random_fault_schedules_stay_safe_and_converge() {
    let mut shrunk = 0;
    let totals = sweep::sweep(SEED, SCHEDULES, 50, |v| {
        // Shrinking costs many runs: only the first few failures.
        shrunk += 1;
        if shrunk > 3 {
            eprintln!("{v}");
            return;
        }
        let small = sweep::shrink(v);
        eprintln!("{v}\n  shrunk ({} faults): {}\n{}", small.schedule.faults.len(), small.message, sweep::describe(&small.schedule));
    });
    assert_eq!(totals.schedules, SCHEDULES);
    assert!(totals.violations.is_empty(), "{} violation(s); first: {}", totals.violations.len(), totals.violations[0]);
}
