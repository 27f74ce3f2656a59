//! What `ward agent` sends the controller every `renew_every`, and the answer.
//! JSON over HTTP (`POST /v1/agent/lease`, the agent token). Names, not ids: the
//! two sides may briefly run different inventories.

use serde::{Deserialize, Serialize};

/// One renewal from the agent on `node`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRequest {
    pub node: String,
    /// The highest fencing token this agent has accepted (0: none yet). A
    /// controller whose own token is lower was deposed and is refused by the agent.
    #[serde(default)]
    pub token_seen: u64,
    /// The agent's wall clock when it sent this (Unix ms): only to notice clocks
    /// that disagree beyond `policy.agent.clock_skew_max`, never to time the lease.
    pub sent_at_unix_ms: u64,
    /// The content hash of the inventory the agent runs.
    #[serde(default)]
    pub inventory_hash: String,
    /// What the agent sees of the other members of its services.
    #[serde(default)]
    pub peers: Vec<PeerReport>,
    /// Primary services the agent has fenced on its own server itself (its lease
    /// ran out with no majority in sight, or another member answered as writable).
    #[serde(default)]
    pub self_fenced: Vec<String>,
}

/// One other member of a service, as the agent's own probes see it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerReport {
    pub node: String,
    /// The agent reached the member's server within the last lease.
    pub reachable: bool,
    /// The member answers as a writable primary.
    #[serde(default)]
    pub writable: bool,
}

/// The controller's answer to a renewal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseAnswer {
    /// The lease is renewed for `lease_ms` from when the agent sent the request.
    pub granted: bool,
    /// The controller's fencing token (its term): the agent refuses a lower one.
    pub token: u64,
    pub lease_ms: u64,
    /// How often the agent should renew.
    pub renew_every_ms: u64,
    /// Primary services whose server on this node must be (or stay) fenced: Ward
    /// fenced it, by a job or by its lease, and has not given its writes back.
    #[serde(default)]
    pub stay_fenced: Vec<String>,
    /// For people: why not granted, or what the controller counts on.
    #[serde(default)]
    pub sentence: String,
}
