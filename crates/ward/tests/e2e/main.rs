//! End-to-end tests of the real `ward` binary: `ward run` as a child process,
//! in-process HTTP backends, exec hooks and routes as shell scripts in a temp dir,
//! and the API and CLI as an operator would use them. Loopback only.

mod support;

mod agent;
mod api;
mod approval;
mod bad_day;
mod damping;
mod escalation;
mod failover;
mod hold;
mod inventory_reload;
mod restart;
