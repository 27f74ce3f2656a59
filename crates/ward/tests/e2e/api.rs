//! The API is read-only without the token, and a bad request gets a 400 with a hint
//! and changes nothing.

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_the_token_and_bad_targets_get_a_hint() {
    let env = Env::new();
    let web1 = Backend::start().await;
    let web2 = Backend::start().await;
    let inventory = Inventory::new(&[("web1", &web1), ("web2", &web2)]).vip("www", &["web1", "web2"], "web1", "log");
    let ward = start(&env, &inventory, &[("www", "web1")]).await;

    // Status and the like need no token (the journal does: see bad_day).
    let status = ward.get("/v1/status").await;
    assert_eq!(status["services"], 1, "{status}");
    assert!(ward.get("/v1/openapi.json").await.is_object());

    let hold = json!({"target": "node:web2", "reason": "x"});
    let (code, body) = ward.post_as("/v1/hold", hold.clone(), None).await;
    assert_eq!(code, 401, "no token: {body}");
    assert!(body["hint"].as_str().is_some_and(|h| h.contains("Authorization")), "{body}");
    let (code, body) = ward.post_as("/v1/hold", hold.clone(), Some("not-the-token-0123456789")).await;
    assert_eq!(code, 401, "wrong token: {body}");
    let (code, body) = ward.post_as("/v1/drain/web2", json!({}), None).await;
    assert_eq!(code, 401, "{body}");

    // With the token, a bad target is a 400 that says what to write.
    let (code, body) = ward.post("/v1/hold", json!({"target": "rack:r1", "reason": "x"})).await;
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("rack:r1"), "{body}");
    assert!(body["hint"].as_str().is_some_and(|h| !h.is_empty()), "{body}");
    let (code, body) = ward.post("/v1/approve/twelve", json!({})).await;
    assert_eq!(code, 400, "{body}");
    assert!(body["hint"].as_str().is_some_and(|h| !h.is_empty()), "{body}");
    // The CLI passes the hint on and fails.
    let out = ward.cli(&env, &["hold", "rack:r1", "--reason", "x"]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rack:r1"), "{stderr}");

    // Nothing changed.
    let journal = ward.journal().await;
    assert!(events(&journal, "hold_placed").is_empty(), "{journal:?}");
    assert!(events(&journal, "drained").is_empty());
    // And the token does work.
    let (code, body) = ward.post("/v1/hold", hold).await;
    assert_eq!(code, 200, "{body}");
    let deadline = Deadline::new("the hold in the journal", secs(10));
    while events(&ward.journal().await, "hold_placed").len() != 1 {
        deadline.tick().await;
    }

    // A controller started without a token file accepts no changes at all.
    let env2 = Env::new();
    env2.write_inventory(&inventory.render(&env2));
    let readonly = Ward::start_with(&env2, None).await;
    let (code, body) = readonly.post("/v1/hold", json!({"target": "node:web2", "reason": "x"})).await;
    assert_eq!(code, 403, "{body}");
    assert!(body["hint"].as_str().is_some_and(|h| h.contains("--token-file")), "{body}");
}
