//! Whether an actuator call reaches the nodes it acts on. A fence, a promotion or
//! a repair is carried out on a node: from a controller cut off from it, the call
//! hangs until its deadline; on a crashed node, it is refused. A fence is not magic:
//! only one that stops the service (`fence = "stop"`) succeeds on a node whose
//! server died, because its host still answers (a dead host is a node cut off).

use ward_core::action::NamedAction;
use ward_core::inventory::FenceMode;
use ward_core::journal::JobStep;

use super::{Point, World};

/// What becomes of a call the world cannot carry out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// No answer at all: the shell's deadline reports it.
    Unreachable,
    /// An immediate error with this message.
    Refused(String),
}

impl World {
    /// Where the controller is: its declared site, or nowhere in particular.
    pub fn controller_point(&self) -> Point<'_> {
        Point::Controller { site: self.controller_site.as_deref() }
    }

    /// Why a call of `step` carrying `effect` cannot act, if it cannot.
    pub fn call_blocked(&self, step: JobStep, effect: &NamedAction) -> Option<Blocked> {
        for node in acted_on(step, effect) {
            let Some(index) = self.node_index(node) else { continue };
            if !self.links.reachable(self.controller_point(), self.point(index)) {
                return Some(Blocked::Unreachable);
            }
            if !self.nodes[index].alive && !self.stops_a_dead_server(effect) {
                return Some(Blocked::Refused(format!("connection to {node} refused: the node is down")));
            }
        }
        None
    }
}

impl World {
    /// A fence by stopping the service: on a node whose server already died, the
    /// host's service manager confirms it is stopped.
    fn stops_a_dead_server(&self, effect: &NamedAction) -> bool {
        let NamedAction::Fence { service, .. } = effect else { return false };
        self.truth.service_id(service).is_some_and(|s| self.truth.service(s).fence == FenceMode::Stop)
    }
}

/// The nodes a call must reach to do its work. DNS changes go to the provider,
/// verification is done by probes, and a reboot call waits for its nodes itself.
fn acted_on(step: JobStep, effect: &NamedAction) -> Vec<&str> {
    if step == JobStep::Verify {
        return Vec::new();
    }
    match effect {
        NamedAction::MoveVip { to, .. } | NamedAction::Promote { to, .. } => vec![to.as_str()],
        NamedAction::Fence { node, .. } | NamedAction::Unfence { node, .. } | NamedAction::Repair { node, .. } => {
            vec![node.as_str()]
        }
        NamedAction::Sync { from, to, .. } => vec![from.as_str(), to.as_str()],
        NamedAction::SetDnsTargets { .. } | NamedAction::Maintain { .. } | NamedAction::FailoverSite { .. } => Vec::new(),
    }
}
