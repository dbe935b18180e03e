#!/usr/bin/env bash
# Two carillon-servers on one database run the same campaign, each with its own dialerd and its
# own agents: they never claim the same contact (FOR UPDATE SKIP LOCKED and the one-live-attempt
# index), both place calls, and every contact still ends as its number's fate says, with exactly
# the tries its outcome rules allow.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

dl_setup engine-twoservers
start_engine_trunk
args1=() args2=()
for i in 1 2 3 4 5 6; do
    agent_phone "$i"
    a="agent$i:agent-pass-$i:sip:agent$i@127.0.0.1:${port[phone_$i]}:Deux serveurs"
    if [ "$i" -le 3 ]; then args1+=(--agent "$a"); else args2+=(--agent "$a"); fi
done
dl_trunks_ready
STACK_DIALER_KEYS="max_calls = 100\nmax_cps = 50\nabandon_after = 5s" \
    cr_stack_up --dialer --trunk "sip:127.0.0.1:$trunk_port"
st=$CARILLON_STACK_DIR
for i in 1 2 3 4 5 6; do
    carillonctl user add "agent$i" --role agent --password-stdin <<<"agent-pass-$i" >/dev/null ||
        fail "user add agent$i"
done
engine_campaign_yaml 'Deux serveurs' 1 agent1 agent2 agent3 agent4 agent5 agent6 >"$dir/campaign.yaml"
assert_exit 0 carillonctl apply -f "$dir/campaign.yaml"
{
    echo 'Nom;Tel1'
    for i in $(seq 1 60); do printf 'Noël-%d;+3363%07d\n' "$i" "$i"; done
} >"$dir/contacts.csv"
assert_exit 0 carillonctl list import "$dir/contacts.csv" --campaign 'Deux serveurs' --name l \
    --map 'Nom=last_name,Tel1=phone1'

# the second server: the same database, its own port and pid file
p2=$(free_port)
sed -e "s/^listen = .*/listen = 127.0.0.1:$p2/" -e 's/^node_name = .*/node_name = server2/' \
    -e "s|^pid_file = .*|pid_file = $st/server2.pid|" "$st/server.conf" >"$st/server2.conf"
carillon-server --config "$st/server2.conf" >"$st/server2.log" 2>&1 &
server2=$!
pids+=("$server2")
wait_for_log "$st/server2.log" ' ready ' 30
# its dialer
"$CARILLON_SOURCE_DIR/deploy/pki.sh" node "$st/pki" dialer dialer2 >/dev/null
rtp=$(sed -n 's/^rtp_port_min = //p' "$st/dialerd.conf")
rtp2=$((rtp >= 15000 ? rtp - 2000 : rtp + 2000))
sed -e 's/^node_name = .*/node_name = dialer2/' -e "s/^sip_port = .*/sip_port = $(free_port)/" \
    -e "s/^rtp_port_min = .*/rtp_port_min = $rtp2/" -e "s/^rtp_port_max = .*/rtp_port_max = $((rtp2 + 199))/" \
    -e "s/^address = .*/address = 127.0.0.1:$p2/" -e 's/dialer1\./dialer2./g' \
    "$st/dialerd.conf" >"$st/dialerd2.conf"
carillon-dialerd --config "$st/dialerd2.conf" >"$st/dialerd2.log" 2>&1 &
pids+=($!)
wait_for_log "$st/server2.log" 'dialer_resumed node=dialer2' 30

"$CARILLON_SOURCE_DIR/deploy/pki.sh" node "$st/pki" agentd agentd1 >/dev/null
mkfifo "$dir/a1.in" "$dir/a2.in"
exec 3<>"$dir/a1.in" 4<>"$dir/a2.in"
run_agents() { # N SERVER ARGS...
    local n=$1 server=$2
    shift 2
    cr-agents --server "$server" --ca "$st/pki/ca.pem" --cert "$st/pki/agentd1.pem" \
        --key "$st/pki/agentd1.key" --node "agentd$n" --timeout 200 --qualify VENTE --wrapup-ms 50 \
        "$@" <"$dir/a$n.in" >"$dir/agents$n.out" 2>&1 &
    pids+=($!)
    eval "agents$n=\$!"
}
assert_exit 0 carillonctl campaign state 'Deux serveurs' ready
run_agents 1 "$CARILLON_SERVER" "${args1[@]}"
run_agents 2 "127.0.0.1:$p2" "${args2[@]}"
wait_for_log "$dir/agents1.out" '^state agent=agent1 state=ready' 30
wait_for_log "$dir/agents2.out" '^state agent=agent4 state=ready' 30
assert_exit 0 carillonctl campaign state 'Deux serveurs' running

start=$SECONDS
until [ "$(psql -Atc "select state from campaigns where name = 'Deux serveurs'")" = finished ]; do
    [ $((SECONDS - start)) -lt 150 ] || fail "the campaign did not finish"
    sleep 0.2
done
echo quit >&3
echo quit >&4
# shellcheck disable=SC2154 # set by run_agents
wait "$agents1" || fail "cr-agents 1 did not log out cleanly"
# shellcheck disable=SC2154 # set by run_agents
wait "$agents2" || fail "cr-agents 2 did not log out cleanly"

fates_followed 'Deux serveurs'
assert_eq 0 "$(psql -Atc "select count(*) from attempts where closed_at is null")"
# both servers dialled, each through its own dialer, with its own agents
assert_eq "dialer1 dialer2" "$(psql -Atc "select string_agg(distinct dialer_node, ' '
    order by dialer_node) from attempts where counted")"
grep -q 'call_bridged campaign="Deux serveurs"' "$st/server.log" || fail "server 1 bridged no call"
grep -q 'call_bridged campaign="Deux serveurs"' "$st/server2.log" || fail "server 2 bridged no call"
# no claim ever met the other's (a second live attempt would have failed its whole claim)
! grep -hE 'claim_failed|store_error' "$st/server.log" "$st/server2.log" ||
    fail "a claim failed on one of the servers"
kill -TERM "$server2"
wait "$server2" || fail "server 2 did not stop cleanly on SIGTERM"
! grep -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: ' "$st/server2.log" ||
    fail "sanitizer report in server2.log"
