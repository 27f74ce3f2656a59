//! What probes share within one scheduler: an HTTP client (connection pool, TLS
//! roots loaded once), the system DNS configuration, a bound on blocked disk calls,
//! and how tcp checks run (`TcpPath`: the half-open prober when there is one).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{ResolverConfig, ResolverOpts};

use crate::kinds::{HalfOpenCounts, SynProber};

/// How tcp checks run. Both answer the same layer-4 question (does `host:port`
/// accept connections? pass / refused = fail / no answer = timeout); see
/// `kinds/syn.rs` for the few differences.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TcpPath {
    /// `connect()`, then a reset (SO_LINGER 0). Every target, no privilege needed.
    Connect,
    /// Half-open: one SYN from a raw socket, a SYN-ACK is a pass, a RST a refusal;
    /// no handshake completes. For IPv4 literal targets when a raw socket can be
    /// opened (CAP_NET_RAW); names, IPv6 and unprivileged processes use `Connect`
    /// (said once in a debug log). The scheduler's default: it is what lets 100,000
    /// targets a second fit on two cores.
    #[default]
    HalfOpenWhenAvailable,
    /// For tests: behave as `HalfOpenWhenAvailable` on a host where the raw socket
    /// cannot be opened (the fallback to `Connect`, with its debug line).
    HalfOpenDenied,
}

/// The tcp path in use and its counters.
#[derive(Default)]
pub(crate) struct TcpState {
    pub(crate) half_open: Option<SynProber>,
    /// Runs that went half-open, and runs that used `connect()`.
    pub(crate) half_open_runs: AtomicU64,
    pub(crate) connect_runs: AtomicU64,
    /// The "this target cannot go half-open" debug line was written.
    pub(crate) fallback_logged: AtomicBool,
}

#[derive(Clone)]
pub struct ProbeContext {
    pub(crate) http: reqwest::Client,
    /// `/etc/resolv.conf`, read once; `None` if it could not be read (dns probes
    /// without an explicit server then fail and say so).
    pub(crate) system_dns: Option<Arc<(ResolverConfig, ResolverOpts)>>,
    /// statvfs calls still blocked in the thread pool (a hung NFS mount): capped so a
    /// stuck filesystem cannot eat a thread per probe run.
    pub(crate) disk_blocked: Arc<AtomicUsize>,
    pub(crate) tcp: Arc<TcpState>,
}

/// How many statvfs calls may be outstanding at once before disk probes fail fast.
pub(crate) const DISK_BLOCKED_MAX: usize = 16;

impl ProbeContext {
    /// Builds the shared HTTP client: connect timeout as given (each request also
    /// carries its check's total timeout), at most 3 redirects, no proxy from the
    /// environment (a health check must reach the node itself), a small idle pool.
    pub fn new(http_connect_timeout: Duration) -> ProbeContext {
        let http = reqwest::Client::builder()
            .connect_timeout(http_connect_timeout)
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::limited(3))
            .no_proxy()
            .pool_max_idle_per_host(4)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("ward-probe/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("reqwest client with rustls and no custom roots always builds");
        let system_dns = match hickory_resolver::system_conf::read_system_conf() {
            Ok(config) => Some(Arc::new(config)),
            Err(error) => {
                tracing::warn!(%error, "no system DNS configuration: dns probes without a server will fail");
                None
            }
        };
        ProbeContext { http, system_dns, disk_blocked: Arc::new(AtomicUsize::new(0)), tcp: Arc::default() }
    }

    /// This context with tcp checks run by `path` (`new` connects). Half-open needs a
    /// tokio runtime (the raw socket joins its reactor, a receive task is spawned);
    /// when it is not available this says so once in a debug log and connects.
    pub fn with_tcp_path(mut self, path: TcpPath) -> ProbeContext {
        let opened = match path {
            TcpPath::Connect => None,
            TcpPath::HalfOpenWhenAvailable if tokio::runtime::Handle::try_current().is_err() => {
                Some(Err(std::io::Error::other("not inside a tokio runtime")))
            }
            TcpPath::HalfOpenWhenAvailable => Some(SynProber::open()),
            TcpPath::HalfOpenDenied => Some(Err(std::io::Error::from_raw_os_error(libc::EPERM))),
        };
        let half_open = match opened {
            None => None,
            Some(Ok(prober)) => {
                let (first, count) = prober.ports();
                tracing::debug!(source_ports = %format_args!("{first}-{}", first + count - 1), "tcp checks to IPv4 addresses run half-open (SYN)");
                Some(prober)
            }
            Some(Err(error)) => {
                tracing::debug!(%error, "no raw socket for half-open tcp checks (needs CAP_NET_RAW): they connect()");
                None
            }
        };
        self.tcp = Arc::new(TcpState { half_open, ..TcpState::default() });
        self
    }

    /// Whether tcp checks to IPv4 addresses run half-open.
    pub fn tcp_half_open(&self) -> bool {
        self.tcp.half_open.is_some()
    }

    /// Packets of the half-open path so far; `None` when tcp checks connect.
    pub fn tcp_half_open_counts(&self) -> Option<HalfOpenCounts> {
        self.tcp.half_open.as_ref().map(SynProber::counts)
    }

    /// tcp runs so far: (half-open, connect).
    pub fn tcp_runs(&self) -> (u64, u64) {
        (self.tcp.half_open_runs.load(Ordering::Relaxed), self.tcp.connect_runs.load(Ordering::Relaxed))
    }
}

impl Default for ProbeContext {
    fn default() -> Self {
        ProbeContext::new(Duration::from_secs(5))
    }
}
