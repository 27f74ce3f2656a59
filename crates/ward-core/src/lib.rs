//! Ward's core: a sans-IO, deterministic decision engine.
//!
//! Architecture invariant: this crate does no I/O. It never reads a clock, a file
//! or a socket, never spawns a thread, never sleeps and owns no randomness. Inputs
//! and the current time come in as values (`engine::Input`, `now_ms`); decisions
//! come out as values (`engine::Output`). See ARCHITECTURE.md.

#![forbid(unsafe_code)]

pub mod action;
pub mod agent;
pub mod engine;
mod guards;
pub mod health;
pub mod ids;
pub mod inventory;
pub mod journal;
pub mod mode;
pub mod observation;
mod state;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;

pub use engine::{Command, Engine, Input, Mode, Output};
