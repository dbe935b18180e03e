#!/usr/bin/env bash
# Automatic qualification (qualification_mode automatic, campaign_auto_qualifications): a
# campaign through every real part (carillon-dialerd, the SIPp trunk whose number's last digit is
# the call's fate, cr-agents playing agentd) whose table gives answered calls VENTE (final),
# busy ones OCC (not final: the busy rule still retries) and unanswered ones NRP (final: the
# contact is done at once); invalid numbers have no entry and behave as before. The agent never
# qualifies and never goes through wrap-up: it is ready again as soon as each call ends.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

C='Relance automatique'
dl_setup engine-autoqual
start_engine_trunk
agent_phone 1
dl_trunks_ready

STACK_DIALER_KEYS="max_calls = 20\nmax_cps = 50\nabandon_after = 5s" \
    cr_stack_up --dialer --trunk "sip:127.0.0.1:$trunk_port"
carillonctl user add agent1 --role agent --name 'Agent Émile' --password-stdin \
    <<<"agent-pass-1" >/dev/null || fail "user add agent1"
{
    cat <<EOF
name: '$C'
time_zone: 'Europe/Paris'
dialing: {mode: progressive, call_order: customer_first, max_simultaneous_calls: 5,
          ring_timeout_s: 5, abandon_after_ms: 5000}
outcomes:
  busy: {retry_delay_s: 0, max_attempts: 2, after_last: failed}
  no_answer: {retry_delay_s: 0, max_attempts: 3, after_last: shelved}
  trunk_failure: {retry_delay_s: 0, max_attempts: 2, after_last: failed}
stop: {when_all_done: true}
qualification_mode: automatic
wrapup_max_s: 0
qualifications:
- {code: 'VENTE', name: 'Vente', type: positive, final: true}
- {code: 'OCC', name: 'Occupé', type: misc, final: false}
- {code: 'NRP', name: 'Ne répond pas', type: negative, final: true}
auto_qualifications:
- {outcome: 'answered', code: 'VENTE'}
- {outcome: 'busy', code: 'OCC'}
- {outcome: 'no_answer', code: 'NRP'}
agents: ['agent1']
schedule:
EOF
    for d in monday tuesday wednesday thursday friday saturday sunday; do
        printf -- "- {day: %s, start: '00:00', end: '24:00'}\n" "$d"
    done
} >"$dir/campaign.yaml"
assert_exit 0 carillonctl apply -f "$dir/campaign.yaml"
# answered (1, 2, 3), busy (6), no answer (8), not a number (9)
{
    echo 'Nom;Tel1'
    for n in 1 2 3 6 8 9; do printf 'Lefèvre-%d;+3361000000%d\n' "$n" "$n"; done
} >"$dir/contacts.csv"
assert_exit 0 carillonctl list import "$dir/contacts.csv" --campaign "$C" --name 'mars' \
    --map 'Nom=last_name,Tel1=phone1'
assert_contains "$OUT" "6 imported"
assert_exit 0 carillonctl campaign state "$C" ready
assert_exit 0 carillonctl campaign state "$C" running
wait_for_log "$CARILLON_STACK_DIR/server.log" 'campaign_idle campaign="?Relance automatique"? reason="?no agent ready' 20

# the agent never qualifies (no --qualify): without the automatic qualification it would stay
# in wrap-up (wrapup_max_s 0: unlimited) and the campaign would never finish
start_cr_agents --timeout 80 \
    --agent "agent1:agent-pass-1:sip:agent1@127.0.0.1:${port[phone_1]}:$C"
wait_for_log "$dir/agents.out" '^state agent=agent1 state=ready' 30
wait_for_log "$CARILLON_STACK_DIR/server.log" 'campaign_finished campaign="?Relance automatique"? reason="every contact is done"' 60
echo quit >&3
wait "$agents_pid" || { tail -20 "$dir/agents.out" >&2; fail "cr-agents did not log out cleanly"; }

# each contact: state, tries, last qualification; each attempt: outcome and code
contacts=$(psql -Atc "select right(a.number, 1) || ':' || c.state || ':' || c.attempts || ':' ||
    coalesce(c.last_qualification, '-') from contacts c join addresses a on a.contact_id = c.id
    order by a.number" | tr '\n' ' ')
assert_eq "1:done:1:VENTE 2:done:1:VENTE 3:done:1:VENTE 6:failed:2:OCC 8:done:1:NRP 9:failed:1:- " "$contacts"
attempts=$(psql -Atc "select right(number, 1) || ':' || outcome || ':' ||
    coalesce(qualification, '-') || ':' || (qualified_by is null) from attempts
    order by number, id" | tr '\n' ' ')
assert_eq "1:answered:VENTE:true 2:answered:VENTE:true 3:answered:VENTE:true 6:busy:OCC:true 6:busy:OCC:true 8:no_answer:NRP:true 9:invalid_number:-:true " "$attempts"
assert_eq 0 "$(psql -Atc "select count(*) from attempts where closed_at is null or
    (qualification is not null and qualified_at is null)")"
assert_eq 3 "$(psql -Atc "select count(*) from attempts where outcome = 'answered'
    and bridged_at is not null and talk_ms > 0")"
# the agent talked three times, qualified nothing, never went through wrap-up, and was ready
# again after every call
out=$(cat "$dir/agents.out")
assert_eq 3 "$(grep -c '^ended agent=agent1 .*outcome=answered' <<<"$out" || true)"
assert_not_contains "$out" "qualified agent="
assert_not_contains "$out" "state=wrap_up"
assert_eq 0 "$(psql -Atc "select count(*) from agent_states where state = 'wrap_up'")"
[ "$(grep -c '^state agent=agent1 state=ready' <<<"$out" || true)" -ge 4 ] ||
    fail "agent1 was not ready again after each call: $(grep '^state ' <<<"$out" | tr '\n' ' ')"
assert_contains "$(cat "$CARILLON_STACK_DIR/server.log")" "auto_qualified campaign="
# the ledger counted the answered calls
assert_eq "3 0" "$(psql -Atc "select sum(answered) || ' ' || sum(abandoned) from abandon_ledger")"
echo "engine_autoqual: ok"
