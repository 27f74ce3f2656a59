mod common;

use common::spec;
use ward_core::inventory::CheckKind;
use ward_core::observation::{ProbeDetail, ProbeOutcome};
use ward_probe::kinds::probe_disk;
use ward_probe::ProbeContext;

#[tokio::test]
async fn disk_reports_usage_of_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let result = probe_disk(&spec(CheckKind::Disk, dir.path().display().to_string(), 2_000), &ProbeContext::default()).await;
    assert_eq!(result.outcome, ProbeOutcome::Pass, "{result:?}");
    let Some(ProbeDetail::Disk(status)) = result.detail else { panic!("no disk detail: {result:?}") };
    assert!(status.total_bytes > 0);
    assert!(status.used_bytes <= status.total_bytes);
    assert!(status.reserved_bytes <= status.total_bytes - status.used_bytes);
}

#[tokio::test]
async fn disk_fails_on_a_missing_path() {
    let result = probe_disk(&spec(CheckKind::Disk, "/ward/no/such/dir", 2_000), &ProbeContext::default()).await;
    assert_eq!(result.outcome, ProbeOutcome::Fail);
    assert_eq!(result.message(), Some("statvfs /ward/no/such/dir: not found"));
}
