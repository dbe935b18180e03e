#!/usr/bin/env bash
# Each dialing mode and the campaign controls against the real processes, on one stack: small
# campaigns run side by side, each on its own number range (the last digit is the trunk's fate:
# tests/sipp/engine_trunk.xml) with its own agents (cr-agents, SIPp softphones), and what each
# did is read back from PostgreSQL and the server's log:
#   max0     max_simultaneous_calls 0: an agent ready, never an attempt
#   sched    its only schedule slot is on another weekday: never an attempt
#   pvdial   preview, the agent dials every contact offered and qualifies it
#   pvskip   preview, the agent skips: back to waiting, trunk_failure's delay, not counted
#   pvwait   preview_timeout_s 1 with action dial: the agent does nothing, the engine dials
#   afirst   agent-first: the agent hears the call ring; busy numbers give it back
#   power    power_ratio 2, to its end (stop when_all_done)
#   predict  predictive, to its end
#   pause    paused while its agent talks: the call goes on, the qualification is kept, no
#            new call
#   wrapup   wrapup_max_s 1, the agent never qualifies: closed answered, the agent ready again
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

dl_setup engine-modes # $dir, port claims, process cleanup
# Ten campaigns are set up two at a time while eleven softphones start on a busy 2-core machine:
# a reply may take longer than carillonctl's default 10 s there (a CI run once saw the server
# answer nothing for 10 s during this set-up; not reproduced since).
carillonctl() { command carillonctl --timeout 30 "$@"; }
LOG= # the server's log, once the stack is up
start_engine_trunk

# every agent: a login, its softphone and the campaigns it logs in to
declare -A serves=([m1]="modes-max0,modes-sched" [pv1]=modes-pvdial [ps1]=modes-pvskip
    [pt1]=modes-pvwait [af1]=modes-afirst [pw1]=modes-power [pw2]=modes-power
    [pd1]=modes-predict [pd2]=modes-predict [pa1]=modes-pause [wr1]=modes-wrapup)
declare -A agent_arg
for a in "${!serves[@]}"; do
    agent_phone "$a"
    agent_arg[$a]="$a:agent-pass-$a:sip:$a@127.0.0.1:${port[phone_$a]}:${serves[$a]}"
done
dl_trunks_ready

STACK_DIALER_KEYS="max_calls = 100\nmax_cps = 50\nabandon_after = 5s" \
    cr_stack_up --dialer --trunk "sip:127.0.0.1:$trunk_port"
LOG=$CARILLON_STACK_DIR/server.log
# the set-up runs side by side (each carillonctl logs in on its own): bg holds the pids, and
# bg_ok waits for them all
bg=()
bg_ok() {
    local p
    for p in "${bg[@]}"; do wait "$p" || fail "$1 (its message is above)"; done
    bg=()
}
for a in "${!serves[@]}"; do
    carillonctl user add "$a" --role agent --password-stdin <<<"agent-pass-$a" >/dev/null &
    bg+=($!)
done
bg_ok "a user add failed"
deploy/pki.sh node "$CARILLON_STACK_DIR/pki" agentd agentd1 >/dev/null

# campaign NAME RANGE FATES [KEY=VALUE...]: applies campaign NAME (KEY=VALUE overrides a key of
# dialing: as dialing.KEY, the weekdays of its schedule as days="monday ...", any other key at
# the top), its agents those serving it, imports one contact per digit of FATES numbered
# +336 RANGE (2 digits) N (5 digits) FATE, and sets it running.
campaign() {
    local name=$1 range=$2 fates=$3 kv k v i d
    shift 3
    local -A dial=([mode]=progressive [call_order]=customer_first [max_simultaneous_calls]=10
        [ring_timeout_s]=5 [abandon_after_ms]=5000 [number_for_agents]="'+33140000000'"
        [number_for_customers]="'+33180000000'")
    local -A top=()
    local days="monday tuesday wednesday thursday friday saturday sunday" agents=''
    for kv in "$@"; do
        k=${kv%%=*} v=${kv#*=}
        case $k in
        dialing.*) dial[${k#dialing.}]=$v ;;
        days) days=$v ;;
        *) top[$k]=$v ;;
        esac
    done
    for k in "${!serves[@]}"; do
        [[ ,${serves[$k]}, == *,$name,* ]] && agents+="${agents:+, }'$k'"
    done
    {
        echo "name: '$name'"
        echo "time_zone: 'Europe/Paris'"
        echo "dialing:"
        for k in "${!dial[@]}"; do echo "  $k: ${dial[$k]}"; done
        cat <<EOF
outcomes:
  busy: {retry_delay_s: 0, max_attempts: 2, after_last: failed}
  no_answer: {retry_delay_s: 0, max_attempts: 1, after_last: shelved}
  trunk_failure: {retry_delay_s: 3600, max_attempts: 2, after_last: failed}
  abandoned: {retry_delay_s: 0, max_attempts: 3, after_last: failed}
stop:
  when_all_done: true
qualification_mode: manual
qualification_group: 'modes'
qualifications:
- {code: 'VENTE', name: 'Vente conclue', type: positive, final: true, groups: ['modes']}
agents: [$agents]
schedule:
EOF
        for d in $days; do printf -- "- day: %s\n  start: '00:00'\n  end: '24:00'\n" "$d"; done
        for k in "${!top[@]}"; do echo "$k: ${top[$k]}"; done
    } >"$dir/$name.yaml"
    assert_exit 0 carillonctl apply -f "$dir/$name.yaml"
    {
        echo 'Nom;Tel1'
        for ((i = 0; i < ${#fates}; i++)); do
            printf 'Client-%s-%d;+336%02d%05d%s\n' "$name" "$i" "$range" "$i" "${fates:i:1}"
        done
    } >"$dir/$name.csv"
    assert_exit 0 carillonctl list import "$dir/$name.csv" --campaign "$name" --name "$name" \
        --map 'Nom=last_name,Tel1=phone1'
    assert_contains "$OUT" "${#fates} imported"
    assert_exit 0 carillonctl campaign state "$name" ready
    assert_exit 0 carillonctl campaign state "$name" running
}

yesterday=$(LC_ALL=C TZ=Europe/Paris date -d yesterday +%A | tr '[:upper:]' '[:lower:]')
# two lanes: the server runs at most two imports of one user at a time (bulk.max_per_user)
{
    campaign modes-max0 10 0123 dialing.max_simultaneous_calls=0
    campaign modes-sched 11 01 days="$yesterday"
    campaign modes-pvdial 12 0123 dialing.mode=preview
    campaign modes-pvskip 13 0123 dialing.mode=preview
    campaign modes-pvwait 14 01 dialing.mode=preview dialing.preview_timeout_s=1 \
        dialing.preview_timeout_action=dial
} &
bg+=($!)
{
    campaign modes-afirst 15 0617 dialing.call_order=agent_first
    campaign modes-power 16 061789 dialing.mode=power dialing.power_ratio=2
    campaign modes-predict 17 061789 dialing.mode=predictive
    campaign modes-pause 18 0123
    campaign modes-wrapup 19 01 wrapup_max_s=1
} &
bg+=($!)
bg_ok "a campaign's set-up failed"

# 1. before any agent: each campaign says why it does not dial
idle() { wait_for_log "$LOG" "campaign_idle campaign=\"?$1\"? reason=\"?$2" "${3:-20}"; }
idle modes-max0 'max simultaneous calls is 0'
idle modes-sched 'outside its schedule'
for c in pvdial pvskip pvwait afirst power predict pause wrapup; do idle "modes-$c" 'no agent ready'; done

# agents NAME LOGIN... -- CR_AGENTS_OPTIONS...: a cr-agents run on its own link (node NAME), its
# output in $dir/NAME.out; its stdin is the FIFO $dir/NAME.in, held open on fd ${fd[NAME]}.
declare -A fd apid
agents() {
    local name=$1 l args=()
    shift
    while [ "$1" != -- ]; do args+=(--agent "${agent_arg[$1]}") && shift; done
    shift
    mkfifo "$dir/$name.in"
    cr-agents --server "$CARILLON_SERVER" --ca "$CARILLON_STACK_DIR/pki/ca.pem" \
        --cert "$CARILLON_STACK_DIR/pki/agentd1.pem" --key "$CARILLON_STACK_DIR/pki/agentd1.key" \
        --node "$name" --timeout 200 "$@" "${args[@]}" <"$dir/$name.in" >"$dir/$name.out" 2>&1 &
    apid[$name]=$!
    pids+=($!)
    exec {l}>"$dir/$name.in"
    fd[$name]=$l
}
# agents_done NAME [TIMEOUT]: the run (told to quit, or done by --calls) exited 0.
agents_done() {
    local rc=0
    timeout "${2:-60}" tail --pid="${apid[$1]}" -f /dev/null || true
    pid_alive "${apid[$1]}" && { tail -20 "$dir/$1.out" >&2; fail "cr-agents $1 still runs"; }
    wait "${apid[$1]}" || rc=$?
    [ "$rc" = 0 ] || { tail -20 "$dir/$1.out" >&2; fail "cr-agents $1 exited $rc"; }
}
quit() { echo quit >&"${fd[$1]}"; }
# q SQL: one value from the database; id_of LOGIN / camp NAME: ids for SQL
q() { psql -Atc "$1"; }
camp() { echo "(select id from campaigns where name = '$1')"; }
id_of() { echo "(select id from users where login = '$1')"; }
# poll SQL WANT [TIMEOUT]: until the query returns WANT
poll() {
    local start=$SECONDS got
    until got=$(q "$1") && [ "$got" = "$2" ]; do
        [ $((SECONDS - start)) -ge "${3:-30}" ] && fail "after ${3:-30}s, expected '$2', got '$got' from: $1"
        sleep 0.1
    done
}

# every run at once: the campaigns do not share agents or numbers
agents m m1 --
agents pv pv1 -- --preview dial --qualify VENTE --wrapup-ms 50 --calls 4
agents ps ps1 -- --preview skip
agents pt pt1 -- --preview wait --qualify VENTE --wrapup-ms 50 --calls 2
agents af af1 -- --qualify VENTE --wrapup-ms 50
agents pw pw1 pw2 -- --qualify VENTE --wrapup-ms 50
agents pd pd1 pd2 -- --qualify VENTE --wrapup-ms 50
agents pa pa1 -- --qualify VENTE --wrapup-ms 3000
agents wr wr1 --

# 5. pause while the agent talks (or, late, is in its 3 s wrap-up)
wait_for_log "$dir/pa.out" '^state agent=pa1 state=on_call' 30
paused_at=$(q "select now()")
assert_exit 0 carillonctl campaign state modes-pause paused
wait_for_log "$LOG" 'campaign_draining campaign="?modes-pause"?' 10
wait_for_log "$dir/pa.out" '^qualified agent=pa1' 20
wait_for_log "$LOG" 'campaign_unloaded campaign="?modes-pause"?' 10

# 2. preview: every contact offered, dialled, qualified by its agent
agents_done pv
assert_eq 4 "$(grep -c '^offered agent=pv1' "$dir/pv.out")"
assert_eq 4 "$(grep -c '^ok agent=pv1 request=dial' "$dir/pv.out")"
assert_eq 4 "$(q "select count(*) from attempts where campaign_id = $(camp modes-pvdial)
    and agent_id = $(id_of pv1) and outcome = 'answered' and counted and qualification = 'VENTE'")"
poll "select count(*) from contacts where campaign_id = $(camp modes-pvdial) and state = 'done'" 4
# skipped: not counted, back to waiting after trunk_failure's retry_delay_s (3600)
wait_for_count "$dir/ps.out" '^ok agent=ps1 request=skip' 4 30
poll "select count(*) from attempts x join contacts c on c.id = x.contact_id
    where x.campaign_id = $(camp modes-pvskip) and x.outcome = 'skipped' and not x.counted
    and x.agent_id = $(id_of ps1) and c.state = 'waiting' and c.attempts = 0
    and abs(extract(epoch from c.next_try - x.closed_at) - 3600) < 5" 4
assert_eq 4 "$(q "select count(*) from attempts where campaign_id = $(camp modes-pvskip)")"
quit ps
agents_done ps
# the preview's time is up: the engine dials
agents_done pt
assert_eq 2 "$(grep -cE 'preview_timeout agent=pt1 attempt=[0-9]+ action=dial' "$LOG")"
assert_eq 0 "$(grep -c '^ok agent=pt1 request=dial' "$dir/pt.out")"
assert_eq 2 "$(q "select count(*) from attempts where campaign_id = $(camp modes-pvwait)
    and agent_id = $(id_of pt1) and outcome = 'answered' and qualification = 'VENTE'
    and sent_at >= created_at + interval '1 s'")"

# 6. wrap-up maximum: never qualified, closed answered and counted, the agent ready again
wait_for_count "$LOG" 'wrapup_timeout agent=wr1 ' 2 30
wait_for_count "$dir/wr.out" '^state agent=wr1 state=ready' 3 10 # login, then after each call
poll "select count(*) from attempts where campaign_id = $(camp modes-wrapup) and outcome = 'answered'
    and counted and qualification is null and closed_at is not null and talk_ms > 0" 2
assert_eq 2 "$(q "select count(*) from (select state, lead(state) over (order by at) nxt
    from agent_states where session_id in (select id from agent_sessions
    where user_id = $(id_of wr1))) s where state = 'wrap_up' and nxt = 'ready'")"
quit wr
agents_done wr

# 3. agent-first and 4. power, predictive: to their end
for c in afirst power predict; do
    wait_for_log "$LOG" "campaign_finished campaign=\"?modes-$c\"? reason=\"every contact is done\"" 60
    assert_eq finished "$(q "select state from campaigns where name = 'modes-$c'")"
done
for r in af pw pd; do quit "$r"; done
for r in af pw pd; do agents_done "$r"; done
# agent-first: the agent had each call from its start (ringing=1: the contact is pushed while
# it rings, or not at all when a busy number ended first), heard it ring before the answer, and
# a busy number gave it back (dialing, then ready)
assert_eq 6 "$(q "select count(*) from attempts where campaign_id = $(camp modes-afirst)
    and agent_id = $(id_of af1)")" # 2 answered, 2 busy numbers twice
assert_eq 0 "$(grep -c '^connected agent=af1 .*ringing=0' "$dir/af.out")"
for x in $(q "select id from attempts where campaign_id = $(camp modes-afirst)
    and outcome = 'answered'"); do
    grep -q "^connected agent=af1 attempt=$x ringing=1 " "$dir/af.out" ||
        fail "attempt $x: no 'connected ... ringing=1' for af1"
done
assert_eq 2 "$(q "select count(*) from attempts where campaign_id = $(camp modes-afirst)
    and outcome = 'answered' and bridged_at <= answered_at and qualification = 'VENTE'")"
assert_eq 4 "$(q "select count(*) from (select state, attempt_id, lead(state) over (order by at) nxt
    from agent_states where session_id in (select id from agent_sessions
    where user_id = $(id_of af1))) s join attempts x on x.id = s.attempt_id
    where x.outcome = 'busy' and s.state = 'dialing' and s.nxt = 'ready'")"
grep -q 'campaign_loaded campaign="\?modes-power"\? mode=power ' "$LOG" || fail "modes-power not loaded as power"
grep -q 'campaign_loaded campaign="\?modes-predict"\? mode=predictive ' "$LOG" ||
    fail "modes-predict not loaded as predictive"
# every contact's end follows from its number's fate
fates_followed modes-afirst modes-power modes-predict
for c in power predict; do
    assert_eq 2 "$(grep -cE "call_bridged campaign=\"?modes-$c\"? " "$LOG")"
done

# 5, continued: the call was not cut, its qualification came after the pause, and nothing
# was dialled since, though the agent has been ready all along
pa_attempt=$(q "select id from attempts where campaign_id = $(camp modes-pause)")
assert_eq "answered customer VENTE true true" "$(q "select outcome || ' ' || hung_up_by || ' ' ||
    qualification || ' ' || (talk_ms >= 1000) || ' ' || (qualified_at > '$paused_at')
    from attempts where id = $pa_attempt")"
assert_eq 0 "$(q "select count(*) from attempts where campaign_id = $(camp modes-pause)
    and created_at > '$paused_at'")"
assert_eq "paused 1 3" "$(q "select k.state || ' ' || count(*) filter (where c.state = 'done')
    || ' ' || count(*) filter (where c.state = 'waiting') from campaigns k
    join contacts c on c.campaign_id = k.id where k.name = 'modes-pause' group by k.state")"
assert_eq ready "$(q "select state from agent_sessions where user_id = $(id_of pa1)
    and logged_out_at is null")"
quit pa
agents_done pa

# 1, continued: an agent ready all along, and still nothing dialled
assert_eq ready "$(q "select state from agent_sessions where user_id = $(id_of m1)
    and logged_out_at is null")"
assert_eq 0 "$(q "select count(*) from attempts
    where campaign_id in ($(camp modes-max0), $(camp modes-sched))")"
quit m
agents_done m

# the whole run: one counted attempt per INVITE the trunk received, every attempt closed, no
# abandon, every session ended
assert_eq "$(grep -c '^INVITE sip:' "$dir/trunk_msgs.log" || true)" "$(q "select count(*) from attempts where counted")"
assert_eq 0 "$(q "select count(*) from attempts where closed_at is null")"
assert_eq 0 "$(q "select count(*) from attempts where outcome = 'abandoned'")"
poll "select count(*) from agent_sessions where logged_out_at is null" 0 10
