#!/usr/bin/env bash
# Stops the test databases scripts/db-up.sh started (their data stays in $WARD_DB_DIR,
# so the next db-up.sh starts them again quickly). Safe to run twice, or with nothing up.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "db-down.sh: run as root" >&2; exit 1; }
source "$(dirname "$0")/db-env.sh"

for name in standby2 standby1 primary; do
  dir="$PG_DIR/$name"
  if pg_running "$dir"; then
    as_pg "$PG_BIN/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null && echo "db: postgres $name stopped"
  fi
done

for name in replica primary; do
  if my_running "$name"; then
    my_admin "$name" shutdown && echo "db: mariadb $name stopped"
  elif [ -f "$MY_DIR/$name.pid" ] && kill -0 "$(cat "$MY_DIR/$name.pid")" 2>/dev/null; then
    # Running but not answering on its socket: ask it to stop the way the server's own init does.
    kill -TERM "$(cat "$MY_DIR/$name.pid")" && echo "db: mariadb $name sent SIGTERM"
  fi
done
# mariadb-admin shutdown returns once the server has accepted the request: wait (bounded)
# until the processes are gone so that a db-up.sh right after starts cleanly.
for _ in $(seq 1 60); do
  alive=0
  for name in replica primary; do
    [ -f "$MY_DIR/$name.pid" ] && kill -0 "$(cat "$MY_DIR/$name.pid")" 2>/dev/null && alive=1
  done
  [ $alive = 0 ] && break
  sleep 0.5
done
echo "db down: $WARD_DB_DIR"
