//! The contract between Ward and a hook: the JSON a hook receives (exec: on stdin;
//! http: as the POST body) and, for exec hooks, the environment.
//!
//! These types are Ward's own, not the journal's `NamedAction`, so the journal can
//! change its serde shape without breaking anyone's scripts. Fields are only ever
//! added; `version` changes if one is removed or its meaning changes.

use serde::{Deserialize, Serialize};
use ward_core::action::{ActionKind, NamedAction};
use ward_core::engine::JobRequest;

/// The version of [`StepPayload`] this crate writes.
pub const STEP_PAYLOAD_VERSION: u32 = 1;

/// What a hook is asked to do, version 1:
///
/// ```json
/// {"version":1,"controller":"ctl-a","job":42,"step":"apply","attempt":1,
///  "fencing_token":7,"deadline_ms":1700000030000,
///  "action":{"kind":"move_vip","service":"www-vip","from":["lb1"],"to":["lb2"],
///            "detail":"","rollout":null}}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepPayload {
    pub version: u32,
    /// The identity of the controller asking (who acted, in the hook's own logs).
    pub controller: String,
    pub job: u64,
    /// `apply`, `rollback` or `preview`.
    pub step: String,
    /// 1 for the first try of this step; a retried step after a restart counts up.
    pub attempt: u32,
    /// Grows with every controller start: a hook that has seen a higher token must
    /// refuse this one (a deposed controller is still talking).
    pub fencing_token: u64,
    /// Unix ms after which Ward has given up on this step and will verify instead.
    pub deadline_ms: u64,
    /// For `rollback`, the undo of the applied action (a move: from and to swapped;
    /// a fence: `unfence`), so a hook can treat it exactly like an apply.
    pub action: ActionPayload,
}

/// An action with names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionPayload {
    /// `move_vip`, `set_dns_targets`, `fence`, `unfence` (`to`: the node),
    /// `promote`, `sync`, `maintain`, `repair` (`from`: the node; `detail`: the
    /// operation, e.g. `restart_replication`).
    pub kind: String,
    pub service: Option<String>,
    /// Nodes losing the traffic or role (for `fence`, the node to fence; for `maintain`, the batch).
    pub from: Vec<String>,
    /// Nodes receiving it.
    pub to: Vec<String>,
    /// Words for people (a sync's preview, a rollout batch).
    pub detail: String,
    /// Present for rolling maintenance only.
    pub rollout: Option<RolloutPayload>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutPayload {
    pub rollout: u32,
    /// 0-based batch number.
    pub batch: u32,
    /// The operation to run on each node (e.g. `reboot`).
    pub operation: String,
    /// The nodes of this batch (same as `action.from`).
    pub nodes: Vec<String>,
}

impl StepPayload {
    /// `named` is the action the hook should carry out (`request.named`: for a
    /// rollback, already the concrete undo).
    pub fn new(request: &JobRequest, named: &NamedAction, controller: &str) -> StepPayload {
        StepPayload {
            version: STEP_PAYLOAD_VERSION,
            controller: controller.to_string(),
            job: request.job.0,
            step: request.step.name().to_string(),
            attempt: request.attempt,
            fencing_token: request.fencing_token,
            deadline_ms: request.deadline_ms,
            action: ActionPayload::from_named(named),
        }
    }

    /// `Idempotency-Key` for HTTP hooks: the same for every transport retry of one
    /// attempt, different for the next attempt the engine decides on, and unique
    /// across controller terms (the fencing token), even after a lost store.
    pub fn idempotency_key(&self) -> String {
        format!("ward-{}-{}-{}-{}", self.fencing_token, self.job, self.step, self.attempt)
    }

    /// The environment an exec hook gets (on top of the daemon's own):
    ///
    /// | variable | value |
    /// |---|---|
    /// | `WARD_SERVICE` | service name, empty for rollouts |
    /// | `WARD_ACTION` | action kind (`move_vip`, …) |
    /// | `WARD_STEP` | `apply`, `rollback` or `preview` |
    /// | `WARD_FROM`, `WARD_TO` | comma-separated node names (swapped for rollback) |
    /// | `WARD_JOB`, `WARD_ATTEMPT`, `WARD_FENCING_TOKEN`, `WARD_DEADLINE_MS` | numbers |
    /// | `WARD_DETAIL` | words for people |
    /// | `WARD_CONTROLLER` | the controller's identity |
    /// | `WARD_NODES`, `WARD_OPERATION`, `WARD_ROLLOUT`, `WARD_BATCH` | rolling maintenance only (unset otherwise) |
    /// | `WARD_NODES`, `WARD_OPERATION` | also for `repair`: the node and the operation (`restart_replication`) |
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let action = &self.action;
        let mut env = vec![
            ("WARD_SERVICE", action.service.clone().unwrap_or_default()),
            ("WARD_ACTION", action.kind.clone()),
            ("WARD_STEP", self.step.clone()),
            ("WARD_FROM", action.from.join(",")),
            ("WARD_TO", action.to.join(",")),
            ("WARD_JOB", self.job.to_string()),
            ("WARD_ATTEMPT", self.attempt.to_string()),
            ("WARD_FENCING_TOKEN", self.fencing_token.to_string()),
            ("WARD_DEADLINE_MS", self.deadline_ms.to_string()),
            ("WARD_DETAIL", action.detail.clone()),
            ("WARD_CONTROLLER", self.controller.clone()),
        ];
        if let Some(rollout) = &action.rollout {
            env.push(("WARD_NODES", rollout.nodes.join(",")));
            env.push(("WARD_OPERATION", rollout.operation.clone()));
            env.push(("WARD_ROLLOUT", rollout.rollout.to_string()));
            env.push(("WARD_BATCH", rollout.batch.to_string()));
        } else if action.kind == ActionKind::Repair.name() {
            env.push(("WARD_NODES", action.from.join(",")));
            env.push(("WARD_OPERATION", action.detail.clone()));
        }
        env
    }
}

/// Variables that are only set for some steps: removed from the inherited
/// environment otherwise, so a stale value in the daemon's own environment never
/// reaches a script.
pub(crate) const OPTIONAL_HOOK_ENV: &[&str] = &["WARD_NODES", "WARD_OPERATION", "WARD_ROLLOUT", "WARD_BATCH"];

impl ActionPayload {
    pub fn from_named(named: &NamedAction) -> ActionPayload {
        let names = |list: Vec<&String>| list.into_iter().cloned().collect::<Vec<String>>();
        ActionPayload {
            kind: named.kind().name().to_string(),
            service: named.service_ref().cloned(),
            from: names(named.from_nodes()),
            to: names(named.to_nodes()),
            detail: named.detail(),
            rollout: match named {
                NamedAction::Maintain { rollout, batch, nodes, operation } => {
                    Some(RolloutPayload { rollout: *rollout, batch: *batch, operation: operation.clone(), nodes: nodes.clone() })
                }
                _ => None,
            },
        }
    }
}
