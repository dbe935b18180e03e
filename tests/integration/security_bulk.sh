#!/usr/bin/env bash
# Bulk transfers (file imports and streamed exports) and their limits: concurrent transfers per
# user and server-wide refused with the limit named, an idle import rolled back with its backend
# freed, a server killed mid-import leaves nothing of it, exports stream whole values (> 5,000
# bytes), equal the database (1,200 contacts, accented names) and leave no file when refused.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
F='Fibre Île-de-France 2027'
d="$CARILLON_STACK_DIR/files"
mkdir -p "$d"
assert_exit 0 carillonctl user add marc --role supervisor --name 'Marc Lefèvre' --password-stdin <<<'superv-pass-1'
assert_exit 0 carillonctl user add helene --role agent --password-stdin <<<'agent-pass-1'
assert_exit 0 carillonctl user add vera --role supervisor --password-stdin <<<'viewer-pass-1'
assert_exit 0 carillonctl apply -f "$CARILLON_SOURCE_DIR/deploy/examples/campaign-fibre.yaml"
assert_exit 0 carillonctl grant marc "$F" view,edit,export
assert_exit 0 carillonctl grant vera "$F" view

# Test limits: two transfers per user, three on the server, idle after 8 s (then 2 s below).
reload() {
    local n
    n=$(grep -c ' reloaded ' "$CARILLON_STACK_DIR/server.log" || true)
    kill -HUP "$(cat "$CARILLON_STACK_DIR/server.pid")"
    until [ "$(grep -c ' reloaded ' "$CARILLON_STACK_DIR/server.log" || true)" -gt "$n" ]; do sleep 0.05; done
}
# idle_timeout long enough for the holders below on a loaded machine (logins take seconds there)
printf '\n[bulk]\nmax_concurrent = 3\nmax_per_user = 2\nidle_timeout = 60s\n' >> "$CARILLON_STACK_DIR/server.conf"
reload

probe() { cr-probe --server "$CARILLON_SERVER" --ca "$CARILLON_CA" hello supervisor "$@"; }
# Backends inside a transaction: an import holds one from its start to its commit or rollback.
in_tx() { psql -Atc "select count(*) from pg_stat_activity where state like 'idle in transaction%' or query like 'COPY stage%' and state = 'active'"; }
# hold NAME USER PASSWORD LIST: an import left open in the background, its output in $d/NAME.out
holders=()
hold() {
    # cr-probe itself in the background (not the probe function: its subshell would survive a kill)
    cr-probe --server "$CARILLON_SERVER" --ca "$CARILLON_CA" hello supervisor login "$2" "$3" \
        send import_begin "campaign=$F" "list=$4" mapping=phone1 expect-close >"$d/$1.out" 2>&1 &
    holders+=($!)
    wait_for_log "$d/$1.out" 'reply body=ok'
}
trap_add 'for p in "${holders[@]}"; do kill "$p" 2>/dev/null || true; done'

hold m1 marc superv-pass-1 held1
hold m2 marc superv-pass-1 held2
out=$(probe login marc superv-pass-1 send import_begin "campaign=$F" list=held3 mapping=phone1)
assert_contains "$out" "error code=RESOURCE_EXHAUSTED"
assert_contains "$out" "bulk.max_per_user = 2"
# an export counts too (shared counters), and carillonctl says so with exit 1, leaving no file
assert_exit 1 env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl contact export --campaign "$F" -o "$d/limited.csv"
assert_contains "$ERR" "bulk.max_per_user"
[ ! -e "$d/limited.csv" ] || fail "a refused export left $d/limited.csv"
hold a1 admin "$CARILLON_PASSWORD" held4
out=$(probe login admin "$CARILLON_PASSWORD" send export_begin "campaign=$F")
assert_contains "$out" "error code=RESOURCE_EXHAUSTED"
assert_contains "$out" "bulk.max_concurrent = 3"
assert_eq 3 "$(in_tx)"
assert_contains "$(grep import_refused "$CARILLON_STACK_DIR/server.log")" 'user="marc"'
# the holders go away: their imports roll back, their backends end, a new import is admitted
for p in "${holders[@]}"; do kill "$p" 2>/dev/null || true; done
start=$SECONDS
until [ "$(in_tx)" = 0 ]; do
    [ $((SECONDS - start)) -lt 20 ] || fail "import backends still in a transaction: $(psql -Atc 'select state, query from pg_stat_activity')"
    sleep 0.05
done
assert_eq 0 "$(psql -Atc "select count(*) from lists where name like 'held%'")"
assert_eq 3 "$(grep -c import_abandoned "$CARILLON_STACK_DIR/server.log")"

# An idle import (nothing after ImportBegin) is rolled back after bulk.idle_timeout: the client
# is told why, the list it created is gone, and so is its backend.
sed -i 's/^idle_timeout = 60s$/idle_timeout = 2s/' "$CARILLON_STACK_DIR/server.conf"
reload
cr-probe --server "$CARILLON_SERVER" --ca "$CARILLON_CA" hello supervisor login marc superv-pass-1 \
    send import_begin "campaign=$F" list=idle mapping=phone1 expect-close >"$d/idle.out" 2>&1 &
idle_pid=$!
wait_for_log "$d/idle.out" 'reply body=ok'
assert_eq 1 "$(in_tx)"
wait_for_log "$d/idle.out" 'error code=DEADLINE_EXCEEDED' 10
wait "$idle_pid" || true
assert_contains "$(cat "$d/idle.out")" "bulk.idle_timeout"
assert_contains "$(grep import_idle "$CARILLON_STACK_DIR/server.log")" 'user="marc"'
start=$SECONDS
until [ "$(in_tx)" = 0 ]; do
    [ $((SECONDS - start)) -lt 10 ] || fail "the idle import's backend is still there"
    sleep 0.05
done
assert_eq 0 "$(psql -Atc "select count(*) from lists where name = 'idle'")"

# kill -9 of the server in the middle of a 200,000-row import: nothing of it stays (idle_timeout
# long again: on a loaded machine the client may pause for over 2 s between batches).
sed -i 's/^idle_timeout = 2s$/idle_timeout = 60s/' "$CARILLON_STACK_DIR/server.conf"
reload
awk 'BEGIN { print "Nom;Prénom;Tel1"; for (i = 1; i <= 200000; i++) printf "Kill%d;Zoé;06%08d\n", i, i }' >"$d/big.csv"
carillonctl --timeout 600 list import "$d/big.csv" --campaign "$F" --name killed --map 'Nom=last_name,Prénom=first_name,Tel1=phone1' >"$d/killed.out" 2>&1 &
import_pid=$!
start=$SECONDS
until [ "$(psql -Atc "select count(*) from pg_stat_activity where query like 'COPY stage%'")" -gt 0 ]; do
    [ $((SECONDS - start)) -lt 30 ] || fail "the import never staged rows: $(cat "$d/killed.out")"
    sleep 0.02
done
kill -9 "$(cat "$CARILLON_STACK_DIR/server.pid")"
rc=0
wait "$import_pid" || rc=$?
assert_eq 3 "$rc" # the connection went away: carillonctl's connection failure
start=$SECONDS
until [ "$(psql -Atc "select count(*) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()")" = 0 ]; do
    [ $((SECONDS - start)) -lt 20 ] || fail "the killed server's backends are still there"
    sleep 0.05
done
assert_eq 0 "$(psql -Atc "select count(*) from contacts where last_name like 'Kill%'")"
assert_eq 0 "$(psql -Atc "select count(*) from lists where name = 'killed'")"
cr_server_start

# Exports: 1,200 contacts with accented names, one value of 6,000 bytes, one longer one that a
# spreadsheet would read as a formula.
awk 'BEGIN { print "Nom;Prénom;Tel1;Ville"; for (i = 1; i <= 1200; i++) printf "Lefèvre%d;Hélène;01%08d;Saint-Étienne\n", i, i }' >"$d/exp.csv"
assert_exit 0 carillonctl list import "$d/exp.csv" --campaign "$F" --name exp --map 'Nom=last_name,Prénom=first_name,Tel1=phone1,Ville=city'
assert_contains "$OUT" "1200 imported"
psql -qc "update contacts set company = repeat('é', 3000) where last_name = 'Lefèvre7'"
psql -qc "update contacts set address = '=' || repeat('A', 5500) where last_name = 'Lefèvre8'"
marc() { env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl "$@"; }
assert_exit 0 marc contact export --campaign "$F" -o "$d/all.csv"
assert_contains "$OUT" "1200 contacts exported"
assert_eq 1201 "$(wc -l <"$d/all.csv")"
# the same ids and names as the database, in order
sed '1d; s/\r$//' "$d/all.csv" | cut -d';' -f1,4,5 >"$d/all.ids"
psql -AtF';' -c "select id, last_name, first_name from contacts where campaign_id = (select id from campaigns where name = '$F') order by id" >"$d/db.ids"
cmp -s "$d/all.ids" "$d/db.ids" || fail "export differs from the database: $(diff "$d/all.ids" "$d/db.ids" | head -5)"
assert_contains "$(grep '^[0-9]*;exp;[a-z]*;Lefèvre1;' "$d/all.csv")" "Hélène"
# whole values: 6,000 bytes of é, and a formula-like value of 5,501 bytes (CSV and XLSX)
assert_eq 3000 "$(grep ';Lefèvre7;' "$d/all.csv" | cut -d';' -f7 | tr -d '\n' | wc -m)"
assert_eq 5500 "$(grep ';Lefèvre8;' "$d/all.csv" | grep -o 'A*' | awk '{ if (length($0) > m) m = length($0) } END { print m }')"
assert_exit 0 marc contact export --campaign "$F" --filter "last_name like 'lefèvre8'" -o "$d/one.xlsx"
assert_contains "$OUT" "1 contact exported"
# (in XLSX a string cell is never a formula: the value is written as it is, no apostrophe)
assert_eq 5500 "$(unzip -p "$d/one.xlsx" xl/worksheets/sheet1.xml | grep -o ">=A*" | awk '{ print length($0) - 2 }')"
# chosen columns and a filter
assert_exit 0 marc contact export --campaign "$F" --columns id,city --filter "city = 'Saint-Étienne' and last_name like 'lefèvre1%'" -o "$d/some.csv"
assert_eq "$(psql -Atc "select count(*) from contacts where last_name like 'Lefèvre1%'")" "$(sed 1d "$d/some.csv" | grep -c ';Saint-Étienne')"
# a saved filter by its name
assert_exit 0 marc filter save stephanois "city = 'Saint-Étienne' and last_name like 'lefèvre1%'"
assert_exit 0 marc contact export --campaign "$F" --columns id,city --filter @stephanois -o "$d/saved.csv"
assert_eq "$(cat "$d/some.csv")" "$(cat "$d/saved.csv")"
assert_exit 1 marc contact export --campaign "$F" --filter @nope -o "$d/refused-saved.csv"
assert_contains "$ERR" "no saved filter named 'nope'"
[ ! -e "$d/refused-saved.csv" ] || fail "a refused export left a file"

# refused (no export right; unknown campaign): exit 1 and no file, not even a temporary one
assert_exit 1 env CARILLON_USER=vera CARILLON_PASSWORD=viewer-pass-1 carillonctl contact export --campaign "$F" -o "$d/refused.csv"
assert_contains "$ERR" "PERMISSION_DENIED"
assert_exit 1 marc contact export --campaign 'Nope' -o "$d/refused.xlsx"
assert_exit 1 marc contact export --campaign "$F" --columns id,nope -o "$d/refused.csv"
assert_contains "$ERR" "unknown column 'nope'"
[ -z "$(find "$d" -name '*refused*')" ] || fail "a refused export left $(find "$d" -name '*refused*')"
assert_exit 2 marc contact export --campaign "$F"
# an export whose client takes nothing (no ExportNext) ends after bulk.idle_timeout (2 s here),
# its read-only transaction with it
sed -i 's/^idle_timeout = 60s$/idle_timeout = 2s/' "$CARILLON_STACK_DIR/server.conf"
reload
out=$(cr-probe --server "$CARILLON_SERVER" --ca "$CARILLON_CA" hello supervisor login marc superv-pass-1 \
    send export_begin "campaign=$F" expect-close expect-close expect-close)
assert_contains "$out" "reply body=export_chunk"
assert_contains "$out" "error code=DEADLINE_EXCEEDED"
assert_contains "$out" "bulk.idle_timeout"
# no transfer left running: no backend in a transaction
start=$SECONDS
until [ "$(in_tx)" = 0 ]; do
    [ $((SECONDS - start)) -lt 10 ] || fail "a backend is still in a transaction: $(psql -Atc 'select state, query from pg_stat_activity')"
    sleep 0.05
done

# A long export with a tight bound on requests in flight: its chunks (one request's answers) and
# ExportNext (answered by nothing) must not leave requests counted in flight, or the server
# stops reading the client and the stream stalls until the idle timeout.
printf '\n[limits]\nmax_requests_in_flight = 2\n' >>"$CARILLON_STACK_DIR/server.conf"
reload
psql -qc "update contacts set company = repeat('x', 2000) where last_name like 'Lefèvre%'"
assert_exit 0 marc contact export --campaign "$F" -o "$d/long.csv"
assert_contains "$OUT" "1200 contacts exported"
[ "$(grep -c 'export_done.*chunks=' "$CARILLON_STACK_DIR/server.log")" -gt 0 ] || fail "no export_done"
chunks=$(grep 'export_done' "$CARILLON_STACK_DIR/server.log" | tail -1 | sed 's/.*chunks=\([0-9]*\).*/\1/')
[ "$chunks" -ge 8 ] || fail "the long export took $chunks chunks, expected at least 8"
assert_eq 0 "$(grep -c 'DEADLINE_EXCEEDED\|idle' <<<"$OUT$ERR")"
