//! Running a command (no shell) with a hard time limit, shared by exec hooks and
//! exec routes.
//!
//! The child gets its own process group so a timeout kills everything it started:
//! `#!/bin/sh` scripts run `ip`, `curl` or `sleep` as grandchildren, and killing
//! only the shell would leave them running (and holding our pipes open).

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// Output kept per stream. Enough for any preview or verdict line; the rest is
/// read and dropped so a chatty child never blocks on a full pipe.
const CAPTURE_MAX_BYTES: usize = 1 << 20;

/// After the child exits, how long to wait for its pipes to close. A background
/// grandchild may keep them open indefinitely; we keep what we have by then.
const PIPE_GRACE: Duration = Duration::from_millis(500);

pub(crate) struct Invocation<'a> {
    pub argv: &'a [String],
    pub env: Vec<(&'static str, String)>,
    /// Inherited variables to drop (see `wire::OPTIONAL_HOOK_ENV`).
    pub env_remove: &'a [&'a str],
    pub stdin: Vec<u8>,
    pub timeout: Duration,
}

pub(crate) enum Ending {
    Exited(ExitStatus),
    /// The time limit passed; the whole process group was killed.
    TimedOut,
}

pub(crate) struct Finished {
    pub ending: Ending,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Finished {
    pub fn success(&self) -> bool {
        matches!(&self.ending, Ending::Exited(status) if status.success())
    }
}

/// `exit 3`, `killed by signal 9`.
pub(crate) fn describe_status(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "ended without an exit code".to_string(),
    }
}

/// Runs `argv` to completion or until `timeout`. `Err` only when it could not be started.
pub(crate) async fn run(invocation: Invocation<'_>) -> Result<Finished, String> {
    let (program, args) = invocation.argv.split_first().ok_or_else(|| "the command is empty".to_string())?;
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // Belt and braces: if this future is dropped (the daemon shutting down), the
    // child dies with it rather than acting after we stopped listening.
    command.kill_on_drop(true).process_group(0);
    for name in invocation.env_remove {
        command.env_remove(name);
    }
    command.envs(invocation.env.iter().map(|(k, v)| (*k, v.as_str())));
    let mut child = command.spawn().map_err(|e| format!("could not start {program}: {e}"))?;
    let pid = child.id();

    // stdin is written concurrently: a child that never reads it must not stall us,
    // and one that exits early just makes the write fail, which is fine.
    let stdin = child.stdin.take();
    let input = invocation.stdin;
    let writer = tokio::spawn(async move {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        }
    });
    let stdout = Capture::start(child.stdout.take());
    let stderr = Capture::start(child.stderr.take());

    let ending = match tokio::time::timeout(invocation.timeout, child.wait()).await {
        Ok(Ok(status)) => Ending::Exited(status),
        Ok(Err(e)) => {
            kill_group(pid);
            writer.abort();
            return Err(format!("lost track of {program}: {e}"));
        }
        Err(_elapsed) => {
            // The child is not reaped yet, so its pid (= the group id) cannot have
            // been reused: killing the group is safe.
            kill_group(pid);
            let _ = child.start_kill();
            let _ = tokio::time::timeout(PIPE_GRACE, child.wait()).await;
            Ending::TimedOut
        }
    };
    writer.abort();
    Ok(Finished { ending, stdout: stdout.finish().await, stderr: stderr.finish().await })
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) with a negative pid signals that process group; it has no
        // memory-safety preconditions.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// One output stream read in the background into a bounded buffer.
struct Capture {
    buffer: Arc<Mutex<Vec<u8>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Capture {
    fn start(stream: Option<impl AsyncRead + Unpin + Send + 'static>) -> Capture {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let task = stream.map(|mut stream| {
            let buffer = buffer.clone();
            tokio::spawn(async move {
                let mut chunk = [0u8; 8192];
                while let Ok(n) = stream.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                    let mut buffer = buffer.lock().unwrap_or_else(|e| e.into_inner());
                    let room = CAPTURE_MAX_BYTES.saturating_sub(buffer.len());
                    buffer.extend_from_slice(&chunk[..n.min(room)]);
                }
            })
        });
        Capture { buffer, task }
    }

    /// What was read, once the stream closed or the grace period passed.
    async fn finish(mut self) -> Vec<u8> {
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(PIPE_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
        std::mem::take(&mut *self.buffer.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
