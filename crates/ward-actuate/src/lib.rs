//! Ward's actuators and notification routes: the shell's side of
//! `Output::StartJob` and `Output::Notify`.
//!
//! - Hooks carry out job steps (apply, rollback, preview): [`run_step`]. Exec hooks
//!   run a command with the step in the environment and as JSON on stdin
//!   ([`StepPayload`]); HTTP hooks get the same JSON in a POST. Two kinds are built
//!   in: `postgres` (fence, promote, repoint over SQL) and `haproxy` (server states
//!   through the runtime API).
//! - Routes deliver notifications: [`deliver`] (Slack, Alertmanager webhook, exec, log).
//!
//! Everything has a timeout, and nothing here retries a call that may have acted
//! (`retry.rs` explains what is retried and why).

mod actuators;
mod exec_hook;
mod haproxy_hook;
mod http;
mod http_hook;
mod mysql_hook;
mod notify;
mod postgres_hook;
mod preview;
mod process;
mod retry;
mod rfc3339;
mod step;
mod text;
mod wire;

pub use actuators::Actuators;
pub use notify::{alertmanager_payload, deliver, slack_payload, NotificationPayload};
pub use rfc3339::rfc3339_utc;
pub use step::{run_step, StepContext};
pub use text::redact_urls;
pub use wire::{ActionPayload, RolloutPayload, StepPayload, STEP_PAYLOAD_VERSION};
