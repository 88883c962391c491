# Sourced by the tests that run several named routers (test_smp_proxy_cli.sh,
# test_smp_socks.sh); they set SERVER, T, TOS, PIDS and fail() first.
# start_router NAME [init options] runs `init` into $T/NAME, applies the
# "key: value" lines of $INI_LINES (if set) to its INI, starts it on a free
# random port (control port the next one, user password us3r) and sets
# PORT_<NAME>, CTL_<NAME>, FP_<NAME>, PW_<NAME> and PID_<NAME>.
# stats PORT prints the control port's `stats` answer; expect_stat PORT LINE
# fails the test unless that exact line is in it.
port_ready() { openssl s_client -connect "127.0.0.1:$1" </dev/null >/dev/null 2>&1; }

start_router() {
    name=$1
    shift
    d="$T/$name"
    mkdir -p "$d"
    SMP_SERVER_CFG_PATH="$d/etc" SMP_SERVER_LOG_PATH="$d/var" "$SERVER" init -y --disable-web --ip 127.0.0.1 "$@" \
        >"$d/init.log" 2>&1 || { cat "$d/init.log"; echo "FAIL: init $name"; exit 1; }
    ini="$d/etc/smp-server.ini"
    port=
    for attempt in 1 2 3 4 5 6 7 8; do
        p=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 12000 + 20000 ))
        port_ready "$p" && continue
        c=$((p + 1))
        port_ready "$c" && continue
        sed -i "s/^port: .*/port: $p/; s/^host: .*/host: 127.0.0.1/" "$ini"
        sed -i "s/^#* *control_port: .*/control_port: $c/; s/^#* *control_port_user_password: .*/control_port_user_password: us3r/" "$ini"
        [ -n "${INI_LINES:-}" ] && printf '%s\n' "$INI_LINES" | while IFS= read -r kv; do
            k=${kv%%:*}
            sed -i "s/^#* *$k:.*/$kv/" "$ini"
        done
        SMP_SERVER_CFG_PATH="$d/etc" SMP_SERVER_LOG_PATH="$d/var" $TOS "$SERVER" start --log-level debug \
            >"$d/server.log" 2>&1 &
        pid=$!
        i=0
        while [ $i -lt 100 ]; do
            kill -0 "$pid" 2>/dev/null || break
            if port_ready "$p"; then port=$p; break; fi
            sleep 0.1
            i=$((i + 1))
        done
        [ -n "$port" ] && break
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    [ -n "$port" ] || { cat "$d/server.log"; echo "FAIL: router $name did not start"; exit 1; }
    PIDS="$PIDS $pid"
    eval "CTL_$name=$((port + 1)) PORT_$name=$port FP_$name=$(cat "$d/etc/fingerprint") PID_$name=$pid"
    eval "PW_$name=\$(sed -n 's/^create_password: //p' \"\$ini\")"
}

# stats PORT: the control port's `stats` answer
stats() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"auth us3r\nstats\nquit\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
sys.stdout.write(data.decode())
PY
}
# expect_stat PORT LINE: the exact line is in the stats
expect_stat() {
    out=$(stats "$1")
    echo "$out" | grep -qxF "$2" || fail "stats of $1: no '$2' in: $(echo "$out" | grep -E '^p(Relays|MsgFwds)')"
}
