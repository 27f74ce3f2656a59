//! One line an operator can check at a glance after `ward validate`.

use std::collections::BTreeMap;

use ward_core::inventory::Snapshot;

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// e.g. "4 nodes in 2 sites, 3 observers (quorum 2), 3 checks, 1 service (1 dns), 1 hook, 2 routes".
pub fn summary(snapshot: &Snapshot) -> String {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for service in snapshot.services() {
        *kinds.entry(service.kind.name()).or_default() += 1;
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let services = count(snapshot.services().len(), "service", "services");
    let services = if kinds.is_empty() {
        services
    } else {
        format!("{services} ({})", kinds.join(", "))
    };
    format!(
        "{} in {}, {} (quorum {}), {}, {}, {}, {}",
        count(snapshot.nodes().len(), "node", "nodes"),
        count(snapshot.sites().len(), "site", "sites"),
        count(snapshot.observers().len(), "observer", "observers"),
        snapshot.policy().quorum,
        count(snapshot.checks().len(), "check", "checks"),
        services,
        count(snapshot.hooks().len(), "hook", "hooks"),
        count(snapshot.routes().len(), "route", "routes"),
    )
}
