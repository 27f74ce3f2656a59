//! Greedy shrinking: drop faults one at a time while the schedule still fails.

use super::check::{check, Violation};
use super::gen::Schedule;

/// The smallest schedule reachable by dropping single faults that still fails,
/// with its violation. `v` is the original failure.
pub fn shrink(v: &Violation) -> Violation {
    let mut best = v.clone();
    let mut i = 0;
    while i < best.schedule.faults.len() {
        let mut smaller = best.schedule.clone();
        smaller.faults.remove(i);
        match check(&smaller) {
            Err(e) => best = e,
            Ok(_) => i += 1,
        }
    }
    best
}

/// The schedule's faults, one per line, for a report.
pub fn describe(s: &Schedule) -> String {
    let mut out = format!("topology: {:?}\n", s.topology);
    for (at, f) in &s.faults {
        out.push_str(&format!("  at {:>4} s: {f:?}\n", at / 1_000));
    }
    out
}
