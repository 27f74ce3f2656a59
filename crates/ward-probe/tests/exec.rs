mod common;

use std::time::{Duration, Instant};

use common::spec;
use ward_core::inventory::CheckKind;
use ward_core::observation::ProbeOutcome;
use ward_probe::kinds::probe_exec;

#[tokio::test]
async fn exec_passes_on_exit_zero_and_reports_the_first_line() {
    let result = probe_exec(&spec(CheckKind::Exec, "echo MASTER   vrrp-1", 2_000)).await;
    assert_eq!(result.outcome, ProbeOutcome::Pass, "{result:?}");
    // Split on whitespace, no shell: the runs of spaces are gone.
    assert_eq!(result.message(), Some("MASTER vrrp-1"));
    let result = probe_exec(&spec(CheckKind::Exec, "true", 2_000)).await;
    assert_eq!(result.outcome, ProbeOutcome::Pass);
    assert_eq!(result.detail, None);
}

#[tokio::test]
async fn exec_fails_on_another_exit_code_with_stderr() {
    let result = probe_exec(&spec(CheckKind::Exec, "ls /ward-no-such-path", 2_000)).await;
    assert_eq!(result.outcome, ProbeOutcome::Fail);
    let message = result.message().unwrap();
    assert!(message.starts_with("exit 2: ") && message.contains("ward-no-such-path"), "{message}");
    let result = probe_exec(&spec(CheckKind::Exec, "false", 2_000)).await;
    assert_eq!(result.message(), Some("exit 1, expected 0"));
}

#[tokio::test]
async fn exec_expected_exit_code_is_configurable() {
    let mut check = spec(CheckKind::Exec, "false", 2_000);
    check.expect_status = Some(1);
    assert_eq!(probe_exec(&check).await.outcome, ProbeOutcome::Pass);
}

#[tokio::test]
async fn exec_of_a_missing_program_fails() {
    let result = probe_exec(&spec(CheckKind::Exec, "/ward/no/such/program", 2_000)).await;
    assert_eq!(result.outcome, ProbeOutcome::Fail);
    assert_eq!(result.message(), Some("observer fault: cannot run /ward/no/such/program: not found"));
    let result = probe_exec(&spec(CheckKind::Exec, "   ", 2_000)).await;
    assert_eq!(result.message(), Some("empty command"));
}

fn gone(pid: u32) -> bool {
    // Absent, or a zombie waiting to be reaped: either way it no longer runs.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn exec_timeout_kills_the_child_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("slow.sh");
    let pids = dir.path().join("pids");
    // The script starts a grandchild and waits: killing only the direct child would leave it.
    std::fs::write(&script, "sleep 5 &\necho $$ $! > \"$1\"\nwait\n").unwrap();
    let started = Instant::now();
    let result = probe_exec(&spec(CheckKind::Exec, format!("sh {} {}", script.display(), pids.display()), 200)).await;
    assert_eq!(result.outcome, ProbeOutcome::Timeout, "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(200 + 1_500), "took {:?}", started.elapsed());
    let text = std::fs::read_to_string(&pids).unwrap();
    let pids: Vec<u32> = text.split_whitespace().map(|pid| pid.parse().unwrap()).collect();
    assert_eq!(pids.len(), 2, "{text}");
    let deadline = Instant::now() + Duration::from_secs(3);
    while !pids.iter().all(|&pid| gone(pid)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(pids.iter().all(|&pid| gone(pid)), "still running: {pids:?}");
}

#[tokio::test]
async fn exec_sleep_with_a_short_timeout_times_out() {
    let started = Instant::now();
    let result = probe_exec(&spec(CheckKind::Exec, "sleep 5", 200)).await;
    assert_eq!(result.outcome, ProbeOutcome::Timeout);
    assert!(started.elapsed() < Duration::from_millis(1_700));
}
