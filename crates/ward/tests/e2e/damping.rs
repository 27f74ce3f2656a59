//! Seed 000: a flapping backend behind a DNS name is taken out, and once damped it
//! is not put back while it keeps flapping: far fewer changes than flaps.

use std::time::Duration;

use serde_json::Value;

use crate::support::*;

const FLAPS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_backend_is_damped_and_not_readded() {
    let env = Env::new();
    let web1 = Backend::start().await;
    let web2 = Backend::start().await;
    let mut inventory = Inventory::new(&[("web1", &web1), ("web2", &web2)]).dns("pool", &["web1", "web2"]);
    // Suppressed on the second flap; the penalty decays slowly enough to stay out for the whole test.
    inventory.damping_half_life = "30s";
    inventory.suppress_above = 1500;
    inventory.reuse_below = 500;
    env.set_vip("pool", "web1,web2");
    env.write_inventory(&inventory.render(&env));
    let ward = Ward::start(&env).await;
    ward.wait_node("web1", "up", secs(20)).await;
    ward.wait_node("web2", "up", secs(20)).await;
    assert_eq!(ward.holders("pool").await, ["web1", "web2"]);

    for flap in 0..FLAPS {
        web1.set_up(false);
        ward.wait_node("web1", "down", secs(20)).await;
        web1.set_up(true);
        ward.wait_node("web1", "up", secs(20)).await;
        eprintln!("flap {} done", flap + 1);
    }
    let node = ward.node("web1").await;
    assert!(node["flaps"].as_u64().unwrap() >= FLAPS as u64, "{node}");
    assert_eq!(node["suppressed"], true, "web1 is damped: {node}");
    let alert = ward.wait_alert("flapping:web1", secs(10)).await;
    assert!(alert["title"].as_str().is_some(), "{alert}");

    // web1 answers again but is damped: it stays out of the answers.
    let watch = Deadline::new("", secs(2));
    while !watch.expired() {
        assert_eq!(ward.holders("pool").await, ["web2"], "a damped node is not put back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(env.vip("pool").as_deref(), Some("web2"), "the actuator's last answer");

    let journal = ward.journal().await;
    let changes: Vec<&Value> =
        events(&journal, "decision").into_iter().filter(|r| r["action"]["kind"] == "set_dns_targets" && !r["job"].is_null()).collect();
    let summary: Vec<String> = changes.iter().map(|r| format!("seq {} to {}", r["seq"], r["action"]["to"])).collect();
    assert!(!changes.is_empty(), "web1 was taken out at least once");
    assert!(changes.len() <= 3, "{} DNS changes for {FLAPS} flaps: {summary:?}", changes.len());
    assert!(changes.len() < FLAPS);
    let applies = env.started("apply");
    assert_eq!(applies.len(), changes.len(), "one hook call per change:\n{}", env.actuator_log());
    // After the damping alert, web1 was never added back.
    let damped_at =
        events(&journal, "alert").into_iter().find(|r| r["cause"] == "flapping:web1").expect("the flapping alert")["seq"].as_u64().unwrap();
    for change in &changes {
        let adds_web1 = change["action"]["to"].as_array().unwrap().iter().any(|n| n == "web1");
        assert!(!(change["seq"].as_u64().unwrap() > damped_at && adds_web1), "re-added after damping: {summary:?}");
    }
}
