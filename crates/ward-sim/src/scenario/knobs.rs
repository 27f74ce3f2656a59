//! The world's named knobs, with defaults.

use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct HookKnobs {
    pub latency_ms: u64,
    pub jitter_ms: u64,
    pub failure_rate: f64,
}

#[derive(Clone, Debug)]
pub struct DiskKnobs {
    pub node: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub reserved_bytes: u64,
    pub bytes_per_hour: u64,
    pub wal_bytes_per_hour: u64,
}

/// How one replica replicates (`[[world.replica]]`).
#[derive(Clone, Debug)]
pub struct ReplicaKnobs {
    pub node: String,
    /// Its source waits for it on commit.
    pub synchronous: bool,
    /// Replay runs this far behind what it received.
    pub replay_delay_ms: u64,
}

#[derive(Clone, Debug)]
pub struct WorldKnobs {
    /// Default actuator behaviour; `hooks` overrides it per hook name.
    pub actuator: HookKnobs,
    pub hooks: BTreeMap<String, HookKnobs>,
    /// Probability that one probe from an observer is lost (a timeout).
    pub probe_loss: f64,
    pub probe_latency_ms: u64,
    /// Each observer's probe rounds are offset by a seeded amount up to this.
    pub probe_jitter_ms: u64,
    pub notify_latency_ms: u64,
    /// How long a `maintain` (reboot) keeps a node down.
    pub reboot_ms: u64,
    /// Positions a primary writes per second (replicas replay them).
    pub write_rate_per_s: u64,
    /// Files in each sync candidate's tree unless `trees` says otherwise.
    pub tree_files: u32,
    pub trees: BTreeMap<String, u32>,
    pub disks: Vec<DiskKnobs>,
    /// A run stops (and fails) after this many events.
    pub max_events: u64,
    pub replicas: Vec<ReplicaKnobs>,
}

pub const GB: f64 = 1_000_000_000.0;

impl Default for WorldKnobs {
    fn default() -> Self {
        WorldKnobs {
            actuator: HookKnobs { latency_ms: 2_000, jitter_ms: 500, failure_rate: 0.0 },
            hooks: BTreeMap::new(),
            probe_loss: 0.0,
            probe_latency_ms: 20,
            probe_jitter_ms: 500,
            notify_latency_ms: 1_000,
            reboot_ms: 120_000,
            write_rate_per_s: 100,
            tree_files: 10_000,
            trees: BTreeMap::new(),
            disks: Vec::new(),
            max_events: 5_000_000,
            replicas: Vec::new(),
        }
    }
}

impl WorldKnobs {
    pub fn hook(&self, name: &str) -> &HookKnobs {
        self.hooks.get(name).unwrap_or(&self.actuator)
    }
}
