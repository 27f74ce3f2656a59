//! HTTP hooks: headers, body, retries only when nothing can have happened, timeouts.

use std::time::{Duration, Instant};

use ward_actuate::{Actuators, StepContext, StepPayload};
use ward_core::inventory::{Hook, HookKind};
use ward_core::journal::JobStep;

use crate::common::*;

fn ctx() -> StepContext {
    StepContext { controller: "ctl-a".into(), snapshot: empty_snapshot() }
}

fn http_hook(url: &str, timeout_ms: u64, retries: u32) -> Hook {
    hook(HookKind::Http { url: url.to_string() }, timeout_ms, retries)
}

#[tokio::test]
async fn apply_posts_the_step_with_idempotency_key_and_fencing_token() {
    let server = serve(&[(200, "{\n  \"moved\": true\n}\n")], Duration::ZERO).await;
    let request = move_vip(JobStep::Apply);
    let outcome = Actuators::new().unwrap().run_step(&http_hook(&server.url, 5_000, 3), &request, &ctx()).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.message, "hook test-hook: { \"moved\": true }");
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("idempotency-key"), "ward-7-42-apply-1");
    assert_eq!(seen[0].header("x-ward-fencing-token"), "7");
    assert_eq!(seen[0].header("x-ward-controller"), "ctl-a");
    assert_eq!(seen[0].header("content-type"), "application/json");
    let body: StepPayload = serde_json::from_value(seen[0].json()).unwrap();
    assert_eq!((body.job, body.step.as_str(), body.attempt, body.fencing_token), (42, "apply", 1, 7));
    assert_eq!(
        (body.action.kind.as_str(), body.action.from.clone(), body.action.to.clone()),
        ("move_vip", vec!["lb1".into()], vec!["lb2".into()])
    );
    assert_eq!(body.deadline_ms, request.deadline_ms);
}

#[tokio::test]
async fn rollback_posts_the_undo_under_its_own_key() {
    let server = serve(&[], Duration::ZERO).await;
    let outcome = Actuators::new().unwrap().run_step(&http_hook(&server.url, 5_000, 0), &move_vip(JobStep::Rollback), &ctx()).await;
    assert!(outcome.ok, "{outcome:?}");
    let seen = server.seen();
    assert_eq!(seen[0].header("idempotency-key"), "ward-7-42-rollback-1");
    let body: StepPayload = serde_json::from_value(seen[0].json()).unwrap();
    assert_eq!((body.action.from, body.action.to), (vec!["lb2".to_string()], vec!["lb1".to_string()]));
}

#[tokio::test]
async fn a_503_or_429_is_retried_with_the_same_key_until_it_succeeds() {
    let server = serve(&[(503, "busy"), (429, "slow down")], Duration::ZERO).await;
    let started = Instant::now();
    let outcome = Actuators::new().unwrap().run_step(&http_hook(&server.url, 5_000, 3), &move_vip(JobStep::Apply), &ctx()).await;
    assert!(outcome.ok, "{outcome:?}");
    // Backoff 250 ms then 500 ms.
    assert!(started.elapsed() >= Duration::from_millis(700), "{:?}", started.elapsed());
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.header("idempotency-key") == "ward-7-42-apply-1"));
}

#[tokio::test]
async fn retries_stop_at_the_hooks_limit() {
    let server = serve(&[(503, "busy"), (503, "busy"), (503, "busy")], Duration::ZERO).await;
    let outcome = Actuators::new().unwrap().run_step(&http_hook(&server.url, 5_000, 1), &move_vip(JobStep::Apply), &ctx()).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.message, format!("hook test-hook: POST {}: HTTP 503: busy (after 2 tries)", ward_actuate::redact_urls(&server.url)));
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn retries_stop_at_the_step_deadline() {
    let server = serve(&[(503, "busy"); 20], Duration::ZERO).await;
    let mut request = move_vip(JobStep::Apply);
    request.deadline_ms = now_ms() + 1_000;
    let started = Instant::now();
    let outcome = Actuators::new().unwrap().run_step(&http_hook(&server.url, 5_000, 10), &request, &ctx()).await;
    assert!(!outcome.ok);
    assert!(outcome.message.contains("no time left before the deadline"), "{}", outcome.message);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(server.seen().len() <= 3, "{} tries", server.seen().len());
}

#[tokio::test]
async fn a_500_is_not_retried_because_it_may_have_applied() {
    let server = serve(&[(500, "half done")], Duration::ZERO).await;
    let outcome = Actuators::new().unwrap().run_step(&http_hook(&server.url, 5_000, 3), &move_vip(JobStep::Apply), &ctx()).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.message, format!("hook test-hook: POST {}: HTTP 500: half done", ward_actuate::redact_urls(&server.url)));
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    let url = refused_url();
    let started = Instant::now();
    let outcome = Actuators::new().unwrap().run_step(&http_hook(&url, 5_000, 2), &move_vip(JobStep::Apply), &ctx()).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.message, format!("hook test-hook: POST {}: connection refused (after 3 tries)", ward_actuate::redact_urls(&url)));
    assert!(started.elapsed() >= Duration::from_millis(700), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_hanging_server_times_out_and_is_not_retried() {
    let server = serve(&[], Duration::from_secs(30)).await;
    let started = Instant::now();
    let outcome = Actuators::new().unwrap().run_step(&http_hook(&server.url, 500, 3), &move_vip(JobStep::Apply), &ctx()).await;
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(!outcome.ok);
    assert_eq!(
        outcome.message,
        format!("hook test-hook: POST {}: no complete answer within 500ms", ward_actuate::redact_urls(&server.url))
    );
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn preview_parses_the_answer_and_rejects_garbage() {
    let answer = r#"{"files_added":0,"files_changed":4,"files_deleted":7,"deleted_sample":["/srv/x"]}"#;
    let server = serve(&[(200, answer), (200, "<html>oops</html>")], Duration::ZERO).await;
    let actuators = Actuators::new().unwrap();
    let outcome = actuators.run_step(&http_hook(&server.url, 5_000, 0), &sync(JobStep::Preview), &ctx()).await;
    assert!(outcome.ok, "{outcome:?}");
    let preview = outcome.preview.unwrap();
    assert_eq!((preview.files_added, preview.files_changed, preview.files_deleted), (0, 4, 7));
    assert_eq!(preview.deleted_sample, vec!["/srv/x"]);
    assert_eq!(server.seen()[0].header("idempotency-key"), "ward-7-42-preview-1");

    let outcome = actuators.run_step(&http_hook(&server.url, 5_000, 0), &sync(JobStep::Preview), &ctx()).await;
    assert!(!outcome.ok && outcome.preview.is_none());
    assert!(outcome.message.contains("not a JSON object") && outcome.message.contains("<html>oops</html>"), "{}", outcome.message);
}
