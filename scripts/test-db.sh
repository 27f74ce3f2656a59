#!/usr/bin/env bash
# The database probe tests against real servers (issue 4): starts them with db-up.sh
# (installs PostgreSQL 15 and MariaDB if missing; run as root), then runs
# crates/ward-probe/tests/databases.rs. The servers stay up for other suites; stop them
# with scripts/db-down.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/db-up.sh
cargo test --release -p ward-probe --features db-tests --test databases
