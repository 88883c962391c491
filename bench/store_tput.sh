#!/bin/sh
# Message throughput of the SMP router on each message store, side by side
# in one run: bench_router's throughput phase (SEND, MSG, ACK through the
# real smp-server; 8 senders and 8 receivers over 128 queues, ~100 B and
# 16048 B bodies) on a fresh router with
#   memory   store log + messages in memory (the baseline),
#   journal  store log + store_messages: journal,
#   database store_queues and store_messages: database, on a private
#            PostgreSQL server (tests/integration/pg_start.sh).
# For each: messages/s, latency p50/p99 from SEND to MSG and the router's
# CPU microseconds per message (SEND + MSG + ACK), with the ratio to the
# memory store's figures and the crypto floor per message bench_router
# measures in the same run. Figures, not a test; each store's full output
# is kept in the folder printed at the start when --keep is given.
# Usage: bench/store_tput.sh [MESSAGES] [BUILD_DIR] [--keep]   (MESSAGES: 8000 of ~100 B, half as many of 16 KB)
set -u
KEEP=
for a in "$@"; do [ "$a" = --keep ] && KEEP=1; done
N=${1:-8000}
[ "$N" = --keep ] && N=8000
BUILD=${2:-$(dirname "$0")/../build}
[ "$BUILD" = --keep ] && BUILD=$(dirname "$0")/../build
BUILD=$(cd "$BUILD" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH=$BUILD/bench/bench_router
SERVER=$BUILD/apps/smp-server
[ -x "$BENCH" ] && [ -x "$SERVER" ] || { echo "build smp-server and bench_router first ($BUILD)"; exit 1; }
T=$(mktemp -d /tmp/sx_bench_tput.XXXXXX) || exit 1
. "$HERE/../tests/integration/pg_start.sh"
cleanup() {
    pg_stop
    if [ -n "$KEEP" ]; then echo "outputs kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
echo "store_tput: $N messages of ~100 B and $((N / 2)) of 16048 B per store; load average $(cut -d' ' -f1-3 /proc/loadavg)"

pg_start "$T/pg" || exit 1
pg_psql -c "CREATE SCHEMA smp_server" >/dev/null || { echo "create schema failed"; exit 1; }

run() { # $1: store name, then --ini arguments
    name=$1
    shift
    printf '%s... ' "$name"
    if ! "$BENCH" --server "$SERVER" --only tput --messages "$N" "$@" >"$T/$name.out" 2>&1; then
        echo "failed:"
        tail -n 20 "$T/$name.out"
        return 1
    fi
    echo done
}
run memory || exit 1
run journal --ini "store_messages: journal" || exit 1
# CPU ticks of the PostgreSQL server: the postmaster, its live children and
# the children it has reaped (the router's connections end with its run)
pg_ticks() {
    pm=$(head -n 1 "$PG_DIR/data/postmaster.pid")
    { cat "/proc/$pm/stat"; for c in $(pgrep -P "$pm"); do cat "/proc/$c/stat" 2>/dev/null; done; } |
        awk -v pm="$pm" '{ sub(/^.*\) /, ""); t += $12 + $13; if (NR == 1) t += $14 + $15 } END { print t }'
}
pg0=$(pg_ticks)
run database --ini "store_queues: database" --ini "store_messages: database" \
    --ini "db_connection: $PG_CONN" --ini "db_pool_size: 4" || exit 1
pg1=$(pg_ticks)

# field <store> <body> <what>: from bench_router's output
#   rate, p50, p99, cpu (router us per message), floor (us per message)
field() {
    awk -v body="$2" -v what="$3" '
        $2 == "B" && $3 == "bodies:" && $1 == body {
            if (what == "rate") print $4
            if (what == "p50") print $7
            if (what == "p99") print $10
            if (what == "cpu") { for (i = 1; i <= NF; i++) if ($i == "us" && $(i + 1) == "CPU/msg,") print $(i - 1) }
        }
        $1 == body && $2 == "B:" && what == "floor" {
            for (i = 1; i <= NF; i++) if ($i == "floor") { v = $(i + 1); print v }
        }' "$T/$1.out" | head -n 1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

printf '\n%-9s %6s %10s %9s %9s %14s %10s %10s\n' store body "msgs/s" "x memory" "p50 ms" "p99 ms" "router us/msg" "x memory"
for body in 100 16048; do
    base_rate=$(field memory $body rate)
    base_cpu=$(field memory $body cpu)
    for s in memory journal database; do
        rate=$(field $s $body rate)
        cpu=$(field $s $body cpu)
        printf '%-9s %6s %10s %9s %9s %14s %10s %10s\n' "$s" "$body" "$rate" "$(ratio "$rate" "$base_rate")" \
            "$(field $s $body p50)" "$(field $s $body p99)" "$cpu" "$(ratio "$cpu" "$base_cpu")"
    done
    echo "  crypto floor per message at $body B (the memory run's bench process): $(field memory $body floor) us"
done
msgs=$(awk '$3 == "bodies:" { for (i = 1; i <= NF; i++) if ($i == "msgs" && $(i + 1) == "in") { sub(/^\(/, "", $(i - 1)); n += $(i - 1) } } END { print n }' "$T/database.out")
echo "PostgreSQL server CPU during the database run (setup and both body sizes; not in the router's figure):" \
    "$(awk -v t=$((pg1 - pg0)) -v hz="$(getconf CLK_TCK)" -v n="$msgs" 'BEGIN { printf "%.0f us per message over %d messages", t * 1e6 / hz / n, n }')"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
