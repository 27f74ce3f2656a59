//! Site loss: every node of a site unreachable at once, as the controller sees it.
//! From one side a partition and a dead site look the same; either way it is one
//! fact about the site, not dozens of independent node failures.

use super::{HealthTable, Status};
use crate::ids::{NodeId, SiteId};
use crate::inventory::Snapshot;
use crate::time::TimeMs;

/// A site whose probed nodes are all down or unknown, at least one of them down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteLoss {
    pub site: SiteId,
    /// When the first of its nodes was seen down: the loss has lasted since then.
    pub since_ms: TimeMs,
    pub nodes: Vec<NodeId>,
}

/// A site of one probed node losing it is a node failure, not a site loss.
const SITE_NODES_MIN: usize = 2;

/// Every site as seen this round.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteView {
    /// The sites lost now, in site order.
    pub lost: Vec<SiteLoss>,
    /// Per site: more than half of its probed nodes are not up (a site going dark
    /// shows here before every node has fallen).
    pub going_dark: Vec<bool>,
}

impl SiteView {
    pub fn loss_of(&self, site: SiteId) -> Option<&SiteLoss> {
        self.lost.iter().find(|l| l.site == site)
    }
}

pub fn site_view(snapshot: &Snapshot, health: &HealthTable) -> SiteView {
    let mut probed = vec![false; snapshot.nodes().len()];
    for check in snapshot.checks() {
        for node in &check.nodes {
            probed[node.index()] = true;
        }
    }
    let mut by_site: Vec<Vec<NodeId>> = vec![Vec::new(); snapshot.sites().len()];
    for (index, node) in snapshot.nodes().iter().enumerate() {
        if probed[index] {
            by_site[node.site.index()].push(NodeId(index as u32));
        }
    }
    let mut view = SiteView { lost: Vec::new(), going_dark: vec![false; by_site.len()] };
    for (site, nodes) in by_site.into_iter().enumerate() {
        if nodes.len() < SITE_NODES_MIN {
            continue;
        }
        let statuses: Vec<(Status, TimeMs)> = nodes.iter().map(|n| (health.node(*n).status, health.node(*n).since_ms)).collect();
        let not_up = statuses.iter().filter(|(s, _)| *s != Status::Up).count();
        view.going_dark[site] = not_up * 2 > nodes.len();
        if not_up < nodes.len() {
            continue;
        }
        let Some(since_ms) = statuses.iter().filter(|(s, _)| *s == Status::Down).map(|(_, since)| *since).min() else {
            continue;
        };
        view.lost.push(SiteLoss { site: SiteId(site as u16), since_ms, nodes });
    }
    view
}
