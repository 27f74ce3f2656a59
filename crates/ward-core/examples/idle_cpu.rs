//! What an idle fleet costs the engine: one `Engine` with 10,000 probes (10,000
//! nodes, one check each, 1,000 VIP services), two observers reporting every probe
//! as passing once a second, for one simulated hour. Nothing ever changes, so
//! every planning round is overhead.
//!
//! The loop plays the shell: observations in time order (each observer's round
//! spread over the second in 10 ms slices), and `Input::Tick` whenever
//! `poll_timeout()` has come. Prints the wall time of the loop (single-threaded:
//! the engine's CPU time, observation intake included) and the planning rounds.
//!
//! Run: `cargo run --release -p ward-core --example idle_cpu`.
//!
//! Figures on the shared 2-core machine (wall time is noisy there):
//! - fixed 1 s tick (before the engine woke on its deadlines): 3,617 planning
//!   rounds, 11.1 to 14.7 s;
//! - waking on real deadlines (`engine/wake.rs`, idle cap 10 s): 379 planning
//!   rounds, 6.0 s. What remains is mostly observation intake (20,000 a second).

// A measurement from outside the engine: it reads the wall clock, the core never does.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::sync::Arc;
use std::time::Instant;

use ward_core::engine::{Engine, Input, Mode};
use ward_core::ids::*;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{CheckKind, ServiceKind, Snapshot};
use ward_core::observation::{Observation, ProbeOutcome};

const NODES: u32 = 10_000;
const SERVICES: u32 = 1_000;
const OBSERVERS: u16 = 2;
const INTERVAL_MS: u64 = 1_000;
/// Observations of one round arrive in this many slices across the interval.
const SLICES: u64 = 100;
const HOUR_MS: u64 = 3_600_000;

fn fleet() -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new();
    let sites: Vec<SiteId> = (0..2).map(|i| b.site(&format!("site{i}"))).collect();
    for o in 0..OBSERVERS {
        b.observer(&format!("obs{o}"), sites[o as usize % sites.len()]);
    }
    let nodes: Vec<NodeId> = (0..NODES).map(|i| b.node(&format!("n{i}"), sites[(i % 2) as usize], &[("role", "lb")])).collect();
    let check = b.check("http", CheckKind::Http, &nodes, 2, 2);
    b.check_mut(check).interval_ms = INTERVAL_MS;
    for s in 0..SERVICES {
        let first = s * 10;
        let candidates = [nodes[first as usize], nodes[(first + 5) as usize]];
        b.service(&format!("vip{s}"), ServiceKind::Vip, &format!("group{}", s % 10), &candidates, &candidates[..1]);
    }
    Arc::new(b.build())
}

fn main() {
    let snapshot = fleet();
    let probes = snapshot.probes().len() as u32;
    assert_eq!(probes, 10_000);
    let per_slice = probes.div_ceil(SLICES as u32);
    let slice_ms = INTERVAL_MS / SLICES;

    let started = Instant::now();
    let mut engine = Engine::new(snapshot.clone(), Mode::Guarded, 0);
    let mut outputs = 0u64;
    let mut ticks_delivered = 0u64;
    let mut now_ms = 0;
    while now_ms < HOUR_MS {
        let slice = (now_ms % INTERVAL_MS) / slice_ms;
        let from = slice as u32 * per_slice;
        let to = (from + per_slice).min(probes);
        for probe in from..to {
            for observer in 0..OBSERVERS {
                let observation = Observation::new(ProbeId(probe), ObserverId(observer), now_ms, ProbeOutcome::Pass);
                engine.handle(now_ms, Input::Observation(observation));
            }
        }
        while engine.poll_output().is_some() {
            outputs += 1;
        }
        let next_ms = now_ms + slice_ms;
        // Wake the engine at every timeout that falls before the next observations.
        while let Some(wake_ms) = engine.poll_timeout().filter(|&t| t < next_ms) {
            let at_ms = wake_ms.max(now_ms);
            engine.handle(at_ms, Input::Tick);
            ticks_delivered += 1;
            while engine.poll_output().is_some() {
                outputs += 1;
            }
            if engine.poll_timeout().is_some_and(|t| t <= at_ms) {
                break;
            }
        }
        now_ms = next_ms;
    }
    let elapsed = started.elapsed();
    println!(
        "idle_cpu: {} probes x {} observers, 1 simulated hour: engine CPU {:.2} s, planning rounds {}, ticks delivered {}, outputs {}",
        probes,
        OBSERVERS,
        elapsed.as_secs_f64(),
        engine.planning_rounds(),
        ticks_delivered,
        outputs
    );
}
