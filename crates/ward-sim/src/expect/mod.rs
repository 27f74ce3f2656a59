//! Expectations: what a scenario asserts about a run, and their verdicts.

mod spec;

pub use spec::*;
