#!/usr/bin/env bash
# Agent legs speak of the agent and the softphone (issue 13): an agent who hangs up, a softphone
# nobody listens for (ICMP port unreachable: a transport error) and one that answers 488 are each
# reported lost with a detail that says so, in the AgentLegEvent and in dialerd's log, never as
# a customer's hang-up or a trunk's failure.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

dl_setup dialer-media-agent
start_trunk hangup softphone_hangup.xml 1 -set sink "$(free_port)"
start_trunk refuse media_softphone_488.xml
nobody=$(free_port) # claimed, never bound
cat >"$dir/script" <<EOF
agent 7 sip:agent7@127.0.0.1:${port[hangup]}
agent 8 sip:agent8@127.0.0.1:$nobody
agent 9 sip:agent9@127.0.0.1:${port[refuse]}
waitagent 7 up
waitagent 7 lost
waitagent 8 lost
waitagent 9 lost
EOF
INJ_TIMEOUT=40 start_injector
start_dialerd "${port[hangup]}" "max_calls = 4"
injector_ok
out=$(cat "$dir/injector.out")
echo "$out" | grep '^agent_event'
assert_contains "$out" 'agent_event agent=7 state=lost sip_status=200 '
assert_contains "$(grep '^agent_event agent=7 state=lost' <<<"$out")" \
    'detail="the agent hung up (BYE from the softphone)"'
assert_contains "$(grep '^agent_event agent=8 state=lost' <<<"$out")" \
    "detail=\"transport error towards the agent's softphone (unreachable?)\""
assert_contains "$(grep '^agent_event agent=9 state=lost' <<<"$out")" \
    'sip_status=488 call_id='
assert_contains "$(grep '^agent_event agent=9 state=lost' <<<"$out")" \
    "detail=\"the agent's softphone refused the call: 488 Not Acceptable Here\""
# nothing about customers or the trunk, in the events or in the agent legs' log lines
assert_not_contains "$(grep '^agent_event' <<<"$out")" "customer"
assert_not_contains "$(grep '^agent_event' <<<"$out")" "trunk"
wait_for_log "$dir/dialerd.log" 'agent_hung_up agent=7 ' 1
wait_for_log "$dir/dialerd.log" 'agent_leg_ended agent=7 .*hung_up_by=agent ' 1
wait_for_log "$dir/dialerd.log" 'agent_leg_ended agent=8 .*sip_status=503 ' 1
wait_for_log "$dir/dialerd.log" 'agent_leg_ended agent=9 .*sip_status=488 ' 1
agent_logs=$(grep -E 'agent=[789]( |$)' "$dir/dialerd.log")
assert_not_contains "$agent_logs" "customer"
assert_not_contains "$agent_logs" "trunk"
assert_not_contains "$agent_logs" "call_ended"
for t in hangup refuse; do trunk_ok "$t"; done
stop_dialerd
echo "PASS dialer_media_agent"
