#!/bin/sh
# The SMP router's [WEB]: a real smp-server with the site generated from
# [INFORMATION] into static_path, served over plain HTTP on [WEB] http and
# over HTTPS on the SMP port itself ([WEB] https equal to the port: the
# shared port), where clients that send a server name (browsers, curl) get
# the web certificate and the pages while an `smp` client creates a queue,
# sends and receives messages on the same port. A wrong path is 404.
# Usage: test_smp_web.sh <path to smp-server> <path to smp>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SERVER=$(abspath "$1")
SMP=$(abspath "$2")
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
T=$(mktemp -d /tmp/sx_smp_web.XXXXXX) || exit 1
PID=
RECV=
cleanup() {
    [ -n "$RECV" ] && kill "$RECV" 2>/dev/null
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
if command -v timeout >/dev/null 2>&1; then TO="timeout 60"; TOS="timeout 290"; else TO=; TOS=; fi
smp() { $TO "$SMP" "$@"; }

"$SERVER" init -y --ip 127.0.0.1 --no-password --source-code 'https://example.com/src?a=1&b=<2>' \
    --operator 'Test & Co' --operator-country DE >"$T/init.log" 2>&1 || { cat "$T/init.log"; echo "FAIL: init"; exit 1; }
INI="$T/etc/smp-server.ini"
FP=$(cat "$T/etc/fingerprint")
# The web certificate: self-signed for the name the browsers ask for, RSA
# 4096 as the router requires (test_smp_https_check.sh).
openssl req -x509 -newkey rsa:4096 -nodes -days 2 -subj /CN=localhost \
    -keyout "$T/etc/web.key" -out "$T/etc/web.crt" >/dev/null 2>&1 || { echo "FAIL: openssl req"; exit 1; }

port_ready() { openssl s_client -connect "127.0.0.1:$1" </dev/null >/dev/null 2>&1; }
rnd_port() { echo $(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 12000 + 20000 )); }
PORT=
for attempt in 1 2 3 4 5 6 7 8; do
    p=$(rnd_port)
    h=$((p + 1))
    port_ready "$p" && continue
    sed -i "s/^port: .*/port: $p/; s/^host: .*/host: 127.0.0.1/; s/^#* *http: .*/http: $h/; s/^#* *https: .*/https: $p/;
            s/^# cert: /cert: /; s/^# key: /key: /" "$INI"
    $TOS "$SERVER" start >"$T/server.log" 2>&1 &
    PID=$!
    i=0
    while [ $i -lt 100 ]; do
        if ! kill -0 "$PID" 2>/dev/null; then break; fi
        if port_ready "$p" && curl -s -o /dev/null "http://127.0.0.1:$h/"; then PORT=$p; break; fi
        sleep 0.1
        i=$((i + 1))
    done
    [ -n "$PORT" ] && break
    kill "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    PID=
done
[ -n "$PORT" ] || { cat "$T/server.log"; echo "FAIL: the router did not start"; exit 1; }
HTTP=$((PORT + 1))
grep -q "Serving static site on port $HTTP" "$T/server.log" || fail "no line for the HTTP port: $(cat "$T/server.log")"
grep -q "Serving static site on port $PORT (TLS)\.\.\." "$T/server.log" || fail "no line for the shared port"

# ---- the generated site ----
W="$T/var/www"
for f in index.html contact/index.html invitation/index.html a/index.html c/index.html g/index.html \
         r/index.html i/index.html well-known/assetlinks.json well-known/apple-app-site-association; do
    [ -f "$W/$f" ] || fail "not generated: $f"
done
grep -qF 'https://example.com/src?a=1&amp;b=&lt;2&gt;' "$W/index.html" || fail "index.html: source code not escaped"
grep -qF 'Test &amp; Co' "$W/index.html" || fail "index.html: operator"
grep -qF 'Queues and messages' "$W/index.html" || fail "index.html: persistence"
grep -qF '21 days' "$W/index.html" || fail "index.html: message expiration"

# ---- plain HTTP ----
got=$(curl -s --max-time 10 "http://127.0.0.1:$HTTP/") || fail "http: curl failed"
echo "$got" | grep -qF 'Test &amp; Co' || fail "http: not the page: $got"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$HTTP/no/such/page")
[ "$code" = 404 ] || fail "http: wrong path gave $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$HTTP/.well-known/assetlinks.json")
[ "$code" = 200 ] || fail "http: .well-known gave $code"

# ---- the shared port: certificates by SNI ----
web_cn=$(openssl s_client -connect "127.0.0.1:$PORT" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -subject 2>/dev/null)
echo "$web_cn" | grep -q "CN *= *localhost" || fail "shared port with SNI: not the web certificate: $web_cn"
smp_cn=$(openssl s_client -connect "127.0.0.1:$PORT" </dev/null 2>/dev/null | openssl x509 -noout -subject 2>/dev/null)
echo "$smp_cn" | grep -q "CN *= *localhost" && fail "shared port without SNI: the web certificate"
[ -n "$smp_cn" ] || fail "shared port without SNI: no certificate"

https_get() { curl -sk --max-time 10 --resolve "localhost:$PORT:127.0.0.1" "$@"; }

# ---- SMP and HTTPS on the same port at once ----
cd "$T" || exit 1
ADDR="smp://$FP@127.0.0.1:$PORT"
smp create "$ADDR" --out r.queue --sender-out s.queue >/dev/null 2>"$T/err" || fail "create: $(cat "$T/err")"
smp recv r.queue --count 10 --timeout 60 >got.txt 2>recv.err &
RECV=$!
: >expected.txt
i=1
while [ $i -le 10 ]; do
    smp send s.queue "message $i over the shared port" 2>>send.err || fail "send $i: $(cat send.err)"
    echo "message $i over the shared port" >>expected.txt
    page=$(https_get "https://localhost:$PORT/") || fail "https $i: curl failed"
    echo "$page" | grep -qF 'Test &amp; Co' || fail "https $i: not the page"
    i=$((i + 1))
done
wait "$RECV" || fail "recv: $(cat recv.err)"
RECV=
cmp -s got.txt expected.txt || fail "received messages differ: $(cat got.txt)"

code=$(https_get -o /dev/null -w '%{http_code}' "https://localhost:$PORT/nothing-here")
[ "$code" = 404 ] || fail "https: wrong path gave $code"
code=$(https_get -o /dev/null -w '%{http_code}' "https://localhost:$PORT/contact/")
[ "$code" = 200 ] || fail "https: link page gave $code"
got=$(https_get "https://localhost:$PORT/.well-known/apple-app-site-association")
echo "$got" | grep -qF 'chat.simplex.app' || fail "https: apple-app-site-association: $got"
type=$(https_get -o /dev/null -w '%{content_type}' "https://localhost:$PORT/.well-known/apple-app-site-association")
[ "$type" = application/json ] || fail "https: association content type '$type'"
# HTTP/2 when the client offers h2 (ALPN), HTTP/1.1 otherwise.
ver=$(https_get --http2 -o "$T/h2.html" -w '%{http_version}' "https://localhost:$PORT/") || fail "h2: curl failed"
[ "$ver" = 2 ] || fail "h2 offered: HTTP version '$ver'"
grep -qF 'Test &amp; Co' "$T/h2.html" || fail "h2: not the page"
ver=$(https_get --http1.1 -o /dev/null -w '%{http_version}' "https://localhost:$PORT/")
[ "$ver" = 1.1 ] || fail "http/1.1 offered: HTTP version '$ver'"
code=$(https_get --http2 -o /dev/null -w '%{http_code}' "https://localhost:$PORT/nothing-here")
[ "$code" = 404 ] || fail "h2: wrong path gave $code"
code=$(https_get --http2 -o /dev/null -w '%{http_code}' -X DELETE "https://localhost:$PORT/")
[ "$code" = 405 ] || fail "h2: DELETE gave $code"
hdrs=$(https_get --http2 -I "https://localhost:$PORT/.well-known/assetlinks.json")
echo "$hdrs" | grep -qi '^content-type: application/json' || fail "h2: HEAD headers: $hdrs"
# Two pages over one HTTP/2 connection.
two=$(https_get --http2 "https://localhost:$PORT/" "https://localhost:$PORT/contact/" | grep -c '</html>')
[ "$two" = 2 ] || fail "h2: two requests on one connection gave $two pages"

# The router still serves SMP after all that.
smp send s.queue "last" || fail "send after the web requests"
[ "$(smp get r.queue)" = "last" ] || fail "get after the web requests"

# ---- stop ----
kill -INT "$PID"
wait "$PID"
rc=$?
PID=
[ $rc = 0 ] || fail "stop: exit $rc: $(tail -5 "$T/server.log")"

# ---- HTTPS on a port of its own: the SMP port is SMP only ----
HTTPS=$((PORT + 2))
sed -i "s/^https: .*/https: $HTTPS/" "$INI"
$TOS "$SERVER" start >"$T/server2.log" 2>&1 &
PID=$!
i=0
while [ $i -lt 100 ] && ! { port_ready "$PORT" && port_ready "$HTTPS"; }; do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
done
grep -q "Serving static site on port $HTTPS (TLS)" "$T/server2.log" || fail "no line for the HTTPS port: $(cat "$T/server2.log")"
got=$(curl -sk --max-time 10 --resolve "localhost:$HTTPS:127.0.0.1" "https://localhost:$HTTPS/") ||
    fail "https port: curl failed"
echo "$got" | grep -qF 'Test &amp; Co' || fail "https port: not the page"
cn=$(openssl s_client -connect "127.0.0.1:$PORT" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -subject 2>/dev/null)
echo "$cn" | grep -q "CN *= *localhost" && fail "SMP port not shared: the web certificate with SNI"
smp send s.queue "after restart" || fail "send after the restart"
[ "$(smp get r.queue)" = "after restart" ] || fail "get after the restart"
kill -INT "$PID"
wait "$PID"
rc=$?
PID=
[ $rc = 0 ] || fail "second stop: exit $rc"

[ $FAILS = 0 ] || { echo "$FAILS failure(s)"; cat "$T/server.log"; exit 1; }
echo "OK"
