//! The API's listener: a bounded number of connections served at once, each with
//! a deadline to send its request and an idle timeout. Idle or slow clients can
//! neither exhaust the daemon's descriptors nor hold a slot for long (a connection
//! waiting for a slot stays in the kernel's backlog and holds no descriptor).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// A request (its headers and body) must arrive within this of its first byte, or
/// of the connection being accepted. Longer than any handler takes to answer.
pub const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(15);
/// A kept-alive connection with nothing to say is closed after this.
pub const CONNECTION_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// After a failed accept (out of descriptors), wait this long before the next.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

pub struct BoundedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
}

impl BoundedListener {
    pub fn new(inner: TcpListener, connections_max: usize) -> BoundedListener {
        BoundedListener { inner, slots: Arc::new(Semaphore::new(connections_max.max(1))) }
    }
}

impl axum::serve::Listener for BoundedListener {
    type Io = BoundedConn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // Only a free slot accepts: extra clients wait in the backlog.
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                return std::future::pending().await;
            };
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (BoundedConn::new(stream, permit), addr);
                }
                Err(e) => {
                    tracing::warn!("API accept failed: {e}");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// One API connection: holds its slot until dropped, and fails its reads and
/// writes once its deadline passes.
pub struct BoundedConn {
    inner: TcpStream,
    _slot: OwnedSemaphorePermit,
    /// Set while a request is being read (since accept or its first byte).
    reading: bool,
    deadline: Pin<Box<Sleep>>,
}

impl BoundedConn {
    fn new(inner: TcpStream, slot: OwnedSemaphorePermit) -> BoundedConn {
        BoundedConn { inner, _slot: slot, reading: true, deadline: Box::pin(tokio::time::sleep(REQUEST_READ_TIMEOUT)) }
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }

    fn timed_out(&self) -> io::Error {
        let what = if self.reading { "the request did not arrive in time" } else { "the connection was idle too long" };
        io::Error::new(io::ErrorKind::TimedOut, what)
    }
}

impl AsyncRead for BoundedConn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && !this.reading {
                    this.reading = true;
                    this.deadline.as_mut().reset(Instant::now() + REQUEST_READ_TIMEOUT);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(this.timed_out())),
            other => other,
        }
    }
}

impl BoundedConn {
    /// An answer going out starts the idle wait for the next request; a write
    /// that cannot go on past the deadline fails.
    fn after_write(&mut self, cx: &mut Context<'_>, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.reading = false;
                    self.deadline.as_mut().reset(Instant::now() + CONNECTION_IDLE_TIMEOUT);
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(self.timed_out())),
            other => other,
        }
    }
}

impl AsyncWrite for BoundedConn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, data);
        this.after_write(cx, written)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
