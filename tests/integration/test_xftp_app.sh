#!/bin/sh
# Black-box test of the xftp-server program (PROTOCOL-NOTES H16-H19): init in
# a temporary folder chosen through the environment (files, modes, printed
# lines, the INI), init refusing without --path / --quota and a second time,
# start's checks, start serving TLS with ALPN xftp/1 and the CA chain, stop on
# SIGINT and SIGTERM, restart over the compacted store log, cert, delete and
# --version.
# Usage: test_xftp_app.sh <path to xftp-server>
set -u
BIN=$1
T=$(mktemp -d /tmp/sx_xftp_app.XXXXXX) || exit 1
PID=
cleanup() {
    if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT
export XFTP_SERVER_CFG_PATH="$T/etc" XFTP_SERVER_LOG_PATH="$T/var"
umask 022
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
check() { desc=$1; shift; "$@" || fail "$desc"; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + $$ % 20000))
}

# --version / -v
v=$("$BIN" --version) || fail "--version exit code"
echo "$v" | grep -Eq '^SimpleX XFTP server v[0-9]+\.[0-9]+\.[0-9]+ / ([0-9a-f]{7}|unknown)$' \
    || fail "--version prints '$v'"
check "-v is --version" test "$("$BIN" -v)" = "$v"

# init refuses without the required options, creating nothing
out=$("$BIN" init 2>&1) && fail "init without --path/--quota succeeded"
echo "$out" | grep -q -- "--path" || fail "init names the missing --path: $out"
echo "$out" | grep -q -- "--quota" || fail "init names the missing --quota: $out"
out=$("$BIN" init -p "$T/files" 2>&1) && fail "init without --quota succeeded"
out=$("$BIN" init -q 1gb 2>&1) && fail "init without --path succeeded"
out=$("$BIN" init -p "$T/files" -q lots 2>&1) && fail "init with a bad quota succeeded"
check "nothing created by refused inits" test ! -e "$T/etc"

# init
out=$("$BIN" init -p "$T/files" -q 2048mb 2>&1) || fail "init exit code: $out"
for f in ca.key ca.crt server.key server.crt fingerprint file-server.ini; do
    check "$f exists" test -f "$T/etc/$f"
done
check "log folder exists" test -d "$T/var"
for f in ca.key server.key file-server.ini; do
    check "$f mode 600" test "$(stat -c %a "$T/etc/$f")" = 600
done
for f in ca.crt server.crt fingerprint; do
    check "$f mode 644" test "$(stat -c %a "$T/etc/$f")" = 644
done
fp=$(openssl x509 -in "$T/etc/ca.crt" -outform DER | openssl dgst -sha256 -binary | base64 -w0 | tr '+/' '-_')
check "fingerprint file matches ca.crt ($fp)" test "$(cat "$T/etc/fingerprint")" = "$fp"
openssl verify -CAfile "$T/etc/ca.crt" "$T/etc/server.crt" >/dev/null 2>&1 \
    || fail "server.crt is not signed by ca.crt"
openssl pkey -in "$T/etc/ca.key" -noout -text 2>/dev/null | grep -q ED448 || fail "CA key is Ed448 (default)"
openssl x509 -in "$T/etc/server.crt" -noout -subject | grep -q 'CN *= *127.0.0.1' || fail "server.crt CN is the IP"
ini="$T/etc/file-server.ini"
echo "$out" | grep -qx "Server initialized, you can modify configuration in $ini." || fail "init: initialized line"
echo "$out" | grep -qx "Run \`xftp-server start\` to start server." || fail "init: run line"
echo "$out" | grep -qx "$T/etc/ca.key" || fail "init: CA key path"
echo "$out" | grep -qx "$v" || fail "init: version line"
echo "$out" | grep -qx "Fingerprint: $fp" || fail "init: fingerprint line"
echo "$out" | grep -qxF "Server address: xftp://$fp@<hostnames>" || fail "init: address line"
grep -qx "enable: on" "$ini" || fail "ini: store log on"
grep -qx "expire_files_hours: 48" "$ini" || fail "ini: expire_files_hours"
grep -qx "new_files: on" "$ini" || fail "ini: new_files"
grep -qx "host: <hostnames>" "$ini" || fail "ini: host"
grep -qx "port: 443" "$ini" || fail "ini: port"
grep -qx "path: $T/files" "$ini" || fail "ini: files path"
grep -qx "storage_quota: 2gb" "$ini" || fail "ini: quota re-encoded"
grep -qx "static_path: $T/var/www" "$ini" || fail "ini: static path"

# a second init refuses and changes nothing
out=$("$BIN" init -p "$T/files" -q 1gb 2>&1) && fail "second init succeeded"
echo "$out" | grep -q "already initialized" || fail "second init message: $out"
check "second init kept the identity" test "$(cat "$T/etc/fingerprint")" = "$fp"

# start's checks
cp "$ini" "$T/ini.bak"
sed -i 's/^storage_quota: 2gb$/storage_quota: 2 gb/' "$ini"
out=$("$BIN" start 2>&1) && fail "start with a bad quota succeeded"
echo "$out" | grep -q "\[FILES\] storage_quota" || fail "bad quota error names section and key: $out"
cp "$T/ini.bak" "$ini"
echo "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" > "$T/etc/fingerprint"
out=$("$BIN" start 2>&1) && fail "start with a wrong fingerprint succeeded"
echo "$out" | grep -qx "Stored fingerprint is invalid." || fail "fingerprint message: $out"
echo "$fp" > "$T/etc/fingerprint"

# start serving on a free port; TLS with ALPN xftp/1 and the CA chain
start_server() {
    port=$(free_port)
    sed -i "s/^port: .*/port: $port/" "$ini"
    "$BIN" start > "$T/start.out" 2>&1 &
    PID=$!
    i=0
    while [ $i -lt 100 ]; do
        if grep -q "^Listening on port" "$T/start.out" && \
           openssl s_client -connect "127.0.0.1:$port" -alpn xftp/1 </dev/null >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$PID" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
stop_server() { # signal
    kill "-$1" "$PID"
    i=0
    while kill -0 "$PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$PID" 2>/dev/null; then
        fail "server did not stop on SIG$1"
        kill -9 "$PID"
    fi
    wait "$PID"
    rc=$?
    PID=
    check "server exit code 0 after SIG$1 (got $rc)" test "$rc" = 0
}

if start_server; then
    out=$(cat "$T/start.out")
    echo "$out" | grep -qx "$v" || fail "start: version line"
    echo "$out" | grep -qx "Fingerprint: $fp" || fail "start: fingerprint line"
    echo "$out" | grep -qxF "Server address: xftp://$fp@<hostnames>:$port" || fail "start: address line: $out"
    echo "$out" | grep -qx "Store log: $T/var/file-server-store.log" || fail "start: store log line"
    echo "$out" | grep -qx "expiring files after 2 days" || fail "start: expiry line"
    echo "$out" | grep -qx "not expiring inactive clients" || fail "start: inactive clients line"
    echo "$out" | grep -qx "Uploading new files allowed." || fail "start: upload line"
    echo "$out" | grep -qx "Listening on port $port..." || fail "start: listening line"
    s=$(openssl s_client -connect "127.0.0.1:$port" -alpn xftp/1 -CAfile "$T/etc/ca.crt" -showcerts \
        </dev/null 2>/dev/null)
    echo "$s" | grep -q "ALPN protocol: xftp/1" || fail "ALPN xftp/1 not selected"
    echo "$s" | grep -q "Verify return code: 0 (ok)" || fail "chain does not verify with ca.crt"
    n=$(echo "$s" | grep -c "BEGIN CERTIFICATE")
    check "chain of 2 certificates (got $n)" test "$n" = 2
    echo "$s" | grep -q "TLSv1.3" || fail "not TLS 1.3"
    check "files folder created" test -d "$T/files"
    check "store log created" test -f "$T/var/file-server-store.log"
    stop_server INT
    # a restart compacts the log and keeps a backup; SIGTERM stops too
    if start_server; then
        ls "$T/var" | grep -q '^file-server-store\.log\.20' || fail "no store log backup after restart"
        stop_server TERM
    else
        fail "restart failed: $(cat "$T/start.out")"
    fi
else
    fail "start failed: $(cat "$T/start.out")"
fi

# cert: a new online certificate under the same CA; the identity stays
crt_before=$(sha256sum < "$T/etc/server.crt")
"$BIN" cert >/dev/null 2>&1 || fail "cert failed"
check "cert replaced server.crt" test "$(sha256sum < "$T/etc/server.crt")" != "$crt_before"
check "cert kept the fingerprint" test "$(cat "$T/etc/fingerprint")" = "$fp"
openssl verify -CAfile "$T/etc/ca.crt" "$T/etc/server.crt" >/dev/null 2>&1 || fail "new server.crt verifies"
openssl x509 -in "$T/etc/server.crt" -noout -text | grep -q 'ED448' || fail "cert kept Ed448"
"$BIN" cert -a ED25519 --cn files.example >/dev/null 2>&1 || fail "cert with options failed"
openssl x509 -in "$T/etc/server.crt" -noout -subject | grep -q 'CN *= *files.example' || fail "cert --cn"
out=$("$BIN" cert -a RSA 2>&1) && fail "cert accepted a bad algorithm"

# delete: y, Y or yes deletes; the default (an empty answer) and n do not
out=$(echo | "$BIN" delete 2>&1) && fail "delete with an empty answer succeeded"
echo "$out" | grep -q "Continue (y/N): " || fail "delete prompt: $out"
echo "$out" | grep -q "Server NOT deleted$" || fail "delete refusal line: $out"
check "delete with an empty answer kept the folders" test -f "$ini"
out=$(echo y | "$BIN" delete 2>&1) || fail "delete with 'y' failed: $out"
echo "$out" | grep -q "Deleted configuration and log files$" || fail "delete line: $out"
check "delete removed the config folder" test ! -e "$T/etc"
check "delete removed the log folder" test ! -e "$T/var"
out=$("$BIN" start 2>&1) && fail "start without init succeeded"
echo "$out" | grep -q "not initialized" || fail "start without init message: $out"
out=$("$BIN" cert 2>&1) && fail "cert without init succeeded"

# init options: Ed25519, FQDN, store log off, web path
"$BIN" init --disable-store-log -a ED25519 -n files.example.com --path "$T/f2" --quota 100gb \
    --web-path "$T/www" >"$T/init.out" 2>&1 || fail "init with options failed: $(cat "$T/init.out")"
grep -qx "enable: off" "$ini" || fail "options: store log off"
grep -qx "host: files.example.com" "$ini" || fail "options: host"
grep -qx "static_path: $T/www" "$ini" || fail "options: web path"
grep -qx "storage_quota: 100gb" "$ini" || fail "options: quota"
openssl pkey -in "$T/etc/ca.key" -noout -text 2>/dev/null | grep -q ED25519 || fail "options: Ed25519"
openssl x509 -in "$T/etc/server.crt" -noout -subject | grep -q 'CN *= *files.example.com' || fail "options: CN"
grep -q "Server address: xftp://[A-Za-z0-9_=-]*@files.example.com$" "$T/init.out" || fail "options: address"
echo y | "$BIN" delete >/dev/null 2>&1
out=$("$BIN" init -p "$T/f3" -q 1gb --ip 127.0.0.1 2>&1) || fail "init --ip 127.0.0.1 failed: $out"
grep -qx "host: 127.0.0.1" "$ini" || fail "a given --ip 127.0.0.1 is the host"
echo "$out" | grep -qxF "Server address: xftp://$(cat "$T/etc/fingerprint")@127.0.0.1" \
    || fail "init --ip 127.0.0.1: address: $out"

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS check(s) failed"
    exit 1
fi
echo "all checks passed"
