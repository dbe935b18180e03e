#!/usr/bin/env bash
# Order deadlines (PlaceCall.not_after_unix_ms) and the agent leg's caller ID: an order past its
# deadline on arrival, and one whose deadline passes while it waits in the calls-per-second
# queue, end expired and are never dialled; calls already ringing or answered when their deadline
# passes go on; an agent leg's INVITE shows OpenAgentLeg.caller_id in From and P-Asserted-Identity.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

dl_setup dialer-deadline
# the trunk of numbers: answers 11, 12, 13 and holds them; its messages are kept, to show that
# the expired orders' numbers (0900000001, 0900000014) never reached it
start_trunk hold uas_answer_hold.xml 3 -trace_msg -message_file "$dir/hold_messages.log"
start_trunk ring uas_ring_forever.xml    # 21: rings past its deadline, ends at the ring timeout
start_trunk answer uas_answer_bye_2s.xml # 22: answered before its deadline, talks past it
# (this trunk checks the caller ID 0187654321 and name Carillon)
start_trunk agent softphone_caller_id.xml

# max_cps = 1: one token a second (a burst of one), so the queue is deterministic: with 11 dialled
# at once, 12, 13 and 14 leave the queue about 1, 2 and 3 s later; 14's deadline (1.5 s after it
# was sent) has passed by then. Expired orders take no token.
#  1: deadline a minute ago: expired on arrival.
#  21, 22: deadline 2 s ahead; 21 is dialled at once and rings 4 s; 22 leaves the queue about 1 s
#  later, is answered and talks 2 s: both outlive their deadline, neither is cut.
cat >"$dir/script" <<EOF
call 1 0900000001 not_after_in_ms=-60000
wait 1 ended
call 21 sip:21@127.0.0.1:${port[ring]} ring_timeout_ms=4000 not_after_in_ms=2000
call 22 sip:22@127.0.0.1:${port[answer]} caller_id=0187654321 caller_name=Carillon not_after_in_ms=2000
wait 21 ended
wait 22 ended
call 11 0611111111
call 12 0612222222
call 13 0613333333
call 14 0900000014 not_after_in_ms=1500
wait 14 ended
wait 13 answered
hangup 11
hangup 12
hangup 13
wait 11 ended
wait 12 ended
wait 13 ended
agent 5 sip:agent5@127.0.0.1:${port[agent]} caller_id=0899123456
waitagent 5 up
agentclose 5
waitagent 5 closed
EOF
INJ_TIMEOUT=40 start_injector
start_dialerd "${port[hold]}" "max_cps = 1"
injector_ok

# missed_ms ID: by how much the expired order missed its deadline, from its detail.
missed_ms() { ended_line "$1" | sed -n 's/.*detail="deadline passed \([0-9]*\) ms before dialling".*/\1/p'; }

# 1: expired at once, never dialled; the detail says by how much (about a minute).
assert_contains "$(ended_line 1)" "outcome=expired sip_status=0 hung_up_by=none call_id=-"
assert_contains "$(ended_line 1)" "sent_at_us=0 "
m=$(missed_ms 1)
[ -n "$m" ] && [ "$m" -ge 60000 ] && [ "$m" -lt 90000 ] ||
    fail "order 1: detail does not say it missed its deadline by about 60 s: $(ended_line 1)"
assert_contains "$(grep 'order_expired attempt=1 ' "$dir/dialerd.log")" "at=arrival"

# 14: expired leaving the queue (about 1.5 s late).
assert_contains "$(ended_line 14)" "outcome=expired sip_status=0"
m=$(missed_ms 14)
[ -n "$m" ] && [ "$m" -ge 500 ] || fail "order 14: not expired in the queue: $(ended_line 14)"
assert_contains "$(grep 'order_expired attempt=14 ' "$dir/dialerd.log")" "at=queue"
for a in 1 14; do
    if grep -q "call_sent attempt=$a " "$dir/dialerd.log"; then fail "expired order $a was dialled"; fi
done
for a in 11 12 13; do assert_contains "$(ended_line $a)" "outcome=answered sip_status=200 hung_up_by=dialer"; done
trunk_ok hold
grep -q '^INVITE sip:0611111111@' "$dir/hold_messages.log" || fail "the trunk's message log has no INVITE"
if grep -q '^INVITE sip:09000000' "$dir/hold_messages.log"; then fail "an expired order reached the trunk"; fi

# 21 and 22: sent before their deadline, ended after it, not cut by it.
deadline_us() { echo $(($(sed -n "s/.*order_received attempt=$1 .*not_after_unix_ms=\([0-9]*\).*/\1/p" "$dir/dialerd.log") * 1000)); }
field() { ended_line "$1" | sed -n "s/.* $2=\([0-9]*\) .*/\1/p"; }
assert_contains "$(ended_line 21)" "outcome=no_answer sip_status=487 hung_up_by=none"
assert_contains "$(ended_line 21)" 'detail="ring timeout"'
assert_contains "$(ended_line 22)" "outcome=answered sip_status=200 hung_up_by=customer"
for a in 21 22; do
    d=$(deadline_us $a)
    [ "$(field $a sent_at_us)" -le "$d" ] || fail "call $a was sent after its deadline"
    [ "$(field $a ended_at_us)" -gt "$d" ] || fail "call $a ended before its deadline: it proves nothing"
done
[ "$(field 22 talk_ms)" -ge 1500 ] || fail "call 22 was cut: talk_ms=$(field 22 talk_ms)"
trunk_ok ring
trunk_ok answer

# The agent leg: SIPp checked From and P-Asserted-Identity (check_it); dialerd logged its From.
assert_contains "$(grep 'agent_leg_opening agent=5 ' "$dir/dialerd.log")" 'from="<sip:0899123456@127.0.0.1>"'
trunk_ok agent
stop_dialerd
echo "PASS dialer_deadline"
