//! Blast radius: four VIPs lose their holder at once with a budget of one move per
//! group: one moves, three wait for an operator, who approves them with the CLI.

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_breach_waits_for_approval_then_moves() {
    let env = Env::new();
    let web1 = Backend::start().await;
    let web2 = Backend::start().await;
    let services = ["a", "b", "c", "d"];
    let mut inventory = Inventory::new(&[("web1", &web1), ("web2", &web2)]);
    inventory.group_moves_max = 1;
    for s in services {
        inventory = inventory.vip(s, &["web1", "web2"], "web1", "log");
    }
    let placements: Vec<(&str, &str)> = services.iter().map(|s| (*s, "web1")).collect();
    let ward = start(&env, &inventory, &placements).await;
    ward.wait_node("web2", "up", secs(20)).await;
    ward.wait_node("web1", "up", secs(20)).await;

    web1.set_up(false);
    let deadline = Deadline::new("one move and three approvals", secs(30));
    let approvals = loop {
        let approvals = ward.get("/v1/approvals").await;
        let moved = env.started("apply").len();
        if approvals.as_array().unwrap().len() == 3 && moved == 1 {
            break approvals;
        }
        assert!(moved <= 1, "the budget allows one move without approval:\n{}", env.actuator_log());
        deadline.tick().await;
    };
    let alert = ward.wait_alert("approval:web", secs(10)).await;
    assert_eq!(alert["severity"], "page", "{alert}");
    let status = ward.get("/v1/status").await;
    assert_eq!(status["pending_approvals"], 3, "{status}");
    // Still only one move: the rest wait.
    assert_eq!(env.started("apply").len(), 1, "{}", env.actuator_log());
    let moved_first = env.started("apply")[0].service.clone();

    for approval in approvals.as_array().unwrap() {
        let decision = approval["decision"].as_u64().unwrap().to_string();
        let out = ward.cli(&env, &["approve", &decision]).await;
        assert!(
            out.status.success(),
            "ward approve {decision}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for s in services {
        ward.wait_holders(s, &["web2"], secs(30)).await;
    }
    let deadline = Deadline::new("every VIP state file on web2", secs(30));
    while !services.iter().all(|s| env.vip(s).as_deref() == Some("web2")) {
        deadline.tick().await;
    }
    let applies = env.started("apply");
    assert_eq!(applies.len(), 4, "each VIP moved exactly once:\n{}", env.actuator_log());
    let mut moved: Vec<&str> = applies.iter().map(|c| c.service.as_str()).collect();
    moved.sort();
    assert_eq!(moved, services, "{}", env.actuator_log());
    assert_eq!(applies[0].service, moved_first);
    let journal = ward.journal().await;
    assert_eq!(events(&journal, "approved").len(), 3);
    let deadline = Deadline::new("no pending approvals", secs(10));
    while !ward.get("/v1/approvals").await.as_array().unwrap().is_empty() {
        deadline.tick().await;
    }
}
