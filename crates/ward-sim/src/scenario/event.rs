//! Typed scenario events: the faults and operator actions a scenario injects.

use serde::Serialize;
use ward_core::engine::{HoldTarget, RolloutControl, RolloutScope};

/// One side of a partition or flapping link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Endpoint {
    /// Everything not matched by the other side.
    Rest,
    Clients,
    Site(String),
    Node(String),
    Observer(String),
    /// The controller, wherever it runs.
    Controller,
}

impl Endpoint {
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        match text.split_once(':') {
            None if text == "*" => Ok(Endpoint::Rest),
            None if text == "clients" => Ok(Endpoint::Clients),
            None if text == "controller" => Ok(Endpoint::Controller),
            Some(("site", name)) => Ok(Endpoint::Site(name.into())),
            Some(("node", name)) => Ok(Endpoint::Node(name.into())),
            Some(("observer", name)) => Ok(Endpoint::Observer(name.into())),
            _ => Err(format!(
                "`{text}` is not an endpoint; write \"site:NAME\", \"node:NAME\", \"observer:NAME\", \"clients\", \"controller\" or \"*\""
            )),
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Rest => write!(f, "everything else"),
            Endpoint::Clients => write!(f, "clients"),
            Endpoint::Site(n) => write!(f, "site {n}"),
            Endpoint::Node(n) => write!(f, "node {n}"),
            Endpoint::Observer(n) => write!(f, "observer {n}"),
            Endpoint::Controller => write!(f, "the controller"),
        }
    }
}

/// A cut between two groups of endpoints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cut {
    pub a: Endpoint,
    pub b: Endpoint,
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <-> {}", self.a, self.b)
    }
}

/// An inventory document: TOML text for the loader, or (in generated worlds) a
/// snapshot built in code.
#[derive(Clone, Debug)]
pub enum InventoryDoc {
    Text {
        source: String,
        text: String,
    },
    Built(std::sync::Arc<ward_core::inventory::Snapshot>),
    /// A document the loader will refuse with these errors (generated worlds' torn reads).
    Unreadable {
        source: String,
        errors: Vec<String>,
    },
}

/// How a torn read looks to the loader.
#[derive(Clone, Debug)]
pub enum Torn {
    /// The first `percent` of the text, as if read while the writer was halfway.
    Prefix(u32),
    /// A specific corrupted copy (seed 002: parses, but lists the wrong nodes).
    Doc(InventoryDoc),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperatorCommand {
    Hold {
        target: HoldTarget,
        reason: String,
        until_ms: Option<u64>,
    },
    Release {
        target: HoldTarget,
    },
    /// Approve every pending approval whose summary contains `matching`.
    Approve {
        matching: String,
    },
    Reject {
        matching: String,
        reason: String,
    },
    /// Acknowledge every open alert whose cause starts with `cause_prefix`.
    Ack {
        cause_prefix: String,
    },
    Drain {
        node: String,
    },
    Undrain {
        node: String,
    },
    Sync {
        service: String,
        from: String,
        to: String,
    },
    Switchover {
        service: String,
        to: String,
    },
    Rollout {
        nodes: Vec<String>,
        batch_size: u32,
        operation: String,
        scope: RolloutScope,
    },
    /// Pause, resume or cancel the rollout in progress.
    RolloutControl {
        control: RolloutControl,
    },
}

#[derive(Clone, Debug)]
pub enum Fault {
    /// The link is down from the event until `until_ms` except during `up` windows
    /// (absolute virtual times), or, with `random`, alternates with periods drawn
    /// from the seed between the two bounds.
    LinkFlap {
        cut: Cut,
        until_ms: u64,
        up: Vec<(u64, u64)>,
        random: Option<(u64, u64)>,
    },
    NodeCrash {
        nodes: Vec<String>,
    },
    NodeRecover {
        nodes: Vec<String>,
    },
    /// The whole host stops (a paused VM): nothing reaches it and it reaches
    /// nothing, its agent included, for `duration_ms`; then it goes on where it
    /// stopped, a primary still writable unless someone fenced it.
    NodeFreeze {
        nodes: Vec<String>,
        duration_ms: u64,
    },
    Partition {
        cut: Cut,
        duration_ms: Option<u64>,
    },
    /// Heals one cut, or every partition when `cut` is None.
    Heal {
        cut: Option<Cut>,
    },
    ReplicationBreak {
        node: String,
        error: String,
    },
    ReplicationRepair {
        node: String,
    },
    /// Replication stops without a word: the replica receives nothing more yet
    /// reports "running" with no lag figure. `replication_repair` ends it.
    ReplicationSilentStop {
        node: String,
    },
    ReplicationLag {
        node: String,
        lag_ms: u64,
    },
    DiskFillRate {
        node: String,
        gb_per_hour: f64,
    },
    InventoryTorn {
        torn: Torn,
        duration_ms: u64,
    },
    InventoryReplace {
        doc: InventoryDoc,
    },
    ControllerCrash {
        restart_after_ms: Option<u64>,
    },
    ControllerRestart,
    /// No inputs for `duration_ms`; `clock_frozen`: the controller's clock stops too
    /// (a paused VM), so it is behind afterwards.
    ControllerPause {
        duration_ms: u64,
        clock_frozen: bool,
    },
    ClockJump {
        jump_ms: i64,
    },
    Operator {
        author: String,
        command: OperatorCommand,
    },
    EgressBroken {
        node: String,
    },
    EgressRepaired {
        node: String,
    },
    /// The node fails `check` (or every check, and serves clients wrongly).
    Misconfigured {
        node: String,
        check: Option<String>,
    },
    /// Taking a VIP will leave the node without a default route (seed 004).
    RouteScriptBroken {
        node: String,
    },
    Reconfigured {
        node: String,
    },
    /// The node's synced tree changes (reimaged: 0 files).
    Tree {
        node: String,
        files: u32,
    },
    /// Probes time out with this probability from now on (loss that changes over time).
    ProbeLoss {
        rate: f64,
    },
}

#[derive(Clone, Debug)]
pub struct ScenarioEvent {
    pub at_ms: u64,
    pub note: Option<String>,
    pub fault: Fault,
    /// Fires when Ward first completes an action of this kind at or after `at_ms`.
    pub after_action: Option<ward_core::action::ActionKind>,
    /// An armed event that has not fired by then never fires.
    pub armed_until_ms: Option<u64>,
}
