#!/bin/sh
# Start-up time and router memory with N queues on each queue store, in one
# run: the real smp-server started on the same N queues (random, a third
# with a notifier; bench_gen_queues) with
#   memory   store log + messages in memory (the baseline),
#   journal  store log + store_messages: journal,
#   database store_queues: database (imported with `smp-server database
#            import --table queues` into a private PostgreSQL server,
#            tests/integration/pg_start.sh) + store_messages: database.
# For each: seconds from exec to "Serving SMP protocol" (queues loaded,
# ports bound) and the router's VmRSS then, with bytes per queue over the
# same router with no queue. Figures, not a test.
# Usage: bench/store_start.sh [N] [BUILD_DIR]   (N: 100000; 1000000 for --large)
set -u
N=${1:-100000}
[ "$N" = --large ] && N=1000000
BUILD=${2:-$(dirname "$0")/../build}
BUILD=$(cd "$BUILD" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SERVER=$BUILD/apps/smp-server
GEN=$BUILD/bench/bench_gen_queues
[ -x "$SERVER" ] && [ -x "$GEN" ] || { echo "build smp-server and bench_gen_queues first ($BUILD)"; exit 1; }
T=$(mktemp -d /tmp/sx_bench_start.XXXXXX) || exit 1
PID=
. "$HERE/../tests/integration/pg_start.sh"
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    pg_stop
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# one router folder per store, all from the same init
export SMP_SERVER_CFG_PATH="$T/etc" SMP_SERVER_LOG_PATH="$T/var"
"$SERVER" init -y --disable-web --ip 127.0.0.1 >/dev/null 2>&1 || { echo "init failed"; exit 1; }
INI=$T/etc/smp-server.ini
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s/^port: .*/port: $PORT/; s/^host: .*/host: 127.0.0.1/" "$INI"
cp "$INI" "$T/ini.base"
printf 'generating %s queues... ' "$N"
t0=$(now_ms)
"$GEN" "$N" "$T/queues.log" || exit 1
echo "$(($(now_ms) - t0)) ms ($(du -h "$T/queues.log" | cut -f1) store log)"

# start_measure NAME: starts the router, waits for its Serving line, prints
# the time and VmRSS, stops it (SIGINT) and prints the stop time.
start_measure() {
    : >"$T/out.log" # emptied here: the child's own redirection may come after the first grep
    t0=$(now_ms)
    "$SERVER" start >>"$T/out.log" 2>&1 &
    PID=$!
    while ! grep -q "Serving SMP protocol" "$T/out.log"; do
        kill -0 "$PID" 2>/dev/null || { cat "$T/out.log"; echo "$1: the router exited"; PID=; return 1; }
        sleep 0.02
    done
    ms=$(($(now_ms) - t0))
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$PID/status")
    # what the router says it loaded, beside the figures
    loaded=$(grep -Eo "(Store log: [0-9]+ queues restored|Database: [0-9]+ queues)" "$T/out.log" | head -n 1)
    t1=$(now_ms)
    kill -TERM "$PID" # (a background job of a script ignores SIGINT)
    wait "$PID" 2>/dev/null
    PID=
    stop=$(($(now_ms) - t1))
    eval "MS_$1=$ms RSS_$1=$rss STOP_$1=$stop"
    case $1 in *_0) ;; *) echo "$1: ${loaded:-(no count printed)}" ;; esac
}

setup_store() { # NAME: the INI and files of that store, with or without the queues ($2: 0 or N)
    cp "$T/ini.base" "$INI"
    rm -rf "$T/var"
    mkdir -p "$T/var"
    case $1 in
    memory) [ "$2" = 0 ] || cp "$T/queues.log" "$T/var/smp-server-store.log" ;;
    journal)
        sed -i 's/^store_messages: .*/store_messages: journal/' "$INI"
        [ "$2" = 0 ] || cp "$T/queues.log" "$T/var/smp-server-store.log"
        ;;
    database)
        CONN_SED=$(printf '%s' "$PG_CONN" | sed 's/[&|\\]/\\&/g')
        sed -i "s/^store_queues: .*/store_queues: database/; s/^store_messages: .*/store_messages: database/;
                s|^#* *db_connection: .*|db_connection: $CONN_SED|" "$INI"
        pg_psql -c 'DROP SCHEMA IF EXISTS smp_server CASCADE' >/dev/null 2>&1
        if [ "$2" = 0 ]; then
            pg_psql -c 'CREATE SCHEMA smp_server' >/dev/null || return 1
        else
            cp "$T/queues.log" "$T/var/smp-server-store.log"
            t0=$(now_ms)
            echo y | "$SERVER" database import --table queues -d "$PG_CONN" >"$T/import.log" 2>&1 ||
                { cat "$T/import.log"; return 1; }
            IMPORT_MS=$(($(now_ms) - t0))
            rm -f "$T/var/smp-server-store.log.bak"
        fi
        ;;
    esac
}

pg_start "$T/pg" >/dev/null || exit 1
IMPORT_MS=0
for s in memory journal database; do
    setup_store "$s" 0 || exit 1
    start_measure "${s}_0" || exit 1
    setup_store "$s" "$N" || exit 1
    start_measure "$s" || exit 1
done

echo
echo "smp-server start with $N queues ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)):"
printf '%-10s %12s %12s %14s %14s %10s\n' store "start (s)" "empty (s)" "VmRSS (MiB)" "B/queue" "stop (s)"
for s in memory journal database; do
    eval "ms=\$MS_$s rss=\$RSS_$s e=\$MS_${s}_0 rss0=\$RSS_${s}_0 stop=\$STOP_$s"
    awk -v s="$s" -v ms="$ms" -v e="$e" -v rss="$rss" -v rss0="$rss0" -v n="$N" -v stop="$stop" 'BEGIN {
        printf "%-10s %12.2f %12.2f %14.1f %14.0f %10.2f\n", s, ms / 1000, e / 1000, rss / 1024, (rss - rss0) * 1024 / n, stop / 1000 }'
done
echo "baseline: memory (the store log); database import of the store log took $(awk -v m="$IMPORT_MS" 'BEGIN { printf "%.2f", m / 1000 }') s"
