# Shared by db-up.sh and db-down.sh (sourced, not run): where the test databases live
# and which ports they use. Loopback only; never the system clusters' ports (5432, 3306).

WARD_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Whether every directory from / to $1 lets other users through (o+x): the servers run
# as postgres and mysql, not as the owner of the checkout.
others_can_enter() {
  local dir=$1
  while [ "$dir" != / ]; do
    [ $(("$(stat -c %a "$dir")" % 10 & 1)) = 1 ] || return 1
    dir=$(dirname "$dir")
  done
}
if [ -z "${WARD_DB_DIR:-}" ]; then
  WARD_DB_DIR="$WARD_REPO/target/db"
  # A checkout under a private home (/root is 0700): the servers could not reach it.
  others_can_enter "$WARD_REPO" || WARD_DB_DIR="/var/tmp/ward-db-$(printf %s "$WARD_REPO" | sha256sum | cut -c1-12)"
fi
mkdir -p "$WARD_DB_DIR"
WARD_DB_DIR="$(cd "$WARD_DB_DIR" && pwd)"

PG_BIN=/usr/lib/postgresql/15/bin
# A second, separate cluster (a destructive test, a benchmark) sets WARD_DB_DIR and
# WARD_PG_PORT (its standbys take the next two ports) and WARD_DB_ONLY=pg.
PG_PRIMARY_PORT=${WARD_PG_PORT:-15432}
PG_STANDBY_PORTS=($((PG_PRIMARY_PORT + 1)) $((PG_PRIMARY_PORT + 2)))
# Test-only credentials: the servers listen on 127.0.0.1 only.
PG_PASSWORD=ward
MY_PRIMARY_PORT=${WARD_MY_PORT:-13306}
MY_REPLICA_PORT=$((MY_PRIMARY_PORT + 1))
MY_PASSWORD=ward

PG_DIR="$WARD_DB_DIR/pg"
MY_DIR="$WARD_DB_DIR/mariadb"

die() { echo "db: $*" >&2; exit 1; }

# Runs a command as the database's own unprivileged user.
as_pg() { runuser -u postgres -- "$@"; }
as_my() { runuser -u mysql -- "$@"; }

pg_running() { [ -f "$1/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

# mariadb-admin over the server's own socket as root (no password: the socket is only
# reachable by root and the mysql user through the 0750 data directory's parent).
my_admin() { mariadb-admin --no-defaults --connect-timeout=2 -uroot --socket="$MY_DIR/$1.sock" "${@:2}"; }
my_sql() { mariadb --no-defaults -uroot --socket="$MY_DIR/$1.sock" -N -B -e "$2"; }
my_running() { [ -S "$MY_DIR/$1.sock" ] && my_admin "$1" ping >/dev/null 2>&1; }
