#!/usr/bin/env bash
# carillon-dialerd keeps its calls when the server link is cut, buffers their events, and after
# reconnecting replays exactly the ones the server has not stored: no loss, no duplicate.
# cr-injector plays the server (DialerResume/EventAck, duplicate detection); SIPp plays the trunk.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

command -v sipp >/dev/null || fail "sipp (Debian package sip-tester) is required"
for b in carillon-dialerd cr-injector; do
    [ -x "$CARILLON_BUILD_DIR/bin/$b" ] || fail "$CARILLON_BUILD_DIR/bin/$b is not built"
done

dir=$(mktemp -d /tmp/carillon-dialer-link-XXXXXX)
trap_add "if [ -z \"\${KEEP:-}\" ]; then rm -rf '$dir'; else echo 'kept $dir' >&2; fi"
"$CARILLON_SOURCE_DIR/deploy/pki.sh" ca "$dir" >/dev/null
"$CARILLON_SOURCE_DIR/deploy/pki.sh" node "$dir" server injector >/dev/null
"$CARILLON_SOURCE_DIR/deploy/pki.sh" node "$dir" dialer dialer-link >/dev/null

used_ports=" "
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 30000))
        case "$used_ports" in *" $p "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null &&
            ! ss -Hlun "sport = :$p" 2>/dev/null | grep -q .; then
            used_ports+="$p "
            echo "$p"
            return 0
        fi
    done
    fail "no free port"
}

pids=()
stop_all() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap_add stop_all

declare -A port pid
start_trunk() {
    local name=$1 scen=$2
    port[$name]=$(free_port)
    sipp -sf "$CARILLON_SOURCE_DIR/tests/sipp/$scen" -i 127.0.0.1 -p "${port[$name]}" \
        -mp "$(free_port)" -m 1 -nostdin -timeout 60s -timeout_error -trace_err \
        -error_file "$dir/sipp_$name.err" >"$dir/sipp_$name.out" 2>&1 &
    pids+=($!)
    pid[$name]=$!
}
start_trunk bye uas_answer_bye_2s.xml # the customer hangs up 2 s after answering
start_trunk held uas_early_media_183.xml # answered, stays up until we hang up
sip_port=$(free_port)

u() { echo "sip:0612345678@127.0.0.1:$1"; }
# 1 and 2 are answered; the link is cut; the customer of 1 hangs up while it is down (the test
# releases the hold once dialerd has buffered that ENDED event); after the reconnect the event
# arrives once, call 2 is still up and takes a hangup order, and a new order is placed.
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

cr-injector --listen 127.0.0.1:0 --ca "$dir/ca.pem" --cert "$dir/injector.pem" \
    --key "$dir/injector.key" --timeout 60 --script "$dir/script" >"$dir/injector.out" 2>&1 &
inj=$!
pids+=("$inj")
wait_for_log "$dir/injector.out" '^listening port=' 10
inj_port=$(sed -n 's/^listening port=//p' "$dir/injector.out")

cat >"$dir/dialerd.conf" <<EOF
[dialer]
node_name = dialer-link
sip_address = 127.0.0.1
sip_port = $sip_port
max_calls = 10
max_cps = 50
rtp_port_min = 41000
rtp_port_max = 41099
shutdown_timeout = 5s
event_buffer = 100
[trunk]
uri = sip:127.0.0.1:${port[held]}
[server]
address = 127.0.0.1:$inj_port
tls_ca = $dir/ca.pem
tls_cert = $dir/dialer-link.pem
tls_key = $dir/dialer-link.key
EOF
carillon-dialerd --config "$dir/dialerd.conf" >"$dir/dialerd.log" 2>&1 &
dialerd=$!
pids+=("$dialerd")

# The link is down and the customer of call 1 has hung up: dialerd keeps the ENDED event.
wait_for_log "$dir/injector.out" '^holding$' 20
wait_for_log "$dir/dialerd.log" 'server_link_down' 10
wait_for_log "$dir/dialerd.log" 'event_buffered attempt=1 state=3 ' 20
if grep -q '^event attempt=1 state=ended ' "$dir/injector.out"; then
    fail "the ENDED event of call 1 reached the injector while the link was down"
fi
kill -USR1 "$inj"

rc=0
wait "$inj" || rc=$?
if [ "$rc" != 0 ]; then
    cat "$dir/injector.out" >&2
    tail -30 "$dir/dialerd.log" >&2
    fail "cr-injector exited $rc (4: an event arrived twice)"
fi
out=$(cat "$dir/injector.out")
assert_contains "$out" "released"
[ "$(grep -c '^capacity ' "$dir/injector.out")" = 2 ] || fail "dialerd did not reconnect exactly once"
if grep -q "duplicate_event\|event_gap" "$dir/injector.out"; then
    fail "duplicate or missing event: $out"
fi
# Every event of every call, once each.
for s in "1 state=answered" "1 state=ended" "2 state=answered" "2 state=ended" "3 state=ended"; do
    [ "$(grep -c "^event attempt=$s " "$dir/injector.out")" = 1 ] ||
        fail "attempt $s: not exactly one event"
done
assert_contains "$(grep '^event attempt=1 state=ended ' "$dir/injector.out")" \
    "outcome=answered sip_status=200 hung_up_by=customer"
assert_contains "$(grep '^event attempt=2 state=ended ' "$dir/injector.out")" \
    "outcome=answered sip_status=200 hung_up_by=dialer"
assert_contains "$(grep '^event attempt=3 state=ended ' "$dir/injector.out")" "outcome=refused"
# Numbered without a gap across the cut; the event kept while down was the one replayed.
seqs=$(sed -n 's/^event .* seq=\([0-9]*\)$/\1/p' "$dir/injector.out" | tr '\n' ' ')
n=$(grep -c '^event ' "$dir/injector.out")
assert_eq "$(seq -s ' ' 1 "$n") " "$seqs"
wait_for_log "$dir/dialerd.log" 'events_resumed server_last_seq=[0-9]+ replayed=1' 5

for t in bye held; do
    trc=0
    timeout 20 tail --pid="${pid[$t]}" -f /dev/null || true
    wait "${pid[$t]}" || trc=$?
    if [ "$trc" != 0 ]; then
        cat "$dir/sipp_$t.err" >&2 2>/dev/null || true
        fail "SIPp trunk $t exited $trc"
    fi
done
kill -TERM "$dialerd"
wait_for_exit "$dialerd" 20
drc=0
wait "$dialerd" || drc=$?
[ "$drc" = 0 ] || { tail -30 "$dir/dialerd.log" >&2; fail "carillon-dialerd exited $drc"; }
if grep -q "Sanitizer" "$dir/dialerd.log"; then
    cat "$dir/dialerd.log" >&2
    fail "sanitizer report in dialerd.log"
fi
echo "PASS dialer_link"
