//! The daemon's handle on actuators and routes: one HTTP client shared by every
//! hook and route, so connections to the same endpoint are pooled.

use std::time::Duration;

use ward_core::engine::{JobOutcome, JobRequest, Notification};
use ward_core::inventory::{Hook, Route};

use crate::step::StepContext;

#[derive(Clone, Debug)]
pub struct Actuators {
    client: reqwest::Client,
}

impl Actuators {
    /// Fails only if the TLS backend cannot be set up.
    pub fn new() -> Result<Actuators, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("ward/", env!("CARGO_PKG_VERSION")))
            // A redirected POST becomes a GET in most clients; for an actuator that
            // is a misconfiguration to report, not to follow.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("could not set up the HTTP client: {e}"))?;
        Ok(Actuators { client })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// See [`crate::run_step`].
    pub async fn run_step(&self, hook: &Hook, request: &JobRequest, ctx: &StepContext) -> JobOutcome {
        crate::step::run_step(hook, request, ctx, &self.client).await
    }

    /// See [`crate::deliver`].
    pub async fn deliver(&self, route: &Route, notification: &Notification, timeout: Duration, now_unix_ms: u64) -> Result<(), String> {
        crate::notify::deliver(route, notification, &self.client, timeout, now_unix_ms).await
    }
}
