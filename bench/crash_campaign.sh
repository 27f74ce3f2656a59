#!/usr/bin/env bash
# SIGKILLs of `ward run` at random moments during batches of real exec-hook actions,
# checked against an external actuator log: jobs lost or finished twice, applies
# repeated under one fencing token, calls without a journaled intent, stale tokens,
# and VIP holders Ward believes wrongly after unanswered steps.
# Usage: bash bench/crash_campaign.sh [ROUNDS] [SEED]   (loopback only; stops what it starts)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-40}; seed=${2:-11}
[ -x "${WARD:-target/release/ward}" ] || cargo build --release --quiet -p ward
WARD=${WARD:-target/release/ward} timeout 3600 python3 bench/campaign/campaign.py "$rounds" "$seed"
