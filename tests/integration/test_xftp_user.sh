#!/bin/sh
# Black-box test of what a new user of the xftp program meets, with real
# xftp-server (and smp-server) processes on loopback: send and recv check
# their input file and folders before anything is uploaded or downloaded
# (missing, not a folder, not readable or writable); a router that answers
# QUOTA before it reads a chunk's body, behind a slow link (the answer is
# reported at once); a router that takes uploads only with a password.
# Usage: test_xftp_user.sh <xftp-server> <xftp> <smp-server> <slow_proxy>
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SRV=$(abspath "$1")
CLI=$(abspath "$2")
SMPSRV=$(abspath "$3")
PROXY=$(abspath "$4")
T=$(mktemp -d /tmp/sx_xftp_user.XXXXXX) || exit 1
PIDS=
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    chmod -R u+rwx "$T" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
mkdir "$T/tmp"
export TMPDIR="$T/tmp"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
# Every client run is bounded in time.
if command -v timeout >/dev/null 2>&1; then TO="timeout 120"; else TO=; fi
xftp() { $TO "$CLI" "$@"; }
now() { date +%s; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 12000 + 20000 ))
}

# init_router N QUOTA: folders $T/etcN, $T/varN, $T/filesN, a free port in
# PORTN, the fingerprint in FPN and the address in ADDRN.
init_router() {
    n=$1
    XFTP_SERVER_CFG_PATH="$T/etc$n" XFTP_SERVER_LOG_PATH="$T/var$n" \
        "$SRV" init -p "$T/files$n" -q "$2" >/dev/null 2>&1 || { echo "FAIL: xftp-server init $n"; exit 1; }
    p=$(free_port)
    sed -i "s/^port: .*/port: $p/" "$T/etc$n/file-server.ini"
    eval "PORT$n=$p"
    eval "FP$n=$(cat "$T/etc$n/fingerprint")"
    eval "ADDR$n=\"xftp://$(cat "$T/etc$n/fingerprint")@127.0.0.1:$p\""
}

# start_router N: starts it in the background and waits for "Listening on port".
start_router() {
    n=$1
    XFTP_SERVER_CFG_PATH="$T/etc$n" XFTP_SERVER_LOG_PATH="$T/var$n" "$SRV" start > "$T/start$n.out" 2>&1 &
    pid=$!
    PIDS="$PIDS $pid"
    i=0
    until grep -q "^Listening on port" "$T/start$n.out" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "FAIL: xftp-server $n did not start"; cat "$T/start$n.out"; exit 1
        fi
        sleep 0.1
    done
}

# start_proxy NAME TARGET_PORT UP DOWN: a slow link to a router; its port
# goes into PPORT_NAME.
start_proxy() {
    "$PROXY" "$2" "$3" "$4" > "$T/proxy_$1.out" 2>&1 &
    PIDS="$PIDS $!"
    i=0
    until grep -q "^port " "$T/proxy_$1.out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 100 ] && { echo "FAIL: slow_proxy did not start"; exit 1; }
        sleep 0.1
    done
    eval "PPORT_$1=$(sed -n 's/^port //p' "$T/proxy_$1.out")"
}

# nodac CMD...: runs CMD without the capabilities that let root read and
# write any file (so that modes count); fails when that is not possible.
nodac() {
    if [ "$(id -u)" != 0 ]; then
        "$@"
    elif command -v setpriv >/dev/null 2>&1; then
        setpriv --inh-caps=-dac_override,-dac_read_search --bounding-set=-dac_override,-dac_read_search "$@"
    else
        return 125
    fi
}
chunks() { find "$T/files$1" -type f | wc -l; }

# no_temp WHAT: nothing of a transfer is left in the temporary folder.
no_temp() {
    left=$(ls -A "$T/tmp")
    [ -z "$left" ] || fail "$1: left in the temporary folder: $left"
    rm -rf "$T/tmp"/*
}

init_router 1 1gb
init_router 2 1mb
init_router 3 1gb
sed -i 's/^# create_password: .*/create_password: s3cret-Pw/' "$T/etc3/file-server.ini"
grep -q "^create_password: s3cret-Pw" "$T/etc3/file-server.ini" || fail "no create_password in the ini"
start_router 1
start_router 2
start_router 3
mkdir "$T/out"
head -c 5000000 /dev/urandom > "$T/five.bin"

# ---- send and recv check before they move anything ----
# refused IN_OUT_EXPECTED... : each refused send leaves no chunk on the router,
# no description and nothing in the temporary folder.
mkdir "$T/desc" "$T/dl" "$T/ro" "$T/ro/in"
echo "hello" > "$T/ro/in/unreadable.txt"
chmod 000 "$T/ro/in/unreadable.txt"
chmod 555 "$T/ro"
echo "a file" > "$T/plain"
head -c 300000 /dev/urandom > "$T/small.bin"
before=$(chunks 1)
send_refused() { # WHY EXPECTED_TEXT ARGS...
    why=$1
    want=$2
    shift 2
    out=$("$@" -s "$ADDR1" 2>&1) && { fail "send ($why) succeeded"; return; }
    echo "$out" | grep -qF "$want" || fail "send ($why): message is not about '$want': $out"
    [ "$(chunks 1)" = "$before" ] || fail "send ($why) uploaded chunks"
    no_temp "send ($why)"
}
send_refused "missing file" "cannot read $T/nope.bin: No such file or directory" xftp send "$T/nope.bin" "$T/desc"
send_refused "a folder to send" "$T/desc is not a regular file" xftp send "$T/desc" "$T/desc"
send_refused "missing output folder" "the folder $T/out-missing/ for the descriptions does not exist" \
    xftp send "$T/small.bin" "$T/out-missing/"
send_refused "output folder is a file" "$T/plain is not a folder" xftp send "$T/small.bin" "$T/plain"
send_refused "missing temporary folder" "the folder $T/tmp-missing for temporary files does not exist" \
    xftp send "$T/small.bin" "$T/desc" --tmp "$T/tmp-missing"
if nodac true; then
    send_refused "unreadable file" "cannot read $T/ro/in/unreadable.txt: Permission denied" \
        nodac "$CLI" send "$T/ro/in/unreadable.txt" "$T/desc"
    send_refused "read-only output folder" "cannot write into the folder $T/ro for the descriptions" \
        nodac "$CLI" send "$T/small.bin" "$T/ro"
else
    echo "note: cannot drop root's file capabilities here; mode checks skipped"
fi
[ -z "$(ls -A "$T/desc")" ] || fail "refused sends wrote descriptions: $(ls -A "$T/desc")"

out=$(xftp send "$T/small.bin" "$T/desc" -s "$ADDR1" 2>&1) || fail "send small.bin: $out"
R="$T/desc/small.bin.xftp/rcv1.xftp"
recv_refused() { # WHY EXPECTED_TEXT ARGS...
    why=$1
    want=$2
    shift 2
    out=$("$@" 2>&1) && { fail "recv ($why) succeeded"; return; }
    echo "$out" | grep -qF "$want" || fail "recv ($why): message is not about '$want': $out"
    [ -z "$(ls -A "$T/dl")" ] || fail "recv ($why) wrote into $T/dl"
    [ -f "$R" ] || fail "recv ($why) removed the description"
    no_temp "recv ($why)"
}
recv_refused "missing folder" "the folder $T/Downloads to save the file in does not exist" \
    xftp recv "$R" "$T/Downloads" -y
[ -e "$T/Downloads" ] && fail "recv saved the file as the missing folder's path"
recv_refused "folder is a file" "$T/plain is not a folder" xftp recv "$R" "$T/plain" -y
recv_refused "missing temporary folder" "the folder $T/tmp-missing for temporary files does not exist" \
    xftp recv "$R" "$T/dl" --tmp "$T/tmp-missing" -y
if nodac true; then
    recv_refused "read-only folder" "cannot write into the folder $T/ro to save the file in" \
        nodac "$CLI" recv "$R" "$T/ro" -y
fi
# nothing was downloaded or acknowledged: the description still works
out=$(xftp recv "$R" "$T/dl" -y 2>&1) || fail "recv after refused ones: $out"
cmp -s "$T/small.bin" "$T/dl/small.bin" || fail "recv after refused ones: content differs"
no_temp "recv"

# ---- QUOTA before the body ----
# Router 2 has room for 1 MB and answers QUOTA as soon as it reads the
# command of a 4 MB chunk. Behind a link of 64 KB/s the rest of the body
# would take about a minute to go through; the client reports QUOTA at once.
start_proxy q "$PORT2" 65536 0
t0=$(now)
out=$(xftp send "$T/five.bin" "$T/out" -s "xftp://$FP2@127.0.0.1:$PPORT_q" -r 1 2>&1) \
    && fail "send over the quota succeeded"
t1=$(now)
echo "$out" | grep -q "QUOTA" || fail "send over the quota: no QUOTA: $out"
[ $((t1 - t0)) -le 20 ] || fail "send over the quota took $((t1 - t0)) s (waited for the body)"
no_temp "send over the quota"

# ---- a router with a password ----
head -c 300000 /dev/urandom > "$T/pw.bin"
mkdir "$T/pw" "$T/pwget" "$T/pwno"
out=$(xftp send "$T/pw.bin" "$T/pw" -s "xftp://$FP3:s3cret-Pw@127.0.0.1:$PORT3" 2>&1) || fail "send with the password: $out"
D="$T/pw/pw.bin.xftp"
[ -f "$D/rcv1.xftp" ] || fail "send with the password: no description"
grep -rq "s3cret" "$D" && fail "the password is in a description"
echo "$out" | grep -q "s3cret" && fail "the password is printed: $out"
grep -qF "xftp://$FP3@127.0.0.1:$PORT3" "$D/rcv1.xftp" || fail "the description names the router without the password"
out=$(xftp recv "$D/rcv1.xftp" "$T/pwget" -y 2>&1) || fail "recv from the router with a password: $out"
cmp -s "$T/pw.bin" "$T/pwget/pw.bin" || fail "recv from the router with a password: content differs"
xftp del "$D/snd.xftp.private" -y >/dev/null 2>&1 || fail "del from the router with a password"
for a in "xftp://$FP3@127.0.0.1:$PORT3" "xftp://$FP3:wrong@127.0.0.1:$PORT3"; do
    out=$(xftp send "$T/pw.bin" "$T/pwno" -s "$a" -r 1 2>&1) && fail "send to $a succeeded"
    echo "$out" | grep -q "AUTH" || fail "send to $a: no AUTH: $out"
    echo "$out" | grep -q "wrong" && fail "the wrong password is printed: $out"
done
[ -z "$(ls -A "$T/pwno")" ] || fail "refused sends left descriptions: $(ls -A "$T/pwno")"
no_temp "sends with a password"

if [ "$FAILS" -ne 0 ]; then
    for n in 1 2 3; do echo "--- xftp-server $n output:"; tail -n 20 "$T/start$n.out"; done
    echo "$FAILS failure(s)"
    exit 1
fi
echo "all xftp user checks passed"
