#!/usr/bin/env bash
# carillon-server's configuration: bad files are refused at start with file, line and key;
# SIGHUP reloads all or nothing; a second server on the same pid file is refused.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
conf="$CARILLON_STACK_DIR/server.conf"
log="$CARILLON_STACK_DIR/server.log"
work=$(mktemp -d)
trap_add "rm -rf '$work'"

# the public holidays the compliance profiles need are filled at start: this year and the next two
wait_for_log "$log" 'holidays_filled profile=FR added=[0-9]+' 20
year=$(date -u +%Y)
assert_eq "Bastille Day" "$(psql -Atc "select name from public_holidays where profile = 'FR' and region = '' and day = '$year-07-14'")"
assert_eq 1 "$(psql -Atc "select count(*) from public_holidays where profile = 'FR' and region = '' and day = '$((year + 2))-12-25'")"

# unknown key: exit 2, names file, line and key
{ cat "$conf"; printf '[server]\nlisten_backlog = 12\n'; } > "$work/unknown.conf"
line=$(grep -n listen_backlog "$work/unknown.conf" | cut -d: -f1)
assert_exit 2 carillon-server --config "$work/unknown.conf"
assert_contains "$ERR" "$work/unknown.conf:$line"
assert_contains "$ERR" "listen_backlog"
assert_contains "$ERR" "unknown key"

# bad value
sed 's/^scrypt_log_n *=.*/scrypt_log_n = lots/' "$conf" > "$work/bad.conf"
line=$(grep -n '^scrypt_log_n' "$work/bad.conf" | cut -d: -f1)
assert_exit 2 carillon-server --config "$work/bad.conf"
assert_contains "$ERR" "$work/bad.conf:$line"
assert_contains "$ERR" "scrypt_log_n"

# pause reasons: words, each once
printf '\n[agents]\npause_reasons = break, Coffee Break\n' | cat "$conf" - > "$work/pause.conf"
assert_exit 2 carillon-server --config "$work/pause.conf"
assert_contains "$ERR" "pause_reasons"
assert_contains "$ERR" "got 'Coffee Break'"
printf '\n[agents]\npause_reasons = break, lunch, break\n' | cat "$conf" - > "$work/pause2.conf"
assert_exit 2 carillon-server --config "$work/pause2.conf"
assert_contains "$ERR" "'break' is listed twice"

# bad listen address, missing file
sed 's/^listen *=.*/listen = nowhere/' "$conf" > "$work/listen.conf"
assert_exit 2 carillon-server --config "$work/listen.conf"
assert_contains "$ERR" "listen"
assert_exit 2 carillon-server --config "$work/none.conf"
assert_contains "$ERR" "$work/none.conf"
assert_exit 2 carillon-server
assert_contains "$ERR" "--config"

# the example config documents every key and loads once the required paths are filled in
assert_exit 0 carillon-server --example-config
assert_contains "$OUT" "login_max_failures"
assert_contains "$OUT" "conninfo"

# SIGHUP: a good change applies (log level debug shows debug events), a non-reloadable change
# is reported, a bad file keeps the running config
pid=$(cat "$CARILLON_STACK_DIR/server.pid")
cp "$conf" "$work/orig.conf"
sed -i 's/^level *=.*/level = debug/' "$conf"
kill -HUP "$pid"
wait_for_log "$log" "reloaded"
sed -i 's/^node_name *=.*/node_name = renamed/' "$conf"
kill -HUP "$pid"
wait_for_log "$log" "restart_needed_for=.*node_name"
echo 'nonsense line without equals' >> "$conf"
kill -HUP "$pid"
wait_for_log "$log" "reload_failed"
assert_exit 0 carillonctl ping
assert_contains "$OUT" "pong from server1"
cp "$work/orig.conf" "$conf"
kill -0 "$pid" || fail "server died during reloads"

# a second server with the same pid file is refused while the first runs
assert_exit 1 carillon-server --config "$conf"
assert_contains "$ERR" "pid file"

# --init-admin refuses a weak password and creates nothing
assert_exit 1 carillon-server --config "$conf" --init-admin boss <<<'short'
assert_contains "$ERR" "at least 8"
assert_eq "0" "$(psql -Atc "select count(*) from users where login='boss'")"
assert_exit 0 carillon-server --config "$conf" --init-admin boss <<<'a-long-enough-one'
assert_contains "$OUT" "admin boss ready"
assert_eq "admin" "$(psql -Atc "select role from users where login='boss'")"
echo "PASS config_server"
