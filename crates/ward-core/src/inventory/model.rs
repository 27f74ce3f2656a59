//! The validated inventory ("ENC"): typed, immutable, cross-references resolved to ids.
//!
//! A `Snapshot` is only ever produced whole by the loader (`ward-inventory`), which
//! parses, validates and hashes the bytes. The core never sees a partial one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::*;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Site {
    pub name: String,
}

/// A vantage point that runs probes. Quorum is counted over these.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observer {
    pub name: String,
    pub site: SiteId,
}

/// Where a node is in its life. Only `Ready` may serve or be a sync source;
/// `Syncing` may receive a sync (seed 001: "sync to me, but don't sync from me yet").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    Provisioning,
    Syncing,
    Ready,
    Draining,
    Maintenance,
}

impl Lifecycle {
    pub fn may_serve(self) -> bool {
        self == Lifecycle::Ready
    }
    pub fn may_be_sync_source(self) -> bool {
        self == Lifecycle::Ready
    }
    pub fn may_receive_sync(self) -> bool {
        matches!(self, Lifecycle::Syncing | Lifecycle::Ready)
    }
    pub fn name(self) -> &'static str {
        match self {
            Lifecycle::Provisioning => "provisioning",
            Lifecycle::Syncing => "syncing",
            Lifecycle::Ready => "ready",
            Lifecycle::Draining => "draining",
            Lifecycle::Maintenance => "maintenance",
        }
    }
}

/// How a node replicates, when it does. Its health folds in this state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replication {
    /// The node this one copies from.
    pub source: NodeId,
    /// Lag above this makes the node ineligible to serve or be promoted.
    pub lag_max_ms: u64,
    /// The check whose observations carry this node's replication status.
    pub check: CheckId,
    /// The hook that may restart this node's replication when it has stopped
    /// (`Action::Repair`); none: Ward only alerts.
    #[serde(default)]
    pub repair: Option<HookId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub site: SiteId,
    pub labels: BTreeMap<String, String>,
    pub address: String,
    pub lifecycle: Lifecycle,
    /// Higher wins ties when choosing a candidate.
    pub priority: i32,
    /// Nodes that must be healthy for this node to be eligible (e.g. the site's
    /// database replica behind a site's front end, seed 000).
    pub depends_on: Vec<NodeId>,
    pub replication: Option<Replication>,
    /// Disk watched for a time-until-full forecast: the check that reports it.
    pub disk_check: Option<CheckId>,
    /// The node runs `ward agent`, which holds a lease from the controller and
    /// fences its own primary when it loses both the controller and a majority.
    #[serde(default)]
    pub agent: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    Tcp,
    Http,
    Exec,
    Dns,
    Postgres,
    Mysql,
    Disk,
}

/// Configuration of a health check. Every check has a timeout, below its interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub kind: CheckKind,
    /// What to probe; `{address}` and `{node}` are replaced per node.
    /// tcp: `host:port`; http: URL; exec: command line; dns: `name@server`.
    pub target: String,
    /// http: expected status; exec: expected exit code.
    pub expect_status: Option<u16>,
    /// http: the body must contain this text.
    pub expect_body: Option<String>,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// Consecutive passes before a down probe counts as up.
    pub rise: u32,
    /// Consecutive failures before an up probe counts as down.
    pub fall: u32,
    /// Consecutive failures *that include timeouts* before an up probe counts as down
    /// (>= `fall`). A refused connection says the process is gone; a timeout may be a
    /// freeze or a slow network that passes, so it gets this longer grace.
    pub timeout_fall: u32,
    /// The nodes this check runs against (resolved from its selector).
    pub nodes: Vec<NodeId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookKind {
    /// keepalived-notify style: the script gets WARD_SERVICE, WARD_ACTION, WARD_FROM,
    /// WARD_TO and WARD_JOB in its environment; the exit code decides.
    Exec { command: Vec<String> },
    /// A JSON POST with an idempotency key header.
    Http { url: String },
    /// Built in (ward-actuate `postgres_hook`): fence, promote and repoint PostgreSQL
    /// servers over SQL. `dsn` is rendered per node like a check target (`{address}`,
    /// `{node}`); `fence_command` (rendered the same way, run without a shell) fences
    /// a node of a service whose `fence` is `stop` or `hook`.
    Postgres { dsn: String, fence_command: Option<Vec<String>> },
    /// Built in (ward-actuate `haproxy_hook`): server states in one HAProxy backend
    /// through its runtime API. `socket` is a unix socket path or `host:port`; the
    /// backend's server names are Ward's node names.
    Haproxy { socket: String, backend: String },
    /// Built in (ward-actuate `mysql_hook`): repairs MySQL/MariaDB replicas over SQL
    /// (`restart_replication`: `STOP SLAVE; START SLAVE`). `dsn` is rendered per node
    /// like a check target (`mysql://USER:PASSWORD@{address}`).
    Mysql { dsn: String },
}

impl HookKind {
    pub fn name(&self) -> &'static str {
        match self {
            HookKind::Exec { .. } => "exec",
            HookKind::Http { .. } => "http",
            HookKind::Postgres { .. } => "postgres",
            HookKind::Haproxy { .. } => "haproxy",
            HookKind::Mysql { .. } => "mysql",
        }
    }
}

/// An actuator hook. Services name the hook that carries out their moves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    pub name: String,
    pub kind: HookKind,
    pub timeout_ms: u64,
    pub retries: u32,
    /// How many jobs may run through this hook at once.
    pub parallel_max: u32,
    /// Services this hook acts for; validation resolves each (seed 004).
    pub services: Vec<ServiceId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteKind {
    /// Slack-compatible JSON.
    Slack {
        url: String,
    },
    /// Alertmanager-webhook-compatible JSON.
    Alertmanager {
        url: String,
    },
    Exec {
        command: Vec<String>,
    },
    /// Only the journal and the log (useful in tests and demos).
    Log,
}

/// Where notifications go, and whom to escalate to when nobody acknowledges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub name: String,
    pub kind: RouteKind,
    pub escalate_to: Option<RouteId>,
    pub escalate_after_ms: u64,
    /// At the end of the escalation chain (no `escalate_to`), an unacknowledged
    /// page is re-sent to this route this often (default: `escalate_after`).
    pub repeat_every_ms: u64,
    /// An alert first paged to this route escalates (or repeats) at most this
    /// many times; 0 never escalates. Acknowledging stops it sooner.
    pub escalations_max: u32,
}

impl Route {
    /// How many escalations an alert gets by default.
    pub const ESCALATIONS_MAX_DEFAULT: u32 = 10;
    /// The most `escalations_max` may be.
    pub const ESCALATIONS_MAX_LIMIT: u32 = 1_000;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// An address held by exactly one node.
    Vip,
    /// Records pointing at every eligible candidate.
    Dns,
    /// The writable member of a replicated database.
    Primary,
    /// Which ready node a tree is copied from.
    Sync,
}

impl ServiceKind {
    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::Vip => "vip",
            ServiceKind::Dns => "dns",
            ServiceKind::Primary => "primary",
            ServiceKind::Sync => "sync",
        }
    }
}

/// How the old primary is fenced before a standby is promoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FenceMode {
    Stop,
    ReadOnly,
    Hook,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub kind: ServiceKind,
    /// Budgets are counted per group.
    pub group: String,
    /// Candidate nodes, resolved from the selector, in inventory order.
    pub candidates: Vec<NodeId>,
    /// The placement the inventory declares at start (vip/primary: one node; dns: several).
    pub initial: Vec<NodeId>,
    /// Checks that decide a candidate's health for this service (empty: every check on the node).
    pub checks: Vec<CheckId>,
    /// Checks run after a move to prove it worked end to end (seed 004: can answers get out?).
    pub verify: Vec<CheckId>,
    pub actuator: HookId,
    pub notify: Vec<RouteId>,
    /// dns: never publish fewer targets than this; if fewer are eligible, keep the last good set.
    pub min_targets: u32,
    /// primary: how the old primary is fenced.
    pub fence: FenceMode,
    /// sync: a preview that deletes more files than this needs approval.
    pub sync_delete_max: u32,
    /// vip: the `primary` service whose holder this address always points at (the
    /// write endpoint of a replicated database follows its promotions).
    pub follows: Option<ServiceId>,
}

/// Blast-radius allowance: moves per window, per service group and fleet-wide.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub window_ms: u64,
    pub group_moves_max: u32,
    pub group_percent_max: u32,
    pub fleet_moves_max: u32,
    pub fleet_percent_max: u32,
    /// At most this share of a DNS service's candidates (distinct answers) may be
    /// removed per window without approval; never below one node.
    pub pool_percent_max: u32,
}

/// RFC 2439-style flap damping of node health.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Damping {
    pub penalty_per_flap: u32,
    pub half_life_ms: u64,
    pub suppress_above: u32,
    pub reuse_below: u32,
    pub penalty_max: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Integrity {
    /// A new snapshot may drop at most this many active, healthy nodes from candidacy
    /// without approval.
    pub removed_active_max: u32,
    /// A new snapshot may change at most this share of nodes and services without approval.
    pub changed_percent_max: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// How often the controller plans.
    pub tick_ms: u64,
    /// An observation older than this is unknown, never down.
    pub stale_after_ms: u64,
    /// Observers that must agree before a probe is up or down.
    pub quorum: u16,
    /// One observer seeing more than this share of its targets fail at once is suspect.
    pub observer_suspect_percent: u32,
    /// A gap between inputs beyond this means the process paused or the clock jumped.
    pub time_gap_max_ms: u64,
    pub budget: Budget,
    pub damping: Damping,
    pub integrity: Integrity,
    /// Warn when a disk is forecast to fill within this horizon.
    pub disk_warn_horizon_ms: u64,
    /// Routes for alerts not tied to a service (inventory, observers, time).
    pub default_notify: Vec<RouteId>,
    /// Every job step has this deadline unless its hook says otherwise.
    pub job_timeout_ms: u64,
    /// The site the controller runs in (None: not declared). Losing every node of
    /// another site at once is then one fact, "site B unreachable from A".
    #[serde(default)]
    pub controller_site: Option<SiteId>,
    /// Whether a primary may be promoted into another site than its current one
    /// without a person.
    #[serde(default)]
    pub cross_site_promotion: CrossSitePromotion,
    /// No cross-site action before a loss has lasted this long: most partitions
    /// heal within a minute, and a failover across sites turns them into long
    /// write outages.
    #[serde(default = "default_partition_grace_ms")]
    pub partition_grace_ms: u64,
    /// A standby is promotable only on replication evidence at most this old (the
    /// freshest report's age); when its source died, on evidence at most this old
    /// at the source's death.
    pub evidence_max_age_ms: u64,
    /// An automatic promotion that may lose acknowledged writes: asks a person first
    /// (`Approve`, the default) or goes ahead, its loss stated (`Allow`).
    pub promotion_data_loss: PromotionDataLoss,
    /// The scope every rollout is held to unless it declares its own.
    pub rollout: RolloutPolicy,
    /// A fence that failed is not tried again on that node for this long (nor
    /// while the node stays down): it can confirm nothing new, and each attempt at
    /// an unanswering host waits out its deadline. Seen healthy again clears it.
    #[serde(default = "default_fence_retry_after_ms")]
    pub fence_retry_after_ms: u64,
    /// Host agents' leases.
    #[serde(default)]
    pub agent: AgentPolicy,
}

fn default_fence_retry_after_ms() -> u64 {
    30_000
}

/// How `ward agent` leases are timed. The controller counts an unanswering
/// primary's server as fenced only `lease_ms + margin_ms` after the last renewal it
/// received: the agent's lease counts from when it sent that renewal (earlier), so
/// the agent runs out first; the margin covers its clock running slow (drift),
/// the time its self-fence takes, and a renewal delayed on the way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentPolicy {
    pub lease_ms: u64,
    pub renew_every_ms: u64,
    pub margin_ms: u64,
    /// Agent and controller wall clocks further apart than this: an alert, and the
    /// node's lease is not counted on (its primary falls back to approval).
    pub clock_skew_max_ms: u64,
}

impl Default for AgentPolicy {
    fn default() -> Self {
        AgentPolicy { lease_ms: 5_000, renew_every_ms: 1_000, margin_ms: 2_000, clock_skew_max_ms: 1_000 }
    }
}

/// Default scope of a rolling maintenance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutPolicy {
    /// At most this many failure domains (sites; racks or any label a rollout
    /// names) with nodes out at once.
    pub domains_max: u32,
    /// At most this share of any service's candidates out at once (never below one node).
    pub pool_percent_max: u32,
    /// A batch that cannot start without breaking a limit waits at most this long, then the rollout is refused.
    pub batch_wait_max_ms: u64,
}

/// `policy.cross_site_promotion`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossSitePromotion {
    /// A person approves every promotion into another site (the default).
    #[default]
    Approve,
    /// Ward promotes across sites on its own, after `partition_grace`.
    Allow,
}

fn default_partition_grace_ms() -> u64 {
    Policy::default().partition_grace_ms
}

/// `policy.promotion_data_loss`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionDataLoss {
    Approve,
    Allow,
}

impl PromotionDataLoss {
    pub fn name(self) -> &'static str {
        match self {
            PromotionDataLoss::Approve => "approve",
            PromotionDataLoss::Allow => "allow",
        }
    }
}

/// One (node, check) pair: the unit a probe runs and observations report on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub node: NodeId,
    pub check: CheckId,
}

impl Default for Policy {
    /// Production defaults, also what the loader fills in for omitted fields.
    fn default() -> Self {
        Policy {
            tick_ms: 1_000,
            stale_after_ms: 15_000,
            quorum: 1,
            observer_suspect_percent: 50,
            time_gap_max_ms: 10_000,
            budget: Budget {
                window_ms: 10 * 60_000,
                group_moves_max: 2,
                group_percent_max: 25,
                fleet_moves_max: 5,
                fleet_percent_max: 10,
                pool_percent_max: 50,
            },
            damping: Damping {
                penalty_per_flap: 1_000,
                half_life_ms: 15 * 60_000,
                suppress_above: 2_000,
                reuse_below: 750,
                penalty_max: 6_000,
            },
            integrity: Integrity { removed_active_max: 0, changed_percent_max: 25 },
            disk_warn_horizon_ms: 6 * 3_600_000,
            default_notify: Vec::new(),
            job_timeout_ms: 60_000,
            controller_site: None,
            cross_site_promotion: CrossSitePromotion::Approve,
            partition_grace_ms: 60_000,
            // Twice the default stale_after: a replication check every 5-10 s has
            // reported several times in it, and a stream that stopped cannot hide
            // behind a "healthy" cached for longer than an outage worth failing over.
            evidence_max_age_ms: 30_000,
            promotion_data_loss: PromotionDataLoss::Approve,
            rollout: RolloutPolicy { domains_max: 1, pool_percent_max: 25, batch_wait_max_ms: 30 * 60_000 },
            fence_retry_after_ms: default_fence_retry_after_ms(),
            agent: AgentPolicy::default(),
        }
    }
}

impl Budget {
    /// How many of a pool's `size` nodes may be removed per window: `percent_max`
    /// of them, rounded down, and never below one node.
    pub fn pool_limit(percent_max: u32, size: usize) -> u32 {
        ((size as u64 * percent_max as u64) / 100).max(1) as u32
    }

    /// Moves allowed in one window for a population of `size`: the larger of the
    /// count and the percentage, so small groups can still fail over one member.
    pub fn limit(moves_max: u32, percent_max: u32, size: usize) -> u32 {
        let by_percent = (size as u64 * percent_max as u64).div_ceil(100) as u32;
        moves_max.max(by_percent)
    }
}
