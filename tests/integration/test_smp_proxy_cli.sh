#!/bin/sh
# Black-box test of `smp send --proxy` and `smp secure --proxy` with two real
# smp-server processes on loopback: A, with a password, forwards to B, where
# the queue is; the recipient on B receives what went through A; `smp send
# --proxy-mode` goes through A or not as the mode says. Also: A's
# password missing (PROXY BASIC_AUTH), B down (PROXY BROKER NETWORK), and a
# queue address whose fingerprint is not B's. A's statistics on its control
# port count each case as the reference does (own_server_domains: 0.0.1
# makes B at 127.0.0.1 one of A's own, B at 127.0.0.2 not), and B counts the
# forwarded commands it ran.
# Usage: test_smp_proxy_cli.sh <path to smp-server> <path to smp>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SERVER=$(abspath "$1")
SMP=$(abspath "$2")
T=$(mktemp -d /tmp/sx_smp_proxy_cli.XXXXXX) || exit 1
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
umask 022
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
if command -v timeout >/dev/null 2>&1; then TO="timeout 60"; TOS="timeout 290"; else TO=; TOS=; fi
smp() { $TO "$SMP" "$@"; }
. "$(dirname "$0")/smp_named_routers.sh"
# own_server_domains: 0.0.1 makes B at 127.0.0.1 one of A's own
INI_LINES="own_server_domains: 0.0.1"

start_router A
start_router B --no-password
[ -n "$PW_A" ] || { echo "FAIL: A has no password"; exit 1; }
A="smp://$FP_A:$PW_A@127.0.0.1:$PORT_A"
A_NOPW="smp://$FP_A@127.0.0.1:$PORT_A"
B="smp://$FP_B@127.0.0.1:$PORT_B"
cd "$T" || exit 1

smp create "$B" --out r.queue --sender-out s.queue >/dev/null || fail "create on B"
smp secure --proxy "$A" s.queue || fail "secure through A"
grep -q "^sender_key: MC" s.queue || fail "secure through A stored the key"
smp send --proxy "$A" s.queue "hello through A" || fail "send through A"
printf 'from stdin\n' | smp send --proxy "$A" s.queue - || fail "send stdin through A"
smp send --proxy "$A" s.queue "-5 degrees" || fail "send a message starting with -"
out=$(smp recv r.queue --count 3 --timeout 10) || fail "recv on B"
[ "$out" = "$(printf 'hello through A\nfrom stdin\n\n-5 degrees')" ] || fail "received '$out'"
grep -q "proxy: connected to relay 127.0.0.1:$PORT_B" A/server.log || fail "A's log has no relay connection"
# one secure and three sends: a PRXY and a PFWD each, to an own router
expect_stat "$CTL_A" "pRelays: requests=4, successes=4, errorsConnect=0, errorsCompat=0, errorsOther=0"
expect_stat "$CTL_A" "pRelaysOwn: requests=4, successes=4, errorsConnect=0, errorsCompat=0, errorsOther=0"
expect_stat "$CTL_A" "pMsgFwds: requests=4, successes=4, errorsConnect=0, errorsCompat=0, errorsOther=0"
expect_stat "$CTL_A" "pMsgFwdsOwn: requests=4, successes=4, errorsConnect=0, errorsCompat=0, errorsOther=0"
expect_stat "$CTL_A" "pMsgFwdsRecv: 0"
expect_stat "$CTL_B" "pMsgFwdsRecv: 4"
expect_stat "$CTL_B" "pRelays: requests=0, successes=0, errorsConnect=0, errorsCompat=0, errorsOther=0"

# B as 127.0.0.2: not one of A's own.
sed "s|@127.0.0.1:|@127.0.0.2:|" s.queue >other.queue
chmod 600 other.queue
smp send --proxy "$A" other.queue "not own" || fail "send through A to 127.0.0.2"
out=$(smp recv r.queue --count 1 --timeout 10) || fail "recv of the message sent to 127.0.0.2"
[ "$out" = "not own" ] || fail "received '$out' from 127.0.0.2"
expect_stat "$CTL_A" "pRelays: requests=5, successes=5, errorsConnect=0, errorsCompat=0, errorsOther=0"
expect_stat "$CTL_A" "pRelaysOwn: requests=4, successes=4, errorsConnect=0, errorsCompat=0, errorsOther=0"
expect_stat "$CTL_A" "pMsgFwds: requests=5, successes=5, errorsConnect=0, errorsCompat=0, errorsOther=0"
expect_stat "$CTL_A" "pMsgFwdsOwn: requests=4, successes=4, errorsConnect=0, errorsCompat=0, errorsOther=0"
expect_stat "$CTL_B" "pMsgFwdsRecv: 5"

# --proxy-mode: B's host known -> directly; not known -> through A
smp send --proxy "$A" --proxy-mode unknown --known-router 127.0.0.1 s.queue "known" || fail "send, B known"
expect_stat "$CTL_B" "pMsgFwdsRecv: 5"
smp send --proxy "$A" --proxy-mode unknown --known-router example.com s.queue "unknown" || fail "send, B unknown"
expect_stat "$CTL_B" "pMsgFwdsRecv: 6"
smp send --proxy "$A" --proxy-mode never --proxy-fallback prohibit s.queue "never" || fail "send, never"
expect_stat "$CTL_B" "pMsgFwdsRecv: 6"
out=$(smp recv r.queue --count 3 --timeout 10) || fail "recv of the --proxy-mode messages"
[ "$out" = "$(printf 'known\nunknown\nnever')" ] || fail "received '$out' after --proxy-mode"
smp send --proxy-mode always s.queue "x" 2>/dev/null; rc=$?
[ $rc = 2 ] || fail "--proxy-mode without --proxy: exit $rc"
smp send --proxy "$A" --proxy-mode sometimes s.queue "x" 2>/dev/null; rc=$?
[ $rc = 2 ] || fail "--proxy-mode sometimes: exit $rc"
smp secure --proxy "$A" --proxy-mode always s.queue 2>/dev/null; rc=$?
[ $rc = 2 ] || fail "secure --proxy-mode: exit $rc"
expect_stat "$CTL_A" "pRelays: requests=6, successes=6, errorsConnect=0, errorsCompat=0, errorsOther=0"
expect_stat "$CTL_A" "pMsgFwdsOwn: requests=5, successes=5, errorsConnect=0, errorsCompat=0, errorsOther=0"

# A's password is needed for proxying as for creating queues.
out=$(smp send --proxy "$A_NOPW" s.queue "no password" 2>&1) && fail "send through A without its password succeeded"
echo "$out" | grep -q "PROXY BASIC_AUTH" || fail "no password message '$out'"

# A queue address with another router's fingerprint.
sed "s|^server: .*|server: smp://$FP_A@127.0.0.1:$PORT_B|" s.queue >wrongfp.queue
chmod 600 wrongfp.queue
out=$(smp send --proxy "$A" wrongfp.queue "x" 2>&1) && fail "send with a wrong fingerprint succeeded"
echo "$out" | grep -q "PROXY BROKER" || fail "wrong fingerprint message '$out'"
# a PRXY that failed (the identity check: not a connection error)
expect_stat "$CTL_A" "pRelays: requests=7, successes=6, errorsConnect=0, errorsCompat=0, errorsOther=1"
expect_stat "$CTL_A" "pMsgFwds: requests=6, successes=6, errorsConnect=0, errorsCompat=0, errorsOther=0"

# B down: A cannot forward.
kill "$PID_B"
wait "$PID_B" 2>/dev/null
# A has seen its connections to B close (one per worker that used it), so
# that the next PRXY connects
i=0
relays=$(grep -c "proxy: connected to relay 127.0.0.[12]:$PORT_B" A/server.log)
while [ $i -lt 100 ] && [ "$(grep -c "proxy: relay 127.0.0.[12]:$PORT_B closed" A/server.log)" -lt "$relays" ]; do
    sleep 0.1
    i=$((i + 1))
done
out=$(smp send --proxy "$A" s.queue "B is down" 2>&1); rc=$?
[ $rc = 1 ] || fail "send with B down: exit $rc ($out)"
echo "$out" | grep -q "PROXY BROKER NETWORK" || fail "B down message '$out'"
expect_stat "$CTL_A" "pRelays: requests=8, successes=6, errorsConnect=1, errorsCompat=0, errorsOther=1"
expect_stat "$CTL_A" "pRelaysOwn: requests=7, successes=5, errorsConnect=1, errorsCompat=0, errorsOther=1"

kill -0 "$PID_A" 2>/dev/null || fail "A is no longer running"
if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS check(s) failed"
    echo "---- A's log"; tail -30 A/server.log
    exit 1
fi
echo "all checks passed"
