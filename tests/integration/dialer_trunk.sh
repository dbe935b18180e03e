#!/usr/bin/env bash
# carillon-dialerd against a real carrier's transaction behaviours (issue 13), each a SIPp trunk
# (tests/sipp/trunk_*.xml): a 302 is followed by dialerd itself (follow_redirects = 1), to the
# trunk's host only, keeping the dialled number, each hop logged; a second hop, or a Contact of
# another host, ends the call trunk_failure 302 saying why; with the default (0) a 302 ends the
# call with its Contact in the detail. A ring timeout after a lone 100 Trying (kept by nta)
# sends the CANCEL at once; before any provisional, the CANCEL is held until the trunk's first
# provisional (then sent at once) or the INVITE ends at timer B with no CANCEL on the wire, each
# said in the detail; a 200 OK after timer B is ACKed and hung up. Broken in-dialog requests (swapped tags, broken
# request lines) leave an answered call as it was. A 503 with Retry-After ends the call at once
# (sofia would re-send the INVITE itself) and holds new calls for the period, capped by
# max_trunk_hold: orders meanwhile are refused, the capacity reports hold_ms, then 0.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

dl_setup dialer-trunk
start_trunk tgt trunk_redirect_target.xml
start_trunk r3 trunk_302.xml 1 -set contact "sip:0612345678@127.0.0.1:9"
start_trunk r1 trunk_302.xml 1 -set contact "sip:127.0.0.1:${port[tgt]}"
start_trunk r2 trunk_302.xml 1 -set contact "sip:0612345678@127.0.0.1:${port[r3]}"
start_trunk r4 trunk_302.xml 1 -set contact "sip:0699000001@elsewhere.example"
start_trunk silent trunk_silent.xml 1 -trace_msg -message_file "$dir/silent_msgs.log"
start_trunk t100 trunk_100_only.xml 1 -trace_msg -message_file "$dir/t100_msgs.log"
start_trunk mal trunk_malformed_indialog.xml 1 -trace_msg -message_file "$dir/mal_msgs.log"
start_trunk r503 trunk_503_retry_after.xml 1 -trace_msg -message_file "$dir/r503_msgs.log"
start_trunk after uas_486.xml 1

u() { echo "sip:0612345678@127.0.0.1:${port[$1]}"; }
# in_range N MIN MAX: N is a number, MIN <= N < MAX
in_range() { [[ "$1" =~ ^[0-9]+$ ]] && (($1 >= $2 && $1 < $3)); }
{
    echo "call 1 $(u r1)"
    echo "call 2 $(u r2)"
    echo "call 3 $(u r4)"
    echo "call 4 $(u silent) ring_timeout_ms=300"
    echo "call 5 $(u mal)"
    echo "call 10 $(u t100) ring_timeout_ms=300"
    for a in 1 2 3 4 5 10; do echo "wait $a ended"; done
    echo "call 6 $(u r503)"
    echo "wait 6 ended"
    echo "call 7 $(u after)"
    echo "wait 7 ended"
    echo "hold" # until the hold is over (dialerd logs trunk_hold_end)
    echo "call 8 $(u after)"
    echo "wait 8 ended"
} >"$dir/script"
start_injector
start_dialerd 9 "" "follow_redirects = 1\nredirect_domains = a.example, b.example\nmax_trunk_hold = 2s"
wait_for_log "$dir/injector.out" '^holding$' 30
wait_for_log "$dir/dialerd.log" 'trunk_hold_end ' 10
kill -USR1 "$inj"
injector_ok

# 302, followed once to the trunk's host: the number dialled kept (the Contact had no user part:
# trunk_redirect_target.xml checks the request URI and To), the hop logged.
assert_contains "$(ended_line 1)" 'outcome=busy sip_status=486'
assert_contains "$(grep "call_redirected attempt=1 " "$dir/dialerd.log")" "hop=1 from=\"sip:0612345678@127.0.0.1:${port[r1]}\" to=\"sip:0612345678@127.0.0.1:${port[tgt]}\""
# a second hop is beyond follow_redirects = 1; a Contact on another host is refused
l2=$(ended_line 2)
assert_contains "$l2" 'outcome=trunk_failure sip_status=302'
assert_contains "$l2" 'detail="302 redirect refused (follow_redirects hops used); Contact: <sip:0612345678@127.0.0.1:9>"'
l3=$(ended_line 3)
assert_contains "$l3" 'outcome=trunk_failure sip_status=302'
assert_contains "$l3" "detail=\"302 redirect refused (host not the trunk's nor in redirect_domains); Contact: <sip:0699000001@elsewhere.example>\""

# ring timeout before any provisional (RFC 3261 9.1: no CANCEL yet): the CANCEL was held and
# reached SIPp within 1 s of its 180 (trunk_silent.xml), 487; the detail says when it went; no
# RINGING for a call already being cancelled, and no INVITE retransmitted after the CANCEL
l4=$(ended_line 4)
assert_contains "$l4" 'outcome=no_answer sip_status=487'
assert_contains "$l4" "detail=\"ring timeout: CANCEL held until the trunk's first provisional response, sent "
held=$(sed -n 's/.* sent \([0-9]*\) ms after the timeout".*/\1/p' <<<"$l4")
in_range "$held" 500 3000 ||
    fail "call 4: the CANCEL went ${held:-?} ms after the ring timeout, not with the 180 (~900 ms)"
if grep -q '^event attempt=4 state=ringing' "$dir/injector.out"; then
    fail "call 4: RINGING reported after the ring timeout"
fi
trunk_ok silent
grep -n '^CANCEL sip:' "$dir/silent_msgs.log" >/dev/null || fail "the silent trunk got no CANCEL"
last_invite=$(grep -n '^INVITE sip:' "$dir/silent_msgs.log" | tail -1 | cut -d: -f1)
first_cancel=$(grep -n '^CANCEL sip:' "$dir/silent_msgs.log" | head -1 | cut -d: -f1)
[ "$last_invite" -lt "$first_cancel" ] || fail "the INVITE was retransmitted after the CANCEL"

# a lone 100 Trying (nta keeps it from dialerd): the ring timeout's CANCEL went out at once
# (trunk_100_only.xml waits for it), 487: no_answer
l10=$(ended_line 10)
assert_contains "$l10" 'outcome=no_answer sip_status=487'
assert_contains "$l10" 'detail="ring timeout"'
ring10=$(sed -n 's/.* ring_ms=\([0-9]*\) .*/\1/p' <<<"$(grep 'call_ended attempt=10 ' "$dir/dialerd.log")")
in_range "$ring10" 0 1500 || fail "call 10 ended ${ring10:-?} ms after its INVITE"
trunk_ok t100
[ "$(grep -c '^CANCEL sip:' "$dir/t100_msgs.log")" = 1 ] || fail "the 100-only trunk: not one CANCEL"

# malformed in-dialog requests: 481 for the swapped tags, the broken request lines dropped; the
# call went on until the good BYE
l5=$(ended_line 5)
assert_contains "$l5" 'outcome=answered sip_status=200 hung_up_by=customer'
assert_contains "$l5" 'detail="customer hung up"'
[ "$(grep -c '^event attempt=5 state=answered ' "$dir/injector.out")" = 1 ] ||
    fail "call 5: not exactly one ANSWERED event"

# 503 Retry-After: 120 ends at once, one INVITE only; the hold is capped at max_trunk_hold (2 s)
l6=$(ended_line 6)
assert_contains "$l6" 'outcome=trunk_failure sip_status=503'
assert_contains "$l6" 'detail="trunk 503 Retry-After: 120 s"'
ring6=$(sed -n 's/.* ring_ms=\([0-9]*\) .*/\1/p' <<<"$l6")
[ "$ring6" -lt 1000 ] || fail "call 6 ended ${ring6} ms after its INVITE, not at once"
assert_contains "$(ended_line 7)" 'outcome=refused sip_status=0'
assert_contains "$(ended_line 7)" 'detail="trunk hold: '
assert_contains "$(ended_line 7)" ' ms left (503 Retry-After)"'
assert_contains "$(cat "$dir/injector.out")" 'hold_ms=2000 hold_reason="trunk 503 Retry-After: 120"'
[ "$(grep -c '^capacity .* hold_ms=0 ' "$dir/injector.out")" = 2 ] ||
    fail "not two capacities without a hold (the first, and the hold's end)"
wait_for_log "$dir/dialerd.log" 'trunk_hold_start attempt=6 hold_ms=2000 retry_after_s=120' 1
assert_contains "$(ended_line 8)" 'outcome=busy sip_status=486'
stop_dialerd
for t in tgt r1 r2 r3 r4 mal r503 after; do trunk_ok "$t"; done
n=$(grep -c '^INVITE sip:' "$dir/r503_msgs.log")
[ "$n" = 1 ] || fail "the 503 trunk received $n INVITEs: sofia re-sent it"

# The default, follow_redirects = 0: a 302 ends the call, its Contacts in the detail. With a
# 4 s transaction_timeout: a trunk that never responds gets no CANCEL, its INVITE ends at timer B.
start_trunk r5 trunk_302.xml 1 -set contact "sip:0612345678@127.0.0.1:9"
start_trunk never trunk_never_responds.xml 1 -trace_msg -message_file "$dir/never_msgs.log"
{
    echo "call 9 $(u r5)"
    echo "call 11 $(u never) ring_timeout_ms=300"
    echo "wait 9 ended"
    echo "wait 11 ended"
} >"$dir/script"
start_injector
start_dialerd 9 "transaction_timeout = 4s"
injector_ok
l11=$(ended_line 11)
assert_contains "$l11" 'outcome=trunk_failure sip_status=0'
assert_contains "$l11" 'detail="ring timeout: the trunk never responded; INVITE ended by timer B, no CANCEL sent (RFC 3261 section 9.1)"'
ring11=$(sed -n 's/.* ring_ms=\([0-9]*\) .*/\1/p' <<<"$(grep 'call_ended attempt=11 ' "$dir/dialerd.log")")
in_range "$ring11" 3500 6000 ||
    fail "call 11 ended ${ring11:-?} ms after its INVITE, not at timer B (4 s)"
if grep -q 'call_guard_expired attempt=11 ' "$dir/dialerd.log"; then fail "call 11: the guard fired"; fi
l9=$(ended_line 9)
assert_contains "$l9" 'outcome=trunk_failure sip_status=302'
assert_contains "$l9" 'detail="302 redirect not followed (follow_redirects = 0); Contact: <sip:0612345678@127.0.0.1:9>"'
trunk_ok never # the late 200 OK (1 s after timer B) was ACKed and hung up by the running dialerd
stop_dialerd
trunk_ok r5
if grep -q '^CANCEL ' "$dir/never_msgs.log"; then fail "a CANCEL was sent before any provisional"; fi
echo "PASS dialer_trunk"
