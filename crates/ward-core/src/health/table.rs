//! `HealthTable`: ties rise/fall, quorum, suspicion, damping, replication and disk
//! forecasts together over dense, id-indexed vectors.
//!
//! Performance note: `ingest` is a bounds check, one cell update in a dense
//! `Vec<RiseFall>` indexed by `probe * observers + observer`, and one per-probe
//! "newest" update. No hashing, no allocation (unless the observation carries a
//! replication detail, whose strings are cloned). Everything proportional to the
//! fleet (quorum, suspicion, node aggregation) happens in `refresh`, once per tick.

use super::damping::{DampChange, Damper};
use super::disk_forecast::DiskSeries;
use super::observer_silence::Silence;
use super::observer_suspicion::{assess, FlapWatch, Suspicion, FLAP_WINDOW_MS};
use super::quorum::{worst, Tally};
use super::replication::{self, ReplicationReport};
use super::{HealthEvent, NodeHealth, PrimaryEvidence, ProbeView, ReplicationEvidence, ReplicationHealth, Status};
use crate::ids::*;
use crate::inventory::{Damping, Snapshot};
use crate::observation::{Observation, PrimaryStatus, ProbeDetail};
use crate::time::TimeMs;

use super::rise_fall::{RiseFall, Thresholds};

/// No slot: the probe carries no replication or disk detail we track.
const NO_SLOT: u32 = u32::MAX;

static UNKNOWN_NODE: NodeHealth = NodeHealth {
    status: Status::Unknown,
    since_ms: 0,
    suppressed: false,
    penalty: 0,
    flaps: 0,
    replication: None,
    replayed_position: 0,
    disk_full_in_ms: None,
    replication_evidence: ReplicationEvidence { at_ms: None, healthy_at_ms: None, lag_unknown: false, received_position: None },
    primary: None,
    writable_at_ms: None,
};

const UNKNOWN_PROBE: ProbeView = ProbeView { status: Status::Unknown, votes_up: 0, votes_down: 0, votes_unknown: 0, last_at_ms: None };

/// The newest observation of a probe from any observer (naive mode's input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Newest {
    at_ms: TimeMs,
    pass: bool,
}

/// Per-node state beyond what `NodeHealth` shows.
#[derive(Clone, Copy, Debug, PartialEq)]
struct NodeState {
    damper: Damper,
    /// The last status that was not Unknown, so Up -> Unknown -> Down counts as a flap.
    last_definite: Status,
}

impl Default for NodeState {
    fn default() -> Self {
        NodeState { damper: Damper::default(), last_definite: Status::Unknown }
    }
}

/// Health state for every probe and node of a snapshot.
pub struct HealthTable {
    observers: usize,
    /// `probe * observers + observer`.
    cells: Vec<RiseFall>,
    /// Each cell's vote as of the last refresh (before suspicion masking).
    cell_votes: Vec<Status>,
    /// Per probe: the hysteresis thresholds of its check.
    thresholds: Vec<Thresholds>,
    /// Per probe.
    newest: Vec<Option<Newest>>,
    /// Per probe, as of the last refresh.
    views: Vec<ProbeView>,
    /// Per node.
    nodes: Vec<NodeHealth>,
    node_state: Vec<NodeState>,
    /// Per probe: index of the replicated node whose status this probe reports.
    rep_slot: Vec<u32>,
    /// Per replicated node (slot): the node.
    rep_nodes: Vec<NodeId>,
    /// `slot * observers + observer`: newest replication report.
    rep_reports: Vec<Option<ReplicationReport>>,
    /// Per probe: index of the disk series this probe feeds.
    disk_slot: Vec<u32>,
    /// Per disk series: the node.
    disk_nodes: Vec<NodeId>,
    disks: Vec<DiskSeries>,
    suspicion: Suspicion,
    silence: Silence,
    /// Everything received before this is stale (`invalidate_before`).
    cutoff_ms: TimeMs,
    ignored: u64,
    /// Per probe: an observation older than this is stale. The policy's
    /// `stale_after`, stretched to two intervals plus a timeout for slow checks, so
    /// a 30 s disk check is not "unknown" between its own rounds.
    stale_of_probe: Vec<u64>,
    /// Per probe: false for verification-only checks (named only in services'
    /// `verify`): "is the VIP here?" fails on every node but the holder by design,
    /// and must not make those nodes look down.
    counts_for_node: Vec<bool>,
    damping: Damping,
    /// The quiet bound of observer silence as of the last refresh.
    quiet_max_ms: u64,
    /// Mode of the last refresh.
    naive: bool,
    /// Observers' Down onsets over a short window (flap-suspect observers).
    flap_watch: FlapWatch,
    /// Per node: its recent Up->Down flaps that added a damping penalty, and the
    /// observers whose Down votes made them; refunded if those observers all turn
    /// out suspect. Not carried across an inventory change.
    recent_flaps: Vec<Vec<(TimeMs, Vec<u16>)>>,
}

/// A node's recent flaps kept for a possible refund, at most.
const RECENT_FLAPS_MAX: usize = 16;

/// The observers whose Down votes (`cell_votes`) on a node's probes make its status.
fn down_voters(cell_votes: &[Status], counts_for_node: &[bool], probes: &[ProbeId], observers: usize) -> Vec<u16> {
    (0..observers)
        .filter(|&o| {
            probes
                .iter()
                .filter(|p| counts_for_node.get(p.index()).copied().unwrap_or(true))
                .any(|p| cell_votes.get(p.index() * observers + o) == Some(&Status::Down))
        })
        .map(|o| o as u16)
        .collect()
}

impl HealthTable {
    /// Everything starts Unknown: a fresh controller acts only on what it has observed.
    pub fn new(snapshot: &Snapshot) -> Self {
        let observers = snapshot.observers().len();
        let probes = snapshot.probes();
        let thresholds = probes
            .iter()
            .map(|p| {
                let check = snapshot.check(p.check);
                Thresholds { rise: check.rise, fall: check.fall, timeout_fall: check.timeout_fall }
            })
            .collect();
        let mut rep_slot = vec![NO_SLOT; probes.len()];
        let mut rep_nodes = Vec::new();
        let mut disk_slot = vec![NO_SLOT; probes.len()];
        let mut disk_nodes = Vec::new();
        for (n, node) in snapshot.nodes().iter().enumerate() {
            let id = NodeId(n as u32);
            if let Some(rep) = &node.replication {
                if let Some(p) = snapshot.probe_id(id, rep.check) {
                    rep_slot[p.index()] = rep_nodes.len() as u32;
                }
                rep_nodes.push(id);
            }
            if let Some(check) = node.disk_check {
                if let Some(p) = snapshot.probe_id(id, check) {
                    disk_slot[p.index()] = disk_nodes.len() as u32;
                }
                disk_nodes.push(id);
            }
        }
        let nodes = snapshot
            .nodes()
            .iter()
            .map(|node| NodeHealth { replication: node.replication.as_ref().map(|_| ReplicationHealth::Unknown), ..UNKNOWN_NODE.clone() })
            .collect();
        let policy = snapshot.policy();
        HealthTable {
            observers,
            cells: vec![RiseFall::new(); probes.len() * observers],
            cell_votes: vec![Status::Unknown; probes.len() * observers],
            thresholds,
            newest: vec![None; probes.len()],
            views: vec![UNKNOWN_PROBE; probes.len()],
            nodes,
            node_state: vec![NodeState::default(); snapshot.nodes().len()],
            rep_slot,
            rep_reports: vec![None; rep_nodes.len() * observers],
            rep_nodes,
            disk_slot,
            disks: vec![DiskSeries::default(); disk_nodes.len()],
            disk_nodes,
            suspicion: Suspicion::new(observers),
            silence: Silence::new(observers),
            cutoff_ms: 0,
            ignored: 0,
            stale_of_probe: stale_bounds(snapshot),
            counts_for_node: counts_for_node(snapshot),
            damping: policy.damping.clone(),
            quiet_max_ms: policy.stale_after_ms,
            naive: false,
            flap_watch: FlapWatch::default(),
            recent_flaps: vec![Vec::new(); snapshot.nodes().len()],
        }
    }

    fn probe_count(&self) -> usize {
        self.views.len()
    }

    /// Carries state over to a new snapshot, matching probes by (node name, check name)
    /// and observers by name. Anything new starts Unknown.
    pub fn rebase(&mut self, old: &Snapshot, new: &Snapshot) {
        let mut next = HealthTable::new(new);
        let old_observer: Vec<Option<usize>> =
            new.observers().iter().map(|o| old.observer_id(&o.name).map(|id| id.index()).filter(|&i| i < self.observers)).collect();
        for (o, old_o) in old_observer.iter().enumerate() {
            if let Some(old_o) = *old_o {
                next.suspicion.set(o, self.suspicion.is_suspect(old_o));
            }
        }
        next.silence = self.silence.carried(&old_observer);
        for (p, probe) in new.probes().iter().enumerate() {
            let old_probe = old
                .node_id(new.node_name(probe.node))
                .zip(old.check_id(&new.check(probe.check).name))
                .and_then(|(n, c)| old.probe_id(n, c))
                .map(|id| id.index())
                .filter(|&i| i < self.probe_count());
            let Some(op) = old_probe else { continue };
            next.newest[p] = self.newest[op];
            next.views[p] = self.views[op];
            let old_rep = self.rep_slot[op];
            let new_rep = next.rep_slot[p];
            for (o, old_o) in old_observer.iter().enumerate() {
                let Some(old_o) = *old_o else { continue };
                next.cells[p * next.observers + o] = self.cells[op * self.observers + old_o];
                next.cell_votes[p * next.observers + o] = self.cell_votes[op * self.observers + old_o];
                if old_rep != NO_SLOT && new_rep != NO_SLOT {
                    next.rep_reports[new_rep as usize * next.observers + o] =
                        self.rep_reports[old_rep as usize * self.observers + old_o].take();
                }
            }
        }
        for (n, node) in new.nodes().iter().enumerate() {
            let Some(old_n) = old.node_id(&node.name).map(|id| id.index()).filter(|&i| i < self.nodes.len()) else {
                continue;
            };
            let previous = &self.nodes[old_n];
            let carried = &mut next.nodes[n];
            carried.status = previous.status;
            carried.since_ms = previous.since_ms;
            carried.suppressed = previous.suppressed;
            carried.penalty = previous.penalty;
            carried.flaps = previous.flaps;
            carried.replayed_position = previous.replayed_position;
            carried.replication_evidence = previous.replication_evidence;
            carried.primary.clone_from(&previous.primary);
            if carried.replication.is_some() {
                if let Some(rep) = &previous.replication {
                    carried.replication = Some(rep.clone());
                }
            }
            next.node_state[n] = self.node_state[old_n];
            let id = NodeId(n as u32);
            let old_id = NodeId(old_n as u32);
            if let (Some(new_d), Some(old_d)) =
                (next.disk_nodes.iter().position(|&d| d == id), self.disk_nodes.iter().position(|&d| d == old_id))
            {
                next.disks[new_d] = self.disks[old_d].clone();
                carried.disk_full_in_ms = previous.disk_full_in_ms;
            }
        }
        next.cutoff_ms = self.cutoff_ms;
        next.ignored = self.ignored;
        next.naive = self.naive;
        *self = next;
    }

    /// Records one observation. O(1), no allocation unless `detail` is present.
    /// Observations for ids out of range are ignored (counted in `ignored()`).
    /// Observations received before an `invalidate_before` cutoff are dropped.
    ///
    /// Returns whether the next `refresh` may see something new because of it (worth
    /// planning early): the probe's hysteresis state or latest outcome changed, its
    /// evidence was stale and is fresh again, its observer had been reported silent,
    /// its replication detail changed state (or error), or it carries a disk sample.
    #[inline]
    pub fn ingest(&mut self, snapshot: &Snapshot, observation: &Observation) -> bool {
        let p = observation.probe.index();
        let o = observation.observer.index();
        if p >= self.probe_count() || o >= self.observers {
            self.ignored += 1;
            return false;
        }
        let at_ms = observation.at_ms;
        if at_ms < self.cutoff_ms {
            return false;
        }
        let was_silent = self.silence.is_silent(o);
        self.silence.heard(o, at_ms);
        let stale_after_ms = self.stale_of_probe[p];
        let cell = &mut self.cells[p * self.observers + o];
        if cell.last_at().is_some_and(|t| t < self.cutoff_ms) {
            // Hysteresis restarts from what is observed after the cutoff.
            cell.reset();
        }
        let was_fresh = cell.is_fresh(at_ms, stale_after_ms, self.cutoff_ms);
        let mut changed = cell.record(observation.outcome, at_ms, self.thresholds[p]) || !was_fresh || was_silent;
        let newest = &mut self.newest[p];
        if newest.is_none_or(|n| at_ms >= n.at_ms) {
            *newest = Some(Newest { at_ms, pass: observation.outcome.is_pass() });
        }
        if !observation.outcome.is_pass() {
            // No good answer (refused, timed out, failed, whatever it says): what the
            // node said as a writable primary is not its latest word any more (the
            // second-writer check wants its latest).
            if let Some(health) = snapshot.probes().get(p).and_then(|probe| self.nodes.get_mut(probe.node.index())) {
                health.writable_at_ms = None;
            }
        }
        if let Some(detail) = &observation.detail {
            changed |= self.ingest_detail(snapshot, p, o, at_ms, detail, observation.outcome.is_pass());
        }
        changed
    }

    /// Records a detail; returns whether it may change what `refresh` reports.
    #[cold]
    fn ingest_detail(&mut self, snapshot: &Snapshot, p: usize, o: usize, at_ms: TimeMs, detail: &ProbeDetail, pass: bool) -> bool {
        match detail {
            ProbeDetail::Replication(status) => {
                // A standby takes no writes: whatever it said as a primary is over.
                if let Some(health) = snapshot.probes().get(p).and_then(|probe| self.nodes.get_mut(probe.node.index())) {
                    health.writable_at_ms = None;
                }
                let slot = self.rep_slot[p];
                if slot == NO_SLOT {
                    return false;
                }
                let lag_max_ms = self
                    .rep_nodes
                    .get(slot as usize)
                    .and_then(|n| snapshot.nodes().get(n.index()))
                    .and_then(|node| node.replication.as_ref())
                    .map_or(0, |r| r.lag_max_ms);
                let report = &mut self.rep_reports[slot as usize * self.observers + o];
                let before = report.as_ref().map(|r| replication::classify(&r.status, lag_max_ms));
                replication::record(report, at_ms, status);
                let after = report.as_ref().map(|r| replication::classify(&r.status, lag_max_ms));
                match (before, after) {
                    (Some(before), Some(after)) => replication::is_notable_change(Some(&before), &after),
                    (before, after) => before != after,
                }
            }
            ProbeDetail::Disk(disk) => {
                let slot = self.disk_slot[p];
                if slot == NO_SLOT {
                    return false;
                }
                // Every sample moves the forecast.
                self.disks[slot as usize].record(at_ms, *disk);
                true
            }
            ProbeDetail::Primary(status) => {
                let Some(node) = snapshot.probes().get(p).map(|probe| probe.node.index()) else { return false };
                match self.nodes.get_mut(node) {
                    Some(health) => {
                        let was_writable = health.writable_at_ms.is_some();
                        health.writable_at_ms = (pass && status.writable == Some(true)).then_some(at_ms);
                        record_primary(&mut health.primary, at_ms, status) || was_writable != health.writable_at_ms.is_some()
                    }
                    None => false,
                }
            }
            ProbeDetail::Message(_) => false,
        }
    }

    fn is_fresh(&self, probe: usize, at_ms: TimeMs, now_ms: TimeMs) -> bool {
        at_ms >= self.cutoff_ms && now_ms.saturating_sub(at_ms) <= self.stale_of_probe[probe]
    }

    /// Applies staleness, observer suspicion, quorum, node aggregation, damping,
    /// replication and disk forecasts as of `now_ms`, and reports what changed.
    /// `naive`: quorum of one (any observer's latest result), no damping, no suspicion,
    /// rise = fall = 1 (the baseline controller).
    ///
    /// Events come node by node (by node id: status, damping, replication, disk),
    /// then observer by observer (by observer id).
    pub fn refresh(&mut self, snapshot: &Snapshot, now_ms: TimeMs, naive: bool) -> Vec<HealthEvent> {
        let policy = snapshot.policy();
        self.stale_of_probe = stale_bounds(snapshot);
        self.counts_for_node = counts_for_node(snapshot);
        self.damping = policy.damping.clone();
        self.naive = naive;
        let cutoff = self.cutoff_ms;
        let observers = self.observers;

        // Per (probe, observer) votes.
        for (index, (vote, cell)) in self.cell_votes.iter_mut().zip(&self.cells).enumerate() {
            let stale = self.stale_of_probe[index / observers.max(1)];
            *vote = if naive { cell.naive_vote(now_ms, stale, cutoff) } else { cell.vote(now_ms, stale, cutoff) };
        }

        // Observer suspicion.
        let mut observer_events = Vec::new();
        if naive {
            self.suspicion.update(None, None, policy.observer_suspect_percent, &mut observer_events);
        } else {
            let stats = assess(&self.cell_votes, observers);
            for o in self.suspicion.recovered(&stats, policy.observer_suspect_percent) {
                self.flap_watch.forget(o, &self.cell_votes);
            }
            let flaps = self.flap_watch.observe(&self.cell_votes, observers, now_ms);
            self.suspicion.update(Some(&stats), Some(&flaps), policy.observer_suspect_percent, &mut observer_events);
        }
        // The longest any probe may be quiet (slow checks stretch it) before its observer counts as silent.
        let quiet_max_ms = self.stale_of_probe.iter().copied().max().unwrap_or(policy.stale_after_ms).max(policy.stale_after_ms);
        self.quiet_max_ms = quiet_max_ms;
        if self.probe_count() > 0 {
            self.silence.update(now_ms, quiet_max_ms, cutoff, &mut observer_events);
        }

        // Quorum per probe.
        for p in 0..self.probe_count() {
            let mut tally = Tally::default();
            for o in 0..observers {
                let vote = self.cell_votes[p * observers + o];
                tally.add(if self.suspicion.is_suspect(o) { Status::Unknown } else { vote });
            }
            let newest = self.newest[p];
            let status = if naive {
                match newest {
                    Some(n) if self.is_fresh(p, n.at_ms, now_ms) => {
                        if n.pass {
                            Status::Up
                        } else {
                            Status::Down
                        }
                    }
                    _ => Status::Unknown,
                }
            } else {
                tally.decide(policy.quorum)
            };
            self.views[p] = ProbeView {
                status,
                votes_up: tally.up,
                votes_down: tally.down,
                votes_unknown: tally.unknown,
                last_at_ms: newest.map(|n| n.at_ms),
            };
        }

        // Nodes: aggregation, damping, replication, disk.
        let mut events = Vec::new();
        let mut rep_index = 0;
        let mut disk_index = 0;
        for n in 0..self.nodes.len() {
            let id = NodeId(n as u32);
            let probes = if n < snapshot.nodes().len() { snapshot.probes_of_node(id) } else { &[] };
            let status = probes
                .iter()
                .filter(|p| self.counts_for_node.get(p.index()).copied().unwrap_or(true))
                .filter_map(|p| self.views.get(p.index()))
                .map(|v| v.status)
                .reduce(worst)
                .unwrap_or(Status::Unknown);
            let node = &mut self.nodes[n];
            let state = &mut self.node_state[n];
            if status != node.status {
                if status == Status::Down && state.last_definite == Status::Up {
                    node.flaps = node.flaps.saturating_add(1);
                    if !naive {
                        state.damper.flap(now_ms, &self.damping);
                        if let Some(recent) = self.recent_flaps.get_mut(n) {
                            recent.push((now_ms, down_voters(&self.cell_votes, &self.counts_for_node, probes, observers)));
                            if recent.len() > RECENT_FLAPS_MAX {
                                recent.remove(0);
                            }
                        }
                    }
                }
                events.push(HealthEvent::NodeStatus { node: id, from: node.status, to: status });
                node.status = status;
                node.since_ms = now_ms;
            }
            if status != Status::Unknown {
                state.last_definite = status;
            }
            if naive {
                node.suppressed = false;
                node.penalty = 0;
            } else {
                // Flaps that only suspect observers saw were the observer's, not the node's.
                if let Some(recent) = self.recent_flaps.get_mut(n) {
                    recent.retain(|(at, _)| now_ms.saturating_sub(*at) <= FLAP_WINDOW_MS);
                    let suspicion = &self.suspicion;
                    let (excused, kept): (Vec<_>, Vec<_>) = std::mem::take(recent)
                        .into_iter()
                        .partition(|(_, voters)| !voters.is_empty() && voters.iter().all(|o| suspicion.is_suspect(*o as usize)));
                    *recent = kept;
                    for (at, _) in excused {
                        state.damper.refund(at, now_ms, &self.damping);
                    }
                }
                let change = state.damper.update(now_ms, &self.damping);
                node.suppressed = state.damper.suppressed();
                node.penalty = state.damper.penalty();
                match change {
                    Some(DampChange::Suppressed) => events.push(HealthEvent::Suppressed { node: id, penalty: node.penalty }),
                    Some(DampChange::Reused) => events.push(HealthEvent::Reused { node: id, penalty: node.penalty }),
                    None => {}
                }
            }

            if self.rep_nodes.get(rep_index) == Some(&id) {
                let reports = &self.rep_reports[rep_index * observers..(rep_index + 1) * observers];
                rep_index += 1;
                let replication_spec = snapshot.nodes().get(n).and_then(|node| node.replication.as_ref());
                let lag_max_ms = replication_spec.map_or(0, |r| r.lag_max_ms);
                let stale = replication_spec
                    .and_then(|r| snapshot.probe_id(id, r.check))
                    .map_or(snapshot.policy().stale_after_ms, |p| self.stale_of_probe[p.index()]);
                let freshest = replication::freshest(reports);
                if let Some(report) = freshest {
                    node.replayed_position = report.status.replayed_position;
                }
                let health = match freshest {
                    Some(r) if r.at_ms >= cutoff && now_ms.saturating_sub(r.at_ms) <= stale => replication::classify(&r.status, lag_max_ms),
                    _ => ReplicationHealth::Unknown,
                };
                replication::update_evidence(&mut node.replication_evidence, freshest.filter(|r| r.at_ms >= cutoff), lag_max_ms, cutoff);
                if replication::is_notable_change(node.replication.as_ref(), &health) {
                    events.push(HealthEvent::Replication { node: id, from: node.replication.clone(), to: health.clone() });
                }
                node.replication = Some(health);
            }

            if self.disk_nodes.get(disk_index) == Some(&id) {
                let series = &mut self.disks[disk_index];
                disk_index += 1;
                let forecast = series.full_in_ms(now_ms, cutoff);
                node.disk_full_in_ms = forecast;
                if let Some(full_in_ms) = series.warn(forecast, policy.disk_warn_horizon_ms) {
                    events.push(HealthEvent::DiskForecast { node: id, full_in_ms });
                }
            }
        }
        events.extend(observer_events);
        events
    }

    /// Drops what a primary reported before a time anomaly (`invalidate_before`).
    fn expire_primary_reports(&mut self) {
        let cutoff = self.cutoff_ms;
        for node in &mut self.nodes {
            if node.primary.as_ref().is_some_and(|p| p.at_ms < cutoff) {
                node.primary = None;
            }
        }
    }

    pub fn node(&self, node: NodeId) -> &NodeHealth {
        self.nodes.get(node.index()).unwrap_or(&UNKNOWN_NODE)
    }

    pub fn probe(&self, probe: ProbeId) -> ProbeView {
        self.views.get(probe.index()).copied().unwrap_or(UNKNOWN_PROBE)
    }

    /// Per-observer detail for evidence: (observer, status, receive time) for one probe.
    /// The status is the observer's own vote at the last refresh (suspect observers
    /// included; see `suspect_observers`).
    pub fn votes(&self, probe: ProbeId) -> Vec<(ObserverId, Status, Option<TimeMs>)> {
        let p = probe.index();
        if p >= self.probe_count() {
            return Vec::new();
        }
        (0..self.observers)
            .map(|o| {
                let i = p * self.observers + o;
                (ObserverId(o as u16), self.cell_votes[i], self.cells[i].last_at())
            })
            .collect()
    }

    pub fn suspect_observers(&self) -> Vec<ObserverId> {
        self.suspicion.suspects()
    }

    /// Observers nothing has arrived from for too long (as of the last refresh).
    pub fn silent_observers(&self) -> Vec<ObserverId> {
        (0..self.observers).filter(|o| self.silence.is_silent(*o)).map(|o| ObserverId(o as u16)).collect()
    }

    /// Time sanity (seed 003): everything received before `at_ms` is treated as stale,
    /// so the engine acts only on what it observes after a pause or clock jump.
    /// The cutoff only moves forward. Takes effect at the next `refresh`.
    pub fn invalidate_before(&mut self, at_ms: TimeMs) {
        self.cutoff_ms = self.cutoff_ms.max(at_ms);
        self.expire_primary_reports();
    }

    /// The next time a refresh could change something without new input
    /// (a damping reuse, a staleness expiry), for the engine's `poll_timeout`.
    pub fn next_change_ms(&self, now_ms: TimeMs) -> Option<TimeMs> {
        let observers = self.observers.max(1);
        let stale = self
            .cells
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.stale_at(now_ms, self.stale_of_probe[i / observers], self.cutoff_ms))
            .filter(|&t| t > now_ms)
            .min();
        let reuse =
            if self.naive { None } else { self.node_state.iter().filter_map(|s| s.damper.reuse_at_ms(now_ms, &self.damping)).min() };
        match (stale, reuse) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When an observer that reports now would be reported silent without new input:
    /// the first millisecond past the quiet bound `refresh` used last.
    pub fn next_silence_ms(&self, now_ms: TimeMs) -> Option<TimeMs> {
        if self.probe_count() == 0 {
            return None;
        }
        self.silence.next_silent_ms(self.quiet_max_ms, self.cutoff_ms).filter(|&t| t > now_ms)
    }

    /// Observations dropped because their ids were out of range.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }
}

/// Per probe staleness bound: the policy's, or two of the check's intervals plus
/// its timeout when that is longer.
/// Keeps the newest primary report, with the write rate since the one before it.
fn record_primary(slot: &mut Option<PrimaryEvidence>, at_ms: TimeMs, status: &PrimaryStatus) -> bool {
    if slot.as_ref().is_some_and(|old| old.at_ms > at_ms) {
        return false;
    }
    let flush_per_s = match (slot.as_ref(), status.flush_position) {
        (Some(old), Some(flush)) => match old.flush_position {
            // Reports from two observers a few ms apart say nothing about the rate.
            Some(before) if at_ms >= old.at_ms + 1_000 && flush >= before => Some((flush - before) * 1_000 / (at_ms - old.at_ms)),
            _ => old.flush_per_s,
        },
        (Some(old), None) => old.flush_per_s,
        (None, _) => None,
    };
    let changed = slot.as_ref().is_none_or(|old| old.synchronous_standbys != status.synchronous_standbys);
    *slot = Some(PrimaryEvidence {
        at_ms,
        flush_position: status.flush_position,
        synchronous_standbys: status.synchronous_standbys.clone(),
        flush_per_s,
    });
    changed
}

fn stale_bounds(snapshot: &Snapshot) -> Vec<u64> {
    let floor = snapshot.policy().stale_after_ms;
    snapshot
        .probes()
        .iter()
        .map(|p| {
            let check = snapshot.check(p.check);
            floor.max(check.interval_ms.saturating_mul(2).saturating_add(check.timeout_ms))
        })
        .collect()
}

/// A check counts for node health unless it is only a verification: named in a
/// service's `verify` while that service lists its health `checks` explicitly
/// without it, and used as a health check nowhere else.
fn counts_for_node(snapshot: &Snapshot) -> Vec<bool> {
    let checks = snapshot.checks().len();
    let mut in_verify = vec![false; checks];
    let mut health = vec![false; checks];
    for service in snapshot.services() {
        for check in &service.verify {
            in_verify[check.index()] = true;
            // No explicit health checks: every check on the node decides health.
            if service.checks.is_empty() {
                health[check.index()] = true;
            }
        }
        for check in &service.checks {
            health[check.index()] = true;
        }
    }
    for node in snapshot.nodes() {
        if let Some(replication) = &node.replication {
            health[replication.check.index()] = true;
        }
        if let Some(disk) = node.disk_check {
            health[disk.index()] = true;
        }
    }
    let verification_only: Vec<bool> = (0..checks).map(|c| in_verify[c] && !health[c]).collect();
    snapshot.probes().iter().map(|p| !verification_only[p.check.index()]).collect()
}
