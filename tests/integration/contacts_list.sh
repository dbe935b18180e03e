#!/usr/bin/env bash
# Contact listings as people and scripts read them: sorting on the server (callbacks by date,
# descending keys, NULLs last, stable ties, unknown columns named), the documented columns
# (contact columns) all listable, address type and state filterable and selectable, typed JSON,
# times in the viewer's zone whatever the contact's zone, counted words, and blacklist list.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
ex="$CARILLON_SOURCE_DIR/deploy/examples"
F='Fibre Île-de-France 2027'
export TZ=Europe/Paris
assert_exit 0 carillonctl user add helene --role agent --name 'Hélène Dupré' --password-stdin <<<'agent-pass-1'
assert_exit 0 carillonctl user add marc --role supervisor --name 'Marc Lefèvre' --password-stdin <<<'superv-pass-1'
assert_exit 0 carillonctl apply -f "$ex/campaign-fibre.yaml"
# One session for the admin's commands (each login would hash the password again); marc has his own.
assert_exit 0 carillonctl login
marc() { env CARILLON_CONFIG_DIR="$CARILLON_STACK_DIR/marc" CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl "$@"; }

# Four contacts: Paris and Réunion share a minute in their own zones; one has no next try.
add() { assert_exit 0 carillonctl contact add --campaign "$F" "$@"; }
add --phone '06 12 34 56 78' --phone '0145678910:work' --field last_name=Dupré --field 'first_name=Zoé' \
    --priority 1 --next-try '2027-03-01 09:00' --field anciennete=12
add --phone 692123456 --field last_name=Payet --priority 5 --next-try '2027-03-01 09:00' --field anciennete=3
add --phone '01 23 45 67 89:home' --field last_name=Martin --priority 5 --field anciennete=20
add --phone '06 98 76 54 32' --field last_name=Éloïse --priority 5 --next-try '2027-02-01 10:00'
id() { psql -Atc "select id from contacts where last_name='$1'"; }
dupre=$(id Dupré) payet=$(id Payet) martin=$(id Martin) eloise=$(id Éloïse)
# Two of them are callbacks (the engine sets callback with next_try when an agent asks for one).
psql -qAtc "update contacts set callback = true where id in ($payet, $eloise)"

# times: the server sends instants, carillonctl shows them in the viewer's zone, labelled
assert_exit 0 carillonctl contact list --campaign "$F" --columns id,next_try,time_zone --sort id
assert_contains "$OUT" "2027-03-01 09:00 CET"  # Dupré, 09:00 in Paris
assert_contains "$OUT" "2027-03-01 06:00 CET"  # Payet, 09:00 in Réunion (UTC+4)
assert_contains "$OUT" "Indian/Reunion"
assert_contains "$OUT" "(4 of 4 contacts)"
assert_exit 0 carillonctl --utc contact list --campaign "$F" --columns id,next_try --filter "id = $payet"
assert_contains "$OUT" "2027-03-01 05:00 UTC"
assert_contains "$OUT" "(1 of 1 contact)"
assert_exit 0 env TZ=America/New_York carillonctl contact list --campaign "$F" --columns next_try --filter "id = $dupre"
assert_contains "$OUT" "2027-03-01 03:00 EST"

# sort: callbacks by date; descending keys; NULLs last both ways; ties by id
assert_exit 0 carillonctl contact list --campaign "$F" --filter 'callback = true' --sort next_try --columns id --json
assert_eq "$eloise,$payet" "$(jq -r '[.contacts[].id] | map(tostring) | join(",")' <<<"$OUT")"
assert_exit 0 carillonctl contact list --campaign "$F" --sort next_try,-priority --columns id --json
assert_eq "$eloise,$payet,$dupre,$martin" "$(jq -r '[.contacts[].id] | map(tostring) | join(",")' <<<"$OUT")"
assert_exit 0 carillonctl contact list --campaign "$F" --sort -next_try --columns id --json
assert_eq "$dupre,$payet,$eloise,$martin" "$(jq -r '[.contacts[].id] | map(tostring) | join(",")' <<<"$OUT")"
assert_exit 0 carillonctl contact list --campaign "$F" --sort -priority --columns id --json
assert_eq "$payet,$martin,$eloise,$dupre" "$(jq -r '[.contacts[].id] | map(tostring) | join(",")' <<<"$OUT")"
assert_exit 0 carillonctl contact list --campaign "$F" --sort -anciennete --columns id --limit 2 --offset 1 --json
assert_eq "$dupre,$payet" "$(jq -r '[.contacts[].id] | map(tostring) | join(",")' <<<"$OUT")"
assert_eq "4 1 2" "$(jq -r '"\(.total) \(.offset) \(.limit)"' <<<"$OUT")"
assert_exit 1 carillonctl contact list --campaign "$F" --sort 'next_try,ville'
assert_contains "$ERR" "unknown sort column 'ville'; sortable columns: id, list, state, next_try"
assert_contains "$ERR" "anciennete, offre_actuelle"
assert_contains "$ERR" "(field: sort)"
assert_exit 1 carillonctl contact list --campaign "$F" --sort 'id; drop table contacts'
assert_contains "$ERR" "unknown sort column"
assert_exit 2 carillonctl contact list --campaign "$F" --limit 10x
assert_contains "$ERR" "--limit takes a whole number"
assert_eq "4" "$(psql -Atc "select count(*) from contacts")"

# address type and state: filterable (any of the contact's numbers) and selectable
assert_exit 0 carillonctl blacklist add --campaign "$F" --reason 'Opposition téléphonique' '01 45 67 89 10'
assert_exit 0 carillonctl contact list --campaign "$F" --filter "phone_state = 'blocked'" --columns id,phone_types,phone_states --json
assert_eq "1" "$(jq '.total' <<<"$OUT")"
assert_eq "$dupre mobile,work scheduled,blocked" "$(jq -r '.contacts[0] | "\(.id) \(.phone_types) \(.phone_states)"' <<<"$OUT")"
assert_exit 0 carillonctl contact list --campaign "$F" --filter "phone_type = 'home'" --columns last_name
assert_contains "$OUT" "Martin"
assert_contains "$OUT" "(1 of 1 contact)"
assert_exit 0 carillonctl contact list --campaign "$F" --filter "phone_type = 'mobile' and not phone_state = 'blocked'" --columns id --sort id --json
assert_eq "$payet,$eloise" "$(jq -r '[.contacts[].id] | map(tostring) | join(",")' <<<"$OUT")"

# JSON: one object; real types; numbers as {number, type, state}; times RFC 3339 with offset
assert_exit 0 carillonctl contact list --campaign "$F" --filter "id = $dupre" \
    --columns id,priority,attempts,top_priority,consent,next_try,last_update,phone,numbers,anciennete,last_name,first_name --json
assert_eq 1 "$(jq -s 'length' <<<"$OUT")"
c=$(jq -c '.contacts[0]' <<<"$OUT")
assert_eq "number number number boolean boolean" "$(jq -r '[.id, .priority, .attempts, .top_priority, .consent] | map(type) | join(" ")' <<<"$c")"
assert_eq "1 0 false true 12" "$(jq -r '[.priority, .attempts, .top_priority, .consent, .anciennete] | map(tostring) | join(" ")' <<<"$c")"
assert_eq "2027-03-01T09:00:00+01:00" "$(jq -r '.next_try' <<<"$c")"
[[ "$(jq -r '.last_update' <<<"$c")" =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}$ ]] ||
    fail "last_update is not RFC 3339 with an offset: $c"
assert_eq '[{"number":"+33612345678","type":"mobile","state":"scheduled"},{"number":"+33145678910","type":"work","state":"blocked"}]' "$(jq -c '.numbers' <<<"$c")"
assert_eq "$(jq -c '.numbers' <<<"$c")" "$(jq -c '.phone' <<<"$c")"
assert_eq "Dupré Zoé" "$(jq -r '"\(.last_name) \(.first_name)"' <<<"$c")"
assert_eq "id:integer next_try:time phone:numbers anciennete:number" \
    "$(jq -r '[.columns[] | select(.name == ("id","next_try","phone","anciennete")) | "\(.name):\(.type)"] | join(" ")' <<<"$OUT")"
assert_exit 0 carillonctl --utc contact list --campaign "$F" --filter "id = $martin" --columns next_try,numbers --json
assert_eq "null" "$(jq -c '.contacts[0].next_try' <<<"$OUT")"
assert_exit 0 carillonctl --utc contact list --campaign "$F" --filter "id = $payet" --columns next_try --json
assert_eq "2027-03-01T05:00:00Z" "$(jq -r '.contacts[0].next_try' <<<"$OUT")"

# contact columns: documented with type and meaning, declared fields included; every column it
# names as selectable is one the server lists, every filterable one compiles, every sortable sorts
assert_exit 0 carillonctl contact columns --campaign "$F"
assert_contains "$OUT" "next_try"
assert_contains "$OUT" "anciennete"
assert_contains "$OUT" "Ancienneté"
assert_contains "$OUT" "phone_state"
assert_exit 0 carillonctl contact columns --campaign "$F" --json
cols=$(jq -r '[.columns[] | select(.column) | .name] | join(",")' <<<"$OUT")
sorts=$(jq -r '[.columns[] | select(.sort) | .name] | join(",")' <<<"$OUT")
filters=$(jq -r '.columns[] | select(.filter) | .name' <<<"$OUT")
assert_eq "number" "$(jq -r '.columns[] | select(.name == "anciennete") | .type' <<<"$OUT")"
assert_exit 0 carillonctl contact list --campaign "$F" --columns "$cols" --sort "$sorts" --json
assert_eq "$cols" "$(jq -r '[.columns[].name] | join(",")' <<<"$OUT")"
while read -r f; do
    assert_exit 0 carillonctl contact list --campaign "$F" --filter "$f is null" --columns id
done <<<"$filters"

# blacklist list: the campaign's and the global list, paged, with who and when; typed JSON
assert_exit 0 carillonctl blacklist add --reason Bloctel 0690123456 0612000000 0612000001
assert_exit 0 carillonctl blacklist list --campaign "$F"
assert_contains "$OUT" "+33145678910"
assert_contains "$OUT" "Opposition téléphonique"
assert_contains "$OUT" "admin"
assert_contains "$OUT" "CET"
assert_contains "$OUT" "(1 of 1 number on the campaign's blacklist)"
assert_not_contains "$OUT" "+590690123456"
assert_exit 0 carillonctl blacklist list --limit 2 --json
assert_eq "3 2 0 2 null" "$(jq -r '"\(.total) \(.limit) \(.offset) \(.entries | length) \(.campaign)"' <<<"$OUT")"
assert_eq "+33612000000 Bloctel admin" "$(jq -r '.entries[0] | "\(.number) \(.reason) \(.added_by)"' <<<"$OUT")"
[[ "$(jq -r '.entries[0].added_at' <<<"$OUT")" =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\+0[12]:00$ ]] ||
    fail "added_at is not RFC 3339 in the viewer's zone: $OUT"
assert_exit 0 carillonctl blacklist list --offset 2
assert_contains "$OUT" "(1 of 3 numbers on the global blacklist)"
assert_exit 0 carillonctl blacklist list --number '06 12 00 00 01'
assert_contains "$OUT" "+33612000001"
assert_contains "$OUT" "(1 of 1 number"
assert_exit 2 carillonctl blacklist list --limit 1001
assert_contains "$ERR" "--limit takes a whole number from 0 to 1000"
assert_exit 1 carillonctl blacklist list --number abc
assert_contains "$ERR" "(field: number)"
# rights, decided at the route: view on the campaign; the global list is the admins'
assert_exit 1 marc blacklist list --campaign "$F"
assert_contains "$ERR" "PERMISSION_DENIED"
assert_exit 0 carillonctl grant marc "$F" view
assert_exit 0 marc blacklist list --campaign "$F" --json
assert_eq "1" "$(jq '.total' <<<"$OUT")"
assert_exit 1 marc blacklist list
assert_contains "$ERR" "PERMISSION_DENIED"
assert_exit 1 carillonctl blacklist list --campaign 'Nulle part'
assert_contains "$ERR" "NOT_FOUND"
