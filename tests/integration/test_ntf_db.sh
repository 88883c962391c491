#!/bin/sh
# The NTF router's PostgreSQL store on a private PostgreSQL server of its
# own (pg_start.sh): itest_ntf_db (test_ntf_db.c) registers, verifies,
# subscribes and restarts the router on it; then the tables are read here:
# the reference's migrations recorded by name, the rows of the active token
# (its periodic interval), its subscription and SMP router, its last
# notification, and no row of the deleted tokens.
# Usage: test_ntf_db.sh <itest_ntf_db> <apns-standin>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
ITEST=$(abspath "$1")
STANDIN=$(abspath "$2")
T=$(mktemp -d /tmp/sx_ntf_db.XXXXXX) || exit 1
. "$(dirname "$0")/pg_start.sh"
cleanup() {
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
"$ITEST" "$STANDIN" "$PG_CONN" || fail "itest_ntf_db"

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

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS failure(s)"
    exit 1
fi
echo "OK"
