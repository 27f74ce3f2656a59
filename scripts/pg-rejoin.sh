#!/usr/bin/env bash
# Re-attaches a failed or fenced PostgreSQL 15 primary of the test cluster (scripts/db-up.sh)
# as a streaming standby of the new primary:
#   scripts/pg-rejoin.sh DATA_DIR NEW_PRIMARY_PORT [APPLICATION_NAME]
# Run as root (the server runs as postgres). APPLICATION_NAME defaults to the data dir's
# name (primary, standby1, standby2: the names synchronous_standby_names lists); the
# replication slot on the new primary has the same name and is created if missing.
# Steps: stop the server if it still runs (fast, else immediate); pg_rewind it against the
# new primary (PostgreSQL 13+ first runs crash recovery in single-user mode when it was
# killed; needs wal_log_hints = on, which db-up.sh sets; "no rewind required" is fine);
# if pg_rewind fails, a fresh pg_basebackup instead; then primary_conninfo and
# primary_slot_name in postgresql.auto.conf, standby.signal, start, and wait (bounded)
# until it streams from the new primary. Env as db-up.sh (WARD_DB_DIR, for the log).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "pg-rejoin.sh: run as root" >&2; exit 1; }
[ $# -ge 2 ] || { echo "usage: $0 DATA_DIR NEW_PRIMARY_PORT [APPLICATION_NAME]" >&2; exit 2; }
source "$(dirname "$0")/db-env.sh"
dir="$(cd "$1" && pwd)" new_port=$2 app=${3:-$(basename "$1")}
[ -f "$dir/PG_VERSION" ] || die "$dir is not a PostgreSQL data directory"
log="$(dirname "$dir")/$(basename "$dir").log"
touch "$log" && chown postgres:postgres "$log"
started=$SECONDS
src="host=127.0.0.1 port=$new_port user=postgres dbname=postgres password=$PG_PASSWORD connect_timeout=5"
psql_new() { as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$src" -tAc "$1"; }

# The new primary must be a primary, or we would follow a standby (or nothing).
[ "$(psql_new "SELECT pg_is_in_recovery()")" = f ] || die "127.0.0.1:$new_port is not a primary"

# 1. Down. A killed postmaster leaves postmaster.pid behind, and for a moment a zombie that
# pg_ctl status still counts as running: look at the process itself.
postmaster_alive() {
  local pid
  pid=$(head -1 "$dir/postmaster.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}
if postmaster_alive; then
  as_pg "$PG_BIN/pg_ctl" -D "$dir" -m fast -w -t 20 stop >/dev/null 2>&1 ||
    as_pg "$PG_BIN/pg_ctl" -D "$dir" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
fi
for _ in $(seq 1 40); do postmaster_alive || break; sleep 0.25; done
postmaster_alive && die "could not stop the server in $dir"
# The PID is gone, or a zombie nobody has reaped yet (seen here: PID 1 reaps late).
pid_dead_or_zombie() {
  [ -n "$1" ] || return 0
  [ -r "/proc/$1/stat" ] || return 0
  [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
# Give a late reaper a moment (bounded): a reaped PID is the clean case.
old_pid=$(head -1 "$dir/postmaster.pid" 2>/dev/null || true)
for _ in $(seq 1 20); do [ -z "$old_pid" ] || [ ! -e "/proc/$old_pid" ] && break; sleep 0.25; done
# A dead postmaster's lock files make the next postgres (pg_rewind's single-user crash
# recovery, then the server) refuse to start for as long as the PID exists, and an
# unreaped zombie does: the data directory's postmaster.pid and the socket lock file
# `.s.PGSQL.<port>.lock` in the socket directory. Each is removed only when the PID it
# names is dead or a zombie, never a live server's.
remove_stale_lock() {
  [ -f "$1" ] || return 0
  local pid
  pid=$(head -1 "$1" 2>/dev/null | tr -d ' ')
  if pid_dead_or_zombie "$pid"; then
    rm -f "$1"
  else
    die "$1 names process $pid, which is alive: not removing it"
  fi
}
remove_stale_lock "$dir/postmaster.pid"
port=$(sed -n 's/^[[:space:]]*port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$dir/ward-node.conf" 2>/dev/null | tail -1)
sockdir=$(sed -n "s/^[[:space:]]*unix_socket_directories[[:space:]]*=[[:space:]]*'\([^',]*\).*/\1/p" "$dir/postgresql.conf" "$dir/postgresql.auto.conf" 2>/dev/null | tail -1)
if [ -n "$port" ]; then
  for d in "${sockdir:-}" "$(dirname "$dir")" /var/run/postgresql /tmp; do
    [ -n "$d" ] && remove_stale_lock "$d/.s.PGSQL.$port.lock"
  done
fi

# A just-promoted server writes its new timeline to pg_control only at its next checkpoint;
# until then pg_rewind sees one timeline, says "no rewind required", and the old primary,
# ahead on the old timeline, can never stream. Patroni checkpoints after promoting for the
# same reason.
psql_new "CHECKPOINT" >/dev/null

# 2. Rewind (or re-clone). Both copy the source's configuration files over this node's,
# ward-node.conf (this node's port) included: keep ours and put it back.
keep=$(mktemp -d)
cp -p "$dir/ward-node.conf" "$keep/" 2>/dev/null || true
if ! as_pg "$PG_BIN/pg_rewind" -D "$dir" --source-server="$src" >>"$log" 2>&1; then
  echo "pg-rejoin: pg_rewind failed for $dir (see $log); cloning it again with pg_basebackup" >&2
  rm -rf "$dir"
  as_pg "$PG_BIN/pg_basebackup" -D "$dir" -X stream -c fast -d "$src" || die "pg_basebackup for $dir failed"
fi
if [ -f "$keep/ward-node.conf" ]; then
  cp -p "$keep/ward-node.conf" "$dir/ward-node.conf"
fi
rm -rf "$keep"

# 3. Follow the new primary through its own slot.
psql_new "SELECT pg_create_physical_replication_slot('$app') WHERE NOT EXISTS
  (SELECT 1 FROM pg_replication_slots WHERE slot_name = '$app')" >/dev/null
auto="$dir/postgresql.auto.conf"
touch "$auto"
grep -v -E "^[[:space:]]*(primary_conninfo|primary_slot_name)[[:space:]]*=" "$auto" >"$auto.new" || true
cat >>"$auto.new" <<EOF
primary_conninfo = 'host=127.0.0.1 port=$new_port user=postgres password=$PG_PASSWORD application_name=$app'
primary_slot_name = '$app'
EOF
mv "$auto.new" "$auto"
chown postgres:postgres "$auto" && chmod 0600 "$auto"
as_pg touch "$dir/standby.signal"
as_pg "$PG_BIN/pg_ctl" -D "$dir" -l "$log" -w -t 60 start >/dev/null || { tail -20 "$log" >&2; die "$dir did not start"; }

# 4. Streaming from the new primary, within 60 s.
for _ in $(seq 1 120); do
  state=$(psql_new "SELECT state FROM pg_stat_replication WHERE application_name = '$app'" 2>/dev/null || true)
  if [ "$state" = streaming ]; then
    echo "pg-rejoin: $(basename "$dir") streams from 127.0.0.1:$new_port as $app ($((SECONDS - started)) s)"
    exit 0
  fi
  sleep 0.5
done
die "$dir started but does not stream from 127.0.0.1:$new_port within 60 s"
