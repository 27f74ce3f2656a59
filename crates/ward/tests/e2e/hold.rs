//! An operator's hold on the only standby: automation does not move onto it, says
//! so with a `no-candidate` page, and moves once the hold is released.

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_on_the_only_standby_is_respected_until_released() {
    let env = Env::new();
    let web1 = Backend::start().await;
    let web2 = Backend::start().await;
    let inventory = Inventory::new(&[("web1", &web1), ("web2", &web2)]).vip("www", &["web1", "web2"], "web1", "log");
    let ward = start(&env, &inventory, &[("www", "web1")]).await;
    ward.wait_node("web1", "up", secs(20)).await;
    ward.wait_node("web2", "up", secs(20)).await;

    let out = ward.cli(&env, &["hold", "node:web2", "--reason", "disk replacement"]).await;
    assert!(out.status.success(), "ward hold: {}", String::from_utf8_lossy(&out.stderr));
    // Read at once: the CLI's "done" must mean the hold is already in the journal.
    let journal = ward.journal().await;
    let holds = events(&journal, "hold_placed");
    assert_eq!(holds.len(), 1, "{holds:?}");
    assert_eq!(holds[0]["reason"], "disk replacement");

    web1.set_up(false);
    ward.wait_node("web1", "down", secs(20)).await;
    let alert = ward.wait_alert("no-candidate:www", secs(20)).await;
    assert_eq!(alert["severity"], "page", "{alert}");
    assert!(alert["title"].as_str().unwrap().contains("web2"), "the page names the held node: {alert}");
    assert!(env.started("apply").is_empty(), "nothing may move onto a held node:\n{}", env.actuator_log());
    assert_eq!(ward.holders("www").await, ["web1"]);
    assert_eq!(env.vip("www").as_deref(), Some("web1"));

    let out = ward.cli(&env, &["release", "node:web2"]).await;
    assert!(out.status.success(), "ward release: {}", String::from_utf8_lossy(&out.stderr));
    ward.wait_holders("www", &["web2"], secs(30)).await;
    let deadline = Deadline::new("the VIP state file on web2", secs(20));
    while env.vip("www").as_deref() != Some("web2") {
        deadline.tick().await;
    }
    assert_eq!(env.started("apply").len(), 1, "{}", env.actuator_log());
}
