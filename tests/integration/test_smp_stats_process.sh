#!/bin/sh
# Black-box test of the SMP router's statistics and control port as a real
# smp-server process: log_stats and prometheus_interval from the INI, an
# operator's backup in the reference's older form restored at start (and
# set aside as .bak), the metrics file written on time with the reference's
# names, the control port's commands with the admin and user passwords and
# refused without them, and the backup written again at SIGTERM.
# Usage: test_smp_stats_process.sh <path to smp-server>
set -u
SMP=$1
T=$(mktemp -d /tmp/sx_smp_stats_test.XXXXXX) || exit 1
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
smp() { SMP_SERVER_CFG_PATH="$T/etc" SMP_SERVER_LOG_PATH="$T/var" "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

smp "$SMP" init -y --disable-web --no-password >/dev/null 2>&1 || { echo "FAIL: smp-server init"; exit 1; }
INI="$T/etc/smp-server.ini"
P=$(free_port)
C=$(free_port)
sed -i "s/^port: .*/port: $P/; s/^log_stats: off/log_stats: on/; s/^# prometheus_interval: 60/prometheus_interval: 1/" "$INI"
sed -i "s/^# control_port: 5224/control_port: $C/" "$INI"
sed -i "s/^# control_port_admin_password: .*/control_port_admin_password: adm1n/" "$INI"
sed -i "s/^# control_port_user_password: .*/control_port_user_password: us3r/" "$INI"
grep -q "^prometheus_interval: 1" "$INI" || fail "INI edit: prometheus_interval"
grep -q "^control_port: $C" "$INI" || fail "INI edit: control_port"

# an operator's backup written by the reference in an older form
mkdir -p "$T/var"
printf 'fromTime=2024-01-01T00:00:00Z\nqCreated=10\nqSecured=9\nqDeleted=2\nmsgSent=34\nmsgRecv=30\ndayMsgQueues=1,2\nweekMsgQueues=1,2\nmonthMsgQueues=1,2,3\n' \
    >"$T/var/smp-server-stats.log"

# not through smp(): $! must be the router's own pid
SMP_SERVER_CFG_PATH="$T/etc" SMP_SERVER_LOG_PATH="$T/var" "$SMP" start >"$T/out" 2>&1 &
PID=$!
i=0
until [ -s "$T/var/smp-server-metrics.txt" ]; do
    i=$((i + 1)); [ $i -gt 100 ] && { fail "no metrics file after 10 s: $(cat "$T/out")"; break; }
    sleep 0.1
done
M="$T/var/smp-server-metrics.txt"
grep -q "^# TYPE simplex_smp_messages_sent counter$" "$M" || fail "metrics: no TYPE line for messages_sent"
grep -q "^simplex_smp_messages_sent 34 [0-9]*$" "$M" || fail "metrics: messages_sent from the restored backup: $(grep messages_sent "$M")"
grep -q "^simplex_smp_queues_deleted{type=\"all\"} 2 " "$M" || fail "metrics: queues_deleted all"
grep -q "^simplex_smp_sockets_accepted{port=\"$P\"} " "$M" || fail "metrics: sockets_accepted for port $P"
[ -e "$T/var/smp-server-stats.log.bak" ] || fail "the restored backup was not set aside as .bak"
[ -e "$T/var/smp-server-stats.log" ] && fail "the restored backup is still there"
grep -q "^server stats log enabled: $T/var/smp-server-stats.daily.log" "$T/out" || fail "start: no stats log line: $(cat "$T/out")"
grep -q "^Prometheus metrics saved every 1 seconds to $M" "$T/out" || fail "start: no metrics line"

# the control port: every answer until "quit" closes the connection
ctl() {
    python3 - "$C" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(sys.argv[2].encode() + b"\nquit\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
sys.stdout.write(data.decode())
PY
}
out=$(ctl "stats")
echo "$out" | grep -qx "AUTH" || fail "stats without a password: $out"
out=$(ctl "$(printf 'auth wrong\nstats\nthreads')")
echo "$out" | grep -qx "Current role is CPRNone" || fail "a wrong password: $out"
[ "$(echo "$out" | grep -cx "AUTH")" -eq 2 ] || fail "stats and threads with a wrong password: $out"
out=$(ctl "$(printf 'auth us3r\nstats\nthreads\nsave\nserver-info\nstats-rts')")
echo "$out" | grep -qx "msgSent: 34" || fail "user stats: $out"
echo "$out" | grep -qx "qCreated: 10" || fail "user stats qCreated: $out"
[ "$(echo "$out" | grep -cx "AUTH")" -eq 2 ] || fail "threads and save as user: $out"
echo "$out" | grep -q "^Threads: [0-9]" || fail "user server-info: $out"
echo "$out" | grep -q "^VmRSS: " || fail "stats-rts: $out"
out=$(ctl "$(printf 'auth adm1n\nthreads\nsocket-threads\nsave')")
echo "$out" | grep -q "^[0-9]* (.*) worker 0$" || fail "admin threads: $out"
echo "$out" | grep -q "^[0-9]* (.*) control port$" || fail "admin threads, the control port: $out"
echo "$out" | grep -q "^$P,0," || fail "admin socket-threads: $out"
echo "$out" | grep -qx "server state saved!" || fail "admin save: $out"
[ -e "$T/var/smp-server-stats.log" ] || fail "save did not write the backup"

kill -TERM "$PID"
wait "$PID"
rc=$?
PID=
[ $rc -eq 0 ] || fail "smp-server exit $rc after SIGTERM: $(cat "$T/out")"
grep -q "^saving server stats to file $T/var/smp-server-stats.log" "$T/out" || fail "stop: no saving line: $(cat "$T/out")"
grep -qx "msgSent=34" "$T/var/smp-server-stats.log" || fail "the backup at stop: $(cat "$T/var/smp-server-stats.log")"
grep -qx "qDeletedAll=2" "$T/var/smp-server-stats.log" || fail "the backup at stop in the current form"
grep -qx "activeQueues:" "$T/var/smp-server-stats.log" || fail "the backup: activeQueues section"

[ $FAILS -eq 0 ] && echo "PASS" || exit 1
