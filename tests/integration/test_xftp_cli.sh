#!/bin/sh
# Black-box test of the xftp program against a real xftp-server process:
# --version and usage errors, send with two recipients (printed lines and
# description files), info, recv through the web link and through a
# description (-y deletes it, without -y it stays; a second receive into
# the same folder gets a new name), recv of an acknowledged chunk and after
# del failing with AUTH.
# Usage: test_xftp_cli.sh <path to xftp-server> <path to xftp>
set -u
SRV=$1
CLI=$2
T=$(mktemp -d /tmp/sx_xftp_cli.XXXXXX) || exit 1
PID=
cleanup() {
    if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT
export XFTP_SERVER_CFG_PATH="$T/etc" XFTP_SERVER_LOG_PATH="$T/var" TMPDIR="$T"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + $$ % 20000))
}

# the client alone
"$CLI" --version | grep -q "^SimpleX XFTP client v" || fail "--version"
"$CLI" >/dev/null 2>&1 && fail "no command accepted"
"$CLI" send >/dev/null 2>&1 && fail "send without FILE accepted"
"$CLI" send a b c >/dev/null 2>&1 && fail "send with 3 arguments accepted"
"$CLI" send a -n 0 >/dev/null 2>&1 && fail "send -n 0 accepted"
"$CLI" info "$T/none.xftp" >/dev/null 2>&1 && fail "info of a missing file succeeded"

# a router
"$SRV" init -p "$T/files" -q 1gb >/dev/null 2>&1 || { echo "FAIL: xftp-server init"; exit 1; }
fp=$(cat "$T/etc/fingerprint")
port=$(free_port)
sed -i "s/^port: .*/port: $port/" "$T/etc/file-server.ini"
"$SRV" start > "$T/start.out" 2>&1 &
PID=$!
i=0
until grep -q "^Listening on port" "$T/start.out"; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$PID" 2>/dev/null; then
        echo "FAIL: xftp-server did not start"; cat "$T/start.out"; exit 1
    fi
    sleep 0.1
done
ADDR="xftp://$fp@127.0.0.1:$port"

# send a 3 MB file with two recipients
mkdir "$T/desc" "$T/out"
head -c 3000000 /dev/urandom > "$T/my file.bin"
out=$("$CLI" send "$T/my file.bin" "$T/desc" -n 2 -s "$ADDR" 2>&1) || fail "send exit code: $out"
D="$T/desc/my file.bin.xftp"
echo "$out" | grep -qxF "Sender file description: $D/snd.xftp.private" || fail "send: sender line: $out"
echo "$out" | grep -qx "Pass file descriptions to the recipient(s):" || fail "send: pass line"
echo "$out" | grep -qxF "$D/rcv1.xftp" || fail "send: rcv1 line"
echo "$out" | grep -qxF "$D/rcv2.xftp" || fail "send: rcv2 line"
link=$(echo "$out" | grep "^https://127.0.0.1/#")
[ -n "$link" ] || fail "send: web link: $out"
for f in rcv1.xftp rcv2.xftp snd.xftp.private; do
    [ -f "$D/$f" ] || fail "send: $f not written"
done
grep -q "^party: recipient" "$D/rcv1.xftp" || fail "rcv1 party"
grep -q "^party: sender" "$D/snd.xftp.private" || fail "snd party"
[ -z "$(ls "$T" | grep '^xftp_.*\.encrypted')" ] || fail "send left a temporary file"

# info
out=$("$CLI" info "$D/rcv1.xftp") || fail "info exit code"
echo "$out" | sed -n 1p | grep -qx "Recipient file description" || fail "info: party: $out"
echo "$out" | sed -n 2p | grep -q "^File download size: [0-9]*[kmg]*b*$" || fail "info: size: $out"
echo "$out" | sed -n 3p | grep -qx "File server(s):" || fail "info: servers"
echo "$out" | grep -qF "$ADDR: " || fail "info: server line: $out"
"$CLI" info "$D/snd.xftp.private" | sed -n 1p | grep -qx "Sender file description" || fail "info: sender"

# recv through the web link (recipient 1), then its description fails: acknowledged
out=$("$CLI" recv "$link" "$T/out" 2>&1) || fail "recv link exit code: $out"
echo "$out" | grep -qxF "File downloaded: $T/out/my file.bin" || fail "recv link: line: $out"
cmp -s "$T/my file.bin" "$T/out/my file.bin" || fail "recv link: content differs"
out=$("$CLI" recv "$D/rcv1.xftp" "$T/out" -y 2>&1) && fail "recv of acknowledged chunks succeeded"
echo "$out" | grep -q "AUTH" || fail "recv acknowledged: AUTH message: $out"

# recv recipient 2 without -y (not a terminal: the description stays)
out=$("$CLI" recv "$D/rcv2.xftp" "$T/out" 2>&1) || fail "recv rcv2 exit code: $out"
echo "$out" | grep -qxF "File downloaded: $T/out/my file_1.bin" || fail "recv rcv2: line: $out"
cmp -s "$T/my file.bin" "$T/out/my file_1.bin" || fail "recv rcv2: content differs"
[ -f "$D/rcv2.xftp" ] || fail "recv without -y deleted the description"

# a second file: delete, then recv fails with AUTH; -y removes descriptions
head -c 70000 /dev/urandom > "$T/b.txt"
"$CLI" send "$T/b.txt" "$T/desc" -s "$ADDR" >/dev/null 2>&1 || fail "send b"
B="$T/desc/b.txt.xftp"
out=$("$CLI" del "$B/snd.xftp.private" -y 2>&1) || fail "del exit code: $out"
echo "$out" | grep -qx "File deleted!" || fail "del: line: $out"
[ -f "$B/snd.xftp.private" ] && fail "del -y kept the description"
out=$("$CLI" recv "$B/rcv1.xftp" "$T/out" -y 2>&1) && fail "recv after del succeeded"
echo "$out" | grep -q "AUTH" || fail "recv after del: AUTH message: $out"
[ -f "$B/rcv1.xftp" ] || fail "failed recv deleted the description"
# sending the same file again: a new description folder
"$CLI" send "$T/b.txt" "$T/desc" -s "$ADDR" >/dev/null 2>&1 || fail "send b again"
[ -d "$T/desc/b_1.txt.xftp" ] || fail "second send: unique folder name"
out=$("$CLI" recv "$T/desc/b_1.txt.xftp/rcv1.xftp" "$T/out" -y 2>&1) || fail "recv b: $out"
cmp -s "$T/b.txt" "$T/out/b.txt" || fail "recv b: content differs"
echo "$out" | grep -qF "is deleted." || fail "recv -y: deleted line: $out"
[ -f "$T/desc/b_1.txt.xftp/rcv1.xftp" ] && fail "recv -y kept the description"
# a server that is not there
out=$("$CLI" send "$T/b.txt" "$T/desc" -s "xftp://$fp@127.0.0.1:1" -r 1 2>&1) && fail "send to a closed port succeeded"

kill -INT "$PID"
wait "$PID"
PID=
if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS failure(s)"
    exit 1
fi
echo "all xftp program checks passed"
