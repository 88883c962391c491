# A private, throwaway PostgreSQL 15 server for one test (Debian's
# postgresql package). Sourced:
#   . tests/integration/pg_start.sh
#   pg_start "$T/pg" || exit 1     # sets PG_DIR, PG_PORT, PG_CONN
#   ...                            # the router uses db_connection: $PG_CONN
#   pg_stop                        # in the test's cleanup (idempotent)
# or run as a program to try it: `sh pg_start.sh check` starts one, runs a
# query and removes it.
#
# The cluster is created with initdb in its own folder, owned by the
# postgres user (the server refuses to run as root; the tests run as root,
# so it is started through runuser), listens on no TCP address and has its
# unix socket in that folder, under a port number that is free on this
# machine. pg_stop stops it at once (immediate) and removes the folder. The
# system's own cluster is never touched. PG_CONN connects as the superuser
# postgres to the database postgres. Exits the test with 77 (skipped) only
# when PostgreSQL is not installed at all: scripts/setup --test installs it.
PG_DIR=
PG_PORT=
PG_CONN=
PG_BIN=

pg_find_bin() {
    for v in 15 16 17 14 13; do
        if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then
            PG_BIN=/usr/lib/postgresql/$v/bin
            return 0
        fi
    done
    return 1
}

# as_pg <command...>: runs a PostgreSQL program as the postgres user when we
# are root, as ourselves otherwise.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_start() { # $1: a folder that does not exist yet
    if ! pg_find_bin; then
        echo "SKIP: PostgreSQL is not installed (scripts/setup --test installs it)"
        exit 77
    fi
    PG_DIR=$1
    mkdir -p "$PG_DIR" || return 1
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$PG_DIR" || return 1
        # the postgres user must reach the folder through its parents
        d=$(dirname "$PG_DIR")
        while [ "$d" != / ]; do
            chmod o+x "$d" 2>/dev/null
            d=$(dirname "$d")
        done
    fi
    PG_PORT=$(pg_free_port) || return 1
    if ! as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --no-sync \
        >"$PG_DIR/initdb.log" 2>&1; then
        cat "$PG_DIR/initdb.log"
        echo "FAIL: initdb"
        return 1
    fi
    if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 120 \
        -o "-c listen_addresses='' -k $PG_DIR -p $PG_PORT -c fsync=off" start >"$PG_DIR/pg_ctl.log" 2>&1; then
        cat "$PG_DIR/pg_ctl.log" "$PG_DIR/server.log" 2>/dev/null
        echo "FAIL: the PostgreSQL server did not start"
        return 1
    fi
    PG_CONN="postgresql://postgres@/postgres?host=$PG_DIR&port=$PG_PORT"
    export PG_DIR PG_PORT PG_CONN
    return 0
}

# psql on the test's server: pg_psql -c 'SELECT 1'
pg_psql() {
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres -d postgres "$@"
}

pg_stop() {
    [ -n "$PG_DIR" ] || return 0
    if [ -f "$PG_DIR/data/postmaster.pid" ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
    fi
    rm -rf "$PG_DIR"
    PG_DIR=
}

if [ "${1:-}" = check ]; then
    set -u
    tmp=$(mktemp -d /tmp/sx_pg_check.XXXXXX) || exit 1
    trap 'pg_stop; rm -rf "$tmp"' EXIT
    pg_start "$tmp/pg" || exit 1
    pg_psql -t -c 'SELECT version()' || exit 1
    echo "PG_CONN=$PG_CONN"
fi
