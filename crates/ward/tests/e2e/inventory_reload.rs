//! Seed 002: a torn inventory is refused and the last good one stays in force; a
//! valid change is applied.

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_inventory_is_refused_and_a_valid_change_applied() {
    let env = Env::new();
    let web1 = Backend::start().await;
    let web2 = Backend::start().await;
    let mut inventory = Inventory::new(&[("web1", &web1), ("web2", &web2)]).vip("www", &["web1", "web2"], "web1", "log");
    let ward = start(&env, &inventory, &[("www", "web1")]).await;
    let hash = ward.get("/v1/status").await["inventory_hash"].as_str().unwrap().to_string();
    assert_eq!(hash, validated_hash(&env).await, "the controller runs the file it was given");

    // Overwritten in place with a truncated copy, as a crashed writer would leave it.
    let text = inventory.render(&env);
    let cut = text.find("[[hook]]").unwrap() + 4;
    std::fs::write(env.inventory(), &text[..cut]).unwrap();
    let alert = ward.wait_alert("inventory:rejected", secs(20)).await;
    assert!(alert["title"].as_str().is_some(), "{alert}");
    let journal = ward.journal().await;
    let rejected = events(&journal, "inventory_rejected");
    assert!(!rejected.is_empty(), "the journal records the refusal");
    assert!(!rejected[0]["errors"].as_array().unwrap().is_empty(), "{:?}", rejected[0]);
    let mut ward = ward;
    assert!(ward.is_running(), "a torn inventory must not stop the controller");
    assert_eq!(ward.get("/v1/status").await["inventory_hash"], hash.as_str(), "the last good inventory stays in force");
    // It still works on the old inventory.
    assert_eq!(ward.holders("www").await, ["web1"]);

    // A valid, changed inventory is applied.
    inventory.job_timeout = "12s";
    inventory.comment = " (changed)".into();
    env.write_inventory(&inventory.render(&env));
    let new_hash = validated_hash(&env).await;
    assert_ne!(new_hash, hash);
    let deadline = Deadline::new("the changed inventory to be applied", secs(20));
    while ward.get("/v1/status").await["inventory_hash"] != new_hash.as_str() {
        deadline.tick().await;
    }
    let journal = ward.journal().await;
    assert!(events(&journal, "inventory_applied").iter().any(|r| r["hash"] == new_hash.as_str()), "journaled as applied");
    assert!(ward.is_running());
}

/// The SHA-256 `ward validate` reports for the env's inventory file.
async fn validated_hash(env: &Env) -> String {
    let out = tokio::process::Command::new(WARD).arg("validate").arg(env.inventory()).arg("--output").arg("json").output().await.unwrap();
    assert!(out.status.success(), "ward validate: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    find_hash(&value).unwrap_or_else(|| panic!("no hash in {value}"))
}

fn find_hash(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if (k == "hash" || k == "sha256") && v.as_str().is_some_and(|s| s.len() == 64) {
                    return v.as_str().map(String::from);
                }
            }
            map.values().find_map(find_hash)
        }
        _ => None,
    }
}
