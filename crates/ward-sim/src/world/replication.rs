//! Replication of one replica from its source, as a database would report it
//! (seed 000's MySQL IO thread, seed 003's PostgreSQL WAL receiver). The replayed
//! position advances only while replication flows: running, source alive and
//! reachable. While it does not flow, lag grows and the source retains WAL.
//!
//! Primaries acknowledge writes while writable and up (a synchronous standby
//! holds their acknowledgements back to what it received); a promotion records the
//! acknowledged writes the promoted node never received (`PromotionLoss`).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use ward_core::observation::ReplicationStatus;

use super::World;

#[derive(Clone, Debug)]
pub struct Replica {
    pub source: String,
    /// The threads are running (false after a fatal error until someone repairs it).
    pub running: bool,
    /// The server's error text, verbatim.
    pub last_error: Option<String>,
    /// Steady-state lag of what it receives while flowing.
    pub base_lag_ms: u64,
    /// Replay runs this far behind what was received (a delayed or slow replay): a
    /// standby can hold every acknowledged commit yet have replayed less than another.
    pub replay_delay_ms: u64,
    /// Its source waits for it on commit (synchronous replication): the source
    /// acknowledges nothing this standby has not received.
    pub synchronous: bool,
    /// Replication stopped silently: it receives nothing, yet reports "running"
    /// with no lag figure (a receiver stuck connecting, `Seconds_Behind_Master` NULL).
    pub silent: bool,
    /// Since when replication has not flowed, if it does not.
    pub stalled_since_ms: Option<u64>,
    /// Position received when it stalled.
    pub frozen_position: u64,
}

impl Replica {
    pub fn new(source: String) -> Replica {
        Replica {
            source,
            running: true,
            last_error: None,
            base_lag_ms: 0,
            replay_delay_ms: 0,
            synchronous: false,
            silent: false,
            stalled_since_ms: None,
            frozen_position: 0,
        }
    }

    /// The source's position at `now_ms` when it writes `rate_per_s` positions a second.
    pub fn source_position(now_ms: u64, rate_per_s: u64) -> u64 {
        now_ms / 1_000 * rate_per_s
    }

    /// What it has received (and made durable): what a promotion keeps.
    pub fn received(&self, now_ms: u64, rate_per_s: u64) -> u64 {
        match self.stalled_since_ms {
            Some(_) => self.frozen_position,
            None => Replica::source_position(now_ms.saturating_sub(self.base_lag_ms), rate_per_s),
        }
    }

    /// What it has replayed: what it received, `replay_delay_ms` later.
    pub fn replayed(&self, now_ms: u64, rate_per_s: u64) -> u64 {
        let delayed = Replica::source_position(now_ms.saturating_sub(self.base_lag_ms + self.replay_delay_ms), rate_per_s);
        self.received(now_ms, rate_per_s).min(delayed)
    }

    /// Replication can flow if its source can send (the caller checks that).
    pub fn can_flow(&self) -> bool {
        self.running && !self.silent
    }

    /// Updates whether replication flows; call whenever the world changes.
    pub fn set_flowing(&mut self, flowing: bool, now_ms: u64, rate_per_s: u64) {
        match (flowing, self.stalled_since_ms) {
            (false, None) => {
                self.frozen_position = self.received(now_ms, rate_per_s);
                self.stalled_since_ms = Some(now_ms);
            }
            // Catching up is instant in this model: the interesting part is the stall.
            (true, Some(_)) => self.stalled_since_ms = None,
            _ => {}
        }
    }

    pub fn flowing(&self) -> bool {
        self.stalled_since_ms.is_none()
    }

    pub fn lag_ms(&self, now_ms: u64) -> u64 {
        self.base_lag_ms + self.replay_delay_ms + self.stalled_since_ms.map_or(0, |s| now_ms.saturating_sub(s))
    }

    /// Bytes of WAL the source keeps for this replica (what it has not replayed).
    pub fn retained_bytes(&self, now_ms: u64, rate_per_s: u64, bytes_per_position: u64) -> u64 {
        Replica::source_position(now_ms, rate_per_s).saturating_sub(self.replayed(now_ms, rate_per_s)) * bytes_per_position
    }

    pub fn status(&self, now_ms: u64, rate_per_s: u64) -> ReplicationStatus {
        ReplicationStatus {
            running: self.running,
            lag_ms: (!self.silent).then(|| self.lag_ms(now_ms)),
            last_error: self.last_error.clone(),
            replayed_position: self.replayed(now_ms, rate_per_s),
            retained_bytes: self.retained_bytes(now_ms, rate_per_s, 16 * 1024),
            received_position: Some(self.received(now_ms, rate_per_s)),
        }
    }
}

/// One promotion as the world saw it: how many writes the old primary had
/// acknowledged that the promoted node never received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromotionLoss {
    pub at_ms: u64,
    pub service: String,
    pub from: String,
    pub to: String,
    /// Acknowledged writes lost (positions: one write each).
    pub lost: u64,
    /// Of those, writes acknowledged before the old primary was last observed by a
    /// probe: what evidence could have shown. An isolated primary that keeps
    /// acknowledging unseen (asynchronous replication) loses the rest whatever
    /// anyone decides; only synchronous replication or not promoting avoids it.
    pub lost_observed: u64,
}

/// The primaries' acknowledged writes.
#[derive(Debug, Default)]
pub struct Writes {
    /// Nodes accepting and acknowledging writes now (writable, database up).
    writing: BTreeSet<usize>,
    /// Where a node that stopped writing stopped acknowledging.
    stopped_at: BTreeMap<usize, u64>,
    /// Per node: its acknowledged position when a probe last saw it as a primary.
    observed: RefCell<BTreeMap<usize, u64>>,
    pub losses: Vec<PromotionLoss>,
}

impl World {
    /// Every `[[world.replica]]` names a node that replicates in the inventory.
    pub fn check_replica_knobs(&self) -> Result<(), String> {
        for (i, knob) in self.knobs.replicas.iter().enumerate() {
            if !self.node_index(&knob.node).is_some_and(|n| self.replicas.contains_key(&n)) {
                return Err(format!(
                    "world.replica[{i}].node: `{}` is not a node with `replication` in the scenario's inventory",
                    knob.node
                ));
            }
        }
        Ok(())
    }

    /// What `node` may acknowledge at most now: the global write position, or less
    /// while a synchronous standby of it has not received it.
    fn ack_limit(&self, node: usize) -> u64 {
        let rate = self.knobs.write_rate_per_s;
        let name = &self.nodes[node].name;
        self.replicas
            .values()
            .filter(|r| r.synchronous && r.source == *name)
            .map(|r| r.received(self.now_ms, rate))
            .fold(Replica::source_position(self.now_ms, rate), u64::min)
    }

    /// The position up to which `node` acknowledged writes (0: it never wrote).
    pub fn acked_position(&self, node: usize) -> u64 {
        if self.writes.writing.contains(&node) {
            self.ack_limit(node)
        } else {
            self.writes.stopped_at.get(&node).copied().unwrap_or(0)
        }
    }

    /// What `node` holds: what it received as a standby, or acknowledged as a primary.
    fn held_position(&self, node: usize) -> u64 {
        let received = self.replicas.get(&node).map_or(0, |r| r.received(self.now_ms, self.knobs.write_rate_per_s));
        received.max(self.acked_position(node))
    }

    /// `node` acknowledged writes as a primary and has not become a standby since
    /// (the world never turns an old primary back into one).
    pub(super) fn was_primary(&self, node: usize) -> bool {
        self.writes.writing.contains(&node) || self.writes.stopped_at.contains_key(&node)
    }

    /// A probe saw `node` as a primary reporting `flush`.
    pub(super) fn observed_flush(&self, node: usize, flush: u64) {
        self.writes.observed.borrow_mut().insert(node, flush);
    }

    /// Names of the synchronous standbys of `node` that are in sync (flowing).
    pub(super) fn synchronous_standbys(&self, node: usize) -> Vec<String> {
        if !self.writes.writing.contains(&node) {
            return Vec::new();
        }
        let name = &self.nodes[node].name;
        self.replicas
            .iter()
            .filter(|(_, r)| r.synchronous && r.source == *name && r.flowing())
            .map(|(&i, _)| self.nodes[i].name.clone())
            .collect()
    }

    /// Starts or stops each node's acknowledging; call after every change.
    pub(super) fn refresh_writes(&mut self) {
        for node in 0..self.nodes.len() {
            let writing = self.nodes[node].writable && self.db_ok(node);
            match (writing, self.writes.writing.contains(&node)) {
                (true, false) => {
                    self.writes.writing.insert(node);
                    self.writes.stopped_at.remove(&node);
                }
                (false, true) => {
                    let at = self.ack_limit(node);
                    self.writes.writing.remove(&node);
                    self.writes.stopped_at.insert(node, at);
                }
                _ => {}
            }
        }
    }

    /// Records what promoting `to` (an index) for `service` loses, before it happens.
    pub(super) fn note_promotion(&mut self, service: usize, to: usize) {
        let Some(from) = self.services[service].holders.first().and_then(|h| self.node_index(h)) else { return };
        if from == to {
            return;
        }
        let held = self.held_position(to);
        let lost = self.acked_position(from).saturating_sub(held);
        let observed = self.writes.observed.borrow().get(&from).copied().unwrap_or(0);
        self.writes.losses.push(PromotionLoss {
            at_ms: self.now_ms,
            service: self.services[service].name.clone(),
            from: self.nodes[from].name.clone(),
            to: self.nodes[to].name.clone(),
            lost,
            lost_observed: observed.min(self.acked_position(from)).saturating_sub(held),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_freezes_while_stalled_and_lag_grows() {
        let mut r = Replica::new("db0".into());
        assert_eq!(r.replayed(10_000, 100), 1_000);
        r.running = false;
        r.set_flowing(false, 10_000, 100);
        assert_eq!(r.replayed(70_000, 100), 1_000);
        assert_eq!(r.lag_ms(70_000), 60_000);
        assert_eq!(r.retained_bytes(70_000, 100, 1), 6_000);
        r.running = true;
        r.set_flowing(true, 70_000, 100);
        assert_eq!(r.lag_ms(70_000), 0);
        assert_eq!(r.replayed(70_000, 100), 7_000);
    }
}

#[cfg(test)]
mod replay_tests {
    use super::*;

    #[test]
    fn a_delayed_replay_holds_everything_received() {
        let mut r = Replica::new("db0".into());
        r.replay_delay_ms = 10_000;
        assert_eq!(r.received(60_000, 100), 6_000);
        assert_eq!(r.replayed(60_000, 100), 5_000);
        assert_eq!(r.lag_ms(60_000), 10_000);
        r.set_flowing(false, 60_000, 100);
        // Replay goes on up to what was received.
        assert_eq!(r.replayed(80_000, 100), 6_000);
    }

    #[test]
    fn a_silent_stop_reports_running_without_a_lag_figure() {
        let mut r = Replica::new("db0".into());
        r.silent = true;
        assert!(!r.can_flow());
        r.set_flowing(false, 10_000, 100);
        let status = r.status(70_000, 100);
        assert!(status.running);
        assert_eq!(status.lag_ms, None);
        assert_eq!(status.received_position, Some(1_000));
    }
}
