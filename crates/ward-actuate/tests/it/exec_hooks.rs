//! Exec hooks: exit codes, environment, stdin, timeouts, rollback and previews.

use std::time::{Duration, Instant};

use ward_actuate::{Actuators, StepContext, StepPayload};
use ward_core::action::Action;
use ward_core::ids::{NodeId, ServiceId};
use ward_core::inventory::HookKind;
use ward_core::journal::JobStep;

use crate::common::*;

fn ctx() -> StepContext {
    StepContext { controller: "ctl-a".into(), snapshot: empty_snapshot() }
}

#[tokio::test]
async fn apply_ok_reports_the_last_line_and_passes_env_and_stdin() {
    let dir = scratch();
    let request = move_vip(JobStep::Apply);
    let outcome = Actuators::new().unwrap().run_step(&exec_hook("ok.sh", dir.path(), 10_000), &request, &ctx()).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!((outcome.job, outcome.step, outcome.preview), (request.job, JobStep::Apply, None));
    assert_eq!(outcome.message, "hook test-hook: moved www-vip to lb2");

    let env = env_of(dir.path().join("env"));
    let expect = [
        ("WARD_SERVICE", "www-vip"),
        ("WARD_ACTION", "move_vip"),
        ("WARD_STEP", "apply"),
        ("WARD_FROM", "lb1"),
        ("WARD_TO", "lb2"),
        ("WARD_JOB", "42"),
        ("WARD_ATTEMPT", "1"),
        ("WARD_FENCING_TOKEN", "7"),
        ("WARD_DETAIL", ""),
        ("WARD_CONTROLLER", "ctl-a"),
    ];
    for (name, value) in expect {
        assert_eq!(env.get(name).map(String::as_str), Some(value), "{name} in {env:?}");
    }
    assert_eq!(env.get("WARD_DEADLINE_MS"), Some(&request.deadline_ms.to_string()));
    assert!(!env.contains_key("WARD_NODES") && !env.contains_key("WARD_OPERATION"), "{env:?}");

    let stdin: serde_json::Value = serde_json::from_str(&read(dir.path().join("stdin.json"))).unwrap();
    assert_eq!(
        stdin,
        serde_json::json!({
            "version": 1, "controller": "ctl-a", "job": 42, "step": "apply", "attempt": 1,
            "fencing_token": 7, "deadline_ms": request.deadline_ms,
            "action": {"kind": "move_vip", "service": "www-vip", "from": ["lb1"], "to": ["lb2"], "detail": "", "rollout": null}
        })
    );
    let typed: StepPayload = serde_json::from_value(stdin).unwrap();
    assert_eq!(typed.idempotency_key(), "ward-7-42-apply-1");
}

#[tokio::test]
async fn apply_failure_reports_exit_code_and_stderr() {
    let dir = scratch();
    let outcome = Actuators::new().unwrap().run_step(&exec_hook("fail.sh", dir.path(), 10_000), &move_vip(JobStep::Apply), &ctx()).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.message, "hook test-hook: exit 3: no such VRRP instance VI_1");

    let outcome =
        Actuators::new().unwrap().run_step(&exec_hook("silent_fail.sh", dir.path(), 10_000), &move_vip(JobStep::Apply), &ctx()).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.message, "hook test-hook: exit 4");
}

#[tokio::test]
async fn timeout_kills_the_script_and_what_it_started() {
    // Limits are generous so a slow /bin/sh start under load still writes its pid files.
    let dir = scratch();
    let started = Instant::now();
    let outcome = Actuators::new().unwrap().run_step(&exec_hook("hang.sh", dir.path(), 1_500), &move_vip(JobStep::Apply), &ctx()).await;
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert!(!outcome.ok);
    assert!(outcome.message.contains("timed out after 1.5s and was killed"), "{}", outcome.message);
    assert!(outcome.message.contains("still working"), "{}", outcome.message);
    let pid = read(dir.path().join("pid")).trim().to_string();
    let child = read(dir.path().join("child.pid")).trim().to_string();
    assert!(eventually_dead(&pid).await, "script {pid} still running");
    assert!(eventually_dead(&child).await, "its child {child} still running");
}

#[tokio::test]
async fn the_step_deadline_caps_the_hook_timeout() {
    let dir = scratch();
    let mut request = move_vip(JobStep::Apply);
    request.deadline_ms = now_ms() + 1_500;
    let started = Instant::now();
    let outcome = Actuators::new().unwrap().run_step(&exec_hook("hang.sh", dir.path(), 60_000), &request, &ctx()).await;
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert!(!outcome.ok && outcome.message.contains("timed out"), "{}", outcome.message);
    let pid = read(dir.path().join("pid")).trim().to_string();
    assert!(eventually_dead(&pid).await);

    request.deadline_ms = now_ms().saturating_sub(1);
    let outcome = Actuators::new().unwrap().run_step(&exec_hook("ok.sh", dir.path(), 60_000), &request, &ctx()).await;
    assert!(!outcome.ok && outcome.message.contains("deadline had passed"), "{}", outcome.message);
}

#[tokio::test]
async fn rollback_runs_the_undo_with_from_and_to_swapped() {
    let dir = scratch();
    let outcome = Actuators::new().unwrap().run_step(&exec_hook("ok.sh", dir.path(), 10_000), &move_vip(JobStep::Rollback), &ctx()).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.step, JobStep::Rollback);
    let env = env_of(dir.path().join("env"));
    assert_eq!((env["WARD_STEP"].as_str(), env["WARD_FROM"].as_str(), env["WARD_TO"].as_str()), ("rollback", "lb2", "lb1"));
    let stdin: StepPayload = serde_json::from_str(&read(dir.path().join("stdin.json"))).unwrap();
    assert_eq!(
        (stdin.step.as_str(), stdin.action.from.clone(), stdin.action.to.clone()),
        ("rollback", vec!["lb2".into()], vec!["lb1".into()])
    );
    assert_eq!(stdin.action.kind, "move_vip");
}

#[tokio::test]
async fn rollback_of_a_first_placement_is_refused_without_running_the_hook() {
    let dir = scratch();
    let request =
        request(JobStep::Rollback, Action::MoveVip { service: ServiceId(0), from: None, to: NodeId(1) }, "www-vip", &["lb1", "lb2"]);
    let outcome = Actuators::new().unwrap().run_step(&exec_hook("ok.sh", dir.path(), 10_000), &request, &ctx()).await;
    assert!(!outcome.ok && outcome.message.contains("cannot be rolled back"), "{}", outcome.message);
    assert!(!dir.path().join("env").exists(), "the hook ran");
}

#[tokio::test]
async fn verify_is_not_a_hook_step() {
    let dir = scratch();
    let outcome = Actuators::new().unwrap().run_step(&exec_hook("ok.sh", dir.path(), 10_000), &move_vip(JobStep::Verify), &ctx()).await;
    assert!(!outcome.ok && outcome.message.contains("verify is not a hook step"), "{}", outcome.message);
    assert_eq!(outcome.step, JobStep::Verify);
    assert!(!dir.path().join("env").exists(), "the hook ran");
}

#[tokio::test]
async fn rollout_batches_get_nodes_and_operation() {
    let dir = scratch();
    let action = Action::Maintain { rollout: 3, batch: 1, nodes: vec![NodeId(0), NodeId(1)], operation: "reboot".into() };
    let request = request(JobStep::Apply, action, "", &["blade1", "blade2"]);
    let outcome = Actuators::new().unwrap().run_step(&exec_hook("ok.sh", dir.path(), 10_000), &request, &ctx()).await;
    assert!(outcome.ok, "{outcome:?}");
    let env = env_of(dir.path().join("env"));
    assert_eq!(env["WARD_NODES"], "blade1,blade2");
    assert_eq!(env["WARD_OPERATION"], "reboot");
    assert_eq!((env["WARD_ROLLOUT"].as_str(), env["WARD_BATCH"].as_str()), ("3", "1"));
    assert_eq!(env["WARD_DETAIL"], "reboot (rollout 3, batch 2)");
    assert_eq!(env["WARD_SERVICE"], "");
    let stdin: serde_json::Value = serde_json::from_str(&read(dir.path().join("stdin.json"))).unwrap();
    assert_eq!(
        stdin["action"]["rollout"],
        serde_json::json!({"rollout": 3, "batch": 1, "operation": "reboot", "nodes": ["blade1", "blade2"]})
    );
}

/// A repair reaches an exec hook with the node and the operation.
fn repair(step: JobStep) -> ward_core::engine::JobRequest {
    let action = Action::Repair { node: NodeId(1), operation: ward_core::action::RepairOperation::RestartReplication };
    request(step, action, "", &["db1", "db2"])
}

#[tokio::test]
async fn repairs_get_the_node_and_operation_and_have_no_rollback() {
    let dir = scratch();
    let outcome = Actuators::new().unwrap().run_step(&exec_hook("ok.sh", dir.path(), 10_000), &repair(JobStep::Apply), &ctx()).await;
    assert!(outcome.ok, "{outcome:?}");
    let env = env_of(dir.path().join("env"));
    assert_eq!(env["WARD_ACTION"], "repair");
    assert_eq!(env["WARD_NODES"], "db2");
    assert_eq!(env["WARD_FROM"], "db2");
    assert_eq!(env["WARD_OPERATION"], "restart_replication");
    assert!(!env.contains_key("WARD_ROLLOUT"));
    let dir = scratch();
    let outcome = Actuators::new().unwrap().run_step(&exec_hook("ok.sh", dir.path(), 10_000), &repair(JobStep::Rollback), &ctx()).await;
    assert!(!outcome.ok && outcome.message.contains("cannot be rolled back"), "{}", outcome.message);
}

#[tokio::test]
async fn a_mysql_hook_only_repairs() {
    let mysql = hook(HookKind::Mysql { dsn: "mysql://ward:ward@{address}".into() }, 5_000, 1);
    let outcome = Actuators::new().unwrap().run_step(&mysql, &move_vip(JobStep::Apply), &ctx()).await;
    assert!(!outcome.ok && outcome.message.contains("a mysql hook only restarts replication"), "{}", outcome.message);
    let outcome = Actuators::new().unwrap().run_step(&mysql, &repair(JobStep::Rollback), &ctx()).await;
    assert!(!outcome.ok && outcome.message.contains("repair cannot be rolled back"), "{}", outcome.message);
    // db2 is not in this (empty) inventory: a sentence, not a connection attempt.
    let outcome = Actuators::new().unwrap().run_step(&mysql, &repair(JobStep::Apply), &ctx()).await;
    assert!(!outcome.ok && outcome.message.contains("node db2 is not in inventory"), "{}", outcome.message);
}

#[tokio::test]
async fn preview_json_is_parsed_and_garbage_is_a_failure() {
    let dir = scratch();
    let outcome = Actuators::new().unwrap().run_step(&exec_hook("preview.sh", dir.path(), 10_000), &sync(JobStep::Preview), &ctx()).await;
    assert!(outcome.ok, "{outcome:?}");
    let preview = outcome.preview.unwrap();
    assert_eq!((preview.files_added, preview.files_changed, preview.files_deleted), (3, 1, 2));
    assert_eq!(preview.deleted_sample, vec!["/srv/a", "/srv/b"]);
    assert_eq!(outcome.message, "hook test-hook: preview: would add 3, change 1, delete 2 files");

    let outcome = Actuators::new().unwrap().run_step(&exec_hook("garbage.sh", dir.path(), 10_000), &sync(JobStep::Preview), &ctx()).await;
    assert!(!outcome.ok && outcome.preview.is_none());
    assert!(outcome.message.contains("not a JSON object") && outcome.message.contains("rsync: connection"), "{}", outcome.message);
}

#[tokio::test]
async fn a_missing_program_or_empty_command_is_a_clear_failure() {
    scripts(); // no spawn before every script is written (see `scripts`)
    let request = move_vip(JobStep::Apply);
    let actuators = Actuators::new().unwrap();
    let missing = hook(HookKind::Exec { command: vec!["/nonexistent/ward-hook".into()] }, 1_000, 0);
    let outcome = actuators.run_step(&missing, &request, &ctx()).await;
    assert!(!outcome.ok && outcome.message.contains("could not start /nonexistent/ward-hook"), "{}", outcome.message);
    let empty = hook(HookKind::Exec { command: vec![] }, 1_000, 0);
    let outcome = actuators.run_step(&empty, &request, &ctx()).await;
    assert!(!outcome.ok && outcome.message.contains("the command is empty"), "{}", outcome.message);
}
