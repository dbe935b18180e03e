#!/usr/bin/env bash
# An agent who goes away in the middle of a call (customer-first, progressive) through every real
# part: its client detaches (its agentd says the desktop is gone) and does not come back within
# agent_grace (2 s here); the server ends the session and hangs the call up. Nobody is left to
# qualify the call: the server closes its attempt as answered and not qualified (the no_answer
# rule then applies: one try, shelved).
# The contact does not stay running and the campaign finishes. The trunk (SIPp,
# tests/sipp/uas_answer_hold.xml) answers and holds the call until the dialer's BYE.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

C='Départ Hélène'
dl_setup engine-agentleft
start_trunk hold uas_answer_hold.xml 1
agent_phone 1
dl_trunks_ready

STACK_DIALER_KEYS="max_calls = 20\nmax_cps = 50\nabandon_after = 5s" \
    cr_stack_up --dialer --trunk "sip:127.0.0.1:${port[hold]}"
printf '[engine]\nagent_grace = 2s\n' >>"$CARILLON_STACK_DIR/server.conf"
kill -HUP "$(cat "$CARILLON_STACK_DIR/server.pid")"
wait_for_log "$CARILLON_STACK_DIR/server.log" ' reloaded ' 10
carillonctl user add agent1 --role agent --name 'Agent Hélène' --password-stdin \
    <<<"agent-pass-1" >/dev/null || fail "user add agent1"
engine_campaign_yaml "$C" 1 agent1 >"$dir/campaign.yaml"
assert_exit 0 carillonctl apply -f "$dir/campaign.yaml"
assert_exit 0 carillonctl contact add --campaign "$C" --phone +33610000001 --field last_name=Lefèvre
assert_exit 0 carillonctl campaign state "$C" ready
assert_exit 0 carillonctl campaign state "$C" running
wait_for_log "$CARILLON_STACK_DIR/server.log" "campaign_idle campaign=\"$C\" reason=\"no agent ready" 20

start_cr_agents --timeout 60 \
    --agent "agent1:agent-pass-1:sip:agent1@127.0.0.1:${port[phone_1]}:$C"
# the trunk holds the call: the agent talks until its desktop goes away for good
wait_for_log "$dir/agents.out" '^connected agent=agent1 ' 30
echo 'detach agent1' >&3
wait_for_log "$CARILLON_STACK_DIR/server.log" 'agent_logout agent=agent1 .*reason="agent_grace ended' 20
wait_for_log "$CARILLON_STACK_DIR/server.log" "campaign_finished campaign=\"$C\" reason=\"every contact is done" 30
echo quit >&3
wait "$agents_pid" || { tail -20 "$dir/agents.out" >&2; fail "cr-agents did not end cleanly"; }
trunk_ok hold

# the attempt is closed, answered and bridged, counted, not qualified; the contact is shelved
assert_eq "answered|t|t||t" "$(psql -Atc "select outcome, counted, bridged_at is not null,
    qualification, closed_at is not null from attempts")"
assert_contains "$(psql -Atc "select detail from attempts")" "agent left"
assert_eq "shelved 1" "$(psql -Atc "select state || ' ' || attempts from contacts")"
assert_contains "$(cat "$CARILLON_STACK_DIR/server.log")" "attempt_lost attempt=1 contact_state=shelved"
echo "PASS engine_agentleft"
