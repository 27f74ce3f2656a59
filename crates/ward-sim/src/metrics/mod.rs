//! Metrics of one run: what clients saw (`recorder.rs`) and what the controller
//! did (`summary.rs`, folded from the journal and the world's logs).

mod recorder;
mod summary;

pub use recorder::Recorder;
pub use summary::*;
