//! What probes share within one scheduler: an HTTP client (connection pool, TLS
//! roots loaded once), the system DNS configuration, and a bound on blocked disk calls.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{ResolverConfig, ResolverOpts};

#[derive(Clone)]
pub struct ProbeContext {
    pub(crate) http: reqwest::Client,
    /// `/etc/resolv.conf`, read once; `None` if it could not be read (dns probes
    /// without an explicit server then fail and say so).
    pub(crate) system_dns: Option<Arc<(ResolverConfig, ResolverOpts)>>,
    /// statvfs calls still blocked in the thread pool (a hung NFS mount): capped so a
    /// stuck filesystem cannot eat a thread per probe run.
    pub(crate) disk_blocked: Arc<AtomicUsize>,
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
        ProbeContext { http, system_dns, disk_blocked: Arc::new(AtomicUsize::new(0)) }
    }
}

impl Default for ProbeContext {
    fn default() -> Self {
        ProbeContext::new(Duration::from_secs(5))
    }
}
