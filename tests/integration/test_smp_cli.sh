#!/bin/sh
# Black-box test of the `smp` command-line client against a real smp-server
# started on a free loopback port: create (files, modes, password), secure,
# a sensor sending 20 readings (text with spaces, binary from stdin) to a
# collector that must receive them unchanged, --raw framing, get and
# --no-ack, the message size limit, refused files, delete, and the errors
# after it.
# Usage: test_smp_cli.sh <path to smp-server> <path to smp>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SERVER=$(abspath "$1")
SMP=$(abspath "$2")
T=$(mktemp -d /tmp/sx_smp_cli.XXXXXX) || exit 1
PID=
COLLECTOR=
cleanup() {
    [ -n "$COLLECTOR" ] && kill "$COLLECTOR" 2>/dev/null
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
export SMP_SERVER_CFG_PATH="$T/etc" SMP_SERVER_LOG_PATH="$T/var"
umask 022
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
# Every client run is bounded in time, and so is the router, should this
# script be killed before its trap runs.
if command -v timeout >/dev/null 2>&1; then TO="timeout 60"; TOS="timeout 290"; else TO=; TOS=; fi
smp() { $TO "$SMP" "$@"; }

# ---- a router on a free port ----
"$SERVER" init -y --disable-web --ip 127.0.0.1 >"$T/init.log" 2>&1 || { cat "$T/init.log"; echo "FAIL: init"; exit 1; }
INI="$T/etc/smp-server.ini"
FP=$(cat "$T/etc/fingerprint")
PW=$(sed -n 's/^create_password: //p' "$INI")
[ -n "$PW" ] || { echo "FAIL: no create_password in the ini"; exit 1; }
port_ready() { openssl s_client -connect "127.0.0.1:$1" </dev/null >/dev/null 2>&1; }
PORT=
for attempt in 1 2 3 4 5 6 7 8; do
    p=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 12000 + 20000 )) # below Linux's ephemeral range
    port_ready "$p" && continue # someone is listening there
    sed -i "s/^port: .*/port: $p/; s/^host: .*/host: 127.0.0.1/" "$INI"
    $TOS "$SERVER" start >"$T/server.log" 2>&1 &
    PID=$!
    i=0
    while [ $i -lt 100 ]; do # 10 s
        if ! kill -0 "$PID" 2>/dev/null; then break; fi
        if port_ready "$p"; then PORT=$p; break; fi
        sleep 0.1
        i=$((i + 1))
    done
    [ -n "$PORT" ] && break
    kill "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    PID=
done
[ -n "$PORT" ] || { cat "$T/server.log"; echo "FAIL: the router did not start"; exit 1; }
ADDR="smp://$FP:$PW@127.0.0.1:$PORT"
ADDR_NOPW="smp://$FP@127.0.0.1:$PORT"
cd "$T" || exit 1

# ---- create ----
out=$(smp create "$ADDR_NOPW" --out nopw.queue 2>&1) && fail "create without the password succeeded"
echo "$out" | grep -q "password" || fail "create without password: message '$out'"
[ -e nopw.queue ] && fail "a failed create left a file"

out=$(smp create "$ADDR" --out r.queue --sender-out s.queue 2>"$T/err") || fail "create: $(cat "$T/err")"
[ "$out" = "s.queue" ] || fail "create prints the sender file path: '$out'"
[ "$(stat -c %a r.queue)" = 600 ] || fail "recipient file mode $(stat -c %a r.queue)"
[ "$(stat -c %a s.queue)" = 600 ] || fail "sender file mode $(stat -c %a s.queue)"
grep -q "^role: recipient$" r.queue || fail "recipient file role"
grep -q "^recipient_key: " r.queue || fail "recipient file has its key"
grep -q "^dh_secret: " r.queue || fail "recipient file has the DH secret"
grep -qx "role: sender" s.queue || fail "sender file role"
grep -qx "sender_key: none" s.queue || fail "new sender file has no key"
grep -qxF "server: $ADDR_NOPW" s.queue || fail "sender file server without the password"
grep -qF -e "$PW" s.queue && fail "the sender file holds the password"
[ "$(sed -n 's/^sender_id: //p' r.queue)" = "$(sed -n 's/^sender_id: //p' s.queue)" ] || fail "sender ids differ"

before=$(cksum < r.queue)
out=$(smp create "$ADDR" --out r.queue 2>&1 >/dev/null) && fail "create over an existing file succeeded"
echo "$out" | grep -q "exists" || fail "create over a file: message '$out'"
[ "$(cksum < r.queue)" = "$before" ] || fail "create changed an existing file"

# Without --sender-out the sender file goes to stdout; an unsecured queue
# takes unsigned messages.
smp create "$ADDR" --out r2.queue >s2.queue 2>"$T/err" || fail "create to stdout: $(cat "$T/err")"
grep -qx "role: sender" s2.queue || fail "sender file on stdout"
smp send s2.queue "unsigned hello" || fail "send to an unsecured queue"
[ "$(smp get r2.queue)" = "unsigned hello" ] || fail "get from the unsecured queue"
smp delete r2.queue || fail "delete the second queue"

# Role mix-ups are usage errors.
out=$(smp send r.queue hi 2>&1); rc=$?
[ $rc = 2 ] || fail "send with the recipient file: exit $rc"
echo "$out" | grep -q "recipient file" || fail "role mix-up message '$out'"

# ---- secure ----
smp secure s.queue || fail "secure"
grep -q "^sender_key: MC" s.queue || fail "secure stored the key"
grep -qx "sender_key: none" s.queue && fail "sender key still none"
[ "$(stat -c %a s.queue)" = 600 ] || fail "secured sender file mode"
key=$(grep "^sender_key: " s.queue)
smp secure s.queue || fail "secure again with the stored key"
[ "$(grep "^sender_key: " s.queue)" = "$key" ] || fail "secure again changed the key"
sed 's/^sender_key: .*/sender_key: none/' s.queue >unsigned.queue
out=$(smp send unsigned.queue "sneaky" 2>&1) && fail "unsigned send to a secured queue succeeded"
echo "$out" | grep -q "AUTH" || fail "unsigned send message '$out'"

# ---- sensor and collector ----
smp recv r.queue --count 20 --timeout 30 >got.txt 2>recv.err &
COLLECTOR=$!
: >expected.txt
i=1
while [ $i -le 20 ]; do
    case $i in
    7)
        body="reading 7: temp = 21.5 C,  humidity  40 %"
        smp send s.queue "$body" || fail "send reading $i"
        printf '%s\n' "$body" >>expected.txt
        ;;
    13)
        # Binary-ish bytes from stdin, exactly as given (NUL, CR, 0xff,
        # newlines and no final newline).
        printf 'bin\000\001\002\377\r\nmore\n\ntail' >bin.dat
        smp send s.queue - <bin.dat || fail "send binary reading"
        cat bin.dat >>expected.txt
        printf '\n' >>expected.txt
        ;;
    17)
        printf 'from stdin without -\n' | smp send s.queue || fail "send reading $i from stdin"
        printf 'from stdin without -\n\n' >>expected.txt
        ;;
    *)
        smp send s.queue "t=$i.5" || fail "send reading $i"
        printf 't=%s.5\n' "$i" >>expected.txt
        ;;
    esac
    i=$((i + 1))
done
wait "$COLLECTOR"; rc=$?
COLLECTOR=
[ $rc = 0 ] || fail "collector exit $rc: $(cat recv.err)"
cmp -s expected.txt got.txt || { fail "collector output differs"; od -c got.txt | head -20; }

# ---- empty queue ----
out=$(smp get r.queue 2>/dev/null); rc=$?
[ $rc = 3 ] || fail "get on an empty queue: exit $rc"
[ -z "$out" ] || fail "get on an empty queue printed '$out'"
start=$(date +%s)
out=$(smp recv r.queue --timeout 1 2>&1 >/dev/null); rc=$?
[ $rc = 3 ] || fail "recv on an empty queue: exit $rc"
[ $(( $(date +%s) - start )) -le 10 ] || fail "recv --timeout 1 took too long"
echo "$out" | grep -q "no message" || fail "recv timeout message '$out'"

# ---- raw framing, get, --no-ack ----
smp send s.queue "abc" || fail "send abc"
smp send s.queue "" || fail "send an empty message"
smp recv r.queue --raw --count 2 --timeout 10 >raw.out || fail "recv --raw"
printf '\000\000\000\003abc\000\000\000\000' >raw.exp
cmp -s raw.exp raw.out || { fail "--raw output"; od -c raw.out; }
smp send s.queue "keep me" || fail "send keep me"
[ "$(smp get r.queue --no-ack)" = "keep me" ] || fail "get --no-ack"
[ "$(smp get r.queue --no-ack)" = "keep me" ] || fail "get --no-ack again"
[ "$(smp recv r.queue --no-ack --timeout 10)" = "keep me" ] || fail "recv --no-ack"
[ "$(smp get r.queue)" = "keep me" ] || fail "get"
smp get r.queue >/dev/null 2>&1; rc=$?
[ $rc = 3 ] || fail "get after ACK: exit $rc"

# ---- size limit (16048 bytes at v19) ----
head -c 16048 /dev/urandom >big.dat
smp send s.queue - <big.dat || fail "send 16048 bytes"
smp get r.queue --raw >big.out || fail "get the large message"
tail -c +5 big.out | cmp -s - big.dat || fail "large message differs"
head -c 16049 /dev/urandom >toobig.dat
out=$(smp send s.queue - <toobig.dat 2>&1) && fail "send of 16049 bytes succeeded"
echo "$out" | grep -q "longer than" || fail "too long message '$out'"
head -c 20000 /dev/urandom >huge.dat
out=$(smp send s.queue - <huge.dat 2>&1) && fail "send of 20000 bytes succeeded"
echo "$out" | grep -q "longer than" || fail "huge message '$out'"

# ---- damaged files ----
head -c 200 r.queue >trunc.queue
out=$(smp get trunc.queue 2>&1) && fail "get with a truncated file succeeded"
echo "$out" | grep -q "trunc.queue" || fail "truncated file message '$out'"
sed 's/^dh_secret: ./dh_secret: !/' r.queue >garbled.queue
out=$(smp get garbled.queue 2>&1) && fail "get with a garbled file succeeded"
echo "$out" | grep -q "dh_secret" || fail "garbled file message '$out'"
out=$(smp get missing.queue 2>&1) && fail "get with a missing file succeeded"
chmod 644 r.queue
out=$(smp get r.queue 2>&1 >/dev/null)
echo "$out" | grep -q "chmod 600" || fail "no warning for a readable recipient file: '$out'"
chmod 600 r.queue

# ---- connection errors ----
BADFP="smp://AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:$PW@127.0.0.1:$PORT"
out=$(smp create "$BADFP" --out bad.queue 2>&1) && fail "create with a wrong fingerprint succeeded"
echo "$out" | grep -q "identity" || fail "wrong fingerprint message '$out'"
out=$(smp create "not-an-address" --out bad.queue 2>&1); rc=$?
[ $rc = 2 ] || fail "bad address: exit $rc"
out=$(smp frobnicate 2>&1); rc=$?
[ $rc = 2 ] || fail "unknown command: exit $rc"

# ---- notify-on, notify-off, suspend ----
smp notify-on r.queue >ntf1.txt || fail "notify-on"
for k in notifier_id notifier_key server_dh_key dh_secret; do
    grep -Eq "^$k: [A-Za-z0-9_=-]{32,}$" ntf1.txt || fail "notify-on printed no $k: '$(cat ntf1.txt)'"
done
[ "$(wc -l <ntf1.txt)" -eq 4 ] || fail "notify-on printed other lines: '$(cat ntf1.txt)'"
smp notify-on r.queue >ntf2.txt || fail "notify-on again"
[ "$(grep notifier_id ntf1.txt)" != "$(grep notifier_id ntf2.txt)" ] || fail "notify-on again kept the notifier id"
smp notify-off r.queue || fail "notify-off"
out=$(smp notify-on s.queue 2>&1); rc=$?
[ $rc = 2 ] || fail "notify-on with the sender file: exit $rc ($out)"
smp create "$ADDR" --out r3.queue --sender-out s3.queue >/dev/null || fail "create the third queue"
smp send s3.queue "before suspend" || fail "send before suspend"
smp suspend r3.queue || fail "suspend"
out=$(smp send s3.queue "after suspend" 2>&1) && fail "send after suspend succeeded"
[ "$(smp get r3.queue)" = "before suspend" ] || fail "get after suspend"
smp delete r3.queue || fail "delete the suspended queue"

# ---- delete ----
smp send s.queue "left behind" || fail "send before delete"
smp delete r.queue || fail "delete"
out=$(smp send s.queue "after delete" 2>&1) && fail "send after delete succeeded"
echo "$out" | grep -q "does not exist" || fail "send after delete message '$out'"
out=$(smp get r.queue 2>&1); rc=$?
[ $rc = 1 ] || fail "get after delete: exit $rc ($out)"
out=$(smp delete r.queue 2>&1) && fail "second delete succeeded"

kill -0 "$PID" 2>/dev/null || fail "the router is no longer running"
if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS check(s) failed"
    exit 1
fi
echo "all checks passed"
