#!/bin/sh
# The SMP router's start-up checks of its HTTPS credentials, as the
# reference's: with [WEB] https, cert and key set (as `init` writes them
# without --disable-web), `start` refuses to run while either file is
# missing, naming the missing ones, and while the certificate's key is not
# RSA of at least 4096 bits (P-256 ECDSA, RSA 2048), or the key file does
# not hold the certificate's key; with a 4096-bit RSA certificate and its
# key it starts.
# Usage: test_smp_https_check.sh <path to smp-server>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SERVER=$(abspath "$1")
T=$(mktemp -d /tmp/sx_smp_https.XXXXXX) || exit 1
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
export SMP_SERVER_CFG_PATH="$T/etc" SMP_SERVER_LOG_PATH="$T/var"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
if command -v timeout >/dev/null 2>&1; then TO="timeout 60"; TOS="timeout 290"; else TO=; TOS=; fi

"$SERVER" init -y --ip 127.0.0.1 >"$T/init.log" 2>&1 || { cat "$T/init.log"; echo "FAIL: init"; exit 1; }
INI="$T/etc/smp-server.ini"
CRT="$T/etc/web.crt"
KEY="$T/etc/web.key"
grep -qx "cert: $CRT" "$INI" && grep -qx "key: $KEY" "$INI" && grep -q "^https: " "$INI" ||
    { echo "FAIL: init did not write [WEB] https, cert and key"; exit 1; }
# a port of its own for the https line: no static_path, so nothing listens on it
HP=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s/^https: .*/https: $HP/" "$INI"

refused() { # $1: what, $2: the text expected in the output
    out=$($TO "$SERVER" start 2>&1); rc=$?
    [ $rc = 1 ] || fail "$1: exit code $rc, expected 1: $out"
    echo "$out" | grep -qF -- "$2" || fail "$1: no '$2' in: $out"
    echo "$out" | grep -q "^Serving SMP" && fail "$1: served"
}
newcert() { # $1: openssl -newkey argument, $2: certificate file, $3: key file
    openssl req -x509 -newkey "$1" -nodes -days 2 -subj /CN=localhost -keyout "$3" -out "$2" >/dev/null 2>&1 ||
        { echo "FAIL: openssl req $1"; exit 1; }
}

refused "no files" "Error: no HTTPS credentials: $CRT, $KEY"
refused "no files, the advice" "certbot certonly --standalone -d yourdomainname --key-type rsa --rsa-key-size 4096"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
    -keyout "$T/ec.key" -out "$CRT" >/dev/null 2>&1 || { echo "FAIL: openssl req ec"; exit 1; }
refused "no key file" "Error: no HTTPS credentials: $KEY"
cp "$T/ec.key" "$KEY"
refused "P-256 ECDSA" "Error: unsupported HTTPS credentials, required 4096-bit RSA"
newcert rsa:2048 "$CRT" "$KEY"
refused "RSA 2048" "Error: unsupported HTTPS credentials, required 4096-bit RSA"
newcert rsa:4096 "$CRT" "$T/rsa4096.key" # $KEY still holds the RSA 2048 key
refused "a key of another certificate" "is not the certificate's key"
cp "$T/rsa4096.key" "$KEY"
mv "$CRT" "$T/rsa4096.crt"
refused "no certificate file" "Error: no HTTPS credentials: $CRT"
mv "$T/rsa4096.crt" "$CRT"

. "$(dirname "$0")/smp_router_start.sh"
start_router # exits the test when the router does not come up
grep -q "unsupported HTTPS\|no HTTPS credentials" "$T/server.log" && fail "an HTTPS error at a good start"
kill "$PID"
wait "$PID"
rc=$?
PID=
[ $rc = 0 ] || fail "the router's exit code at SIGTERM: $rc"

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS failure(s)"
    exit 1
fi
echo "HTTPS credentials checked at start: ok"
