#!/usr/bin/env bash
# A PostgreSQL 15 cluster with each node in its own network namespace, for the
# `ward agent` tests (tests/db/agent_leases.rs). Root only. Addresses are private to
# the namespaces this script creates:
#   bridge wardagbr 10.231.7.1/24 in the root namespace (the controller listens here)
#   wardag1 10.231.7.11 (pg1, primary), wardag2 .12 (pg2), wardag3 .13 (pg3), port 5432
#   synchronous commit to ANY 1 standby; standbys stream from pg1 with a slot each.
# Usage: agent-cluster.sh up DIR | down DIR | cut N | heal N | freeze DIR N | thaw DIR N
#   cut: the node's link goes down on the bridge side: its packets are dropped, no RST.
#   freeze/thaw: SIGSTOP/SIGCONT of the node's postmaster and its children (by pid).
set -euo pipefail
PG_BIN=/usr/lib/postgresql/15/bin
BR=wardagbr
NET=10.231.7
die() { echo "agent-cluster: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (namespaces, and postgres runs as its own user)"
as_pg() { runuser -u postgres -- "$@"; }

down() {
  local dir=$1
  for n in 1 2 3; do
    if [ -f "$dir/pg$n/postmaster.pid" ]; then
      local pid
      pid=$(head -1 "$dir/pg$n/postmaster.pid")
      # A frozen server cannot stop: let it run first.
      kill -CONT "$pid" 2>/dev/null || true
      pgrep -P "$pid" | xargs -r kill -CONT 2>/dev/null || true
      ip netns exec "wardag$n" runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/pg$n" -m immediate -t 20 stop >/dev/null 2>&1 || true
    fi
    ip netns del "wardag$n" 2>/dev/null || true
    ip link del "wardag${n}h" 2>/dev/null || true
  done
  ip link del "$BR" 2>/dev/null || true
  case "$dir" in /var/tmp/ward-test-agent-*) rm -rf "$dir" ;; esac
}

start_node() { # dir, n
  ip netns exec "wardag$2" runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$1/pg$2" -l "$1/sock$2/server.log" -w -t 60 start >/dev/null ||
    { tail -20 "$1/sock$2/server.log" >&2; die "pg$2 did not start"; }
}

psql1() { PGPASSWORD=ward ip netns exec wardag1 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$NET.11" -U postgres -d postgres -tAc "$1"; }

up() {
  local dir=$1
  down "$dir"
  mkdir -p "$dir" && chmod 0755 "$dir"
  ip link add "$BR" type bridge
  ip addr add "$NET.1/24" dev "$BR"
  ip link set "$BR" up
  for n in 1 2 3; do
    ip netns add "wardag$n"
    ip link add "wardag${n}h" type veth peer name eth0 netns "wardag$n"
    ip link set "wardag${n}h" master "$BR" up
    ip -n "wardag$n" addr add "$NET.1$n/24" dev eth0
    ip -n "wardag$n" link set eth0 up
    ip -n "wardag$n" link set lo up
    mkdir -p "$dir/sock$n" "$dir/pg$n" && chown postgres:postgres "$dir/sock$n" "$dir/pg$n" && chmod 0700 "$dir/pg$n"
  done
  local primary="$dir/pg1"
  echo ward >"$dir/pwfile" && chown postgres "$dir/pwfile"
  as_pg "$PG_BIN/initdb" -D "$primary" -U postgres --pwfile="$dir/pwfile" --auth-local=peer --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$dir/pwfile"
  # Private namespaces only, test-only: trust keeps SCRAM (slow in debug builds) out of every probe.
  echo "host replication postgres $NET.0/24 trust" >>"$primary/pg_hba.conf"
  echo "host all postgres $NET.0/24 trust" >>"$primary/pg_hba.conf"
  cat >>"$primary/postgresql.conf" <<EOF
listen_addresses = '*'
port = 5432
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 1s
wal_sender_timeout = 5s
wal_receiver_timeout = 5s
wal_log_hints = on
synchronous_standby_names = 'ANY 1 (*)'
include_if_exists = 'ward-node.conf'
EOF
  echo "unix_socket_directories = '$dir/sock1'" | as_pg tee "$primary/ward-node.conf" >/dev/null
  start_node "$dir" 1
  for n in 2 3; do
    psql1 "SELECT pg_create_physical_replication_slot('pg$n')" >/dev/null
    PGPASSWORD=ward ip netns exec "wardag$n" runuser -u postgres -- "$PG_BIN/pg_basebackup" -D "$dir/pg$n" -R -X stream -S "pg$n" -c fast \
      -d "host=$NET.11 port=5432 user=postgres application_name=pg$n" || die "pg_basebackup for pg$n failed"
    echo "unix_socket_directories = '$dir/sock$n'" | as_pg tee "$dir/pg$n/ward-node.conf" >/dev/null
    start_node "$dir" "$n"
  done
  psql1 "CREATE TABLE acked (id bigint PRIMARY KEY); CREATE TABLE ward_verify (at timestamptz DEFAULT now())"
  # Both standbys streaming, bounded.
  for _ in $(seq 1 60); do
    [ "$(psql1 "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 2 ] && return 0
    sleep 0.5
  done
  die "the standbys do not stream from pg1 within 30 s"
}

signal_node() { # dir, n, signal
  local pid
  pid=$(head -1 "$1/pg$2/postmaster.pid")
  kill "-$3" "$pid"
  pgrep -P "$pid" | xargs -r kill "-$3"
}

case "${1:-}" in
  up) up "$2" ;;
  down) down "$2" ;;
  cut) ip link set "wardag${2}h" down ;;
  heal) ip link set "wardag${2}h" up ;;
  freeze) signal_node "$2" "$3" STOP ;;
  thaw) signal_node "$2" "$3" CONT ;;
  *) die "usage: $0 up DIR | down DIR | cut N | heal N | freeze DIR N | thaw DIR N" ;;
esac
