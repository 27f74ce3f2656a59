//! The scheduler against loopback servers. Bounds are generous on purpose: CI
//! machines are slow and shared, and a flaky test is worse than a loose one.

mod common;

use std::time::{Duration, Instant};

use common::{silent_server, tcp_accepting};
use tokio::sync::mpsc;
use ward_core::ids::{ObserverId, ProbeId};
use ward_core::inventory::CheckKind;
use ward_core::observation::{Observation, ProbeOutcome};
use ward_probe::{ProbeSpec, Scheduler, SchedulerConfig};

fn tcp_specs(count: u32, first_id: u32, target: &str, interval_ms: u64, timeout_ms: u64) -> Vec<ProbeSpec> {
    (0..count)
        .map(|index| {
            let mut spec = ProbeSpec::new(ProbeId(first_id + index), CheckKind::Tcp, target);
            spec.node = format!("node{index}");
            spec.interval = Duration::from_millis(interval_ms);
            spec.timeout = Duration::from_millis(timeout_ms);
            spec
        })
        .collect()
}

fn drain(receiver: &mut mpsc::Receiver<Observation>) -> Vec<Observation> {
    let mut all = Vec::new();
    while let Ok(observation) = receiver.try_recv() {
        all.push(observation);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_probes_every_100ms_for_2s() {
    let address = tcp_accepting().await.to_string();
    let (sink, mut receiver) = mpsc::channel(100_000);
    let config = SchedulerConfig { concurrency_max: 64, ..SchedulerConfig::default() };
    let handle = Scheduler::start(tcp_specs(200, 0, &address, 100, 80), ObserverId(3), sink, config);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = handle.stats();
    handle.stop().await;
    let observations = drain(&mut receiver);
    // 200 probes × 20 intervals = 4,000 runs expected; allow a slow machine half of that.
    assert!((2_000..=4_400).contains(&stats.started), "{stats:?}");
    assert!(stats.in_flight_max <= 64, "{stats:?}");
    assert_eq!(stats.dropped, 0);
    assert!(stats.passed >= stats.started * 9 / 10, "{stats:?}");
    let after = observations.len() as u64;
    assert!(after >= stats.passed, "every result is delivered: {after} < {}", stats.passed);
    let first = &observations[0];
    assert_eq!(first.observer, ObserverId(3));
    assert_eq!(first.outcome, ProbeOutcome::Pass);
    assert_eq!(first.observer_clock_ms, Some(first.at_ms));
    assert!(first.probe.0 < 200);
    // Every probe ran, not just the early ones.
    let mut seen = [false; 200];
    observations.iter().for_each(|observation| seen[observation.probe.index()] = true);
    assert!(seen.iter().all(|&seen| seen));
    // Every finished run has a latency sample. The counters are read one by one
    // while runs keep finishing, so the histogram may hold up to a full set of
    // in-flight runs more than the outcome counters read before it.
    let tcp = &stats.latency.iter().find(|(kind, _)| *kind == CheckKind::Tcp).unwrap().1;
    let finished = stats.passed + stats.failed + stats.timed_out;
    assert!((finished..=finished + 64).contains(&tcp.count()), "{} latency samples for {finished} finished runs", tcp.count());
}

/// Slow probes and a small limit: runs due while every slot is taken are skipped,
/// never queued, and the limit holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_holds_and_the_excess_is_skipped() {
    let address = silent_server().await;
    let mut specs = tcp_specs(200, 0, "", 100, 300);
    for spec in &mut specs {
        spec.kind = CheckKind::Http;
        spec.target = format!("http://{address}/");
    }
    let (sink, _receiver) = mpsc::channel(100_000);
    let handle = Scheduler::start(specs, ObserverId(0), sink, SchedulerConfig { concurrency_max: 16, ..SchedulerConfig::default() });
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let stats = handle.stats();
    assert!(stats.in_flight_max <= 16, "{stats:?}");
    assert!(stats.in_flight <= 16, "{stats:?}");
    assert!(stats.skipped > 1_000, "{stats:?}");
    // 16 slots, 300 ms each, 1.5 s: at most ~5 rounds of 16, plus slack.
    assert!(stats.started <= 16 * 7, "{stats:?}");
    let started = Instant::now();
    handle.stop().await;
    assert!(started.elapsed() < Duration::from_millis(300 + 1_500), "stop waits only for runs in flight");
}

/// Nobody reads the channel: results are dropped and counted, probing goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_channel_drops_and_counts_without_blocking() {
    let address = tcp_accepting().await.to_string();
    let (sink, receiver) = mpsc::channel(10);
    let handle = Scheduler::start(tcp_specs(100, 0, &address, 50, 40), ObserverId(0), sink, SchedulerConfig::default());
    tokio::time::sleep(Duration::from_millis(600)).await;
    let first = handle.stats();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let second = handle.stats();
    handle.stop().await;
    assert!(first.dropped > 0, "{first:?}");
    assert!(second.started > first.started + 200, "still probing: {first:?} then {second:?}");
    assert!(second.dropped > first.dropped);
    assert_eq!(receiver.len(), 10);
}

/// After `replace` returns, no observation with an old probe id is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_switches_ids_cleanly() {
    let address = tcp_accepting().await.to_string();
    let (sink, mut receiver) = mpsc::channel(100_000);
    let handle = Scheduler::start(tcp_specs(50, 0, &address, 50, 40), ObserverId(0), sink, SchedulerConfig::default());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The same 50 probes, renumbered (as a reload that inserted a check before them
    // would), plus 10 new ones.
    let mut specs = tcp_specs(60, 1_000, &address, 50, 40);
    specs.rotate_left(10);
    handle.replace(specs).await;
    let before = drain(&mut receiver);
    assert!(before.iter().all(|observation| observation.probe.0 < 50));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stats = handle.stats();
    handle.stop().await;
    let after = drain(&mut receiver);
    assert!(!after.is_empty());
    assert!(after.iter().all(|observation| (1_000..1_060).contains(&observation.probe.0)), "old ids after replace");
    assert_eq!(stats.probes, 60);
    let mut seen = [false; 60];
    after.iter().for_each(|observation| seen[observation.probe.0 as usize - 1_000] = true);
    assert!(seen.iter().all(|&seen| seen));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_spread_over_their_interval() {
    let address = tcp_accepting().await.to_string();
    let (sink, mut receiver) = mpsc::channel(100_000);
    let config = SchedulerConfig { jitter_percent: 0, ..SchedulerConfig::default() };
    let handle = Scheduler::start(tcp_specs(400, 0, &address, 1_000, 500), ObserverId(0), sink, config);
    let started = Instant::now();
    // Phases are spread over the interval: after 300 ms about 30 % have run once,
    // where probes started together would all have run at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let early = drain(&mut receiver).len() as u64;
    let elapsed = started.elapsed().as_millis() as u64;
    handle.stop().await;
    if elapsed < 900 {
        let expected = 400 * elapsed / 1_000;
        assert!(early <= expected + 80 && early + 80 >= expected, "{early} of 400 ran in the first {elapsed} ms");
    }
}
