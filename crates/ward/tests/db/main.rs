//! End-to-end tests of the real `ward` binary against real data directories and
//! database servers (issue 4). They need root (tmpfs mounts; PostgreSQL started by
//! `scripts/db-up.sh` as the postgres user), so they run from `scripts/test-db.sh`:
//! `cargo test --release -p ward --features db-tests --test db`.

#[path = "../e2e/support.rs"]
mod support;

mod agent_leases;
mod disk_forecast;
mod mysql_repair;
mod pg_failover;
mod replication_gate;
