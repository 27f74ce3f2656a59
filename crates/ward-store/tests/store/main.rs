//! ward-store tests, one binary (one link) with a module per concern. The crash
//! test re-runs this binary as its child (see `crash.rs`).

mod append_rules;
mod checkpoints;
mod corruption;
mod crash;
mod damage;
mod lock;
mod meta;
mod round_trip;
mod support;
