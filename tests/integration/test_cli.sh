#!/bin/sh
# Black-box test of the smp-server program's operator commands (PROTOCOL-NOTES
# H1-H3, H6, H9, H10, H14): init -y in a temporary folder chosen through the
# environment, the files and their modes, the fingerprint, a refused second
# init, the interactive init, start's checks, delete and --version.
# Usage: test_cli.sh <path to smp-server>
set -u
BIN=$1
T=$(mktemp -d /tmp/sx_cli_test.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
export SMP_SERVER_CFG_PATH="$T/etc" SMP_SERVER_LOG_PATH="$T/var"
umask 022
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
check() { desc=$1; shift; "$@" || fail "$desc"; }

# --version / -v
v=$("$BIN" --version) || fail "--version exit code"
echo "$v" | grep -Eq '^SMP server v[0-9]+\.[0-9]+\.[0-9]+ / ([0-9a-f]{7}|unknown)$' \
    || fail "--version prints '$v'"
check "-v is --version" test "$("$BIN" -v)" = "$v"

# init -y
out=$("$BIN" init -y --source-code 2>&1) || fail "init -y exit code: $out"
for f in ca.key ca.crt server.key server.crt fingerprint smp-server.ini; do
    check "$f exists" test -f "$T/etc/$f"
done
check "log folder exists" test -d "$T/var"
for f in ca.key server.key smp-server.ini; do
    check "$f mode 600" test "$(stat -c %a "$T/etc/$f")" = 600
done
for f in ca.crt server.crt fingerprint; do
    check "$f mode 644" test "$(stat -c %a "$T/etc/$f")" = 644
done

# fingerprint = base64url(SHA-256(DER of ca.crt)) + newline
fp=$(openssl x509 -in "$T/etc/ca.crt" -outform DER | openssl dgst -sha256 -binary | base64 -w0 \
     | tr '+/' '-_')
check "fingerprint file matches ca.crt ($fp)" test "$(cat "$T/etc/fingerprint")" = "$fp"
check "fingerprint file is one line" test "$(wc -l < "$T/etc/fingerprint")" = 1
openssl verify -CAfile "$T/etc/ca.crt" "$T/etc/server.crt" >/dev/null 2>&1 \
    || fail "server.crt is not signed by ca.crt"
openssl x509 -in "$T/etc/server.crt" -noout -subject | grep -q 'CN *= *127.0.0.1' \
    || fail "server.crt CN is the IP"
openssl pkey -in "$T/etc/ca.key" -noout -text 2>/dev/null | grep -q ED25519 \
    || fail "CA key is Ed25519"

# PROTOCOL-NOTES H9 lines
pw=$(sed -n 's/^create_password: //p' "$T/etc/smp-server.ini")
check "random password written" test ${#pw} = 44
echo "$out" | grep -qx "Server initialized, please provide additional server information in $T/etc/smp-server.ini." \
    || fail "init: initialized line"
echo "$out" | grep -qx "Run \`smp-server start\` to start server." || fail "init: run line"
echo "$out" | grep -qx "$T/etc/ca.key" || fail "init: CA key path"
echo "$out" | grep -qx "$v" || fail "init: version line"
echo "$out" | grep -qx "Fingerprint: $fp" || fail "init: fingerprint line"
echo "$out" | grep -qxF "Server address: smp://$fp:$pw@<hostnames>:5223,443" || fail "init: address line"
echo "$out" | grep -q "^Replace <hostnames> with" || fail "init: what to do with <hostnames>"
echo "$out" | grep -qx "Server source code: https://github.com/simplex-chat/simplexmq" \
    || fail "init: source code line"
# [WEB] as the reference's init writes it: https, cert and key active
grep -qx "https: 443" "$T/etc/smp-server.ini" || fail "[WEB] https active"
grep -qx "cert: $T/etc/web.crt" "$T/etc/smp-server.ini" || fail "[WEB] cert active"
grep -qx "key: $T/etc/web.key" "$T/etc/smp-server.ini" || fail "[WEB] key active"

# a second init refuses and changes nothing
before=$(cat "$T/etc/fingerprint")
out=$("$BIN" init -y 2>&1) && fail "second init succeeded"
echo "$out" | grep -q "already initialized" || fail "second init message: $out"
check "second init kept the identity" test "$(cat "$T/etc/fingerprint")" = "$before"

# start: the checks that run before serving
cp "$T/etc/smp-server.ini" "$T/ini.bak"
sed -i 's/^log_tls_errors: off$/log_tls_errors: yes/' "$T/etc/smp-server.ini"
out=$("$BIN" start 2>&1) && fail "start with a bad boolean succeeded"
echo "$out" | grep -q "log_tls_errors" || fail "bad boolean error names the key: $out"
cp "$T/ini.bak" "$T/etc/smp-server.ini"
echo "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" > "$T/etc/fingerprint"
out=$("$BIN" start 2>&1) && fail "start with a wrong fingerprint succeeded"
echo "$out" | grep -qx "Stored fingerprint is invalid." || fail "fingerprint message: $out"
echo "$before" > "$T/etc/fingerprint"
mkdir "$T/var/messages"
out=$("$BIN" start 2>&1) && fail "start with a journal folder succeeded"
echo "$out" | grep -qxF "Server address: smp://$fp:$pw@<hostnames>:5223,443" \
    || fail "start: address line: $out"
echo "$out" | grep -q "^Serving" && fail "start: a port line before any port was bound: $out"
echo "$out" | grep -q "messages" || fail "start: journal folder message"
rmdir "$T/var/messages"

# options for what this server does not have yet: refused with a clear word,
# or accepted (the reference's start commands) and said to be ignored
# [WEB] https, cert and key as init wrote them: refused without the files
out=$("$BIN" start -m 2>&1) && fail "start without the web certificate succeeded"
echo "$out" | grep -qxF "Error: no HTTPS credentials: $T/etc/web.crt, $T/etc/web.key" ||
    fail "start without the web certificate: $out"
sed -i 's/^https: 443$/# https: 443/' "$T/etc/smp-server.ini"
out=$("$BIN" start -m 2>&1) || fail "start --maintenance failed: $out"
echo "$out" | grep -qx "Server started in 'maintenance' mode, exiting" || fail "start -m message: $out"
echo "$out" | grep -q "^Serving" && fail "start -m served: $out"
"$BIN" --help | grep -q -- "--maintenance          restore and save the state" || fail "--help: -m"
"$BIN" --help | grep -q -- "--pool-size N" || fail "--help: database options"
"$BIN" --help | grep -q "PostgreSQL settings written to the INI" || fail "--help: database"

# delete: y, Y or yes deletes; the default (an empty answer) and n do not
for a in "" n no; do
    out=$(echo "$a" | "$BIN" delete 2>&1) && fail "delete with '$a' succeeded"
    echo "$out" | grep -q "Continue (y/N): " || fail "delete prompt: $out"
    echo "$out" | grep -q "Server NOT deleted$" || fail "delete refusal line: $out"
    check "delete with '$a' kept the folders" test -f "$T/etc/smp-server.ini"
done
out=$(echo yes | "$BIN" delete 2>&1) || fail "delete with 'yes' failed: $out"
check "delete removed the config folder" test ! -e "$T/etc"
check "delete removed the log folder" test ! -e "$T/var"
out=$("$BIN" start 2>&1) && fail "start without init succeeded"
echo "$out" | grep -q "not initialized" || fail "start without init message: $out"

# interactive init: Enter, store log no, stats yes, no password, FQDN, default
# source code, default web path
out=$(printf '\nn\ny\nn\nsmp.example.com\n\n\n' | "$BIN" init 2>&1) \
    || fail "interactive init failed: $out"
ini="$T/etc/smp-server.ini"
grep -qx "enable: off" "$ini" || fail "interactive: store log off"
grep -qx "log_stats: on" "$ini" || fail "interactive: daily stats on"
grep -q "^# create_password: " "$ini" || fail "interactive: no password"
grep -qx "host: smp.example.com" "$ini" || fail "interactive: host"
grep -qx "source_code: https://github.com/simplex-chat/simplexmq" "$ini" \
    || fail "interactive: default source code"
openssl x509 -in "$T/etc/server.crt" -noout -subject | grep -q 'CN *= *smp.example.com' \
    || fail "interactive: certificate CN"
echo "$out" | grep -q "Server address: smp://[A-Za-z0-9_=-]*@smp.example.com:5223,443$" \
    || fail "interactive: address without password: $out"

# init options: Ed448, a given password, a control port, no web server
echo Y | "$BIN" delete >/dev/null 2>&1
"$BIN" init -y -a ED448 --password 'my-Pass_1' --control-port --ip 192.0.2.1 --disable-web >/dev/null 2>&1 \
    || fail "init with options failed"
grep -qx "# https: 443" "$ini" || fail "--disable-web: [WEB] https commented out"
grep -qx "# cert: $T/etc/web.crt" "$ini" || fail "--disable-web: [WEB] cert commented out"
openssl pkey -in "$T/etc/ca.key" -noout -text 2>/dev/null | grep -q ED448 || fail "CA key is Ed448"
grep -qx "create_password: my-Pass_1" "$ini" || fail "given password"
grep -qx "control_port: 5224" "$ini" || fail "control port"
grep -qx "host: 192.0.2.1" "$ini" || fail "host is the IP"
grep -q "^control_port_admin_password: ........................$" "$ini" || fail "admin password"
echo Y | "$BIN" delete >/dev/null 2>&1
out=$("$BIN" init -y --ip 127.0.0.1 2>&1) || fail "init --ip 127.0.0.1 failed: $out"
grep -qx "host: 127.0.0.1" "$ini" || fail "a given --ip 127.0.0.1 is the host"
echo "$out" | grep -q "^Server address: smp://.*@127.0.0.1:5223,443$" || fail "init --ip 127.0.0.1: address: $out"
echo "$out" | grep -q "<hostnames>" && fail "init --ip 127.0.0.1 speaks of <hostnames>: $out"
echo Y | "$BIN" delete >/dev/null 2>&1
out=$("$BIN" init -y --password 'a@b' 2>&1) && fail "init accepted a bad password"
# the PostgreSQL options go into the INI as the reference writes them
out=$("$BIN" init -y -d postgresql://smp@/smp --schema s --pool-size 4 2>&1) || fail "init with database options: $out"
grep -qx "db_connection: postgresql://smp@/smp" "$ini" || fail "init -d: $(grep db_ "$ini")"
grep -qx "db_schema: s" "$ini" || fail "init --schema: $(grep db_ "$ini")"
grep -qx "db_pool_size: 4" "$ini" || fail "init --pool-size: $(grep db_ "$ini")"
echo Y | "$BIN" delete >/dev/null 2>&1
out=$("$BIN" init -y --pool-size 0 2>&1) && fail "init accepted --pool-size 0"
check "init --pool-size 0 created nothing" test ! -e "$T/etc"
out=$("$BIN" init -y --operator X 2>&1) && fail "init accepted --operator without --source-code"
echo "$out" | grep -q -- "--source-code" || fail "operator error message: $out"

# cert (PROTOCOL-NOTES H13): a new online certificate under the same CA; the
# identity stays
echo Y | "$BIN" delete >/dev/null 2>&1
"$BIN" init -y --no-password --fqdn cert.example >/dev/null 2>&1 || fail "init before cert failed"
fp_before=$(cat "$T/etc/fingerprint")
crt_before=$(sha256sum < "$T/etc/server.crt")
"$BIN" cert >/dev/null 2>&1 || fail "cert failed"
check "cert replaced server.crt" test "$(sha256sum < "$T/etc/server.crt")" != "$crt_before"
check "cert kept the fingerprint" test "$(cat "$T/etc/fingerprint")" = "$fp_before"
openssl verify -CAfile "$T/etc/ca.crt" "$T/etc/server.crt" >/dev/null 2>&1 || fail "new server.crt verifies"
openssl x509 -in "$T/etc/server.crt" -noout -subject | grep -q 'CN *= *cert.example' || fail "cert kept the CN"
check "server.key mode 600 after cert" test "$(stat -c %a "$T/etc/server.key")" = 600
"$BIN" cert -a ED448 --cn other.example >/dev/null 2>&1 || fail "cert with options failed"
openssl x509 -in "$T/etc/server.crt" -noout -text | grep -q 'ED448' || fail "cert -a ED448"
openssl x509 -in "$T/etc/server.crt" -noout -subject | grep -q 'CN *= *other.example' || fail "cert --cn"
out=$("$BIN" cert -a RSA 2>&1) && fail "cert accepted a bad algorithm"
rm -f "$T/etc/ca.key"
out=$("$BIN" cert 2>&1) && fail "cert without the CA key succeeded"
echo "$out" | grep -q "ca.key" || fail "cert error names the CA key: $out"

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS check(s) failed"
    exit 1
fi
echo "all checks passed"
