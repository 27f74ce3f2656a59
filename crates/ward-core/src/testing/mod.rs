//! Test support, compiled only for tests and with the `testing` feature: one
//! harness that drives the engine as a shell would, in virtual time.

mod harness;

pub use harness::{DetailFn, Harness, World};
