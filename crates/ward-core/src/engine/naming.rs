//! Actions with ids (for the current snapshot) <-> actions with names (for the journal).

use crate::action::{Action, SyncPreview};
use crate::inventory::Snapshot;
use crate::journal::NamedAction;

pub fn to_named(snapshot: &Snapshot, action: &Action) -> NamedAction {
    let names = |nodes: &[crate::ids::NodeId]| nodes.iter().map(|n| snapshot.node_name(*n).to_string()).collect::<Vec<_>>();
    let service = action.service().map(|s| snapshot.service_name(s).to_string());
    let (from, to, detail, rollout) = match action {
        Action::MoveVip { from, to, .. } | Action::Promote { from, to, .. } => {
            (names(&from.iter().copied().collect::<Vec<_>>()), names(&[*to]), String::new(), None)
        }
        Action::SetDnsTargets { from, to, .. } => (names(from), names(to), String::new(), None),
        Action::Fence { node, .. } => (names(&[*node]), Vec::new(), String::new(), None),
        Action::Sync { from, to, preview, .. } => (
            names(&[*from]),
            names(&[*to]),
            format!("adds {}, changes {}, deletes {} files", preview.files_added, preview.files_changed, preview.files_deleted),
            None,
        ),
        Action::Maintain { rollout, batch, nodes, operation } => (
            names(nodes),
            Vec::new(),
            format!("{operation} (rollout {rollout}, batch {})", batch + 1),
            Some((*rollout, *batch, operation.clone())),
        ),
        Action::Repair { node, operation } => (names(&[*node]), Vec::new(), operation.clone(), None),
    };
    NamedAction { kind: action.kind_name().to_string(), service, from, to, detail, rollout }
}

/// Resolves a journaled action against the snapshot in force; `None` when a name no longer exists.
pub fn resolve(snapshot: &Snapshot, named: &NamedAction) -> Option<Action> {
    let service = || named.service.as_deref().and_then(|s| snapshot.service_id(s));
    let nodes = |list: &[String]| list.iter().map(|n| snapshot.node_id(n)).collect::<Option<Vec<_>>>();
    let from = nodes(&named.from)?;
    let to = nodes(&named.to)?;
    Some(match named.kind.as_str() {
        "move_vip" => Action::MoveVip { service: service()?, from: from.first().copied(), to: *to.first()? },
        "promote" => Action::Promote { service: service()?, from: from.first().copied(), to: *to.first()? },
        "set_dns_targets" => Action::SetDnsTargets { service: service()?, from, to },
        "fence" => Action::Fence { service: service()?, node: *from.first()? },
        "sync" => Action::Sync { service: service()?, from: *from.first()?, to: *to.first()?, preview: SyncPreview::default() },
        "maintain" => {
            let (rollout, batch, operation) = named.rollout.clone()?;
            Action::Maintain { rollout, batch, nodes: from, operation }
        }
        "repair" => Action::Repair { node: *from.first()?, operation: named.detail.clone() },
        _ => return None,
    })
}

/// The action that undoes an applied move, if there is one.
pub fn rollback_of(action: &Action) -> Option<Action> {
    match action {
        Action::MoveVip { service, from: Some(from), to } => Some(Action::MoveVip { service: *service, from: Some(*to), to: *from }),
        Action::SetDnsTargets { service, from, to } if !from.is_empty() => {
            Some(Action::SetDnsTargets { service: *service, from: to.clone(), to: from.clone() })
        }
        _ => None,
    }
}
