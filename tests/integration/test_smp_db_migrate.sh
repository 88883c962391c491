#!/bin/sh
# `smp-server database import|export|delete` on a private PostgreSQL server
# (pg_start.sh): a memory router's store log and messages log go into the
# database and come back out record for record (the compacted store log and
# the messages log compared line by line), the router then serves the
# imported queues and messages from the database, and the reference's
# refusals (schema present, files missing or present) hold.
# Usage: test_smp_db_migrate.sh <path to smp-server> <path to smp>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SERVER=$(abspath "$1")
SMP=$(abspath "$2")
T=$(mktemp -d /tmp/sx_smp_dbmig.XXXXXX) || exit 1
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
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
if command -v timeout >/dev/null 2>&1; then TO="timeout 60"; TOS="timeout 290"; else TO=; TOS=; fi
smp() { $TO "$SMP" "$@"; }
q() { pg_psql -t -A -c "$1"; }
db() { echo y | $TO "$SERVER" database "$@" -d "$PG_CONN" 2>&1; }

pg_start "$T/pg" || exit 1
"$SERVER" init -y --ip 127.0.0.1 >"$T/init.log" 2>&1 || { cat "$T/init.log"; echo "FAIL: init"; exit 1; }
INI="$T/etc/smp-server.ini"
FP=$(cat "$T/etc/fingerprint")
PW=$(sed -n 's/^create_password: //p' "$INI")
. "$(dirname "$0")/smp_router_start.sh"
stop_router() {
    kill -INT "$PID"
    wait "$PID" 2>/dev/null
    PID=
}
LOG="$T/var/smp-server-store.log"
MSGS="$T/var/smp-server-messages.log"

# ---- a memory router with queues in several states and messages ----
start_router
ADDR="smp://$FP:$PW@127.0.0.1:$PORT"
cd "$T" || exit 1
for n in 1 2 3 4 5; do
    smp create "$ADDR" --out r$n.queue --sender-out s$n.queue >/dev/null || fail "create $n"
done
for n in 1 2 3; do smp secure s$n.queue >/dev/null || fail "secure $n"; done
smp delete r5.queue >/dev/null || fail "delete 5"
for i in 1 2 3; do smp send s1.queue "one $i" || fail "send one $i"; done
head -c 3000 /dev/urandom >bin.dat
smp send s2.queue - <bin.dat || fail "send binary"
stop_router
# a second start compacts the store log to one CREATE per live queue
start_router
stop_router
[ "$(grep -c '^CREATE ' "$LOG")" = 4 ] || fail "4 queues in the compacted store log: $(cut -c1-40 "$LOG")"
[ "$(wc -l <"$MSGS")" = 4 ] || fail "4 saved messages: $(wc -l <"$MSGS")"
sort "$LOG" >log.orig
sort "$MSGS" >msgs.orig

# ---- refusals ----
out=$(db export) && fail "export without a schema: $out"
echo "$out" | grep -q "does not exist in PostrgreSQL database" || fail "export refusal: $out"
out=$(db delete) && fail "delete without a schema: $out"
out=$(echo n | $TO "$SERVER" database import -d "$PG_CONN" 2>&1) && fail "import answered no: $out"
echo "$out" | grep -q "Store logs not imported" || fail "refused import: $out"
[ -f "$LOG" ] || fail "a refused import moved the store log"

# ---- store log and messages log -> database ----
out=$(db import) || fail "import: $out"
echo "$out" | grep -q "Imported: 0 services, 4 queues" || fail "import counts: $out"
echo "$out" | grep -q "Import completed: 4 messages" || fail "import messages: $out"
[ -f "$LOG.bak" ] && [ ! -f "$LOG" ] || fail "the store log was not moved to .bak"
[ -f "$MSGS.bak" ] && [ ! -f "$MSGS" ] || fail "the messages log was not moved to .bak"
[ "$(q 'SELECT count(*) FROM smp_server.msg_queues')" = 4 ] || fail "4 rows in msg_queues"
[ "$(q 'SELECT count(*) FROM smp_server.messages')" = 4 ] || fail "4 rows in messages"
[ "$(q 'SELECT string_agg(msg_queue_size::text, $$,$$ ORDER BY msg_queue_size) FROM smp_server.msg_queues')" = "0,0,1,3" ] ||
    fail "message counters: $(q 'SELECT msg_queue_size FROM smp_server.msg_queues')"
out=$(db import --table queues) && fail "import with the schema present: $out"
echo "$out" | grep -q "already exists" || fail "schema-present refusal: $out"

# ---- database -> store log and messages log: nothing lost ----
out=$(db export) || fail "export: $out"
echo "$out" | grep -q "Exported: 0 services, 4 queues" || fail "export counts: $out"
echo "$out" | grep -q "Export completed: 4 messages" || fail "export messages: $out"
sort "$LOG" | cmp -s - log.orig || fail "store log after the round trip: $(sort "$LOG" | diff - log.orig | head -4)"
sort "$MSGS" | cmp -s - msgs.orig || fail "messages log after the round trip: $(sort "$MSGS" | diff - msgs.orig | head -4)"
out=$(db export --table queues) && fail "export over an existing store log: $out"
echo "$out" | grep -q "Configure queue storage" || fail "both-present refusal: $out"
out=$(db delete) || fail "delete: $out"
echo "$out" | grep -q "DROP SCHEMA smp_server CASCADE" || fail "delete instructions: $out"

# ---- the router serves the imported database ----
rm -f "$LOG" "$MSGS"
CONN_SED=$(printf '%s' "$PG_CONN" | sed 's/[&|\\]/\\&/g')
sed -i "s/^store_queues: .*/store_queues: database/; s/^store_messages: .*/store_messages: database/;
        s|^#* *db_connection: .*|db_connection: $CONN_SED|" "$INI"
start_router
grep -q "Database: 4 queues" "$T/server.log" || fail "loaded: $(tail -n 3 "$T/server.log")"
smp recv r1.queue --count 3 --timeout 30 >got1.txt 2>recv.err || fail "recv from the database: $(cat recv.err)"
[ "$(tr '\n' , <got1.txt)" = "one 1,one 2,one 3," ] || fail "queue 1 from the database: $(cat got1.txt)"
smp recv r2.queue --count 1 --timeout 30 --raw >bin.out 2>recv.err || fail "recv binary: $(cat recv.err)"
tail -c +5 bin.out | cmp -s - bin.dat || fail "the binary message changed"
smp secure s4.queue >/dev/null || fail "secure 4 on the database"
smp send s4.queue "four" || fail "send four"
smp recv r4.queue --count 1 --timeout 30 >got4.txt 2>recv.err || fail "recv four: $(cat recv.err)"
grep -qx four got4.txt || fail "queue 4: $(cat got4.txt)"
stop_router

# ---- messages only: export and import back ----
out=$(db export --table messages) || fail "export messages: $out"
echo "$out" | grep -q "Export completed: 0 messages" || fail "export messages count: $out"
rm -f "$MSGS"

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS failure(s)"
    exit 1
fi
echo "database import/export: ok (4 queues and 4 messages round-tripped)"
