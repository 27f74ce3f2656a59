//! A seeded random fault sweep (in the VOPR's spirit). One u64 seed draws a
//! topology and a fault schedule (`gen`); a run under `Mode::Guarded` is checked
//! for safety after every step and, once every fault is healed and every hold
//! released, for convergence (`check`); a failing schedule is shrunk greedily
//! (`shrink`). All randomness comes from ChaCha8 seeded from that one seed.

mod check;
mod gen;
mod shrink;

pub use check::{check, check_deterministic, Outcome, Violation};
pub use gen::{generate, scenario, FaultSpec, Schedule, Topology};
pub use shrink::{describe, shrink};

/// Faults start within this window of simulated time.
pub const FAULT_WINDOW_MS: u64 = 12 * 60_000;
/// Every fault has ended by now; then everything is healed and every hold released.
pub const HEAL_MS: u64 = 15 * 60_000;
/// The run ends this long after the heal: detection, a move, and the alerts'
/// quiet period (`RESOLVE_QUIET_MS`, 5 min) with room to spare.
pub const SETTLE_MS: u64 = 12 * 60_000;
/// Probe interval in swept worlds.
pub const PROBE_INTERVAL_MS: u64 = 5_000;

/// The seed of schedule `index` of a sweep started from `base` (SplitMix64 of both,
/// so neighbouring schedules are unrelated).
pub fn schedule_seed(base: u64, index: u64) -> u64 {
    let mut z = base ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The one-line reproduction of a schedule.
pub fn reproduction(seed: u64) -> String {
    format!("ward simulate --sweep 1 --seed {seed}")
}

/// A sweep's totals.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub schedules: u64,
    pub violations: Vec<Violation>,
}

/// Runs `count` schedules from `base`; schedule i uses `schedule_seed(base, i)`
/// (a sweep of one runs `base` itself, so a reproduction line is exact). Every
/// `determinism_every`-th schedule (0: none) is run twice and its journals compared.
pub fn sweep(base: u64, count: u64, determinism_every: u64, mut on_violation: impl FnMut(&Violation)) -> Totals {
    let mut totals = Totals::default();
    for i in 0..count {
        let seed = if count == 1 { base } else { schedule_seed(base, i) };
        let schedule = generate(seed);
        let result =
            if determinism_every > 0 && i % determinism_every == 0 { check_deterministic(&schedule) } else { check(&schedule).map(|_| ()) };
        totals.schedules += 1;
        if let Err(v) = result {
            on_violation(&v);
            totals.violations.push(v);
        }
    }
    totals
}
