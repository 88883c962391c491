#!/bin/sh
# Black-box test of the `xrcp` program: a controller and a host as separate
# processes on loopback. The first session by the invitation link (both
# print the same session code, commands and an attachment go through; the
# controller also prints the link as a QR code, which zbarimg must decode
# back to the exact link), the
# second by the controller's multicast announcement on 127.0.0.1 (the host
# is paired), then refusals: a host with another identity (the paired
# controller refuses it: IDENTITY), a link of another controller (the paired
# host refuses it: IDENTITY), an expired invitation (INVITATION), a tampered
# command and a repeated counter (the host refuses them, the session goes
# on), and a 5 MB attachment sent back intact.
# Usage: test_xrcp_cli.sh <path to xrcp>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
XRCP=$(abspath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/sx_xrcp_cli.XXXXXX) || exit 1
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
if command -v timeout >/dev/null 2>&1; then TO="timeout 100"; else TO=; fi
cd "$T" || exit 1

# Waits (up to 60 s) for a line starting with $2 in file $1.
wait_line() {
    i=0
    while [ $i -lt 600 ]; do
        grep -q "^$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# Starts a controller: $1 name, the rest its options; its input is the fifo
# $1.in (kept open on descriptor 7 until ctrl_end), its output $1.out.
ctrl_start() {
    n=$1
    shift
    rm -f "$n.in"
    mkfifo "$n.in"
    ($TO "$XRCP" ctrl --yes --timeout 60 "$@" <"$n.in" >"$n.out" 2>"$n.err"; echo "exit: $?" >>"$n.out") &
    PIDS="$PIDS $!"
    exec 7>"$n.in"
}
ctrl_end() { exec 7>&-; }

# A host: $1 name, the rest its options and link; output $1.out.
host_start() {
    n=$1
    shift
    # (not holding a controller's input open: 7>&-)
    ($TO "$XRCP" host --yes --echo --timeout 60 "$@" </dev/null >"$n.out" 2>"$n.err" 7>&-; echo "exit: $?" >>"$n.out") 7>&- &
    PIDS="$PIDS $!"
}

code_of() { sed -n 's/^session code: //p' "$1"; }
link_of() { sed -n 's/^invitation: //p' "$1"; }
exit_of() { sed -n 's/^exit: //p' "$1"; }

echo "$(date +%T) the program's help and its refusals of bad command lines"
"$XRCP" --help | grep -q "xrcp ctrl --pairing FILE" || fail "--help"
"$XRCP" host --pairing x >/dev/null 2>&1
[ $? -eq 2 ] || fail "host without a link: exit 2"

echo "$(date +%T) --address auto: the invitation names the address chosen"
"$XRCP" ctrl --pairing auto.pair --address auto --timeout 1 >auto.out 2>auto.err
AUTO=$(sed -n 's/^address: \([0-9.]*\) on .*$/\1/p' auto.out)
[ -n "$AUTO" ] && grep -q "^invitation: xrcp:/[^@]*@$AUTO:[0-9]*#" auto.out || { cat auto.out auto.err; fail "--address auto"; }

echo "$(date +%T) session 1: by the invitation link"
ctrl_start c1 --pairing ctrl.pair --qr
wait_line c1.out "invitation: " || fail "no invitation"
wait_line c1.out "qr end" || fail "no QR code"
python3 "$HERE/qr_decode.py" c1.out "$T" >qr.txt || fail "the QR code does not decode"
[ -n "$(link_of c1.out)" ] && [ "$(cat qr.txt)" = "$(link_of c1.out)" ] || fail "the QR code is not the link"
host_start h1 --pairing host.pair "$(link_of c1.out)"
wait_line c1.out "session started" || fail "session 1 did not start"
head -c 100000 /dev/urandom >small.bin
echo "/_get chats 1" >&7
echo "@small.bin store" >&7
ctrl_end
wait
[ "$(exit_of c1.out)" = 0 ] || { cat c1.out c1.err; fail "session 1 controller"; }
[ "$(exit_of h1.out)" = 0 ] || { cat h1.out h1.err; fail "session 1 host"; }
[ -n "$(code_of c1.out)" ] && [ "$(code_of c1.out)" = "$(code_of h1.out)" ] || fail "session 1: codes differ"
grep -q '^command: {"command":"/_get chats 1"}$' h1.out || fail "session 1: command"
grep -q '^response: {"echo":{"command":"/_get chats 1"}}$' c1.out || fail "session 1: response"
grep -q '^attachment: 100000 ok$' h1.out || fail "session 1: attachment digest"
SUM=$(sha512sum small.bin | cut -d' ' -f1)
grep -q "^attachment: 100000 $SUM\$" c1.out || fail "session 1: attachment back"
[ "$(stat -c %a ctrl.pair)" = 600 ] && [ "$(stat -c %a host.pair)" = 600 ] || fail "pairing files not 0600"

echo "$(date +%T) session 2: by the multicast announcement"
MPORT=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("", 0)); print(s.getsockname()[1])')
host_start h2 --pairing host.pair --discover "$MPORT" --iface 127.0.0.1
sleep 0.5
ctrl_start c2 --pairing ctrl.pair --announce "$MPORT" --iface 127.0.0.1
wait_line c2.out "session started" || { cat c2.out c2.err h2.out h2.err; fail "session 2 did not start"; }
echo "/_get chats 2" >&7
ctrl_end
wait
[ "$(exit_of c2.out)" = 0 ] && [ "$(exit_of h2.out)" = 0 ] || { cat c2.out c2.err h2.out h2.err; fail "session 2"; }
grep -q "^announcing to the paired host" c2.out || fail "session 2 was not announced"
[ -n "$(code_of c2.out)" ] && [ "$(code_of c2.out)" = "$(code_of h2.out)" ] || fail "session 2: codes differ"
[ "$(code_of c2.out)" != "$(code_of c1.out)" ] || fail "session 2: the same code as session 1"
grep -q '^response: {"echo":{"command":"/_get chats 2"}}$' c2.out || fail "session 2: response"

echo "$(date +%T) a host with another identity: the paired controller refuses it"
ctrl_start c3 --pairing ctrl.pair --timeout 5
wait_line c3.out "invitation: " || fail "no invitation 3"
host_start h3 --pairing other-host.pair "$(link_of c3.out)"
wait
ctrl_end
[ "$(exit_of c3.out)" = 1 ] && grep -q "IDENTITY" c3.err || { cat c3.out c3.err; fail "controller took an unknown host"; }
[ "$(exit_of h3.out)" = 1 ] || fail "unknown host joined"

echo "$(date +%T) a link of another controller: the paired host refuses it"
ctrl_start c4 --pairing other-ctrl.pair --timeout 5
wait_line c4.out "invitation: " || fail "no invitation 4"
host_start h4 --pairing host.pair "$(link_of c4.out)"
wait
ctrl_end
[ "$(exit_of h4.out)" = 1 ] && grep -q "IDENTITY" h4.err || { cat h4.out h4.err; fail "host joined another controller"; }

echo "$(date +%T) an expired invitation"
OLD=$(($(date +%s) - 3600))
ctrl_start c5 --pairing ctrl.pair --timeout 5 --timestamp "$OLD"
wait_line c5.out "invitation: " || fail "no invitation 5"
host_start h5 --pairing host.pair "$(link_of c5.out)"
wait
ctrl_end
[ "$(exit_of h5.out)" = 1 ] && grep -q "INVITATION" h5.err || { cat h5.out h5.err; fail "expired invitation taken"; }

echo "$(date +%T) a tampered command, a repeated counter, a large attachment"
head -c 5000000 /dev/urandom >big.bin
ctrl_start c6 --pairing ctrl.pair --test-tamper --test-repeat
wait_line c6.out "invitation: " || fail "no invitation 6"
host_start h6 --pairing host.pair "$(link_of c6.out)"
wait_line c6.out "session started" || fail "session 6 did not start"
echo "tampered" >&7
echo "good" >&7
echo "repeated" >&7
echo "@big.bin large" >&7
ctrl_end
wait
[ "$(exit_of c6.out)" = 0 ] && [ "$(exit_of h6.out)" = 0 ] || { cat c6.out c6.err h6.out h6.err; fail "session 6"; }
grep -q '^refused: .*CTRL_AUTH' h6.out || fail "tampered command not refused"
grep -q '^refused: .*duplicate counter' h6.out || fail "repeated counter not refused"
grep -q '"command":"tampered"' h6.out && fail "tampered command served"
grep -q '"command":"repeated"' h6.out && fail "repeated command served"
grep -q '^command: {"command":"good"}$' h6.out || fail "good command not served"
[ "$(grep -c '^response: {"type":"protocolError"' c6.out)" = 2 ] || fail "refusals not answered"
grep -q '^attachment: 5000000 ok$' h6.out || fail "large attachment digest"
SUM=$(sha512sum big.bin | cut -d' ' -f1)
grep -q "^attachment: 5000000 $SUM\$" c6.out || fail "large attachment back"

[ $FAILS -eq 0 ] && echo "all xrcp program checks passed"
exit $FAILS
