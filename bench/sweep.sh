#!/usr/bin/env bash
# bench/sweep.sh — a long random fault sweep: N schedules from seed S, each checked
# for safety (every step) and convergence (after the heal); see ward_sim::sweep.
#
# Usage:  bash bench/sweep.sh [N] [SEED]      (default 100000 schedules, seed 1)
#         WARD_BIN=path skips the build.
# Exits non-zero on any violation; the output then holds a one-line reproduction
# (`ward simulate --sweep 1 --seed S`) and the shrunk schedule.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
SEED="${2:-1}"
if [ -z "${WARD_BIN:-}" ]; then
  cargo build --release -q -p ward
  WARD_BIN="${CARGO_TARGET_DIR:-target}/release/ward"
fi
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
set +e
"$WARD_BIN" simulate --sweep "$N" --seed "$SEED" | tee "$out"
rc="${PIPESTATUS[0]}"
set -e
line="$(grep '^schedules ' "$out" | tail -1)"
printf '\n| schedules | violations | schedules/s |\n|---:|---:|---:|\n'
echo "$line" | awk '{printf "| %s | %s | %s |\n", $2, $4, $6}'
exit "$rc"
