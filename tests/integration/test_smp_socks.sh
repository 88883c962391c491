#!/bin/sh
# Black-box test of SOCKS5 (RFC 1928) with real smp-server processes and a
# small SOCKS5 server (socks5_server.py, which logs each CONNECT: address
# type, host:port, username):
#   - router A with [PROXY] socks_proxy and socks_mode: always forwards to B
#     through the SOCKS server, asking for B's host by name ("localhost"),
#     with a username that isolates A's connections (the reference's: the
#     base64 of SHA-256 over "1:<start time>");
#   - router O with socks_mode: onion and host_mode: onion forwards to a
#     queue whose router address has an onion host and a public one: the
#     onion name goes to the SOCKS server, which alone resolves it; a
#     destination with a public host only is reached directly;
#   - the smp tool (blocking client and pool) through the SOCKS server
#     (SMP_SOCKS_PROXY): its own connections by name, isolated per session;
#     "@" offers no authentication; SMP_SOCKS_MODE=onion leaves public hosts
#     direct; a SOCKS server that is not there fails the command;
#   - host modes (SMP_HOST_MODE, SMP_REQUIRED_HOST_MODE) with an address
#     whose public host comes first and an onion host second: the onion
#     name asked of the SOCKS server with a proxy, the public host without
#     one or with host mode public; blocking client and pool.
# Usage: test_smp_socks.sh <path to smp-server> <path to smp>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SERVER=$(abspath "$1")
SMP=$(abspath "$2")
T=$(mktemp -d /tmp/sx_smp_socks.XXXXXX) || exit 1
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


# the SOCKS server
python3 "$(dirname "$0")/socks5_server.py" "$T/socks.port" "$T/socks.log" &
SOCKS_PID=$!
PIDS="$PIDS $SOCKS_PID"
i=0
while [ ! -s "$T/socks.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/socks.port" ] || { echo "FAIL: the SOCKS server did not start"; exit 1; }
SP=$(cat "$T/socks.port")
# socks_seen PATTERN: lines of the SOCKS log matching (grep -E)
socks_seen() { grep -cE "$1" "$T/socks.log"; }

INI_LINES=
start_router B --no-password
INI_LINES="socks_proxy: 127.0.0.1:$SP
socks_mode: always"
start_router A --no-password
INI_LINES="socks_proxy: 127.0.0.1:$SP
socks_mode: onion
host_mode: onion"
start_router O --no-password
INI_LINES=
A="smp://$FP_A@127.0.0.1:$PORT_A"
O="smp://$FP_O@127.0.0.1:$PORT_O"
B="smp://$FP_B@127.0.0.1:$PORT_B"
cd "$T" || exit 1

smp create "$B" --out r.queue --sender-out s.queue >/dev/null || fail "create on B"
# B by name: the SOCKS server is asked for "localhost"
sed "s|@127.0.0.1:$PORT_B|@localhost:$PORT_B|" s.queue >byname.queue
chmod 600 byname.queue
smp send --proxy "$A" byname.queue "via A and SOCKS" || fail "send through A"
out=$(smp recv r.queue --count 1 --timeout 10) || fail "recv on B"
[ "$out" = "via A and SOCKS" ] || fail "received '$out'"
[ "$(socks_seen "^3 localhost:$PORT_B [A-Za-z0-9+/]{43}=\$")" -ge 1 ] ||
    fail "A's relay connection not through SOCKS by name: $(cat socks.log)"

# O: onion only. An onion host first: through SOCKS by that name.
ONION=abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvw.onion
sed "s|@127.0.0.1:$PORT_B|@$ONION,127.0.0.1:$PORT_B|" s.queue >onion.queue
chmod 600 onion.queue
smp send --proxy "$O" onion.queue "via O to the onion host" || fail "send through O to the onion host"
out=$(smp recv r.queue --count 1 --timeout 10) || fail "recv of the onion send"
[ "$out" = "via O to the onion host" ] || fail "received '$out' (onion)"
[ "$(socks_seen "^3 $ONION:$PORT_B [A-Za-z0-9+/]{43}=\$")" -ge 1 ] || fail "O did not ask the SOCKS server for the onion name: $(cat socks.log)"
# a public host only: O connects directly
before=$(wc -l <socks.log)
smp send --proxy "$O" byname.queue "via O directly" || fail "send through O to localhost"
out=$(smp recv r.queue --count 1 --timeout 10) || fail "recv of O's direct send"
[ "$out" = "via O directly" ] || fail "received '$out' (O direct)"
[ "$(wc -l <socks.log)" = "$before" ] || fail "O used the SOCKS proxy for a public host: $(cat socks.log)"

# the smp tool through the SOCKS server: blocking client and pool
before=$(wc -l <socks.log)
SMP_SOCKS_PROXY="127.0.0.1:$SP" smp send byname.queue "client via SOCKS" || fail "client send via SOCKS"
[ "$(socks_seen "^3 localhost:$PORT_B [A-Za-z0-9+/]{43}=\$")" -ge 1 ] ||
    fail "the client's connection not isolated by router: $(cat socks.log)"
SMP_SOCKS_PROXY="@127.0.0.1:$SP" smp send onion.queue "client via SOCKS, onion" || fail "client send to onion"
[ "$(socks_seen "^3 $ONION:$PORT_B -\$")" -ge 1 ] || fail "'@' still authenticated: $(cat socks.log)"
SMP_SOCKS_PROXY="127.0.0.1:$SP" smp send --proxy "smp://$FP_A@localhost:$PORT_A" --proxy-mode always \
    byname.queue "pool via SOCKS to A" || fail "pool send via SOCKS and A"
[ "$(socks_seen "^3 localhost:$PORT_A [A-Za-z0-9+/]{43}=\$")" -ge 1 ] ||
    fail "the pool did not reach A through SOCKS: $(cat socks.log)"
mid=$(wc -l <socks.log)
SMP_SOCKS_PROXY="127.0.0.1:$SP" SMP_SOCKS_MODE=onion smp send byname.queue "client direct" ||
    fail "client send with onion mode"
[ "$(wc -l <socks.log)" = "$mid" ] || fail "onion mode used SOCKS for localhost"
out=$(smp recv r.queue --count 4 --timeout 10) || fail "recv of the client sends"
[ "$out" = "$(printf 'client via SOCKS\nclient via SOCKS, onion\npool via SOCKS to A\nclient direct')" ] ||
    fail "received '$out' (client sends)"
[ "$(wc -l <socks.log)" -gt "$before" ] || fail "no client connection through SOCKS"
# no SOCKS server there
out=$(SMP_SOCKS_PROXY="127.0.0.1:1" smp send byname.queue "nowhere" 2>&1) && fail "send via a missing SOCKS server"
SMP_SOCKS_PROXY="localhost:1" smp send byname.queue "x" 2>/dev/null; rc=$?
[ $rc = 2 ] || fail "a SOCKS proxy by name: exit $rc"

# host modes: the public host first, an onion host second
ONION2=bbcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvw.onion
sed "s|@127.0.0.1:$PORT_B|@localhost,$ONION2:$PORT_B|" s.queue >mixed.queue
chmod 600 mixed.queue
# new_socks_lines N: the SOCKS log after its first N lines
new_socks_lines() { tail -n +"$(($1 + 1))" socks.log; }
n=$(wc -l <socks.log)
SMP_SOCKS_PROXY="127.0.0.1:$SP" smp send mixed.queue "mixed, onion via SOCKS" || fail "mixed send via SOCKS"
got=$(new_socks_lines "$n")
echo "$got" | grep -qE "^3 $ONION2:$PORT_B [A-Za-z0-9+/]{43}=\$" || fail "proxy set, host mode onion: not the onion host: $got"
echo "$got" | grep -q "localhost:$PORT_B" && fail "proxy set, host mode onion: the public host asked: $got"
n=$(wc -l <socks.log)
SMP_SOCKS_PROXY="127.0.0.1:$SP" SMP_HOST_MODE=public SMP_REQUIRED_HOST_MODE=on smp send mixed.queue \
    "mixed, public via SOCKS" || fail "mixed send, host mode public"
got=$(new_socks_lines "$n")
echo "$got" | grep -qE "^3 localhost:$PORT_B [A-Za-z0-9+/]{43}=\$" || fail "host mode public: not the public host: $got"
echo "$got" | grep -q "$ONION2" && fail "host mode public: the onion host asked: $got"
n=$(wc -l <socks.log)
smp send mixed.queue "mixed, direct" || fail "mixed send without a proxy"
[ "$(wc -l <socks.log)" = "$n" ] || fail "no proxy: the SOCKS server was used: $(new_socks_lines "$n")"
SMP_SOCKS_PROXY="127.0.0.1:$SP" SMP_SOCKS_MODE=onion smp send mixed.queue "mixed, onion mode" ||
    fail "mixed send, socks mode onion"
got=$(new_socks_lines "$n")
echo "$got" | grep -qE "^3 $ONION2:$PORT_B [A-Za-z0-9+/]{43}=\$" || fail "socks mode onion: not the onion host: $got"
# the pool: A's address with its public host first
n=$(wc -l <socks.log)
SMP_SOCKS_PROXY="127.0.0.1:$SP" smp send --proxy "smp://$FP_A@localhost,$ONION2:$PORT_A" --proxy-mode always \
    byname.queue "pool to A by its onion host" || fail "pool send to A's onion host"
got=$(new_socks_lines "$n")
echo "$got" | grep -qE "^3 $ONION2:$PORT_A [A-Za-z0-9+/]{43}=\$" || fail "the pool did not choose A's onion host: $got"
n=$(wc -l <socks.log)
smp send --proxy "smp://$FP_A@localhost,$ONION2:$PORT_A" --proxy-mode always byname.queue "pool to A directly" ||
    fail "pool send to A's public host"
[ "$(wc -l <socks.log)" = "$n" ] || fail "pool without a proxy used SOCKS: $(new_socks_lines "$n")"
out=$(smp recv r.queue --count 6 --timeout 10) || fail "recv of the host mode sends"
[ "$out" = "$(printf 'mixed, onion via SOCKS\nmixed, public via SOCKS\nmixed, direct\nmixed, onion mode\npool to A by its onion host\npool to A directly')" ] ||
    fail "received '$out' (host mode sends)"
# required and no host of the kind: refused before connecting, no message
sed "s|@127.0.0.1:$PORT_B|@$ONION:$PORT_B|" s.queue >onlyonion.queue
chmod 600 onlyonion.queue
out=$(SMP_HOST_MODE=public SMP_REQUIRED_HOST_MODE=on smp send onlyonion.queue "never" 2>&1); rc=$?
[ $rc = 2 ] || fail "required public host, onion-only address: exit $rc ($out)"
case $out in *required_host_mode*) ;; *) fail "required host mode: said '$out'" ;; esac
n=$(wc -l <socks.log)
out=$(SMP_SOCKS_PROXY="127.0.0.1:$SP" SMP_HOST_MODE=public SMP_REQUIRED_HOST_MODE=on smp send onlyonion.queue "never" 2>&1); rc=$?
[ $rc = 2 ] || fail "required public host via SOCKS, onion-only address: exit $rc ($out)"
[ "$(wc -l <socks.log)" = "$n" ] || fail "refused host mode still asked the SOCKS server"

for r in A O B; do
    eval "pid=\$PID_$r"
    kill -0 "$pid" 2>/dev/null || fail "$r is no longer running"
done
if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS check(s) failed"
    echo "---- SOCKS log"; cat socks.log
    echo "---- A's log"; tail -30 A/server.log
    echo "---- O's log"; tail -30 O/server.log
    exit 1
fi
echo "all checks passed"
