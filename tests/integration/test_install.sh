#!/bin/sh
# The installed library as a user meets it: `cmake --install` into a fresh
# prefix, the installed headers free of OpenSSL, libsodium and private
# headers, then examples/ built from outside the tree with
# `pkg-config --cflags --libs simplex` (shared, and static with --static)
# and run against real smp-server and xftp-server processes on loopback.
# Usage: test_install.sh <build dir> <source dir> <smp-server> <xftp-server> [extra CFLAGS]
set -u
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
BUILD=$(abspath "$1")
SRC=$(abspath "$2")
SMP_SERVER=$(abspath "$3")
XFTP_SERVER=$(abspath "$4")
EXTRA_CFLAGS=${5:-}
T=$(mktemp -d /tmp/sx_install.XXXXXX) || exit 1
SPID= XPID=
KEEP=${SX_KEEP_INSTALL_TEST:-}
cleanup() {
    for p in $SPID $XPID; do kill -9 "$p" 2>/dev/null; done
    [ -n "$KEEP" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
CC=${CC:-cc}

# ---- install ----
PREFIX="$T/prefix"
cmake --install "$BUILD" --prefix "$PREFIX" >"$T/install.log" 2>&1 || { cat "$T/install.log"; echo "FAIL: cmake --install"; exit 1; }
PC=$(find "$PREFIX" -name simplex.pc | head -n 1)
[ -n "$PC" ] || { echo "FAIL: no simplex.pc installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$PC")"
LIBDIR=$(pkg-config --variable=libdir simplex)
[ -e "$LIBDIR/libsimplex.so" ] || fail "no libsimplex.so in $LIBDIR"
[ -e "$LIBDIR/libsimplex.a" ] || fail "no libsimplex.a in $LIBDIR"
soname=$(objdump -p "$LIBDIR/libsimplex.so" 2>/dev/null | sed -n 's/ *SONAME *//p')
case "$soname" in libsimplex.so.[0-9]*) ;; *) fail "SONAME '$soname'" ;; esac
for prog in smp-server xftp-server smp xftp xrcp simplex-agent; do
    [ -x "$PREFIX/bin/$prog" ] || fail "program $prog not installed"
done
# The routers' systemd units, naming the installed programs, as the
# reference's (their own user, SIGINT, open files, port 443 without root);
# a man page per program; the operators' guide.
for u in smp-server:smp xftp-server:xftp; do
    prog=${u%%:*} user=${u#*:}
    unit="$PREFIX/lib/systemd/system/$prog.service"
    [ -f "$unit" ] || { fail "no $prog.service installed"; continue; }
    for line in "ExecStart=$PREFIX/bin/$prog start" "User=$user" "Group=$user" "KillSignal=SIGINT" \
                "LimitNOFILE=65535" "AmbientCapabilities=CAP_NET_BIND_SERVICE" "Restart=on-failure"; do
        grep -qxF "$line" "$unit" || fail "$prog.service has no '$line'"
    done
    grep -q "@" "$unit" && fail "$prog.service has an unreplaced @VARIABLE@"
done
for prog in smp-server xftp-server smp xftp xrcp simplex-agent; do
    page="$PREFIX/share/man/man1/$prog.1"
    [ -f "$page" ] || { fail "no man page $prog.1"; continue; }
    grep -q "^Usage: $prog " "$page" || fail "man page $prog.1 is not its --help"
done
[ -f "$PREFIX/share/doc/simplex/OPERATORS.md" ] || fail "docs/OPERATORS.md not installed"
# The installed smp finds the installed library through its RUNPATH.
"$PREFIX/bin/smp" --version >/dev/null 2>&1 || fail "the installed smp does not run"
ldd "$PREFIX/bin/smp" | grep -q "$PREFIX" || fail "the installed smp does not use the installed libsimplex.so"
for h in simplex.h status.h loop.h smp.h xftp.h xrcp.h version.h; do
    [ -f "$PREFIX/include/simplex/$h" ] || fail "header simplex/$h not installed"
done
# Public headers include only system headers and each other.
bad=$(grep -h '^[[:space:]]*#[[:space:]]*include' "$PREFIX"/include/simplex/*.h |
      grep -v -E '#[[:space:]]*include[[:space:]]*(<(signal|stdbool|stddef|stdint)\.h>|"simplex/[a-z]+\.h")')
[ -z "$bad" ] || fail "installed headers include: $bad"
grep -l -E 'openssl|sodium|EVP_PKEY' "$PREFIX"/include/simplex/*.h && fail "an installed header names OpenSSL or libsodium"
# Only the public API is exported.
if command -v nm >/dev/null 2>&1; then
    extra=$(nm -D --defined-only "$LIBDIR/libsimplex.so" | awk '{print $3}' | grep -v -E '^(sx_|_init$|_fini$|_end$|_edata$|__bss_start$)')
    [ -z "$extra" ] || fail "libsimplex.so exports non-API symbols: $(echo $extra | head -c 300)"
    n=$(nm -D --defined-only "$LIBDIR/libsimplex.so" | grep -c ' T sx_')
    [ "$n" -gt 20 ] || fail "libsimplex.so exports only $n functions"
fi

# ---- build the examples from outside the tree ----
mkdir -p "$T/ex"
cp "$SRC"/examples/*.c "$T/ex/" || exit 1
cd "$T/ex" || exit 1
for ex in smp_hello smp_loop xftp_file; do
    # shellcheck disable=SC2046
    $CC -std=c11 -Wall -Wextra -Werror $EXTRA_CFLAGS "$ex.c" -o "$ex" \
        $(pkg-config --cflags --libs simplex) -Wl,-rpath,"$LIBDIR" 2>"$T/cc.log" ||
        { cat "$T/cc.log"; fail "building $ex against the shared library"; }
    # shellcheck disable=SC2046
    $CC -std=c11 -Wall -Wextra -Werror $EXTRA_CFLAGS "$ex.c" -o "$ex-static" \
        $(pkg-config --cflags simplex) "$LIBDIR/libsimplex.a" \
        $(pkg-config --static --libs simplex | sed 's/-lsimplex//') 2>"$T/cc.log" ||
        { cat "$T/cc.log"; fail "building $ex against the static library"; }
done
[ -x smp_hello ] && ldd ./smp_hello | grep -q "libsimplex.so" || fail "smp_hello does not use libsimplex.so"
[ -x smp_hello-static ] && ldd ./smp_hello-static | grep -q "libsimplex.so" && fail "smp_hello-static uses libsimplex.so"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port_open() {
    python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(('127.0.0.1',$1)))"
}

# ---- an SMP router ----
export SMP_SERVER_CFG_PATH="$T/smp-etc" SMP_SERVER_LOG_PATH="$T/smp-var"
"$SMP_SERVER" init -y --disable-web --ip 127.0.0.1 >"$T/smp-init.log" 2>&1 || { cat "$T/smp-init.log"; echo "FAIL: smp-server init"; exit 1; }
SPORT=$(free_port)
sed -i "s/^port: .*/port: $SPORT/; s/^host: .*/host: 127.0.0.1/" "$T/smp-etc/smp-server.ini"
PW=$(sed -n 's/^create_password: //p' "$T/smp-etc/smp-server.ini")
"$SMP_SERVER" start >"$T/smp.log" 2>&1 &
SPID=$!
i=0
until port_open "$SPORT"; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$SPID" 2>/dev/null; then cat "$T/smp.log"; echo "FAIL: smp-server did not start"; exit 1; fi
    sleep 0.1
done
SADDR="smp://$(cat "$T/smp-etc/fingerprint")${PW:+:$PW}@127.0.0.1:$SPORT"

for ex in smp_hello smp_hello-static; do
    [ -x "$ex" ] || continue
    out=$(timeout 60 "./$ex" "$SADDR" "sent by $ex" 2>&1) || fail "$ex: $out"
    echo "$out" | grep -qx "received: sent by $ex" || fail "$ex output: $out"
    echo "$out" | grep -qx "queue deleted" || fail "$ex did not delete the queue: $out"
done
for ex in smp_loop smp_loop-static; do
    [ -x "$ex" ] || continue
    out=$(timeout 60 "./$ex" "$SADDR" 50 2>&1) || fail "$ex: $out"
    echo "$out" | grep -qx "sent 50, received 50" || fail "$ex output: $out"
    echo "$out" | grep -qx "queue deleted" || fail "$ex did not delete the queue: $out"
done
out=$(timeout 60 ./smp_loop "smp://LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=@127.0.0.1:$SPORT" 2>&1) &&
    fail "smp_loop with a wrong fingerprint succeeded"
echo "$out" | grep -q "identity" || fail "smp_loop wrong fingerprint message: $out"
# A wrong fingerprint is an error naming the cause, not a crash.
WRONG="smp://LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=${PW:+:$PW}@127.0.0.1:$SPORT"
out=$(timeout 60 ./smp_hello "$WRONG" 2>&1) && fail "smp_hello with a wrong fingerprint succeeded"
echo "$out" | grep -q "identity" || fail "wrong fingerprint message: $out"

# ---- an XFTP router ----
export XFTP_SERVER_CFG_PATH="$T/xftp-etc" XFTP_SERVER_LOG_PATH="$T/xftp-var"
"$XFTP_SERVER" init -p "$T/xftp-files" -q 100mb >"$T/xftp-init.log" 2>&1 || { cat "$T/xftp-init.log"; echo "FAIL: xftp-server init"; exit 1; }
XPORT=$(free_port)
sed -i "s/^port: .*/port: $XPORT/" "$T/xftp-etc/file-server.ini"
"$XFTP_SERVER" start >"$T/xftp.log" 2>&1 &
XPID=$!
i=0
until grep -q "^Listening on port" "$T/xftp.log" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 "$XPID" 2>/dev/null; then cat "$T/xftp.log"; echo "FAIL: xftp-server did not start"; exit 1; fi
    sleep 0.1
done
XADDR="xftp://$(cat "$T/xftp-etc/fingerprint")@127.0.0.1:$XPORT"
export TMPDIR="$T"
head -c 3000000 /dev/urandom >"$T/payload.bin"
for ex in xftp_file xftp_file-static; do
    [ -x "$ex" ] || continue
    rm -rf "$T/work-$ex"
    mkdir -p "$T/work-$ex"
    out=$(timeout 120 "./$ex" "$XADDR" "$T/payload.bin" "$T/work-$ex" 2>&1) || fail "$ex: $out"
    echo "$out" | grep -q "^deleted from the router" || fail "$ex output: $out"
    cmp -s "$T/payload.bin" "$T/work-$ex/received/payload.bin" || fail "$ex: received file differs"
done
# A missing folder for the descriptions is refused before anything is uploaded.
before=$(find "$T/xftp-files" -type f | wc -l)
out=$(timeout 60 ./xftp_file "$XADDR" "$T/payload.bin" "$T/no-such-dir" 2>&1) && fail "send into a missing folder succeeded"
echo "$out" | grep -q "does not exist" || fail "missing folder message: $out"
after=$(find "$T/xftp-files" -type f | wc -l)
[ "$before" = "$after" ] || fail "a refused send left $((after - before)) chunk files on the router"

if [ "$FAILS" -ne 0 ]; then
    echo "--- smp-server log:"; tail -n 20 "$T/smp.log"
    echo "--- xftp-server log:"; tail -n 20 "$T/xftp.log"
    echo "$FAILS check(s) failed"
    exit 1
fi
echo "install: all checks passed"
