#!/usr/bin/env bash
# A trunk's 503 with Retry-After through every real part: the server's registry honours the
# dialer's hold (DialerCapacity.hold_ms). A progressive campaign, one call at a time, whose three
# numbers all end in 9 (tests/sipp/trunk_hold_engine.xml answers those 503 Retry-After: 3): each
# call ends trunk_failure 503 at once, dialerd holds the trunk 3 s and says so, the server places
# no call meanwhile (dialerd refuses none for the hold: the server sent nothing) and resumes by
# itself once the hold is over; the INVITEs reach the trunk 3 s apart.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

C='Pause opérateur'
dl_setup dialer-trunkhold
start_trunk hold trunk_hold_engine.xml 3 -trace_msg -message_file "$dir/trunk_msgs.log"
agent_phone 1
dl_trunks_ready

STACK_DIALER_KEYS="max_calls = 20\nmax_cps = 50\nabandon_after = 5s" \
    cr_stack_up --dialer --trunk "sip:127.0.0.1:${port[hold]}"
carillonctl user add agent1 --role agent --name 'Agent 1' --password-stdin \
    <<<"agent-pass-1" >/dev/null || fail "user add agent1"
{
    cat <<EOF
name: '$C'
time_zone: 'Europe/Paris'
dialing: {mode: progressive, call_order: customer_first, max_simultaneous_calls: 1,
          ring_timeout_s: 5, abandon_after_ms: 5000}
outcomes:
  trunk_failure: {retry_delay_s: 0, max_attempts: 1, after_last: failed}
stop: {when_all_done: true}
qualification_mode: manual
qualification_group: 'g'
qualifications:
- {code: 'VENTE', name: 'Vente', type: positive, final: true, groups: ['g']}
agents: ['agent1']
schedule:
EOF
    for d in monday tuesday wednesday thursday friday saturday sunday; do
        printf -- "- {day: %s, start: '00:00', end: '24:00'}\n" "$d"
    done
} >"$dir/campaign.yaml"
assert_exit 0 carillonctl apply -f "$dir/campaign.yaml"
{
    echo 'Nom;Tel1'
    for n in 1 2 3; do printf 'Lefèvre-%d;+336100000%d9\n' "$n" "$n"; done
} >"$dir/contacts.csv"
assert_exit 0 carillonctl list import "$dir/contacts.csv" --campaign "$C" --name 'mars' \
    --map 'Nom=last_name,Tel1=phone1'
assert_contains "$OUT" "3 imported"
assert_exit 0 carillonctl campaign state "$C" ready
assert_exit 0 carillonctl campaign state "$C" running
wait_for_log "$CARILLON_STACK_DIR/server.log" 'campaign_idle campaign="?Pause opérateur"? reason="?no agent ready' 20

start_cr_agents --timeout 60 \
    --agent "agent1:agent-pass-1:sip:agent1@127.0.0.1:${port[phone_1]}:$C"
wait_for_log "$dir/agents.out" '^state agent=agent1 state=ready' 30
wait_for_log "$CARILLON_STACK_DIR/server.log" 'campaign_finished campaign="?Pause opérateur"? reason="every contact is done"' 40
echo quit >&3
wait "$agents_pid" || { tail -20 "$dir/agents.out" >&2; fail "cr-agents did not log out cleanly"; }
trunk_ok hold

# every call ended at once as the trunk's 503; the dialer never had to refuse an order
assert_eq "trunk_failure:503 trunk_failure:503 trunk_failure:503 " \
    "$(psql -Atc "select outcome || ':' || sip_status from attempts order by id" | tr '\n' ' ')"
dlog=$(cat "$CARILLON_STACK_DIR/dialerd.log")
[ "$(grep -c 'trunk_hold_start ' <<<"$dlog")" = 3 ] || fail "dialerd did not hold the trunk three times"
[ "$(grep -c 'trunk_hold_end ' <<<"$dlog")" -ge 2 ] || fail "dialerd's holds did not end"
assert_not_contains "$dlog" 'trunk hold: '
slog=$(cat "$CARILLON_STACK_DIR/server.log")
[ "$(grep -cE 'dialer_hold node="?dialer1"? hold_ms=3000 ' <<<"$slog")" = 3 ] ||
    fail "the server did not record three holds of 3000 ms"
assert_contains "$slog" 'dialer_hold_end node='
# the INVITEs reached the trunk at least the hold apart (3 s, less the timers' slack)
times=$(awk '/^-+ [0-9-]+ [0-9:.]+$/ { t = $3 } /^INVITE sip:/ { print t }' "$dir/trunk_msgs.log")
[ "$(wc -l <<<"$times")" = 3 ] || fail "the trunk received $(wc -l <<<"$times") INVITEs, not 3"
prev=
while read -r t; do
    ms=$(date -d "1970-01-01 $t UTC" +%s%3N)
    if [ -n "$prev" ] && [ $((ms - prev)) -lt 2900 ]; then
        fail "an INVITE came $((ms - prev)) ms after the previous one, within the 3 s hold"
    fi
    prev=$ms
done <<<"$times"
echo "PASS dialer_trunkhold"
