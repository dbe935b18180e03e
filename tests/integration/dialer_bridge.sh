#!/usr/bin/env bash
# Agent legs and bridging: dialerd calls an agent's softphone (auto-answer asked), keeps it up
# with the idle sound (a comfort tone), relays a customer's audio and RFC 4733 digits to it once bridged, re-stamped so
# the softphone sees one stream (one SSRC, sequence numbers without jumps, timestamps that never
# go back) across two customers; the agent leg outlives each customer; an agent who hangs up is
# reported lost, a closed leg closed. SIPp plays the trunk and the softphones; cr-rtp-sink is the
# softphone's media.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"
[ -x "$CARILLON_BUILD_DIR/bin/cr-rtp-sink" ] || fail "cr-rtp-sink is not built"

dl_setup dialer-bridge
# start_sink NAME: a cr-rtp-sink writing $dir/NAME.out, counting the idle sound's frames
# (marked: every sample 0x2A); sets sink_port and sink_pid.
start_sink() {
    sink_port=$(free_port)
    cr-rtp-sink --listen "127.0.0.1:$sink_port" --timeout 90 --mark 0x2A >"$dir/$1.out" 2>&1 &
    sink_pid=$!
    pids+=("$sink_pid")
    wait_for_log "$dir/$1.out" '^listening$' 10
}
start_sink sink
sink=$sink_port
agent_sink_pid=$sink_pid

start_trunk talk1 uas_answer_play.xml # answers, ~6 s of A-law, digit 1, then BYE
start_trunk talk2 uas_answer_play.xml
start_trunk agent softphone_autoanswer.xml 1 -set sink "$sink"
start_sink lsink # agent 8's media: never bridged, it hears only the idle sound
lsink_pid=$sink_pid
start_trunk lost softphone_hangup.xml 1 -set sink "$sink_port"
# Abandon: the customer answers, no agent is bridged within 300 ms: it hears the 1 s message
# (an A-law WAV, 8000 samples: 50 packets of 20 ms) on its own sink, then the dialer hangs up.
start_sink csink
csink=$sink_port
csink_pid=$sink_pid
start_trunk alone uas_answer_sink.xml 1 -set sink "$csink"
# Agent-first: agent 9 is bridged while the customer's trunk still plays its early media.
start_sink esink
esink=$sink_port
esink_pid=$sink_pid
start_trunk early uas_early_media_play.xml
start_trunk agent9 softphone_autoanswer.xml 1 -set sink "$esink"
start_trunk agent10 softphone_401.xml # challenges: the trunk's credentials must not be sent
{
    printf 'RIFF\x64\x1f\x00\x00WAVEfmt \x10\x00\x00\x00\x06\x00\x01\x00'
    printf '\x40\x1f\x00\x00\x40\x1f\x00\x00\x01\x00\x08\x00data\x40\x1f\x00\x00'
    head -c 8000 /dev/zero | tr '\0' '\125'
} >"$dir/abandon.wav"
# The idle sound: 400 A-law samples of 0x2A, looped (2.5 frames: the loop wraps mid-frame).
{
    printf 'RIFF\xb4\x01\x00\x00WAVEfmt \x10\x00\x00\x00\x06\x00\x01\x00'
    printf '\x40\x1f\x00\x00\x40\x1f\x00\x00\x01\x00\x08\x00data\x90\x01\x00\x00'
    head -c 400 /dev/zero | tr '\0' '\052'
} >"$dir/idle.wav"

u() { echo "sip:0612345678@127.0.0.1:$1"; }
cat >"$dir/script" <<EOF
agent 7 sip:agent7@127.0.0.1:${port[agent]}
waitagent 7 up
call 1 $(u "${port[talk1]}")
wait 1 answered
bridge 1 7
wait 1 ended
call 2 $(u "${port[talk2]}")
wait 2 answered
bridge 2 7
wait 2 ended
agentclose 7
waitagent 7 closed
agent 8 sip:agent8@127.0.0.1:${port[lost]}
waitagent 8 up
waitagent 8 lost
call 4 $(u "${port[alone]}") abandon_after_ms=300
wait 4 ended
agent 9 sip:agent9@127.0.0.1:${port[agent9]}
waitagent 9 up
call 5 $(u "${port[early]}")
wait 5 ringing
bridge 5 9
wait 5 answered
unbridge 5
unbridge 999
hangup 5
wait 5 ended
agentclose 9
waitagent 9 closed
agent 10 sip:agent10@127.0.0.1:${port[agent10]}
waitagent 10 lost
EOF
INJ_TIMEOUT=80 start_injector
start_dialerd "${port[talk1]}" \
    "max_calls = 10\nabandon_after = 0\nabandon_message = $dir/abandon.wav\nidle_sound = $dir/idle.wav" \
    "username = trunkuser\npassword = trunk-secret"
injector_ok

out=$(cat "$dir/injector.out")
assert_contains "$out" "agent_event agent=7 state=up sip_status=200"
assert_contains "$out" "agent_event agent=7 state=closed"
assert_contains "$out" "agent_event agent=8 state=up sip_status=200"
assert_contains "$out" "agent_event agent=8 state=lost"
assert_contains "$(ended_line 1)" "outcome=answered sip_status=200 hung_up_by=customer"
assert_contains "$(ended_line 2)" "outcome=answered sip_status=200 hung_up_by=customer"
wait_for_log "$dir/dialerd.log" 'bridged attempt=1 agent=7' 1
# Bridge and Unbridge orders are answered: Ok for bridges 1, 2, 5 and unbridge 5, NOT_FOUND for
# a call dialerd does not have.
assert_eq 4 "$(grep -c '^ok request_id=' "$dir/injector.out")"
assert_contains "$out" 'message="unbridge 999: no such call"'
wait_for_log "$dir/dialerd.log" 'bridged attempt=2 agent=7' 1

kill -TERM "$agent_sink_pid"
wait_for_log "$dir/sink.out" '^rtp ' 10
line=$(grep '^rtp ' "$dir/sink.out")
echo "$line"
n() { sed -n "s/.* $1=\([0-9-]*\).*/\1/p" <<<"$line"; }
# Two customers relayed: SIPp's g711a.pcap holds 234 A-law packets and dtmf_2833_1.pcap 10
# RFC 4733 packets; on loopback nothing should be lost (5 % allowed).
[ "$(n audio)" -ge 445 ] || fail "too little audio reached the softphone: $line"
[ "$(n dtmf)" -ge 19 ] || fail "the RFC 4733 digits did not reach the softphone: $line"
assert_eq 1 "$(n ssrcs)"
assert_eq 0 "$(n seq_jumps)"
assert_eq 0 "$(n ts_backwards)"
assert_eq 8 "$(n pt)"
# Around the two customers agent 7 heard the idle sound in the same stream: every idle frame
# dialerd sent arrived whole, and nothing relayed was taken for one.
idle7=$(sed -n 's/.*rtp_leg_closed id=7 .* tx_silence=\([0-9]*\).*/\1/p' "$dir/dialerd.log")
assert_eq "${idle7:-none}" "$(n marked)"

# Agent 8 was never bridged: it got 20 ms of idle sound every 20 ms while its leg was up (~1 s).
wait_for_log "$dir/dialerd.log" 'rtp_leg_closed id=8 rx=[0-9]+ tx=[0-9]+ tx_silence=(1[0-9]|[2-9][0-9])' 5
# ... and it was the idle sound (400 samples looped: frames wrap mid-sound), every frame whole.
idle8=$(sed -n 's/.*rtp_leg_closed id=8 .* tx_silence=\([0-9]*\).*/\1/p' "$dir/dialerd.log")
kill -TERM "$lsink_pid"
wait_for_log "$dir/lsink.out" '^rtp ' 10
assert_contains "$(grep '^rtp ' "$dir/lsink.out")" "audio=$idle8 dtmf=0 ssrcs=1 seq_jumps=0 ts_backwards=0 pt=8 marked=$idle8"

assert_contains "$(ended_line 4)" "outcome=abandoned sip_status=200 hung_up_by=dialer"
kill -TERM "$csink_pid"
wait_for_log "$dir/csink.out" '^rtp ' 10
cline=$(grep '^rtp ' "$dir/csink.out")
assert_contains "$cline" "rtp packets=50 audio=50 dtmf=0 ssrcs=1 seq_jumps=0 ts_backwards=0 pt=8"

# Agent-first: the early media (234 packets, before the 200 OK) reached agent 9: most of it (the
# first packets may come before the Bridge order does), and nothing but it.
assert_contains "$(ended_line 5)" "outcome=answered sip_status=200 hung_up_by=dialer"
kill -TERM "$esink_pid"
wait_for_log "$dir/esink.out" '^rtp ' 10
eline=$(grep '^rtp ' "$dir/esink.out")
ea=$(sed -n 's/.* audio=\([0-9]*\).*/\1/p' <<<"$eline")
if [ "$ea" -lt 180 ] || [ "$ea" -gt 260 ]; then
    fail "the customer's early media did not reach the agent as it should: $eline"
fi
assert_contains "$eline" "ssrcs=1 seq_jumps=0 ts_backwards=0"

assert_contains "$out" 'agent_event agent=10 state=lost sip_status=401'
assert_contains "$out" 'detail="the softphone asks for credentials; none are sent"'

for t in talk1 talk2 agent lost alone early agent9 agent10; do trunk_ok "$t"; done
stop_dialerd
echo "PASS dialer_bridge"
