#!/usr/bin/env bash
# The supervisors' view of the engine without a dialer: contacts, attempts, callbacks and the
# abandon ledger are written with psql to known figures, then carillonctl campaign stats (text
# and --json), top and compliance report must show exactly those figures; a supervisor without
# the view right and an agent are refused.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
cr_stack_up
C='Stats fibre'
add_user() { assert_exit 0 carillonctl user add "$1" --role "$2" --password-stdin <<<"$3"; }
add_user helene agent agent-pass-1
add_user marc supervisor superv-pass-1
add_user vera supervisor viewer-pass-1
dir=$(mktemp -d /tmp/carillon-stats-XXXXXX)
trap_add "rm -rf '$dir'"
cat >"$dir/campaign.yaml" <<YAML
name: '$C'
time_zone: 'Europe/Paris'
compliance: fr
dialing:
  mode: progressive
  call_order: customer_first
  number_for_agents: '+33140000000'
  number_for_customers: '+33180000000'
qualification_mode: manual
qualification_group: 'relance'
schedule:
$(for d in monday tuesday wednesday thursday friday saturday sunday; do
    printf -- "- day: %s\n  start: '00:00'\n  end: '24:00'\n" "$d"
done)
qualifications:
- {code: 'VENTE', name: 'Vente conclue', type: positive, final: true, groups: ['relance']}
- {code: 'RAP', name: 'Rappel', type: misc, final: false, callback: manual, callback_max_days: 30,
   groups: ['relance']}
- {code: 'REFUS', name: 'Refus', type: negative, final: true, refusal: true, groups: ['relance']}
agents: ['helene']
YAML
assert_exit 0 carillonctl apply -f "$dir/campaign.yaml"
assert_exit 0 carillonctl grant vera "$C" view
{
    echo 'Nom;Prénom;Tel1'
    for i in $(seq 1 10); do printf 'Lefèvre-%d;Zoé;+336120000%02d\n' "$i" "$i"; done
} >"$dir/contacts.csv"
assert_exit 0 carillonctl list import "$dir/contacts.csv" --campaign "$C" --name mars \
    --map 'Nom=last_name,Prénom=first_name,Tel1=phone1'

# Contact n (1..10) of the campaign, by import order.
cid="(select id from contacts where campaign_id = (select id from campaigns where name = '$C')
      order by id offset \$1 - 1 limit 1)"
sql() { psql -v ON_ERROR_STOP=1 -Atqc "$1" >/dev/null || fail "psql: $1"; }
contact() { # N STATE INTERVIEW [CALLBACK]
    sql "update contacts set state = '$2', interview = '$3', callback = ${4:-false}
         where id = ${cid//\$1/$1}"
}
contact 1 done finished
contact 2 done finished
contact 3 failed finished
contact 4 waiting to_call_back true
contact 5 waiting to_call_back true
contact 6 running started
contact 7 shelved cancelled
sql "insert into callbacks (campaign_id, contact_id, due_at)
     select campaign_id, id, now() - interval '1 hour' from contacts where id = ${cid//\$1/4}"
sql "insert into callbacks (campaign_id, contact_id, due_at)
     select campaign_id, id, now() + interval '1 day' from contacts where id = ${cid//\$1/5}"
attempt() { # CONTACT AGE OUTCOME COUNTED ANSWERED [QUALIFICATION REFUSAL]
    sql "insert into attempts (campaign_id, contact_id, address_id, number, created_at,
             answered_at, ended_at, closed_at, outcome, counted, qualification, qualified_at,
             refusal)
         select c.campaign_id, c.id, a.id, a.number, now() - interval '$2',
             case when $5 then now() - interval '$2' end, now() - interval '$2',
             now() - interval '$2', '$3', $4, ${6:-null},
             case when ${6:-null} is not null then now() - interval '$2' end, ${7:-false}
           from contacts c join addresses a on a.contact_id = c.id where c.id = ${cid//\$1/$1}"
}
# today: 4 dialled, 3 answered; one lost order that never went out
attempt 1 '1 minute' answered true true "'VENTE'"
attempt 2 '1 minute' answered true true "'VENTE'"
attempt 3 '1 minute' busy true false
attempt 4 '1 minute' answered true true "'RAP'"
attempt 8 '1 minute' lost false false
# the 30 days: 7 more dialled, 2 more answered; contact 7's number at FR's cap of 4, contact 3's
# number refused 20 days ago (in its 60-day quiet period)
attempt 9 '10 days' no_answer true false
attempt 10 '10 days' abandoned true true
for _ in 1 2 3 4; do attempt 7 '5 days' no_answer true false; done
attempt 3 '20 days' answered true true "'REFUS'" true
# outside the 30 days
attempt 9 '40 days' busy true false
today="(now() at time zone 'Europe/Paris')::date"
sql "insert into abandon_ledger (campaign_id, day, answered, abandoned)
     select id, $today, 40, 1 from campaigns where name = '$C'
     union all select id, $today - 10, 10, 2 from campaigns where name = '$C'
     union all select id, $today - 40, 100, 50 from campaigns where name = '$C'"

# --- campaign stats, as a viewer -----------------------------------------------------------
vera() { env CARILLON_USER=vera CARILLON_PASSWORD=viewer-pass-1 carillonctl "$@"; }
assert_exit 0 vera campaign stats "$C"
text=$OUT
line() { grep -E "^  $1 +$2( |\$)" <<<"$text" >/dev/null || fail "no line '$1 ... $2' in:
$text"; }
line 'to call' 3
line 'to call back' 2
line 'started' 1
line 'finished' 3
line 'cancelled' 1
line 'suspended' 0
grep -E '^Contacts +10$' <<<"$text" >/dev/null || fail "contacts total: $text"
line 'waiting' 5
line 'running \(in progress\)' 1
line 'done' 2
line 'failed' 1
line 'shelved' 1
line 'due now' 1
line 'open' 2
line 'answered' 4
line 'no_answer' 5
line 'busy' 2
line 'abandoned' 1
line 'lost' 1
line 'VENTE' 2
line 'RAP' 1
line 'REFUS' 1
line 'dialled' '4 +11'
line 'answer rate' '75.0 % +45.5 %'
line 'answered by a person' '40 +50'
line 'abandon rate' '2.5 % +6.0 %'
assert_contains "$text" "Campaign $C: draft, progressive"
# (the time in the viewer's zone, written after it; the days counted are the campaign's)
grep -E "^  at [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} [A-Za-z0-9+-]+ \\(the campaign's days: Europe/Paris\\)$" \
    <<<"$text" >/dev/null || fail "no local time with its zone in: $text"
assert_contains "$text" "not running on this server"

assert_exit 0 vera --json campaign stats "$C"
j=$OUT
check() { [ "$(jq -r "$1" <<<"$j")" = true ] || fail "jq '$1' is not true on: $j"; }
check '.interview == {to_call: 3, to_call_back: 2, started: 1, finished: 3, cancelled: 1, suspended: 0}'
check '.contacts.total == 10 and .contacts.waiting == 5 and .in_progress == 1'
check '.callbacks_due == 1 and .callbacks_open == 2'
check '.next_callback_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}$")'
check '.at | test("T[0-9:]{8}[+-][0-9]{2}:[0-9]{2}$")'
check '.today == {dialled: 4, answered: 3, answer_rate_pct: 75, answered_by_person: 40, abandoned: 1, abandon_rate_pct: 2.5}'
check '.last_30_days.dialled == 11 and .last_30_days.answered == 5 and .last_30_days.abandon_rate_pct == 6'
check '[.attempts_by_outcome[] | {(.key): .count}] | add == {no_answer: 5, answered: 4, busy: 2, abandoned: 1, lost: 1}'
check '[.attempts_by_qualification[] | {(.key): .count}] | add == {VENTE: 2, RAP: 1, REFUS: 1}'
check '.state == "draft" and .mode == "progressive" and .abandon_target_pct == 3'
check '.live.loaded == false and (.live.agents.total | type) == "number"'

# --- compliance report ----------------------------------------------------------------------
assert_exit 0 vera compliance report "$C" --days 3
text=$OUT
assert_contains "$text" "profile fr"
grep -E '^  last day .* +40 +1 +2\.5 %   no legal limit$' <<<"$text" >/dev/null || fail "day: $text"
grep -E '^  last 30 days .* +50 +3 +6\.0 %   no legal limit$' <<<"$text" >/dev/null ||
    fail "30 days: $text"
grep -E '^  at the cap of attempts +1$' <<<"$text" >/dev/null || fail "FR cap: $text"
grep -E '^  in the quiet period after a refusal +1$' <<<"$text" >/dev/null || fail "FR quiet: $text"
assert_exit 0 vera --json compliance report "$C" --days 3
j=$OUT
check '.profile == "fr" and (.days | length) == 3 and .days[0].answered == 40 and .days[1].answered == 0'
check '.fr_numbers_at_attempt_cap == 1 and .fr_numbers_in_refusal_quiet == 1 and .fr_max_attempts == 4'
check '.last_day.within_limit == true and .last_day.limited == false'
# US: 3 % over 30 days, 6.0 % is over; UK: 3 % per day, 2.5 % is within
assert_exit 0 carillonctl campaign set "$C" compliance us
assert_exit 0 vera --json compliance report "$C"
j=$OUT
check '.profile == "us" and (.days | length) == 30 and .last_30_days == {from_day: .days[29].day, to_day: .days[0].day, answered: 50, abandoned: 3, abandon_rate_pct: 6, limited: true, limit_pct: 3, within_limit: false}'
check '.last_day.limited == false and .fr_numbers_at_attempt_cap == 0'
assert_exit 0 vera compliance report "$C"
assert_contains "$OUT" "limit 3 %: OVER THE LIMIT"
assert_exit 0 carillonctl campaign set "$C" compliance uk
assert_exit 0 vera --json compliance report "$C"
j=$OUT
check '.last_day.limited and .last_day.within_limit and .last_day.limit_pct == 3'
check '.last_30_days.limited == false'

# --- refusals ------------------------------------------------------------------------------
for cmd in "campaign stats" "compliance report"; do
    # shellcheck disable=SC2086
    assert_exit 1 env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl $cmd "$C"
    assert_contains "$ERR" "PERMISSION_DENIED"
    # shellcheck disable=SC2086
    assert_exit 1 env CARILLON_USER=helene CARILLON_PASSWORD=agent-pass-1 carillonctl $cmd "$C"
    assert_contains "$ERR" "PERMISSION_DENIED"
done
assert_exit 1 vera campaign stats 'Nulle part'
assert_contains "$ERR" "NOT_FOUND"
assert_exit 2 vera compliance report "$C" --days 0

# --- top: the running campaigns a user may view ---------------------------------------------
assert_exit 0 env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl top --once
assert_contains "$OUT" "(no running campaign you may view)"
assert_exit 0 carillonctl campaign state "$C" ready
assert_exit 0 carillonctl campaign state "$C" running
wait_for_log "$CARILLON_STACK_DIR/server.log" "campaign_idle campaign=\"?$C\"?" 20
assert_exit 0 vera top --once
assert_contains "$OUT" "CAMPAIGN"
grep -E "^$C +progressive +0 +0 +0 +0 +0 +3 +2 +75\.0 +2\.5  .+" <<<"$OUT" >/dev/null ||
    fail "top line: $OUT"
assert_exit 0 vera --json top
j=$OUT
check '(.campaigns | length) == 1 and .campaigns[0].live.loaded and .campaigns[0].live.idle_reason != ""'
# refreshed each second until interrupted: two screens, then SIGINT ends it cleanly (no tty:
# no clear-screen codes)
env CARILLON_USER=vera CARILLON_PASSWORD=viewer-pass-1 carillonctl top >"$dir/top.out" 2>&1 &
top_pid=$!
trap_add "kill $top_pid 2>/dev/null || true"
for _ in $(seq 1 100); do
    [ "$(grep -c '^CAMPAIGN' "$dir/top.out")" -ge 2 ] && break
    sleep 0.05
done
kill -INT "$top_pid"
wait "$top_pid" || fail "top exited $? after SIGINT"
[ "$(grep -c '^CAMPAIGN' "$dir/top.out")" -ge 2 ] || fail "top did not refresh: $(cat "$dir/top.out")"
if grep -q $'\033' "$dir/top.out"; then fail "top wrote escape codes to a file"; fi
echo "engine_stats: ok"
