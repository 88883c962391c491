#!/bin/sh
# Black-box test of ntf-server's init, cert and delete (PROTOCOL-NOTES
# H20-H23): the folders from the environment, the files init creates, the
# printed address against the fingerprint file, the INI's keys and values
# for the options given, a second init refused, cert keeping the
# fingerprint, delete answered no and yes; start listening on the INI's port
# and stopping on SIGINT.
# Usage: test_ntf_cli.sh <path to ntf-server>
set -u
SRV=$1
T=$(mktemp -d /tmp/sx_ntf_cli.XXXXXX) || exit 1
PID=
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"' EXIT
export NTF_SERVER_CFG_PATH="$T/etc" NTF_SERVER_LOG_PATH="$T/var"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
INI="$T/etc/ntf-server.ini"

"$SRV" --version | grep -q "^SMP notifications server v" || fail "--version"
"$SRV" cert >/dev/null 2>&1 && fail "cert before init succeeded"

# defaults: store log on, ED448, <hostnames>, database lines commented
"$SRV" init >"$T/out1" 2>&1 || fail "init"
for f in ca.key ca.crt server.key server.crt fingerprint ntf-server.ini; do
    [ -s "$T/etc/$f" ] || fail "init did not create $f"
done
[ -d "$T/var" ] || fail "init did not create the log folder"
fp=$(cat "$T/etc/fingerprint")
grep -qx "Server address: ntf://$fp@<hostnames>" "$T/out1" || fail "printed address: $(grep address "$T/out1")"
grep -qx "Fingerprint: $fp" "$T/out1" || fail "printed fingerprint"
openssl x509 -in "$T/etc/ca.crt" -noout -text | grep -q ED448 || fail "CA key is not ED448"
for line in "enable: on" "host: <hostnames>" "port: 443" "log_tls_errors: off" "websockets: off" \
    "disconnect: off" "log_stats: off" "# db_connection: postgresql://ntf@/ntf_server_store" \
    "# db_schema: ntf_server" "# control_port: 5227" "# use_service_credentials: off"; do
    grep -qxF "$line" "$INI" || fail "INI line '$line' missing"
done
for s in STORE_LOG AUTH TRANSPORT SUBSCRIBER INACTIVE_CLIENTS; do
    grep -qx "\[$s\]" "$INI" || fail "INI section $s missing"
done
"$SRV" init >"$T/out2" 2>&1 && fail "second init succeeded"
grep -q "already initialized" "$T/out2" || fail "second init message"

# cert: a new server certificate, the same fingerprint
old=$(openssl x509 -in "$T/etc/server.crt" -noout -fingerprint)
"$SRV" cert --cn ntf.example.com >/dev/null 2>&1 || fail "cert"
new=$(openssl x509 -in "$T/etc/server.crt" -noout -fingerprint)
[ "$old" != "$new" ] || fail "cert did not replace server.crt"
openssl x509 -in "$T/etc/server.crt" -noout -subject | grep -q "ntf.example.com" || fail "cert CN"
[ "$(cat "$T/etc/fingerprint")" = "$fp" ] || fail "cert changed the fingerprint"

# delete: no keeps everything, yes removes both folders
echo n | "$SRV" delete >/dev/null 2>&1 && fail "delete answered n succeeded"
[ -f "$INI" ] || fail "delete answered n removed the INI"
echo y | "$SRV" delete >/dev/null 2>&1 || fail "delete answered y"
[ -e "$T/etc" ] && fail "delete left the configuration folder"
[ -e "$T/var" ] && fail "delete left the log folder"

# options: FQDN, ED25519, store log off, database values
"$SRV" init -n ntf.example.com -a ED25519 --disable-store-log -d postgresql://u@/db --schema s1 \
    --pool-size 4 >"$T/out3" 2>&1 || fail "init with options"
fp=$(cat "$T/etc/fingerprint")
grep -qx "Server address: ntf://$fp@ntf.example.com" "$T/out3" || fail "printed address with FQDN"
openssl x509 -in "$T/etc/ca.crt" -noout -text | grep -q ED25519 || fail "CA key is not ED25519"
openssl x509 -in "$T/etc/server.crt" -noout -subject | grep -q "ntf.example.com" || fail "server CN"
for line in "enable: off" "host: ntf.example.com" "db_connection: postgresql://u@/db" "db_schema: s1" \
    "db_pool_size: 4"; do
    grep -qxF "$line" "$INI" || fail "INI line '$line' missing"
done
echo y | "$SRV" delete >/dev/null 2>&1 || fail "second delete"
"$SRV" init --ip 10.1.2.3 >"$T/out4" 2>&1 || fail "init --ip"
grep -q "@10.1.2.3\$" "$T/out4" || fail "printed address with --ip"
"$SRV" init --pool-size 0 >/dev/null 2>&1 && fail "--pool-size 0 accepted"

# start: the APNS key required, the address with the port, the store log,
# stop on SIGINT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + $$ % 20000)))
sed -i "s/^port: .*/port: $port/" "$INI"
# without the APNS key in the environment start refuses, as the reference
unset APNS_KEY_FILE APNS_KEY_ID
"$SRV" start >"$T/noapns" 2>&1 && fail "start without APNS_KEY_FILE"
grep -q "APNS_KEY_FILE and APNS_KEY_ID must be set" "$T/noapns" || fail "start without APNS: $(cat "$T/noapns")"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/AuthKey.p8" 2>/dev/null
export APNS_KEY_FILE="$T/AuthKey.p8" APNS_KEY_ID=KEY1234567
# [STORE_LOG] db_deleted_ttl: the reference's line in init's INI; a value that
# is not a number of seconds is refused at start; a number is taken
grep -qx "# db_deleted_ttl: 21" "$INI" || fail "INI: no '# db_deleted_ttl: 21'"
sed -i "s/^# db_deleted_ttl: .*/db_deleted_ttl: three weeks/" "$INI"
"$SRV" start >"$T/badttl" 2>&1 && fail "start with db_deleted_ttl: three weeks"
grep -q "db_deleted_ttl" "$T/badttl" || fail "bad db_deleted_ttl: $(cat "$T/badttl")"
sed -i "s/^db_deleted_ttl: .*/db_deleted_ttl: 60/" "$INI"
"$SRV" start >"$T/start" 2>&1 &
PID=$!
i=0
while [ $i -lt 100 ] && ! grep -q "Serving NTF protocol on port $port" "$T/start"; do
    sleep 0.1
    i=$((i + 1))
done
grep -q "Serving NTF protocol on port $port" "$T/start" || fail "start: $(cat "$T/start")"
grep -qx "Server address: ntf://$(cat "$T/etc/fingerprint")@10.1.2.3:$port" "$T/start" || fail "start: address"
kill -INT $PID 2>/dev/null
wait $PID || fail "start did not exit 0 on SIGINT"
[ -f "$T/var/ntf-server-store.log" ] || fail "start did not create the store log"

[ $FAILS -eq 0 ] && echo "ntf-server cli: all checks passed"
exit $FAILS
