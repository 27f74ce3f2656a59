//! The crash test: the controller is SIGKILLed at random moments while a batch of
//! slow VIP moves is running, and restarted on the same data dir each time. Every
//! job ends exactly once, every VIP ends on a healthy node, and no apply runs twice
//! under the same fencing token. The seed is printed (WARD_E2E_SEED replays it).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// splitmix64: enough randomness for kill moments, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SERVICES: [&str; 4] = ["s1", "s2", "s3", "s4"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_batch_loses_nothing_and_repeats_nothing() {
    let seed = std::env::var("WARD_E2E_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 % 1_000_000_007);
    eprintln!("restart test seed = {seed} (WARD_E2E_SEED={seed} replays the kill moments)");
    let mut rng = Rng(seed);

    let env = Env::new();
    let web1 = Backend::start().await;
    let web2 = Backend::start().await;
    let web3 = Backend::start().await;
    let mut inventory = Inventory::new(&[("web1", &web1), ("web2", &web2), ("web3", &web3)]);
    inventory.hook_parallel_max = 2;
    inventory.job_timeout = "4s";
    inventory.hook_timeout = "3s";
    for s in SERVICES {
        inventory = inventory.vip(s, &["web1", "web2", "web3"], "web1", "log");
    }
    env.set_hook_sleep("1");
    let placements: Vec<(&str, &str)> = SERVICES.iter().map(|s| (*s, "web1")).collect();
    let mut ward = start(&env, &inventory, &placements).await;
    for node in ["web1", "web2", "web3"] {
        ward.wait_node(node, "up", secs(20)).await;
    }

    web1.set_up(false);
    let deadline = Deadline::new("the first apply to start", secs(30));
    while env.started("apply").is_empty() {
        deadline.tick().await;
    }
    let kills = 2 + rng.below(2);
    for kill in 0..kills {
        let pause = 100 + rng.below(1_400);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        // Seeded: the calls in flight at this kill either still land or are lost.
        let lose = rng.below(2) == 0;
        env.set_lose_orphans(lose);
        eprintln!(
            "kill {} of {kills} after {pause} ms (calls in flight are {}); hook calls so far: {}",
            kill + 1,
            if lose { "lost" } else { "still landing" },
            env.hook_calls().len()
        );
        ward.kill9().await;
        ward.spawn().await;
    }

    // Settle: every VIP on a healthy node, the actuator agreeing, nothing in flight.
    let deadline = Deadline::new("the batch to settle after the restarts", secs(60));
    let journal = loop {
        if settled(&ward, &env).await {
            let journal = ward.journal().await;
            if unfinished_jobs(&journal).is_empty() {
                break journal;
            }
        }
        if deadline.expired() {
            let journal = ward.journal().await;
            let jobs: Vec<String> = journal
                .iter()
                .filter(|r| r["job"].is_u64() && r["type"] != "decision" || r["type"] == "placement" || r["type"] == "started")
                .map(|r| r.to_string())
                .collect();
            let mut state = String::new();
            for s in SERVICES {
                state.push_str(&format!("{s}: ward {:?}, actuator {:?}\n", ward.holders(s).await, env.vip(s)));
            }
            panic!(
                "seed {seed}: not settled after 60 s\n{state}status {}\nunfinished jobs {:?}\n{}\njob records:\n{}",
                ward.get("/v1/status").await,
                unfinished_jobs(&journal),
                env.actuator_log(),
                jobs.join("\n")
            );
        }
        deadline.tick().await;
    };
    let log = env.actuator_log();

    // Every job reached a terminal state exactly once.
    let mut finished: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for r in events(&journal, "job_finished") {
        finished.entry(r["job"].as_u64().unwrap()).or_default().push(r["end"].as_str().unwrap().to_string());
    }
    let jobs = job_ids(&journal);
    assert!(!jobs.is_empty());
    for job in &jobs {
        let ends = finished.get(job).cloned().unwrap_or_default();
        assert_eq!(ends.len(), 1, "job {job} finished {} times: {ends:?}\n{log}", ends.len());
    }
    assert_eq!(events(&journal, "started").len() as u64, kills + 1, "one Started record per controller start");

    // No apply ran twice under the same fencing token, and each ran under a journaled intent.
    let intents: BTreeSet<(u64, String, u64)> = events(&journal, "job_intent")
        .into_iter()
        .map(|r| (r["job"].as_u64().unwrap(), r["step"].as_str().unwrap().to_string(), r["fencing_token"].as_u64().unwrap()))
        .collect();
    let mut seen: BTreeMap<(u64, u64), u32> = BTreeMap::new();
    let mut last_token: BTreeMap<u64, u64> = BTreeMap::new();
    for call in env.hook_calls().into_iter().filter(|c| c.phase == "start") {
        assert!(
            intents.contains(&(call.job, call.step.clone(), call.token)),
            "hook call without a journaled intent: {call:?}\nintents: {intents:?}\n{log}"
        );
        if call.step != "apply" {
            continue;
        }
        let n = seen.entry((call.job, call.token)).or_default();
        *n += 1;
        assert_eq!(*n, 1, "job {} applied twice with fencing token {}:\n{log}", call.job, call.token);
        if let Some(previous) = last_token.insert(call.job, call.token) {
            assert!(call.token > previous, "a re-apply of job {} must carry a higher token:\n{log}", call.job);
        }
    }

    // Each service ends on a healthy node, where the actuator put it.
    for s in SERVICES {
        let holders = ward.holders(s).await;
        assert_eq!(holders.len(), 1, "{s}: {holders:?}");
        assert!(holders[0] == "web2" || holders[0] == "web3", "{s} on {holders:?}");
        assert_eq!(env.vip(s).as_deref(), Some(holders[0].as_str()), "{s}: Ward and the actuator disagree\n{log}");
    }
    let lost = env.hook_calls().iter().filter(|c| c.phase == "lost").count();
    eprintln!("seed {seed}: {kills} kills, {} jobs, {} hook calls, {lost} lost", jobs.len(), env.hook_calls().len());
}

async fn settled(ward: &Ward, env: &Env) -> bool {
    if ward.get("/v1/status").await["jobs_in_flight"] != 0 {
        return false;
    }
    for s in SERVICES {
        let holders = ward.holders(s).await;
        if holders.len() != 1 || holders[0] == "web1" || env.vip(s).as_deref() != Some(holders[0].as_str()) {
            return false;
        }
    }
    true
}

fn job_ids(journal: &[Value]) -> BTreeSet<u64> {
    let mut jobs = BTreeSet::new();
    for r in journal {
        match r["type"].as_str() {
            Some("job_queued" | "job_intent" | "job_step_done" | "job_finished") => {
                jobs.insert(r["job"].as_u64().unwrap());
            }
            Some("decision") => {
                if let Some(job) = r["job"].as_u64() {
                    jobs.insert(job);
                }
            }
            _ => {}
        }
    }
    jobs
}

fn unfinished_jobs(journal: &[Value]) -> Vec<u64> {
    let finished: BTreeSet<u64> = events(journal, "job_finished").into_iter().map(|r| r["job"].as_u64().unwrap()).collect();
    job_ids(journal).into_iter().filter(|j| !finished.contains(j)).collect()
}
