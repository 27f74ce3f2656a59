//! ward-sim: a deterministic world model and scenario runner for Ward's core.
//!
//! Architecture invariant: one u64 seed (ChaCha8) and virtual time drive a whole
//! run; no wall clock, no threads. The same seed gives the same journal, byte for
//! byte (`RunResult::journal_sha256`).
//!
//! Code map: `scenario` (the TOML format and its checks), `world` (nodes, links,
//! replication, disks, trees, actuators, true placement), `runner` (the
//! discrete-event loop and the controller shell around the engine), `metrics`,
//! `timeline`, `expect` (assertions and the baseline comparison), `report`.

#![forbid(unsafe_code)]

pub mod clock;
pub mod expect;
pub mod metrics;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod sweep;
pub mod timeline;
pub mod world;

pub use report::{run_scenario, ScenarioReport};
pub use scenario::{load as load_scenario, Scenario, ScenarioError};
