#!/usr/bin/env bash
# A whole progressive campaign through every real part: carillonctl sets it up and runs it, the
# server claims the contacts and sends the orders, carillon-dialerd calls a SIPp trunk (the last
# digit of a number is its fate: tests/sipp/engine_trunk.xml) and bridges who answers to the
# agents (cr-agents plays agentd, SIPp plays their softphones), the agents qualify, and the
# campaign finishes by itself when every contact is done. Each contact's final state, attempts
# and qualification are checked against what the trunk did.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

AGENTS=${ENGINE_AGENTS:-10}
CONTACTS=${ENGINE_CONTACTS:-200}
dl_setup engine-campaign # $dir, port claims, process cleanup
# a tenth of the ACKs to the trunk's 200 OKs are lost on the way (start_engine_trunk): the trunk sends
# its 200 again and dialerd acknowledges it again; no call stays up for want of an ACK
start_engine_trunk 10
# the agents' softphones
agent_args=()
for i in $(seq 1 "$AGENTS"); do
    agent_phone "$i"
    agent_args+=(--agent "agent$i:agent-pass-$i:sip:agent$i@127.0.0.1:${port[phone_$i]}:Relance fibre")
done
dl_trunks_ready

STACK_DIALER_KEYS="max_calls = 200\nmax_cps = 50\nabandon_after = 5s" \
    cr_stack_up --dialer --trunk "sip:127.0.0.1:$trunk_port"
for i in $(seq 1 "$AGENTS"); do
    carillonctl user add "agent$i" --role agent --name "Agent n°$i" --password-stdin \
        <<<"agent-pass-$i" >/dev/null || fail "user add agent$i"
done
agents_yaml=$(seq -s, 1 "$AGENTS" | sed "s/\([0-9]\+\)/'agent\1'/g")
cat >"$dir/campaign.yaml" <<EOF
name: 'Relance fibre'
time_zone: 'Europe/Paris'
dialing:
  mode: progressive
  call_order: customer_first
  number_for_agents: '+33140000000'
  number_for_customers: '+33180000000'
  max_simultaneous_calls: 50
  ring_timeout_s: 5
  abandon_after_ms: 5000
outcomes:
  busy: {retry_delay_s: 0, max_attempts: 2, after_last: failed}
  no_answer: {retry_delay_s: 0, max_attempts: 1, after_last: shelved}
  trunk_failure: {retry_delay_s: 0, max_attempts: 2, after_last: failed}
  abandoned: {retry_delay_s: 0, max_attempts: 3, after_last: failed}
stop:
  when_all_done: true
qualification_mode: manual
qualification_group: 'relance'
popup_fields: ['last_name', 'first_name', 'city']
schedule:
$(for d in monday tuesday wednesday thursday friday saturday sunday; do
    printf -- "- day: %s\n  start: '00:00'\n  end: '24:00'\n" "$d"
done)
qualifications:
- {code: 'VENTE', name: 'Vente conclue', type: positive, final: true, groups: ['relance']}
- {code: 'RAP', name: 'Rappel', type: misc, final: false, callback: manual, callback_max_days: 30,
   groups: ['relance']}
agents: [$agents_yaml]
EOF
assert_exit 0 carillonctl apply -f "$dir/campaign.yaml"
# contacts: the number's last digit is its fate (engine_trunk.xml); French names round-trip
{
    echo 'Nom;Prénom;Tel1;Ville'
    for i in $(seq 1 "$CONTACTS"); do
        printf 'Lefèvre-%d;Zoé;+3361%07d;Créteil\n' "$i" "$i"
    done
} >"$dir/contacts.csv"
assert_exit 0 carillonctl list import "$dir/contacts.csv" --campaign 'Relance fibre' --name 'mars' \
    --map 'Nom=last_name,Prénom=first_name,Tel1=phone1,Ville=city'
assert_contains "$OUT" "$CONTACTS imported"
# one more contact, whose only number is blacklisted: never called, and it does not keep the
# campaign from finishing (nothing left to call), nor count in campaign list's TO CALL
assert_exit 0 carillonctl blacklist add --campaign 'Relance fibre' --reason 'opposition' +33619999990
assert_exit 0 carillonctl contact add --campaign 'Relance fibre' --list mars --phone +33619999990 --field last_name=Bloqué
assert_exit 0 carillonctl --json campaign list
assert_eq "$CONTACTS" "$(jq -r '.campaigns[] | select(.name == "Relance fibre") | .to_call' <<<"$OUT")"
assert_exit 0 carillonctl campaign state 'Relance fibre' ready
assert_exit 0 carillonctl campaign state 'Relance fibre' running
wait_for_log "$CARILLON_STACK_DIR/server.log" 'campaign_idle campaign="?Relance fibre"? reason="?no agent ready' 20

# the agents: qualify every answered call VENTE after a short wrap-up
answered=$(psql -Atc "select count(*) from contacts c join addresses a on a.contact_id = c.id
    where c.campaign_id = (select id from campaigns where name = 'Relance fibre')
    and right(a.number, 1) between '0' and '5' and a.state <> 'blocked'")
# stdin: a fifo held open here, so that "quit" ends them once the campaign is over (busy
# numbers are retried after the last answered call is qualified, and need agents too)
start_cr_agents --timeout 240 --qualify VENTE --wrapup-ms 50 "${agent_args[@]}"
wait_for_log "$dir/agents.out" '^state agent=agent1 state=ready' 30
(wait_for_log "$CARILLON_STACK_DIR/server.log" 'campaign_finished campaign="?Relance fibre"? reason="every contact is done"' 180) || {
    # what keeps the campaign running: the contacts not done, their numbers and attempts
    psql -c "select c.id, c.state, c.attempts, c.next_try, c.agent_id, c.callback, a.number,
        a.state as number_state, (select count(*) from blacklist b where b.number = a.number)
        as blacklisted from contacts c join addresses a on a.contact_id = c.id
        where c.state in ('waiting', 'running') order by c.id" >&2
    psql -c "select x.id, x.contact_id, x.number, x.outcome, x.counted, x.created_at, x.sent_at,
        x.answered_at, x.bridged_at, x.ended_at, x.agent_id, x.qualification,
        x.closed_at, x.detail from attempts x join contacts c on c.id = x.contact_id
        where c.state in ('waiting', 'running') order by x.id" >&2
    tail -5 "$dir/agents.out" >&2
    { echo "--- trunk.err (tail)"; tail -20 "$dir/trunk.err"; echo "--- server.log (warnings)"
      grep -E " (WARN|ERROR) " "$CARILLON_STACK_DIR/server.log" | tail -20; echo "--- dialerd.log (warnings)"
      grep -E ' (WARN|ERROR) ' "$CARILLON_STACK_DIR/dialerd.log" | tail -20; } >&2 2>/dev/null || true
    fail "the campaign did not finish"
}
echo quit >&3
wait "$agents_pid" || { tail -20 "$dir/agents.out" >&2; fail "cr-agents did not log out cleanly"; }
qualified=$(grep -c '^qualified ' "$dir/agents.out" || true)
[ "$qualified" = "$answered" ] || {
    psql -c "select id, contact_id, number, outcome, qualification, talk_ms, bridged_at is not null
        as bridged from attempts where right(number, 1) between '0' and '5'
        and (qualification is null or outcome <> 'answered')" >&2
    grep -vE '^(state|connected|ended|qualified) ' "$dir/agents.out" | tail -20 >&2
    fail "cr-agents qualified $qualified calls, $answered numbers answer"
}
assert_eq finished "$(psql -Atc "select state from campaigns where name = 'Relance fibre'")"
assert_eq "waiting 0 blocked" "$(psql -Atc "select c.state || ' ' || c.attempts || ' ' || a.state
    from contacts c join addresses a on a.contact_id = c.id where a.number = '+33619999990'")"
assert_exit 0 carillonctl --json campaign list
assert_eq 0 "$(jq -r '.campaigns[] | select(.name == "Relance fibre") | .to_call' <<<"$OUT")"

# every contact's end follows from its number's fate
fates_followed 'Relance fibre'
# ACKs were lost on the way (start_engine_trunk 10: about one in ten), and every call still ended
[ "$(grep -c 'UDP message lost (recv)' "$dir/trunk_msgs.log")" -ge 1 ] ||
    fail "the trunk lost no ACK: the lost-ACK path went untested"
# one attempt row per INVITE the trunk received, each with the trunk's outcome
invites=$(grep -c '^INVITE sip:' "$dir/trunk_msgs.log" || true)
assert_eq "$invites" "$(psql -Atc "select count(*) from attempts where counted")"
assert_eq 0 "$(psql -Atc "select count(*) from attempts where closed_at is null")"
talked=$(psql -Atc "select count(*) from attempts where outcome = 'answered'
    and qualification = 'VENTE' and bridged_at is not null and talk_ms > 0")
[ "$talked" = "$answered" ] || {
    psql -c "select id, contact_id, outcome, qualification, talk_ms, bridged_at, detail
        from attempts where qualification is not null and not coalesce(outcome = 'answered'
        and qualification = 'VENTE' and bridged_at is not null and talk_ms > 0, false)" >&2
    fail "$talked answered, qualified and bridged attempts, $answered expected"
}
assert_eq 0 "$(psql -Atc "select count(*) from attempts where outcome = 'abandoned'")"
# the agents' every state change is stored with its time; the pop-up carried the names
assert_contains "$(cat "$dir/agents.out")" 'fields="last_name=Lefèvre-'
[ "$(psql -Atc "select count(distinct state) from agent_states")" -ge 4 ] ||
    fail "agent_states holds too few states: $(psql -Atc "select string_agg(distinct state, ',') from agent_states")"
assert_eq 0 "$(psql -Atc "select count(*) from agent_sessions where logged_out_at is null")"
# the ledger counted every answered call, none abandoned
assert_eq "$answered 0" "$(psql -Atc "select sum(answered) || ' ' || sum(abandoned) from abandon_ledger")"
