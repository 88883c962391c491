#!/bin/sh
# The store log's checksums (PROTOCOL-NOTES E26a) with a real smp-server:
# three queues are created, the router stopped, one byte in the middle of
# the store log changed (inside the second CREATE record's key, so that the
# line still parses), and the router started again: it reports line 2 as
# damaged and skips it, restores the two other queues, which still work,
# and the changed queue is gone. The log and its .sum are 0600.
# Usage: test_store_log_sum.sh <smp-server> <smp>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SRV=$(abspath "$1")
SMP=$(abspath "$2")
T=$(mktemp -d /tmp/sx_store_log_sum.XXXXXX) || exit 1
PID=
cleanup() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
umask 022
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
if command -v timeout >/dev/null 2>&1; then TO="timeout 60"; else TO=; fi
smp() { (cd "$T" && $TO "$SMP" "$@"); }

export SMP_SERVER_CFG_PATH="$T/etc" SMP_SERVER_LOG_PATH="$T/var"
"$SRV" init -y --disable-web --ip 127.0.0.1 >"$T/init.out" 2>&1 || { cat "$T/init.out"; echo "FAIL: init"; exit 1; }
P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + $$ % 20000)))
sed -i "s/^port: .*/port: $P/" "$T/etc/smp-server.ini"
start() {
    rm -f "$T/$1.out"
    $TO "$SRV" start >"$T/$1.out" 2>&1 &
    PID=$!
    i=0
    until openssl s_client -connect "127.0.0.1:$P" </dev/null >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$PID" 2>/dev/null; then
            echo "FAIL: $1 did not start"; cat "$T/$1.out"; exit 1
        fi
        sleep 0.1
    done
}
stop() {
    kill -INT "$PID"
    wait "$PID" || fail "exit code after SIGINT"
    PID=
}

start first
PW=$(sed -n 's/^create_password: //p' "$T/etc/smp-server.ini")
ADDR="smp://$(cat "$T/etc/fingerprint"):$PW@127.0.0.1:$P"
for i in 1 2 3; do
    smp create "$ADDR" --out "r$i.queue" --sender-out "s$i.queue" >/dev/null || fail "create $i"
done
stop
LOG="$T/var/smp-server-store.log"
[ "$(wc -l <"$LOG")" = 3 ] || fail "the store log has $(wc -l <"$LOG") lines, not 3"
[ "$(stat -c %a "$LOG.sum")" = 600 ] || fail "$LOG.sum mode $(stat -c %a "$LOG.sum")"
[ "$(wc -l <"$LOG.sum")" = 4 ] || fail "$LOG.sum: $(wc -l <"$LOG.sum") lines, not a header and 3 entries"

# one byte of line 2, 60 bytes in (in rk=, base64): another base64 letter
python3 - "$LOG" <<'PY' || fail "changing the log"
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
at = b.index(b"\n") + 1 + 60
b[at] = ord("B") if b[at] != ord("B") else ord("C")
open(p, "wb").write(b)
PY

start second
stop
grep -q "smp-server-store.log, line 2: damaged (its checksum does not match), skipped" "$T/second.out" \
    || fail "line 2 not reported: $(cat "$T/second.out")"
grep -q "Store log: 2 queues restored" "$T/second.out" || fail "not 2 queues restored: $(cat "$T/second.out")"
[ "$(wc -l <"$LOG")" = 2 ] || fail "the compacted log has $(wc -l <"$LOG") lines, not 2"

start third
smp send s1.queue "one" || fail "queue 1 lost"
smp send s3.queue "three" || fail "queue 3 lost"
smp send s2.queue "two" 2>/dev/null && fail "the damaged queue 2 was restored"
grep -q "damaged" "$T/third.out" && fail "damage reported again after the compaction: $(cat "$T/third.out")"
stop

[ "$FAILS" -eq 0 ] || { echo "$FAILS check(s) failed"; exit 1; }
echo "all checks passed"
