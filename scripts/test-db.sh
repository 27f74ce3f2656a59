#!/usr/bin/env bash
# The tests against real servers (issue 4), as root:
#   1. the database probes: starts the shared servers with db-up.sh (installs PostgreSQL 15
#      and MariaDB if missing), then crates/ward-probe/tests/databases.rs. The servers stay
#      up for other suites; stop them with scripts/db-down.sh.
#   2. the haproxy hook: installs haproxy if missing (haproxy-up.sh), then
#      crates/ward-actuate/tests/haproxy_hook.rs (it starts its own haproxy processes).
#   2b. the real `ward` binary against them (crates/ward/tests/db): replication gate and
#      alert, disk forecast on a tmpfs, kill -9 and switchover on a cluster of its own;
#      then `ward agent` leases on a cluster in network namespaces (agent_leases.rs).
#   3. the postgres hook: crates/ward-actuate/tests/postgres_hook.rs, which starts and
#      deletes its own PostgreSQL-only cluster on 16432-16434 (the shared one is untouched).
# Each test run is bounded by `timeout` (compiling is done before, unbounded).
set -euo pipefail
cd "$(dirname "$0")/.."
TEST_TIME_MAX=${WARD_TEST_TIME_MAX:-900}
bounded() { # name, cargo test arguments...
  local name=$1
  shift
  cargo test --release --no-run "$@"
  local started=$SECONDS
  timeout --kill-after=10 "$TEST_TIME_MAX" cargo test --release "$@" ||
    { echo "test-db: $name failed or ran out of its ${TEST_TIME_MAX} s" >&2; exit 1; }
  echo "test-db: $name passed in $((SECONDS - started)) s"
}

bash scripts/db-up.sh
# The tests stop and signal servers through their pid files: same directory as db-up.sh.
WARD_DB_DIR="$(source scripts/db-env.sh && echo "$WARD_DB_DIR")"
export WARD_DB_DIR
bounded "database probes" -p ward-probe --features db-tests --test databases
unset WARD_DB_DIR
# The real ward binary: broken replication against the shared cluster, a filling tmpfs,
# and kill -9 / switchover under writes on a synchronous cluster of its own (17432-17434).
bounded "ward with real servers" -p ward --features db-tests --test db -- --skip agent_leases
# `ward agent` leases: PostgreSQL with each node in its own network namespace
# (tests/db/agent-cluster.sh, 10.231.7.0/24 behind bridge wardagbr), one case at a
# time; the 5-minute controller stop makes this about 7 minutes.
bounded "ward agent in namespaces" -p ward --features db-tests --test db agent_leases -- --test-threads 1

bash scripts/haproxy-up.sh
bounded "haproxy hook" -p ward-actuate --features haproxy-tests --test haproxy_hook
bounded "postgres hook" -p ward-actuate --features db-tests --test postgres_hook
