#!/usr/bin/env bash
# carillon-agentd and carillon-agent --script through every real part: the stack with a dialer
# and an agentd, a SIPp softphone, a user made with carillonctl. Login reaches ready; a wrong
# password is a clear error; a TLS client that never logs in is closed after login_timeout;
# max_clients refuses one more; kill -9 of the agentd in use: the client comes back through a
# second agentd with its token and is resumed.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

dl_setup agents-agentd
start_engine_trunk
agent_phone 1
dl_trunks_ready
STACK_AGENTD_KEYS="login_timeout = 3s\nmax_clients = 3" \
    cr_stack_up --dialer --agentd --trunk "sip:127.0.0.1:$trunk_port"
carillonctl user add agent1 --role agent --name "Agent 1" --password-stdin <<<"agent-pass-1" \
    >/dev/null || fail "user add agent1"
engine_campaign_yaml 'Agentd' 1 agent1 >"$dir/campaign.yaml"
assert_exit 0 carillonctl apply -f "$dir/campaign.yaml"
assert_exit 0 carillonctl campaign state 'Agentd' ready
log1=$CARILLON_STACK_DIR/agentd.log
a2=$("$CARILLON_SOURCE_DIR/tests/lib/stack.sh" agentd "$CARILLON_STACK_DIR" agentd2) ||
    fail "second agentd did not start"

# wrong password: a clear error, exit 1
out=$(CARILLON_PASSWORD=wrong timeout 20 carillon-agent --script --login agent1 \
    --softphone "sip:agent1@127.0.0.1:${port[phone_1]}" </dev/null) && rc=0 || rc=$?
assert_eq 1 "$rc"
assert_contains "$out" '"state":"login_failed"'

# login through agentd1 (agentd2 second in the list) reaches ready
mkfifo "$dir/agent.in"
CARILLON_PASSWORD=agent-pass-1 carillon-agent --script --login agent1 \
    --agentd "$CARILLON_AGENTD,$a2" --softphone "sip:agent1@127.0.0.1:${port[phone_1]}" \
    <"$dir/agent.in" >"$dir/agent.out" 2>"$dir/agent.err" &
agent_pid=$!
pids+=("$agent_pid")
exec 3>"$dir/agent.in"
wait_for_log "$dir/agent.out" '"event":"agent_login_ok"' 20
wait_for_log "$dir/agent.out" '"event":"agent_state_changed".*"state":"(agent_state_)?ready"' 30
wait_for_log "$log1" 'client_logged_in client=[0-9]+ session=[0-9]+ login="?agent1"?' 5

# a bad command line is an error event, not a crash
echo '{"cmd":"fly"}' >&3
echo 'not json' >&3
wait_for_log "$dir/agent.out" '"event":"error","message":"not a JSON object' 5
wait_for_log "$dir/agent.out" '"event":"error","message":"unknown cmd' 5

# TLS clients that never log in: max_clients (3) refuses the third, login_timeout closes the rest
host=${CARILLON_AGENTD%:*}
aport=${CARILLON_AGENTD##*:}
for i in 1 2 3; do
    sleep 300 | openssl s_client -connect "$host:$aport" -tls1_3 -quiet -CAfile "$CARILLON_CA" \
        >"$dir/idle$i.out" 2>&1 &
    pids+=($!)
    wait_for_log "$log1" "client_(connected|refused) client=$((i + 2))" 10
done
wait_for_log "$log1" 'client_refused client=5 .*max_clients=3' 5
wait_for_log "$log1" 'client_login_timeout client=3 ' 10
wait_for_log "$log1" 'client_login_timeout client=4 ' 10

# kill -9 of agentd1: the client resumes through agentd2 with its token
kill -KILL "$(cat "$CARILLON_STACK_DIR/agentd-agentd1.pid")"
wait_for_log "$CARILLON_STACK_DIR/agentd2.log" 'client_logged_in .*login="?agent1"? resumed=1' 30
wait_for_log "$CARILLON_STACK_DIR/server.log" 'agent_resumed agent=agent1 .*agentd=agentd2' 5
wait_for_log "$dir/agent.out" '"state":"logged_in".*"reason":"resumed"' 5

# logout ends the client with 0
echo '{"cmd":"logout"}' >&3
wait_for_exit "$agent_pid" 20 || true
wait "$agent_pid" && rc=0 || rc=$?
assert_eq 0 "$rc"
assert_contains "$(cat "$dir/agent.out")" '"event":"agent_session_ended"'
echo "agents_agentd: ok"
