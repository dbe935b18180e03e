#!/usr/bin/env bash
# RTCP over rtcp-mux (RFC 5761, issue 13): dialerd offers a=rtcp-mux on every leg (the SIPp
# trunk checks it). A trunk that accepts it gets receiver reports on the RTP port (2.5 s after
# the answer, then every 5 s), about the stream it sends, and their LSR echoes the sender report
# it answered the first one with; that SR is read by dialerd, never relayed to the bridged agent.
# A trunk that does not accept it gets audio and no RTCP at all; nor do the softphones (they do
# not accept it either). cr-rtp-sink plays each party's media, answering what it hears (symmetric
# RTP) so every leg carries audio both ways.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"
[ -x "$CARILLON_BUILD_DIR/bin/cr-rtp-sink" ] || fail "cr-rtp-sink is not built"

dl_setup dialer-media-rtcp
# start_sink NAME [ARGS...]: a cr-rtp-sink writing $dir/NAME.out; sets sink_port and sink_pid.
declare -A sink sinkpid
start_sink() {
    local name=$1
    shift
    sink[$name]=$(free_port)
    cr-rtp-sink --listen "127.0.0.1:${sink[$name]}" --timeout 60 --send-back 1 "$@" \
        >"$dir/$name.out" 2>&1 &
    sinkpid[$name]=$!
    pids+=("$!")
    wait_for_log "$dir/$name.out" '^listening$' 10
}
# sink_line NAME: stops the sink, prints its report line
sink_line() {
    kill -TERM "${sinkpid[$1]}"
    wait_for_log "$dir/$1.out" '^rtp ' 10
    grep '^rtp ' "$dir/$1.out"
}
n() { sed -n "s/.* $1=\([0-9-]*\).*/\1/p" <<<"$2"; }
start_sink mux --reply-sr 1
start_sink plain
start_sink a7
start_sink a8

start_trunk mux media_rtcp_mux.xml 1 -set sink "${sink[mux]}"
start_trunk plain uas_answer_sink.xml 1 -set sink "${sink[plain]}"
start_trunk agent7 softphone_autoanswer.xml 1 -set sink "${sink[a7]}"
start_trunk agent8 softphone_autoanswer.xml 1 -set sink "${sink[a8]}"
cat >"$dir/script" <<EOF
agent 7 sip:agent7@127.0.0.1:${port[agent7]}
agent 8 sip:agent8@127.0.0.1:${port[agent8]}
waitagent 7 up
waitagent 8 up
call 1 sip:0612345678@127.0.0.1:${port[mux]}
call 2 sip:0612345679@127.0.0.1:${port[plain]}
wait 1 answered
wait 2 answered
bridge 1 7
bridge 2 8
wait 1 ended
hangup 2
wait 2 ended
agentclose 7
agentclose 8
waitagent 7 closed
waitagent 8 closed
EOF
INJ_TIMEOUT=50 start_injector
start_dialerd "${port[mux]}" "max_calls = 4"
injector_ok
assert_contains "$(ended_line 1)" "outcome=answered sip_status=200 hung_up_by=customer"
assert_contains "$(ended_line 2)" "outcome=answered sip_status=200 hung_up_by=dialer"
for t in mux plain agent7 agent8; do trunk_ok "$t"; done
stop_dialerd

# The trunk with rtcp-mux: 9 s of call, reports at 2.5 s and 7.5 s, each with a report block
# about its stream; the second echoes the SR it sent in answer to the first.
line=$(sink_line mux)
echo "rtcp-mux trunk: $line"
[ "$(n rr "$line")" -ge 2 ] || fail "fewer than 2 receiver reports reached the rtcp-mux trunk: $line"
[ "$(n rr_blocks "$line")" -ge 2 ] || fail "receiver reports without a report block: $line"
[ "$(n rr_lsr "$line")" -ge 1 ] || fail "no receiver report echoes the trunk's SR (LSR): $line"
[ "$(n audio "$line")" -ge 100 ] || fail "the agent's audio did not reach the rtcp-mux trunk: $line"
# the last block's figures: nothing lost on loopback, a jitter below 50 ms (400 units of 8 kHz),
# its highest sequence number within 1 s (50 packets) of what the trunk had sent by then
[ "$(n rr_lost "$line")" = 0 ] || fail "a report block counts losses on loopback: $line"
[ "$(n rr_jitter "$line")" -lt 400 ] || fail "a report block's jitter is implausible: $line"
behind=$(n rr_seq_behind "$line")
[ "$behind" -ge 0 ] && [ "$behind" -le 50 ] || fail "a report block's highest sequence is off: $line"
leg() { sed -n "s/.*rtp_leg_closed id=$1 .* $2=\([0-9]*\).*/\1/p" "$dir/dialerd.log"; }
[ "$(leg 1 rx_rtcp)" -ge 1 ] || fail "dialerd read no RTCP from the rtcp-mux trunk"
[ "$(leg 1 tx_rtcp)" -ge 2 ] || fail "dialerd counted fewer than 2 reports to the rtcp-mux trunk"
# ... and its agent heard the trunk's audio, never its SRs
line=$(sink_line a7)
echo "agent 7: $line"
[ "$(n audio "$line")" -ge 100 ] || fail "the rtcp-mux trunk's audio did not reach agent 7: $line"
assert_contains "$line" "ssrcs=1 seq_jumps=0 ts_backwards=0 pt=8 marked=0 rtcp=0 "

# Without rtcp-mux: audio, no RTCP (nor towards the softphones)
line=$(sink_line plain)
echo "plain trunk: $line"
[ "$(n audio "$line")" -ge 100 ] || fail "the agent's audio did not reach the plain trunk: $line"
assert_contains "$line" " rtcp=0 "
assert_contains "$(sink_line a8)" " rtcp=0 "
for id in 2 7 8; do assert_eq "0 0" "$(leg $id rx_rtcp) $(leg $id tx_rtcp)"; done
echo "PASS dialer_media_rtcp"
