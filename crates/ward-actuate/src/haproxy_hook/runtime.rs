//! HAProxy's runtime API: one command per connection (non-interactive mode: HAProxy
//! answers and closes), over a unix socket or TCP, with a time limit.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::Instant;
use ward_core::time::human_duration;

use crate::text::rounded_ms;

/// Answers beyond this are not answers to any command we send.
const ANSWER_MAX_BYTES: usize = 1 << 20;

pub(crate) struct Runtime<'a> {
    /// A unix socket path (`/run/haproxy/admin.sock`) or `host:port`.
    pub socket: &'a str,
}

impl Runtime<'_> {
    /// Sends `command` and returns HAProxy's whole answer, by `until`.
    pub async fn ask(&self, command: &str, until: Instant) -> Result<String, String> {
        let limit = until.saturating_duration_since(Instant::now());
        if limit.is_zero() {
            return Err(format!("no time was left to send `{command}` to HAProxy at {}", self.socket));
        }
        match tokio::time::timeout(limit, self.exchange(command)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(format!("HAProxy at {}: `{command}`: {e}", self.socket)),
            Err(_elapsed) => Err(format!(
                "HAProxy at {} did not answer `{command}` within {}; whether it took effect is unknown",
                self.socket,
                human_duration(rounded_ms(limit))
            )),
        }
    }

    async fn exchange(&self, command: &str) -> std::io::Result<String> {
        if self.socket.starts_with('/') {
            exchange_on(UnixStream::connect(self.socket).await?, command).await
        } else {
            exchange_on(TcpStream::connect(self.socket).await?, command).await
        }
    }
}

async fn exchange_on(mut stream: impl AsyncRead + AsyncWrite + Unpin, command: &str) -> std::io::Result<String> {
    stream.write_all(format!("{command}\n").as_bytes()).await?;
    stream.flush().await?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n.min(ANSWER_MAX_BYTES.saturating_sub(answer.len()))]);
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// `set server` and `shutdown sessions` answer an empty line when they worked;
/// anything else is HAProxy's error, returned verbatim (trimmed, on one line).
pub(crate) fn error_in(answer: &str) -> Option<String> {
    let text = answer.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}
