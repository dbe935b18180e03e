#!/usr/bin/env bash
# carillon-dialerd against SIPp trunks (tests/sipp/uas_*.xml), driven by cr-injector playing
# carillon-server: every outcome of a customer call reaches the server with its exact SIP status.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

dl_setup dialer-it
start_trunk remote_bye uas_answer_remote_bye.xml
for s in 486 600 404 484 604 403 603 408 480 503; do start_trunk "s$s" "uas_$s.xml"; done
start_trunk ring uas_ring_forever.xml
start_trunk ring_cancel uas_ring_forever.xml
start_trunk crossing uas_cancel_crossing_200.xml
start_trunk early uas_early_media_183.xml
start_trunk auth uas_auth_407.xml
start_trunk auth401 uas_auth_401.xml
closed_port=$(free_port) # nothing listens there: the trunk is unreachable

# Attempt ids: 1 remote BYE, 2.. final statuses, 20 ring timeout, 21 cancel order, 22 CANCEL
# crossing 200, 23 early media, 24 digest auth (407), 25 unreachable trunk, 26 bad number,
# 27 digest auth (401, hash checked by SIPp).
u() { echo "sip:0612345678@127.0.0.1:$1"; }
# The 486 trunk is the configured [trunk] uri: attempt 2 is dialled by number through it.
cat >"$dir/script" <<EOF
call 1 $(u "${port[remote_bye]}") caller_id=0187654321 caller_name=Carillon
call 2 0612345678
call 3 $(u "${port[s600]}")
call 4 $(u "${port[s404]}")
call 5 $(u "${port[s484]}")
call 6 $(u "${port[s604]}")
call 7 $(u "${port[s403]}")
call 8 $(u "${port[s603]}")
call 9 $(u "${port[s408]}")
call 10 $(u "${port[s480]}")
call 11 $(u "${port[s503]}")
call 20 $(u "${port[ring]}") ring_timeout_ms=1500
call 21 $(u "${port[ring_cancel]}") ring_timeout_ms=20000
call 22 $(u "${port[crossing]}") ring_timeout_ms=1500
call 23 $(u "${port[early]}") privacy=1
call 24 $(u "${port[auth]}")
call 25 $(u "$closed_port")
call 26 06-12
call 27 $(u "${port[auth401]}")
wait 21 ringing
cancel 21
wait 23 answered
hangup 23
wait 24 answered
hangup 24
wait 27 answered
hangup 27
wait 1 ended
wait 2 ended
wait 3 ended
wait 4 ended
wait 5 ended
wait 6 ended
wait 7 ended
wait 8 ended
wait 9 ended
wait 10 ended
wait 11 ended
wait 20 ended
wait 21 ended
wait 22 ended
wait 23 ended
wait 24 ended
wait 25 ended
wait 26 ended
wait 27 ended
EOF

start_injector
start_dialerd "${port[s486]}" "max_calls = 50\nmax_cps = 200\nring_timeout = 30s\nshutdown_timeout = 5s" \
    "username = dialer\npassword = secret"
injector_ok
out=$(cat "$dir/injector.out")
assert_contains "$out" "hello role=4 node=\"dialer-it\" cert_role=dialer"
assert_contains "$out" "capacity max_calls=50 max_cps=200 active=0"

# ended ID OUTCOME STATUS [HUNG_UP_BY]: the attempt's ENDED event says exactly that.
ended() {
    local line
    line=$(grep "^event attempt=$1 state=ended " "$dir/injector.out") ||
        fail "no ended event for attempt $1"
    [ "$(grep -c "^event attempt=$1 state=ended " "$dir/injector.out")" = 1 ] ||
        fail "attempt $1 ended more than once"
    assert_contains "$line" " outcome=$2 sip_status=$3 hung_up_by=${4:-none} "
    LINE=$line
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$LINE"; }

ended 1 answered 200 customer
[ "$(field talk_ms)" -ge 400 ] || fail "attempt 1: talk_ms $(field talk_ms), expected >= 400"
if [ "$(field ringing_at_us)" = 0 ] || [ "$(field answered_at_us)" = 0 ]; then fail "attempt 1: $LINE"; fi
[ "$(field call_id)" != - ] || fail "attempt 1 has no SIP Call-ID: $LINE"
grep -q "^event attempt=1 state=ringing " "$dir/injector.out" || fail "attempt 1: no ringing event"
grep -q "^event attempt=1 state=answered .* sip_status=200 " "$dir/injector.out" ||
    fail "attempt 1: no answered event"
ended 2 busy 486
ended 3 busy 600
ended 4 invalid_number 404
ended 5 invalid_number 484
ended 6 invalid_number 604
ended 7 rejected 403
ended 8 rejected 603
ended 9 no_answer 408
ended 10 no_answer 480
ended 11 trunk_failure 503
ended 20 no_answer 487
assert_contains "$LINE" 'detail="ring timeout"'
ended 21 cancelled 487
ended 22 no_answer 200 dialer
assert_contains "$LINE" "crossed the CANCEL"
[ "$(field answered_at_us)" != 0 ] || fail "attempt 22: the crossing 200 left no answered_at: $LINE"
grep -q "^event attempt=22 state=answered " "$dir/injector.out" &&
    fail "attempt 22: a 200 crossing our CANCEL was reported as answered"
ended 23 answered 200 dialer
[ "$(field ringing_at_us)" != 0 ] || fail "attempt 23: 183 not reported as ringing: $LINE"
ended 24 answered 200 dialer
ended 27 answered 200 dialer
ended 25 trunk_failure 503
ended 26 refused 0
assert_contains "$LINE" "number is not"

# The trunks saw what they expected (SIPp exits 0 when its one call succeeded).
for t in remote_bye s486 s600 s404 s484 s604 s403 s603 s408 s480 s503 ring ring_cancel crossing \
    early auth auth401; do
    trunk_ok "$t"
done

# Graceful stop: exits 0, no sanitizer report.
stop_dialerd
echo "PASS dialer_outcomes"
