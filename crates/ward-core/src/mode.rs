//! Ward or the baseline: the one switch every guard reads.

use serde::{Deserialize, Serialize};

/// `Guarded` is Ward. `Naive` is the baseline the simulator compares against: the
/// same machinery with every safety off (fail over on the first failed check, no
/// damping, no quorum, no integrity check, no budget, no verification).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Guarded,
    Naive,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Guarded => "guarded",
            Mode::Naive => "naive",
        }
    }
}
