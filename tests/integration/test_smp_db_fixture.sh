#!/bin/sh
# Rows written in the reference's encoding, loaded in ours: on a private
# PostgreSQL server (pg_start.sh) our router migrates an empty smp_server
# schema, then tests/data/smp_db/reference_rows.sql (queues and messages
# written by hand in the encoding of the reference's PostgreSQL stores, see
# the file) is loaded and the router started on it (store_queues and
# store_messages: database). The clients hold the private keys of those
# rows: the two waiting messages are received as they were written (the
# second binary, with the notification flag), the secured queue takes a
# new message from its sender, the unsecured one (with a notifier) is
# secured and used, the deleted one refuses a message, and the rows our
# router leaves are checked.
# Usage: test_smp_db_fixture.sh <path to smp-server> <path to smp> <fixture.sql>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SERVER=$(abspath "$1")
SMP=$(abspath "$2")
FIXTURE=$(abspath "$3")
T=$(mktemp -d /tmp/sx_smp_dbfx.XXXXXX) || exit 1
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

pg_start "$T/pg" || exit 1
"$SERVER" init -y --disable-web --ip 127.0.0.1 >"$T/init.log" 2>&1 || { cat "$T/init.log"; echo "FAIL: init"; exit 1; }
INI="$T/etc/smp-server.ini"
CONN_SED=$(printf '%s' "$PG_CONN" | sed 's/[&|\\]/\\&/g')
# the fixture's messages are dated 2025-12-06: kept for a century
sed -i "s/^store_queues: .*/store_queues: database/; s/^store_messages: .*/store_messages: database/;
        s/^expire_messages_days: .*/expire_messages_days: 36500/;
        s|^#* *db_connection: .*|db_connection: $CONN_SED|; s/^#* *db_pool_size: .*/db_pool_size: 4/" "$INI"
grep -qx "expire_messages_days: 36500" "$INI" || { echo "FAIL: no expire_messages_days key in the ini"; exit 1; }
FP=$(cat "$T/etc/fingerprint")
. "$(dirname "$0")/smp_router_start.sh"
stop_router() { # $1: signal (see test_smp_journal_store.sh for timeout's child)
    target=$PID
    if [ -n "$TOS" ]; then
        target=$(pgrep -P "$PID" | head -n 1)
        [ -n "$target" ] || { fail "no router process under $PID"; target=$PID; }
    fi
    kill "-$1" "$target"
    wait "$PID" 2>/dev/null
    PID=
}

q "CREATE SCHEMA smp_server" >/dev/null || { echo "FAIL: create schema"; exit 1; }
start_router # migrates the empty schema
stop_router INT
pg_psql <"$FIXTURE" >"$T/load.log" 2>&1 || { cat "$T/load.log"; echo "FAIL: the fixture did not load"; exit 1; }
[ "$(q "SELECT count(*) FROM smp_server.msg_queues")" = 3 ] || fail "3 rows in msg_queues after the load"
start_router
grep -q "Database: 2 queues" "$T/server.log" || fail "2 live queues in the database: $(grep Database "$T/server.log")"

# the queue files: the private halves of the fixture's keys
SRV="smp://$FP@127.0.0.1:$PORT"
cd "$T" || exit 1
rfile() { # $1 file, $2 recipient id, $3 sender id, $4 recipient key, $5 dh secret
    printf 'version: 1\nrole: recipient\nserver: %s\nrecipient_id: %s\nsender_id: %s\nrecipient_key: %s\ndh_secret: %s\n' \
        "$SRV" "$2" "$3" "$4" "$5" >"$1"
    chmod 600 "$1"
}
sfile() { # $1 file, $2 sender id, $3 sender key or none
    printf 'version: 1\nrole: sender\nserver: %s\nsender_id: %s\nsender_key: %s\n' "$SRV" "$2" "$3" >"$1"
    chmod 600 "$1"
}
rfile r1.queue 5onAQpoh35t-gTKa6eH-8JrV-pHANYH1 3Npg3r3C-nZqdasAzsYA1RsyLBLCmVE4 \
    MC4CAQAwBQYDK2VwBCIEIPyIdrEYcJFjS-rx3dJa75DfS7lyHUnuoxcpeLl03X8d pcuKzIQciRhiUpyq6hqJqOqGGQ0Xi0ABq6MIkPI7Hv0=
sfile s1.queue 3Npg3r3C-nZqdasAzsYA1RsyLBLCmVE4 MC4CAQAwBQYDK2VwBCIEIMUu5RoxPMF7qoZJvccK6_VncIc62Gw0jCycqzy9Dbbk
rfile r2.queue S-8jLMYf82yzUTD8Jcobu7ofhvuRPcIq SiJamosNcN3VSHs_xRnPkO6GycHqjJ0C \
    MC4CAQAwBQYDK2VwBCIEIL41hAKDlKa-spMYBbg_cOw8ZLoEoe0ZsmZ02I2_a32V Aahywd2e4V375YWaLp83tR5IBceSpIHH1IQ3LnxtBG0=
sfile s2.queue SiJamosNcN3VSHs_xRnPkO6GycHqjJ0C none
sfile s3.queue 84rkvn0Fv75Eih285wL0LuvG_tjbqqzZ none

# the two messages as the rows hold them: length (4 bytes) and body each
python3 -c '
import struct, sys
b1 = b"the first message, in a row as the reference writes it"
b2 = b"the second one \x00\x01\xff binary"
sys.stdout.buffer.write(struct.pack(">I", len(b1)) + b1 + struct.pack(">I", len(b2)) + b2)' >want1.bin
smp recv r1.queue --count 2 --timeout 30 --raw >got1.bin 2>recv.err || fail "recv the fixture's messages: $(cat recv.err)"
cmp -s want1.bin got1.bin || fail "the fixture's messages: $(od -c got1.bin | head -5)"
[ "$(q "SELECT count(*) FROM smp_server.messages")" = 0 ] || fail "messages left after both were acknowledged"
[ "$(q "SELECT msg_queue_size FROM smp_server.msg_queues WHERE sender_id = decode('dcda60debdc2fa766a75ab00cec600d51b322c12c2995138', 'hex')")" = 0 ] ||
    fail "msg_queue_size of queue 1 after both were acknowledged"
smp send s1.queue "ours after theirs" || fail "send with the fixture's sender key"
smp recv r1.queue --count 1 --timeout 30 >got1b.txt 2>recv.err || fail "recv ours: $(cat recv.err)"
[ "$(cat got1b.txt)" = "ours after theirs" ] || fail "queue 1 gave: $(cat got1b.txt)"

smp secure s2.queue >/dev/null || fail "secure the fixture's unsecured queue"
smp send s2.queue "to the queue with a notifier" || fail "send to queue 2"
smp recv r2.queue --count 1 --timeout 30 >got2.txt 2>recv.err || fail "recv queue 2: $(cat recv.err)"
[ "$(cat got2.txt)" = "to the queue with a notifier" ] || fail "queue 2 gave: $(cat got2.txt)"
row=$(q "SELECT encode(notifier_id, 'hex'), sender_key IS NOT NULL, status FROM smp_server.msg_queues
         WHERE recipient_id = decode('4bef232cc61ff36cb35130fc25ca1bbbba1f86fb913dc22a', 'hex')")
echo "$row" | grep -q "|t|active$" || fail "queue 2's row after KEY: $row"
[ "$(q "SELECT encode(notifier_id, 'base64') FROM smp_server.msg_queues WHERE notifier_id IS NOT NULL")" = \
  "$(printf '%s' '-on6tyUihhOETFJbfXPBGaOLBh5SoXPy' | tr '_-' '/+')" ] || fail "queue 2's notifier id changed"
out=$(smp send s3.queue "to the deleted" 2>&1) && fail "send to the fixture's deleted queue: $out"
stop_router INT

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS failure(s)"
    exit 1
fi
echo "the reference's rows: ok (loaded, both messages received as written, the queues used)"
