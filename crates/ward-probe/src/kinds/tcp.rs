//! tcp: does `host:port` accept connections? Half-open (`syn.rs`) when the context
//! has a raw socket and the target is an IPv4 literal; otherwise connect to it, and
//! an established connection is a pass.

use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::Ordering;

use tokio::net::TcpSocket;

use crate::context::ProbeContext;
use crate::result::{bounded, fail, pass, short_io_error, ProbeResult};
use crate::spec::ProbeSpec;

/// A tcp check the way `context` runs them (`TcpPath`).
pub async fn probe_tcp_in(spec: &ProbeSpec, context: &ProbeContext) -> ProbeResult {
    probe_tcp_parsed(spec, ipv4_literal(&spec.target), context).await
}

/// The target if it is an IPv4 unicast literal `a.b.c.d:port` with a port (what the
/// half-open path takes). 0.0.0.0 (connect() turns it into a local address, so the
/// reply would come from another one), broadcast, multicast and port 0 connect.
pub(crate) fn ipv4_literal(target: &str) -> Option<SocketAddrV4> {
    match target.parse::<SocketAddr>() {
        Ok(SocketAddr::V4(address))
            if address.port() != 0 && !address.ip().is_unspecified() && !address.ip().is_broadcast() && !address.ip().is_multicast() =>
        {
            Some(address)
        }
        _ => None,
    }
}

/// `probe_tcp_in` with the target already parsed (the scheduler parses once per inventory).
pub(crate) async fn probe_tcp_parsed(spec: &ProbeSpec, ipv4: Option<SocketAddrV4>, context: &ProbeContext) -> ProbeResult {
    let tcp = &context.tcp;
    if let Some(prober) = &tcp.half_open {
        match ipv4 {
            Some(target) => {
                if let Some(pending) = prober.start(target) {
                    tcp.half_open_runs.fetch_add(1, Ordering::Relaxed);
                    return bounded(spec.timeout, pending.verdict(spec.timeout)).await;
                }
            }
            None => {
                if !tcp.fallback_logged.swap(true, Ordering::Relaxed) {
                    tracing::debug!(target = %spec.target, "half-open tcp checks take IPv4 unicast literals only: this target (and any other name, IPv6 or special address) connects");
                }
            }
        }
    }
    tcp.connect_runs.fetch_add(1, Ordering::Relaxed);
    // Boxed: name resolution and connect() make a large future, which would make
    // every half-open run's task as large.
    Box::pin(probe_tcp(spec)).await
}

/// A tcp check by `connect()`, whatever the context.
pub async fn probe_tcp(spec: &ProbeSpec) -> ProbeResult {
    bounded(spec.timeout, async { connect_verdict(&spec.target).await.map_or_else(fail, |_| pass()) }).await
}

/// Connects to `host:port` (an IP literal is used as is; a name is resolved and its
/// addresses tried in order). Closed with SO_LINGER 0, i.e. a reset, as HAProxy does
/// for its checks: no TIME_WAIT pile-up on either side at high probe rates.
pub(crate) async fn connect_verdict(target: &str) -> Result<SocketAddr, String> {
    let addresses: Vec<SocketAddr> = match target.parse::<SocketAddr>() {
        Ok(address) => vec![address],
        Err(_) => {
            if !target.contains(':') {
                return Err(format!("target {target:?} is not host:port"));
            }
            match tokio::net::lookup_host(target).await {
                Ok(found) => found.collect(),
                Err(error) => return Err(format!("resolve {target}: {error}")),
            }
        }
    };
    let mut last_error = format!("{target} resolves to no address");
    for address in addresses {
        match connect_once(address).await {
            Ok(()) => return Ok(address),
            Err(error) => last_error = short_io_error(&error),
        }
    }
    Err(last_error)
}

async fn connect_once(address: SocketAddr) -> io::Result<()> {
    let socket = if address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_zero_linger()?;
    let stream = socket.connect(address).await?;
    drop(stream);
    Ok(())
}
