//! dns: resolve a name. Target `name@server:port` asks that server (UDP; port 53 if
//! omitted); a bare `name` uses the system resolver (`/etc/resolv.conf`). Passes when
//! the name resolves and, if `expect_body` lists IPs (comma-separated), when the answer
//! set equals that set exactly (order and duplicates ignored).
//!
//! A fresh resolver with no cache is built for every run: a probe must ask the
//! server each time, not replay an answer it got earlier.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::{LookupIpStrategy, NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::TokioResolver;

use crate::context::ProbeContext;
use crate::result::{bounded, fail, pass, timed_out, ProbeResult, Verdict};
use crate::spec::ProbeSpec;

pub async fn probe_dns(spec: &ProbeSpec, context: &ProbeContext) -> ProbeResult {
    bounded(spec.timeout, resolve(spec, context)).await
}

async fn resolve(spec: &ProbeSpec, context: &ProbeContext) -> Verdict {
    let (name, server) = match spec.target.split_once('@') {
        Some((name, server)) => match parse_server(server) {
            Some(server) => (name, Some(server)),
            None => return fail(format!("dns server {server:?} is not ip[:port]")),
        },
        None => (spec.target.as_str(), None),
    };
    let expected = match spec.expect_body.as_deref().map(parse_expected).transpose() {
        Ok(expected) => expected,
        Err(word) => return fail(format!("expected answer {word:?} is not an IP address")),
    };
    let (config, mut options) = match server {
        Some(server) => {
            let group = NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
            let mut options = ResolverOpts::default();
            // Ask that server only, not /etc/hosts.
            options.use_hosts_file = ResolveHosts::Never;
            (ResolverConfig::from_parts(None, vec![], group), options)
        }
        None => match &context.system_dns {
            Some(system) => system.as_ref().clone(),
            None => return fail("no system resolver configuration (/etc/resolv.conf)"),
        },
    };
    options.timeout = spec.timeout;
    options.attempts = 1;
    options.cache_size = 0;
    options.ip_strategy = match &expected {
        Some(set) if set.iter().all(IpAddr::is_ipv4) => LookupIpStrategy::Ipv4Only,
        Some(set) if set.iter().all(IpAddr::is_ipv6) => LookupIpStrategy::Ipv6Only,
        Some(_) => LookupIpStrategy::Ipv4AndIpv6,
        None => LookupIpStrategy::Ipv4thenIpv6,
    };
    let mut builder = TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
    *builder.options_mut() = options;
    let resolver = builder.build();
    let answer: BTreeSet<IpAddr> = match resolver.lookup_ip(name).await {
        Ok(lookup) => lookup.iter().collect(),
        Err(error) if error.is_nx_domain() => return fail(format!("{name}: no such name")),
        Err(error) if error.is_no_records_found() => return fail(format!("{name}: no address records")),
        Err(error) if error.proto().is_some_and(|proto| matches!(proto.kind(), ProtoErrorKind::Timeout)) => return timed_out(spec.timeout),
        Err(error) => return fail(format!("{name}: {error}")),
    };
    match expected {
        Some(expected) if expected != answer => fail(format!("answer {}, expected {}", list(&answer), list(&expected))),
        _ if answer.is_empty() => fail(format!("{name}: empty answer")),
        _ => pass(),
    }
}

fn parse_server(text: &str) -> Option<SocketAddr> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Some(address);
    }
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53))
}

fn parse_expected(text: &str) -> Result<BTreeSet<IpAddr>, String> {
    text.split(',').map(str::trim).filter(|word| !word.is_empty()).map(|word| word.parse().map_err(|_| word.to_string())).collect()
}

fn list(set: &BTreeSet<IpAddr>) -> String {
    if set.is_empty() {
        return "empty".into();
    }
    set.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(",")
}
