#!/usr/bin/env bash
# The local stack and the set-up scripts: bootstrap is idempotent (nothing to install the second
# time), stack.sh up/status/down start, report and stop every process (also half-started or
# crashed stacks), and the demo runs from start to stop.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"

# bootstrap a second time: every package present, nothing installed
assert_exit 0 env CARILLON_BUILD_DIR="$CARILLON_SOURCE_DIR/build" "$CARILLON_SOURCE_DIR/deploy/bootstrap.sh"
assert_contains "$OUT" "nothing to install"

# a dialer needs a trunk: refused plainly, nothing started
nodir=$(mktemp -u /tmp/carillon-it-none-XXXXXX)
assert_exit 2 tests/lib/stack.sh up "$nodir" --dialer
assert_contains "$ERR" "--dialer needs --trunk URI"
[ ! -e "$nodir" ] || fail "stack.sh up refused but created $nodir"

# stack up: server ready, env usable, processes alive
cr_stack_up
for v in CARILLON_SERVER CARILLON_CA CARILLON_USER CARILLON_PASSWORD CARILLON_CONFIG_DIR CARILLON_STACK_DIR PGHOST PGPORT; do
    grep -q "$v=" "$CARILLON_STACK_DIR/env.sh" || fail "no $v in env.sh: $(cat "$CARILLON_STACK_DIR/env.sh")"
done
wait_for_log "$CARILLON_STACK_DIR/server.log" " ready listen=$CARILLON_SERVER"
server_pid=$(cat "$CARILLON_STACK_DIR/server.pid")
pid_alive "$server_pid" || fail "the server in server.pid ($server_pid) is not running"
assert_eq "$server_pid" "$(cat "$CARILLON_STACK_DIR/server.spawned")"
pg_pid=$(head -1 "$CARILLON_STACK_DIR/pg/pgdata/postmaster.pid")
pid_alive "$pg_pid" || fail "PostgreSQL ($pg_pid, from postmaster.pid) is not running"
assert_exit 0 carillonctl ping
assert_exit 0 carillonctl whoami
assert_contains "$OUT" "role: admin"
assert_exit 0 psql -Atc "select count(*) from users where login='admin' and role='admin'"
assert_eq "1" "$OUT"
assert_exit 0 tests/lib/stack.sh status "$CARILLON_STACK_DIR"
assert_contains "$OUT" "carillon-server: running (pid $server_pid"
assert_contains "$OUT" "postgresql: running"

# a second 'up' on the same directory reuses what runs
assert_exit 0 tests/lib/stack.sh up "$CARILLON_STACK_DIR"
assert_eq "$server_pid" "$(cat "$CARILLON_STACK_DIR/server.pid")"

# a server killed outright (stale pid file): status says so, 'up' starts a new one, same port
kill -KILL "$server_pid"
wait_for_exit "$server_pid" 20
assert_exit 3 tests/lib/stack.sh status "$CARILLON_STACK_DIR"
assert_contains "$OUT" "carillon-server: stopped"
assert_exit 0 tests/lib/stack.sh up "$CARILLON_STACK_DIR"
server_pid=$(cat "$CARILLON_STACK_DIR/server.pid")
pid_alive "$server_pid" || fail "no new server after the kill"
assert_exit 0 carillonctl ping

# down stops everything
assert_exit 0 tests/lib/stack.sh down "$CARILLON_STACK_DIR"
wait_for_exit "$server_pid" 20
wait_for_exit "$pg_pid" 20
wait_for_log "$CARILLON_STACK_DIR/server.log" "stopped exit=0"
assert_exit 3 tests/lib/stack.sh status "$CARILLON_STACK_DIR"
assert_contains "$OUT" "postgresql: stopped"
assert_exit 3 carillonctl ping

# a half-started stack: the server refuses its config, 'up' fails saying why, 'down' stops
# the PostgreSQL it had started
echo "no_such_key = 1" >>"$CARILLON_STACK_DIR/server.conf"
assert_exit 1 tests/lib/stack.sh up "$CARILLON_STACK_DIR"
assert_contains "$ERR" "no_such_key"
assert_contains "$ERR" "stack: up failed"
pg_pid=$(head -1 "$CARILLON_STACK_DIR/pg/pgdata/postmaster.pid")
pid_alive "$pg_pid" || fail "PostgreSQL should run in the half-started stack"
assert_exit 0 tests/lib/stack.sh down "$CARILLON_STACK_DIR"
wait_for_exit "$pg_pid" 20

# a sanitizer report in a daemon's log makes 'down' fail, showing the report
cp "$CARILLON_STACK_DIR/init-admin.log" "$CARILLON_STACK_DIR/init-admin.log.orig"
echo "==42==ERROR: LeakSanitizer: detected memory leaks" >>"$CARILLON_STACK_DIR/init-admin.log"
assert_exit 1 tests/lib/stack.sh down "$CARILLON_STACK_DIR"
assert_contains "$ERR" "sanitizer report in $CARILLON_STACK_DIR/init-admin.log"
assert_contains "$ERR" "detected memory leaks"
mv "$CARILLON_STACK_DIR/init-admin.log.orig" "$CARILLON_STACK_DIR/init-admin.log"

# the demo, start to stop, in its own directory
demo=$(mktemp -d /tmp/carillon-demo-XXXXXX)
trap_add "tests/lib/stack.sh down '$demo' >/dev/null 2>&1; rm -rf '$demo'"
assert_exit 0 env CARILLON_BUILD_DIR="$CARILLON_SOURCE_DIR/build" deploy/demo.sh --stop-after "$demo"
assert_contains "$OUT" "pong from server1"
assert_contains "$OUT" "Camille Hébert"
assert_contains "$OUT" "campaign Fibre Île-de-France 2027 created"
assert_contains "$OUT" "5 rows: 4 imported, 0 duplicates, 1 rejected, 0 blocked"
assert_contains "$OUT" "Lefèvre;Jérôme;+33 1 44 55 66 77;Paris"
# the campaign part: the server drove dialerd, the agents qualified, the campaign finished
assert_contains "$OUT" "campaign Démo relance created"
assert_contains "$OUT" "24 rows: 24 imported"
assert_contains "$OUT" 'reason="every contact is done"'
assert_contains "$OUT" "carillon-agentd (node agentd1) serves agents"
assert_contains "$OUT" "calls reached the agents"
assert_contains "$OUT" '"event":"call_connected"'
# the questionnaire's answers made one PDF per contact who answered (16: numbers ending 0-5)
assert_contains "$OUT" "16 PDFs written to"
# every contact's end follows from its number's last digit (tests/sipp/engine_trunk.xml)
grep -qE 'Lefèvre.*Zoé.*done' <<<"$OUT" || fail "contact Lefèvre Zoé (answered) not done: $OUT"
grep -qE 'Payet.*Jérôme.*failed' <<<"$OUT" || fail "contact Payet Jérôme (busy twice) not failed"
grep -qE 'Hébert.*Zoé.*failed' <<<"$OUT" || fail "contact Hébert Zoé (not a number) not failed"
grep -qE "N'Diaye.*Jérôme.*shelved" <<<"$OUT" || fail "contact N'Diaye Jérôme (no answer) not shelved"
assert_contains "$OUT" "demo: stopped"
echo "PASS deploy_stack"
