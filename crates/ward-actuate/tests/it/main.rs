//! ward-actuate against real processes and real local HTTP servers (loopback only).

mod common;
mod exec_hooks;
mod hook_inventory;
mod http_hooks;
mod routes;
