#!/usr/bin/env bash
# Server + PostgreSQL + carillonctl: ping, login, wrong password, whoami, user add/list/passwd/
# disable, roles, the session file, login rate limits, and users surviving a server restart.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up

# ping works without logging in
assert_exit 0 carillonctl ping
assert_contains "$OUT" "pong from server1"
assert_exit 0 carillonctl --json ping
assert_contains "$OUT" '"server_version"'

# credentials from the environment
assert_exit 0 carillonctl whoami
assert_contains "$OUT" "login: admin"
assert_contains "$OUT" "role: admin"

# no credentials at all
assert_exit 1 env -u CARILLON_USER -u CARILLON_PASSWORD carillonctl whoami
assert_contains "$ERR" "not logged in"

# wrong password: exit 1 and the server's message
assert_exit 1 env CARILLON_PASSWORD=wrong-password carillonctl whoami
assert_contains "$ERR" "UNAUTHENTICATED"
assert_contains "$ERR" "wrong login or password"

# connection failures are exit 3
assert_exit 3 carillonctl --server 127.0.0.1:1 ping
assert_exit 2 carillonctl frobnicate
# the wait for an answer: CARILLON_TIMEOUT, else 10 s; --timeout wins over both. A listener
# that accepts and never says a word (the TLS handshake never ends).
silent_port=$("$CARILLON_SOURCE_DIR/tests/lib/free-port.sh")
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); print("listening", flush=True)
held = []
end = time.time() + 60
while time.time() < end:
    s.settimeout(1)
    try: held.append(s.accept()[0])
    except socket.timeout: pass' "$silent_port" >"$CARILLON_STACK_DIR/silent.out" 2>&1 &
silent_pid=$!
trap_add "kill $silent_pid 2>/dev/null || true"
wait_for_log "$CARILLON_STACK_DIR/silent.out" '^listening' 10
assert_exit 3 env CARILLON_TIMEOUT=1 carillonctl --server "127.0.0.1:$silent_port" ping
assert_contains "$ERR" "no answer within 1 s"
assert_exit 3 env CARILLON_TIMEOUT=30 carillonctl --timeout 1.5 --server "127.0.0.1:$silent_port" ping
assert_contains "$ERR" "no answer within 1.5 s"
assert_exit 2 env CARILLON_TIMEOUT=soon carillonctl ping
assert_contains "$ERR" "CARILLON_TIMEOUT takes seconds above 0 and at most 3600, not 'soon'"

# user add (accents round-trip), duplicates, bad input
assert_exit 0 carillonctl user add helene --role agent --name 'Hélène Dupré' --password-stdin <<<'agent-pass-1'
assert_exit 0 carillonctl user add marc --role supervisor --name 'Marc Lefèvre' --password-stdin <<<'superv-pass-1'
assert_exit 1 carillonctl user add helene --role agent --password-stdin <<<'agent-pass-1'
assert_contains "$ERR" "ALREADY_EXISTS"
assert_exit 1 carillonctl user add shorty --role agent --password-stdin <<<'short'
assert_contains "$ERR" "INVALID_ARGUMENT"
assert_contains "$ERR" "at least 8"
assert_exit 1 carillonctl user add 'bad login' --role agent --password-stdin <<<'long-enough-1'
assert_contains "$ERR" "INVALID_ARGUMENT"

assert_exit 0 carillonctl user list
assert_contains "$OUT" "Hélène Dupré"
assert_contains "$OUT" "Marc Lefèvre"
assert_exit 0 carillonctl --json user list
assert_contains "$OUT" '"Hélène Dupré"'

# the database holds what the API said
n=$(psql -Atc "select count(*) from users where login in ('helene','marc')")
assert_eq "2" "$n"
assert_eq "agent" "$(psql -Atc "select role from users where login='helene'")"
case "$(psql -Atc "select password_hash from users where login='helene'")" in
    '$scrypt$'*) ;;
    *) fail "password not stored as an scrypt hash" ;;
esac

# an agent may not use supervisor APIs; a supervisor may list but not add
assert_exit 0 env CARILLON_USER=helene CARILLON_PASSWORD=agent-pass-1 carillonctl whoami
assert_contains "$OUT" "Hélène Dupré"
assert_exit 1 env CARILLON_USER=helene CARILLON_PASSWORD=agent-pass-1 carillonctl user list
assert_contains "$ERR" "PERMISSION_DENIED"
assert_exit 0 env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl user list
assert_exit 1 env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl user add x1 --role agent --password-stdin <<<'whatever-1'
assert_contains "$ERR" "PERMISSION_DENIED"

# login keeps a session token in a 0600 file; later commands use it without a password
assert_exit 0 env -u CARILLON_USER CARILLON_PASSWORD=agent-pass-1 carillonctl login helene
session="$CARILLON_CONFIG_DIR/session"
[ -f "$session" ] || fail "no session file at $session"
assert_eq "600" "$(stat -c %a "$session")"
grep -q 'agent-pass-1' "$session" && fail "the session file holds the password"
assert_exit 0 env -u CARILLON_USER -u CARILLON_PASSWORD carillonctl whoami
assert_contains "$OUT" "login: helene"
assert_exit 0 env -u CARILLON_USER -u CARILLON_PASSWORD carillonctl logout
[ -f "$session" ] && fail "logout left the session file"
assert_eq "0" "$(psql -Atc "select count(*) from sessions s join users u on u.id=s.user_id where u.login='helene'")"

# passwd: admin resets; the user then logs in with the new password only
assert_exit 0 carillonctl user passwd helene --password-stdin <<<'agent-pass-2'
assert_exit 1 env CARILLON_USER=helene CARILLON_PASSWORD=agent-pass-1 carillonctl whoami
assert_exit 0 env CARILLON_USER=helene CARILLON_PASSWORD=agent-pass-2 carillonctl whoami

# disable: refused at login with its own message, listed as disabled, enable restores
assert_exit 0 carillonctl user disable helene
assert_exit 1 env CARILLON_USER=helene CARILLON_PASSWORD=agent-pass-2 carillonctl whoami
assert_contains "$ERR" "PERMISSION_DENIED"
assert_contains "$ERR" "disabled"
assert_exit 0 carillonctl user list
assert_not_contains "$OUT" "helene"
assert_exit 0 carillonctl user list --all
assert_contains "$OUT" "helene"
assert_exit 0 carillonctl user enable helene
assert_exit 0 env CARILLON_USER=helene CARILLON_PASSWORD=agent-pass-2 carillonctl whoami
# a saved session revoked by the disable says so, and the stale file is dropped
assert_exit 0 env -u CARILLON_USER CARILLON_PASSWORD=agent-pass-2 carillonctl login helene
mkdir -p -m 700 "$CARILLON_STACK_DIR/admin-ctl"
assert_exit 0 env CARILLON_CONFIG_DIR="$CARILLON_STACK_DIR/admin-ctl" carillonctl user disable helene
assert_exit 0 env CARILLON_CONFIG_DIR="$CARILLON_STACK_DIR/admin-ctl" carillonctl user enable helene
assert_exit 1 env -u CARILLON_USER -u CARILLON_PASSWORD carillonctl whoami
assert_contains "$ERR" "session expired or unknown: log in again: the saved session was removed"
[ -f "$CARILLON_CONFIG_DIR/session" ] && fail "the refused session file was kept"

# rate limit: after 5 failures for one login even the right password is refused for a while
for i in 1 2 3 4 5; do
    assert_exit 1 env CARILLON_USER=marc CARILLON_PASSWORD=nope-nope-$i carillonctl whoami
    assert_contains "$ERR" "UNAUTHENTICATED"
done
assert_exit 1 env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl whoami
assert_contains "$ERR" "RESOURCE_EXHAUSTED"
assert_contains "$ERR" "too many failed logins for 'marc'"
# other logins are not locked by marc's failures
assert_exit 0 carillonctl whoami
wait_for_log "$CARILLON_STACK_DIR/server.log" "login_locked login=\"marc\""

# restart: users and their passwords survive, migrations are not applied twice
kill -TERM "$(cat "$CARILLON_STACK_DIR/server.pid")"
wait_for_exit "$(cat "$CARILLON_STACK_DIR/server.pid")" 20
cr_server_start
assert_exit 0 env CARILLON_USER=helene CARILLON_PASSWORD=agent-pass-2 carillonctl whoami
assert_exit 0 carillonctl user list
assert_contains "$OUT" "Marc Lefèvre"
assert_eq "$(ls "$CARILLON_SOURCE_DIR"/server/db/migrations/*.sql | wc -l)" "$(psql -Atc "select count(*) from schema_migrations")"
assert_eq "2" "$(grep -c 'migrations_done' "$CARILLON_STACK_DIR/server.log")"
grep -q 'migrations_done applied=0' "$CARILLON_STACK_DIR/server.log" || fail "restart re-applied migrations"

# PostgreSQL restarts under a running server: it reconnects and serves on
tests/lib/pg.sh restart "$CARILLON_STACK_DIR/pg"
assert_exit 0 carillonctl whoami
assert_contains "$OUT" "login: admin"
wait_for_log "$CARILLON_STACK_DIR/server.log" "pg_disconnected"

# per-address limit, keyed by address and login: failures spread over many logins from one
# address (an office behind NAT) never lock the address out; admin still logs in from it
for i in $(seq 1 25); do
    assert_exit 1 env CARILLON_USER="nobody$i" CARILLON_PASSWORD=nope-nope carillonctl whoami
    assert_contains "$ERR" "wrong login or password"
done
assert_exit 0 carillonctl whoami
assert_contains "$OUT" "login: admin"
grep -q 'address_locked' "$CARILLON_STACK_DIR/server.log" && fail "an address was locked out"
echo "PASS protocol_login"
