#!/usr/bin/env bash
# campaign list: the progress column says what it counts (positives reached / positive target),
# the contacts still to call (waiting, scheduled callbacks included) and the callbacks among them
# stand beside it, counted by the server; --json has real types.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
ex="$CARILLON_SOURCE_DIR/deploy/examples"
fibre='Fibre Île-de-France 2027'
survey='Enquête satisfaction Lyon'
assert_exit 0 carillonctl user add helene --role agent --name 'Hélène Dupré' --password-stdin <<<'agent-pass-1'
assert_exit 0 carillonctl user add marc --role supervisor --name 'Marc Lefèvre' --password-stdin <<<'superv-pass-1'
assert_exit 0 carillonctl apply -f "$ex/campaign-fibre.yaml"
assert_exit 0 carillonctl apply -f "$ex/campaign-survey.yaml"
assert_exit 0 carillonctl login

# Five contacts: one reached positively (done), one a scheduled callback, one set aside, two waiting.
for n in '06 12 34 56 01' '06 12 34 56 02' '06 12 34 56 03' '06 12 34 56 04' '06 12 34 56 05'; do
    assert_exit 0 carillonctl contact add --campaign "$fibre" --phone "$n"
done
ids=($(psql -Atc "select id from contacts order by id"))
psql -qAtc "update contacts set state = 'done' where id = ${ids[0]}"
psql -qAtc "insert into attempts (campaign_id, contact_id, number, created_at, qualification)
            select campaign_id, id, '+33612345601', now(), 'OK' from contacts where id = ${ids[0]}"
psql -qAtc "update contacts set callback = true, next_try = now() + interval '1 day' where id = ${ids[1]}"
assert_exit 0 carillonctl contact shelve --campaign "$fibre" --id "${ids[2]}"
assert_eq "shelved" "$(psql -Atc "select state from contacts where id = ${ids[2]}")"

assert_exit 0 carillonctl campaign list
assert_contains "$OUT" "POSITIVES/TARGET  TO CALL  CALLBACKS"
line=$(grep -F "$fibre" <<<"$OUT")
[[ "$line" =~ 1/500\ +3\ +1\  ]] || fail "expected 1/500, 3 to call, 1 callback in: $line"
line=$(grep -F "$survey" <<<"$OUT")
[[ "$line" =~ 0/-\ +0\ +0\  ]] || fail "expected nothing to call in: $line"
assert_contains "$OUT" "(2 campaigns)"

assert_exit 0 carillonctl campaign list --json
assert_eq 1 "$(jq -s 'length' <<<"$OUT")"
c=$(jq -c --arg n "$fibre" '.campaigns[] | select(.name == $n)' <<<"$OUT")
assert_eq "1 500 3 1 2027" "$(jq -r '"\(.positives) \(.positive_target) \(.to_call) \(.callbacks) \(.year)"' <<<"$c")"
assert_eq "number number number number number number string array" \
    "$(jq -r '[.positives, .positive_target, .to_call, .callbacks, .year, .agents, .state, .contract_types] | map(type) | join(" ")' <<<"$c")"
assert_eq "2" "$(jq '.total' <<<"$OUT")"
assert_exit 2 carillonctl campaign list --year deux
assert_contains "$ERR" "--year takes a year"
