//! Names in a scenario checked against its inventories: a partition, fault or
//! operator command naming something the inventory does not have would silently
//! do nothing (or be refused at run time), and the scenario would pass while
//! testing nothing. Each error names the event's field, what is unknown, and the
//! names that exist.
//!
//! Names are checked against the union of the starting inventory and every
//! `inventory_replace` document, since a later inventory may add a node. A
//! starting inventory the loader refuses (an http check used as a replication
//! check, say) is an error here, with the loader's own errors.

use std::collections::BTreeSet;

use ward_core::engine::HoldTarget;
use ward_core::inventory::{ServiceKind, Snapshot};

use super::{Endpoint, Fault, InventoryDoc, OperatorCommand, ScenarioError, ScenarioEvent, WorldKnobs};

/// What the inventories name.
#[derive(Default)]
struct Known {
    sites: BTreeSet<String>,
    nodes: BTreeSet<String>,
    observers: BTreeSet<String>,
    checks: BTreeSet<String>,
    /// Service name, kind, candidate names.
    services: Vec<(String, ServiceKind, BTreeSet<String>)>,
}

impl Known {
    fn add(&mut self, s: &Snapshot) {
        self.sites.extend(s.sites().iter().map(|x| x.name.clone()));
        self.nodes.extend(s.nodes().iter().map(|x| x.name.clone()));
        self.observers.extend(s.observers().iter().map(|x| x.name.clone()));
        self.checks.extend(s.checks().iter().map(|x| x.name.clone()));
        for service in s.services() {
            let candidates: BTreeSet<String> = service.candidates.iter().map(|c| s.node_name(*c).to_string()).collect();
            match self.services.iter_mut().find(|(name, _, _)| *name == service.name) {
                Some((_, _, known)) => known.extend(candidates),
                None => self.services.push((service.name.clone(), service.kind, candidates)),
            }
        }
    }

    fn service(&self, name: &str) -> Option<&(String, ServiceKind, BTreeSet<String>)> {
        self.services.iter().find(|(n, _, _)| n == name)
    }
}

fn snapshot(doc: &InventoryDoc) -> Option<std::sync::Arc<Snapshot>> {
    crate::runner::loader::load(doc).ok()
}

fn listing(set: &BTreeSet<String>) -> String {
    let names: Vec<&str> = set.iter().take(12).map(String::as_str).collect();
    let more = set.len().saturating_sub(names.len());
    if names.is_empty() {
        "none".into()
    } else if more > 0 {
        format!("{} and {more} more", names.join(", "))
    } else {
        names.join(", ")
    }
}

/// Checks every name `events` (in file order) and the world knobs use.
pub fn check(file: &str, inventory: &InventoryDoc, world: &WorldKnobs, events: &[ScenarioEvent]) -> Result<(), ScenarioError> {
    let base = match crate::runner::loader::load(inventory) {
        Ok(s) => s,
        // Refused by the loader: both runs would stop at once, testing nothing.
        Err(errors) => {
            let shown: Vec<&str> = errors.iter().take(5).map(String::as_str).collect();
            return Err(ScenarioError {
                file: file.into(),
                field: "inventory".into(),
                message: format!(
                    "the inventory does not load ({} error(s)); fix it first (`ward validate` shows them all):\n  {}",
                    errors.len(),
                    shown.join("\n  ")
                ),
            });
        }
    };
    let mut known = Known::default();
    known.add(&base);
    for event in events {
        if let Fault::InventoryReplace { doc } = &event.fault {
            if let Some(s) = snapshot(doc) {
                known.add(&s);
            }
        }
    }
    let err = |field: String, message: String| ScenarioError { file: file.into(), field, message };
    let node = |field: String, name: &str| -> Result<(), ScenarioError> {
        if known.nodes.contains(name) {
            Ok(())
        } else {
            Err(err(field, format!("no node named `{name}` in the inventory; nodes: {}", listing(&known.nodes))))
        }
    };
    for name in world.trees.keys() {
        node("world.tree.node".into(), name)?;
    }
    for disk in &world.disks {
        node("world.disk.node".into(), &disk.node)?;
    }
    for (index, event) in events.iter().enumerate() {
        let field = |name: &str| format!("event[{index}].{name}");
        match &event.fault {
            Fault::LinkFlap { cut, .. } | Fault::Partition { cut, .. } | Fault::Heal { cut: Some(cut) } => {
                for endpoint in [&cut.a, &cut.b] {
                    endpoint_known(&known, endpoint).map_err(|m| err(field("between"), m))?;
                }
            }
            Fault::NodeCrash { nodes } | Fault::NodeRecover { nodes } | Fault::NodeFreeze { nodes, .. } => {
                let f = if nodes.len() == 1 { field("node") } else { field("nodes") };
                for n in nodes {
                    node(f.clone(), n)?;
                }
            }
            Fault::ReplicationBreak { node: n, .. }
            | Fault::ReplicationRepair { node: n }
            | Fault::ReplicationLag { node: n, .. }
            | Fault::DiskFillRate { node: n, .. }
            | Fault::EgressBroken { node: n }
            | Fault::EgressRepaired { node: n }
            | Fault::RouteScriptBroken { node: n }
            | Fault::Reconfigured { node: n }
            | Fault::Tree { node: n, .. } => node(field("node"), n)?,
            Fault::Misconfigured { node: n, check } => {
                node(field("node"), n)?;
                if let Some(c) = check.as_ref().filter(|c| !known.checks.contains(*c)) {
                    return Err(err(field("check"), format!("no check named `{c}` in the inventory; checks: {}", listing(&known.checks))));
                }
            }
            Fault::Operator { command, .. } => operator(&known, command).map_err(|(f, m)| err(field(f), m))?,
            _ => {}
        }
    }
    Ok(())
}

fn endpoint_known(known: &Known, endpoint: &Endpoint) -> Result<(), String> {
    let (what, name, set) = match endpoint {
        Endpoint::Site(n) => ("site", n, &known.sites),
        Endpoint::Node(n) => ("node", n, &known.nodes),
        Endpoint::Observer(n) => ("observer", n, &known.observers),
        _ => return Ok(()),
    };
    if set.contains(name) {
        Ok(())
    } else {
        Err(format!("no {what} named `{name}` in the inventory; {what}s: {}", listing(set)))
    }
}

/// An operator command that the engine would refuse for a name alone.
fn operator(known: &Known, command: &OperatorCommand) -> Result<(), (&'static str, String)> {
    let node = |f: &'static str, n: &str| {
        if known.nodes.contains(n) {
            Ok(())
        } else {
            Err((f, format!("no node named `{n}` in the inventory; nodes: {}", listing(&known.nodes))))
        }
    };
    let service = |n: &str| {
        known.service(n).ok_or_else(|| {
            let names: BTreeSet<String> = known.services.iter().map(|(s, _, _)| s.clone()).collect();
            ("service", format!("no service named `{n}` in the inventory; services: {}", listing(&names)))
        })
    };
    match command {
        OperatorCommand::Hold { target, .. } | OperatorCommand::Release { target } => match target {
            HoldTarget::Node(n) => node("target", n),
            HoldTarget::Site(s) if !known.sites.contains(s) => {
                Err(("target", format!("no site named `{s}` in the inventory; sites: {}", listing(&known.sites))))
            }
            HoldTarget::Service(s) => service(s).map(|_| ()).map_err(|(_, m)| ("target", m)),
            _ => Ok(()),
        },
        OperatorCommand::Drain { node: n } | OperatorCommand::Undrain { node: n } => node("node", n),
        OperatorCommand::Sync { service: s, from, to } => {
            let (name, kind, candidates) = service(s)?;
            if *kind != ServiceKind::Sync {
                return Err(("service", format!("`{name}` is a {} service; only a sync service can sync", kind.name())));
            }
            for (f, n) in [("from", from), ("to", to)] {
                node(f, n)?;
                if !candidates.contains(n) {
                    return Err((
                        f,
                        format!("`{n}` is not a candidate of `{name}`, so the sync would be refused; candidates: {}", listing(candidates)),
                    ));
                }
            }
            if from == to {
                return Err(("to", "a sync needs two different nodes".into()));
            }
            Ok(())
        }
        OperatorCommand::Switchover { service: s, to } => {
            let (name, _, candidates) = service(s)?;
            node("to", to)?;
            if candidates.contains(to) {
                Ok(())
            } else {
                Err(("to", format!("`{to}` is not a candidate of `{name}`; candidates: {}", listing(candidates))))
            }
        }
        OperatorCommand::Rollout { nodes, .. } => nodes.iter().try_for_each(|n| node("nodes", n)),
        _ => Ok(()),
    }
}
