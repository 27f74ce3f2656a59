#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs (idempotently),
# then runs unit, property and engine tests, the five seed-incident scenarios
# (Ward side by side with the naive baseline), and a determinism check.
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

# The core suite needs nothing but cargo. Suites that need real servers
# (PostgreSQL, MariaDB, etcd) install their Debian packages here, idempotently.

command -v cargo >/dev/null || { echo "cargo is required (rustup.rs)" >&2; exit 1; }
# Logs and the binary live in cargo's target dir, wherever CARGO_TARGET_DIR puts it.
out="${CARGO_TARGET_DIR:-target}"
mkdir -p "$out"
ward="$out/release/ward"

log "rustfmt and clippy (the core's bans on clocks, files, sockets, threads and random state are clippy rules)"
if command -v rustup >/dev/null; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

log "cargo build --release (one build, reused below)"
cargo build --release --workspace --quiet

log "cargo test --workspace"
cargo test --workspace --release 2>&1 | tee "$out/cargo-test.log"

log "databases: real PostgreSQL 15 (primary + 2 standbys) and MariaDB (primary + replica) on loopback"
# The servers are stopped when this script ends, whatever happens.
trap 'bash scripts/db-down.sh >/dev/null 2>&1 || true' EXIT
bash scripts/test-db.sh 2>&1 | tee "$out/db-test.log"

log "seed-incident scenarios: Ward vs the naive baseline"
"$ward" simulate --all scenarios/

log "ward demo: a real failover on loopback, end to end"
timeout 120 "$ward" demo > "$out/demo-output.txt"
grep -q "verified end to end" "$out/demo-output.txt" || { cat "$out/demo-output.txt"; echo "the demo did not verify its failover" >&2; exit 1; }
sed -n '/killed/,/verified/p' "$out/demo-output.txt"

log "validate: examples accepted, the seed 004 config rejected"
for f in examples/*.toml; do
  case "$f" in
    *-broken.toml) if "$ward" validate "$f" >/dev/null; then echo "$f should have been rejected" >&2; exit 1; fi ;;
    *) "$ward" validate "$f" >/dev/null ;;
  esac
done
echo "examples: ok"

passed=$(cat "$out/cargo-test.log" "$out/db-test.log" | grep -oE 'test result: ok\. [0-9]+ passed' | awk '{ sum += $4 } END { print sum + 0 }')
scenarios=$(ls scenarios/*.toml | wc -l)
echo
echo "cargo tests and ${scenarios} scenarios (Ward vs baseline) passed"
echo "tests: ${passed} passed, 0 failed"
