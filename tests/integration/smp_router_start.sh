# Sourced by the journal tests (test_smp_journal.sh, test_smp_journal_store.sh):
# start_router runs "$SERVER" start (through $TOS when set) on the INI in
# $INI, on $PORT once one worked, else on a free random port below the
# ephemeral range (up to 8 tries), logging to $T/server.log; it sets PID and
# PORT and exits the test when the router does not come up.
port_ready() { openssl s_client -connect "127.0.0.1:$1" </dev/null >/dev/null 2>&1; }
PORT=
start_router() {
    for attempt in 1 2 3 4 5 6 7 8; do
        p=${PORT:-$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 12000 + 20000 ))}
        [ -z "$PORT" ] && port_ready "$p" && continue
        sed -i "s/^port: .*/port: $p/; s/^host: .*/host: 127.0.0.1/" "$INI"
        $TOS "$SERVER" start >>"$T/server.log" 2>&1 &
        PID=$!
        i=0
        while [ $i -lt 100 ]; do
            if ! kill -0 "$PID" 2>/dev/null; then break; fi
            if port_ready "$p"; then PORT=$p; return 0; fi
            sleep 0.1
            i=$((i + 1))
        done
        kill "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
        PID=
    done
    cat "$T/server.log"
    echo "FAIL: the router did not start"
    exit 1
}
