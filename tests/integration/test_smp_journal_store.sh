#!/bin/sh
# Black-box test of the SMP router on the journal message store
# (store_messages: journal) with real processes on loopback and the `smp`
# client: messages are in <log>/messages in the reference's layout while
# the router runs; they survive a clean stop and kill -9 (every message a
# sender was told OK for is received after the restart, also when killed
# while a sender is sending), also with journal_fsync: on; export to the
# memory store loses nothing.
# Usage: test_smp_journal_store.sh <path to smp-server> <path to smp>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SERVER=$(abspath "$1")
SMP=$(abspath "$2")
T=$(mktemp -d /tmp/sx_smp_jstore.XXXXXX) || exit 1
PID=
LOADER=
cleanup() {
    [ -n "$LOADER" ] && kill "$LOADER" 2>/dev/null
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

"$SERVER" init -y --disable-web --ip 127.0.0.1 >"$T/init.log" 2>&1 || { cat "$T/init.log"; echo "FAIL: init"; exit 1; }
INI="$T/etc/smp-server.ini"
sed -i 's/^store_messages: .*/store_messages: journal/' "$INI"
grep -qx "store_messages: journal" "$INI" || { echo "FAIL: no store_messages key in the ini"; exit 1; }
FP=$(cat "$T/etc/fingerprint")
PW=$(sed -n 's/^create_password: //p' "$INI")
. "$(dirname "$0")/smp_router_start.sh"
# $PID may be `timeout`, which passes INT and TERM on but cannot pass KILL:
# the router is then its child.
stop_router() { # $1: signal
    target=$PID
    if [ -n "$TOS" ]; then
        target=$(pgrep -P "$PID" | head -n 1)
        [ -n "$target" ] || { fail "no router process under $PID"; target=$PID; }
    fi
    kill "-$1" "$target"
    wait "$PID" 2>/dev/null
    i=0
    while kill -0 "$target" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -0 "$target" 2>/dev/null && fail "the router $target did not stop on $1"
    PID=
}
start_router
grep -q "journal store in $T/var/messages" "$T/server.log" || fail "start note: $(cat "$T/server.log")"
ADDR="smp://$FP:$PW@127.0.0.1:$PORT"
cd "$T" || exit 1
for q in 1 2 3; do
    smp create "$ADDR" --out r$q.queue --sender-out s$q.queue >/dev/null || fail "create $q"
    smp secure s$q.queue >/dev/null || fail "secure $q"
done

# ---- kill -9 after the senders were told OK ----
for i in $(seq 1 20); do smp send s1.queue "one $i" || fail "send one $i"; done
head -c 5000 /dev/urandom >bin.dat
smp send s1.queue - <bin.dat || fail "send binary"
n_states=$(find "$T/var/messages" -name 'queue_state.*.log' | wc -l)
[ "$n_states" = 1 ] || fail "one queue folder with messages: $n_states"
f=$(find "$T/var/messages" -name 'queue_state.*.log')
tail -n 1 "$f" | grep -Eq '^write=[A-Za-z0-9_-]{16},21,21,[0-9]+,[0-9]+ read=[A-Za-z0-9_-]{16},0,[0-9]+,0,[0-9]+ canWrite=T size=21$' ||
    fail "state line: $(tail -n 1 "$f")"
stop_router KILL
start_router
smp recv r1.queue --count 20 --timeout 30 >got1.txt 2>recv.err || fail "recv after kill -9: $(cat recv.err)"
for i in $(seq 1 20); do
    sed -n "${i}p" got1.txt | grep -qx "one $i" || fail "message $i after kill -9: $(sed -n "${i}p" got1.txt)"
done
smp recv r1.queue --count 1 --timeout 30 --raw >bin.out 2>recv.err || fail "recv binary: $(cat recv.err)"
tail -c +5 bin.out | cmp -s - bin.dat || fail "the binary message changed"
out=$(smp recv r1.queue --timeout 1 2>&1 >/dev/null); rc=$?
[ $rc = 3 ] || fail "queue 1 not empty after all were received: $rc $out"

# ---- a clean stop writes no messages log; the journal keeps them ----
for i in $(seq 1 5); do smp send s2.queue "two $i" || fail "send two $i"; done
stop_router INT
[ -e "$T/var/smp-server-messages.log" ] && fail "a clean stop on the journal wrote the messages log"
start_router
smp recv r2.queue --count 3 --timeout 30 >got2.txt 2>recv.err || fail "recv 3 of queue 2: $(cat recv.err)"
[ "$(cat got2.txt | tr '\n' ,)" = "two 1,two 2,two 3," ] || fail "queue 2 first 3: $(cat got2.txt)"

# ---- kill -9 while a sender sends: every OK is received after ----
(
    i=1
    while [ $i -le 400 ]; do
        if "$SMP" send s3.queue "load $i" 2>/dev/null; then echo "load $i" >>ok3.txt; else break; fi
        i=$((i + 1))
    done
) &
LOADER=$!
i=0
while [ $i -lt 100 ] && [ "$( (cat ok3.txt 2>/dev/null) | wc -l)" -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
stop_router KILL
wait "$LOADER" 2>/dev/null
LOADER=
acked=$(wc -l <ok3.txt)
[ "$acked" -ge 30 ] || fail "only $acked sends acknowledged before the kill"
[ "$acked" -lt 128 ] || fail "the sender stopped at the queue's quota, not at the kill"
start_router
smp recv r3.queue --count "$acked" --timeout 60 >got3.txt 2>recv.err || fail "recv after kill -9 under load: $(cat recv.err)"
cmp -s ok3.txt got3.txt || fail "acknowledged sends $(wc -l <ok3.txt), received $(wc -l <got3.txt): $(diff ok3.txt got3.txt | head -5)"
# at most the send that was in flight at the kill: stored, its OK lost
smp recv r3.queue --timeout 2 >extra3.txt 2>/dev/null
[ "$(wc -l <extra3.txt)" -le 1 ] || fail "more than one message beyond the acknowledged: $(cat extra3.txt)"
[ ! -s extra3.txt ] || grep -qx "load $((acked + 1))" extra3.txt || fail "unexpected extra message: $(cat extra3.txt)"

# ---- journal_fsync: on ----
stop_router INT
sed -i 's/^store_messages: journal$/store_messages: journal\njournal_fsync: on/' "$INI"
start_router
grep -q "fsync on every write" "$T/server.log" || fail "no fsync note at start"
for i in 1 2 3; do smp send s3.queue "synced $i" || fail "send synced $i"; done
stop_router KILL
start_router
smp recv r3.queue --count 3 --timeout 30 >got3b.txt 2>recv.err || fail "recv synced: $(cat recv.err)"
[ "$(cat got3b.txt | tr '\n' ,)" = "synced 1,synced 2,synced 3," ] || fail "synced messages: $(cat got3b.txt)"

# ---- export to the memory store ----
stop_router INT
out=$(echo y | $TO "$SERVER" journal export 2>&1) || fail "export: $out"
out=$($TO "$SERVER" start 2>&1) && fail "start on the journal with the messages log present"
echo "$out" | grep -q "journal import" || fail "refusal: $out"
out=$(echo y | $TO "$SERVER" journal delete 2>&1) || fail "delete: $out"
sed -i 's/^store_messages: .*/store_messages: memory/' "$INI"
start_router
smp recv r2.queue --count 2 --timeout 30 >got2b.txt 2>recv.err || fail "recv on memory: $(cat recv.err)"
[ "$(cat got2b.txt | tr '\n' ,)" = "two 4,two 5," ] || fail "queue 2 last 2 on memory: $(cat got2b.txt)"
stop_router INT

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS failure(s)"
    exit 1
fi
echo "journal store: ok ($acked sends acknowledged before kill -9 under load, all received)"
