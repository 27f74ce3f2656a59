#!/usr/bin/env bash
# Store size and recovery time after RECORDS journal records (default 1,000,000),
# with checkpoints (every 10,000 records, the store dropping what precedes the
# previous one) and without. Usage: bash bench/compaction.sh [RECORDS]
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
cargo build --release --quiet -p ward-store --example compaction
echo "| store | records written | ward.redb | records read at recovery | recovery (open + read + fold) |"
echo "|---|---|---|---|---|"
for mode in checkpoints none; do
  timeout 1800 ./target/release/examples/compaction "$records" "$mode"
done
