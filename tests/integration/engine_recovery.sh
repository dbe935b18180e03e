#!/usr/bin/env bash
# The engine when a part fails mid-campaign, with real processes (server, dialerd, SIPp trunk and
# softphones, cr-agents playing agentd):
#   A. the dialer's link drops and comes back within dialer_grace (same boot): its calls go on,
#      their events are replayed and stored once, nothing is lost;
#   B. the dialer is killed and restarted (new boot) after the grace: its open attempts close as
#      lost (no try counted) and are retried; the agents' phone legs are opened on the new one;
#   C. the server is killed mid-call and restarted: the dialer resumes with what was stored, the
#      call that was talking closes (nobody can qualify it) and is retried, the agents log in again
#      and the old legs are closed;
# and the campaign still ends with every contact in the state its number's fate says (no_answer
# allows two tries: the call cut by the server's crash closes answered without a qualification,
# which counts as a no_answer try, and is called again).
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

dl_setup engine-recovery
trunk_port=$(free_port)
sipp -sf "$CARILLON_SOURCE_DIR/tests/sipp/engine_trunk.xml" -i 127.0.0.1 -p "$trunk_port" \
    -mp "$(free_port 3)" -nostdin -timeout 300s >"$dir/trunk.out" 2>&1 &
trunk_pid=$!
pids+=("$trunk_pid")
agent_args=()
for i in 1 2; do
    sink=$(free_port)
    cr-rtp-sink --listen "127.0.0.1:$sink" --timeout 300 >"$dir/sink$i.out" 2>&1 &
    pids+=($!)
    # a leg per dialer boot and per login: up to four calls
    start_trunk "phone$i" softphone_autoanswer.xml 4 -set sink "$sink"
    agent_args+=(--agent "agent$i:agent-pass-$i:sip:agent$i@127.0.0.1:${port[phone$i]}:Reprise")
done
dl_trunks_ready
for _ in $(seq 1 200); do
    ss -Hlun "sport = :$trunk_port" | grep -q . && break
    pid_alive "$trunk_pid" || fail "the SIPp trunk did not start"
    sleep 0.05
done
trunk_uri="sip:127.0.0.1:$trunk_port"
STACK_DIALER_KEYS="max_calls = 50\nabandon_after = 5s" cr_stack_up --dialer --trunk "$trunk_uri"
log=$CARILLON_STACK_DIR/server.log
printf '[engine]\ndialer_grace = 3s\nagent_grace = 5s\n' >>"$CARILLON_STACK_DIR/server.conf"
kill -HUP "$(cat "$CARILLON_STACK_DIR/server.pid")"
wait_for_log "$log" ' reloaded ' 10
"$CARILLON_SOURCE_DIR/deploy/pki.sh" node "$CARILLON_STACK_DIR/pki" agentd agentd1 >/dev/null
for i in 1 2; do
    carillonctl user add "agent$i" --role agent --password-stdin <<<"agent-pass-$i" >/dev/null ||
        fail "user add agent$i"
done
engine_campaign_yaml 'Reprise' 2 agent1 agent2 >"$dir/campaign.yaml"
assert_exit 0 carillonctl apply -f "$dir/campaign.yaml"
{
    echo 'Nom;Tel1'
    for i in $(seq 1 30); do printf 'Noël-%d;+3362%07d\n' "$i" "$i"; done
} >"$dir/contacts.csv"
assert_exit 0 carillonctl list import "$dir/contacts.csv" --campaign Reprise --name l \
    --map 'Nom=last_name,Tel1=phone1'
assert_exit 0 carillonctl campaign state Reprise ready
assert_exit 0 carillonctl campaign state Reprise running

agents_run=0
start_agents() {
    agents_run=$((agents_run + 1))
    cr-agents --server "$CARILLON_SERVER" --ca "$CARILLON_STACK_DIR/pki/ca.pem" \
        --cert "$CARILLON_STACK_DIR/pki/agentd1.pem" --key "$CARILLON_STACK_DIR/pki/agentd1.key" \
        --node agentd1 --timeout 200 --qualify VENTE --wrapup-ms 200 --duration 180 \
        "${agent_args[@]}" </dev/null >"$dir/agents$agents_run.out" 2>&1 &
    agents_pid=$!
    pids+=("$agents_pid")
}
# q SQL: one value; until_sql SQL TIMEOUT: until SQL says t
q() { psql -Atc "$1"; }
until_sql() {
    local start=$SECONDS
    until [ "$(q "$1")" = t ]; do
        [ $((SECONDS - start)) -lt "$2" ] || fail "not true after $2 s: $1"
        sleep 0.1
    done
}
start_agents
wait_for_log "$dir/agents1.out" '^state agent=agent2 state=ready' 30

# A. the link drops within the grace: a ringing call (a number ending in 8) goes on
until_sql "select count(*) > 0 from attempts where closed_at is null and ringing_at is not null
    and right(number, 1) = '8'" 30
lport=$(ss -Htnp state established "dport = :${CARILLON_SERVER##*:}" |
    awk '/carillon-dialer/ {split($3, a, ":"); print a[2]; exit}')
[ -n "$lport" ] || fail "no dialer link found"
ss -K state established "sport = :$lport" "dport = :${CARILLON_SERVER##*:}" >/dev/null
wait_for_log "$log" 'dialer_lost node=dialer1' 10
wait_for_count "$log" 'dialer_resumed node=dialer1' 2 15
assert_eq 0 "$(q "select count(*) from attempts where outcome = 'lost'")"
[ "$(grep -o 'dialer_connected node=dialer1 [^ ]* boot=[0-9]*' "$log" | awk '{print $4}' | sort -u | wc -l)" = 1 ] ||
    fail "the dialer's boot changed on a link drop"

# B. the dialer is killed while calls ring, and comes back (a new boot) after the grace
until_sql "select count(*) > 0 from attempts where closed_at is null and ringing_at is not null" 30
kill -KILL "$(cat "$CARILLON_STACK_DIR/dialerd.pid")"
wait_for_log "$log" 'dialer_grace_over node=dialer1' 15
until_sql "select count(*) > 0 from attempts where outcome = 'lost' and not counted" 10
wait_for_log "$log" 'campaign_idle campaign="?Reprise"? reason="?no dialer connected' 10
"$CARILLON_SOURCE_DIR/tests/lib/stack.sh" up "$CARILLON_STACK_DIR" --dialer --trunk "$trunk_uri" \
    >/dev/null || fail "dialerd did not start again"
# the agents' legs come back on the new dialer
until_sql "select count(*) = 2 from agent_sessions where logged_out_at is null
    and state in ('ready', 'on_call', 'wrap_up')" 30
[ "$(grep -c 'agent_leg_open agent=agent1' "$log")" -ge 2 ] || fail "agent1's leg was not opened again"

# C. the server is killed while an agent talks to a customer, then started again
until_sql "select count(*) > 0 from attempts where closed_at is null and bridged_at is not null
    and answered_at is not null" 40
kill -KILL "$(cat "$CARILLON_STACK_DIR/server.pid")"
wait "$agents_pid" 2>/dev/null || true # cr-agents: link lost
cr_server_start
wait_for_log "$log" 'agent_sessions_closed sessions=2' 10
start_agents
wait_for_log "$dir/agents2.out" '^state agent=agent2 state=ready' 30

wait_for_log "$log" 'campaign_finished campaign="?Reprise"? reason="every contact is done"' 120
assert_eq 0 "$(q "select count(*) from attempts where closed_at is null")"
assert_eq 0 "$(q "select count(*) from attempts where outcome = 'lost' and counted")"
bad=$(q "select c.id || ' ' || a.number || ' ' || c.state from contacts c
    join addresses a on a.contact_id = c.id
    where not case right(a.number, 1)
        when '6' then c.state = 'failed' when '7' then c.state = 'failed'
        when '8' then c.state = 'shelved' when '9' then c.state = 'failed'
        else c.state = 'done' and c.last_qualification = 'VENTE' end")
[ -z "$bad" ] || fail "contacts whose end does not follow from their number: $bad"
# events were stored once each: no (boot, seq) twice, and the replay after the drop added none
assert_eq 0 "$(q "select count(*) from (select boot_id, seq from dialer_events
    group by 1, 2 having count(*) > 1) x")"
