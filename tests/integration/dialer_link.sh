#!/usr/bin/env bash
# carillon-dialerd keeps its calls when the server link is cut, buffers their events, and after
# reconnecting replays exactly the ones the server has not stored: no loss, no duplicate.
# cr-injector plays the server (DialerResume/EventAck, duplicate detection); SIPp plays the trunk.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

dl_setup dialer-link
start_trunk bye uas_answer_bye_2s.xml # the customer hangs up 2 s after answering
start_trunk held uas_early_media_183.xml # answered, stays up until we hang up

u() { echo "sip:0612345678@127.0.0.1:$1"; }
# 1 and 2 are answered; the link is cut; the customer of 1 hangs up while it is down (the test
# releases the hold once dialerd has buffered that ENDED event); after the reconnect the event
# arrives once, call 2 is still up and takes a hangup order, and a new order is handled.
cat >"$dir/script" <<EOF
call 1 $(u "${port[bye]}") caller_id=0187654321 caller_name=Carillon
call 2 $(u "${port[held]}") privacy=1
wait 1 answered
wait 2 answered
drop
hold
wait 1 ended
hangup 2
wait 2 ended
call 3 06-12
wait 3 ended
EOF
start_injector
start_dialerd "${port[held]}" "max_calls = 10\nevent_buffer = 100"

# The link is down and the customer of call 1 has hung up: dialerd keeps the ENDED event.
wait_for_log "$dir/injector.out" '^holding$' 20
wait_for_log "$dir/dialerd.log" 'server_link_down' 10
wait_for_log "$dir/dialerd.log" 'event_buffered attempt=1 state=3 ' 20
if grep -q '^event attempt=1 state=ended ' "$dir/injector.out"; then
    fail "the ENDED event of call 1 reached the injector while the link was down"
fi
kill -USR1 "$inj"
injector_ok

out=$(cat "$dir/injector.out")
assert_contains "$out" "released"
[ "$(grep -c '^capacity ' "$dir/injector.out")" = 2 ] || fail "dialerd did not reconnect exactly once"
if grep -q "duplicate_event\|event_gap" "$dir/injector.out"; then
    fail "duplicate or missing event: $out"
fi
for s in "1 state=answered" "2 state=answered"; do
    [ "$(grep -c "^event attempt=$s " "$dir/injector.out")" = 1 ] ||
        fail "attempt $s: not exactly one event"
done
assert_contains "$(ended_line 1)" "outcome=answered sip_status=200 hung_up_by=customer"
assert_contains "$(ended_line 2)" "outcome=answered sip_status=200 hung_up_by=dialer"
assert_contains "$(ended_line 3)" "outcome=refused"
# Numbered without a gap across the cut; the event kept while down was the one replayed.
seqs=$(sed -n 's/^event .* seq=\([0-9]*\)$/\1/p' "$dir/injector.out" | tr '\n' ' ')
n=$(grep -c '^event ' "$dir/injector.out")
assert_eq "$(seq -s ' ' 1 "$n") " "$seqs"
wait_for_log "$dir/dialerd.log" 'events_resumed server_last_seq=[0-9]+ replayed=1' 5

trunk_ok bye
trunk_ok held
stop_dialerd
echo "PASS dialer_link"
