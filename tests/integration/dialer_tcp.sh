#!/usr/bin/env bash
# carillon-dialerd towards a trunk over TCP (transport = tcp): a call dialled by number through
# the configured trunk and one to a sip: URI both go out over TCP (SIPp listens on TCP only), one
# answered then hung up by order, one busy; the outcomes and statuses arrive as over UDP.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

dl_setup dialer-tcp
start_trunk hold uas_answer_hold.xml 1 -t t1
start_trunk busy uas_486.xml 1 -t t1
cat >"$dir/script" <<EOF
call 1 0612345678
wait 1 answered
hangup 1
wait 1 ended
call 2 sip:0612345678@127.0.0.1:${port[busy]}
wait 2 ended
EOF
start_injector
start_dialerd "${port[hold]}" "transport = tcp"
injector_ok
assert_contains "$(ended_line 1)" "outcome=answered sip_status=200 hung_up_by=dialer"
assert_contains "$(ended_line 2)" "outcome=busy sip_status=486"
wait_for_log "$dir/dialerd.log" 'call_sent attempt=1 to="sip:0612345678@127.0.0.1:[0-9]+;transport=tcp"' 1
wait_for_log "$dir/dialerd.log" 'call_sent attempt=2 to="sip:0612345678@127.0.0.1:[0-9]+;transport=tcp"' 1
trunk_ok hold
trunk_ok busy
stop_dialerd
echo "PASS dialer_tcp"
