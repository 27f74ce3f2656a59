//! The Ward daemon: a thin shell around `ward-core`. It turns the world into
//! engine inputs (probes, agents' observations, inventory reloads, operator
//! commands, job and notification results) and the engine's outputs into effects
//! (durable journal writes first, then actuator steps and notifications).
//! Only this crate knows HTTP, the file system and the clock.

pub mod api;
pub mod driver;
mod executor;
pub mod halt;
pub mod inventory_source;
mod journal_store;
pub mod limits;
pub mod metrics;
mod notifier;
pub mod run;
pub mod view;
