#!/bin/sh
# Black-box test of what the router programs say when `start` cannot serve:
# a port another program holds, and a port below 1024 without root or the
# capability (run as the user nobody through setpriv when the test runs as
# root). Each must exit 1 at once, name the port, the reason and the fix, and
# print no "Serving ..." / "Listening on port" line.
# Usage: test_router_start.sh <path to smp-server> <path to xftp-server>
set -u
SMP=$1
XFTP=$2
T=$(mktemp -d /tmp/sx_start_test.XXXXXX) || exit 1
HOLDER=
trap '[ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null; rm -rf "$T"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
smp() { SMP_SERVER_CFG_PATH="$T/smp/etc" SMP_SERVER_LOG_PATH="$T/smp/var" "$@"; }
xftp() { XFTP_SERVER_CFG_PATH="$T/xftp/etc" XFTP_SERVER_LOG_PATH="$T/xftp/var" "$@"; }
set_port() { sed -i "s/^port: .*/port: $2/" "$1"; }

smp "$SMP" init -y --disable-web --no-password >/dev/null 2>&1 || fail "smp-server init"
xftp "$XFTP" init --path "$T/xftp/files" --quota 1gb >/dev/null 2>&1 || fail "xftp-server init"
SMP_INI="$T/smp/etc/smp-server.ini"
XFTP_INI="$T/xftp/etc/file-server.ini"

# ---- a port in use: held by a listening socket of this test ----------------
python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(300)' >"$T/held" &
HOLDER=$!
i=0
until [ -s "$T/held" ]; do
    i=$((i + 1)); [ $i -gt 100 ] && { fail "the port holder did not start"; break; }
    sleep 0.1
done
P=$(cat "$T/held")

set_port "$SMP_INI" "$P"
out=$(smp timeout 20 "$SMP" start 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "smp-server on a held port: exit $rc (want 1): $out"
echo "$out" | grep -qxF "Error: cannot start the server: cannot listen on port $P: Address already in use" \
    || fail "smp-server on a held port: the error line: $out"
echo "$out" | grep -q "ss -ltnp" || fail "smp-server on a held port: the fix: $out"
echo "$out" | grep -qF "[TRANSPORT] of $SMP_INI" || fail "smp-server on a held port: the INI: $out"
echo "$out" | grep -q "^Serving" && fail "smp-server on a held port printed a Serving line: $out"

# the reference's start options that change nothing here are accepted (its
# systemd unit runs `start +RTS -N -RTS`): the start goes as far as the port
out=$(smp timeout 20 "$SMP" start --confirm-migrations up +RTS -N -RTS 2>&1)
echo "$out" | grep -q "cannot listen on port $P" || fail "smp-server start with the reference's options: $out"
echo "$out" | grep -q "^Note: --confirm-migrations applies to a database store" \
    || fail "smp-server start --confirm-migrations: the note: $out"

set_port "$XFTP_INI" "$P"
out=$(xftp timeout 20 "$XFTP" start +RTS -N -RTS 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "xftp-server on a held port: exit $rc (want 1): $out"
echo "$out" | grep -qxF "Error: cannot start the server: cannot listen on port $P: Address already in use" \
    || fail "xftp-server on a held port: the error line: $out"
echo "$out" | grep -qF "[TRANSPORT] of $XFTP_INI" || fail "xftp-server on a held port: the INI: $out"
echo "$out" | grep -q "^Listening" && fail "xftp-server on a held port printed a Listening line: $out"
kill "$HOLDER" 2>/dev/null
HOLDER=

# ---- a privileged port without root or the capability ----------------------
unpriv=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
LOW=443
[ "$unpriv" -le 443 ] && LOW=$((unpriv - 1))
as_user=
if [ "$LOW" -lt 1 ]; then
    echo "SKIP: every port is unprivileged here (ip_unprivileged_port_start = $unpriv)"
elif [ "$(id -u)" -eq 0 ]; then
    if command -v setpriv >/dev/null 2>&1; then
        # nobody must read the keys and the binaries: copies in a folder it owns
        mkdir -p "$T/bin"
        cp "$SMP" "$T/bin/smp-server"
        cp "$XFTP" "$T/bin/xftp-server"
        SMP="$T/bin/smp-server"
        XFTP="$T/bin/xftp-server"
        chmod 755 "$T"
        chown -R 65534:65534 "$T/smp" "$T/xftp" "$T/bin"
        as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
    else
        echo "SKIP: running as root without setpriv"
        LOW=0
    fi
fi
if [ "$LOW" -ge 1 ]; then
    set_port "$SMP_INI" "$LOW"
    out=$(smp timeout 20 $as_user "$SMP" start 2>&1)
    rc=$?
    if echo "$out" | grep -q "^Serving"; then
        echo "SKIP: this user may bind port $LOW"
    else
        [ $rc -eq 1 ] || fail "smp-server on port $LOW: exit $rc (want 1): $out"
        echo "$out" | grep -qxF "Error: cannot start the server: cannot listen on port $LOW: Permission denied" \
            || fail "smp-server on port $LOW: the error line: $out"
        echo "$out" | grep -qxF "  setcap cap_net_bind_service=+ep $SMP" \
            || fail "smp-server on port $LOW: the setcap line: $out"
        echo "$out" | grep -qF "[TRANSPORT] of $SMP_INI" || fail "smp-server on port $LOW: the INI: $out"
        set_port "$XFTP_INI" "$LOW"
        out=$(xftp timeout 20 $as_user "$XFTP" start 2>&1)
        rc=$?
        [ $rc -eq 1 ] || fail "xftp-server on port $LOW: exit $rc (want 1): $out"
        echo "$out" | grep -qxF "  setcap cap_net_bind_service=+ep $XFTP" \
            || fail "xftp-server on port $LOW: the setcap line: $out"
        echo "$out" | grep -q "^Listening" && fail "xftp-server on port $LOW printed a Listening line: $out"
    fi
fi

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS check(s) failed"
    exit 1
fi
echo "all checks passed"
