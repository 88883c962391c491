#!/bin/sh
# The NTF router's PostgreSQL store on a private PostgreSQL server of its
# own (pg_start.sh): itest_ntf_db (test_ntf_db.c) registers, verifies,
# subscribes and restarts the router on it; then the tables are read here:
# the reference's migrations recorded by name, the rows of the active token
# (its periodic interval), its subscription and SMP router, its last
# notification, and no row of the deleted tokens; the ntf-server killed
# with SIGKILL keeps its last notifications (test_kill9). Last, the ntf-server
# program with db_connection and db_schema in its INI: refused while the
# schema is absent, then started on it (migrated, no store log written).
# Usage: test_ntf_db.sh <itest_ntf_db> <apns-standin> <ntf-server>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
ITEST=$(abspath "$1")
STANDIN=$(abspath "$2")
SRV=$(abspath "$3")
T=$(mktemp -d /tmp/sx_ntf_db.XXXXXX) || exit 1
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
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
q() { pg_psql -t -A -c "$1"; }

pg_start "$T/pg" || exit 1
q "CREATE SCHEMA ntf_server" >/dev/null || { echo "FAIL: create schema"; exit 1; }
q "CREATE SCHEMA ntf_kill" >/dev/null || { echo "FAIL: create schema ntf_kill"; exit 1; }
q "CREATE SCHEMA ntf_svc" >/dev/null || { echo "FAIL: create schema ntf_svc"; exit 1; }
"$ITEST" "$STANDIN" "$PG_CONN" "$SRV" || fail "itest_ntf_db"
# the kill -9 run: the token's two last notifications are rows
got=$(q "SELECT count(*) FROM ntf_kill.last_notifications")
[ "$got" = "2" ] || fail "ntf_kill last_notifications: '$got'"

got=$(q "SELECT string_agg(name, ' ' ORDER BY name) FROM ntf_server.migrations")
want="20250417_initial 20250517_service_cert 20250830_queue_ids_hash 20251219_service_cert_per_server"
[ "$got" = "$want" ] || fail "migrations: '$got'"
got=$(q "SELECT count(*), min(status), min(cron_interval), min(push_provider), min(convert_from(push_provider_token, 'UTF8')) FROM ntf_server.tokens")
[ "$got" = "1|ACTIVE|20|apns_test|0a1b2c3d4e5f0a1b" ] || fail "tokens: '$got'"
got=$(q "SELECT count(*) FROM ntf_server.subscriptions s JOIN ntf_server.tokens t USING (token_id)")
[ "$got" = "1" ] || fail "subscriptions: '$got'"
got=$(q "SELECT smp_host || ' ' || smp_port || ' ' || length(smp_keyhash) FROM ntf_server.smp_servers")
[ "$got" = "127.0.0.1 1 44" ] || fail "smp_servers: '$got'"
got=$(q "SELECT count(*), min(octet_length(nmsg_nonce)), min(extract(epoch FROM sent_at)::bigint) FROM ntf_server.last_notifications")
[ "$got" = "1|24|1767225600" ] || fail "last_notifications: '$got'"
# the deleted tokens (ffee..., 1234...) left no row
got=$(q "SELECT count(*) FROM ntf_server.tokens WHERE push_provider_token IN ('ffee0011ffee0011'::bytea, '1234123412341234'::bytea)")
[ "$got" = "0" ] || fail "deleted tokens: '$got'"

# the program, on schema ntf_prog
export NTF_SERVER_CFG_PATH="$T/etc" NTF_SERVER_LOG_PATH="$T/var"
"$SRV" init --ip 127.0.0.1 >"$T/init.log" 2>&1 || fail "init: $(cat "$T/init.log")"
INI="$T/etc/ntf-server.ini"
port=$(pg_free_port)
CONN_SED=$(printf '%s' "$PG_CONN" | sed 's/[&|\\]/\\&/g')
sed -i "s/^port: .*/port: $port/; s|^#* *db_connection: .*|db_connection: $CONN_SED|;
        s/^#* *db_schema: .*/db_schema: ntf_prog/; s/^#* *db_pool_size: .*/db_pool_size: 2/" "$INI"
grep -q "^db_schema: ntf_prog" "$INI" || fail "no db_schema key in the ini"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/AuthKey.p8" 2>/dev/null
export APNS_KEY_FILE="$T/AuthKey.p8" APNS_KEY_ID=KEY1234567
timeout 60 "$SRV" start >"$T/noschema" 2>&1 && fail "start without the schema"
grep -q "create schema ntf_prog" "$T/noschema" || fail "no-schema refusal: $(cat "$T/noschema")"
q "CREATE SCHEMA ntf_prog" >/dev/null || fail "create schema ntf_prog"
"$SRV" start >"$T/start" 2>&1 &
PID=$!
i=0
while [ $i -lt 300 ] && ! grep -q "Serving NTF protocol on port $port" "$T/start"; do sleep 0.1; i=$((i + 1)); done
grep -q "Serving NTF protocol on port $port" "$T/start" || fail "start: $(cat "$T/start")"
grep -q "Store: PostgreSQL database, schema ntf_prog" "$T/start" || fail "start: no database line"
kill -INT "$PID"
wait "$PID" || fail "start did not exit 0 on SIGINT"
PID=
got=$(q "SELECT count(*) FROM ntf_prog.migrations")
[ "$got" = "4" ] || fail "ntf_prog migrations: '$got'"
[ -e "$T/var/ntf-server-store.log" ] && fail "the store log was written with the database store"

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS failure(s)"
    exit 1
fi
echo "OK"
