#!/usr/bin/env bash
# Per-peer limits under floods: an admin logs in while 2,000 idle TCP sockets and 500 idle TLS
# sessions are held; a slowloris peer is closed at login_timeout; a client pipelining 10,000
# requests is slowed by back-pressure while another is served; with PostgreSQL stopped a
# logged-in request gets UNAVAILABLE, and once it is back the server serves without a restart.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 3000 ] || fail "RLIMIT_NOFILE $(ulimit -n) is below the 3000 this test needs"
cr_stack_up
log=$CARILLON_STACK_DIR/server.log
work=$CARILLON_STACK_DIR/limits
mkdir -p "$work"
flood_pids=()
trap_add 'for p in "${flood_pids[@]}"; do kill "$p" 2>/dev/null || true; done'

# short limits for the test, applied by SIGHUP (every [limits] key reloads)
cat >>"$CARILLON_STACK_DIR/server.conf" <<'CONF'

[limits]
max_pending = 64
max_clients = 600
login_timeout = 2s
max_requests_in_flight = 8
CONF
kill -HUP "$(cat "$CARILLON_STACK_DIR/server.pid")"
wait_for_log "$log" "reloaded config="

flood() { # flood NAME ARGS...: starts cr-flood in the background, its output in $work/NAME
    local name=$1
    shift
    cr-flood --server "$CARILLON_SERVER" --ca "$CARILLON_CA" --user admin \
        --password "$CARILLON_PASSWORD" "$@" >"$work/$name" 2>&1 &
    flood_pids+=($!)
}

# 500 idle logged-in TLS sessions, then 2,000 idle TCP sockets
flood idle --tls 500 --tcp 2000
wait_for_log "$work/idle" "tls_ready n=500" 40
wait_for_log "$work/idle" "tcp_ready n=2000" 30
wait_for_log "$log" "pending_evicted" 10
start=$(date +%s%N)
assert_exit 0 carillonctl whoami
ms=$((($(date +%s%N) - start) / 1000000))
assert_contains "$OUT" "login: admin"
[ "$ms" -lt 5000 ] || fail "admin login took ${ms} ms under the flood"
echo "admin login under flood: ${ms} ms"
grep -q "tls_closed" "$work/idle" && fail "an idle logged-in session was closed by the flood"

# slowloris: TLS done, Hello never finished: closed once login_timeout (2s) has passed
flood slow --slowloris
wait_for_log "$work/slow" "slowloris_closed" 10
after=$(sed -n 's/.*slowloris_closed after_ms=\([0-9]*\).*/\1/p' "$work/slow")
[ "$after" -ge 1900 ] && [ "$after" -le 6000 ] || fail "slowloris closed after ${after} ms, not ~2 s"
wait_for_log "$log" "login_timeout peer=.* state=hello"

# pipelining 10,000 requests: the server stops reading that client; others are served
flood pipe --pipeline 10000
wait_for_log "$work/pipe" "pipeline_sent n=10000" 20
wait_for_log "$log" "backpressure peer=.*action=stop_reading" 20
assert_exit 0 carillonctl user list
assert_contains "$OUT" "admin"
wait_for_log "$work/pipe" "pipeline_replies n=1000 " 30
kill "${flood_pids[2]}" 2>/dev/null || true

# PostgreSQL stopped: a logged-in request gets UNAVAILABLE, not silence
rm -f "$work/go"
cr-probe --server "$CARILLON_SERVER" --ca "$CARILLON_CA" hello supervisor \
    login admin "$CARILLON_PASSWORD" wait-file "$work/go" users >"$work/probe" 2>&1 &
probe=$!
wait_for_log "$work/probe" "login_ok user=admin"
tests/lib/pg.sh stop "$CARILLON_STACK_DIR/pg"
wait_for_log "$log" "pg_disconnected"
touch "$work/go"
wait_for_log "$work/probe" "error code=UNAVAILABLE" 5
wait "$probe" || true
assert_exit 1 carillonctl whoami
assert_contains "$ERR" "UNAVAILABLE"

# started again: served without a restart
tests/lib/pg.sh start "$CARILLON_STACK_DIR/pg" >/dev/null
wait_for_log "$log" "pg_connected" 20
for _ in $(seq 1 100); do
    carillonctl whoami >/dev/null 2>&1 && break
    sleep 0.1
done
assert_exit 0 carillonctl whoami
assert_contains "$OUT" "login: admin"
echo "PASS security_limits"
