//! The HTTP API: JSON under `/v1`, `/metrics`, and an OpenAPI document. Reads come
//! from the driver's published view and the journal; writes become engine commands
//! sent to the driver, answered with the engine's sentence. Mutating routes need a
//! bearer token; bodies are size-limited; bad requests get a 4xx with a hint.

mod auth;
pub mod conn;
mod error;
pub mod openapi;
mod read;
mod write;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{mpsc, watch};
use ward_core::inventory::Snapshot;
use ward_core::journal::JournalRecord;

pub use auth::Tokens;

use crate::driver::Event;
use crate::metrics::{Counters, Extra};
use crate::view::View;

/// Requests larger than this are refused (413): no handler needs more.
pub const BODY_BYTES_MAX: usize = 256 * 1024;
/// Journal reads return at most this many records per request.
pub const JOURNAL_PAGE_MAX: usize = 10_000;

/// Reads the durable journal for `/v1/journal`, `/v1/why` and `/v1/timeline`.
pub trait JournalReader: Send + Sync {
    fn since(&self, seq_exclusive: u64, limit: usize) -> Result<Vec<JournalRecord>, String>;
    fn from(&self, seq_inclusive: u64, limit: usize) -> Result<Vec<JournalRecord>, String>;
    fn between_ms(&self, from_ms: u64, to_ms: u64, limit: usize) -> Result<Vec<JournalRecord>, String>;
    fn last(&self, limit: usize) -> Result<Vec<JournalRecord>, String>;
}

#[derive(Clone)]
pub struct AppState {
    pub view: watch::Receiver<Arc<View>>,
    pub snapshot: watch::Receiver<Arc<Snapshot>>,
    pub events: mpsc::Sender<Event>,
    pub journal: Arc<dyn JournalReader>,
    pub counters: Arc<Counters>,
    pub extra_metrics: Arc<Vec<Extra>>,
    /// Bearer tokens by role (see `auth`): a role without a token is refused outright.
    pub tokens: Arc<Tokens>,
}

pub fn router(state: AppState) -> Router {
    let open = Router::new()
        .route("/v1/status", get(read::status))
        .route("/readyz", get(read::readyz))
        .route("/v1/nodes", get(read::nodes))
        .route("/v1/nodes/{name}", get(read::node))
        .route("/v1/services", get(read::services))
        .route("/v1/plan", get(read::plan))
        .route("/v1/approvals", get(read::approvals))
        .route("/v1/alerts", get(read::alerts))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/metrics", get(read::metrics));
    // What the journal holds (names, reasons, evidence) needs the read token.
    let reads = Router::new()
        .route("/v1/observations", get(read::observations))
        .route("/v1/journal", get(read::journal))
        .route("/v1/timeline", get(read::timeline))
        .route("/v1/why/{service}", get(read::why))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_read));
    let observe = Router::new()
        .route("/v1/observations", post(write::observations))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_observer));
    let agents = Router::new()
        .route("/v1/agent/lease", post(write::lease))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_agent));
    let writes = Router::new()
        .route("/v1/approve/{decision}", post(write::approve))
        .route("/v1/reject/{decision}", post(write::reject))
        .route("/v1/hold", post(write::hold))
        .route("/v1/release", post(write::release))
        .route("/v1/drain/{node}", post(write::drain))
        .route("/v1/undrain/{node}", post(write::undrain))
        .route("/v1/ack/{alert}", post(write::ack))
        .route("/v1/switchover", post(write::switchover))
        .route("/v1/sync", post(write::sync))
        .route("/v1/rollout", post(write::rollout))
        .route("/v1/rollout/{verb}", post(write::rollout_control))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_operator));
    open.merge(reads).merge(observe).merge(agents).merge(writes).layer(DefaultBodyLimit::max(BODY_BYTES_MAX)).with_state(state)
}
