//! disk: statvfs on a directory. Reports `ProbeDetail::Disk` with the space reserved
//! for root counted separately (seed 003: the service sees a full disk before `df`'s
//! "100%"), for the core's time-until-full forecast. Passes unless the path cannot be
//! read: how full is too full is the forecast's call, not the probe's.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::Ordering;

use ward_core::observation::{DiskStatus, ProbeDetail, ProbeOutcome};

use crate::context::{ProbeContext, DISK_BLOCKED_MAX};
use crate::result::{bounded, fail, short_io_error, ProbeResult, Verdict};
use crate::spec::ProbeSpec;

pub async fn probe_disk(spec: &ProbeSpec, context: &ProbeContext) -> ProbeResult {
    bounded(spec.timeout, measure(spec, context)).await
}

async fn measure(spec: &ProbeSpec, context: &ProbeContext) -> Verdict {
    // statvfs can block forever on a hung network mount, so it runs on the blocking
    // pool; the count of calls still stuck there is capped so a dead mount costs a few
    // threads, not one per probe run.
    let blocked = context.disk_blocked.clone();
    if blocked.fetch_add(1, Ordering::AcqRel) >= DISK_BLOCKED_MAX {
        blocked.fetch_sub(1, Ordering::AcqRel);
        return fail(format!("statvfs: {DISK_BLOCKED_MAX} earlier calls still blocked (hung filesystem?)"));
    }
    let path = spec.target.clone();
    let task = tokio::task::spawn_blocking(move || {
        let status = statvfs(Path::new(&path));
        blocked.fetch_sub(1, Ordering::AcqRel);
        status
    });
    match task.await {
        Ok(Ok(status)) => (ProbeOutcome::Pass, Some(ProbeDetail::Disk(status))),
        Ok(Err(error)) => fail(format!("statvfs {}: {}", spec.target, short_io_error(&error))),
        Err(error) => fail(format!("statvfs task failed: {error}")),
    }
}

/// Disk usage of the filesystem holding `path`.
pub fn statvfs(path: &Path) -> io::Result<DiskStatus> {
    let c_path =
        CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path has a NUL byte"))?;
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call, and
    // `raw` is a properly sized, writable statvfs struct; libc only writes into it.
    // An all-zero statvfs is a valid value of the type (plain integers).
    let raw = unsafe {
        let mut raw: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c_path.as_ptr(), &mut raw) != 0 {
            return Err(io::Error::last_os_error());
        }
        raw
    };
    let fragment = raw.f_frsize as u64;
    let total_bytes = raw.f_blocks as u64 * fragment;
    let free_bytes = raw.f_bfree as u64 * fragment;
    let reserved_bytes = (raw.f_bfree as u64).saturating_sub(raw.f_bavail as u64) * fragment;
    Ok(DiskStatus { used_bytes: total_bytes.saturating_sub(free_bytes), total_bytes, reserved_bytes })
}
