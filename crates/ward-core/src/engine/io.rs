//! The engine's one closed set of inputs and outputs. Every trigger the core
//! reacts to is a variant of `Input`; every effect it asks for is an `Output`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::action::{Action, SyncPreview};
use crate::ids::*;
use crate::inventory::Snapshot;
pub use crate::journal::{HoldTarget, Notification, RolloutControl, RolloutScope};
pub use crate::mode::Mode;
pub use crate::state::Checkpoint;

use crate::action::NamedAction;
use crate::journal::{JobStep, JournalRecord};
use crate::observation::Observation;
use crate::time::TimeMs;

#[derive(Clone, Debug)]
pub enum Input {
    /// Time passed; plan if a tick is due.
    Tick,
    Observation(Observation),
    /// A new snapshot, already parsed, validated and hashed by the loader.
    Inventory(Arc<Snapshot>),
    /// The loader refused a new inventory; the last good one stays in force.
    InventoryRejected {
        source: String,
        errors: Vec<String>,
    },
    JobOutcome(JobOutcome),
    NotificationDelivered {
        notification: NotificationId,
        ok: bool,
        error: Option<String>,
    },
}

/// What happened when the shell ran one job step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOutcome {
    pub job: JobId,
    pub step: JobStep,
    pub ok: bool,
    pub message: String,
    /// Preview steps return what the action would do.
    pub preview: Option<SyncPreview>,
}

/// An operator's command. Commands name things; the engine checks them against
/// the applied snapshot and answers with an error a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Hold {
        target: HoldTarget,
        author: String,
        reason: String,
        until_ms: Option<TimeMs>,
    },
    Release {
        target: HoldTarget,
        author: String,
    },
    Approve {
        decision: DecisionId,
        author: String,
    },
    Reject {
        decision: DecisionId,
        author: String,
        reason: String,
    },
    Drain {
        node: String,
        author: String,
    },
    Undrain {
        node: String,
        author: String,
    },
    Ack {
        alert: AlertId,
        author: String,
    },
    /// Copy the `sync` service's tree from one node to another (previewed first).
    Sync {
        service: String,
        from: String,
        to: String,
        author: String,
    },
    /// Move a `vip` or `primary` service to a chosen node.
    Switchover {
        service: String,
        to: String,
        author: String,
    },
    /// Run `operation` on these nodes in batches, verifying each batch before the next.
    Rollout {
        nodes: Vec<String>,
        batch_size: u32,
        operation: String,
        author: String,
        /// How much may be out at once (unset: the policy's defaults).
        #[serde(default)]
        scope: RolloutScope,
    },
    /// Pause, resume or cancel the rollout in progress.
    RolloutControl {
        control: RolloutControl,
        author: String,
    },
}

/// One job step for the shell to run through the service's actuator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRequest {
    pub job: JobId,
    pub step: JobStep,
    /// What to carry out: the job's action for preview, apply and verify; its
    /// concrete undo (`ActionOf::rollback`) for a rollback.
    pub action: Action,
    /// The same, with names (what the hook contract and the journal show).
    pub named: NamedAction,
    /// The hook that carries it out.
    pub hook: HookId,
    pub attempt: u32,
    /// The shell must give up on the step at this time and report a failure.
    pub deadline_ms: TimeMs,
    /// Monotonic per controller term: an actuator refuses a lower token than it has seen.
    pub fencing_token: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Persist (durably) before acting on any output that follows it.
    Journal(JournalRecord),
    StartJob(JobRequest),
    Notify(Notification),
    /// The whole durable state up to `seq`: persist it after the records before
    /// it; a restart may then recover from it and the records from `seq` on, and
    /// the store may drop older records (`Engine::recover_from`).
    Checkpoint(Box<Checkpoint>),
}
