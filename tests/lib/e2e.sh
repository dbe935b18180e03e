# Helpers for the end-to-end tests (tests/e2e/): the whole stack (PostgreSQL, server, dialerd,
# agentd), the SIPp trunk whose fate is a number's last digit (engine_trunk.xml), SIPp softphones
# and carillon-agent clients through agentd. Sourced after common.sh and dialer.sh.
# shellcheck shell=bash
# shellcheck disable=SC2154 # dir, port, trunk_port come from dialer.sh

for b in carillon-agent carillon-agentd carillonctl; do
    [ -x "$CARILLON_BUILD_DIR/bin/$b" ] || fail "$CARILLON_BUILD_DIR/bin/$b is not built"
done

# e2e_up NAME AGENTS: $dir, the trunk, AGENTS softphones, the stack with a dialer and an agentd,
# and agents a1..aN (password agent-pass-N) made with carillonctl. $LOG: the server's log.
e2e_up() {
    local name=$1 n=$2 i
    dl_setup "$name"
    start_engine_trunk
    for i in $(seq 1 "$n"); do agent_phone "a$i"; done
    dl_trunks_ready
    STACK_DIALER_KEYS="max_calls = 100\nmax_cps = 50\nabandon_after = 5s" \
        cr_stack_up --dialer --agentd --trunk "sip:127.0.0.1:$trunk_port"
    LOG=$CARILLON_STACK_DIR/server.log
    for i in $(seq 1 "$n"); do
        carillonctl user add "a$i" --role agent --name "Agent n°$i" --password-stdin \
            <<<"agent-pass-$i" >/dev/null || fail "user add a$i"
    done
}

# q SQL: one value from the database.
q() { psql -Atc "$1"; }
camp() { echo "(select id from campaigns where name = '$1')"; }

# poll SQL WANT [TIMEOUT]: until the query returns WANT.
poll() {
    local start=$SECONDS got
    until got=$(q "$1") && [ "$got" = "$2" ]; do
        [ $((SECONDS - start)) -ge "${3:-30}" ] && fail "after ${3:-30}s, expected '$2', got '$got' from: $1"
        sleep 0.1
    done
}

# e2e_campaign NAME MODE ORDER N_AGENTS [KEY: VALUE lines for dialing:]: applies a campaign open
# every hour of every day, agents a1..aN, pop-up last_name/first_name/city, a script of three
# questions (satisfaction: yes/no, mandatory; debit: a list; remarque: open), qualifications
# VENTE (positive, final), REFUS (negative, final), RAP (a callback, not final), and the engine
# tests' outcome rules (busy twice then failed, no answer once then shelved; skipped and trunk
# failures wait an hour).
e2e_campaign() {
    local name=$1 mode=$2 order=$3 n=$4 extra=${5:-} d agents
    agents=$(seq -s, 1 "$n" | sed "s/\([0-9]\+\)/'a\1'/g")
    {
        cat <<EOF
name: '$name'
time_zone: 'Europe/Paris'
dialing:
  mode: $mode
  call_order: $order
  max_simultaneous_calls: 20
  ring_timeout_s: 5
  abandon_after_ms: 5000
  number_for_agents: '+33140000000'
  number_for_customers: '+33180000000'
EOF
        [ -z "$extra" ] || printf '%b\n' "$extra"
        cat <<EOF
outcomes:
  busy: {retry_delay_s: 0, max_attempts: 2, after_last: failed}
  no_answer: {retry_delay_s: 0, max_attempts: 1, after_last: shelved}
  trunk_failure: {retry_delay_s: 3600, max_attempts: 2, after_last: failed}
  abandoned: {retry_delay_s: 0, max_attempts: 3, after_last: failed}
stop: {when_all_done: true}
qualification_mode: manual
qualification_group: 'e2e'
wrapup_max_s: 0
popup_fields: ['last_name', 'first_name', 'city']
qualifications:
- {code: 'VENTE', name: 'Vente conclue', type: positive, final: true, groups: ['e2e']}
- {code: 'REFUS', name: 'Refus', type: negative, final: true, groups: ['e2e']}
- {code: 'RAP', name: 'Rappel', type: misc, final: false, callback: manual, callback_max_days: 30,
   groups: ['e2e']}
agents: [$agents]
schedule:
EOF
        for d in monday tuesday wednesday thursday friday saturday sunday; do
            printf -- "- {day: %s, start: '00:00', end: '24:00'}\n" "$d"
        done
        cat <<'EOF'
script:
- name: 'Accueil'
  initial: true
  blocks:
  - {kind: text, text: 'Bonjour [Prénom] [Nom], ici Carillon Télécom.', export_name: '',
     mandatory: false, select_type: '', predefined_type: '', choices: [], matrix_rows: [],
     qualifications: []}
  - {kind: select, text: 'Êtes-vous satisfait de votre offre ?', export_name: 'satisfaction',
     mandatory: true, select_type: yes_no, predefined_type: '', choices: [], matrix_rows: [],
     qualifications: []}
  - {kind: select, text: 'Quel débit utilisez-vous ?', export_name: 'debit', mandatory: false,
     select_type: dropdown, predefined_type: '', choices: ['ADSL', 'VDSL', 'Fibre'],
     matrix_rows: [], qualifications: []}
  - {kind: input, text: 'Une remarque ?', export_name: 'remarque', mandatory: false,
     select_type: '', predefined_type: '', choices: [], matrix_rows: [], qualifications: []}
EOF
    } >"$dir/$name.yaml"
    assert_exit 0 carillonctl apply -f "$dir/$name.yaml"
}

# e2e_import NAME RANGE N: imports N contacts from a CSV with French names, numbered
# +336 RANGE (2 digits) I (5 digits) D where the last digit D = I mod 10 is the trunk's fate
# (0-5 answered, 6-7 busy, 8 no answer, 9 not a number). The city picks the agents' policy for
# the answered ones: Nîmes (I < 30, digit 0) a callback RAP, Sète (I < 30, digit 1) REFUS,
# elsewhere VENTE.
e2e_import() {
    local name=$1 range=$2 n=$3 i city
    local -a last=('Lefèvre' 'Dupré' 'Béranger' 'Châtelet' 'Noël' 'Müller' 'Garçon' 'Élie')
    local -a first=('Zoé' 'Hélène' 'François' 'Anaïs' 'Jérôme' 'Cécile' 'Gaëlle' 'Loïc')
    {
        echo 'Nom;Prénom;Tel1;Ville'
        for ((i = 0; i < n; i++)); do
            city='Créteil'
            [ "$i" -lt 30 ] && [ $((i % 10)) = 0 ] && city='Nîmes'
            [ "$i" -lt 30 ] && [ $((i % 10)) = 1 ] && city='Sète'
            printf '%s-%d;%s;+336%02d%05d%d;%s\n' "${last[i % 8]}" "$i" "${first[i % 8]}" \
                "$range" "$i" $((i % 10)) "$city"
        done
    } >"$dir/$name.csv"
    assert_exit 0 carillonctl list import "$dir/$name.csv" --campaign "$name" --name "$name" \
        --map 'Nom=last_name,Prénom=first_name,Tel1=phone1,Ville=city'
    assert_contains "$OUT" "$n imported"
}

# e2e_agent N [OPTIONS...]: carillon-agent --script for agent aN through agentd, its softphone
# phone_aN; events in $dir/aN.out; its stdin is the fifo $dir/aN.in, held open on fd ${afd[aN]}.
declare -A afd apid
e2e_agent() {
    local n=$1 l
    shift
    mkfifo "$dir/a$n.in"
    CARILLON_PASSWORD="agent-pass-$n" carillon-agent --script --login "a$n" \
        --softphone "sip:a$n@127.0.0.1:${port[phone_a$n]}" "$@" \
        <"$dir/a$n.in" >"$dir/a$n.out" 2>"$dir/a$n.err" &
    apid[a$n]=$!
    pids+=($!)
    exec {l}>"$dir/a$n.in"
    afd[a$n]=$l
}

# e2e_auto_agents N_AGENTS: every agent plays by itself: the three answers saved when a call
# connects, Nîmes a callback RAP in 20 s (then VENTE when called back), Sète REFUS, else VENTE.
e2e_auto_agents() {
    local i
    for i in $(seq 1 "$1"); do
        e2e_agent "$i" --auto --answer satisfaction=yes --answer debit=Fibre \
            --answer 'remarque=Très bien, « merci »' --qualify VENTE --wrapup-ms 50 \
            --qualify-if 'city=Nîmes:RAP:20' --qualify-if 'city=Sète:REFUS'
    done
}

# e2e_cmd aN JSON: one command to the agent's --script stdin.
e2e_cmd() { echo "$2" >&"${afd[$1]}"; }

# e2e_logout aN...: each agent logs out and exits 0 without an ASan/UBSan report, and none was
# ever answered an error.
e2e_logout() {
    local a rc
    for a in "$@"; do e2e_cmd "$a" '{"cmd":"logout"}'; done
    for a in "$@"; do
        timeout 20 tail --pid="${apid[$a]}" -f /dev/null || true
        pid_alive "${apid[$a]}" && { tail -5 "$dir/$a.out" >&2; fail "carillon-agent $a still runs"; }
        rc=0
        wait "${apid[$a]}" || rc=$?
        [ "$rc" = 0 ] || { tail -5 "$dir/$a.out" "$dir/$a.err" >&2; fail "carillon-agent $a exited $rc"; }
        ! grep -q Sanitizer "$dir/$a.err" || { cat "$dir/$a.err" >&2; fail "sanitizer report for $a"; }
        # every command was taken: no refusal, no command sent while the link was down
        ! grep '"event":"error"' "$dir/$a.out" >&2 || fail "$a: the errors above"
    done
}

# e2e_wait_finished NAME [TIMEOUT]: the campaign finished by itself (every contact done).
e2e_wait_finished() {
    wait_for_log "$LOG" "campaign_finished campaign=\"?$1\"? reason=\"every contact is done\"" "${2:-100}"
    assert_eq finished "$(q "select state from campaigns where name = '$1'")"
}

# e2e_check_campaign NAME: what the issue asks of a whole campaign, in SQL.
e2e_check_campaign() {
    local name=$1 c bad
    c=$(camp "$name")
    # every contact in the state its number's fate and its city imply
    bad=$(q "select c.id || ' ' || c.last_name || ' ' || c.city || ' ' || a.number || ' ' || c.state
           || ' ' || c.attempts || ' ' || coalesce(c.last_qualification, '-')
      from contacts c join addresses a on a.contact_id = c.id
     where c.campaign_id = $c and not case
           when right(a.number, 1) in ('6', '7') then c.state = 'failed' and c.attempts = 2
           when right(a.number, 1) = '8' then c.state = 'shelved' and c.attempts = 1
           when right(a.number, 1) = '9' then c.state = 'failed' and c.attempts = 1
           when c.city = 'Nîmes' then c.state = 'done' and c.attempts = 2 and c.last_qualification = 'VENTE'
           when c.city = 'Sète' then c.state = 'done' and c.attempts = 1 and c.last_qualification = 'REFUS'
           else c.state = 'done' and c.attempts = 1 and c.last_qualification = 'VENTE' end")
    [ -z "$bad" ] || fail "$name: contacts whose end does not follow from their number and city: $bad"
    # each attempt's outcome is what the trunk did with its number; one counted attempt per INVITE
    bad=$(q "select id || ' ' || number || ' ' || coalesce(outcome, '-') || ' ' || coalesce(sip_status::text, '-')
      from attempts where campaign_id = $c and not case right(number, 1)
           when '6' then outcome = 'busy' and sip_status = 486
           when '7' then outcome = 'busy' and sip_status = 486
           when '8' then outcome = 'no_answer'
           when '9' then outcome = 'invalid_number' and sip_status = 404
           else outcome = 'answered' and sip_status = 200 and bridged_at is not null
                and talk_ms > 0 end")
    [ -z "$bad" ] || fail "$name: attempts whose outcome is not the trunk's: $bad"
    assert_eq "$(grep -c '^INVITE sip:' "$dir/trunk_msgs.log" || true)" \
        "$(q "select count(*) from attempts where campaign_id = $c and counted")"
    assert_eq 0 "$(q "select count(*) from attempts where campaign_id = $c and (closed_at is null or not counted)")"
    # callbacks: RAP asked for 20 s later, called again then (at its time, within 15 s), then VENTE
    bad=$(q "select k.contact_id || ' due ' || k.due_at || ' asked ' || x.qualified_at || ' next ' ||
           coalesce(n.created_at::text, '-')
      from callbacks k join attempts x on x.id = k.attempt_id
      left join lateral (select * from attempts y where y.contact_id = k.contact_id and y.id > x.id
                          order by y.id limit 1) n on true
     where k.campaign_id = $c and not (x.qualification = 'RAP'
           and abs(extract(epoch from k.due_at - x.qualified_at) - 20) < 2
           and n.created_at >= k.due_at and n.created_at < k.due_at + interval '15 s'
           and n.qualification = 'VENTE' and k.done_at is not null)")
    [ -z "$bad" ] || fail "$name: callbacks not called again at their time: $bad"
    assert_eq "$(q "select count(*) from contacts where campaign_id = $c and city = 'Nîmes'")" \
        "$(q "select count(*) from callbacks where campaign_id = $c")"
    # a final qualification is never called again
    assert_eq 0 "$(q "select count(*) from attempts x join attempts y on y.contact_id = x.contact_id
        and y.created_at > x.qualified_at where x.campaign_id = $c and x.qualification in ('VENTE', 'REFUS')")"
    # never two live attempts of one contact: their [created_at, closed_at] never overlap
    assert_eq 0 "$(q "select count(*) from attempts x join attempts y on y.contact_id = x.contact_id
        and y.id > x.id where x.campaign_id = $c and tstzrange(x.created_at, x.closed_at, '[]')
        && tstzrange(y.created_at, y.closed_at, '[]')")"
    # every answered call: qualified by the agent who took it, its three answers stored
    bad=$(q "select x.id || ' ' || coalesce(x.qualification, '-') || ' ' || count(n.*)
      from attempts x left join answers n on n.attempt_id = x.id
     where x.campaign_id = $c and x.outcome = 'answered'
     group by x.id
    having x.qualification is null or x.qualified_by is distinct from x.agent_id
        or count(*) filter (where n.export_name = 'satisfaction' and n.\"values\" = '{yes}') <> 1
        or count(*) filter (where n.export_name = 'debit' and n.\"values\" = '{Fibre}') <> 1
        or count(*) filter (where n.export_name = 'remarque' and n.\"values\" = '{\"Très bien, « merci »\"}') <> 1")
    [ -z "$bad" ] || fail "$name: answered attempts without their qualification or answers: $bad"
}

# e2e_check_export NAME: the XLSX export holds the answer columns; every contact qualified VENTE
# has its answers there.
e2e_check_export() {
    local name=$1 got want
    assert_exit 0 carillonctl contact export --campaign "$name" -o "$dir/$name.xlsx"
    got=$(python3 - "$dir/$name.xlsx" <<'PY'
import os, sys
sys.path.insert(0, os.environ['CARILLON_SOURCE_DIR'] + '/tests/lib')
from xlsx_rows import rows as read_rows
rows = read_rows(sys.argv[1])
hdr = rows[0]
for q in ('satisfaction', 'debit', 'remarque'):
    if q not in hdr:
        sys.exit('no column %s in %s' % (q, hdr))
for r in rows[1:]:
    r = r + [''] * (len(hdr) - len(r))
    if r[hdr.index('satisfaction')]:
        print('|'.join([r[hdr.index('last_name')], r[hdr.index('satisfaction')],
                        r[hdr.index('debit')], r[hdr.index('remarque')]]))
PY
) || fail "$name.xlsx: $got"
    got=$(sort <<<"$got")
    want=$(q "select last_name || '|yes|Fibre|Très bien, « merci »' from contacts
        where campaign_id = $(camp "$name") and last_qualification = 'VENTE' order by 1" | sort)
    [ "$(wc -l <<<"$want")" -ge 20 ] || fail "$name: too few VENTE contacts to check the export: $want"
    [ "$want" = "$(grep -Ff <(echo "$want") <<<"$got" || true)" ] ||
        fail "$name.xlsx: the VENTE contacts' answers are not all there; got:
$got"
}
