#!/bin/sh
# Black-box test of streamed XRCP attachments through the `xrcp` program: a
# controller and a host (--echo) as separate processes on loopback; one
# session sends a 1 MB attachment, another a 120 MB one, each sent back by
# the host. The contents are checked by SHA-512 both ways (the host checks
# the digest the command names; the test checks what came back). Both
# programs print their peak resident size (VmHWM); the figures are printed,
# and in plain builds the 120 MB session must stay within 32 MiB of the
# 1 MB one (attachments go from file to network to file, not through
# memory). Under sanitizers (second argument "sanitized") the RSS check is
# skipped: their shadow memory is not ours.
# Usage: test_xrcp_big.sh <path to xrcp> [sanitized]
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
XRCP=$(abspath "$1")
SANITIZED=${2:-}
T=$(mktemp -d /tmp/sx_xrcp_big.XXXXXX) || exit 1
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
if command -v timeout >/dev/null 2>&1; then TO="timeout 250"; else TO=; fi
cd "$T" || exit 1

wait_line() {
    i=0
    while [ $i -lt 1200 ]; do
        grep -q "^$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
exit_of() { sed -n 's/^exit: //p' "$1"; }
rss_of() { sed -n 's/^peak rss: \([0-9]*\) kB$/\1/p' "$1"; }

# One session: $1 name, $2 the file attached (and sent back).
session() {
    n=$1
    rm -f "$n.in"
    mkfifo "$n.in"
    ($TO "$XRCP" ctrl --yes --timeout 200 --test-peak-rss --pairing ctrl.pair <"$n.in" >"c$n.out" 2>"c$n.err"
     echo "exit: $?" >>"c$n.out") &
    PIDS="$PIDS $!"
    exec 7>"$n.in"
    wait_line "c$n.out" "invitation: " || fail "$n: no invitation"
    LINK=$(sed -n 's/^invitation: //p' "c$n.out")
    ($TO "$XRCP" host --yes --echo --timeout 200 --test-peak-rss --pairing host.pair "$LINK" </dev/null \
        >"h$n.out" 2>"h$n.err" 7>&-
     echo "exit: $?" >>"h$n.out") 7>&- &
    PIDS="$PIDS $!"
    wait_line "c$n.out" "session started" || fail "$n: the session did not start"
    echo "@$2 file" >&7
    exec 7>&-
    wait
    [ "$(exit_of "c$n.out")" = 0 ] && [ "$(exit_of "h$n.out")" = 0 ] || {
        cat "c$n.out" "c$n.err" "h$n.out" "h$n.err"
        fail "$n: exit"
    }
    SIZE=$(stat -c %s "$2")
    SUM=$(sha512sum "$2" | cut -d' ' -f1)
    grep -q "^attachment: $SIZE ok\$" "h$n.out" || fail "$n: the host's digest of $SIZE bytes"
    grep -q "^attachment: $SIZE $SUM\$" "c$n.out" || fail "$n: the attachment sent back"
}

head -c 1000000 /dev/urandom >small.bin
# 120 MB of pseudo-random bytes, quicker than /dev/urandom
openssl enc -aes-128-ctr -pass pass:xrcp -nosalt -pbkdf2 -in /dev/zero 2>/dev/null | head -c 120000000 >big.bin
[ "$(stat -c %s big.bin)" = 120000000 ] || { echo "cannot make big.bin"; exit 1; }

echo "$(date +%T) 1 MB each way"
session s small.bin
echo "$(date +%T) 120 MB each way"
START=$(date +%s)
session b big.bin
END=$(date +%s)
CS=$(rss_of cs.out)
HS=$(rss_of hs.out)
CB=$(rss_of cb.out)
HB=$(rss_of hb.out)
echo "peak RSS (VmHWM), 1 MB session: controller $CS kB, host $HS kB"
echo "peak RSS (VmHWM), 120 MB session: controller $CB kB, host $HB kB ($((END - START)) s for 240 MB)"
[ -n "$CS" ] && [ -n "$HS" ] && [ -n "$CB" ] && [ -n "$HB" ] || fail "no peak RSS printed"
if [ -n "$SANITIZED" ]; then
    echo "sanitized build: RSS bounds not checked"
elif [ -n "$CB" ] && [ -n "$HB" ]; then
    [ "$CB" -le $((CS + 32768)) ] || fail "controller's peak RSS grew with the attachment: $CS -> $CB kB"
    [ "$HB" -le $((HS + 32768)) ] || fail "host's peak RSS grew with the attachment: $HS -> $HB kB"
fi

[ $FAILS -eq 0 ] && echo "all streamed attachment checks passed"
exit $FAILS
