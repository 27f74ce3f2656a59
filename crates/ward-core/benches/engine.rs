//! Planner and ingest throughput at fleet scale.
//! Targets (issue: core): a full planning round over 10,000 nodes and 100,000
//! services in under 50 ms; over 1 million observations ingested per second per core.
//! Run: `cargo bench -p ward-core --bench engine`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ward_core::engine::{Engine, Input, Mode};
use ward_core::ids::*;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{CheckKind, ServiceKind, Snapshot};
use ward_core::observation::{Observation, ProbeOutcome};

const NODES: u32 = 10_000;
const SERVICES: u32 = 100_000;
const OBSERVERS: u16 = 3;
const CANDIDATES_PER_SERVICE: u32 = 4;

fn fleet() -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new().policy(|p| {
        p.quorum = 2;
        p.budget.fleet_percent_max = 100;
        p.budget.group_percent_max = 100;
    });
    let sites: Vec<SiteId> = (0..10).map(|i| b.site(&format!("site{i}"))).collect();
    for o in 0..OBSERVERS {
        b.observer(&format!("obs{o}"), sites[o as usize]);
    }
    let nodes: Vec<NodeId> = (0..NODES).map(|i| b.node(&format!("n{i}"), sites[(i % 10) as usize], &[("role", "lb")])).collect();
    b.check("http", CheckKind::Http, &nodes, 1, 1);
    for s in 0..SERVICES {
        let first = (s * 7) % NODES;
        let candidates: Vec<NodeId> = (0..CANDIDATES_PER_SERVICE).map(|k| nodes[((first + k * 2_503) % NODES) as usize]).collect();
        let (kind, initial) = if s % 10 == 0 { (ServiceKind::Dns, candidates.clone()) } else { (ServiceKind::Vip, vec![candidates[0]]) };
        b.service(&format!("svc{s}"), kind, &format!("group{}", s % 100), &candidates, &initial);
    }
    Arc::new(b.build())
}

fn observe_all(engine: &mut Engine, snapshot: &Snapshot, now_ms: u64) {
    for probe in 0..snapshot.probes().len() as u32 {
        for observer in 0..OBSERVERS {
            engine.handle(now_ms, Input::Observation(Observation::new(ProbeId(probe), ObserverId(observer), now_ms, ProbeOutcome::Pass)));
        }
    }
}

fn warmed_engine(snapshot: &Arc<Snapshot>) -> (Engine, u64) {
    let mut engine = Engine::new(snapshot.clone(), Mode::Guarded, 0);
    let mut now_ms = 0;
    for _ in 0..3 {
        now_ms += 1_000;
        observe_all(&mut engine, snapshot, now_ms);
        engine.handle(now_ms, Input::Tick);
        while engine.poll_output().is_some() {}
    }
    (engine, now_ms)
}

fn planning_round(c: &mut Criterion) {
    let snapshot = fleet();
    let mut group = c.benchmark_group("plan");
    group.sample_size(20);
    group.bench_function("tick_10k_nodes_100k_services", |bencher| {
        bencher.iter_batched_ref(
            || warmed_engine(&snapshot),
            |(engine, now_ms)| {
                *now_ms += 1_000;
                engine.handle(*now_ms, Input::Tick);
                while engine.poll_output().is_some() {}
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn ingest(c: &mut Criterion) {
    let snapshot = fleet();
    let (mut engine, now_ms) = warmed_engine(&snapshot);
    let observations: Vec<Observation> = (0..1_000_000u32)
        .map(|i| {
            let probe = ProbeId(i.wrapping_mul(2_654_435_761) % snapshot.probes().len() as u32);
            Observation::new(
                probe,
                ObserverId((i % OBSERVERS as u32) as u16),
                now_ms,
                if i % 97 == 0 { ProbeOutcome::Fail } else { ProbeOutcome::Pass },
            )
        })
        .collect();
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(observations.len() as u64));
    group.sample_size(20);
    group.bench_function("observations_1m", |bencher| {
        bencher.iter(|| {
            for observation in &observations {
                engine.handle(now_ms, Input::Observation(observation.clone()));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, planning_round, ingest);
criterion_main!(benches);
