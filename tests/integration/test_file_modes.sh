#!/bin/sh
# The modes of the routers' files, with real smp-server and xftp-server
# processes under umask 022: after init, two starts and two stops (a store
# log with a queue, a compaction backup, the messages and notifications
# logs), every file of both folders is 0600 except the public ones
# (ca.crt, server.crt, fingerprint: 0644). Then the secret files are made
# 0644, as an older version or the reference leaves them: the next start
# says so on stderr, one line per file, and makes them 0600 again.
# Usage: test_file_modes.sh <smp-server> <smp> <xftp-server>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SMPSRV=$(abspath "$1")
SMP=$(abspath "$2")
XFTPSRV=$(abspath "$3")
T=$(mktemp -d /tmp/sx_file_modes.XXXXXX) || exit 1
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

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + ($$ + $1) % 20000))
}

# start NAME BIN PORT: starts BIN in the background (PID), output in
# $T/NAME.out and $T/NAME.err, and waits until PORT accepts TLS.
start() {
    rm -f "$T/$1.out" "$T/$1.err"
    $TO "$2" start >"$T/$1.out" 2>"$T/$1.err" &
    PID=$!
    i=0
    until openssl s_client -connect "127.0.0.1:$3" </dev/null >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$PID" 2>/dev/null; then
            echo "FAIL: $1 did not start"; cat "$T/$1.out" "$T/$1.err"; exit 1
        fi
        sleep 0.1
    done
}

# stop: SIGINT, exit code 0.
stop() {
    kill -INT "$PID"
    wait "$PID" || fail "exit code after SIGINT"
    PID=
}

# check_modes DIR...: every regular file is 0600, but the public ones 0644.
check_modes() {
    for d in "$@"; do
        for f in "$d"/* "$d"/.[!.]*; do
            [ -f "$f" ] || continue
            m=$(stat -c %a "$f")
            case ${f##*/} in
                ca.crt | server.crt | fingerprint) want=644 ;;
                *) want=600 ;;
            esac
            [ "$m" = "$want" ] || fail "$f has mode $m, not $want"
        done
    done
}

# widen_and_restart NAME BIN PORT FILE...: the files become 0644; the next
# start names each of them on stderr and makes them 0600.
widen_and_restart() {
    name=$1 bin=$2 port=$3
    shift 3
    chmod 644 "$@"
    start "$name" "$bin" "$port"
    stop
    for f in "$@"; do
        grep -qF "Warning: $f holds secrets and others could read it (mode 0644): changed to 0600" "$T/$name.err" \
            || fail "$name: no line on stderr for $f: $(cat "$T/$name.err")"
        [ "$(stat -c %a "$f")" = 600 ] || fail "$name: $f is still $(stat -c %a "$f")"
    done
}

# ---- smp-server ----
export SMP_SERVER_CFG_PATH="$T/smp/etc" SMP_SERVER_LOG_PATH="$T/smp/var"
"$SMPSRV" init -y --disable-web --ip 127.0.0.1 >"$T/smp-init.out" 2>&1 || { cat "$T/smp-init.out"; echo "FAIL: smp init"; exit 1; }
INI="$T/smp/etc/smp-server.ini"
P=$(free_port 1)
sed -i "s/^port: .*/port: $P/" "$INI"
check_modes "$T/smp/etc" "$T/smp/var"
start smp1 "$SMPSRV" "$P"
PW=$(sed -n 's/^create_password: //p' "$INI")
ADDR="smp://$(cat "$T/smp/etc/fingerprint"):$PW@127.0.0.1:$P"
(cd "$T" && $TO "$SMP" create "$ADDR" --out r.queue --sender-out s.queue >/dev/null) || fail "smp create"
(cd "$T" && $TO "$SMP" send s.queue "kept over the restarts") || fail "smp send"
stop
V="$T/smp/var"
# The log holds only the queue's CREATE, checked by its .sum file: a start
# would keep it as it is, with no backup. Without the .sum it is compacted
# (and backed up), as a log written by another program is.
rm -f "$V/smp-server-store.log.sum"
start smp2 "$SMPSRV" "$P"
stop
for f in smp-server-store.log smp-server-messages.log smp-server-ntfs.log; do
    [ -f "$V/$f" ] || fail "no $f"
done
BACKUP=$(ls "$V"/smp-server-store.log.20* 2>/dev/null | head -n 1)
[ -n "$BACKUP" ] || fail "no store log backup"
check_modes "$T/smp/etc" "$V"
widen_and_restart smp3 "$SMPSRV" "$P" "$INI" "$T/smp/etc/server.key" "$V/smp-server-store.log" \
    "$BACKUP" "$V/smp-server-messages.log"
check_modes "$T/smp/etc" "$V"

# ---- xftp-server ----
export XFTP_SERVER_CFG_PATH="$T/xftp/etc" XFTP_SERVER_LOG_PATH="$T/xftp/var"
"$XFTPSRV" init -p "$T/xftp/files" -q 1gb >"$T/xftp-init.out" 2>&1 \
    || { cat "$T/xftp-init.out"; echo "FAIL: xftp init"; exit 1; }
INI="$T/xftp/etc/file-server.ini"
P=$(free_port 2)
sed -i "s/^port: .*/port: $P/" "$INI"
check_modes "$T/xftp/etc" "$T/xftp/var"
start xftp1 "$XFTPSRV" "$P"
stop
start xftp2 "$XFTPSRV" "$P"
stop
V="$T/xftp/var"
[ -f "$V/file-server-store.log" ] || fail "no file-server-store.log"
BACKUP=$(ls "$V"/file-server-store.log.20* 2>/dev/null | head -n 1)
[ -n "$BACKUP" ] || fail "no file store log backup"
check_modes "$T/xftp/etc" "$V"
widen_and_restart xftp3 "$XFTPSRV" "$P" "$INI" "$T/xftp/etc/ca.key" "$V/file-server-store.log" "$BACKUP"
check_modes "$T/xftp/etc" "$V"

[ "$FAILS" -eq 0 ] || { echo "$FAILS check(s) failed"; exit 1; }
echo "all checks passed"
