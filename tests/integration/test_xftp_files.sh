#!/bin/sh
# Black-box test of file transfer with real xftp-server processes and the
# xftp program: files of 0 B, 1 B, at each chunk-size boundary and of 100 MB
# sent through two routers and received intact; a router restart keeps the
# files (store log); a corrupted chunk file makes recv fail; a small quota
# makes send fail with QUOTA; recv after del fails with AUTH; the generated
# static page is written on start and served to a browser (SNI) connection;
# senders killed in the middle of uploads leave no partial chunk behind.
# Usage: test_xftp_files.sh <path to xftp-server> <path to xftp>
set -u
SRV=$1
CLI=$2
T=$(mktemp -d /tmp/sx_xftp_files.XXXXXX) || exit 1
PID1= PID2= PID3=
cleanup() {
    for p in $PID1 $PID2 $PID3; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
export TMPDIR="$T"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + ($$ + $1) % 20000))
}

# init_router N QUOTA: folders $T/etcN, $T/varN, $T/filesN, a free port in
# PORTN and the address in ADDRN.
init_router() {
    n=$1
    XFTP_SERVER_CFG_PATH="$T/etc$n" XFTP_SERVER_LOG_PATH="$T/var$n" \
        "$SRV" init -p "$T/files$n" -q "$2" >/dev/null 2>&1 || { echo "FAIL: xftp-server init $n"; exit 1; }
    p=$(free_port "$n")
    sed -i "s/^port: .*/port: $p/" "$T/etc$n/file-server.ini"
    eval "PORT$n=$p"
    eval "ADDR$n=\"xftp://$(cat "$T/etc$n/fingerprint")@127.0.0.1:$p\""
}

# start_router N: starts it in the background (PIDN) and waits for
# "Listening on port".
start_router() {
    n=$1
    # the old output must go first: the background shell may truncate the
    # file only after the wait below has already read it
    rm -f "$T/start$n.out"
    XFTP_SERVER_CFG_PATH="$T/etc$n" XFTP_SERVER_LOG_PATH="$T/var$n" "$SRV" start > "$T/start$n.out" 2>&1 &
    pid=$!
    eval "PID$n=$pid"
    i=0
    until grep -q "^Listening on port" "$T/start$n.out" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "FAIL: xftp-server $n did not start"; cat "$T/start$n.out"; exit 1
        fi
        sleep 0.1
    done
}

# stop_router N: SIGINT, then it must exit with 0 within 10 s.
stop_router() {
    n=$1
    pid=$(eval "echo \$PID$n")
    kill -INT "$pid"
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
    wait "$pid" || fail "xftp-server $n exit code after SIGINT"
    eval "PID$n="
}

init_router 1 1gb
init_router 2 1gb
init_router 3 1mb
# router 1 also serves its page to browsers: a web certificate (chosen by SNI)
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
    -keyout "$T/web.key" -out "$T/web.crt" >/dev/null 2>&1; then
    sed -i "s|^# cert: .*|cert: $T/web.crt|; s|^# key: .*|key: $T/web.key|" "$T/etc1/file-server.ini"
    # and on [WEB] http and https, ports of their own
    WHTTP=$(free_port 11)
    WHTTPS=$(free_port 12)
    sed -i "s|^# http: .*|http: $WHTTP\nhttps: $WHTTPS|" "$T/etc1/file-server.ini"
fi
printf 'source_code: https://example.com/src?a=1&b=<2>\noperator: Test & Co\n' > "$T/info.ini"
sed -i "/^\[INFORMATION\]/r $T/info.ini" "$T/etc1/file-server.ini"
start_router 1
start_router 2
start_router 3
SRVS="$ADDR1;$ADDR2"

# the static page: written on start into [WEB] static_path, served on GET /
FP1=$(cat "$T/etc1/fingerprint")
page="$T/var1/www/index.html"
[ -f "$page" ] || fail "index.html not generated"
grep -qF "xftp://$FP1@" "$page" || fail "index.html: no server address"
grep -qF "https://example.com/src?a=1&amp;b=&lt;2&gt;" "$page" || fail "index.html: source code not escaped"
grep -qF "Test &amp; Co" "$page" || fail "index.html: operator"
if command -v curl >/dev/null 2>&1 && [ -f "$T/web.crt" ]; then
    got=$(curl -sk --http2 --max-time 10 --resolve "localhost:$PORT1:127.0.0.1" "https://localhost:$PORT1/" 2>&1)
    echo "$got" | grep -qF "xftp://$FP1@" || fail "GET / over SNI: $got"
    grep -q "Serving static site on port $WHTTP\$" "$T/start1.out" || fail "no line for [WEB] http"
    grep -q "Serving static site on port $WHTTPS (TLS)" "$T/start1.out" || fail "no line for [WEB] https"
    got=$(curl -s --max-time 10 "http://127.0.0.1:$WHTTP/" 2>&1)
    echo "$got" | grep -qF "xftp://$FP1@" || fail "GET / on [WEB] http: $got"
    got=$(curl -sk --max-time 10 --resolve "localhost:$WHTTPS:127.0.0.1" "https://localhost:$WHTTPS/" 2>&1)
    echo "$got" | grep -qF "xftp://$FP1@" || fail "GET / on [WEB] https: $got"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$WHTTP/nothing")
    [ "$code" = 404 ] || fail "[WEB] http: wrong path gave $code"
fi

# send_recv NAME SIZE [EXPECTED_ENCRYPTED_SIZE]: a file of SIZE random
# bytes named f, sent through both routers and received intact.
send_recv() {
    d="$T/t_$1"
    mkdir -p "$d/in" "$d/desc" "$d/out"
    head -c "$2" /dev/urandom > "$d/in/f"
    out=$("$CLI" send "$d/in/f" "$d/desc" -s "$SRVS" 2>&1) || { fail "send $1: $out"; return; }
    rcv="$d/desc/f.xftp/rcv1.xftp"
    [ -f "$rcv" ] || { fail "send $1: no description"; return; }
    if [ $# -ge 3 ]; then
        grep -qx "size: $3" "$rcv" || fail "send $1: encrypted size is not $3: $(grep '^size' "$rcv")"
    fi
    out=$("$CLI" recv "$rcv" "$d/out" -y 2>&1) || { fail "recv $1: $out"; return; }
    echo "$out" | grep -qxF "File downloaded: $d/out/f" || fail "recv $1: line: $out"
    cmp -s "$d/in/f" "$d/out/f" || fail "recv $1: content differs"
    rm -rf "$d"
}

# The file header of a file named "f" is 3 bytes (length, "f", Nothing);
# the payload is header + file + 8 (length) + 16 (tag): a file of
# CHUNK - 27 bytes fills one chunk, one more byte needs another.
send_recv empty 0 64kb
send_recv one 1 64kb
send_recv c64 65509 64kb
send_recv c64p 65510 128kb
send_recv c256 262117 256kb
send_recv c256p 262118 320kb
send_recv c1m 1048549 1mb
send_recv c1mp 1048550 1280kb
send_recv c4m 4194277 4mb
send_recv c4mp 4194278 5mb
send_recv big 100000000
[ -n "$(find "$T/files1" -type f)" ] && [ -n "$(find "$T/files2" -type f)" ] || fail "not both routers used"

# files sent before a restart of both routers are received after it
mkdir -p "$T/r/desc" "$T/r/out"
head -c 500000 /dev/urandom > "$T/r/keep"
"$CLI" send "$T/r/keep" "$T/r/desc" -s "$SRVS" >/dev/null 2>&1 || fail "send before restart"
stop_router 1
stop_router 2
[ -s "$T/var1/file-server-store.log" ] || fail "router 1 has no store log"
start_router 1
start_router 2
out=$("$CLI" recv "$T/r/desc/keep.xftp/rcv1.xftp" "$T/r/out" 2>&1) || fail "recv after restart: $out"
cmp -s "$T/r/keep" "$T/r/out/keep" || fail "recv after restart: content differs"

# a corrupted chunk file makes recv fail
mkdir -p "$T/x/desc" "$T/x/out"
find "$T/files1" "$T/files2" -type f | sort > "$T/before"
head -c 300000 /dev/urandom > "$T/x/bad"
"$CLI" send "$T/x/bad" "$T/x/desc" -s "$SRVS" >/dev/null 2>&1 || fail "send of the file to corrupt"
find "$T/files1" "$T/files2" -type f | sort > "$T/after"
chunk=$(comm -13 "$T/before" "$T/after" | head -n 1)
if [ -z "$chunk" ]; then
    fail "no new chunk file"
else
    printf 'XXXX' | dd of="$chunk" bs=1 seek=1000 conv=notrunc 2>/dev/null || fail "cannot corrupt $chunk"
    out=$("$CLI" recv "$T/x/desc/bad.xftp/rcv1.xftp" "$T/x/out" 2>&1) && fail "recv of a corrupted chunk succeeded"
    echo "$out" | grep -q "DIGEST" || fail "recv of a corrupted chunk: no DIGEST error: $out"
    [ -f "$T/x/out/bad" ] && fail "recv of a corrupted chunk left the file"
fi

# a router with a 1 MB quota refuses a 2 MB file
mkdir -p "$T/q/desc"
head -c 2000000 /dev/urandom > "$T/q/f"
out=$("$CLI" send "$T/q/f" "$T/q/desc" -s "$ADDR3" 2>&1) && fail "send over the quota succeeded"
echo "$out" | grep -q "QUOTA" || fail "send over the quota: no QUOTA error: $out"

# recv after del fails with AUTH
mkdir -p "$T/d/desc" "$T/d/out"
head -c 100000 /dev/urandom > "$T/d/f"
"$CLI" send "$T/d/f" "$T/d/desc" -s "$SRVS" >/dev/null 2>&1 || fail "send of the file to delete"
out=$("$CLI" del "$T/d/desc/f.xftp/snd.xftp.private" 2>&1) || fail "del: $out"
out=$("$CLI" recv "$T/d/desc/f.xftp/rcv1.xftp" "$T/d/out" 2>&1) && fail "recv after del succeeded"
echo "$out" | grep -q "AUTH" || fail "recv after del: no AUTH error: $out"

# senders killed (-9) in the middle of uploads: the router keeps serving,
# keeps no partial chunk file, and a full transfer still works
mkdir -p "$T/k"
head -c 60000000 /dev/urandom > "$T/k/f"
for d in 0.05 0.1 0.15 0.2; do
    mkdir -p "$T/k/o$d"
    "$CLI" send "$T/k/f" "$T/k/o$d" -s "$ADDR1" >/dev/null 2>&1 &
    c=$!
    sleep "$d"
    kill -9 "$c" 2>/dev/null
    wait "$c" 2>/dev/null
done
kill -0 "$PID1" 2>/dev/null || fail "router 1 died after interrupted uploads"
mkdir -p "$T/k/ok" "$T/k/out"
"$CLI" send "$T/k/f" "$T/k/ok" -s "$ADDR1" >/dev/null 2>&1 || fail "send after interrupted uploads"
out=$("$CLI" recv "$T/k/ok/f.xftp/rcv1.xftp" "$T/k/out" -y 2>&1) || fail "recv after interrupted uploads: $out"
cmp -s "$T/k/f" "$T/k/out/f" || fail "recv after interrupted uploads: content differs"
i=0
while [ $i -lt 50 ]; do
    partial=$(find "$T/files1" -type f ! -size 65536c ! -size 262144c ! -size 1048576c ! -size 4194304c | head -n 1)
    [ -z "$partial" ] && break
    i=$((i + 1))
    sleep 0.1
done
[ -z "$partial" ] || fail "partial chunk file left: $partial"

stop_router 1
stop_router 2
stop_router 3
if [ "$FAILS" -ne 0 ]; then
    for n in 1 2 3; do echo "--- xftp-server $n output:"; tail -n 20 "$T/start$n.out"; done
    echo "$FAILS failure(s)"
    exit 1
fi
echo "all xftp file transfer checks passed"
