#!/usr/bin/env bash
# Probe capacity on this machine: tcp probes against loopback listeners (127.0.0.0/8
# only), by connect() and half-open (SYN, needs CAP_NET_RAW: run as root, or the
# "syn" rows say they fell back to connect). Each run is bounded by --seconds (and
# by an outer timeout). Prints each run's detail table, then one summary table.
#
#   bench/probe_capacity.sh                     # 10,000 and 100,000 targets × connect, syn; 20 s each
#   bench/probe_capacity.sh 50000 10            # 50,000 targets, 10 s, both paths
#   PATHS=syn bench/probe_capacity.sh 100000    # one path only
#
# The listeners run in a child process so the prober's CPU is measured on its own;
# "machine busy %" shows whether anything else was competing for the cores, and the
# load average is printed before and after every run.
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
read -r -a paths <<< "${PATHS:-connect syn}"
load() { cut -d' ' -f1-3 /proc/loadavg; }
summary=()
echo "# $(nproc) cores, $(uname -r), load before: $(load)"
for targets in "${runs[@]}"; do
  for path in "${paths[@]}"; do
    before="$(load)"
    echo "## $targets targets, $path, ${seconds} s (load before: $before)"
    # The example ends itself after $seconds; the outer timeout is a second bound.
    output="$(timeout $((seconds + 60)) "$binary" --targets "$targets" --seconds "$seconds" \
      --path "$path" --concurrency "${CONCURRENCY:-4096}")"
    grep -v '^row: ' <<< "$output"
    after="$(load)"
    echo "(load after: $after)"
    echo
    summary+=("$(grep '^row: ' <<< "$output" | sed 's/^row: //') $before → $after |")
  done
done
echo "## Summary (1 s interval, 1 s timeout; CPU % of all $(nproc) cores)"
echo
echo "| targets | path | wanted/s | achieved probes/s | skipped | pass % | prober CPU % | listener CPU % | machine busy % | prober CPU µs/probe | prober max RSS | load 1/5/15 min before → after |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
printf '%s\n' "${summary[@]}"
