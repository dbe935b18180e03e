#!/usr/bin/env bash
# carillon-dialerd's bounds when the far end or the server pushes too far: a trunk that never
# answers our CANCEL, or our BYE, has the call let go after the 8 s guard (not kept for the
# transaction's 32 s); orders beyond the calls-per-second queue (1024 waiting) are refused with
# that reason, none dialled, and the queued ones can still be cancelled. An RTP port of the range
# that another program holds is skipped. A graceful stop keeps an agent's leg while its customer
# talks, and hangs it up as soon as the last customer call has ended.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

dl_setup dialer-guard
start_trunk nocancel uas_cancel_unanswered.xml
start_trunk nobye uas_bye_unanswered.xml
start_trunk hold uas_answer_hold.xml
start_trunk agent softphone_autoanswer.xml 1 -set sink "$(free_port)"

# max_cps = 1 (a bucket of one token): 1 dials at once, 2 waits a second for its token, and so
# do 100-1122 behind it: 1024 orders wait, the queue's bound. 1123-1129 are refused. The queued
# 100-1122 are then cancelled before their turn comes.
u() { echo "sip:0612345678@127.0.0.1:$1"; }
{
    echo "hold" # until the first RTP port of dialerd's range is taken by another program
    echo "call 1 $(u "${port[nocancel]}") ring_timeout_ms=500"
    echo "call 2 $(u "${port[nobye]}")"
    for a in $(seq 100 1129); do echo "call $a 06$((10000000 + a))"; done
    for a in $(seq 1123 1129); do echo "wait $a ended"; done
    for a in $(seq 100 1122); do echo "cancel $a"; done
    for a in $(seq 100 1122); do echo "wait $a ended"; done
    echo "wait 2 answered"
    echo "hangup 2"
    echo "wait 1 ended"
    echo "wait 2 ended"
    echo "agent 7 sip:agent7@127.0.0.1:${port[agent]}"
    echo "waitagent 7 up"
    echo "call 3 $(u "${port[hold]}")"
    echo "wait 3 answered"
    echo "bridge 3 7"
    echo "hold" # the test stops dialerd (graceful, shutdown_timeout 60 s)
    echo "hangup 3"
    echo "wait 3 ended"
    echo "waitagent 7 closed"
} >"$dir/script"
start_injector
# 2400 ports wide: 1200 RTP ports, for every order holds one from its admission, queued or not.
# The trunk is never reached: 1 and 2 name their own SIPp, the others are refused or cancelled.
DL_RTP_SPAN=2400 start_dialerd 9 "max_calls = 2000\nmax_cps = 1\nshutdown_timeout = 60s"
rtp_min=$(sed -n 's/^rtp_port_min = //p' "$dir/dialerd.conf")
cr-rtp-sink --listen "127.0.0.1:$rtp_min" --timeout 60 >"$dir/squatter.out" 2>&1 &
pids+=($!)
wait_for_log "$dir/squatter.out" '^listening$' 10
wait_for_log "$dir/injector.out" '^holding$' 10
kill -USR1 "$inj"
# Graceful stop with customer 3 talking to agent 7: both stay up; once 3 is hung up, 7 goes too
# and dialerd exits, long before shutdown_timeout.
wait_for_count "$dir/injector.out" '^holding$' 2 40
kill -TERM "$dialerd"
wait_for_log "$dir/dialerd.log" 'draining calls=2 ' 10
if grep -q 'agent_legs_release' "$dir/dialerd.log"; then fail "agent 7's leg was let go while customer 3 talked"; fi
kill -USR1 "$inj"
injector_ok
wait_for_log "$dir/dialerd.log" 'agent_legs_release legs=1' 5
dialerd_exited_ok 10
assert_contains "$(ended_line 3)" 'outcome=answered sip_status=200 hung_up_by=dialer'
assert_contains "$(cat "$dir/injector.out")" 'agent_event agent=7 state=closed'

for a in $(seq 1123 1129); do
    assert_contains "$(ended_line "$a")" 'outcome=refused sip_status=0'
    assert_contains "$(ended_line "$a")" 'detail="too many orders waiting for the calls-per-second limit"'
done
[ "$(grep -c '^event attempt=[0-9]* state=ended outcome=cancelled .*detail="cancelled by order before dialling"' \
    "$dir/injector.out")" = 1023 ] || fail "not all 1023 queued orders were cancelled in the queue"
if grep -qE 'call_sent attempt=(1[0-9]{2,3}) ' "$dir/dialerd.log"; then
    fail "an order beyond the first two was dialled"
fi

# Call 1 was given the pool's first port, found it taken, and took the next.
wait_for_log "$dir/dialerd.log" "rtp_bind_failed port=$rtp_min " 1
wait_for_log "$dir/dialerd.log" "call_sent attempt=1 .* rtp_port=$((rtp_min + 2)) " 1

# The guards: each call is let go 8 s after the request nobody answered, reported once.
l1=$(ended_line 1)
assert_contains "$l1" 'outcome=no_answer'
assert_contains "$l1" 'detail="CANCEL unanswered after 8000 ms; call let go"'
l2=$(ended_line 2)
assert_contains "$l2" 'outcome=answered sip_status=200 hung_up_by=dialer'
assert_contains "$l2" 'detail="BYE unanswered after 8000 ms; call let go"'
us() { sed -n "s/.* $1=\([0-9]*\) .*/\1/p" <<<"$2"; }
talk=$(($(us ended_at_us "$l2") - $(us answered_at_us "$l2")))
{ [ "$talk" -ge 8000000 ] && [ "$talk" -lt 12000000 ]; } ||
    fail "call 2 ended $((talk / 1000)) ms after its answer (hangup at once, then the 8 s guard)"
wait_for_count "$dir/dialerd.log" 'call_guard_expired attempt=[12] ' 2

for t in nocancel nobye hold agent; do trunk_ok "$t"; done
echo "PASS dialer_guard"
