#!/usr/bin/env bash
# carillon-dialerd's bounds when the far end or the server pushes too far: a trunk that never
# answers our CANCEL, or our BYE, has the call let go after the 8 s guard (not kept for the
# transaction's 32 s); orders beyond the calls-per-second queue (1024 waiting) are refused with
# that reason, none dialled, and the queued ones can still be cancelled.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

dl_setup dialer-guard
start_trunk nocancel uas_cancel_unanswered.xml
start_trunk nobye uas_bye_unanswered.xml

# max_cps = 1 (a bucket of one token): 1 dials at once, 2 waits a second for its token, and so
# do 100-1122 behind it: 1024 orders wait, the queue's bound. 1123-1129 are refused. The queued
# 100-1122 are then cancelled before their turn comes.
u() { echo "sip:0612345678@127.0.0.1:$1"; }
{
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
} >"$dir/script"
start_injector
# 2400 ports wide: 1200 RTP ports, for every order holds one from its admission, queued or not.
# The trunk is never reached: 1 and 2 name their own SIPp, the others are refused or cancelled.
DL_RTP_SPAN=2400 start_dialerd 9 "max_calls = 2000\nmax_cps = 1"
injector_ok

for a in $(seq 1123 1129); do
    assert_contains "$(ended_line "$a")" 'outcome=refused sip_status=0'
    assert_contains "$(ended_line "$a")" 'detail="too many orders waiting for the calls-per-second limit"'
done
[ "$(grep -c '^event attempt=[0-9]* state=ended outcome=cancelled .*detail="cancelled by order before dialling"' \
    "$dir/injector.out")" = 1023 ] || fail "not all 1023 queued orders were cancelled in the queue"
if grep -qE 'call_sent attempt=(1[0-9]{2,3}) ' "$dir/dialerd.log"; then
    fail "an order beyond the first two was dialled"
fi

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

for t in nocancel nobye; do trunk_ok "$t"; done
stop_dialerd
echo "PASS dialer_guard"
