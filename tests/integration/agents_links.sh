#!/usr/bin/env bash
# carillon-agentd's links under trouble, through every real part (the stack with a dialer and an
# agentd, a SIPp softphone, carillon-agent --script --auto):
#  1. a client that stops reading while agentd answers it is disconnected once its queue passes
#     max_client_queue (client_too_slow); the agent logged in at the same time keeps working;
#  2. agentd's server link is killed (ss -K) while the server stays up: agentd reconnects and
#     resumes the session (same session id, agent_resumed), a request afterwards works;
#  3. the server restarts (agent sessions are in memory only): agentd's re-announce is refused,
#     agentd tells the client its session is gone, the client logs in again with its password
#     ("new session") and --auto is ready again on a new session;
#  4. the client's own link drops while the server is down: its resume, answered UNAVAILABLE by
#     agentd, is tried again until the server is back; then a new session, ready again.
# The stalled client is openssl s_client fed a file of frames (Hello, then many requests agentd
# answers itself: "log in first") and writing to a fifo nobody reads: once the fifo is full it
# blocks and reads its socket no more, while its requests keep agentd answering.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

# lines FILE: its line count now; wait_since FILE LINES REGEX TIMEOUT: a match after that line.
lines() { wc -l <"$1" 2>/dev/null || echo 0; }
wait_since() {
    local file=$1 from=$2 regex=$3 timeout=$4 start=$SECONDS
    until tail -n +"$((from + 1))" "$file" 2>/dev/null | grep -qE -- "$regex"; do
        if [ $((SECONDS - start)) -ge "$timeout" ]; then
            echo "--- $file (tail)" >&2
            tail -20 "$file" >&2 || true
            fail "no line matching '$regex' after line $from of $file after ${timeout}s"
        fi
        sleep 0.05
    done
}
ready_re='"event":"agent_state_changed".*"state":"(agent_state_)?ready"'
paused_re='"event":"agent_state_changed".*"state":"(agent_state_)?paused"'

dl_setup agents-links
start_engine_trunk
# the softphone answers every call of every session (the restart makes a second one)
sink=$(free_port)
cr-rtp-sink --listen "127.0.0.1:$sink" --timeout 300 >"$dir/sink_1.out" 2>&1 &
pids+=($!)
start_trunk phone_1 softphone_autoanswer.xml 10 -set sink "$sink" -timeout 300s
dl_trunks_ready
STACK_AGENTD_KEYS="max_client_queue = 64K\nlogin_timeout = 60s" \
    cr_stack_up --dialer --agentd --trunk "sip:127.0.0.1:$trunk_port"
carillonctl user add agent1 --role agent --name "Agent 1" --password-stdin <<<"agent-pass-1" \
    >/dev/null || fail "user add agent1"
engine_campaign_yaml 'Links' 1 agent1 >"$dir/campaign.yaml"
assert_exit 0 carillonctl apply -f "$dir/campaign.yaml"
assert_exit 0 carillonctl campaign state 'Links' ready
alog=$CARILLON_STACK_DIR/agentd.log
slog=$CARILLON_STACK_DIR/server.log

mkfifo "$dir/agent.in"
CARILLON_PASSWORD=agent-pass-1 carillon-agent --script --auto --login agent1 \
    --softphone "sip:agent1@127.0.0.1:${port[phone_1]}" \
    <"$dir/agent.in" >"$dir/agent.out" 2>"$dir/agent.err" &
agent_pid=$!
pids+=("$agent_pid")
exec 3>"$dir/agent.in"
out=$dir/agent.out
wait_for_log "$out" '"event":"agent_login_ok"' 20
wait_for_log "$out" "$ready_re" 30
wait_for_log "$alog" 'client_logged_in client=1 session=[0-9]+ login="?agent1"?' 5
session=$(grep -oE 'client_logged_in client=1 session=[0-9]+' "$alog" | head -1 | sed 's/.*=//')

# 1. the stalled client: Hello (role agent, version 1), then 2^19 AgentSetState (request 1),
# each answered by agentd itself (not logged in): ~60 bytes out for 9 in. s_client sends the whole
# file at once; agentd overflows after the kernel's buffers (here: agentd's send buffer, 4 MB at
# most by default, and s_client's receive buffer) plus max_client_queue: ~75k answers here.
printf '\x00\x00\x00\x08\x08\x01\x52\x04\x08\x02\x10\x01' >"$dir/flood.bin"
printf '\x00\x00\x00\x05\x08\x01\xc2\x3e\x00' >"$dir/req.bin"
for _ in $(seq 1 19); do cat "$dir/req.bin" "$dir/req.bin" >"$dir/req2.bin" && mv "$dir/req2.bin" "$dir/req.bin"; done
cat "$dir/req.bin" >>"$dir/flood.bin"
mkfifo "$dir/stall.out"
exec 5<>"$dir/stall.out" # held open, never read
openssl s_client -connect "$CARILLON_AGENTD" -tls1_3 -quiet -CAfile "$CARILLON_CA" \
    <"$dir/flood.bin" >"$dir/stall.out" 2>"$dir/stall.err" &
stall_pid=$!
pids+=("$stall_pid")
wait_for_log "$alog" 'client_connected client=2 ' 10
wait_for_log "$alog" 'client_too_slow client=2 session=0 login="?-"? max_client_queue=65536' 40
pid_alive "$agent_pid" || fail "carillon-agent died"
kill "$stall_pid" 2>/dev/null || true
# the agent logged in meanwhile still works: a pause reaches it, --auto makes it ready again
n=$(lines "$out")
echo '{"cmd":"pause","reason":"break"}' >&3
wait_since "$out" "$n" "$paused_re" 10
wait_since "$out" "$n" "$ready_re" 10

# 2. agentd's server link dies, the server stays up: agentd resumes the session by itself
sport=${CARILLON_SERVER##*:}
apid=$(cat "$CARILLON_STACK_DIR/agentd-agentd1.pid")
lport=$(ss -Htnp state established "dport = :$sport" | grep "pid=$apid," | awk '{print $3}' |
    sed 's/.*://' | head -1)
[ -n "$lport" ] || fail "no server link of agentd (pid $apid) towards port $sport"
na=$(lines "$alog")
ns=$(lines "$slog")
n=$(lines "$out")
# ss -K (sock_diag destroy) needs CAP_NET_ADMIN and a kernel with CONFIG_INET_DIAG_DESTROY
killed=$(ss -HKtn state established "( dport = :$sport and sport = :$lport )" 2>&1) || true
assert_contains "$killed" ":$lport"
wait_since "$alog" "$na" 'server_link_lost' 10
wait_since "$alog" "$na" "client_resumed client=1 session=$session login=\"?agent1\"? resumed=1" 20
wait_since "$slog" "$ns" "agent_resumed agent=agent1 session=$session agentd=agentd1" 5
echo '{"cmd":"pause","reason":"break"}' >&3
wait_since "$out" "$n" "$paused_re" 10
wait_since "$out" "$n" "$ready_re" 10
assert_not_contains "$(tail -n +"$((n + 1))" "$out")" '"event":"link"'

# 3. the server restarts: the session is gone; the client logs in again, ready on a new session
na=$(lines "$alog")
n=$(lines "$out")
spid=$(cat "$CARILLON_STACK_DIR/server.pid")
kill -TERM "$spid"
wait_for_exit "$spid" 20 || fail "the server did not stop"
cr_server_start
wait_since "$alog" "$na" "client_reannounce_refused client=1 " 30
wait_since "$alog" "$na" "client_session_lost client=1 session=$session " 5
wait_since "$out" "$n" '"event":"error","request_id":0,"code":"(code_)?unauthenticated".*"field":"resume_token"' 5
wait_since "$out" "$n" '"event":"link","state":"link_up".*"reason":"session expired: logging in again"' 5
wait_since "$out" "$n" '"event":"link","state":"logged_in".*"reason":"new session"' 20
wait_since "$alog" "$na" 'client_logged_in client=1 session=[0-9]+ login="?agent1"? resumed=0' 5
session2=$(tail -n +"$((na + 1))" "$alog" | grep -oE 'client_logged_in client=1 session=[0-9]+' |
    head -1 | sed 's/.*=//')
[ "$session2" != "$session" ] || fail "the session after the restart is the old one ($session)"
wait_since "$out" "$n" "$ready_re" 30
pid_alive "$agent_pid" || fail "carillon-agent stopped"

# 4. the client's own link drops while the server is down: agentd cannot pass its resume on
# (UNAVAILABLE), which is no verdict: the client tries again after its backoff, and once the
# server is back its resume is refused and it logs in again, ready on a third session
na=$(lines "$alog")
n=$(lines "$out")
spid=$(cat "$CARILLON_STACK_DIR/server.pid")
kill -TERM "$spid"
wait_for_exit "$spid" 20 || fail "the server did not stop"
wait_since "$alog" "$na" 'server_link_lost' 10
aport=${CARILLON_AGENTD##*:}
cport=$(ss -Htnp state established "dport = :$aport" | grep "pid=$agent_pid," | awk '{print $3}' |
    sed 's/.*://' | head -1)
[ -n "$cport" ] || fail "no link of carillon-agent (pid $agent_pid) towards agentd port $aport"
killed=$(ss -HKtn state established "( dport = :$aport and sport = :$cport )" 2>&1) || true
assert_contains "$killed" ":$cport"
wait_since "$out" "$n" '"event":"link","state":"link_down".*"reason":"[^"]*login not answered: the server link is down' 10
pid_alive "$agent_pid" || fail "carillon-agent stopped while the server was down"
cr_server_start
wait_since "$out" "$n" '"event":"link","state":"logged_in".*"reason":"new session"' 30
wait_since "$out" "$n" "$ready_re" 30
session3=$(tail -n +"$((na + 1))" "$alog" | grep -oE 'client_logged_in client=[0-9]+ session=[0-9]+' |
    head -1 | sed 's/.*=//')
if [ -z "$session3" ] || [ "$session3" = "$session2" ]; then
    fail "no new session after the second restart"
fi

# logout ends the client with 0
echo '{"cmd":"logout"}' >&3
wait_for_exit "$agent_pid" 20 || true
wait "$agent_pid" && rc=0 || rc=$?
assert_eq 0 "$rc"
echo "agents_links: ok"
