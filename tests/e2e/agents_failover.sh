#!/usr/bin/env bash
# kill -9 of the agentd in use during a call, through every real part (PostgreSQL, server,
# dialerd, two agentds, SIPp trunk and softphone, carillon-agent --script listing both agentds):
# the client resumes its session through the second agentd within agent_grace, the call's
# answers and qualification are then sent and stored, the next call comes through the second
# agentd, and nothing is lost: one session, both calls qualified by that agent, every contact
# done, the campaign finished.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"
# shellcheck source=tests/lib/e2e.sh
. "$CARILLON_SOURCE_DIR/tests/lib/e2e.sh"

C='Reprise à chaud'
e2e_up e2e-failover 1
a2=$("$CARILLON_SOURCE_DIR/tests/lib/stack.sh" agentd "$CARILLON_STACK_DIR" agentd2) ||
    fail "the second agentd did not start"
e2e_campaign "$C" progressive customer_first 1
e2e_import "$C" 31 2 # two answering numbers
assert_exit 0 carillonctl campaign state "$C" ready
e2e_agent 1 --agentd "$CARILLON_AGENTD,$a2"
out=$dir/a1.out
wait_for_log "$out" "\"event\":\"link\",\"state\":\"logged_in\",\"agentd\":\"$CARILLON_AGENTD\"" 30
e2e_cmd a1 '{"cmd":"ready"}'
assert_exit 0 carillonctl campaign state "$C" running

# qualify_call N: the Nth call's answers and qualification (VENTE), stored
qualify_call() {
    local x
    x=$(grep '"event":"call_connected"' "$out" | sed -n "${1}p" | jq -r .attempt_id)
    e2e_cmd a1 "{\"cmd\":\"answers\",\"attempt_id\":$x,\"answers\":[{\"export_name\":\"satisfaction\",\"values\":[\"no\"]}]}"
    poll "select count(*) from answers where attempt_id = $x" 1
    e2e_cmd a1 "{\"cmd\":\"qualify\",\"attempt_id\":$x,\"code\":\"VENTE\"}"
    poll "select qualification from attempts where id = $x" VENTE
}

# the first call connected: agentd1 dies
wait_for_count "$out" '"event":"call_connected"' 1 30
kill -KILL "$(cat "$CARILLON_STACK_DIR/agentd-agentd1.pid")"
wait_for_log "$out" "\"event\":\"link\",\"state\":\"logged_in\",\"agentd\":\"$a2\",\"reason\":\"resumed\"" 30
wait_for_log "$CARILLON_STACK_DIR/agentd2.log" 'client_logged_in .*login="?a1"? resumed=1' 5
wait_for_log "$LOG" 'agent_resumed agent=a1 .*agentd=agentd2' 5
# agentd1 died while the call went on: the server saw the agent leave before the call ended
x1=$(grep '"event":"call_connected"' "$out" | head -1 | jq -r .attempt_id)
wait_for_log "$LOG" "call_ended campaign=.* attempt=$x1 " 10
[ "$(grep -n 'agent_detached agent=a1 ' "$LOG" | head -1 | cut -d: -f1)" -lt \
    "$(grep -n "call_ended campaign=.* attempt=$x1 " "$LOG" | cut -d: -f1)" ] ||
    fail "agentd1 was not killed during the call"
qualify_call 1
# the next call comes through agentd2
wait_for_count "$out" '"event":"call_connected"' 2 30
qualify_call 2
e2e_wait_finished "$C" 30
e2e_logout a1

# nothing lost: one session for the agent, both calls answered and qualified by it, every
# contact done, no attempt left open
assert_eq 1 "$(q "select count(*) from agent_sessions where user_id = (select id from users where login = 'a1')")"
assert_eq 0 "$(q "select count(*) from agent_sessions where logged_out_at is null")"
assert_eq "2 2" "$(q "select count(*) filter (where x.outcome = 'answered' and x.qualification = 'VENTE'
    and x.qualified_by = u.id and x.agent_id = u.id) || ' ' || count(*) filter (where c.state = 'done')
    from attempts x join contacts c on c.id = x.contact_id, users u
    where u.login = 'a1' and x.campaign_id = $(camp "$C")")"
assert_eq 2 "$(q "select count(*) from attempts where campaign_id = $(camp "$C") and closed_at is not null")"
# the session ended once, at the logout
assert_eq 1 "$(grep -c '"event":"agent_session_ended"' "$out" || true)"
echo "agents_failover: ok"
