//! Faults that change the world itself (the controller's own faults live in the
//! runner). Each returns a sentence for the timeline, or an error for a name the
//! world does not know.

use super::World;
use crate::scenario::Fault;

impl World {
    fn node_or_err(&self, name: &str) -> Result<usize, String> {
        self.node_index(name).ok_or_else(|| format!("no node named `{name}` in the scenario's inventory"))
    }

    /// Applies a world fault at the world's current time. Link flaps and timed
    /// partitions are scheduled by the runner, which calls `links` directly.
    pub fn apply_fault(&mut self, fault: &Fault) -> Result<String, String> {
        let sentence = match fault {
            Fault::NodeCrash { nodes } => {
                for node in nodes {
                    let i = self.node_or_err(node)?;
                    self.nodes[i].alive = false;
                }
                format!("{} crashed", nodes.join(", "))
            }
            Fault::NodeRecover { nodes } => {
                for node in nodes {
                    let i = self.node_or_err(node)?;
                    self.nodes[i].alive = true;
                    self.nodes[i].rebooting_until_ms = None;
                }
                format!("{} back up", nodes.join(", "))
            }
            Fault::ReplicationBreak { node, error } => {
                let i = self.node_or_err(node)?;
                let r = self.replicas.get_mut(&i).ok_or_else(|| format!("node `{node}` does not replicate"))?;
                r.running = false;
                r.last_error = Some(error.clone());
                format!("replication to {node} stopped: \"{error}\"")
            }
            Fault::ReplicationRepair { node } => {
                let i = self.node_or_err(node)?;
                let r = self.replicas.get_mut(&i).ok_or_else(|| format!("node `{node}` does not replicate"))?;
                r.running = true;
                r.silent = false;
                r.last_error = None;
                format!("replication to {node} repaired")
            }
            Fault::ReplicationSilentStop { node } => {
                let i = self.node_or_err(node)?;
                let r = self.replicas.get_mut(&i).ok_or_else(|| format!("node `{node}` does not replicate"))?;
                r.silent = true;
                format!("replication to {node} silently stopped: it still reports running, with no lag figure")
            }
            Fault::ReplicationLag { node, lag_ms } => {
                let i = self.node_or_err(node)?;
                let r = self.replicas.get_mut(&i).ok_or_else(|| format!("node `{node}` does not replicate"))?;
                r.base_lag_ms = *lag_ms;
                format!("replication to {node} lags {}", ward_core::time::human_duration(*lag_ms))
            }
            Fault::DiskFillRate { node, gb_per_hour } => {
                let i = self.node_or_err(node)?;
                let now = self.now_ms;
                let d = self.disks.get_mut(&i).ok_or_else(|| format!("node `{node}` has no [[world.disk]]"))?;
                d.advance(now, false);
                d.bytes_per_hour = (gb_per_hour * crate::scenario::GB) as u64;
                format!("disk on {node} now fills at {gb_per_hour} GB/h")
            }
            Fault::EgressBroken { node } => {
                let i = self.node_or_err(node)?;
                self.nodes[i].egress_ok = false;
                format!("{node} lost its default route: answers cannot get out")
            }
            Fault::EgressRepaired { node } => {
                let i = self.node_or_err(node)?;
                self.nodes[i].egress_ok = true;
                format!("{node}'s default route is back")
            }
            Fault::Misconfigured { node, check } => {
                let i = self.node_or_err(node)?;
                self.nodes[i].misconfigured = Some(check.clone());
                match check {
                    Some(c) => format!("{node} is misconfigured: fails {c}"),
                    None => format!("{node} is misconfigured: serves clients wrongly, yet its probes pass"),
                }
            }
            Fault::RouteScriptBroken { node } => {
                let i = self.node_or_err(node)?;
                self.nodes[i].route_script_broken = true;
                format!("{node}'s VIP transition script names VRRP instances that no longer exist")
            }
            Fault::Reconfigured { node } => {
                let i = self.node_or_err(node)?;
                self.nodes[i].misconfigured = None;
                format!("{node}'s configuration fixed")
            }
            Fault::ProbeLoss { rate } => {
                self.knobs.probe_loss = *rate;
                format!("probes now time out with probability {rate}")
            }
            Fault::Tree { node, files } => {
                let i = self.node_or_err(node)?;
                self.nodes[i].tree_files = *files;
                format!("{node}'s tree now holds {files} files")
            }
            other => return Err(format!("not a world fault: {other:?}")),
        };
        self.refresh_replication();
        Ok(sentence)
    }
}
