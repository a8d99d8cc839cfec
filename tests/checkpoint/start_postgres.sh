#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the checkpoint tests and print its URL.
#
#   export STEPGRAPH_TEST_POSTGRES_URL="$(tests/checkpoint/start_postgres.sh)"
#   tests/checkpoint/start_postgres.sh stop
#
# Installs the Debian `postgresql` package when no server binaries are found (needs root
# and apt-get). The cluster lives in $STEPGRAPH_PGDATA (default /tmp/stepgraph-pgdata),
# listens on 127.0.0.1:$STEPGRAPH_PGPORT (default 54329) and trusts local connections:
# never use it for anything but tests. Only the URL goes to stdout; progress goes to stderr.
set -euo pipefail

PGDATA_DIR="${STEPGRAPH_PGDATA:-/tmp/stepgraph-pgdata}"
PORT="${STEPGRAPH_PGPORT:-54329}"
DB="${STEPGRAPH_PGDATABASE:-stepgraph_test}"
SOCKDIR="$PGDATA_DIR.sock"
LOG="$PGDATA_DIR.log"

log() { echo "start_postgres: $*" >&2; }

find_bindir() {
    local d
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    while IFS= read -r d; do
        if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then
            echo "$d"
            return 0
        fi
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
    return 1
}

BINDIR="$(find_bindir || true)"
if [ -z "$BINDIR" ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "no PostgreSQL server binaries found; install PostgreSQL (apt-get install postgresql) and retry"
        exit 1
    fi
    log "installing postgresql with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BINDIR="$(find_bindir)"
fi

# initdb and postgres refuse to run as root: run them as the `postgres` user then.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            useradd --system --no-create-home --shell /usr/sbin/nologin postgres
        fi
        # runuser keeps this script's environment minimal and needs no password.
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [ "${1:-start}" = "stop" ]; then
    if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
        as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >&2
    fi
    exit 0
fi

if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    log "creating cluster in $PGDATA_DIR"
    mkdir -p "$PGDATA_DIR" "$SOCKDIR"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$PGDATA_DIR" "$SOCKDIR"
        touch "$LOG" && chown postgres "$LOG"
    fi
    chmod 700 "$PGDATA_DIR"
    as_owner "$BINDIR/initdb" -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 --no-sync >&2
fi

if ! as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    log "starting server on 127.0.0.1:$PORT"
    as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$LOG" -w -t 60 \
        -o "-p $PORT -k $SOCKDIR -c listen_addresses=127.0.0.1 -c max_connections=300" start >&2
fi

if ! as_owner "$BINDIR/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    as_owner "$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB" >&2
fi

echo "postgresql://postgres@127.0.0.1:$PORT/$DB"
