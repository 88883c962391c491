#!/bin/sh
# Restart of the real smp-server on the same store log of N queues (random,
# a third with a notifier; bench_gen_queues), alternately with the log's
# .sum file removed (the start compacts the log: the whole file written
# again and synced, and a new .sum) and with it (the log is already compact
# and kept as it is, src/kit/logstart.h): seconds from exec to "Serving SMP
# protocol" and the router's CPU time then, R pairs, the load average beside
# each. The first start (a log written by bench_gen_queues, no .sum) is
# printed first. Figures, not a test.
# Usage: bench/store_restart.sh [N] [R] [BUILD_DIR]   (N: 1000000, R: 3)
set -u
N=${1:-1000000}
R=${2:-3}
BUILD=${3:-$(dirname "$0")/../build}
BUILD=$(cd "$BUILD" && pwd)
SERVER=$BUILD/apps/smp-server
GEN=$BUILD/bench/bench_gen_queues
[ -x "$SERVER" ] && [ -x "$GEN" ] || { echo "build smp-server and bench_gen_queues first ($BUILD)"; exit 1; }
T=$(mktemp -d /tmp/sx_bench_restart.XXXXXX) || exit 1
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
now_ms() { echo $(($(date +%s%N) / 1000000)); }

export SMP_SERVER_CFG_PATH="$T/etc" SMP_SERVER_LOG_PATH="$T/var"
"$SERVER" init -y --disable-web --ip 127.0.0.1 >/dev/null 2>&1 || { echo "init failed"; exit 1; }
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s/^port: .*/port: $PORT/; s/^host: .*/host: 127.0.0.1/" "$T/etc/smp-server.ini"
"$GEN" "$N" "$T/var/smp-server-store.log" >/dev/null || exit 1
TICK=$(getconf CLK_TCK)

# start_measure NAME: starts the router, waits for its Serving line, prints
# the time, the CPU time and whether it kept the log, and stops it.
start_measure() {
    : >"$T/out.log"
    t0=$(now_ms)
    "$SERVER" start >>"$T/out.log" 2>&1 &
    PID=$!
    while ! grep -q "Serving SMP protocol" "$T/out.log"; do
        kill -0 "$PID" 2>/dev/null || { cat "$T/out.log"; echo "$1: the router exited"; PID=; return 1; }
        sleep 0.02
    done
    ms=$(($(now_ms) - t0))
    cpu=$(awk -v t="$TICK" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$PID/stat")
    kept=no
    grep -q "is compact: kept as it is" "$T/out.log" && kept=yes
    kill -TERM "$PID"
    wait "$PID" 2>/dev/null
    PID=
    printf '%-22s %10.2f %10s %6s %8s\n' "$1" "$(awk -v m="$ms" 'BEGIN { print m / 1000 }')" "$cpu" "$kept" \
        "$(cut -d' ' -f1 /proc/loadavg)"
}

echo "smp-server restarts with $N queues ($(nproc) cores; $(du -h "$T/var/smp-server-store.log" | cut -f1) store log):"
printf '%-22s %10s %10s %6s %8s\n' start "to port (s)" "CPU (s)" kept load
start_measure "first (no .sum)" || exit 1
i=0
while [ "$i" -lt "$R" ]; do
    rm -f "$T/var/smp-server-store.log.sum"
    start_measure "compacts (no .sum)" || exit 1
    start_measure "kept (with .sum)" || exit 1
    i=$((i + 1))
done
echo "baseline: the starts that compact the same log (its .sum removed before each)"
