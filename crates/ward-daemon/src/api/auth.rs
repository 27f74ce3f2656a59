//! Bearer-token check for mutating routes. Compared in constant time.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;

pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(expected) = state.token.as_deref() else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "this controller accepts no changes over the API",
            "start `ward run` with --token-file FILE to enable mutating requests",
        )
        .into_response();
    };
    let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(token) if constant_time_eq(token.trim().as_bytes(), expected.as_bytes()) => next.run(request).await,
        Some(_) => {
            ApiError::new(StatusCode::UNAUTHORIZED, "wrong token", "use the token from the controller's --token-file").into_response()
        }
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing bearer token",
            "send `Authorization: Bearer <token>` (the CLI reads it from --token-file or WARD_TOKEN_FILE)",
        )
        .into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
