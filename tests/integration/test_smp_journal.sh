#!/bin/sh
# Black-box test of `smp-server journal import|export|delete` with a real
# smp-server on loopback and the `smp` client: messages sent to two queues
# and saved at a clean stop are imported into the journal folder (in the
# reference's layout: messages/<2>/<2>/<2>/<2>/<rest>/queue_state.<rid>.log
# and messages.<journal id>.log), exported back, and received after a
# restart with nothing lost; the refusals when both forms are present.
# Usage: test_smp_journal.sh <path to smp-server> <path to smp>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SERVER=$(abspath "$1")
SMP=$(abspath "$2")
T=$(mktemp -d /tmp/sx_smp_journal.XXXXXX) || exit 1
PID=
cleanup() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
export SMP_SERVER_CFG_PATH="$T/etc" SMP_SERVER_LOG_PATH="$T/var"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
if command -v timeout >/dev/null 2>&1; then TO="timeout 60"; TOS="timeout 290"; else TO=; TOS=; fi
smp() { $TO "$SMP" "$@"; }
journal() { echo y | $TO "$SERVER" journal "$@"; }

"$SERVER" init -y --disable-web --ip 127.0.0.1 >"$T/init.log" 2>&1 || { cat "$T/init.log"; echo "FAIL: init"; exit 1; }
INI="$T/etc/smp-server.ini"
FP=$(cat "$T/etc/fingerprint")
PW=$(sed -n 's/^create_password: //p' "$INI")
. "$(dirname "$0")/smp_router_start.sh"
stop_router() {
    kill -INT "$PID"
    wait "$PID" 2>/dev/null
    PID=
}
start_router
ADDR="smp://$FP:$PW@127.0.0.1:$PORT"
cd "$T" || exit 1
smp create "$ADDR" --out r1.queue --sender-out s1.queue >/dev/null || fail "create 1"
smp create "$ADDR" --out r2.queue --sender-out s2.queue >/dev/null || fail "create 2"
smp secure s1.queue >/dev/null || fail "secure 1"
smp secure s2.queue >/dev/null || fail "secure 2"
for i in 1 2 3 4 5; do
    smp send s1.queue "first queue, message $i" || fail "send 1/$i"
    smp send s2.queue "second queue, message $i" || fail "send 2/$i"
done
head -c 3000 /dev/urandom >bin.dat
smp send s1.queue - <bin.dat || fail "send binary"
stop_router
MSGS="$T/var/smp-server-messages.log"
[ "$(grep -c . "$MSGS")" = 11 ] || fail "11 messages saved at the stop: $(grep -c . "$MSGS")"

# ---- import ----
out=$(echo n | "$SERVER" journal import 2>&1) && fail "import answered no succeeded"
echo "$out" | grep -q "Messages not imported" || fail "import refusal: $out"
out=$(journal import 2>&1) || fail "import: $out"
echo "$out" | grep -q "Import completed" || fail "import output: $out"
[ -e "$MSGS" ] && fail "the messages log is still there after import"
[ -e "$MSGS.bak" ] || fail "no backup of the messages log"
n_states=$(find "$T/var/messages" -name 'queue_state.*.log' | wc -l)
[ "$n_states" = 2 ] || fail "2 queue state files: $n_states"
for f in $(find "$T/var/messages" -name 'queue_state.*.log'); do
    rid=$(basename "$f" | sed 's/^queue_state\.\(.*\)\.log$/\1/')
    d=$(dirname "$f")
    rel=${d#"$T/var/messages/"}
    want=$(echo "$rid" | sed 's|^\(..\)\(..\)\(..\)\(..\)\(.*\)$|\1/\2/\3/\4/\5|')
    [ "$rel" = "$want" ] || fail "queue folder $rel for $rid"
    tail -n 1 "$f" | grep -Eq '^write=[A-Za-z0-9_-]{16},[0-9]+,[0-9]+,[0-9]+,[0-9]+ read=[A-Za-z0-9_-]{16},0,[0-9]+,0,[0-9]+ canWrite=T size=[56]$' ||
        fail "state line: $(tail -n 1 "$f")"
    jid=$(tail -n 1 "$f" | sed 's/^write=\([^,]*\),.*/\1/')
    [ -f "$d/messages.$jid.log" ] || fail "no messages.$jid.log"
done
out=$(journal import 2>&1) && fail "a second import succeeded"
echo "$out" | grep -q "already exists" || fail "second import: $out"

# ---- export, then the memory store again ----
out=$(journal export 2>&1) || fail "export: $out"
echo "$out" | grep -q "Export completed" || fail "export output: $out"
[ "$(grep -c . "$MSGS")" = 11 ] || fail "11 messages exported"
start_router_refused=$($TO "$SERVER" start 2>&1) && fail "start with both the log and the journal"
echo "$start_router_refused" | grep -q "both" || fail "start refusal: $start_router_refused"
out=$(journal export 2>&1) && fail "export with both present succeeded"
out=$(journal delete 2>&1) || fail "delete: $out"
[ -e "$T/var/messages" ] && fail "the journal folder is still there"
out=$(journal delete 2>&1) && fail "a second delete succeeded"

start_router
smp recv r1.queue --count 5 --timeout 30 >got1.txt 2>recv1.err || fail "recv 1: $(cat recv1.err)"
smp recv r2.queue --count 5 --timeout 30 >got2.txt 2>recv2.err || fail "recv 2: $(cat recv2.err)"
smp recv r1.queue --count 1 --timeout 30 --raw >bin.out 2>recv3.err || fail "recv binary: $(cat recv3.err)"
for i in 1 2 3 4 5; do
    sed -n "${i}p" got1.txt | grep -qx "first queue, message $i" || fail "queue 1 message $i: $(sed -n "${i}p" got1.txt)"
    sed -n "${i}p" got2.txt | grep -qx "second queue, message $i" || fail "queue 2 message $i"
done
tail -c +5 bin.out | cmp -s - bin.dat || fail "the binary message changed"
stop_router

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS failure(s)"
    exit 1
fi
echo "journal import/export: ok"
