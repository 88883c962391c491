#!/bin/sh
# Black-box test of `smp send --proxy` and `smp secure --proxy` with two real
# smp-server processes on loopback: A, with a password, forwards to B, where
# the queue is; the recipient on B receives what went through A. Also: A's
# password missing (PROXY BASIC_AUTH), B down (PROXY BROKER NETWORK), and a
# queue address whose fingerprint is not B's.
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
port_ready() { openssl s_client -connect "127.0.0.1:$1" </dev/null >/dev/null 2>&1; }

# start_router NAME [init options]: sets PORT_<NAME>, FP_<NAME>, PW_<NAME>, PID_<NAME>
start_router() {
    name=$1
    shift
    d="$T/$name"
    mkdir -p "$d"
    SMP_SERVER_CFG_PATH="$d/etc" SMP_SERVER_LOG_PATH="$d/var" "$SERVER" init -y --ip 127.0.0.1 "$@" \
        >"$d/init.log" 2>&1 || { cat "$d/init.log"; echo "FAIL: init $name"; exit 1; }
    ini="$d/etc/smp-server.ini"
    port=
    for attempt in 1 2 3 4 5 6 7 8; do
        p=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 12000 + 20000 ))
        port_ready "$p" && continue
        sed -i "s/^port: .*/port: $p/; s/^host: .*/host: 127.0.0.1/" "$ini"
        SMP_SERVER_CFG_PATH="$d/etc" SMP_SERVER_LOG_PATH="$d/var" $TOS "$SERVER" start --log-level debug \
            >"$d/server.log" 2>&1 &
        pid=$!
        i=0
        while [ $i -lt 100 ]; do
            kill -0 "$pid" 2>/dev/null || break
            if port_ready "$p"; then port=$p; break; fi
            sleep 0.1
            i=$((i + 1))
        done
        [ -n "$port" ] && break
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    [ -n "$port" ] || { cat "$d/server.log"; echo "FAIL: router $name did not start"; exit 1; }
    PIDS="$PIDS $pid"
    eval "PORT_$name=$port FP_$name=$(cat "$d/etc/fingerprint") PID_$name=$pid"
    eval "PW_$name=\$(sed -n 's/^create_password: //p' \"\$ini\")"
}

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

# A's password is needed for proxying as for creating queues.
out=$(smp send --proxy "$A_NOPW" s.queue "no password" 2>&1) && fail "send through A without its password succeeded"
echo "$out" | grep -q "PROXY BASIC_AUTH" || fail "no password message '$out'"

# A queue address with another router's fingerprint.
sed "s|^server: .*|server: smp://$FP_A@127.0.0.1:$PORT_B|" s.queue >wrongfp.queue
chmod 600 wrongfp.queue
out=$(smp send --proxy "$A" wrongfp.queue "x" 2>&1) && fail "send with a wrong fingerprint succeeded"
echo "$out" | grep -q "PROXY BROKER" || fail "wrong fingerprint message '$out'"

# B down: A cannot forward.
kill "$PID_B"
wait "$PID_B" 2>/dev/null
out=$(smp send --proxy "$A" s.queue "B is down" 2>&1); rc=$?
[ $rc = 1 ] || fail "send with B down: exit $rc ($out)"
echo "$out" | grep -q "PROXY BROKER NETWORK" || fail "B down message '$out'"

kill -0 "$PID_A" 2>/dev/null || fail "A is no longer running"
if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS check(s) failed"
    echo "---- A's log"; tail -30 A/server.log
    exit 1
fi
echo "all checks passed"
