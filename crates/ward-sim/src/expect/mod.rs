//! Expectations: what a scenario asserts about a run (`spec.rs`) and their
//! verdicts against the Ward and baseline runs (`verdict.rs`).

mod spec;
mod verdict;

pub use spec::*;
pub use verdict::*;
