//! A VIP fails over once from a dead backend to the healthy one, is verified,
//! explains itself, and does not fail back when the old holder returns.

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vip_fails_over_once_is_verified_and_does_not_fail_back() {
    let env = Env::new();
    let web1 = Backend::start().await;
    let web2 = Backend::start().await;
    let inventory = Inventory::new(&[("web1", &web1), ("web2", &web2)]).vip("www", &["web1", "web2"], "web1", "log");
    let ward = start(&env, &inventory, &[("www", "web1")]).await;
    ward.wait_node("web1", "up", secs(20)).await;
    ward.wait_node("web2", "up", secs(20)).await;
    assert_eq!(ward.holders("www").await, ["web1"]);
    assert!(env.started("apply").is_empty(), "nothing should move while both backends are up:\n{}", env.actuator_log());

    web1.set_up(false);
    ward.wait_holders("www", &["web2"], secs(30)).await;
    assert_eq!(env.vip("www").as_deref(), Some("web2"), "the actuator moved the VIP");

    // The job finished, verified.
    let deadline = Deadline::new("the move's job to finish", secs(30));
    let journal = loop {
        let journal = ward.journal().await;
        if !events(&journal, "job_finished").is_empty() {
            break journal;
        }
        deadline.tick().await;
    };
    let finished = events(&journal, "job_finished");
    assert_eq!(finished.len(), 1, "one job: {finished:?}");
    assert_eq!(finished[0]["end"], "succeeded", "{:?}", finished[0]);
    let verified: Vec<_> = events(&journal, "job_step_done").into_iter().filter(|r| r["step"] == "verify").collect();
    assert_eq!(verified.len(), 1, "{verified:?}");
    assert_eq!(verified[0]["ok"], true, "{:?}", verified[0]);
    assert!(verified[0]["message"].as_str().unwrap().contains("vip-verify on web2"), "{:?}", verified[0]);

    // Exactly one apply, from web1 to web2.
    let applies = env.started("apply");
    assert_eq!(applies.len(), 1, "one apply:\n{}", env.actuator_log());
    assert_eq!((applies[0].from.as_str(), applies[0].to.as_str(), applies[0].service.as_str()), ("web1", "web2", "www"));
    assert!(applies[0].token >= 1);

    // `why` names every guard with a sentence, over the API and through the CLI.
    let why = ward.get("/v1/why/www").await;
    let entry = why.as_array().unwrap().last().expect("a decision about www").clone();
    assert_eq!(entry["outcome"], "allow", "{entry}");
    let guards = entry["guards"].as_array().unwrap();
    let names: Vec<&str> = guards.iter().map(|g| g[0].as_str().unwrap()).collect();
    for guard in ["holds", "inventory-integrity", "observer-quorum", "candidate-readiness", "flap-damping", "blast-radius-budget"] {
        assert!(names.contains(&guard), "guard {guard} missing from why: {names:?}");
    }
    assert!(guards.iter().all(|g| g[2].as_str().is_some_and(|s| s.len() > 10)), "every guard has a sentence: {guards:?}");
    let cli = ward.cli(&env, &["why", "www"]).await;
    assert!(cli.status.success(), "ward why: {}", String::from_utf8_lossy(&cli.stderr));
    let text = String::from_utf8_lossy(&cli.stdout);
    assert!(text.contains("blast-radius-budget") && text.contains("web2"), "ward why:\n{text}");

    // web1 comes back: a VIP does not fail back.
    web1.set_up(true);
    ward.wait_node("web1", "up", secs(20)).await;
    let watch = Deadline::new("", secs(2));
    while !watch.expired() {
        assert_eq!(ward.holders("www").await, ["web2"], "the VIP must not fail back");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(env.started("apply").len(), 1, "no second move:\n{}", env.actuator_log());
    assert_eq!(env.vip("www").as_deref(), Some("web2"));
}
