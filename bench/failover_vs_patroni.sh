#!/usr/bin/env bash
# bench/failover_vs_patroni.sh — Ward against Patroni on the same PostgreSQL failovers.
#
# Usage (as root, on Debian 12; installs what it needs):
#   bash bench/failover_vs_patroni.sh [--systems patroni-tuned,ward] [--cases crash-pg,crash-node,unreachable,freeze]
#        [--trials N] [--seed N] [--rate TPS] [--clients N] [--freeze-s S] [--unreachable-s S]
#        (any option of bench/failover/driver.py; systems: ward, patroni-tuned, patroni-default)
#   WARD_BIN=path  the ward binary (default: target/release/ward, built with cargo if missing; only for ward)
#   KEEP=1         keep the data dirs under /var/tmp/ward-bench (the run dir with logs and CSV is always kept)
#   LIMIT_S=N      kill the whole run after N seconds (default: 240 s per trial per case per system + 1800)
#
# The same topology for every system: a PostgreSQL 15 primary and two streaming standbys,
# synchronous replication (a commit waits for one standby), each node in its own network
# namespace (bench/failover/netns.py: bridge wbnbr 10.232.9.1/24, nodes wbn1..wbn3 at
# 10.232.9.11-13, PostgreSQL on 5432 in each), one HAProxy frontend in the root namespace,
# a pgbench write load (-c 2 -R 200) through it, one shared client probe.
#   patroni-tuned    Patroni 3.0.2 (Debian) at the fastest settings its documentation allows:
#                    ttl 20, loop_wait 1, retry_timeout 3; single-node etcd 3.4 (v2 API) on the
#                    bridge; synchronous_mode + strict; use_pg_rewind; its agent in the node's
#                    namespace; HAProxy OPTIONS /primary on its REST API, inter 500ms fall 2 rise 1.
#   patroni-default  the same at Patroni's defaults (ttl 30, loop_wait 10, retry_timeout 10;
#                    HAProxy inter 3s fall 3 rise 2).
#   ward             `ward run` on the bridge with bench/failover/ward.toml (postgres check every
#                    250 ms; postgres and haproxy hooks), `ward agent` in each node's namespace
#                    (lease 5 s, renewed every 1 s, margin 2 s); HAProxy without checks, Ward sets
#                    its servers ready/maint through the runtime API socket.
#
# Cases, each --trials times per system (after 3-8 s of load, on the current primary's node):
#   crash-pg     SIGKILL of PostgreSQL (postmaster and children); the host and its agent stay
#                (Patroni's own fast path: its agent restarts postgres or hands over).
#   crash-node   SIGKILL of every process of the node, its agent included.
#   unreachable  the node's link is cut for --unreachable-s (90 s): its packets are dropped, no
#                RST, no answer, its agent cut off too; then healed and the node rejoins.
#   freeze       SIGSTOP of every process of the node for --freeze-s (5 s), then SIGCONT. Writes
#                count from the freeze's start. Each system has a grace: a freeze within it must
#                not move the primary (a move is a "false failover"); beyond it a move is allowed
#                and reported as a failover (Ward: lease + margin - renew_every = 6 s, the earliest
#                its lease can count as run out; Patroni: ttl - loop_wait, 19 s tuned).
# Measured per trial, from the instant the fault starts (CLOCK_MONOTONIC):
#   recovery     until the end of the first INSERT acknowledged through HAProxy among those the
#                probe STARTED after the fault (bench/failover_probe.py: a new attempt every 50 ms,
#                overlapping, each on its own connection with 1 s deadlines; a commit whose
#                sync-replication wait was cancelled is not an ack): resolution 50 ms.
#   lost         acknowledged ids missing from the primary once the cluster is healthy again.
#   two writers  ms during which at least two servers answered, from the front end's namespace,
#                as writable primaries (not in recovery, transaction_read_only off), sampled
#                every 50 ms per node (a cut-off or frozen node does not answer: not counted).
# Then the old primary rejoins as a standby of the new one (Patroni: its agent does it;
# Ward: pg_rewind, or pg_basebackup when that fails, inside its namespace) before the next.
#
# Output: one Markdown table (system | case | trials | median | worst | writes lost | two-writer
# ms | primary changed | false failovers), target lines (unreachable primary: Ward's writes back
# within lease + margin + --promotion-s (3 s) in every trial, and its median at most 1/2 of
# tuned Patroni's; 0 acknowledged writes lost; 0 ms with two writable primaries reachable
# through the front end; no false failover from a freeze), trials.csv and every log in the
# run dir /var/tmp/ward-bench/runs/<time>. A system that was skipped or aborted never passes.
# Exit 0 when every target passes; 2 when one fails; 1 when a system was aborted.
#
# Bounded: every wait inside a trial is bounded (recovery 120 s, healing 180 s), the run by
# LIMIT_S. Everything started is stopped at the end, on error and on Ctrl-C (the driver stops
# each system and removes its namespaces; the trap below is a backstop).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "failover_vs_patroni.sh: run as root (installs packages, runs PostgreSQL as postgres)" >&2; exit 1; }

trials=5 systems="patroni-tuned,ward" cases=4
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        --trials) trials="${args[$((i + 1))]}" ;;
        --trials=*) trials="${args[$i]#*=}" ;;
        --systems) systems="${args[$((i + 1))]}" ;;
        --systems=*) systems="${args[$i]#*=}" ;;
        --cases) cases=$(awk -F, '{print NF}' <<<"${args[$((i + 1))]}") ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
    esac
done
nsys=$(awk -F, '{print NF}' <<<"$systems")
limit_s="${LIMIT_S:-$((240 * trials * cases * nsys + 1800))}"

# --- packages (only what is missing) ------------------------------------------------
missing=()
for pkg in patroni python3-etcd etcd-server haproxy postgresql-15 postgresql-contrib python3-psycopg2 iproute2; do
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
if [[ ",$systems," == *",ward,"* ]]; then
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
        for pid_file in "$data_root"/patroni/pg*/postmaster.pid "$data_root"/ward/pg*/postmaster.pid; do
            [[ -f "$pid_file" ]] || continue
            pid=$(head -1 "$pid_file")
            kill -CONT "$pid" 2>/dev/null || true
            kill -QUIT "$pid" 2>/dev/null || true
        done
    fi
    # The bench's namespaces and bridge (the driver removes them; this is the backstop).
    for n in 1 2 3; do ip netns del "wbn$n" 2>/dev/null || true; ip link del "wbn${n}h" 2>/dev/null || true; done
    ip link del wbnbr 2>/dev/null || true
    # The servers' own logs live beside the data dirs: keep a copy with the run's.
    for f in "$data_root"/ward/pg*.log; do [[ -f "$f" ]] && cp "$f" "$run/pg-ward-$(basename "$f")"; done
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
