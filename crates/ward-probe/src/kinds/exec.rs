//! exec: run a command; its exit code must equal `expect_status` (default 0).
//!
//! The target is split on whitespace into program and arguments. There is no shell:
//! no quoting, no globbing, no pipes, no variables (write a script for those). The
//! child gets no stdin, its own process group, and is killed with its whole group
//! when the check times out. Its stdout's first line is reported on pass too, because
//! keepalived-style checks print the state they saw.

use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::result::{bounded, fail, first_line, pass, pass_with, short_io_error, ProbeResult, Verdict};
use crate::spec::ProbeSpec;

/// Output kept per stream; the rest is read and thrown away so the child never
/// blocks on a full pipe.
const OUTPUT_KEEP_MAX: usize = 64 * 1024;

pub async fn probe_exec(spec: &ProbeSpec) -> ProbeResult {
    bounded(spec.timeout, run(spec)).await
}

async fn run(spec: &ProbeSpec) -> Verdict {
    let mut words = spec.target.split_whitespace();
    let Some(program) = words.next() else { return fail("empty command") };
    let mut command = Command::new(program);
    command.args(words).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true).process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        // Not being able to start a process is this machine's trouble, not the node's.
        Err(error) => {
            let text = short_io_error(&error);
            let text = text.strip_prefix(crate::result::LOCAL_FAULT).unwrap_or(&text);
            return fail(format!("{}cannot run {program}: {text}", crate::result::LOCAL_FAULT));
        }
    };
    // If this future is dropped (the timeout fired) before the child was reaped, kill
    // its whole group: kill_on_drop alone would leave a script's own children running.
    let group = KillGroupOnDrop(child.id());
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (status, stdout, stderr) = tokio::join!(child.wait(), read_capped(stdout), read_capped(stderr));
    group.disarm();
    let status = match status {
        Ok(status) => status,
        Err(error) => return fail(format!("waiting for {program}: {}", short_io_error(&error))),
    };
    let expected = spec.expect_status.map_or(0, i32::from);
    match status.code() {
        Some(code) if code == expected => {
            let line = first_line(&stdout);
            if line.is_empty() {
                pass()
            } else {
                pass_with(line)
            }
        }
        Some(code) => {
            let line = first_line(&stderr);
            if line.is_empty() {
                fail(format!("exit {code}, expected {expected}"))
            } else {
                fail(format!("exit {code}: {line}"))
            }
        }
        None => fail(killed_by(status)),
    }
}

fn killed_by(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(signal) => format!("killed by signal {signal}"),
        None => format!("ended without an exit code ({status})"),
    }
}

async fn read_capped(mut pipe: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buffer = [0u8; 8 * 1024];
    loop {
        match pipe.read(&mut buffer).await {
            Ok(0) | Err(_) => return kept,
            Ok(read) => {
                let room = OUTPUT_KEEP_MAX - kept.len();
                kept.extend_from_slice(&buffer[..read.min(room)]);
            }
        }
    }
}

struct KillGroupOnDrop(Option<u32>);

impl KillGroupOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            // SAFETY: kill(2) takes plain integers and touches no memory of ours. The
            // pid is also the group id (process_group(0)). Either the child is not
            // reaped yet, or it was but a member of its group still holds our pipes
            // open (that is why we are still waiting): both keep the id from being
            // reused, so this signal reaches only the check's own processes.
            unsafe {
                libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
            }
        }
    }
}
