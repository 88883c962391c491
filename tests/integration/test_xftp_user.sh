#!/bin/sh
# Black-box test of what a new user of the xftp program meets, with real
# xftp-server (and smp-server) processes on loopback: send and recv check
# their input file and folders before anything is uploaded or downloaded
# (missing, not a folder, not readable or writable); errors name the cause
# (a wrong fingerprint, an SMP router's port, a router that is down, a used
# description) on standard error with the smp tool's exit codes; a router
# that answers
# QUOTA before it reads a chunk's body, behind a slow link (the answer is
# reported at once); a router that takes uploads only with a password;
# SIGINT during a send and SIGTERM during a recv (behind a slow link) stop
# the program with 130 / 143; the send leaves no temporary file, the recv
# keeps the chunks it has and the same command downloads only the rest; a
# send and a recv go on across a restart of their router; xftp -v prints
# what the transfer does (chunks, routers, retries) on standard error; a
# recv removes the chunk folders of receives not run for 7 days (not its
# own, not one held by another), and the room it needs counts the chunks it
# kept (on a small tmpfs, when the test may mount one); a second run of a
# send under way is refused (exit 2), as is xftp del of its folder.
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
    [ -n "${MOUNTED:-}" ] && umount "$MOUNTED" 2>/dev/null
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
chunks() { find "$T/files$1" -path '*/.part' -prune -o -type f -print | wc -l; } # complete ones

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

out=$(xftp send "$T/small.bin" "$T/desc/" -s "$ADDR1" 2>&1) || fail "send small.bin: $out"
R="$T/desc/small.bin.xftp/rcv1.xftp"
echo "$out" | grep -qxF "$R" || fail "send small.bin: the description's path is not $R: $out"
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
cp "$R" "$T/used.xftp"
out=$(xftp recv "$R" "$T/dl" -y 2>&1) || fail "recv after refused ones: $out"
cmp -s "$T/small.bin" "$T/dl/small.bin" || fail "recv after refused ones: content differs"
no_temp "recv"

# ---- errors that name the cause ----
# an SMP router, whose port a user may take for the XFTP router's
export SMP_SERVER_CFG_PATH="$T/smp-etc" SMP_SERVER_LOG_PATH="$T/smp-var"
"$SMPSRV" init -y --disable-web --ip 127.0.0.1 >"$T/smp-init.log" 2>&1 || { cat "$T/smp-init.log"; echo "FAIL: smp-server init"; exit 1; }
SPORT=$(free_port)
sed -i "s/^port: .*/port: $SPORT/" "$T/smp-etc/smp-server.ini"
SFP=$(cat "$T/smp-etc/fingerprint")
"$SMPSRV" start >"$T/smp.log" 2>&1 &
PIDS="$PIDS $!"
i=0
until openssl s_client -connect "127.0.0.1:$SPORT" </dev/null >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 100 ] && { cat "$T/smp.log"; echo "FAIL: smp-server did not start"; exit 1; }
    sleep 0.1
done
# expect WHY EXIT_CODE TEXT ARGS...: the command fails with the code and
# says TEXT on standard error, and nothing on standard output.
expect() {
    why=$1
    code=$2
    want=$3
    shift 3
    "$@" >"$T/e.out" 2>"$T/e.err"
    rc=$?
    [ "$rc" = "$code" ] || fail "$why: exit code $rc, not $code: $(cat "$T/e.err")"
    grep -qF -- "$want" "$T/e.err" || fail "$why: standard error does not say '$want': $(cat "$T/e.err")"
    head -n 1 "$T/e.err" | grep -q "^xftp: " || fail "$why: the message does not start with 'xftp: ': $(cat "$T/e.err")"
    [ -s "$T/e.out" ] && fail "$why: printed on standard output: $(cat "$T/e.out")"
    no_temp "$why"
}
WRONG_FP=$(echo "$FP1" | sed 's/^./A/; t; s/^/A/')
[ "$WRONG_FP" = "$FP1" ] && WRONG_FP=$(echo "$FP1" | sed 's/^./B/')
expect "wrong fingerprint" 1 "its identity does not match the fingerprint" \
    xftp send "$T/small.bin" "$T/out" -s "xftp://$WRONG_FP@127.0.0.1:$PORT1"
expect "the SMP router's port" 1 "does not answer as an XFTP router: it refused the protocol xftp/1" \
    xftp send "$T/small.bin" "$T/out" -s "xftp://$FP1@127.0.0.1:$SPORT"
expect "the SMP router's address" 1 "does not answer as an XFTP router: it refused the protocol xftp/1" \
    xftp send "$T/small.bin" "$T/out" -s "xftp://$SFP@127.0.0.1:$SPORT"
DOWN=$(free_port)
expect "a router that is down" 1 "cannot connect to 127.0.0.1:$DOWN: Connection refused: is the router running" \
    xftp send "$T/small.bin" "$T/out" -s "xftp://$FP1@127.0.0.1:$DOWN" -r 1
expect "a host that does not resolve" 1 "cannot find the host nowhere.invalid" \
    xftp send "$T/small.bin" "$T/out" -s "xftp://$FP1@nowhere.invalid"
expect "a bad address" 2 "Invalid server address: xftp://$FP1:***@" \
    xftp send "$T/small.bin" "$T/out" -s "xftp://$FP1:pass@127.0.0.1:99999"
expect "a used description" 1 "the description was used already (each one can be received once)" \
    xftp recv "$T/used.xftp" "$T/dl"
expect "the sender's description to receive" 2 "not for recipient" \
    xftp recv "$T/desc/small.bin.xftp/snd.xftp.private" "$T/dl"
expect "not a description" 1 "is not an XFTP file description" xftp info "$T/small.bin"
expect "a missing description" 1 "No such file or directory" xftp info "$T/none.xftp"
out=$(xftp del "$T/desc/small.bin.xftp/snd.xftp.private" 2>&1) || fail "del: $out"
expect "deleted twice" 1 "it was deleted already, or it expired" \
    xftp del "$T/desc/small.bin.xftp/snd.xftp.private"
expect "unknown command" 2 "unknown command 'sned'" xftp sned "$T/small.bin"
expect "unknown option" 2 "unknown option --frob" xftp send "$T/small.bin" --frob
expect "bad count" 2 "-n needs a number of recipients from 1 to 255" xftp send "$T/small.bin" -n 0
expect "no description" 2 "recv: missing DESCRIPTION" xftp recv
expect "too many arguments" 2 "too many arguments" xftp del a b
[ -z "$(ls -A "$T/out")" ] || fail "failed sends wrote descriptions: $(ls -A "$T/out")"
xftp --help | grep -q "Exit codes: 0 success, 1 failure, 2 usage error" || fail "--help: exit codes"

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
for a in "xftp://$FP3@127.0.0.1:$PORT3" "xftp://$FP3:badpass123@127.0.0.1:$PORT3"; do
    out=$(xftp send "$T/pw.bin" "$T/pwno" -s "$a" -r 1 2>&1) && fail "send to $a succeeded"
    echo "$out" | grep -q "AUTH" || fail "send to $a: no AUTH: $out"
    echo "$out" | grep -q "badpass123" && fail "the wrong password is printed: $out"
    echo "$out" | grep -q "needs a password" || fail "send to $a: the message is not about the password: $out"
done
[ -z "$(ls -A "$T/pwno")" ] || fail "refused sends left descriptions: $(ls -A "$T/pwno")"
no_temp "sends with a password"

# ---- Ctrl-C during a transfer ----
# wait_for WHAT CMD...: up to 30 s until CMD succeeds.
wait_for() {
    what=$1
    shift
    i=0
    until "$@"; do
        i=$((i + 1))
        [ $i -gt 300 ] && { fail "waited 30 s for $what"; return 1; }
        sleep 0.1
    done
}
# interrupt PID SIGNAL CODE WHAT [MESSAGE]: the program stops within 10 s
# with CODE and says it was interrupted (and MESSAGE: by default that its
# temporary files are removed, and then they are gone).
interrupt() {
    kill "-$2" "$1"
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
    kill -0 "$1" 2>/dev/null && { fail "$4: still running 10 s after SIG$2"; kill -9 "$1"; }
    wait "$1"
    rc=$?
    [ "$rc" = "$3" ] || fail "$4: exit code $rc after SIG$2, not $3"
    grep -q "interrupted; ${5:-its temporary files are removed}" "$T/int.err" || fail "$4: message: $(cat "$T/int.err")"
    [ -n "${5:-}" ] || no_temp "$4"
}
head -c 20000000 /dev/urandom > "$T/twenty.bin"
# send: uploads at 2 MB/s, interrupted once the first chunk is on the router;
# the state in <out>/<name>.xftp.part is kept and the same command uploads
# only the chunks that were not (each chunk is created once on the router,
# and the proxy counts the bytes of the re-run).
start_proxy up "$PORT1" 2000000 0
mkdir "$T/isend" "$T/isdl"
before=$(chunks 1)
"$CLI" send "$T/twenty.bin" "$T/isend" -s "xftp://$FP1@127.0.0.1:$PPORT_up" 2>"$T/int.err" &
XP=$!
more_chunks() { [ "$(chunks 1)" -gt "$before" ]; }
if wait_for "the first chunk" more_chunks; then
    [ -n "$(ls -A "$T/tmp")" ] || fail "send: no encrypted copy in the temporary folder during the upload"
    interrupt "$XP" INT 130 "send interrupted" "what was uploaded is recorded in $T/isend/twenty.bin.xftp.part"
    grep -q "the same command goes on from there" "$T/int.err" || fail "send interrupted: $(cat "$T/int.err")"
    no_temp "send interrupted"
    S="$T/isend/twenty.bin.xftp.part/state"
    [ "$(ls -A "$T/isend")" = "twenty.bin.xftp.part" ] || fail "send interrupted: left $(ls -A "$T/isend")"
    [ "$(stat -c %a "$S")" = 600 ] || fail "send interrupted: the state is not 0600"
    nchunks=$(grep -c '^chunk ' "$S")
    done_bytes=$(awk '$1 == "chunk" {sz = $3} $1 == "uploaded" && $2 == "yes" {s += sz} END {print s + 0}' "$S")
    all_bytes=$(awk '$1 == "encrypted-size" {print $2}' "$S")
    [ "$done_bytes" -gt 0 ] || fail "send interrupted: no chunk recorded as uploaded: $(cat "$S")"
    sleep 0.5 # the proxy prints when it sees the connection end
    lines=$(wc -l < "$T/proxy_up.out")
    out=$(xftp send "$T/twenty.bin" "$T/isend" -s "xftp://$FP1@127.0.0.1:$PPORT_up" 2>&1) || fail "send again: $out"
    [ -e "$T/isend/twenty.bin.xftp.part" ] && fail "send again: the state folder is left"
    [ $(($(chunks 1) - before)) = "$nchunks" ] || fail "send again: $(($(chunks 1) - before)) chunks on the router, not $nchunks"
    sleep 0.5
    moved=$(tail -n +$((lines + 1)) "$T/proxy_up.out" | awk '$1 == "up" {s += $2} END {print s + 0}')
    [ "$moved" -le $((all_bytes - done_bytes + nchunks * 100000)) ] \
        || fail "send again: moved $moved bytes; the file is $all_bytes, $done_bytes were uploaded before"
    out=$(xftp recv "$T/isend/twenty.bin.xftp/rcv1.xftp" "$T/isdl" -y 2>&1) || fail "recv of the resumed send: $out"
    cmp -s "$T/twenty.bin" "$T/isdl/twenty.bin" || fail "recv of the resumed send: content differs"
    no_temp "resumed send"
else
    kill -9 "$XP"
fi
# a changed source is refused; xftp del of the state folder removes the
# chunks it created from the router
cp "$T/twenty.bin" "$T/other.bin"
mkdir "$T/dsend"
before=$(chunks 1)
"$CLI" send "$T/other.bin" "$T/dsend" -s "xftp://$FP1@127.0.0.1:$PPORT_up" 2>"$T/int.err" &
XP=$!
if wait_for "the first chunk" more_chunks; then
    interrupt "$XP" INT 130 "send interrupted (2)" "what was uploaded is recorded in"
    no_temp "send interrupted (2)"
    touch -d "2001-01-01" "$T/other.bin"
    expect "a changed source" 2 "remove $T/dsend/other.bin.xftp.part to start over" \
        xftp send "$T/other.bin" "$T/dsend" -s "xftp://$FP1@127.0.0.1:$PORT1"
    [ "$(chunks 1)" -gt "$before" ] || fail "del of a send: no chunk on the router"
    out=$(xftp del "$T/dsend/other.bin.xftp.part" 2>&1) || fail "del of a send: $out"
    [ "$(chunks 1)" = "$before" ] || fail "del of a send: $(($(chunks 1) - before)) chunks left on the router"
    [ -e "$T/dsend/other.bin.xftp.part" ] && fail "del of a send: the folder is left"
else
    kill -9 "$XP"
fi
# one run of a send at a time: while a send uploads (behind the slow link),
# the same command again is refused at once (exit 2) and leaves the state as
# it is, as is xftp del of its folder; once the send stopped, del works.
mkdir "$T/lock1"
before=$(chunks 1)
"$CLI" send "$T/twenty.bin" "$T/lock1" -s "xftp://$FP1@127.0.0.1:$PPORT_up" >/dev/null 2>"$T/int.err" &
XP=$!
L="$T/lock1/twenty.bin.xftp.part"
if wait_for "the first chunk of the first send" more_chunks; then
    "$CLI" send "$T/twenty.bin" "$T/lock1" -s "xftp://$FP1@127.0.0.1:$PPORT_up" >"$T/l.out" 2>"$T/l.err"
    rc=$?
    [ "$rc" = 2 ] || fail "a second run of a send: exit code $rc, not 2: $(cat "$T/l.err")"
    grep -q "^xftp: .*another run of this send is under way (it holds $L/lock): wait for it to end" "$T/l.err" \
        || fail "a second run of a send: $(cat "$T/l.err")"
    [ -s "$T/l.out" ] && fail "a second run of a send printed: $(cat "$T/l.out")"
    "$CLI" del "$L" >"$T/l.out" 2>"$T/l.err"
    rc=$?
    [ "$rc" = 2 ] || fail "del of a send under way: exit code $rc, not 2: $(cat "$T/l.err")"
    grep -q "another run of this send is under way" "$T/l.err" || fail "del of a send under way: $(cat "$T/l.err")"
    [ -e "$L/state" ] || fail "a refused run removed the state of the send under way"
    kill -0 "$XP" 2>/dev/null || fail "the first send ended while the second was refused: $(cat "$T/int.err")"
    interrupt "$XP" INT 130 "the first send" "what was uploaded is recorded in $L"
    out=$(xftp del "$L" 2>&1) || fail "del once the send stopped: $out"
    [ -e "$L" ] && fail "del once the send stopped: the folder is left"
    no_temp "one send at a time"
else
    kill -9 "$XP"
fi
# recv: downloads at 2 MB/s, stopped once a whole chunk is in its folder in
# the temporary folder; nothing was acknowledged, the chunks are kept, and
# the same command downloads only the others (the proxy counts the bytes).
start_proxy down "$PORT1" 0 2000000
mkdir "$T/irecv" "$T/idl"
find "$T/files1" -type f | sort > "$T/files1.before"
out=$(xftp send "$T/twenty.bin" "$T/irecv" -s "xftp://$FP1@127.0.0.1:$PPORT_down" 2>&1) || fail "send for recv: $out"
# the bytes of the file's chunks on the router
find "$T/files1" -type f | sort | comm -13 "$T/files1.before" - > "$T/files1.new"
all=$(xargs stat -c %s < "$T/files1.new" | awk '{s += $1} END {print s + 0}')
whole() { find "$T/tmp" -path '*/xftp_recv_*' -type f -name '[0-9]*' ! -name '*.part'; }
"$CLI" recv "$T/irecv/twenty.bin.xftp/rcv1.xftp" "$T/idl" 2>"$T/int.err" &
XP=$!
if wait_for "a downloaded chunk" sh -c "find '$T/tmp' -path '*/xftp_recv_*' -type f -name '[0-9]*' ! -name '*.part' | grep -q ."; then
    interrupt "$XP" TERM 143 "recv interrupted" "the chunks downloaded so far are kept"
    [ -z "$(ls -A "$T/idl")" ] || fail "recv interrupted: left $(ls -A "$T/idl")"
    kept=$(whole | xargs stat -c %s | awk '{s += $1} END {print s + 0}')
    [ "$kept" -gt 0 ] || fail "recv interrupted: no whole chunk kept: $(find "$T/tmp")"
    [ "$(stat -c %a "$(dirname "$(whole | head -n 1)")")" = 700 ] || fail "recv interrupted: the chunks' folder is not 0700"
    # The folders of receives last used 7 days ago or more go at the start
    # of a recv, except one a receive holds (its lock) and the recv's own,
    # whose chunks it goes on from (it is made 8 days old here); younger
    # folders and other names stay.
    U=$(id -u)
    mine=$(dirname "$(whole | head -n 1)")
    H=0123456789abcdef0123456789abcde
    for h in 1 2 3; do
        mkdir -m 700 "$T/tmp/xftp_recv_${U}_$H$h"
        head -c 1000 /dev/urandom > "$T/tmp/xftp_recv_${U}_$H$h/1"
    done
    mkdir -m 700 "$T/tmp/xftp_recv_${U}_other"
    # the lock held by a process of its own, which is killed after
    (exec 9>"$T/tmp/xftp_recv_${U}_${H}2/lock" && flock 9 && exec sleep 120) </dev/null >/dev/null 2>&1 &
    LK=$!
    PIDS="$PIDS $LK"
    sleep 0.5
    touch -d "8 days ago" "$mine" "$T/tmp/xftp_recv_${U}_${H}1" "$T/tmp/xftp_recv_${U}_${H}2" "$T/tmp/xftp_recv_${U}_other"
    touch -d "6 days ago" "$T/tmp/xftp_recv_${U}_${H}3"
    lines=$(wc -l < "$T/proxy_down.out")
    out=$(xftp recv -v "$T/irecv/twenty.bin.xftp/rcv1.xftp" "$T/idl" -y 2>&1) || fail "recv after the interrupted one: $out"
    cmp -s "$T/twenty.bin" "$T/idl/twenty.bin" || fail "recv after the interrupted one: content differs"
    [ -e "$T/tmp/xftp_recv_${U}_${H}1" ] && fail "prune: a folder 8 days old is left"
    echo "$out" | grep -q "removed $T/tmp/xftp_recv_${U}_${H}1: the chunks of a receive stopped 8 days ago" \
        || fail "prune: -v does not say what it removed: $out"
    [ -e "$T/tmp/xftp_recv_${U}_${H}2/1" ] || fail "prune: removed a folder a receive holds"
    [ -e "$T/tmp/xftp_recv_${U}_${H}3/1" ] || fail "prune: removed a folder 6 days old"
    [ -d "$T/tmp/xftp_recv_${U}_other" ] || fail "prune: removed a folder of another name"
    kill "$LK"
    rm -rf "$T/tmp/xftp_recv_${U}_${H}2" "$T/tmp/xftp_recv_${U}_${H}3" "$T/tmp/xftp_recv_${U}_other"
    no_temp "recv after the interrupted one"
    sleep 0.5 # the proxy prints when it sees the connection end
    moved=$(tail -n +$((lines + 1)) "$T/proxy_down.out" | awk '$1 == "down" {s += $2} END {print s + 0}')
    # the rest of the chunks and up to 100 kB a chunk for the protocol, not
    # the whole file again
    room=$(($(wc -l < "$T/files1.new") * 100000))
    [ "$moved" -ge $((all - kept)) ] && [ "$moved" -le $((all - kept + room)) ] \
        || fail "recv after the interrupted one: moved $moved bytes; the chunks are $all, $kept were kept"
else
    kill -9 "$XP"
fi

# ---- the room a recv needs counts the chunks it kept ----
# On a temporary folder of 24 MB (a tmpfs, when this test may mount one), a
# recv stopped with chunks kept; then the folder is filled so that the rest
# of the file does not fit (refused at once), then so that it fits but the
# whole file would not: the same command goes on.
mkdir "$T/smalltmp" "$T/stmp" "$T/sdl"
if mount -t tmpfs -o size=24m tmpfs "$T/smalltmp" 2>/dev/null; then
    MOUNTED="$T/smalltmp"
    out=$(xftp send "$T/twenty.bin" "$T/stmp" -s "xftp://$FP1@127.0.0.1:$PPORT_down" 2>&1) || fail "send for a small tmp: $out"
    "$CLI" recv -v "$T/stmp/twenty.bin.xftp/rcv1.xftp" "$T/sdl" --tmp "$T/smalltmp" 2>"$T/int.err" &
    XP=$!
    kept_chunk() { find "$T/smalltmp" -path '*/xftp_recv_*' -type f -name '[0-9]*' ! -name '*.part' | grep -q .; }
    if wait_for "a chunk in the small tmp" kept_chunk; then
        kill -TERM "$XP"
        wait "$XP"
        kept=$(find "$T/smalltmp" -path '*/xftp_recv_*' -type f -name '[0-9]*' ! -name '*.part' -print0 \
            | xargs -0 stat -c %s | awk '{s += $1} END {print s + 0}')
        find "$T/smalltmp" -name '*.part' -delete
        all=$(sed -n 's/.*receiving [0-9]* chunks (\([0-9]*\) bytes).*/\1/p' "$T/int.err")
        [ -n "$all" ] || fail "small tmp: no size in $(cat "$T/int.err")"
        avail() { df -B1 --output=avail "$T/smalltmp" | tail -n 1 | tr -d ' '; }
        # room for the rest less 1 MB: refused, and it says how much is needed
        head -c $(($(avail) - (all - kept) + 1048576)) /dev/zero > "$T/smalltmp/filler"
        expect "the rest does not fit" 1 " bytes free, $((all - kept)) are needed" \
            xftp recv "$T/stmp/twenty.bin.xftp/rcv1.xftp" "$T/sdl" --tmp "$T/smalltmp"
        # room for the rest and 1 MB, less than the whole file
        rm -f "$T/smalltmp/filler"
        head -c $(($(avail) - (all - kept) - 1048576)) /dev/zero > "$T/smalltmp/filler"
        [ "$(avail)" -lt "$all" ] || fail "small tmp: $(avail) bytes free, the file is $all"
        echo "small tmp: $(avail) bytes free for a file of $all bytes, $kept kept"
        out=$(xftp recv "$T/stmp/twenty.bin.xftp/rcv1.xftp" "$T/sdl" --tmp "$T/smalltmp" -y 2>&1) \
            || fail "recv with room for the rest only: $out"
        cmp -s "$T/twenty.bin" "$T/sdl/twenty.bin" || fail "recv with room for the rest only: content differs"
    else
        kill -9 "$XP"
    fi
    umount "$T/smalltmp" && MOUNTED=
else
    echo "skipped: the room counted with the kept chunks (this test cannot mount a tmpfs)"
fi

# ---- a transfer goes on across a router restart ----
# Router 4 stops (SIGINT) while a send, then a recv, is under way behind a
# slow link and starts again at once on the same port: the program's retries
# (they wait 1 s, then 2 s) find it again, and the file arrives whole.
init_router 4 1gb
start_router 4
R4=$pid
restart_4() {
    kill -INT "$R4"
    i=0
    while kill -0 "$R4" 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
    kill -0 "$R4" 2>/dev/null && { fail "restart: xftp-server 4 still running 10 s after SIGINT"; kill -9 "$R4"; }
    wait "$R4" 2>/dev/null
    mv "$T/start4.out" "$T/start4.before.out"
    start_router 4
    R4=$pid
}
start_proxy rup "$PORT4" 4000000 0
mkdir "$T/rsend" "$T/rdl"
before=$(chunks 4)
"$CLI" send "$T/twenty.bin" "$T/rsend" -s "xftp://$FP4@127.0.0.1:$PPORT_rup" >"$T/rsend.out" 2>&1 &
XP=$!
more_chunks4() { [ "$(chunks 4)" -gt "$before" ]; }
if wait_for "the first chunk on router 4" more_chunks4; then
    restart_4
    wait "$XP"
    rc=$?
    [ "$rc" = 0 ] || fail "send across a restart: exit code $rc: $(cat "$T/rsend.out")"
    start_proxy rdown "$PORT4" 0 4000000
    sed "s/127.0.0.1:$PORT4/127.0.0.1:$PPORT_rdown/" "$T/rsend/twenty.bin.xftp/rcv1.xftp" > "$T/rcv_slow.xftp"
    "$CLI" recv "$T/rcv_slow.xftp" "$T/rdl" -y >"$T/rrecv.out" 2>&1 &
    XP=$!
    if wait_for "a downloaded chunk" sh -c "find '$T/tmp' -type f -size +0 | grep -q ." ; then
        restart_4
        wait "$XP"
        rc=$?
        [ "$rc" = 0 ] || fail "recv across a restart: exit code $rc: $(cat "$T/rrecv.out")"
        cmp -s "$T/twenty.bin" "$T/rdl/twenty.bin" || fail "recv across a restart: content differs"
    else
        kill -9 "$XP" 2>/dev/null || { wait "$XP"; echo "recv ended with $? before a chunk was seen:"; cat "$T/rrecv.out"; ls -lR "$T/tmp"; }
    fi
else
    kill -9 "$XP"
fi

# ---- log lines with a level ----
# Router 1 runs at the default level: no debug lines. Router 5 runs with
# --log-level debug: each connection is logged when accepted, when its XFTP
# handshake is done and when it closes, with the reason.
grep -q '^\[DEBUG' "$T/start1.out" && fail "default level: debug lines in $T/start1.out"
init_router 5 1gb
XFTP_SERVER_CFG_PATH="$T/etc5" XFTP_SERVER_LOG_PATH="$T/var5" "$SRV" start --log-level debug > "$T/start5.out" 2>&1 &
R5=$!
PIDS="$PIDS $R5"
i=0
until grep -q "^Listening on port" "$T/start5.out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 300 ] && { fail "xftp-server 5 did not start"; break; }
    sleep 0.1
done
mkdir "$T/lsend" "$T/vsend" "$T/vdl"
out=$(xftp send "$T/small.bin" "$T/lsend" -s "$ADDR5" 2>&1) || fail "send with debug lines: $out"
echo "$out" | grep -q '^\[DEBUG' && fail "xftp without -v printed debug lines: $out"
# xftp -v: what the transfer does, on standard error only
xftp send -v "$T/small.bin" "$T/vsend" -s "$ADDR5" >"$T/v.out" 2>"$T/v.err" || fail "send -v: $(cat "$T/v.err")"
grep -q '^\[DEBUG' "$T/v.out" && fail "send -v: debug lines on standard output: $(cat "$T/v.out")"
grep -q "^Sender file description: " "$T/v.out" || fail "send -v: no description: $(cat "$T/v.out")"
for want in "encrypted $T/small.bin to .*: [0-9]* bytes in [0-9]* chunks" "connected to $ADDR5\$" \
    "uploading chunk 1 ([0-9]* bytes) to $ADDR5\.\.\.\$" "uploaded chunk 1\$"; do
    grep -q "^\[DEBUG [0-9-]* [0-9:]* [-+][0-9]*\] $want" "$T/v.err" || fail "send -v: no line like \"$want\" in $(cat "$T/v.err")"
done
xftp recv -v "$T/vsend/small.bin.xftp/rcv1.xftp" "$T/vdl" -y >"$T/v.out" 2>"$T/v.err" || fail "recv -v: $(cat "$T/v.err")"
cmp -s "$T/small.bin" "$T/vdl/small.bin" || fail "recv -v: content differs"
for want in "receiving [0-9]* chunks" "downloading chunk 1 ([0-9]* bytes) from $ADDR5\.\.\.\$" "downloaded chunk 1 to " \
    "acknowledged chunk 1 on $ADDR5\$"; do
    grep -q "^\[DEBUG [^]]*\] $want" "$T/v.err" || fail "recv -v: no line like \"$want\" in $(cat "$T/v.err")"
done
xftp del -v "$T/vsend/small.bin.xftp/snd.xftp.private" -y >"$T/v.out" 2>"$T/v.err" || fail "del -v: $(cat "$T/v.err")"
grep -q "^\[DEBUG [^]]*\] deleted chunk 1 from $ADDR5\$" "$T/v.err" || fail "del -v: $(cat "$T/v.err")"
# a router that is down: each retry says why
xftp send -v "$T/small.bin" "$T/vsend" -s "xftp://$FP5@127.0.0.1:$(free_port)" -r 2 >"$T/v.out" 2>"$T/v.err" \
    && fail "send -v to a closed port succeeded"
grep -q "^\[DEBUG [^]]*\] attempt 1 of 2 with xftp://.* failed (cannot connect to 127.0.0.1:[0-9]*: .*): retrying in 1 s\$" "$T/v.err" \
    || fail "send -v: no retry line in $(cat "$T/v.err")"
kill -INT "$R5"
wait "$R5" 2>/dev/null
# del retries too (router 5 is down now)
xftp del -v "$T/lsend/small.bin.xftp/snd.xftp.private" -r 3 >"$T/v.out" 2>"$T/v.err" && fail "del -v of a stopped router succeeded"
grep -q "^\[DEBUG [^]]*\] attempt 2 of 3 with $ADDR5 failed (cannot connect to 127.0.0.1:[0-9]*: .*): retrying in 2 s\$" "$T/v.err" \
    || fail "del -v: no retry line in $(cat "$T/v.err")"
for want in 'client [0-9]*: accepted' 'client [0-9]*: handshake done, XFTP version' 'client [0-9]*: closed ('; do
    grep -q "^\[DEBUG [0-9-]* [0-9:]* [-+][0-9]* server[a-z_]*\.c:[0-9]*\] $want" "$T/start5.out" \
        || fail "--log-level debug: no line like \"$want\" in $(cat "$T/start5.out")"
done

# the start and stop notes are NOTE lines (the store log created, Server
# stopped): printed at debug, and none with --log-level error, which keeps
# the printed configuration
grep -q '^\[NOTE [^]]*\] creating store log' "$T/start5.out" || fail "debug: no store log note in $(cat "$T/start5.out")"
grep -q '^\[NOTE [^]]*\] Server stopped' "$T/start5.out" || fail "debug: no stop note in $(cat "$T/start5.out")"
XFTP_SERVER_CFG_PATH="$T/etc5" XFTP_SERVER_LOG_PATH="$T/var5" "$SRV" start --log-level error > "$T/start5e.out" 2>&1 &
R5=$!
PIDS="$PIDS $R5"
i=0
until grep -q "^Listening on port" "$T/start5e.out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 300 ] && { fail "xftp-server 5 did not start at level error"; break; }
    sleep 0.1
done
kill -INT "$R5"
wait "$R5" 2>/dev/null
grep -q "^Server address: xftp://" "$T/start5e.out" || fail "--log-level error: no address in $(cat "$T/start5e.out")"
grep -q '^\[\(NOTE\|INFO\|WARN\|DEBUG\)' "$T/start5e.out" && fail "--log-level error printed notes: $(cat "$T/start5e.out")"
grep -q "compacting\|Server stopped\|stopping the server" "$T/start5e.out" && fail "--log-level error: $(cat "$T/start5e.out")"

if [ "$FAILS" -ne 0 ]; then
    for n in 1 2 3 4; do echo "--- xftp-server $n output:"; tail -n 20 "$T/start$n.out"; done
    echo "$FAILS failure(s)"
    exit 1
fi
echo "all xftp user checks passed"
