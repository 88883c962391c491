#!/bin/sh
# The simplex-agent program as two users at two shells, over a real
# smp-server on loopback: alice invites, bob joins, both listen (alice with
# --accept, bob with --receipts) until CON; then each sends with `send`
# while its own `listen` runs on the same store, and the other's listen
# prints the message; bob's receipt of alice's message reaches alice's
# listen as RCVD; the connections list shows both duplex. Then contact
# addresses: carol's address joined by dave (accepted with `accept`,
# messages both ways) and erin (rejected with `reject`); alice's address
# joined by frank, accepted by alice's running `listen --accept`.
# `invite --qr` prints the link's QR code, read back with zbarimg; on a
# terminal it comes without --qr.
# Alice also switches her receiving queue (`switch`) and bob's next
# message arrives on the new one.
# Then short links: `invite --short` of an invitation and of an address,
# each joined by its short link; an address's on a --preset router.
# Usage: test_simplex_agent.sh <path to smp-server> <path to simplex-agent>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SERVER=$(abspath "$1")
AGENT=$(abspath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/sx_agent_cli.XXXXXX) || exit 1
PID= LA= LB= LC= LD= LF=
cleanup() {
    for p in $LA $LB $LC $LD $LF $PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
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

"$SERVER" init -y --disable-web --ip 127.0.0.1 >"$T/init.log" 2>&1 || { cat "$T/init.log"; echo "FAIL: init"; exit 1; }
INI="$T/etc/smp-server.ini"
FP=$(cat "$T/etc/fingerprint")
PW=$(sed -n 's/^create_password: //p' "$INI")
. "$(dirname "$0")/smp_router_start.sh"
start_router
ADDR="smp://$FP:$PW@127.0.0.1:$PORT"
cd "$T" || exit 1

ag --help | grep -q "^Usage: simplex-agent" || fail "--help"
ag --db a.db bogus >/dev/null 2>&1; [ $? = 2 ] || fail "an unknown command is a usage error"

# invite --qr: the link, then the same link as a QR code that zbarimg reads.
ag --db q.db invite --qr --server "$ADDR" >qr.out || fail "invite --qr"
python3 "$HERE/qr_decode.py" qr.out "$T" >qr.txt || fail "the QR code does not decode"
QLINK=$(head -n 1 qr.out)
case "$QLINK" in simplex:/invitation#/?v=2-7\&smp=*) ;; *) fail "invite --qr printed '$QLINK'" ;; esac
[ "$(cat qr.txt)" = "$QLINK" ] || fail "the QR code is not the link"
# On a terminal (a pseudo-terminal from script(1)) the QR code comes
# without --qr; --no-qr leaves it out there.
if command -v script >/dev/null 2>&1; then
    script -q -e -c "$AGENT --db q.db invite --server $ADDR" /dev/null </dev/null >tty.out 2>&1 ||
        fail "invite on a terminal"
    grep -q "^simplex:/invitation#" tty.out || fail "invite on a terminal printed no link"
    grep -q "qr begin" tty.out || fail "invite on a terminal printed no QR code"
    script -q -e -c "$AGENT --db q.db invite --no-qr --server $ADDR" /dev/null </dev/null >tty2.out 2>&1 ||
        fail "invite --no-qr on a terminal"
    grep -q "^simplex:/invitation#" tty2.out || fail "invite --no-qr printed no link"
    grep -q "qr begin" tty2.out && fail "invite --no-qr printed a QR code"
fi
ag --db q.db invite --server "$ADDR" | grep -q "qr begin" && fail "a QR code into a pipe without --qr"

LINK=$(ag --db a.db invite --server "$ADDR") || fail "invite"
case "$LINK" in simplex:/invitation#/?v=2-7\&smp=*) ;; *) fail "invite printed '$LINK'" ;; esac
$TOS "$AGENT" --db a.db listen --accept --server "$ADDR" >a.out 2>a.err &
LA=$!
BCONN=$(ag --db b.db join "$LINK" --server "$ADDR") || fail "join"
[ ${#BCONN} = 16 ] || fail "join printed '$BCONN'"
$TOS "$AGENT" --db b.db listen --receipts >b.out 2>b.err &
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
# bob's receipt (his message 3, alice's 3) confirms alice's message 2
wait_for a.out '"event":"RCVD","conn":"'"$ACONN"'","id":3,"receipts":\[{"id":2,"status":"ok"}\]'
ID=$(ag --db b.db send "$BCONN" "hi \"alice\"") || fail "bob's send"
[ "$ID" = 4 ] || fail "bob's message id '$ID'"
wait_for a.out '"event":"MSG","conn":"'"$ACONN"'","id":4,"text":"hi \\"alice\\""'
ID=$(ag --db a.db send "$ACONN" "second") || fail "alice's second send"
wait_for b.out '"text":"second"'
[ "$(grep -c '"event":"MSG"' b.out)" = 2 ] || { cat b.out; fail "bob got $(grep -c '"event":"MSG"' b.out) messages, not 2"; }
ag --db a.db send NOSUCHCONNECTION "x" >/dev/null 2>&1 && fail "a send to no connection succeeded"
# a connection id may begin with '-' (base64url): it is an argument, not an
# option, so this is "no such connection" (1), not a usage error (2)
ag --db a.db send -NOSUCHCONNECTIO "-x" >/dev/null 2>&1; [ $? = 1 ] || fail "an id starting with '-'"
ag --db a.db send -- --NOSUCHCONNECTI "x" >/dev/null 2>&1; [ $? = 1 ] || fail "'--' before an id"
ag --db a.db send "$ACONN" "x" --bogus >/dev/null 2>&1; [ $? = 2 ] || fail "an unknown option after the command"
# private routing: a bad mode is a usage error, a mode without --router
# cannot open the agent, and a send through the router itself as the proxy
ag --db a.db --proxy-mode sometimes connections >/dev/null 2>&1; [ $? = 2 ] || fail "a bad --proxy-mode"
ag --db a.db --proxy-fallback maybe connections >/dev/null 2>&1; [ $? = 2 ] || fail "a bad --proxy-fallback"
ag --db a.db --proxy-mode always connections >/dev/null 2>&1; [ $? = 1 ] || fail "--proxy-mode without --router"
ag --db a.db send "$ACONN" "through a proxy" --proxy-mode always --router "$ADDR" --proxy-fallback prohibit \
    >/dev/null || fail "a proxied send"
wait_for b.out '"text":"through a proxy"'
# post-quantum switched off for the next messages (the connection was made
# with it), and a bad --pq value
ag --db a.db send "$ACONN" "x" --pq maybe >/dev/null 2>&1; [ $? = 2 ] || fail "a bad --pq"
ag --db a.db send "$ACONN" "pq off" --pq off >/dev/null || fail "a send with --pq off"
wait_for b.out '"text":"pq off"'

# ---- contact addresses ----
CLINK=$(ag --db c.db invite --contact --server "$ADDR") || fail "invite --contact"
case "$CLINK" in simplex:/contact#/?v=2-7\&smp=*) ;; *) fail "invite --contact printed '$CLINK'" ;; esac
CADDR=$(ag --db c.db connections | awk '{print $1}')
[ "$(ag --db c.db connections)" = "$CADDR contact" ] || fail "carol's address: $(ag --db c.db connections)"
$TOS "$AGENT" --db c.db listen >c.out 2>c.err &
LC=$!
DCONN=$(ag --db d.db join "$CLINK" --server "$ADDR") || fail "dave's join"
[ ${#DCONN} = 16 ] || fail "dave's join printed '$DCONN'"
$TOS "$AGENT" --db d.db listen --accept >d.out 2>d.err &
LD=$!
wait_for c.out '"event":"REQ","conn":"'"$CADDR"'","inv":"[A-Za-z0-9_-]*","info":"","pq":true'
INV=$(sed -n 's/.*"event":"REQ".*"inv":"\([A-Za-z0-9_-]*\)".*/\1/p' c.out | head -n 1)
[ ${#INV} = 16 ] || fail "REQ's inv '$INV'"
CCONN=$(ag --db c.db accept "$INV" --server "$ADDR") || fail "accept"
[ ${#CCONN} = 16 ] || fail "accept printed '$CCONN'"
ag --db c.db accept "$INV" --server "$ADDR" >/dev/null 2>&1; [ $? = 1 ] || fail "a second accept of one request"
wait_for d.out '"event":"CONF","conn":"'"$DCONN"'"'
wait_for d.out '"event":"CON","conn":"'"$DCONN"'"'
wait_for c.out '"event":"CON","conn":"'"$CCONN"'"'
ID=$(ag --db c.db send "$CCONN" "hello dave") || fail "carol's send"
[ "$ID" = 2 ] || fail "carol's first message id '$ID'"
wait_for d.out '"event":"MSG","conn":"'"$DCONN"'","id":2,"text":"hello dave"'
ID=$(ag --db d.db send "$DCONN" "hello carol") || fail "dave's send"
wait_for c.out '"event":"MSG","conn":"'"$CCONN"'","id":3,"text":"hello carol"'
ECONN=$(ag --db e.db join "$CLINK" --server "$ADDR") || fail "erin's join"
i=0
while [ "$(grep -c '"event":"REQ"' c.out)" -lt 2 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
INV2=$(sed -n 's/.*"event":"REQ".*"inv":"\([A-Za-z0-9_-]*\)".*/\1/p' c.out | sed -n 2p)
[ ${#INV2} = 16 ] || fail "erin's REQ: '$INV2'"
ag --db c.db reject "$INV2" || fail "reject"
ag --db c.db reject "$INV2" >/dev/null 2>&1; [ $? = 1 ] || fail "a second reject of one request"
[ "$(ag --db e.db connections)" = "$ECONN rcv" ] || fail "erin's connections: $(ag --db e.db connections)"
# listen --accept accepts requests too
ALINK=$(ag --db a.db invite --contact --server "$ADDR") || fail "alice's invite --contact"
FCONN=$(ag --db f.db join "$ALINK" --server "$ADDR") || fail "frank's join"
$TOS "$AGENT" --db f.db listen --accept >f.out 2>f.err &
LF=$!
wait_for a.out '"event":"REQ"'
wait_for f.out '"event":"CON","conn":"'"$FCONN"'"'
i=0
while [ "$(grep -c '"event":"CON"' a.out)" -lt 2 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(grep -c '"event":"CON"' a.out)" = 2 ] || { cat a.out; fail "alice's second CON"; }
# short links: an invitation joined by its short link (alice's listen
# allows the confirmation: her third CON), an address's short link (a REQ)
SLINK=$(ag --db a.db invite --short --server "$ADDR") || fail "invite --short"
case "$SLINK" in https://127.0.0.1/i#*\?p=*\&c=*) ;; *) fail "invite --short printed '$SLINK'" ;; esac
GCONN=$(ag --db g.db join "$SLINK" --server "$ADDR") || fail "join of a short link"
[ ${#GCONN} = 16 ] || fail "join of a short link printed '$GCONN'"
ag --db h.db join "$SLINK" >/dev/null 2>&1 && fail "a second join of a one-time short link"
i=0
while [ "$(grep -c '"event":"CON"' a.out)" -lt 3 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(grep -c '"event":"CON"' a.out)" = 3 ] || { cat a.out; fail "alice's CON through the short link"; }
SADDR=$(ag --db a.db invite --contact --short --server "$ADDR") || fail "invite --contact --short"
case "$SADDR" in https://127.0.0.1/a#*\?p=*\&c=*) ;; *) fail "invite --contact --short printed '$SADDR'" ;; esac
ag --db h.db join "$SADDR" --server "$ADDR" >/dev/null || fail "join of an address's short link"
i=0
while [ "$(grep -c '"event":"REQ"' a.out)" -lt 2 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(grep -c '"event":"REQ"' a.out)" = 2 ] || { cat a.out; fail "alice's REQ through the short link"; }
# a preset router: the short link names it by host alone, joined with the
# same --preset (not without)
PADDR=$(ag --db a.db invite --contact --short --server "$ADDR" --preset "$ADDR") || fail "invite with --preset"
case "$PADDR" in https://127.0.0.1/a#*\?*) fail "invite with --preset printed '$PADDR'" ;; https://127.0.0.1/a#*) ;; *) fail "invite with --preset printed '$PADDR'" ;; esac
ag --db h.db join "$PADDR" --server "$ADDR" >/dev/null 2>&1 && fail "a join of a preset router's link without --preset"
ag --db h.db join "$PADDR" --server "$ADDR" --preset "$ADDR" >/dev/null || fail "join with --preset"
i=0
while [ "$(grep -c '"event":"REQ"' a.out)" -lt 3 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(grep -c '"event":"REQ"' a.out)" = 3 ] || { cat a.out; fail "alice's REQ through the preset router's link"; }

# queue rotation: alice moves her receiving queue while both listens run;
# bob's next message comes on the new queue
ag --db a.db switch "$ACONN" --server "$ADDR" || fail "switch"
wait_for a.out '"event":"SWITCH","conn":"'"$ACONN"'","dir":"rcv","phase":"completed"'
wait_for b.out '"event":"SWITCH","conn":"'"$BCONN"'","dir":"snd","phase":"completed"'
ag --db b.db send "$BCONN" "after the switch" >/dev/null || fail "bob's send after the switch"
wait_for a.out '"text":"after the switch"'
ag --db a.db switch NOSUCHCONNECTION >/dev/null 2>&1; [ $? = 1 ] || fail "a switch of no connection"

[ $FAILS = 0 ] || {
    for f in a b c d f; do echo "--- $f.err:"; cat $f.err; done
    exit 1
}
echo "simplex-agent: all passed"
