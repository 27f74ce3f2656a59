//! An unacknowledged page is re-sent along `escalate_to` after `escalate_after`;
//! `ward ack` stops it.

use std::time::Duration;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacked_pages_escalate_until_acked() {
    let env = Env::new();
    let web1 = Backend::start().await;
    let web2 = Backend::start().await;
    // `solo` can only live on web1: when web1 dies there is no candidate, which pages.
    let mut inventory = Inventory::new(&[("web1", &web1), ("web2", &web2)]).vip("solo", &["web1"], "web1", "pager");
    inventory.routes = pager_routes(&env, "2s");
    let ward = start(&env, &inventory, &[("solo", "web1")]).await;
    ward.wait_node("web1", "up", secs(20)).await;

    web1.set_up(false);
    let alert = ward.wait_alert("no-candidate:solo", secs(20)).await;
    let id = alert["id"].as_u64().unwrap().to_string();
    let of_alert =
        |env: &Env| -> Vec<Delivery> { env.deliveries().into_iter().filter(|d| d.alert == id && d.status == "firing").collect() };

    let deadline = Deadline::new("the first page and two escalations", secs(30));
    loop {
        let d = of_alert(&env);
        if d.iter().filter(|d| d.escalation >= 1).count() >= 2 {
            break;
        }
        deadline.tick().await;
    }
    let d = of_alert(&env);
    assert_eq!((d[0].route.as_str(), d[0].escalation), ("pager", 0), "the page goes to the first route: {d:?}");
    assert_eq!((d[1].route.as_str(), d[1].escalation), ("backup", 1), "then escalates to backup: {d:?}");
    assert_eq!((d[2].route.as_str(), d[2].escalation), ("backup", 2), "and keeps escalating: {d:?}");
    assert!(d.iter().all(|d| d.cause == "no-candidate:solo"), "{d:?}");
    // Escalation waits for escalate_after: the journal's times of the queued notifications.
    let journal = ward.journal().await;
    let queued: Vec<u64> = events(&journal, "notification_queued")
        .into_iter()
        .filter(|r| r["notification"]["alert"].as_u64().map(|a| a.to_string()) == Some(id.clone()))
        .map(|r| r["at_ms"].as_u64().unwrap())
        .collect();
    assert!(queued.len() >= 3, "{queued:?}");
    assert!(queued[1] - queued[0] >= 1_900, "escalated after {} ms, before escalate_after (2s)", queued[1] - queued[0]);

    let out = ward.cli(&env, &["ack", &id]).await;
    assert!(out.status.success(), "ward ack: {}", String::from_utf8_lossy(&out.stderr));
    let acked = ward.open_alert("no-candidate:solo").await.expect("still open, acknowledged");
    assert!(acked["acked_by"].is_string(), "{acked}");
    let sent = of_alert(&env).len();
    // Two more escalation periods and then some: nothing more is sent.
    tokio::time::sleep(Duration::from_millis(5_000)).await;
    let after = of_alert(&env);
    assert!(after.len() <= sent + 1, "at most one escalation already queued at the ack may land: {after:?}");
    let settled = after.len();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(of_alert(&env).len(), settled, "an acknowledged page must stop escalating: {:?}", of_alert(&env));
}
