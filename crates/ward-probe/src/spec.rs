//! What one probe runs: a (node, check) pair with the target rendered for that node.
//!
//! Specs are plain values built once per inventory snapshot, so the scheduler's hot
//! path never looks anything up in the snapshot.

use std::time::Duration;

use ward_core::ids::ProbeId;
use ward_core::inventory::{render_target, AddressForm, CheckKind, Snapshot};

#[derive(Clone, Debug, PartialEq)]
pub struct ProbeSpec {
    /// Index into the snapshot's probes: what observations report on.
    pub probe: ProbeId,
    /// Node and check names: the identity that survives an inventory reload (ids may shift).
    pub node: String,
    pub check: String,
    pub kind: CheckKind,
    /// The check's target with `{address}` and `{node}` replaced for this node.
    pub target: String,
    /// http: expected status (default any 2xx); exec: expected exit code (default 0).
    pub expect_status: Option<u16>,
    /// http: a substring the body must contain; dns: comma-separated IPs the answer must equal.
    pub expect_body: Option<String>,
    pub interval: Duration,
    /// Every probe is bounded by this, no exceptions (seed 003: a missing HTTP timeout wedged traffic).
    pub timeout: Duration,
}

impl ProbeSpec {
    /// A spec outside any inventory (tests, benchmarks, `ward probe` one-offs):
    /// 1 s interval, 500 ms timeout, no expectations.
    pub fn new(probe: ProbeId, kind: CheckKind, target: impl Into<String>) -> ProbeSpec {
        ProbeSpec {
            probe,
            node: format!("node{}", probe.0),
            check: "adhoc".into(),
            kind,
            target: target.into(),
            expect_status: None,
            expect_body: None,
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
        }
    }

    /// A stable 64-bit identity from (node name, check name), used to spread probes
    /// over their interval: the same probe keeps its phase across reloads and restarts.
    pub fn identity_hash(&self) -> u64 {
        // FNV-1a: tiny, deterministic across builds (std's hasher is randomly seeded).
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.node.bytes().chain([0u8]).chain(self.check.bytes()) {
            hash ^= byte as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash
    }
}

/// One spec per probe of the snapshot, in `Snapshot::probes()` order.
pub fn specs(snapshot: &Snapshot) -> Vec<ProbeSpec> {
    snapshot
        .probes()
        .iter()
        .enumerate()
        .map(|(index, probe)| {
            let node = snapshot.node(probe.node);
            let check = snapshot.check(probe.check);
            ProbeSpec {
                probe: ProbeId(index as u32),
                node: node.name.clone(),
                check: check.name.clone(),
                kind: check.kind,
                target: render(&check.target, &node.address, &node.name, check.kind),
                expect_status: check.expect_status,
                expect_body: check.expect_body.clone(),
                interval: Duration::from_millis(check.interval_ms),
                timeout: Duration::from_millis(check.timeout_ms),
            }
        })
        .collect()
}

/// Replaces `{address}` and `{node}`. For kinds whose target is `host:port` or a URL,
/// an IPv6 literal address is put in brackets (`[::1]:80`) unless the template already
/// has them; exec command lines and disk paths get the address verbatim.
pub fn render(template: &str, address: &str, node: &str, kind: CheckKind) -> String {
    let form = if matches!(kind, CheckKind::Exec | CheckKind::Disk) { AddressForm::Verbatim } else { AddressForm::HostPort };
    render_target(template, address, node, form)
}
