//! Bearer tokens, one per role, compared in constant time:
//! - the **operator** token allows everything;
//! - the **read** token allows the routes that serve the journal and evidence
//!   (journal, timeline, why, observations), which name nodes, people and reasons;
//! - the **observer** token allows posting observations and nothing else;
//! - the **agent** token (`ward agent` on database hosts) allows renewing leases
//!   and nothing else: it is the only token that does, so a leaked operator or
//!   observer token cannot keep a dead host's lease alive.
//!
//! Status, nodes, services, alerts, `/readyz` and `/metrics` stay open: a load
//! balancer or Prometheus needs no secret to see whether Ward is acting.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;

/// The tokens this controller accepts; `None`: that role has no token file.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    pub operator: Option<String>,
    pub read: Option<String>,
    pub observer: Option<String>,
    pub agent: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Operator,
    Read,
    Observer,
    Agent,
}

impl Tokens {
    fn role_of(&self, given: &str) -> Option<Role> {
        let matches = |token: &Option<String>| token.as_deref().is_some_and(|t| constant_time_eq(given.as_bytes(), t.as_bytes()));
        if matches(&self.operator) {
            Some(Role::Operator)
        } else if matches(&self.read) {
            Some(Role::Read)
        } else if matches(&self.observer) {
            Some(Role::Observer)
        } else if matches(&self.agent) {
            Some(Role::Agent)
        } else {
            None
        }
    }
}

/// Changes: the operator token only.
pub async fn require_operator(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.tokens.operator.is_none() {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "this controller accepts no changes over the API",
            "start `ward run` with --token-file FILE to enable mutating requests",
        )
        .into_response();
    }
    check(&state, request, next, &[Role::Operator], "the operator token (the controller's --token-file)").await
}

/// Journal, timeline, why, observations: the read token or the operator token.
pub async fn require_read(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.tokens.operator.is_none() && state.tokens.read.is_none() {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "this controller serves its journal to no one",
            "start `ward run` with --read-token-file FILE (or --token-file) and send that token",
        )
        .into_response();
    }
    check(&state, request, next, &[Role::Operator, Role::Read], "the read token (--read-token-file) or the operator token").await
}

/// Agents posting observations: the observer token or the operator token.
pub async fn require_observer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.tokens.operator.is_none() && state.tokens.observer.is_none() {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "this controller accepts no observations over the API",
            "start `ward run` with --observer-token-file FILE and give that token to the agents",
        )
        .into_response();
    }
    check(&state, request, next, &[Role::Operator, Role::Observer], "the observer token (--observer-token-file) or the operator token")
        .await
}

/// `ward agent` lease renewals: the agent token only.
pub async fn require_agent(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.tokens.agent.is_none() {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "this controller grants no agent leases",
            "start `ward run` with --agent-token-file FILE and give that token to the `ward agent` processes",
        )
        .into_response();
    }
    check(&state, request, next, &[Role::Agent], "the agent token (the controller's --agent-token-file)").await
}

async fn check(state: &AppState, request: Request, next: Next, allowed: &[Role], which: &str) -> Response {
    let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let Some(given) = given else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing bearer token",
            format!("send `Authorization: Bearer <token>` with {which} (the CLI reads it from --token-file or WARD_TOKEN_FILE)"),
        )
        .into_response();
    };
    match state.tokens.role_of(given.trim()) {
        Some(role) if allowed.contains(&role) => next.run(request).await,
        Some(_) => ApiError::new(StatusCode::FORBIDDEN, "this token does not allow this request", format!("use {which}")).into_response(),
        None => ApiError::new(StatusCode::UNAUTHORIZED, "wrong token", format!("use {which}")).into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
