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
# the schema is the reference's (its server_schema.sql at 152c30ca68):
# columns with their types and nullability, indexes, functions, triggers
cols=$(pg_psql -t -A <<'SQL'
SELECT string_agg(table_name || '.' || column_name || ':' || data_type || ':' || is_nullable, ' '
                  ORDER BY table_name, column_name)
  FROM information_schema.columns WHERE table_schema = 'smp_server';
SQL
)
[ "$cols" = "messages.message_id:bigint:NO messages.msg_body:bytea:NO messages.msg_id:bytea:NO \
messages.msg_ntf_flag:boolean:NO messages.msg_quota:boolean:NO messages.msg_ts:bigint:NO \
messages.recipient_id:bytea:NO migrations.down:text:YES migrations.name:text:NO \
migrations.ts:timestamp without time zone:NO msg_queues.deleted_at:bigint:YES msg_queues.fixed_data:bytea:YES \
msg_queues.link_id:bytea:YES msg_queues.msg_can_write:boolean:NO msg_queues.msg_queue_expire:boolean:NO \
msg_queues.msg_queue_size:bigint:NO msg_queues.notifier_id:bytea:YES msg_queues.notifier_key:bytea:YES \
msg_queues.ntf_service_id:bytea:YES msg_queues.queue_mode:text:YES msg_queues.rcv_dh_secret:bytea:NO \
msg_queues.rcv_ntf_dh_secret:bytea:YES msg_queues.rcv_service_id:bytea:YES msg_queues.recipient_id:bytea:NO \
msg_queues.recipient_keys:bytea:NO msg_queues.sender_id:bytea:NO msg_queues.sender_key:bytea:YES \
msg_queues.status:text:NO msg_queues.updated_at:bigint:YES msg_queues.user_data:bytea:YES \
services.created_at:bigint:NO services.queue_count:bigint:NO services.queue_ids_hash:bytea:NO \
services.service_cert:bytea:NO services.service_cert_hash:bytea:NO services.service_id:bytea:NO \
services.service_role:text:NO" ] || fail "schema columns: $cols"
rest=$(pg_psql -t -A <<'SQL'
SELECT string_agg(indexname, ' ' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'smp_server';
SELECT string_agg(p.proname || '/' || p.pronargs, ' ' ORDER BY p.proname)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'smp_server';
SELECT string_agg(tgname, ' ' ORDER BY tgname) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'smp_server' AND NOT t.tgisinternal;
SQL
)
[ "$(echo "$rest" | tr '\n' '|')" = "idx_messages_recipient_id_message_id idx_messages_recipient_id_msg_quota \
idx_messages_recipient_id_msg_ts idx_msg_queues_link_id idx_msg_queues_notifier_id idx_msg_queues_ntf_service_id \
idx_msg_queues_rcv_service_id idx_msg_queues_sender_id idx_msg_queues_updated_at_recipient_id \
idx_services_service_role messages_pkey migrations_pkey msg_queues_pkey services_pkey \
services_service_cert_hash_key|delete_expired_msgs/2 expire_old_messages/3 on_queue_delete/0 on_queue_insert/0 \
on_queue_update/0 try_del_msg/2 try_del_peek_msg/2 update_aggregates/4 update_all_aggregates/0 write_message/7 \
xor_aggregate/1 xor_combine/2|tr_queue_delete tr_queue_insert tr_queue_update|" ] || fail "schema objects: $rest"
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

# ---- the schema's message functions, as the reference calls them ----
fx=$(pg_psql -t -A <<'SQL'
SET search_path TO smp_server;
CREATE TEMP TABLE q AS SELECT recipient_id AS rid FROM msg_queues WHERE deleted_at IS NULL AND msg_queue_size = 0 LIMIT 1;
SELECT string_agg(quota_written::text || was_empty::text, ',') FROM (
  SELECT (write_message(rid, '\x01', 100, false, true, '\xaa', 3)).* FROM q UNION ALL
  SELECT (write_message(rid, '\x02', 200, false, false, '\xbb', 3)).* FROM q UNION ALL
  SELECT (write_message(rid, '\x03', 5000, false, false, '\xcc', 3)).* FROM q UNION ALL
  SELECT (write_message(rid, '\x04', 5001, false, false, '\xdd', 3)).* FROM q UNION ALL
  SELECT (write_message(rid, '\x05', 5002, false, false, '\xee', 3)).* FROM q) w;
SELECT msg_queue_size || ',' || msg_can_write FROM msg_queues JOIN q ON recipient_id = rid;
SELECT delete_expired_msgs(rid, 1000) FROM q;
SELECT count(*) FROM try_del_msg((SELECT rid FROM q), '\x02');
SELECT encode(r_msg_id, 'hex') FROM try_del_msg((SELECT rid FROM q), '\x03');
SELECT string_agg(encode(r_msg_id, 'hex') || r_msg_quota::text, ',') FROM try_del_peek_msg((SELECT rid FROM q), '\x09');
SELECT msg_queue_size || ',' || msg_can_write FROM msg_queues JOIN q ON recipient_id = rid;
SQL
)
# 3 stored, the 4th is the quota marker, the 5th refused; expiry drops the
# two old ones, never the marker; a wrong id deletes nothing
[ "$(echo "$fx" | tr '\n' '|')" = "falsetrue,falsefalse,falsefalse,truefalse|4,false|2|0|03|04true|1,false|" ] ||
    fail "message functions: $(echo "$fx" | tr '\n' '|')"

# ---- messages only: export and import back ----
out=$(db export --table messages) || fail "export messages: $out"
echo "$out" | grep -q "Export completed: 0 messages" || fail "export messages count: $out"
rm -f "$MSGS"

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS failure(s)"
    exit 1
fi
echo "database import/export: ok (4 queues and 4 messages round-tripped)"
