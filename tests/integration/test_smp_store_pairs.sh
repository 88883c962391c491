#!/bin/sh
# The SMP router's integration round on one storage pair (the third
# argument), with real router processes on loopback and the `smp` client:
#   memory       queues and messages in memory, the store log
#   journal      queues in memory (store log), messages in the journal
#   db_journal   queues in PostgreSQL, messages in the journal
#   db_database  queues and messages in PostgreSQL
# (the database pairs on a private PostgreSQL server of the test's own,
# pg_start.sh). Queues are made (NEW, KEY), used (SEND, SUB, ACK) and one is
# deleted (DEL); then the router is stopped by SIGINT, SIGTERM and kill -9
# in turn and started again on the same files or database, each time with
# messages waiting. After every restart the next message received is the
# first one not yet acknowledged (nothing acknowledged is delivered again,
# nothing acknowledged to the sender is lost), the deleted queue stays
# deleted, and at the end every queue holds exactly what was sent to it and
# not received. Before kill -9 a SEND to another queue is answered first:
# the router may answer an ACK before its record is written, and that SEND's
# answer waits for the records queued before it.
# Usage: test_smp_store_pairs.sh <smp-server> <smp> memory|journal|db_journal|db_database
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SERVER=$(abspath "$1")
SMP=$(abspath "$2")
PAIR=${3:-memory}
case $PAIR in
memory) QS=memory MS=memory ;;
journal) QS=memory MS=journal ;;
db_journal) QS=database MS=journal ;;
db_database) QS=database MS=database ;;
*) echo "unknown storage pair: $PAIR"; exit 2 ;;
esac
T=$(mktemp -d /tmp/sx_smp_pair.XXXXXX) || exit 1
PID=
. "$(dirname "$0")/pg_start.sh"
cleanup() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    pg_stop
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
export SMP_SERVER_CFG_PATH="$T/etc" SMP_SERVER_LOG_PATH="$T/var"
FAILS=0
fail() { echo "FAIL [$PAIR]: $*"; FAILS=$((FAILS + 1)); }
if command -v timeout >/dev/null 2>&1; then TO="timeout 60"; TOS="timeout 290"; else TO=; TOS=; fi
smp() { $TO "$SMP" "$@"; }

"$SERVER" init -y --disable-web --ip 127.0.0.1 >"$T/init.log" 2>&1 || { cat "$T/init.log"; echo "FAIL: init"; exit 1; }
INI="$T/etc/smp-server.ini"
sed -i "s/^store_queues: .*/store_queues: $QS/; s/^store_messages: .*/store_messages: $MS/" "$INI"
grep -qx "store_queues: $QS" "$INI" && grep -qx "store_messages: $MS" "$INI" ||
    { echo "FAIL: no store keys in the ini"; exit 1; }
if [ "$QS" = database ]; then
    pg_start "$T/pg" || exit 1
    CONN_SED=$(printf '%s' "$PG_CONN" | sed 's/[&|\\]/\\&/g')
    sed -i "s|^#* *db_connection: .*|db_connection: $CONN_SED|; s/^#* *db_pool_size: .*/db_pool_size: 4/" "$INI"
    pg_psql -c "CREATE SCHEMA smp_server" >/dev/null || { echo "FAIL: create schema"; exit 1; }
fi
FP=$(cat "$T/etc/fingerprint")
PW=$(sed -n 's/^create_password: //p' "$INI")
. "$(dirname "$0")/smp_router_start.sh"
# $PID may be `timeout`, which passes INT and TERM on but not KILL: the
# router is then its child.
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
# sent <queue> <text>: sends and, once answered OK, records it as waiting
sent() {
    if smp send "s$1.queue" "$2"; then echo "$2" >>"p$1.txt"; else fail "send '$2' to queue $1"; fi
}
# take <queue>: receives one message, which must be the first waiting one
take() {
    smp recv "r$1.queue" --count 1 --timeout 30 >got.txt 2>recv.err || { fail "recv queue $1: $(cat recv.err)"; return; }
    want=$(head -n 1 "p$1.txt")
    [ "$(cat got.txt)" = "$want" ] || fail "queue $1 gave '$(cat got.txt)', expected '$want'"
    sed -i 1d "p$1.txt"
}
# drain <queue>: every waiting message in order, then no more
drain() {
    n=$(wc -l <"p$1.txt")
    if [ "$n" -gt 0 ]; then
        smp recv "r$1.queue" --count "$n" --timeout 30 >got.txt 2>recv.err || fail "recv $n of queue $1: $(cat recv.err)"
        cmp -s got.txt "p$1.txt" || fail "queue $1: expected $(tr '\n' , <"p$1.txt"), got $(tr '\n' , <got.txt)"
    fi
    out=$(smp recv "r$1.queue" --timeout 1 2>&1); rc=$?
    [ $rc = 3 ] || fail "queue $1 not empty after its $n waiting messages: rc $rc, '$out'"
    : >"p$1.txt"
}

start_router
ADDR="smp://$FP:$PW@127.0.0.1:$PORT"
cd "$T" || exit 1
for q in 1 2 3 4; do
    smp create "$ADDR" --out r$q.queue --sender-out s$q.queue >/dev/null || fail "create $q"
    smp secure s$q.queue >/dev/null || fail "secure $q"
    : >p$q.txt
done
sent 4 "to be deleted"
smp delete r4.queue >/dev/null || fail "delete 4"
out=$(smp send s4.queue "after delete" 2>&1) && fail "send to the deleted queue: $out"

for sig in INT TERM KILL; do
    for k in 1 2 3; do sent 1 "$sig $k"; done
    take 1
    sent 2 "$sig"
    sent 3 "barrier $sig"
    stop_router "$sig"
    start_router
    out=$(smp send s4.queue "after $sig" 2>&1) && fail "send to the deleted queue after $sig: $out"
    take 1
done
[ "$(wc -l <p1.txt)" = 3 ] || fail "queue 1 should have 3 messages waiting: $(tr '\n' , <p1.txt)"
drain 1
drain 2
# every message received: kill -9 once more, nothing comes back
sent 3 "last barrier"
drain 3
sent 2 "barrier after drain"
stop_router KILL
start_router
drain 1
drain 2
drain 3
stop_router TERM

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS failure(s)"
    exit 1
fi
echo "storage pair $PAIR (queues: $QS, messages: $MS): ok"
