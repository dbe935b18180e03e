#!/usr/bin/env bash
# A trunk's re-INVITEs (issue 13): a session refresh that keeps telephone-event in dialerd's
# answer, then a move of the trunk's media to a new port, PCMU first, rtcp-mux. The relay follows:
# the customer's audio and RFC 4733 digits (sent after the move) reach the bridged agent's
# softphone, and the agent's A-law reaches the trunk at its new port, converted to mu-law and
# re-stamped, with RTCP receiver reports there (rtcp-mux offered again). The SIPp trunk checks
# the answers' SDP (it fails on a missing telephone-event or PCMU); cr-rtp-sink plays the
# softphone's media (answering what it hears with A-law 0xB4, symmetric RTP) and the trunk's new
# media port.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"
[ -x "$CARILLON_BUILD_DIR/bin/cr-rtp-sink" ] || fail "cr-rtp-sink is not built"

dl_setup dialer-media
# start_sink NAME [ARGS...]: a cr-rtp-sink writing $dir/NAME.out; sets sink_port and sink_pid.
start_sink() {
    local name=$1
    shift
    sink_port=$(free_port)
    cr-rtp-sink --listen "127.0.0.1:$sink_port" --timeout 60 "$@" >"$dir/$name.out" 2>&1 &
    sink_pid=$!
    pids+=("$sink_pid")
    wait_for_log "$dir/$name.out" '^listening$' 10
}
# the softphone: answers what it hears with A-law 0xB4
start_sink asink --send-back 1 --send-byte 0xB4
asink=$sink_port
asink_pid=$sink_pid
# the trunk's new media port: 0xB4 in A-law is 0x9E in mu-law
start_sink tsink --mark 0x9E
tsink=$sink_port
tsink_pid=$sink_pid

start_trunk reinv media_reinvite.xml 1 -set newport "$tsink"
start_trunk agent softphone_autoanswer.xml 1 -set sink "$asink"
cat >"$dir/script" <<EOF
agent 7 sip:agent7@127.0.0.1:${port[agent]}
waitagent 7 up
call 1 sip:0612345678@127.0.0.1:${port[reinv]}
wait 1 answered
bridge 1 7
wait 1 ended
agentclose 7
waitagent 7 closed
EOF
INJ_TIMEOUT=50 start_injector
start_dialerd "${port[reinv]}" "max_calls = 4"
injector_ok

assert_contains "$(ended_line 1)" "outcome=answered sip_status=200 hung_up_by=customer"
# the refresh changed nothing; the move was followed
wait_for_log "$dir/dialerd.log" 'call_reinvite attempt=1 .*media=unchanged' 1
wait_for_log "$dir/dialerd.log" \
    "call_media_changed attempt=1 .*port=$tsink pt_audio=0 pt_dtmf=101 rtcp_mux=1" 1

# After the move: SIPp's g711a.pcap (234 A-law packets) and dtmf_2833_1.pcap (10 RFC 4733
# packets) reached the softphone, in one stream, beside the silence it heard while not bridged.
wait_for_log "$dir/dialerd.log" 'rtp_leg_closed id=7 ' 10
idle7=$(sed -n 's/.*rtp_leg_closed id=7 .* tx_silence=\([0-9]*\).*/\1/p' "$dir/dialerd.log")
kill -TERM "$asink_pid"
wait_for_log "$dir/asink.out" '^rtp ' 10
aline=$(grep '^rtp ' "$dir/asink.out")
echo "softphone: $aline"
n() { sed -n "s/.* $1=\([0-9-]*\).*/\1/p" <<<"$2"; }
relayed=$(($(n audio "$aline") - idle7))
[ "$relayed" -ge 220 ] || fail "the customer's audio after the re-INVITE did not reach the agent: $aline"
[ "$(n dtmf "$aline")" -ge 9 ] || fail "the customer's digits after the re-INVITE did not reach the agent: $aline"
assert_contains "$aline" "ssrcs=1 seq_jumps=0 ts_backwards=0 pt=8"
assert_eq 0 "$(n rtcp "$aline")" # the softphone did not accept rtcp-mux

# The trunk's new port got the agent's audio as mu-law (payload type 0), every frame converted
# (0x9E), and receiver reports about the trunk's stream (one report block each).
kill -TERM "$tsink_pid"
wait_for_log "$dir/tsink.out" '^rtp ' 10
tline=$(grep '^rtp ' "$dir/tsink.out")
echo "trunk's new port: $tline"
[ "$(n audio "$tline")" -ge 150 ] || fail "too little audio at the trunk's new port: $tline"
assert_eq "$(n audio "$tline")" "$(n marked "$tline")"
assert_contains "$tline" "dtmf=0 ssrcs=1 seq_jumps=0 ts_backwards=0 pt=0"
[ "$(n rr "$tline")" -ge 1 ] || fail "no RTCP receiver report at the trunk's new port: $tline"
[ "$(n rr_blocks "$tline")" -ge 1 ] || fail "the receiver reports carry no report block: $tline"

for t in reinv agent; do trunk_ok "$t"; done
stop_dialerd
echo "PASS dialer_media"
