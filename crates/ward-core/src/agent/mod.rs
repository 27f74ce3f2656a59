//! The host-local half of Ward, `ward agent`, as far as it is pure logic: what an
//! agent and the controller say to each other (`wire`) and when an agent whose
//! lease ran out fences its own server (`keeper`). The agent process itself (HTTP,
//! probes, the fence through an actuator, the persisted token) lives in the shell
//! crates; the controller's side of the lease lives in the engine.
//!
//! Why leases: a primary whose host stops answering cannot be fenced over the
//! network, and promoting around it without a fence risks two writers. An agent on
//! the host holds a lease from the controller; once the lease has run out (plus a
//! margin for clock drift and the fence itself), the controller may count on the
//! agent having fenced its server, or on nobody being able to reach it at all.

mod keeper;
mod wire;

pub use keeper::{Decision, LeaseKeeper, PeerSight};
pub use wire::{LeaseAnswer, LeaseRequest, PeerReport};
