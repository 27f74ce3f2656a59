//! The scenario file as written: TOML, parsed with serde and `deny_unknown_fields`
//! so a typo is an error, not a silently ignored knob. `typed.rs` turns this into
//! checked values; nothing here is interpreted yet.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: String,
    /// The incident report under shared/seeds/ this scenario replays.
    pub seed_report: Option<String>,
    pub description: Option<String>,
    /// Path of the inventory, relative to the scenario file.
    pub inventory: String,
    pub duration: String,
    #[serde(default = "default_start_clock")]
    pub start_clock: String,
    /// The default seed; `--seed` overrides it.
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub world: RawWorld,
    #[serde(default, rename = "event")]
    pub events: Vec<RawEvent>,
    #[serde(default)]
    pub expect: RawExpect,
}

fn default_start_clock() -> String {
    "00:00".into()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorld {
    pub actuator_latency: Option<String>,
    pub actuator_jitter: Option<String>,
    pub actuator_failure_rate: Option<f64>,
    /// Per-hook overrides, keyed by hook name.
    #[serde(default)]
    pub hook: BTreeMap<String, RawHookKnobs>,
    pub probe_loss: Option<f64>,
    pub probe_latency: Option<String>,
    pub probe_jitter: Option<String>,
    pub notify_latency: Option<String>,
    pub reboot: Option<String>,
    pub write_rate_per_s: Option<u64>,
    pub tree_files: Option<u32>,
    pub max_events: Option<u64>,
    #[serde(default)]
    pub disk: Vec<RawDisk>,
    #[serde(default)]
    pub tree: Vec<RawTree>,
    #[serde(default)]
    pub replica: Vec<RawReplica>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReplica {
    pub node: String,
    #[serde(default)]
    pub synchronous: bool,
    pub replay_delay: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHookKnobs {
    pub latency: Option<String>,
    pub jitter: Option<String>,
    pub failure_rate: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDisk {
    pub node: String,
    pub total_gb: f64,
    pub used_gb: f64,
    #[serde(default)]
    pub reserved_gb: f64,
    #[serde(default)]
    pub gb_per_hour: f64,
    /// Extra growth while a replica of this node has broken replication (WAL piles up).
    #[serde(default)]
    pub wal_gb_per_hour: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTree {
    pub node: String,
    pub files: u32,
}

/// One event. Every kind uses a subset of these fields; `typed.rs` says which,
/// and rejects fields a kind does not use.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    pub at: String,
    pub kind: String,
    pub note: Option<String>,
    pub node: Option<String>,
    pub nodes: Option<Vec<String>>,
    pub between: Option<Vec<String>>,
    pub until: Option<String>,
    pub up: Option<Vec<String>>,
    pub period_min: Option<String>,
    pub period_max: Option<String>,
    pub duration: Option<String>,
    pub error: Option<String>,
    pub lag: Option<String>,
    pub gb_per_hour: Option<f64>,
    pub file: Option<String>,
    pub prefix_percent: Option<u32>,
    pub jump: Option<String>,
    pub clock: Option<String>,
    pub command: Option<String>,
    pub target: Option<String>,
    pub reason: Option<String>,
    pub author: Option<String>,
    pub service: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub batch_size: Option<u32>,
    pub operation: Option<String>,
    pub matching: Option<String>,
    pub cause_prefix: Option<String>,
    pub check: Option<String>,
    pub files: Option<u32>,
    /// Any event: fires when Ward first completes an action of this kind at or
    /// after `at`, instead of at `at` (a fault that depends on what Ward did).
    pub after_action: Option<String>,
    /// `probe_loss`: the probability a probe times out from now on.
    pub rate: Option<f64>,
    /// A rollout's scope: the node label naming a failure domain, how many domains
    /// may be out at once, and the share of any service's candidates.
    pub domain: Option<String>,
    pub domains_max: Option<u32>,
    pub pool_percent: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// Metrics Ward must beat the naive baseline on; see `expect.rs`.
    #[serde(default)]
    pub beats_baseline: Vec<String>,
    #[serde(default)]
    pub ward: RawBounds,
    #[serde(default)]
    pub naive: RawBounds,
    #[serde(default)]
    pub check: Vec<RawCheck>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBounds {
    pub availability_min: Option<f64>,
    pub availability_max: Option<f64>,
    pub split_brain_ms_max: Option<u64>,
    pub outage_ms_max: Option<u64>,
    pub moves_max: Option<u64>,
    pub moves_min: Option<u64>,
    pub flaps_max: Option<u64>,
    pub refused_min: Option<u64>,
    pub approval_gated_min: Option<u64>,
    pub alerts_min: Option<u64>,
    pub pages_min: Option<u64>,
    pub alerts_max: Option<u64>,
    pub pages_max: Option<u64>,
    /// The longest a primary service may be without a working writer (ms).
    pub writerless_ms_max: Option<u64>,
    pub acked_writes_lost_max: Option<u64>,
    pub acked_writes_lost_min: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub kind: String,
    /// `ward` (default) or `naive`.
    pub mode: Option<String>,
    pub note: Option<String>,
    pub cause_prefix: Option<String>,
    pub other_prefix: Option<String>,
    pub severity: Option<String>,
    pub outcome: Option<String>,
    pub action: Option<String>,
    pub contains: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
    pub within: Option<String>,
    pub min: Option<u64>,
    pub max: Option<u64>,
    pub service: Option<String>,
    pub node: Option<String>,
    pub not_before: Option<String>,
    pub end: Option<String>,
    pub at: Option<String>,
    pub holders: Option<Vec<String>>,
    /// `no_promotion_into_site`: the site.
    pub site: Option<String>,
    /// `order`: journal text that must appear, and at or before `then`.
    pub first: Option<String>,
    pub then: Option<String>,
}
