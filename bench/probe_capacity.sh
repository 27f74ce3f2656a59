#!/usr/bin/env bash
# Probe capacity on this machine: tcp probes against loopback listeners (127.0.0.1
# only), bounded by --seconds. Prints one Markdown table per run.
#
#   bench/probe_capacity.sh                 # 10,000 and 100,000 targets, 20 s each
#   bench/probe_capacity.sh 50000 10        # one run: 50,000 targets for 10 s
#
# The listeners run in a child process so the prober's CPU is measured on its own;
# "machine CPU busy %" shows whether anything else was competing for the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p ward-probe --example capacity
binary="$CARGO_TARGET_DIR/release/examples/capacity"
if [[ $# -ge 1 ]]; then
  runs=("$1")
else
  runs=(10000 100000)
fi
seconds="${2:-20}"
for targets in "${runs[@]}"; do
  echo "## $targets targets, ${seconds} s ($(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg))"
  # The example ends itself after $seconds; the outer timeout is a second bound.
  timeout $((seconds + 60)) "$binary" --targets "$targets" --seconds "$seconds" --concurrency "${CONCURRENCY:-4096}"
  echo
done
