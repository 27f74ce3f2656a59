//! Mutating routes: each becomes one engine command, sent to the driver and
//! answered with the engine's own sentence (409 when the engine refuses).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use ward_core::agent::{LeaseAnswer, LeaseRequest};
use ward_core::engine::{Command, HoldTarget, RolloutControl, RolloutScope};
use ward_core::ids::{AlertId, DecisionId};
use ward_core::observation::{Observation, ProbeDetail, ProbeOutcome};

use super::error::ApiError;
use super::AppState;
use crate::driver::Event;
use crate::limits::REASON_BYTES_MAX;

/// The driver answers commands within this, or the request fails (503).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// Observations per agent request.
const OBSERVATIONS_PER_REQUEST_MAX: usize = 20_000;
const AUTHOR_CHARS_MAX: usize = 64;

#[derive(Serialize)]
pub struct Answer {
    pub ok: bool,
    pub answer: String,
}

fn author(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers.get("x-ward-author") else { return Ok("api".into()) };
    let text = value.to_str().map_err(|_| ApiError::bad_request("X-Ward-Author is not text", "send a short name, e.g. your login"))?;
    if text.is_empty() || text.len() > AUTHOR_CHARS_MAX || text.chars().any(|c| c.is_control()) {
        return Err(ApiError::bad_request("X-Ward-Author must be 1 to 64 printable characters", "send a short name, e.g. your login"));
    }
    Ok(text.to_string())
}

async fn run(state: &AppState, command: Command) -> Result<Json<Answer>, ApiError> {
    let (reply, answer) = oneshot::channel();
    state.events.send(Event::Command { command, reply }).await.map_err(|_| ApiError::unavailable("the controller is stopping"))?;
    match tokio::time::timeout(COMMAND_TIMEOUT, answer).await {
        Ok(Ok(Ok(answer))) => Ok(Json(Answer { ok: true, answer })),
        Ok(Ok(Err(refusal))) => Err(ApiError::new(StatusCode::CONFLICT, refusal, "nothing was changed; see the sentence for what to fix")),
        Ok(Err(_)) | Err(_) => Err(ApiError::unavailable("the controller did not answer in time")),
    }
}

/// An operator's free text is journaled: bounded, refused whole when too long.
fn bounded_text(text: String, what: &str) -> Result<String, ApiError> {
    if text.len() > REASON_BYTES_MAX {
        return Err(ApiError::bad_request(
            format!("the {what} is {} bytes; at most {REASON_BYTES_MAX} are kept in the journal", text.len()),
            format!("shorten the {what}; link to a ticket for the details"),
        ));
    }
    Ok(text)
}

fn parse_id(text: &str, what: &str) -> Result<u64, ApiError> {
    text.parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!("{what} {text:?} is not a number"), format!("use the {what} number shown by `ward status`"))
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    #[serde(default)]
    reason: Option<String>,
}

pub async fn approve(State(state): State<AppState>, headers: HeaderMap, Path(decision): Path<String>) -> Result<Json<Answer>, ApiError> {
    let decision = DecisionId(parse_id(&decision, "decision")?);
    run(&state, Command::Approve { decision, author: author(&headers)? }).await
}

pub async fn reject(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(decision): Path<String>,
    body: Option<Json<ReasonBody>>,
) -> Result<Json<Answer>, ApiError> {
    let decision = DecisionId(parse_id(&decision, "decision")?);
    let reason = bounded_text(body.and_then(|b| b.0.reason).unwrap_or_else(|| "rejected by an operator".into()), "reason")?;
    run(&state, Command::Reject { decision, author: author(&headers)?, reason }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    /// `node:NAME`, `site:NAME`, `service:NAME`, or `fleet` (also `all`): a freeze.
    target: String,
    #[serde(default)]
    reason: String,
    /// Unix time in ms when the hold lapses; none: until released.
    #[serde(default)]
    until_ms: Option<u64>,
}

pub fn parse_target(text: &str) -> Result<HoldTarget, ApiError> {
    if text == "fleet" || text == "all" {
        return Ok(HoldTarget::Fleet);
    }
    match text.split_once(':') {
        Some(("node", name)) if !name.is_empty() => Ok(HoldTarget::Node(name.into())),
        Some(("site", name)) if !name.is_empty() => Ok(HoldTarget::Site(name.into())),
        Some(("service", name)) if !name.is_empty() => Ok(HoldTarget::Service(name.into())),
        _ => Err(ApiError::bad_request(
            format!("target {text:?} is not node:NAME, site:NAME, service:NAME or fleet"),
            "e.g. site:scl2, or fleet to freeze everything",
        )),
    }
}

pub async fn hold(State(state): State<AppState>, headers: HeaderMap, Json(body): Json<HoldBody>) -> Result<Json<Answer>, ApiError> {
    let target = parse_target(&body.target)?;
    let reason = bounded_text(body.reason, "reason")?;
    run(&state, Command::Hold { target, author: author(&headers)?, reason, until_ms: body.until_ms }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseBody {
    target: String,
}

pub async fn release(State(state): State<AppState>, headers: HeaderMap, Json(body): Json<ReleaseBody>) -> Result<Json<Answer>, ApiError> {
    let target = parse_target(&body.target)?;
    run(&state, Command::Release { target, author: author(&headers)? }).await
}

pub async fn drain(State(state): State<AppState>, headers: HeaderMap, Path(node): Path<String>) -> Result<Json<Answer>, ApiError> {
    run(&state, Command::Drain { node, author: author(&headers)? }).await
}

pub async fn undrain(State(state): State<AppState>, headers: HeaderMap, Path(node): Path<String>) -> Result<Json<Answer>, ApiError> {
    run(&state, Command::Undrain { node, author: author(&headers)? }).await
}

pub async fn ack(State(state): State<AppState>, headers: HeaderMap, Path(alert): Path<String>) -> Result<Json<Answer>, ApiError> {
    let alert = AlertId(parse_id(&alert, "alert")?);
    run(&state, Command::Ack { alert, author: author(&headers)? }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchoverBody {
    service: String,
    to: String,
}

pub async fn switchover(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<SwitchoverBody>,
) -> Result<Json<Answer>, ApiError> {
    run(&state, Command::Switchover { service: body.service, to: body.to, author: author(&headers)? }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncBody {
    service: String,
    from: String,
    to: String,
}

pub async fn sync(State(state): State<AppState>, headers: HeaderMap, Json(body): Json<SyncBody>) -> Result<Json<Answer>, ApiError> {
    run(&state, Command::Sync { service: body.service, from: body.from, to: body.to, author: author(&headers)? }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutBody {
    nodes: Vec<String>,
    batch_size: u32,
    operation: String,
    /// A node label naming a failure domain besides the site (e.g. "rack").
    #[serde(default)]
    domain: Option<String>,
    /// Failure domains with nodes out at once (default: policy.rollout.domains_max).
    #[serde(default)]
    domains_max: Option<u32>,
    /// Share of any service's candidates out at once (default: policy.rollout.pool_percent_max).
    #[serde(default)]
    pool_percent_max: Option<u32>,
}

pub async fn rollout(State(state): State<AppState>, headers: HeaderMap, Json(body): Json<RolloutBody>) -> Result<Json<Answer>, ApiError> {
    let operation = bounded_text(body.operation, "operation")?;
    let scope = RolloutScope { domain_label: body.domain, domains_max: body.domains_max, pool_percent_max: body.pool_percent_max };
    run(&state, Command::Rollout { nodes: body.nodes, batch_size: body.batch_size, operation, author: author(&headers)?, scope }).await
}

/// `POST /v1/rollout/{pause|resume|cancel}`: the rollout in progress.
pub async fn rollout_control(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(verb): Path<String>,
) -> Result<Json<Answer>, ApiError> {
    let control = match verb.as_str() {
        "pause" => RolloutControl::Pause,
        "resume" => RolloutControl::Resume,
        "cancel" => RolloutControl::Cancel,
        other => return Err(ApiError::bad_request(format!("{other:?} is not a rollout control"), "pause, resume or cancel")),
    };
    run(&state, Command::RolloutControl { control, author: author(&headers)? }).await
}

/// One probe result from an observer agent, by names (its inventory copy may be
/// a different version from the controller's).
#[derive(Deserialize, Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct AgentObservation {
    pub node: String,
    pub check: String,
    pub outcome: ProbeOutcome,
    #[serde(default)]
    pub latency_ms: u32,
    pub observer_clock_ms: u64,
    #[serde(default)]
    pub detail: Option<ProbeDetail>,
}

#[derive(Deserialize, Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct AgentBatch {
    pub observer: String,
    pub observations: Vec<AgentObservation>,
}

#[derive(Serialize)]
pub struct BatchAnswer {
    pub accepted: usize,
    /// `node/check` pairs this controller's inventory does not have (first few).
    pub unknown: Vec<String>,
    pub inventory_hash: String,
}

pub async fn observations(State(state): State<AppState>, Json(batch): Json<AgentBatch>) -> Result<Json<BatchAnswer>, ApiError> {
    if batch.observations.len() > OBSERVATIONS_PER_REQUEST_MAX {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{} observations in one request (at most {OBSERVATIONS_PER_REQUEST_MAX})", batch.observations.len()),
            "send smaller batches more often",
        ));
    }
    let snapshot = state.snapshot.borrow().clone();
    let Some(observer) = snapshot.observer_id(&batch.observer) else {
        let known: Vec<&str> = snapshot.observers().iter().map(|o| o.name.as_str()).collect();
        return Err(ApiError::bad_request(
            format!("observer {:?} is not in inventory {}", batch.observer, snapshot.short_hash()),
            format!("start the agent with --name set to one of: {}", known.join(", ")),
        ));
    };
    let mut accepted = Vec::with_capacity(batch.observations.len());
    let mut unknown = Vec::new();
    for o in batch.observations {
        let probe = snapshot.node_id(&o.node).zip(snapshot.check_id(&o.check)).and_then(|(n, c)| snapshot.probe_id(n, c));
        match probe {
            Some(probe) => accepted.push(Observation {
                probe,
                observer,
                at_ms: 0,
                outcome: o.outcome,
                latency_ms: o.latency_ms,
                detail: o.detail.map(Box::new),
                observer_clock_ms: Some(o.observer_clock_ms),
            }),
            None if unknown.len() < 10 => unknown.push(format!("{}/{}", o.node, o.check)),
            None => {}
        }
    }
    let count = accepted.len();
    let inventory: std::sync::Arc<str> = snapshot.hash().into();
    state.events.send(Event::Observations(accepted, inventory)).await.map_err(|_| ApiError::unavailable("the controller is stopping"))?;
    Ok(Json(BatchAnswer { accepted: count, unknown, inventory_hash: snapshot.hash().to_string() }))
}

/// A renewal the driver has not answered within this is useless to the agent (it
/// renews more often than this and times its lease from the sending): 503.
const LEASE_TIMEOUT: Duration = Duration::from_secs(5);
/// Peers and self-fenced services per renewal: an agent reports the members of its
/// own services, never thousands.
const LEASE_LIST_MAX: usize = 1_024;
const NAME_BYTES_MAX: usize = 253;

/// `ward agent` renews its lease: answered by the engine once what the renewal
/// changed is journaled.
pub async fn lease(State(state): State<AppState>, Json(request): Json<LeaseRequest>) -> Result<Json<LeaseAnswer>, ApiError> {
    if request.peers.len() > LEASE_LIST_MAX || request.self_fenced.len() > LEASE_LIST_MAX {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} peers and {} self-fenced services in one renewal (at most {LEASE_LIST_MAX} each)",
                request.peers.len(),
                request.self_fenced.len()
            ),
            "an agent reports only the members of the services its node is a candidate of",
        ));
    }
    let too_long = std::iter::once(&request.node)
        .chain(request.peers.iter().map(|p| &p.node))
        .chain(request.self_fenced.iter())
        .chain(std::iter::once(&request.inventory_hash))
        .any(|name| name.len() > NAME_BYTES_MAX);
    if too_long {
        return Err(ApiError::bad_request(
            format!("a name in the renewal is over {NAME_BYTES_MAX} bytes"),
            "send the node and service names of the inventory",
        ));
    }
    let (reply, answer) = oneshot::channel();
    let sent = tokio::time::timeout(LEASE_TIMEOUT, state.events.send(Event::Lease { request, reply })).await;
    match sent {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Err(ApiError::unavailable("the controller is stopping")),
        Err(_) => return Err(ApiError::unavailable("the controller is too busy to take the renewal")),
    }
    match tokio::time::timeout(LEASE_TIMEOUT, answer).await {
        Ok(Ok(answer)) => Ok(Json(answer)),
        Ok(Err(_)) => Err(ApiError::unavailable("the controller granted no lease: it is stopping or cannot write its journal")),
        Err(_) => Err(ApiError::unavailable("the controller did not answer the renewal in time")),
    }
}
