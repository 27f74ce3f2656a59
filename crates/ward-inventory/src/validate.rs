//! Rules that span several items, run on resolved ids. Each one is a way Ward
//! could accept an inventory and then be unable to act on it safely.

use ward_core::ids::*;
use ward_core::inventory::CheckKind;

use crate::error::Sink;
use crate::names::listing;
use crate::parse::RawDoc;
use crate::resolve::Resolved;

pub fn validate(doc: &RawDoc, r: &Resolved, sink: &mut Sink) {
    dependency_cycles(doc, r, sink);
    checks_run_where_needed(doc, r, sink);
    candidates_are_observable(doc, r, sink);
    followers_can_follow(doc, r, sink);
}

/// A service that follows a primary must be able to go wherever the primary goes.
fn followers_can_follow(doc: &RawDoc, r: &Resolved, sink: &mut Sink) {
    for (item, service) in doc.services.iter().zip(&r.services) {
        let (Some(raw), Some(service)) = (&item.raw, service) else { continue };
        let (Some(target), Some(text)) = (service.follows, &raw.follows) else { continue };
        let Some(Some(followed)) = r.services.get(target.index()) else { continue };
        let field = format!("{}.follows", item.path());
        if followed.kind != ward_core::inventory::ServiceKind::Primary {
            sink.error(
                text.span(),
                field,
                format!("\"{}\" is a {} service; only a primary service can be followed", followed.name, followed.kind.name()),
                "name the primary service whose writable node this address must point at",
            );
            continue;
        }
        let missing: Vec<String> =
            followed.candidates.iter().filter(|c| !service.candidates.contains(c)).map(|c| name(doc, c.index())).collect();
        if !missing.is_empty() {
            sink.error(
                text.span(),
                field,
                format!("{} can become primary of \"{}\" but is not a candidate of this service", listing(&missing), followed.name),
                "make every candidate of the followed primary service a candidate here too",
            );
        }
    }
}

fn runs_on(r: &Resolved, check: CheckId, node: NodeId) -> Option<bool> {
    Some(r.checks.get(check.index())?.as_ref()?.nodes.contains(&node))
}

/// A cycle in depends_on means no node in it can ever become eligible.
fn dependency_cycles(doc: &RawDoc, r: &Resolved, sink: &mut Sink) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks = vec![Mark::New; r.nodes.len()];
    for start in 0..r.nodes.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative DFS (a generated inventory may chain thousands of nodes).
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::Active;
        while let Some(&(node, next)) = stack.last() {
            let deps = r.nodes[node].as_ref().map_or(&[][..], |n| &n.depends_on[..]);
            if let Some(dep) = deps.get(next) {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                let dep = dep.index();
                match marks.get(dep).copied() {
                    Some(Mark::New) => {
                        marks[dep] = Mark::Active;
                        stack.push((dep, 0));
                    }
                    Some(Mark::Active) => {
                        let from = stack.iter().position(|&(n, _)| n == dep).unwrap_or(0);
                        let mut cycle: Vec<String> = stack[from..].iter().map(|&(n, _)| name(doc, n)).collect();
                        cycle.push(name(doc, dep));
                        let item = &doc.nodes[node];
                        let at = item.raw.as_ref().and_then(|n| n.depends_on.as_ref()?.get(next)).map_or(item.span.clone(), |d| d.span());
                        sink.error(
                            at,
                            format!("{}.depends_on", item.path()),
                            format!("dependency cycle: {}", cycle.join(" -> ")),
                            "no node in a cycle can ever become eligible; remove one of these depends_on entries",
                        );
                    }
                    _ => {}
                }
            } else {
                marks[node] = Mark::Done;
                stack.pop();
            }
        }
    }
}

fn name(doc: &RawDoc, node: usize) -> String {
    doc.nodes.get(node).and_then(|n| n.name.clone()).unwrap_or_else(|| format!("#{node}"))
}

/// Replication status and disk readings arrive as observations of a check on the
/// node itself; a check that never runs there would leave them unknown forever.
fn checks_run_where_needed(doc: &RawDoc, r: &Resolved, sink: &mut Sink) {
    for (i, (item, node)) in doc.nodes.iter().zip(&r.nodes).enumerate() {
        let (Some(raw), Some(node)) = (&item.raw, node) else {
            continue;
        };
        let id = NodeId(i as u32);
        if let (Some(rep), Some(raw_rep)) = (&node.replication, &raw.replication) {
            // Only database probes report replication state; any other kind would
            // leave it unknown forever while looking configured.
            let kind = r.checks.get(rep.check.index()).and_then(|c| c.as_ref()).map(|c| c.kind);
            if let Some(kind) = kind.filter(|k| !matches!(k, CheckKind::Postgres | CheckKind::Mysql)) {
                sink.error(
                    raw_rep.get_ref().check.span(),
                    format!("{}.replication.check", item.path()),
                    format!(
                        "check \"{}\" is a {} check, which cannot report replication state",
                        raw_rep.get_ref().check.get_ref(),
                        format!("{kind:?}").to_lowercase()
                    ),
                    "name a check of kind \"postgres\" or \"mysql\" that connects to this node's database",
                );
            }
            if runs_on(r, rep.check, id) == Some(false) {
                sink.error(
                    raw_rep.get_ref().check.span(),
                    format!("{}.replication.check", item.path()),
                    format!("check \"{}\" does not run on this node", raw_rep.get_ref().check.get_ref()),
                    format!("add \"{}\" to that check's nodes, or name a check that runs here", node.name),
                );
            }
        }
        if let (Some(check), Some(raw_check)) = (node.disk_check, &raw.disk_check) {
            if runs_on(r, check, id) == Some(false) {
                sink.error(
                    raw_check.span(),
                    format!("{}.disk_check", item.path()),
                    format!("check \"{}\" does not run on this node", raw_check.get_ref()),
                    format!("add \"{}\" to that check's nodes, or name a check that runs here", node.name),
                );
            }
        }
    }
}

/// Ward can only move a service to a node it has seen healthy.
fn candidates_are_observable(doc: &RawDoc, r: &Resolved, sink: &mut Sink) {
    if r.checks.iter().any(Option::is_none) {
        return; // a check that failed to parse may be the one that covers them
    }
    for (item, service) in doc.services.iter().zip(&r.services) {
        let (Some(raw), Some(service)) = (&item.raw, service) else {
            continue;
        };
        let deciding: Vec<CheckId> =
            if service.checks.is_empty() { (0..r.checks.len()).map(|c| CheckId(c as u32)).collect() } else { service.checks.clone() };
        let blind: Vec<String> = service
            .candidates
            .iter()
            .filter(|&&node| !deciding.iter().any(|&c| runs_on(r, c, node) == Some(true)))
            .map(|&node| name(doc, node.index()))
            .collect();
        if !blind.is_empty() {
            let which = if service.checks.is_empty() { "no check runs on" } else { "none of this service's checks runs on" };
            sink.error(
                raw.candidates.span(),
                format!("{}.candidates", item.path()),
                format!("{which} candidate(s) {}, so Ward could never see them healthy", listing(&blind)),
                "add these nodes to a check's nodes (or to one listed in the service's checks), or drop them from the candidates",
            );
        }
    }
}
