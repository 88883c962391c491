#!/bin/sh
# Where the agents' CPU goes per message: bench_agent's messaging phase
# (N messages between two agents over this build's smp-server, PQ on, then
# PQ off, then raw SMP alone as the baseline), each run under
# `perf record --call-graph dwarf`; every sample of the bench process (both
# agents; the router is a separate process and left out) is put in the
# first of these groups found walking its call chain from the leaf up:
#   ratchet    the double ratchet and the agent's per-queue box
#              (sx_ratchet_*, sntrup761, and the X448 / AES-GCM they call;
#              sx_cb_* when an sx_agent_* function called it)
#   SQLite     the store's statements and their fsyncs (sqlite3*)
#   transport  the SMP client: TLS, block encryption, signatures, framing,
#              the router's per-queue box (sx_loop_*, sx_smp_*, sx_tls_*, SSL_*)
#   other      the rest (the agent's own code, events, malloc, wake-ups)
# and the shares are turned into microseconds with the run's own CPU per
# message (bench_agent's "CPU us"). The handshake of the phase is in the
# profile too: with the default 2,000 messages it is a few per cent.
# Needs perf (kernel.perf_event_paranoid <= 2 for one's own processes).
# Usage: bench/agent_cpu_split.sh [MESSAGES] [BUILD_DIR]
set -u
N=${1:-2000}
BUILD=${2:-$(dirname "$0")/../build}
BENCH=$BUILD/bench/bench_agent
[ -x "$BENCH" ] || { echo "build bench_agent first ($BUILD)"; exit 1; }
command -v perf >/dev/null || { echo "perf is not installed"; exit 1; }
T=$(mktemp -d /tmp/sx_cpu_split.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
printf '%d messages of 256 bytes per phase; load %s\n\n' "$N" "$(cut -d' ' -f1 /proc/loadavg)"
printf '%-20s %8s %9s %9s %9s %9s %9s\n' "" msg/s "CPU us" ratchet SQLite transport other
for phase in on off raw; do
    if ! perf record -q --call-graph dwarf,16384 -F 300 -o "$T/$phase.data" \
        "$BENCH" - "$N" 20 "$phase" >"$T/$phase.out" 2>"$T/$phase.err"; then
        echo "bench_agent $phase failed:"; cat "$T/$phase.err" "$T/$phase.out"; exit 1
    fi
    row=$(grep -E '^(agent, PQ|raw SMP)' "$T/$phase.out" | tail -1)
    name=$(printf '%s' "$row" | sed -E 's/ +[0-9].*//')
    msgs=$(printf '%s' "$row" | sed -E 's/^[^0-9]+//' | awk '{print $1}')
    cpu=$(printf '%s' "$row" | sed -E 's/^[^0-9]+//' | awk '{print $2}')
    perf script -i "$T/$phase.data" --comm bench_agent -F comm,ip,sym 2>/dev/null | awk -v cpu="$cpu" -v name="$name" -v msgs="$msgs" '
        function flush() {
            if (!insample) return
            total++; k = (cls == "" || cls == "box") ? "other" : cls; n[k]++
            insample = 0; cls = ""
        }
        /^[ \t]*$/ { flush(); next }
        !/^\t/ { flush(); insample = 1; cls = ""; next }
        {
            s = $2
            if (cls == "box") {
                # the secret box serves both layers: the caller decides
                if (s ~ /^sx_agent_/) cls = "ratchet"
                else if (s ~ /^sx_smp_|^sx_loop_/) cls = "transport"
                next
            }
            if (cls != "") next
            if (s ~ /^sx_cb_/) cls = "box"
            else if (s ~ /^sx_ratchet_|^sx_sntrup761|^mul_small|^sx_x3dh|^sx_e2e_/) cls = "ratchet"
            else if (s ~ /^sqlite3/) cls = "SQLite"
            else if (s ~ /^sx_loop_|^sx_smp_|^sx_tls_|^sx_sbchain|^SSL_|^ssl_|^tls_/) cls = "transport"
        }
        END {
            flush()
            if (total == 0) { printf "%-20s no samples\n", name; exit }
            printf "%-20s %8s %9s", name, msgs, cpu
            split("ratchet SQLite transport other", g, " ")
            for (i = 1; i <= 4; i++)
                printf " %9.0f", cpu * n[g[i]] / total
            printf "   (%d samples)\n", total
        }'
done
printf '\nus per message of this process (both ends), split by the samples'"'"' shares; load %s at the end\n' \
    "$(cut -d' ' -f1 /proc/loadavg)"
