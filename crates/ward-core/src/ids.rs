//! Dense numeric identifiers. Names live in the inventory snapshot; the hot paths
//! (observation ingest, planning) only ever touch these indices.

use serde::{Deserialize, Serialize};

macro_rules! dense_id {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub $inner);

        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

dense_id!(
    /// Index into `Snapshot::sites`.
    SiteId(u16)
);
dense_id!(
    /// Index into `Snapshot::observers`.
    ObserverId(u16)
);
dense_id!(
    /// Index into `Snapshot::nodes`.
    NodeId(u32)
);
dense_id!(
    /// Index into `Snapshot::checks`.
    CheckId(u32)
);
dense_id!(
    /// Index into `Snapshot::probes`: one (node, check) pair.
    ProbeId(u32)
);
dense_id!(
    /// Index into `Snapshot::services`.
    ServiceId(u32)
);
dense_id!(
    /// Index into `Snapshot::hooks`.
    HookId(u32)
);
dense_id!(
    /// Index into `Snapshot::routes`.
    RouteId(u16)
);
dense_id!(
    /// A job: an approved action being carried out. Never reused.
    JobId(u64)
);
dense_id!(
    /// A decision record in the journal. Never reused.
    DecisionId(u64)
);
dense_id!(
    /// An alert group (one cause). Never reused.
    AlertId(u64)
);
dense_id!(
    /// One notification message to one route. Never reused.
    NotificationId(u64)
);
