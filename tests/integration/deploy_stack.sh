#!/usr/bin/env bash
# The local stack and the two commands' set-up: bootstrap is idempotent (nothing to install the
# second time), the demo runs and stops, and stack.sh up/down start and stop every process.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"

# bootstrap a second time: every package present, nothing installed
assert_exit 0 env CARILLON_BUILD_DIR="$CARILLON_SOURCE_DIR/build" "$CARILLON_SOURCE_DIR/deploy/bootstrap.sh"
assert_contains "$OUT" "nothing to install"

# stack up: server ready, env usable, processes alive
cr_stack_up
wait_for_log "$CARILLON_STACK_DIR/server.log" " ready listen=$CARILLON_SERVER"
server_pid=$(cat "$CARILLON_STACK_DIR/server.pid")
kill -0 "$server_pid" || fail "server not running"
pg_pid=$(head -1 "$CARILLON_STACK_DIR/pg/pgdata/postmaster.pid")
kill -0 "$pg_pid" || fail "postgres not running"
assert_exit 0 carillonctl ping
assert_exit 0 psql -Atc "select count(*) from users where login='admin' and role='admin'"
assert_eq "1" "$OUT"
assert_exit 0 tests/lib/stack.sh status "$CARILLON_STACK_DIR"
assert_contains "$OUT" "carillon-server: running"

# a second 'up' on the same directory reuses what runs
assert_exit 0 tests/lib/stack.sh up "$CARILLON_STACK_DIR"
assert_eq "$server_pid" "$(cat "$CARILLON_STACK_DIR/server.pid")"

# down stops everything
assert_exit 0 tests/lib/stack.sh down "$CARILLON_STACK_DIR"
wait_for_exit "$server_pid" 20
wait_for_exit "$pg_pid" 20
wait_for_log "$CARILLON_STACK_DIR/server.log" "stopped exit=0"
assert_exit 3 carillonctl ping

# the demo, start to stop, in its own directory
demo=$(mktemp -d /tmp/carillon-demo-XXXXXX)
trap_add "tests/lib/stack.sh down '$demo' >/dev/null 2>&1; rm -rf '$demo'"
assert_exit 0 env CARILLON_BUILD_DIR="$CARILLON_SOURCE_DIR/build" deploy/demo.sh --stop-after "$demo"
assert_contains "$OUT" "pong from server1"
assert_contains "$OUT" "Camille Hébert"
assert_contains "$OUT" "demo: stopped"
echo "PASS deploy_stack"
