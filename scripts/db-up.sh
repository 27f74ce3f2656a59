#!/usr/bin/env bash
# Starts the real databases Ward's database tests run against (issue 4), idempotently:
#   PostgreSQL 15: primary 127.0.0.1:15432, streaming standbys 15433 and 15434
#                  (pg_basebackup -R, one physical slot each)
#   MariaDB:       primary 127.0.0.1:13306, GTID replica 13307
# Run as root, without interaction (CI runs it on a fresh Debian 12). Installs the Debian
# packages only if missing; the servers run as the postgres / mysql users under
# $WARD_DB_DIR (default target/db). A second run on a running setup changes nothing.
# Env: WARD_DB_DIR; WARD_PG_PORT (default 15432; standbys +1, +2); WARD_MY_PORT (13306; replica +1);
#      WARD_DB_ONLY=pg (no MariaDB); WARD_PG_SYNC_STANDBYS (synchronous_standby_names, default '' = async,
#      e.g. 'FIRST 1 (standby1, standby2)'; applied on every run). Stop everything with scripts/db-down.sh.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "db-up.sh: run as root (it installs packages and switches users)" >&2; exit 1; }
source "$(dirname "$0")/db-env.sh"
started=$SECONDS

# --- packages ---------------------------------------------------------------------
missing=()
[ -x "$PG_BIN/pg_ctl" ] || missing+=(postgresql-15)
[ "${WARD_DB_ONLY:-}" = pg ] || command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "db: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export PATH="/usr/sbin:$PATH"

# The users must be able to reach their directories: every ancestor needs o+x.
chmod 0755 "$WARD_DB_DIR"
mkdir -p "$PG_DIR" "$MY_DIR"
chown postgres:postgres "$PG_DIR" && chmod 0700 "$PG_DIR"
chown mysql:mysql "$MY_DIR" && chmod 0750 "$MY_DIR"
as_pg test -w "$PG_DIR" && as_my test -w "$MY_DIR" ||
  die "$WARD_DB_DIR is not reachable by the postgres/mysql users (a parent without o+x?); set WARD_DB_DIR, e.g. /var/tmp/ward-db"

# --- PostgreSQL ---------------------------------------------------------------------
pg_start() { # data dir, name, port
  # "Running" is not enough: a postmaster just killed may still look alive (until it is
  # reaped), one just started may not accept connections yet. Wait, bounded, for either.
  for _ in $(seq 1 120); do
    if ! pg_running "$1"; then
      # -w: wait until it accepts connections (a hot standby too), bounded by -t.
      as_pg "$PG_BIN/pg_ctl" -D "$1" -l "$PG_DIR/$2.log" -w -t 60 start >/dev/null && return 0
      tail -20 "$PG_DIR/$2.log" >&2
      die "postgres $2 did not start"
    fi
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$3" -t 1 && return 0
    sleep 0.5
  done
  die "postgres $2 is running but did not accept connections on $3 within 60 s"
}
pg_psql() { PGPASSWORD=$PG_PASSWORD as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -tAc "$2"; }

primary="$PG_DIR/primary"
if [ ! -f "$primary/PG_VERSION" ]; then
  rm -rf "$primary"
  echo "$PG_PASSWORD" >"$PG_DIR/pwfile" && chown postgres "$PG_DIR/pwfile"
  as_pg "$PG_BIN/initdb" -D "$primary" -U postgres --pwfile="$PG_DIR/pwfile" \
    --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$PG_DIR/pwfile"
  # Replication connections are a separate pg_hba database; initdb only allows them for local.
  echo "host replication postgres 127.0.0.1/32 scram-sha-256" >>"$primary/pg_hba.conf"
  # Copied to the standbys by pg_basebackup; each node's own port lives in ward-node.conf.
  cat >>"$primary/postgresql.conf" <<EOF
# --- ward test cluster (scripts/db-up.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_DIR'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
hot_standby_feedback = on
# Fast feedback and reconnection: tests break and repair replication within seconds.
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 1s
wal_sender_timeout = 10s
wal_receiver_timeout = 10s
fsync = on
# pg_rewind needs it to re-attach a fenced or failed primary as a standby.
wal_log_hints = on
include_if_exists = 'ward-node.conf'
EOF
  echo "port = $PG_PRIMARY_PORT" | as_pg tee "$primary/ward-node.conf" >/dev/null
fi
pg_start "$primary" primary "$PG_PRIMARY_PORT"
pg_psql "$PG_PRIMARY_PORT" "ALTER SYSTEM SET synchronous_standby_names = '${WARD_PG_SYNC_STANDBYS:-}'"
pg_psql "$PG_PRIMARY_PORT" "SELECT pg_reload_conf()" >/dev/null

for i in 1 2; do
  name="standby$i" port=${PG_STANDBY_PORTS[$((i - 1))]} dir="$PG_DIR/standby$i"
  pg_psql "$PG_PRIMARY_PORT" "SELECT pg_create_physical_replication_slot('$name') WHERE NOT EXISTS
    (SELECT 1 FROM pg_replication_slots WHERE slot_name = '$name');" >/dev/null
  if [ ! -f "$dir/PG_VERSION" ]; then
    rm -rf "$dir"
    # -R writes primary_conninfo (with application_name, the name synchronous_standby_names uses).
    PGPASSWORD=$PG_PASSWORD as_pg "$PG_BIN/pg_basebackup" -D "$dir" -R -X stream -S "$name" -c fast \
      -d "host=127.0.0.1 port=$PG_PRIMARY_PORT user=postgres application_name=$name" ||
      die "pg_basebackup for $name failed"
    echo "port = $port" | as_pg tee "$dir/ward-node.conf" >/dev/null
  fi
  pg_start "$dir" "$name" "$port"
done

# --- MariaDB ------------------------------------------------------------------------
[ "${WARD_DB_ONLY:-}" = pg ] && { echo "db up (PostgreSQL only): $WARD_DB_DIR in $((SECONDS - started)) s"; exit 0; }
my_start() { # name, port, server id, extra options...
  local name=$1 port=$2 id=$3
  my_running "$name" && return 0
  if [ ! -d "$MY_DIR/$name/mysql" ]; then
    rm -rf "${MY_DIR:?}/$name"
    # normal root auth: root@localhost without a password, reachable only through the socket.
    as_my mariadb-install-db --no-defaults --datadir="$MY_DIR/$name" --auth-root-authentication-method=normal \
      --skip-test-db >"$MY_DIR/$name-install.log" 2>&1 || { cat "$MY_DIR/$name-install.log" >&2; die "mariadb-install-db $name failed"; }
  fi
  # --no-defaults: nothing from /etc/mysql; mariadbd itself (not mysqld_safe) so that a
  # killed server stays dead, as a test expects; setsid -f detaches it from this script.
  as_my setsid -f mariadbd --no-defaults --datadir="$MY_DIR/$name" --port="$port" --bind-address=127.0.0.1 \
    --socket="$MY_DIR/$name.sock" --pid-file="$MY_DIR/$name.pid" --log-error="$MY_DIR/$name.err" \
    --server-id="$id" --log-bin="$MY_DIR/$name/binlog" --log-slave-updates --gtid-strict-mode=ON \
    --skip-name-resolve --innodb-buffer-pool-size=32M "${@:4}" </dev/null >/dev/null 2>&1
  for _ in $(seq 1 120); do # up to 60 s
    my_running "$name" && return 0
    sleep 0.5
  done
  tail -20 "$MY_DIR/$name.err" >&2
  die "mariadb $name did not accept connections within 60 s"
}

my_start primary "$MY_PRIMARY_PORT" 1
# The users are created on the primary only and reach the replica through replication
# (creating them on both would stop the replica's SQL thread with a duplicate-user error).
my_sql primary "CREATE USER IF NOT EXISTS 'ward'@'%' IDENTIFIED BY '$MY_PASSWORD';
  GRANT ALL ON *.* TO 'ward'@'%' WITH GRANT OPTION;
  CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY '$MY_PASSWORD';
  GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
  CREATE DATABASE IF NOT EXISTS ward;"

my_start replica "$MY_REPLICA_PORT" 2 --read-only=ON
if [ -z "$(my_sql replica "SHOW SLAVE STATUS")" ]; then
  my_sql replica "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$MY_PRIMARY_PORT,
    MASTER_USER='repl', MASTER_PASSWORD='$MY_PASSWORD', MASTER_USE_GTID=slave_pos,
    MASTER_CONNECT_RETRY=1; START SLAVE;"
fi

echo "db up in $((SECONDS - started)) s: postgres primary 127.0.0.1:$PG_PRIMARY_PORT standbys ${PG_STANDBY_PORTS[*]}" \
  "(user postgres/$PG_PASSWORD); mariadb primary 127.0.0.1:$MY_PRIMARY_PORT replica $MY_REPLICA_PORT (user ward/$MY_PASSWORD); dir $WARD_DB_DIR"
