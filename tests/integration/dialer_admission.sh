#!/usr/bin/env bash
# carillon-dialerd's admission control and stop: max_calls refuses, the calls-per-second bucket
# queues then dials, a CancelCall reaches an order still queued (no INVITE), SIGHUP announces the
# new capacity, and a graceful stop lets live calls go on until shutdown_timeout, hangs them up,
# reports them and exits 0.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

dl_setup dialer-adm
start_trunk hold uas_answer_hold.xml 5 # answers and keeps each call until our BYE

# max_calls = 2, max_cps = 2 (one token at a time, one every 500 ms):
#  1 dials at once, 2 waits for a token, 3 finds two calls admitted and is refused;
#  after both hang up, 4 dials, 5 is queued and cancelled there (never dialled);
#  hold: the test raises max_cps by SIGHUP (max_calls can only go down without a restart); 6 and 7 go up; hold: the test sends TERM;
#  8 is refused (stopping), 6 and 7 are hung up at shutdown_timeout and reported.
cat >"$dir/script" <<EOF
call 1 0611111111
call 2 0622222222
call 3 0633333333
wait 3 ended
wait 1 answered
wait 2 answered
hangup 1
hangup 2
wait 1 ended
wait 2 ended
call 4 0644444444
call 5 0655555555
cancel 5
wait 5 ended
wait 4 answered
hangup 4
wait 4 ended
hold
call 6 0666666666
call 7 0677777777
wait 6 answered
wait 7 answered
hold
call 8 0688888888
wait 8 ended
wait 6 ended
wait 7 ended
EOF
start_injector
start_dialerd "${port[hold]}" "max_calls = 2\nmax_cps = 2\nshutdown_timeout = 1s"

# SIGHUP: a new capacity is announced on the live link.
wait_for_log "$dir/injector.out" '^holding$' 20
sed -i 's/^max_cps = 2$/max_cps = 4/' "$dir/dialerd.conf"
kill -HUP "$dialerd"
wait_for_log "$dir/injector.out" '^capacity max_calls=2 max_cps=4 ' 10
kill -USR1 "$inj"

# Graceful stop with two live calls.
wait_for_log "$dir/injector.out" '^event attempt=7 state=answered ' 20
wait_for_count "$dir/injector.out" '^holding$' 2
kill -TERM "$dialerd"
wait_for_log "$dir/dialerd.log" 'stopping mode=graceful' 10
kill -USR1 "$inj"
injector_ok

assert_contains "$(grep '^capacity ' "$dir/injector.out" | head -1)" "capacity max_calls=2 max_cps=2 active=0"
assert_contains "$(ended_line 3)" "outcome=refused sip_status=0"
assert_contains "$(ended_line 3)" 'detail="max_calls reached"'
for a in 1 2; do assert_contains "$(ended_line $a)" "outcome=answered sip_status=200 hung_up_by=dialer"; done
# 2 waited for the bucket: its INVITE left at least ~1/max_cps after 1's.
s1=$(ended_line 1 | sed -n 's/.* sent_at_us=\([0-9]*\) .*/\1/p')
s2=$(ended_line 2 | sed -n 's/.* sent_at_us=\([0-9]*\) .*/\1/p')
[ $((s2 - s1)) -ge 400000 ] || fail "order 2 was dialled $(((s2 - s1) / 1000)) ms after order 1 (max_cps = 2)"
assert_contains "$(ended_line 4)" "outcome=answered sip_status=200 hung_up_by=dialer"
assert_contains "$(ended_line 5)" "outcome=cancelled sip_status=0"
assert_contains "$(ended_line 5)" 'detail="cancelled by order before dialling"'
if grep -q "call_sent attempt=5 " "$dir/dialerd.log"; then fail "the cancelled order 5 was dialled"; fi
assert_contains "$(ended_line 8)" "outcome=refused"
assert_contains "$(ended_line 8)" 'detail="dialer stopping"'
for a in 6 7; do assert_contains "$(ended_line $a)" "outcome=answered sip_status=200 hung_up_by=dialer"; done
wait_for_log "$dir/dialerd.log" 'shutdown_timeout calls=2 action=hangup' 5
# The trunk saw exactly the five dialled calls (1, 2, 4, 6, 7) end with our BYE.
trunk_ok hold
dialerd_exited_ok 20
echo "PASS dialer_admission"
