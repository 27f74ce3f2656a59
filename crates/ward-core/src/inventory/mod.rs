//! The inventory model. Parsing and validation of the TOML file live in the
//! `ward-inventory` crate, which produces these types whole or not at all.

pub mod model;
mod render;
mod snapshot;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use model::*;
pub use render::{render_target, AddressForm};
pub use snapshot::{Snapshot, SnapshotParts};
