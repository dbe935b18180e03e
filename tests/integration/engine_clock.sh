#!/usr/bin/env bash
# The engine's clock: test builds take [testing] clock_offset (seconds added to the engine's
# clock, reloaded with SIGHUP), and the engine evaluates schedules with it: a campaign whose only
# slot is Monday 10:00-11:00 (Europe/Paris) is in its schedule at Monday 10:30 engine time and
# outside it at 11:30, whatever the real time; a campaign past its end date (at_end_date) and one
# that reached its positive target finish and say why. The plain build refuses the key.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
cr_stack_up
conf=$CARILLON_STACK_DIR/server.conf
log=$CARILLON_STACK_DIR/server.log
assert_exit 0 carillonctl user add a1 --role agent --password-stdin <<<'agent-pass-1'
cat >"$CARILLON_STACK_DIR/horloge.yaml" <<'EOF'
name: 'Horloge'
time_zone: 'Europe/Paris'
qualification_mode: manual
qualification_group: 'g'
qualifications:
- {code: 'OK', name: 'OK', type: positive, final: true, groups: ['g']}
agents: ['a1']
schedule:
- {day: monday, start: '10:00', end: '11:00'}
EOF
assert_exit 0 carillonctl apply -f "$CARILLON_STACK_DIR/horloge.yaml"
assert_exit 0 carillonctl contact add --campaign Horloge --phone '06 12 34 56 78' --field last_name=Lefèvre
assert_exit 0 carillonctl campaign state Horloge ready
assert_exit 0 carillonctl campaign state Horloge running

# set_clock 'DATE': the engine's clock at that Europe/Paris time (date -d syntax)
set_clock() {
    local target now
    target=$(TZ=Europe/Paris date -d "$1" +%s)
    now=$(date +%s)
    sed -i '/^\[testing\]/,$d' "$conf"
    printf '[testing]\nclock_offset = %d\n' $((target - now)) >>"$conf"
    local before
    before=$(grep -c ' reloaded ' "$log" || true)
    kill -HUP "$(cat "$CARILLON_STACK_DIR/server.pid")"
    local start=$SECONDS
    until [ "$(grep -c ' reloaded ' "$log" || true)" -gt "$before" ]; do
        [ $((SECONDS - start)) -lt 10 ] || fail "no reload"
        sleep 0.05
    done
}
# stats_until PATTERN: campaign stats shows PATTERN within 10 s (the engine reloads each second)
stats_until() {
    local start=$SECONDS
    until carillonctl campaign stats Horloge 2>/dev/null | grep -qE "$1"; do
        [ $((SECONDS - start)) -lt 10 ] || {
            carillonctl campaign stats Horloge >&2 || true
            fail "campaign stats never showed '$1'"
        }
        sleep 0.2
    done
}
set_clock 'next monday 10:30'
stats_until 'in schedule +yes'
stats_until 'idle +no dialer connected'
# (JSON times are in the viewer's zone: here Paris, like the campaign)
assert_exit 0 env TZ=Europe/Paris carillonctl --json campaign stats Horloge
assert_contains "$OUT" "T10:3"
assert_contains "$(jq -r .at <<<"$OUT")" "+01:00"
set_clock 'next monday 11:30'
stats_until 'in schedule +no'
wait_for_log "$log" 'campaign_idle campaign="?Horloge"? reason="?outside its schedule' 10
set_clock 'next monday 10:59'
stats_until 'in schedule +yes'

# stop conditions finish a running campaign and say why: the positive target, the end date
# (days are the campaign's own, at the engine's clock)
stop_campaign() { # NAME STOP_YAML [END_DATE]
    sed -e "s/^name: .*/name: '$1'/" "$CARILLON_STACK_DIR/horloge.yaml" >"$CARILLON_STACK_DIR/$1.yaml"
    printf 'stop: %s\n' "$2" >>"$CARILLON_STACK_DIR/$1.yaml"
    [ -z "${3:-}" ] || printf "end_date: '%s'\n" "$3" >>"$CARILLON_STACK_DIR/$1.yaml"
    assert_exit 0 carillonctl apply -f "$CARILLON_STACK_DIR/$1.yaml"
    assert_exit 0 carillonctl contact add --campaign "$1" --phone '06 12 34 56 71'
    assert_exit 0 carillonctl contact add --campaign "$1" --phone '06 12 34 56 72'
    assert_exit 0 carillonctl campaign state "$1" ready
    assert_exit 0 carillonctl campaign state "$1" running
}
stop_campaign Objectif '{positive_target: 1}'
psql -Atc "update contacts set state = 'done', last_qualification = 'OK'
    where id = (select min(id) from contacts where campaign_id =
                (select id from campaigns where name = 'Objectif'))" >/dev/null
wait_for_log "$log" 'campaign_finished campaign="?Objectif"? reason="its positive target was reached"' 10
assert_eq finished "$(psql -Atc "select state from campaigns where name = 'Objectif'")"
assert_contains "$(psql -Atc "select detail from audit_log where action = 'campaign.state.finished'")" \
    'positive target'
end=$(date -d "$(TZ=Europe/Paris date -d 'next monday' +%F) + 3 days" +%F)
stop_campaign Echeance '{at_end_date: true}' "$end"
set_clock "$(date -d "$end + 1 day" +%F) 12:00"
wait_for_log "$log" 'campaign_finished campaign="?Echeance"? reason="its end date passed"' 10
assert_eq running "$(psql -Atc "select state from campaigns where name = 'Horloge'")"

# the plain build (no CARILLON_TESTING) refuses the key
plain=$CARILLON_SOURCE_DIR/build/bin/carillon-server
if [ -x "$plain" ] && ! strings "$plain" | grep -q 'seconds added to the engine'; then
    assert_exit 2 "$plain" --config "$conf"
    assert_contains "$ERR" "there is no section [testing]"
else
    echo "note: no plain build at $plain: its refusal of [testing] is not checked here" >&2
fi
echo "PASS engine_clock"
