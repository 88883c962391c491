#!/bin/sh
# The simplex-agent program as two users at two shells, over a real
# smp-server on loopback: alice invites, bob joins, both listen (alice with
# --accept) until CON; then each sends with `send` while its own `listen`
# runs on the same store, and the other's listen prints the message; the
# connections list shows both duplex; alice switches her receiving queue
# (`switch`) and bob's next message arrives on the new one.
# Usage: test_simplex_agent.sh <path to smp-server> <path to simplex-agent>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SERVER=$(abspath "$1")
AGENT=$(abspath "$2")
T=$(mktemp -d /tmp/sx_agent_cli.XXXXXX) || exit 1
PID= LA= LB=
cleanup() {
    for p in $LA $LB $PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
export SMP_SERVER_CFG_PATH="$T/etc" SMP_SERVER_LOG_PATH="$T/var"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
if command -v timeout >/dev/null 2>&1; then TO="timeout 90"; TOS="timeout 290"; else TO=; TOS=; fi
ag() { $TO "$AGENT" "$@"; }
# wait_for FILE PATTERN: up to 60 s for a line of FILE to match
wait_for() {
    i=0
    while [ $i -lt 600 ]; do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "--- $1:"; cat "$1"
    fail "no '$2' in $1"
    return 1
}

"$SERVER" init -y --ip 127.0.0.1 >"$T/init.log" 2>&1 || { cat "$T/init.log"; echo "FAIL: init"; exit 1; }
INI="$T/etc/smp-server.ini"
FP=$(cat "$T/etc/fingerprint")
PW=$(sed -n 's/^create_password: //p' "$INI")
. "$(dirname "$0")/smp_router_start.sh"
start_router
ADDR="smp://$FP:$PW@127.0.0.1:$PORT"
cd "$T" || exit 1

ag --help | grep -q "^Usage: simplex-agent" || fail "--help"
ag --db a.db bogus >/dev/null 2>&1; [ $? = 2 ] || fail "an unknown command is a usage error"

LINK=$(ag --db a.db invite --server "$ADDR") || fail "invite"
case "$LINK" in simplex:/invitation#/?v=2-7\&smp=*) ;; *) fail "invite printed '$LINK'" ;; esac
$TOS "$AGENT" --db a.db listen --accept >a.out 2>a.err &
LA=$!
BCONN=$(ag --db b.db join "$LINK" --server "$ADDR") || fail "join"
[ ${#BCONN} = 16 ] || fail "join printed '$BCONN'"
$TOS "$AGENT" --db b.db listen >b.out 2>b.err &
LB=$!
wait_for a.out '"event":"CONF"'
wait_for a.out '"event":"CON"'
wait_for b.out '"event":"INFO"'
wait_for b.out '"event":"CON"'
ACONN=$(ag --db a.db connections | awk '{print $1}')
[ "$(ag --db a.db connections)" = "$ACONN duplex" ] || fail "alice's connections: $(ag --db a.db connections)"
[ "$(ag --db b.db connections)" = "$BCONN duplex" ] || fail "bob's connections: $(ag --db b.db connections)"

ID=$(ag --db a.db send "$ACONN" "hello from alice") || fail "alice's send"
[ "$ID" = 2 ] || fail "alice's first message id '$ID'"
wait_for b.out '"event":"MSG","conn":"'"$BCONN"'","id":2,"text":"hello from alice","integrity":"OK"'
ID=$(ag --db b.db send "$BCONN" "hi \"alice\"") || fail "bob's send"
[ "$ID" = 3 ] || fail "bob's message id '$ID'"
wait_for a.out '"event":"MSG","conn":"'"$ACONN"'","id":3,"text":"hi \\"alice\\""'
ID=$(ag --db a.db send "$ACONN" "second") || fail "alice's second send"
wait_for b.out '"text":"second"'
[ "$(grep -c '"event":"MSG"' b.out)" = 2 ] || { cat b.out; fail "bob got $(grep -c '"event":"MSG"' b.out) messages, not 2"; }
ag --db a.db send NOSUCHCONNECTION "x" >/dev/null 2>&1 && fail "a send to no connection succeeded"
# a connection id may begin with '-' (base64url): it is an argument, not an
# option, so this is "no such connection" (1), not a usage error (2)
ag --db a.db send -NOSUCHCONNECTIO "-x" >/dev/null 2>&1; [ $? = 1 ] || fail "an id starting with '-'"
ag --db a.db send -- --NOSUCHCONNECTI "x" >/dev/null 2>&1; [ $? = 1 ] || fail "'--' before an id"
ag --db a.db send "$ACONN" "x" --bogus >/dev/null 2>&1; [ $? = 2 ] || fail "an unknown option after the command"

# queue rotation: alice moves her receiving queue while both listens run;
# bob's next message comes on the new queue
ag --db a.db switch "$ACONN" --server "$ADDR" || fail "switch"
wait_for a.out '"event":"SWITCH","conn":"'"$ACONN"'","dir":"rcv","phase":"completed"'
wait_for b.out '"event":"SWITCH","conn":"'"$BCONN"'","dir":"snd","phase":"completed"'
ag --db b.db send "$BCONN" "after the switch" >/dev/null || fail "bob's send after the switch"
wait_for a.out '"text":"after the switch"'
ag --db a.db switch NOSUCHCONNECTION >/dev/null 2>&1; [ $? = 1 ] || fail "a switch of no connection"

[ $FAILS = 0 ] || { echo "--- a.err:"; cat a.err; echo "--- b.err:"; cat b.err; exit 1; }
echo "simplex-agent: all passed"
