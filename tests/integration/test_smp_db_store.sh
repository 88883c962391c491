#!/bin/sh
# Black-box test of the SMP router on the PostgreSQL queue store
# (store_queues: database) with the messages in the journal or in the
# database too (the storage pair is the third argument), on a private
# PostgreSQL server of its own (pg_start.sh), with real router processes on
# loopback and the `smp` client: the start-up checks (no schema, a store log
# present), the reference's migrations recorded by name, queues in the
# msg_queues table, create/secure/send/receive/delete, every acknowledged
# message there after kill -9 (also while a sender is sending) and after a
# clean stop.
# Usage: test_smp_db_store.sh <path to smp-server> <path to smp> journal|database
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SERVER=$(abspath "$1")
SMP=$(abspath "$2")
MSGS=${3:-journal}
T=$(mktemp -d /tmp/sx_smp_db.XXXXXX) || exit 1
PID=
LOADER=
. "$(dirname "$0")/pg_start.sh"
cleanup() {
    [ -n "$LOADER" ] && kill "$LOADER" 2>/dev/null
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
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
if command -v timeout >/dev/null 2>&1; then TO="timeout 60"; TOS="timeout 290"; else TO=; TOS=; fi
smp() { $TO "$SMP" "$@"; }
q() { pg_psql -t -A -c "$1"; }

pg_start "$T/pg" || exit 1
"$SERVER" init -y --disable-web --ip 127.0.0.1 >"$T/init.log" 2>&1 || { cat "$T/init.log"; echo "FAIL: init"; exit 1; }
INI="$T/etc/smp-server.ini"
CONN_SED=$(printf '%s' "$PG_CONN" | sed 's/[&|\\]/\\&/g')
sed -i "s/^store_queues: .*/store_queues: database/; s/^store_messages: .*/store_messages: $MSGS/;
        s|^#* *db_connection: .*|db_connection: $CONN_SED|; s/^#* *db_pool_size: .*/db_pool_size: 4/" "$INI"
grep -qx "store_queues: database" "$INI" || { echo "FAIL: no store_queues key in the ini"; exit 1; }
grep -q "^db_connection: postgresql://" "$INI" || { echo "FAIL: no db_connection key in the ini"; exit 1; }
FP=$(cat "$T/etc/fingerprint")
PW=$(sed -n 's/^create_password: //p' "$INI")
. "$(dirname "$0")/smp_router_start.sh"
stop_router() { # $1: signal (see test_smp_journal_store.sh for timeout's child)
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

# ---- the start-up checks of the reference ----
out=$($TO "$SERVER" start 2>&1) && fail "started without the schema"
echo "$out" | grep -q "create schema smp_server" || fail "no-schema refusal: $out"
q "CREATE SCHEMA smp_server" >/dev/null || fail "create schema"
mkdir -p "$T/var" && : >"$T/var/smp-server-store.log"
out=$($TO "$SERVER" start 2>&1) && fail "started with a store log present"
echo "$out" | grep -q "database import" || fail "store-log refusal: $out"
rm -f "$T/var/smp-server-store.log"

start_router
grep -q "Database: 0 queues" "$T/server.log" || fail "start note: $(cat "$T/server.log")"
[ -e "$T/var/smp-server-store.log" ] && fail "a store log was written beside the database"
migs=$(q "SELECT string_agg(name, ',' ORDER BY name) FROM smp_server.migrations")
[ "$migs" = "20250207_initial,20250319_updated_index,20250320_short_links,20250514_service_certs,20250903_store_messages,20250915_queue_ids_hash" ] ||
    fail "migrations recorded: $migs"
ADDR="smp://$FP:$PW@127.0.0.1:$PORT"
cd "$T" || exit 1
for n in 1 2 3 4; do
    smp create "$ADDR" --out r$n.queue --sender-out s$n.queue >/dev/null || fail "create $n"
    smp secure s$n.queue >/dev/null || fail "secure $n"
done
[ "$(q "SELECT count(*) FROM smp_server.msg_queues WHERE deleted_at IS NULL AND sender_key IS NOT NULL AND status = 'active'")" = 4 ] ||
    fail "4 secured queues in msg_queues: $(q 'SELECT status, sender_key IS NULL FROM smp_server.msg_queues')"
smp delete r4.queue >/dev/null || fail "delete 4"
[ "$(q "SELECT count(*) FROM smp_server.msg_queues WHERE deleted_at IS NOT NULL")" = 1 ] || fail "the deleted queue's row"

# ---- kill -9 after the senders were told OK ----
for i in $(seq 1 20); do smp send s1.queue "one $i" || fail "send one $i"; done
head -c 5000 /dev/urandom >bin.dat
smp send s1.queue - <bin.dat || fail "send binary"
if [ "$MSGS" = database ]; then
    [ "$(q "SELECT count(*) FROM smp_server.messages")" = 21 ] || fail "21 rows in messages"
    [ "$(q "SELECT msg_queue_size FROM smp_server.msg_queues WHERE msg_queue_size > 0")" = 21 ] || fail "msg_queue_size"
fi
stop_router KILL
start_router
grep -q "Database: 3 queues" "$T/server.log" || fail "3 live queues loaded: $(tail -n 5 "$T/server.log")"
smp recv r1.queue --count 20 --timeout 30 >got1.txt 2>recv.err || fail "recv after kill -9: $(cat recv.err)"
for i in $(seq 1 20); do
    sed -n "${i}p" got1.txt | grep -qx "one $i" || fail "message $i after kill -9: $(sed -n "${i}p" got1.txt)"
done
smp recv r1.queue --count 1 --timeout 30 --raw >bin.out 2>recv.err || fail "recv binary: $(cat recv.err)"
tail -c +5 bin.out | cmp -s - bin.dat || fail "the binary message changed"
out=$(smp recv r1.queue --timeout 1 2>&1 >/dev/null); rc=$?
[ $rc = 3 ] || fail "queue 1 not empty after all were received: $rc $out"
out=$(smp send s4.queue "to the deleted" 2>&1) && fail "send to a deleted queue: $out"

# ---- a clean stop keeps the messages where they are ----
for i in $(seq 1 5); do smp send s2.queue "two $i" || fail "send two $i"; done
stop_router INT
[ -e "$T/var/smp-server-messages.log" ] && fail "a clean stop wrote the messages log"
start_router
smp recv r2.queue --count 3 --timeout 30 >got2.txt 2>recv.err || fail "recv 3 of queue 2: $(cat recv.err)"
[ "$(tr '\n' , <got2.txt)" = "two 1,two 2,two 3," ] || fail "queue 2 first 3: $(cat got2.txt)"

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
while [ $i -lt 200 ] && [ "$( (cat ok3.txt 2>/dev/null) | wc -l)" -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
stop_router KILL
wait "$LOADER" 2>/dev/null
LOADER=
acked=$(wc -l <ok3.txt)
[ "$acked" -ge 30 ] || fail "only $acked sends acknowledged before the kill"
[ "$acked" -lt 128 ] || fail "the sender stopped at the queue's quota, not at the kill"
start_router
smp recv r3.queue --count "$acked" --timeout 60 >got3.txt 2>recv.err || fail "recv after kill -9 under load: $(cat recv.err)"
cmp -s ok3.txt got3.txt || fail "acknowledged sends $(wc -l <ok3.txt), received $(wc -l <got3.txt): $(diff ok3.txt got3.txt | head -5)"
smp recv r3.queue --timeout 2 >extra3.txt 2>/dev/null
[ "$(wc -l <extra3.txt)" -le 1 ] || fail "more than one message beyond the acknowledged: $(cat extra3.txt)"
[ ! -s extra3.txt ] || grep -qx "load $((acked + 1))" extra3.txt || fail "unexpected extra message: $(cat extra3.txt)"
stop_router INT

# ---- start --maintenance: the state restored, nothing served ----
out=$($TO "$SERVER" start --maintenance 2>&1) || fail "start --maintenance: $out"
echo "$out" | grep -qx "Server started in 'maintenance' mode, exiting" || fail "maintenance line: $out"
echo "$out" | grep -q "Database: 3 queues" || fail "maintenance load: $out"
echo "$out" | grep -q "^Serving" && fail "maintenance served: $out"

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS failure(s)"
    exit 1
fi
echo "database store ($MSGS messages): ok ($acked sends acknowledged before kill -9 under load, all received)"
