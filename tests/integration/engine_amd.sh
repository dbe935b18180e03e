#!/usr/bin/env bash
# Answering-machine detection end to end (issue 13): customer-first campaigns with amd_enabled
# through every real part (carillon-server, carillon-dialerd, cr-agents playing agentd, a SIPp
# softphone, and the SIPp trunk tests/sipp/engine_amd_trunk.xml whose number's last digit says
# who answers: 1 an answering machine, else a person). The voices are made here with espeak-ng
# and sox (no recording of anyone).
#   amd-hangup   amd_action hang_up: the person ("Allô ?" then silence) is bridged to the agent
#                only after the human verdict; the machine (a long greeting) ends outcome
#                machine, follows the answering_machine rule and is never offered to the agent
#   amd-message  amd_action leave_message (set running once amd-hangup is done): the machine
#                gets the message after its beep, outcome machine, a detail saying so
#   amd-connect  amd_action connect_agent (running with amd-message): the machine is bridged
#                to the agent after its verdict, who hangs up (--talk-ms)
# The attempts' amd_* columns hold the verdicts; machines are not in the abandon ledger.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"
command -v espeak-ng >/dev/null || fail "espeak-ng is required (deploy/bootstrap.sh installs it)"
command -v sox >/dev/null || fail "sox is required (deploy/bootstrap.sh installs it)"

dl_setup engine-amd
LOG= # the server's log, once the stack is up

# The voices, raw 8 kHz A-law as SIPp's rtp_stream plays them, in the trunk's directory.
mkdir -p "$dir/trunk"
espeak-ng -v fr -s 160 -w "$dir/hello.wav" "Allô ?"
sox "$dir/hello.wav" -r 8000 -c 1 -t al "$dir/trunk/human.al" pad 0.2 6
espeak-ng -v fr -s 165 -w "$dir/vm.wav" "Bonjour, vous êtes bien sur la messagerie de Paul \
Girard. Je ne peux pas vous répondre pour le moment. Laissez-moi un message après le signal \
sonore, je vous rappellerai."
sox "$dir/vm.wav" -r 8000 -c 1 -b 16 "$dir/vm8.wav"
sox -n -r 8000 -c 1 -b 16 "$dir/gap.wav" trim 0 0.3
sox -n -r 8000 -c 1 -b 16 "$dir/beep.wav" synth 0.5 sine 1000 vol 0.4
sox -n -r 8000 -c 1 -b 16 "$dir/tail.wav" trim 0 8
sox "$dir/vm8.wav" "$dir/gap.wav" "$dir/beep.wav" "$dir/tail.wav" -t al "$dir/trunk/machine.al"
# the message left on machines: 1 s of G.711 A-law
sox -n -r 8000 -c 1 -e a-law -b 8 "$dir/rappel.wav" synth 1 sine 440 vol 0.3

trunk_port=$(free_port)
pushd "$dir/trunk" >/dev/null
sipp -sf "$CARILLON_SOURCE_DIR/tests/sipp/engine_amd_trunk.xml" -i 127.0.0.1 -p "$trunk_port" \
    -mp "$(free_port 3)" -nostdin -timeout 120s -trace_err -error_file "$dir/trunk.err" \
    >"$dir/trunk.out" 2>&1 &
trunk_pid=$!
pids+=("$trunk_pid")
popd >/dev/null
agent_phone 1
dl_trunks_ready
until ss -Hlun "sport = :$trunk_port" | grep -q .; do
    pid_alive "$trunk_pid" || { cat "$dir/trunk.out" >&2; fail "the SIPp trunk did not start"; }
    sleep 0.05
done

STACK_DIALER_KEYS="max_calls = 10\nmax_cps = 20\nabandon_after = 5s\n[messages]\nrappel = $dir/rappel.wav" \
    cr_stack_up --dialer --trunk "sip:127.0.0.1:$trunk_port"
LOG=$CARILLON_STACK_DIR/server.log
carillonctl user add agent1 --role agent --name 'Agent Inès' --password-stdin \
    <<<"agent-pass-1" >/dev/null || fail "user add agent1"

# campaign NAME ACTION MESSAGE NUMBER...: customer-first, progressive, AMD on with ACTION
campaign() {
    local name=$1 action=$2 message=$3 n
    shift 3
    {
        cat <<EOF
name: '$name'
time_zone: 'Europe/Paris'
dialing: {mode: progressive, call_order: customer_first, max_simultaneous_calls: 2,
          ring_timeout_s: 10, abandon_after_ms: 5000}
outcomes:
  answering_machine: {retry_delay_s: ${AM_DELAY}, max_attempts: ${AM_MAX}, after_last: done}
  amd_enabled: true
  amd_action: $action
  amd_message: '$message'
stop: {when_all_done: true}
qualification_mode: automatic
wrapup_max_s: 0
qualifications:
- {code: 'VENTE', name: 'Vente', type: positive, final: true}
auto_qualifications:
- {outcome: 'answered', code: 'VENTE'}
agents: ['agent1']
schedule:
EOF
        for d in monday tuesday wednesday thursday friday saturday sunday; do
            printf -- "- {day: %s, start: '00:00', end: '24:00'}\n" "$d"
        done
    } >"$dir/$name.yaml"
    assert_exit 0 carillonctl apply -f "$dir/$name.yaml"
    {
        echo 'Nom;Tel1'
        for n in "$@"; do printf 'Client-%s;%s\n' "$n" "$n"; done
    } >"$dir/$name.csv"
    assert_exit 0 carillonctl list import "$dir/$name.csv" --campaign "$name" --name "$name" \
        --map 'Nom=last_name,Tel1=phone1'
    assert_contains "$OUT" "$# imported"
    assert_exit 0 carillonctl campaign state "$name" ready
}
# the person first (import order), then the machine; two lanes side by side (the server runs
# at most two imports of one user at a time)
AM_DELAY=3600 AM_MAX=2 campaign amd-hangup hang_up '' '+33611000000' '+33611000001' &
lane=$!
AM_DELAY=0 AM_MAX=1 campaign amd-message leave_message rappel '+33612000001'
AM_DELAY=0 AM_MAX=1 campaign amd-connect connect_agent '' '+33613000001'
wait "$lane" || fail "amd-hangup's set-up failed (its message is above)"
assert_exit 0 carillonctl campaign state amd-hangup running
wait_for_log "$LOG" 'campaign_idle campaign="?amd-hangup"? reason="?no agent ready' 20

start_cr_agents --timeout 85 --talk-ms 8000 \
    --agent "agent1:agent-pass-1:sip:agent1@127.0.0.1:${port[phone_1]}:amd-hangup,amd-message,amd-connect"
wait_for_log "$dir/agents.out" '^state agent=agent1 state=ready' 30

# attempt NUMBER: its attempt id
attempt() { psql -Atc "select id from attempts where number = '$1' order by id limit 1"; }
wait_for_log "$LOG" 'call_ended campaign="amd-hangup" .*outcome=machine' 45
person=$(attempt '+33611000000')
machine=$(attempt '+33611000001')
# then leave_message and connect_agent side by side
assert_exit 0 carillonctl campaign state amd-message running
assert_exit 0 carillonctl campaign state amd-connect running
wait_for_log "$LOG" 'campaign_finished campaign="?amd-message"? reason="every contact is done"' 45
wait_for_log "$LOG" 'campaign_finished campaign="?amd-connect"? reason="every contact is done"' 30
message=$(attempt '+33612000001')
report=$(attempt '+33613000001')
echo quit >&3
wait "$agents_pid" || { tail -20 "$dir/agents.out" >&2; fail "cr-agents did not log out cleanly"; }
log=$(cat "$LOG")
agents=$(cat "$dir/agents.out")

# (a) the person: a human verdict, then (and only then) the agent; talked and qualified
# (not sure, which counts as a person, is accepted: the verdict rests on timing a loaded machine
# may blur; tests/bench/amd measures the detector)
assert_eq "answered|t|t|VENTE|done" "$(psql -Atc "select a.outcome, a.amd_verdict in ('human', 'not_sure'),
    a.bridged_at is not null, a.qualification, c.state from attempts a join contacts c on
    c.id = a.contact_id where a.id = $person")"
detected_at=$(grep -nE "call_detected campaign=\"amd-hangup\" attempt=$person verdict=(human|not_sure)" <<<"$log" | cut -d: -f1)
bridged_at=$(grep -n "call_bridged campaign=\"amd-hangup\" attempt=$person " <<<"$log" | cut -d: -f1)
if [ -z "$detected_at" ] || [ -z "$bridged_at" ] || [ "$detected_at" -ge "$bridged_at" ]; then
    fail "the person's call was not bridged after its verdict (verdict line ${detected_at:-none}, bridge line ${bridged_at:-none})"
fi
assert_contains "$(grep "call_detected campaign=\"amd-hangup\" attempt=$person " <<<"$log")" "action=connect_agent"
# the bridge came after the verdict's time from the answer, not at the answer
assert_eq "t" "$(psql -Atc "select amd_ms > 0 and amd_reason <> '' and bridged_at >=
    answered_at + make_interval(secs => amd_ms / 1000.0 - 0.2) from attempts where id = $person")"
assert_contains "$agents" "connected agent=agent1 attempt=$person "

# (b) hang_up: the machine's verdict, outcome machine, the answering_machine rule (1 of 2: again
# in an hour), never offered nor bridged to the agent
assert_eq "machine|machine|t|t|t" "$(psql -Atc "select outcome, amd_verdict, amd_reason <> '',
    amd_ms > 0, bridged_at is null and agent_id is null from attempts where id = $machine")"
assert_contains "$(psql -Atc "select detail from attempts where id = $machine")" "hung up, no message"
assert_eq "waiting|1|t" "$(psql -Atc "select c.state, c.attempts, c.next_try > now() + interval
    '3500 s' from contacts c join attempts a on a.contact_id = c.id where a.id = $machine")"
assert_contains "$(grep "call_detected campaign=\"amd-hangup\" attempt=$machine " <<<"$log")" "verdict=machine"
assert_contains "$(grep "call_detected campaign=\"amd-hangup\" attempt=$machine " <<<"$log")" "action=hang_up"
assert_not_contains "$log" "call_bridged campaign=\"amd-hangup\" attempt=$machine "
assert_not_contains "$agents" "attempt=$machine "

# leave_message: the message after the beep, outcome machine, max_attempts 1: the contact done
assert_eq "machine|machine|t" "$(psql -Atc "select outcome, amd_verdict,
    bridged_at is null and agent_id is null from attempts where id = $message")"
detail=$(psql -Atc "select detail from attempts where id = $message")
assert_contains "$detail" "message rappel left at"
assert_contains "$detail" "after a beep"
assert_eq "done" "$(psql -Atc "select c.state from contacts c join attempts a on a.contact_id =
    c.id where a.id = $message")"
assert_contains "$(grep "call_detected campaign=\"amd-message\" attempt=$message " <<<"$log")" "action=leave_message"
assert_not_contains "$agents" "attempt=$message "

# connect_agent: a machine, bridged after its verdict; the agent hung up and it was qualified
assert_eq "answered|machine|t|VENTE" "$(psql -Atc "select outcome, amd_verdict,
    bridged_at is not null, qualification from attempts where id = $report")"
assert_contains "$(grep "call_detected campaign=\"amd-connect\" attempt=$report " <<<"$log")" "verdict=machine"
assert_contains "$(grep "call_detected campaign=\"amd-connect\" attempt=$report " <<<"$log")" "action=connect_agent"
assert_contains "$log" "call_bridged campaign=\"amd-connect\" attempt=$report "
assert_contains "$agents" "connected agent=agent1 attempt=$report "
assert_contains "$agents" "ended agent=agent1 attempt=$report outcome=answered by=agent"

# every verdict reached the events; no abandon (the ledger's answered calls: those an agent
# talked on, the connected machine included)
assert_eq 4 "$(psql -Atc "select count(*) from dialer_events where state = 'detected'")"
assert_eq "2 0" "$(psql -Atc "select sum(answered) || ' ' || sum(abandoned) from abandon_ledger")"
echo "engine_amd: ok"
