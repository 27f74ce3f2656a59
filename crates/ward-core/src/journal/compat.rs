//! Reading records written by earlier Ward versions (store format 1): actions were
//! a flat `{kind, service, from: [..], to: [..], detail, rollout}` and hold targets
//! their display text ("node x"). Such records still read as today's types, so an
//! upgrade never loses a job in flight or a hold. Writing always uses today's shape.

use serde::{Deserialize, Deserializer};

use super::HoldTarget;
use crate::action::{ActionOf, NamedAction, RepairOperation, SyncPreview};

#[derive(Deserialize)]
#[serde(untagged)]
enum AnyAction {
    Current(NamedAction),
    Legacy(LegacyAction),
}

#[derive(Deserialize)]
struct LegacyAction {
    kind: String,
    service: Option<String>,
    #[serde(default)]
    from: Vec<String>,
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    rollout: Option<(u32, u32, String)>,
}

pub(super) fn named_action<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NamedAction, D::Error> {
    match AnyAction::deserialize(deserializer)? {
        AnyAction::Current(action) => Ok(action),
        AnyAction::Legacy(legacy) => legacy.into_current().map_err(serde::de::Error::custom),
    }
}

impl LegacyAction {
    fn into_current(self) -> Result<NamedAction, String> {
        let kind = self.kind.clone();
        let missing = |what: &str| format!("a format-1 {kind} action without {what}");
        let service = || self.service.clone().ok_or_else(|| missing("a service"));
        let first = |list: &[String], what: &str| list.first().cloned().ok_or_else(|| missing(what));
        Ok(match self.kind.as_str() {
            "move_vip" => ActionOf::MoveVip { service: service()?, from: self.from.first().cloned(), to: first(&self.to, "a target")? },
            "promote" => ActionOf::Promote { service: service()?, from: self.from.first().cloned(), to: first(&self.to, "a target")? },
            "set_dns_targets" => ActionOf::SetDnsTargets { service: service()?, from: self.from.clone(), to: self.to.clone() },
            "fence" => ActionOf::Fence { service: service()?, node: first(&self.from, "a node")? },
            "sync" => ActionOf::Sync {
                service: service()?,
                from: first(&self.from, "a source")?,
                to: first(&self.to, "a target")?,
                preview: SyncPreview::default(),
            },
            "maintain" => {
                let (rollout, batch, operation) = self.rollout.clone().ok_or_else(|| missing("its rollout"))?;
                ActionOf::Maintain { rollout, batch, nodes: self.from.clone(), operation }
            }
            "repair" if self.detail == RepairOperation::RestartReplication.name() => {
                ActionOf::Repair { node: first(&self.from, "a node")?, operation: RepairOperation::RestartReplication }
            }
            other => return Err(format!("unknown format-1 action kind {other:?} (detail {:?})", self.detail)),
        })
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AnyHoldTarget {
    Current(HoldTarget),
    Legacy(String),
}

pub(super) fn hold_target<'de, D: Deserializer<'de>>(deserializer: D) -> Result<HoldTarget, D::Error> {
    Ok(match AnyHoldTarget::deserialize(deserializer)? {
        AnyHoldTarget::Current(target) => target,
        AnyHoldTarget::Legacy(text) => match text.split_once(' ') {
            Some(("site", name)) => HoldTarget::Site(name.to_string()),
            Some(("service", name)) => HoldTarget::Service(name.to_string()),
            Some((_, name)) => HoldTarget::Node(name.to_string()),
            None => HoldTarget::Node(text),
        },
    })
}

/// Records before `answered` existed were all answered.
pub(super) fn answered() -> bool {
    true
}

pub(super) fn is_answered(answered: &bool) -> bool {
    *answered
}

#[cfg(test)]
mod tests {
    use crate::journal::{JournalEvent, JournalRecord};

    use super::*;

    fn event(json: &str) -> JournalEvent {
        serde_json::from_str::<JournalRecord>(json).unwrap_or_else(|e| panic!("{e}: {json}")).event
    }

    #[test]
    fn format_one_actions_read_as_todays_types() {
        let queued = event(
            r#"{"seq":3,"at_ms":10,"type":"job_queued","job":1,"decision":2,"first_step":"apply",
                "action":{"kind":"move_vip","service":"www","from":["a"],"to":["b"],"detail":""}}"#,
        );
        let JournalEvent::JobQueued { action, .. } = queued else { panic!("{queued:?}") };
        assert_eq!(action, ActionOf::MoveVip { service: "www".into(), from: Some("a".into()), to: "b".into() });

        let repair = event(
            r#"{"seq":4,"at_ms":10,"type":"job_intent","job":1,"decision":2,"step":"apply","attempt":1,"fencing_token":1,
                "action":{"kind":"repair","service":null,"from":["db2"],"to":[],"detail":"restart_replication"}}"#,
        );
        let JournalEvent::JobIntent { action, .. } = repair else { panic!("{repair:?}") };
        assert_eq!(action, ActionOf::Repair { node: "db2".into(), operation: RepairOperation::RestartReplication });

        let maintain = event(
            r#"{"seq":5,"at_ms":10,"type":"job_queued","job":1,"decision":2,"first_step":"apply",
                "action":{"kind":"maintain","service":null,"from":["r1","r2"],"to":[],"detail":"reboot","rollout":[3,0,"reboot"]}}"#,
        );
        let JournalEvent::JobQueued { action, .. } = maintain else { panic!("{maintain:?}") };
        assert_eq!(action, ActionOf::Maintain { rollout: 3, batch: 0, nodes: vec!["r1".into(), "r2".into()], operation: "reboot".into() });
    }

    #[test]
    fn format_one_hold_targets_read_as_todays_types() {
        let placed = event(r#"{"seq":1,"at_ms":1,"type":"hold_placed","target":"site scl2","author":"gene","reason":"r","until_ms":null}"#);
        assert!(matches!(placed, JournalEvent::HoldPlaced { target: HoldTarget::Site(ref s), .. } if s == "scl2"));
    }

    #[test]
    fn a_fleet_hold_round_trips_beside_format_one_targets() {
        let placed = JournalEvent::HoldPlaced { target: HoldTarget::Fleet, author: "ana".into(), reason: "freeze".into(), until_ms: None };
        let json = serde_json::to_string(&JournalRecord { seq: 1, at_ms: 1, event: placed.clone() }).expect("serializes");
        assert!(json.contains(r#""target":{"kind":"fleet"}"#), "{json}");
        assert_eq!(event(&json), placed);
        let legacy = event(r#"{"seq":2,"at_ms":1,"type":"hold_released","target":"node lb1","author":"gene"}"#);
        assert!(matches!(legacy, JournalEvent::HoldReleased { target: HoldTarget::Node(ref n), .. } if n == "lb1"));
    }

    #[test]
    fn an_unknown_format_one_kind_is_an_error_not_a_guess() {
        let json = r#"{"seq":3,"at_ms":10,"type":"job_queued","job":1,"decision":2,"first_step":"apply",
                "action":{"kind":"teleport","service":"www","from":["a"],"to":["b"],"detail":""}}"#;
        assert!(serde_json::from_str::<JournalRecord>(json).is_err());
    }

    #[test]
    fn todays_actions_round_trip() {
        let action: NamedAction = ActionOf::SetDnsTargets { service: "www".into(), from: vec!["a".into()], to: vec!["b".into()] };
        let event = JournalEvent::JobQueued {
            job: crate::ids::JobId(1),
            decision: crate::ids::DecisionId(1),
            action,
            first_step: crate::journal::JobStep::Apply,
            author: Some("gene".into()),
        };
        let record = JournalRecord { seq: 1, at_ms: 1, event };
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<JournalRecord>(&json).unwrap(), record);
    }
}
