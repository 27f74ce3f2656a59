#!/usr/bin/env bash
# bench/failover_vs_patroni.sh — Ward against Patroni on the same PostgreSQL failover (issue 4).
#
# Usage (as root, on Debian 12; installs what it needs):
#   bash bench/failover_vs_patroni.sh [--trials N] [--freezes N] [--systems patroni-default,patroni-tuned,ward]
#        [--seed N] [--rate TPS] [--clients N] [--freeze-s S]   (any option of bench/failover/driver.py)
#   WARD_BIN=path  the ward binary (default: target/release/ward, built with cargo if missing; only for ward)
#   KEEP=1         keep the data dirs under /var/tmp/ward-bench (the run dir with logs and CSV is always kept)
#   --ward-standin run the ward system with bench/failover/standin.py, a naive stand-in controller,
#                  instead of ward: checks this bench's Ward-side plumbing; reported as `standin`
#   LIMIT_S=N      kill the whole run after N seconds (default: 150 s per crash trial per system + 1800)
#
# The same topology three ways, one system at a time, all on 127.0.0.1:
#   a PostgreSQL 15 primary and two streaming standbys, synchronous replication (a commit
#   waits for one standby), fronted by one HAProxy frontend, under a pgbench write load
#   (-c 2 -R 200, through the frontend), with one shared client probe.
#   patroni-default  Patroni 3.0.2 (Debian) at its defaults: ttl 30, loop_wait 10, retry_timeout 10;
#                    single-node etcd 3.4 (v2 API, which Patroni's `etcd:` section uses through
#                    python3-etcd); synchronous_mode + synchronous_mode_strict; use_pg_rewind;
#                    HAProxy as Patroni documents it: OPTIONS /primary on the REST API, expect 200,
#                    inter 3s fall 3 rise 2, on-marked-down shutdown-sessions.
#                    PostgreSQL 25432-25434, REST 28008-28010, etcd 23790/23800, frontend 25000.
#   patroni-tuned    the same at the fastest settings Patroni's documentation allows: ttl 20,
#                    loop_wait 1, retry_timeout 3 (the documented minimums; see driver.py for
#                    where they are written and enforced); HAProxy checks inter 500ms fall 2 rise 1.
#   patroni-tuned-nonstrict  (only when asked for) patroni-tuned without synchronous_mode_strict.
#   ward             scripts/db-up.sh's cluster (PostgreSQL 26432-26434, synchronous_standby_names
#                    'ANY 1 (primary, standby1, standby2)'), `ward run` with bench/failover/ward.toml
#                    (API 127.0.0.1:26080), HAProxy frontend 26000 whose servers have no checks: Ward's
#                    haproxy actuator sets them ready/maint through the runtime API socket.
#                    Skipped, saying why, when `ward validate` rejects the inventory (the postgres and
#                    haproxy hook kinds, `follows` and `timeout_fall` are needed).
#
# One crash trial: wait until the cluster is healthy (one primary, two streaming standbys of
# which one synchronous, the frontend routing to the primary), start pgbench, sleep a random
# 3-8 s, then crash the primary's node: SIGKILL every process of it at once (Patroni: its agent
# and its postgres with all children, else Patroni would just restart postgres; Ward: the
# postmaster and its children, Ward has no agent on the node). The instant is read from
# CLOCK_MONOTONIC just before the signals.
#   recovery  from that instant to the end of the first INSERT acknowledged by the probe that
#             started after it (bench/failover_probe.py: one INSERT every 50 ms through the
#             frontend, 1 s client-side connect and statement deadlines, a fresh connection after
#             any error; a commit whose sync-replication wait was cancelled is not an ack).
#   lost      acknowledged ids missing from the new primary once the cluster is healthy again
#             (SELECT through the frontend; only ids newly missing count for the trial).
# Then the crashed node rejoins as a standby of the new primary: Patroni restarts its agent
# (it pg_rewinds by itself); for Ward scripts/pg-rejoin.sh (pg_rewind, standby.signal,
# primary_conninfo and slot) — and the next trial waits for health again.
# One freeze trial: SIGSTOP every process of the primary's node (a frozen VM), 5 s, SIGCONT,
# wait 15 s more, and count it as a false failover if the primary changed.
#
# Output: one Markdown table (system | trials | median recovery | worst | acknowledged writes
# lost | false failovers / freezes) with notes, and trials.csv plus every log (probe JSON lines,
# Patroni, etcd, HAProxy, pgbench, ward) in the run dir /var/tmp/ward-bench/runs/<time>.
# Target (issue 4): Ward's median recovery at most a fifth of default Patroni's, below tuned
# Patroni's, no acknowledged write lost, no false failover for a freeze shorter than the grace.
# Exit 0 (also when ward is skipped for want of features); 2 when the target line says FAIL;
# 1 when a system was aborted (a bounded wait ran out).
#
# Bounded: every wait inside a trial is bounded (recovery 120 s, healing 180 s), the run by
# LIMIT_S. Everything started is stopped at the end, on error and on Ctrl-C (the driver stops
# each system; the trap below is a backstop for its process group and the data dirs).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "failover_vs_patroni.sh: run as root (installs packages, runs PostgreSQL as postgres)" >&2; exit 1; }

trials=20 systems="patroni-default,patroni-tuned,ward" standin=0
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        --trials) trials="${args[$((i + 1))]}" ;;
        --trials=*) trials="${args[$i]#*=}" ;;
        --systems) systems="${args[$((i + 1))]}" ;;
        --systems=*) systems="${args[$i]#*=}" ;;
        --ward-standin) standin=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
    esac
done
nsys=$(awk -F, '{print NF}' <<<"$systems")
limit_s="${LIMIT_S:-$((150 * trials * nsys + 1800))}"

# --- packages (only what is missing) ------------------------------------------------
missing=()
for pkg in patroni python3-etcd etcd-server haproxy postgresql-15 postgresql-contrib python3-psycopg2; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d or not: the packages' own services are not used (and stopped below).
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The Debian packages may start their system-wide services; this bench runs its own on its
# own ports and leaves those alone (it never uses 2379/5432/8008).
command -v pgbench >/dev/null && command -v etcd >/dev/null && command -v haproxy >/dev/null ||
    { echo "pgbench, etcd or haproxy missing after install" >&2; exit 1; }
py=/usr/bin/python3   # Debian's, where python3-psycopg2 is installed (not a pyenv shim)

# --- ward binary (only when ward is measured) -----------------------------------------
ward_bin=""
if [[ ",$systems," == *",ward,"* && $standin == 0 ]]; then
    if [[ -n "${WARD_BIN:-}" ]]; then
        ward_bin="$WARD_BIN"
    else
        target_dir="${CARGO_TARGET_DIR:-$repo/target}"
        if [[ ! -x "$target_dir/release/ward" ]]; then
            echo "building ward (release) into $target_dir ..." >&2
            (cd "$repo" && CARGO_TARGET_DIR="$target_dir" cargo build --release -q -p ward) ||
                echo "ward did not build; the ward system will be skipped" >&2
        fi
        ward_bin="$target_dir/release/ward"
    fi
fi

# --- dirs: postgres must be able to traverse every parent ------------------------------
data_root=/var/tmp/ward-bench
mkdir -p "$data_root/runs"
chmod 0755 "$data_root" "$data_root/runs"
run="$data_root/runs/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run"
chmod 0755 "$run"

driver_pid=""
cleanup() {
    local rc=$?
    if [[ -n "$driver_pid" ]] && kill -0 "$driver_pid" 2>/dev/null; then
        kill -TERM "$driver_pid" 2>/dev/null || true   # the driver stops what it started
        for _ in $(seq 1 600); do kill -0 "$driver_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    if [[ -n "$driver_pid" ]]; then
        # Backstop: the driver's process group (setsid below), i.e. what it started and
        # did not stop (SIGCONT first, in case a node was frozen at that moment).
        kill -CONT -- "-$driver_pid" 2>/dev/null || true
        kill -KILL -- "-$driver_pid" 2>/dev/null || true
        # postgres started by pg_ctl leaves the group: stop any cluster of this bench still up.
        for pid_file in "$data_root"/patroni/pg*/postmaster.pid "$data_root"/ward/pg/*/postmaster.pid; do
            [[ -f "$pid_file" ]] || continue
            pid=$(head -1 "$pid_file")
            kill -CONT "$pid" 2>/dev/null || true
            kill -QUIT "$pid" 2>/dev/null || true
        done
    fi
    # The servers' own logs live in the data dirs: keep a copy with the run's.
    for f in "$data_root"/ward/pg/*.log; do [[ -f "$f" ]] && cp "$f" "$run/pg-ward-$(basename "$f")"; done
    if [[ "${KEEP:-0}" != 1 ]]; then
        rm -rf "$data_root/patroni" "$data_root/ward" "$run"/etcd-* "$run/ward-data"
    fi
    echo "run dir: $run" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# setsid: the driver and its children form one process group the trap can stop.
setsid timeout --signal=TERM --kill-after=60 "$limit_s" \
    "$py" "$here/failover/driver.py" --run-dir "$run" --data-root "$data_root" --repo "$repo" \
    --ward-bin "$ward_bin" --limit-s "$limit_s" "$@" &
driver_pid=$!
set +e
wait "$driver_pid"
rc=$?
set -e
exit "$rc"
