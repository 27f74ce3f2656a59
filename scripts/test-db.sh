#!/usr/bin/env bash
# The database probe tests against real servers (issue 4): starts them with db-up.sh
# (installs PostgreSQL 15 and MariaDB if missing; run as root), then runs
# crates/ward-probe/tests/databases.rs. The servers stay up for other suites; stop them
# with scripts/db-down.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/db-up.sh
# The tests stop and signal servers through their pid files: same directory as db-up.sh.
WARD_DB_DIR="$(source scripts/db-env.sh && echo "$WARD_DB_DIR")"
export WARD_DB_DIR
cargo test --release -p ward-probe --features db-tests --test databases
