//! Read-only routes: the view, the journal, the timeline, `why`, metrics.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use ward_core::action::Evidence;
use ward_core::action::NamedAction;
use ward_core::journal::{JournalEvent, JournalRecord};
use ward_core::time::TimeMs;

use super::error::ApiError;
use super::{AppState, JOURNAL_PAGE_MAX};
use crate::driver::now_ms;

pub async fn status(State(state): State<AppState>) -> impl IntoResponse {
    let mut status = state.view.borrow().status.clone();
    status.halted = state.counters.journal.sentence();
    status.acting = status.halted.is_none();
    Json(status)
}

/// 200 while Ward acts; 503 with the reason while it has stopped (its journal
/// cannot be written), so a load balancer or supervisor can see it.
pub async fn readyz(State(state): State<AppState>) -> axum::response::Response {
    match state.counters.journal.sentence() {
        None => (axum::http::StatusCode::OK, Json(serde_json::json!({ "ready": true }))).into_response(),
        Some(reason) => {
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "ready": false, "reason": reason }))).into_response()
        }
    }
}

/// A journal read on a blocking thread: a scan must not stall the async workers.
async fn read_journal<T: Send + 'static>(
    state: &AppState,
    read: impl FnOnce(&dyn super::JournalReader) -> Result<T, String> + Send + 'static,
) -> Result<T, ApiError> {
    let journal = state.journal.clone();
    tokio::task::spawn_blocking(move || read(journal.as_ref()))
        .await
        .map_err(|e| ApiError::unavailable(format!("the journal read failed: {e}")))?
        .map_err(ApiError::unavailable)
}

pub async fn nodes(State(state): State<AppState>) -> impl IntoResponse {
    Json(state.view.borrow().nodes.clone())
}

pub async fn node(State(state): State<AppState>, Path(name): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let view = state.view.borrow().clone();
    view.nodes
        .iter()
        .find(|n| n.name == name)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no node named {name:?}"), "GET /v1/nodes lists them"))
}

pub async fn services(State(state): State<AppState>) -> impl IntoResponse {
    Json(state.view.borrow().services.clone())
}

#[derive(Serialize)]
struct NodeObservations {
    node: String,
    probes: Vec<crate::view::ProbeVoteView>,
}

pub async fn observations(State(state): State<AppState>) -> impl IntoResponse {
    let view = state.view.borrow().clone();
    let list: Vec<NodeObservations> =
        view.nodes.iter().map(|n| NodeObservations { node: n.name.clone(), probes: n.probes.clone() }).collect();
    Json(list)
}

pub async fn plan(State(state): State<AppState>) -> impl IntoResponse {
    Json(state.view.borrow().plan.clone())
}

pub async fn approvals(State(state): State<AppState>) -> impl IntoResponse {
    Json(state.view.borrow().approvals.clone())
}

pub async fn alerts(State(state): State<AppState>) -> impl IntoResponse {
    Json(state.view.borrow().alerts.clone())
}

#[derive(Deserialize)]
pub struct JournalQuery {
    /// Records after this seq (exclusive), for following the journal.
    since: Option<u64>,
    /// Records from this seq (inclusive): `from=0` reads from the very start.
    from: Option<u64>,
    limit: Option<usize>,
}

pub async fn journal(State(state): State<AppState>, Query(q): Query<JournalQuery>) -> Result<impl IntoResponse, ApiError> {
    let limit = q.limit.unwrap_or(1_000).min(JOURNAL_PAGE_MAX);
    let records = read_journal(&state, move |journal| match (q.from, q.since) {
        (Some(seq), _) => journal.from(seq, limit),
        (None, Some(seq)) => journal.since(seq, limit),
        (None, None) => journal.last(limit),
    })
    .await?;
    Ok(Json(records))
}

#[derive(Deserialize)]
pub struct TimelineQuery {
    /// How far back: `2h`, `30m`, `90s`.
    since: Option<String>,
}

/// The journal since a time, as Markdown lines in the style of the seed reports.
pub async fn timeline(State(state): State<AppState>, Query(q): Query<TimelineQuery>) -> Result<impl IntoResponse, ApiError> {
    let window = q.since.as_deref().unwrap_or("1h");
    let window_ms = ward_inventory::parse_duration_ms(window)
        .map_err(|e| ApiError::bad_request(format!("since={window}: {e}"), "use a duration such as 30m, 2h or 1d"))?;
    let now = now_ms();
    let records = read_journal(&state, move |journal| journal.between_ms(now.saturating_sub(window_ms), now, JOURNAL_PAGE_MAX)).await?;
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], render_timeline(&records, window)))
}

pub fn render_timeline(records: &[JournalRecord], window: &str) -> String {
    let mut out = format!("# Ward timeline (last {window}, UTC)\n\n");
    for record in records {
        if let Some(sentence) = ward_core::journal::sentence(&record.event) {
            out.push_str(&format!("- {} {}\n", utc_clock(record.at_ms), sentence.replace('\n', " / ")));
        }
    }
    out
}

/// `HH:MM:SS` of a Unix time in ms, UTC.
fn utc_clock(at_ms: TimeMs) -> String {
    ward_core::time::clock(at_ms % (24 * ward_core::time::HOUR_MS))
}

#[derive(Serialize)]
pub struct WhyEntry {
    pub decision: u64,
    pub at_ms: TimeMs,
    pub action: NamedAction,
    pub cause: String,
    pub summary: String,
    pub outcome: String,
    /// Every guard's sentence, in order.
    pub guards: Vec<(String, String, String)>,
    pub evidence: Evidence,
    pub job: Option<u64>,
}

/// How many recent records `why` searches.
const WHY_SCAN_MAX: usize = 50_000;
const WHY_ENTRIES_MAX: usize = 20;

/// The latest decisions about a service, with their evidence and guard sentences;
/// `rollout` (or `rollout:N`) instead of a service: rollout batches, refusals included.
pub async fn why(State(state): State<AppState>, Path(service): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let is_service = state.view.borrow().services.iter().any(|s| s.name == service);
    // None: a service; Some(None): every rollout; Some(Some(n)): rollout n.
    let rollout: Option<Option<u32>> = match service.strip_prefix("rollout") {
        _ if is_service => None,
        Some("") => Some(None),
        Some(rest) => rest.strip_prefix(':').and_then(|n| n.parse().ok()).map(Some),
        None => None,
    };
    if !is_service && rollout.is_none() {
        return Err(ApiError::not_found(
            format!("no service named {service:?}"),
            "GET /v1/services lists them; `rollout` or `rollout:N` shows rollout decisions",
        ));
    }
    let about = |action: &ward_core::action::NamedAction| match (rollout, action) {
        (None, _) => action.service_ref() == Some(&service),
        (Some(wanted), ward_core::action::ActionOf::Maintain { rollout: id, .. }) => wanted.is_none_or(|w| w == *id),
        (Some(_), _) => false,
    };
    let records = read_journal(&state, |journal| journal.last(WHY_SCAN_MAX)).await?;
    let mut entries: Vec<WhyEntry> = records
        .iter()
        .rev()
        .filter_map(|r| match &r.event {
            JournalEvent::Decision { decision, action, cause, summary, evidence, verdict, job } if about(action) => Some(WhyEntry {
                decision: decision.0,
                at_ms: r.at_ms,
                action: action.clone(),
                cause: cause.clone(),
                summary: summary.clone(),
                outcome: verdict.outcome.name().to_string(),
                guards: verdict.guards.iter().map(|g| (g.guard.clone(), g.outcome.name().to_string(), g.sentence.clone())).collect(),
                evidence: evidence.clone(),
                job: job.map(|j| j.0),
            }),
            _ => None,
        })
        .take(WHY_ENTRIES_MAX)
        .collect();
    entries.reverse();
    Ok(Json(entries))
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let view = state.view.borrow().clone();
    let text = crate::metrics::render(&view, &state.counters, &state.extra_metrics);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
