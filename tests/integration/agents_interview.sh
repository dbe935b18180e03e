#!/usr/bin/env bash
# The interview window through every real part: a progressive campaign whose script uses
# placeholders (Prénom "Hélène", city "Besançon") and branches, with questions of several types
# and a mandatory one; the server dials a SIPp trunk through carillon-dialerd and connects the
# answered calls to one agent played by cr-agents (driven on its stdin). Checked: the window the
# agent receives (substituted text, branches, numbers, history), a refused answer naming its
# question, a qualification refused while the mandatory question has no answer, answers stored
# per attempt, a suspended interview resumed on the next call with its answers, a cancelled one
# that stays cancelled, and a callback given to another agent (callbacks, interview_events).
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

C='Enquête Franche-Comté'
dl_setup agents-interview # $dir, port claims, process cleanup
start_engine_trunk
# the agent's softphone (as agent_phone, for two logins: two nailed-up legs, one after the other)
sink=$(free_port)
cr-rtp-sink --listen "127.0.0.1:$sink" --timeout 300 >"$dir/sink.out" 2>&1 &
pids+=($!)
start_trunk phone softphone_autoanswer.xml 2 -set sink "$sink" -timeout 300s
dl_trunks_ready
cr_stack_up --dialer --trunk "sip:127.0.0.1:$trunk_port"
carillonctl user add helene --role agent --name 'Hélène Dupré' --password-stdin \
    <<<'agent-pass-1' >/dev/null || fail "user add helene"
carillonctl user add marc --role agent --name 'Marc Lefèvre' --password-stdin \
    <<<'agent-pass-2' >/dev/null || fail "user add marc"


block() { # kind text export mandatory select predefined choices rows
    cat <<EOF
  - kind: $1
    text: '$2'
    export_name: '$3'
    mandatory: $4
    select_type: '$5'
    predefined_type: '$6'
    choices: [$7]
    matrix_rows: [$8]
    qualifications: []
EOF
}
{
    cat <<EOF
name: '$C'
time_zone: 'Europe/Paris'
dialing: {mode: progressive, call_order: customer_first, max_simultaneous_calls: 5,
          ring_timeout_s: 5, abandon_after_ms: 5000}
outcomes:
  no_answer: {retry_delay_s: 0, max_attempts: 5, after_last: shelved}
qualification_mode: manual
qualification_group: 'g'
wrapup_max_s: 0
qualifications:
- {code: 'VENTE', name: 'Vente', type: positive, final: true, groups: ['g']}
- {code: 'ABS', name: 'Absent', type: misc, final: false, groups: ['g']}
- {code: 'REFUS', name: 'Refus', type: negative, final: true, groups: ['g']}
- {code: 'RAP', name: 'Rappel', type: misc, final: false, callback: manual, callback_max_days: 30,
   groups: ['g']}
agents: ['helene', 'marc']
schedule:
EOF
    for d in monday tuesday wednesday thursday friday saturday sunday; do
        printf -- "- {day: %s, start: '00:00', end: '24:00'}\n" "$d"
    done
    echo "script:"
    printf -- "- name: 'Accueil'\n  initial: true\n  blocks:\n"
    block text 'Bonjour [Prénom] [Nom] de [Ville], ici [Agent] pour [Campagne].' '' false '' '' '' ''
    block select 'Êtes-vous satisfait ?' satisfaction true yes_no '' '' ''
    printf -- "- name: 'Offre'\n  initial: false\n  blocks:\n"
    block select 'Quels usages ?' usages false multiple '' "'Télétravail', 'Jeux', 'Streaming'" ''
    block predefined 'Quelle note donnez-vous ?' note false '' rating '' ''
    block select 'Notez nos services' notes false matrix '' "'1', '2', '3'" "'Accueil', 'Technique'"
    printf -- "- name: 'Fin'\n  initial: false\n  blocks:\n"
    block input 'Une remarque, [Prénom] ?' remarque false '' '' '' ''
} >"$dir/campaign.yaml"
assert_exit 0 carillonctl apply -f "$dir/campaign.yaml"
# navigation: satisfied leads to the offer, else to the end; the offer is followed by the end
psql -qc "update script_blocks set branches = '{yes,Offre,no,Fin}' where export_name = 'satisfaction';
    update script_screens set next = 'Fin' where name = 'Offre'" || fail "branches"
# two contacts, both answering (engine_trunk.xml: last digit 0-5); the first has a second number
printf 'Nom;Prénom;Tel1;Tel2;Ville\nMartin;Hélène;+33612345670;+33698765431;Besançon\nRoux;Jean;+33612345671;;Dole\n' \
    >"$dir/contacts.csv"
assert_exit 0 carillonctl list import "$dir/contacts.csv" --campaign "$C" --name 'l1' \
    --map 'Nom=last_name,Prénom=first_name,Tel1=phone1,Tel2=phone2,Ville=city'
assert_exit 0 carillonctl campaign state "$C" ready
assert_exit 0 carillonctl campaign state "$C" running
c1=$(psql -Atc "select id from contacts where first_name = 'Hélène'")
c2=$(psql -Atc "select id from contacts where first_name = 'Jean'")

deploy/pki.sh node "$CARILLON_STACK_DIR/pki" agentd agentd1 >/dev/null
mkfifo "$dir/agents.in"
exec 3<>"$dir/agents.in"
out="$dir/agents.out"
cr-agents --server "$CARILLON_SERVER" --ca "$CARILLON_STACK_DIR/pki/ca.pem" \
    --cert "$CARILLON_STACK_DIR/pki/agentd1.pem" --key "$CARILLON_STACK_DIR/pki/agentd1.key" \
    --node agentd1 --timeout 80 --agent "helene:agent-pass-1:sip:agent1@127.0.0.1:${port[phone]}" \
    <"$dir/agents.in" >"$out" 2>&1 &
agents_pid=$!
pids+=("$agents_pid")
cmd() { echo "$*" >&3; }

# --- call 1: Hélène. The window: the script with her values, branches, numbers --------------
wait_for_count "$out" '^state agent=helene state=wrap_up' 1 40
a1=$(sed -n 's/^connected agent=helene attempt=\([0-9]*\) .*contact='"$c1"' .*/\1/p' "$out" | head -1)
[ -n "$a1" ] || { cat "$out" >&2; fail "the first call was not Hélène's"; }
w=$(cat "$out")
assert_contains "$w" "interview agent=helene attempt=$a1 state=started"
assert_contains "$w" 'text="Bonjour Hélène Martin de Besançon, ici Hélène Dupré pour Enquête Franche-Comté."'
assert_contains "$w" 'text="Une remarque, Hélène ?"'
assert_contains "$w" 'export=satisfaction mandatory=1 text="Êtes-vous satisfait ?" branches="yes>Offre;no>Fin"'
assert_contains "$w" 'screen agent=helene name="Offre" initial=0 next="Fin"'
assert_contains "$w" 'numbers="+33612345670/'
assert_contains "$w" '/current;+33698765431/'
assert_eq 1 "$(psql -Atc "select count(*) from interview_events where contact_id = $c1 and event = 'started'")"

# a refused answer names its question; nothing of the request is saved
cmd answer helene usages=Jeux note=11
wait_for_log "$out" '^error agent=helene request=answer code=3 field=note message=.*Quelle note donnez-vous' 20
cmd answer helene notes@Facturation=2
wait_for_log "$out" '^error agent=helene request=answer code=3 field=notes message=.*matrix_row .Facturation. is not one of its rows' 20
cmd answer helene inconnue=1
wait_for_log "$out" '^error agent=helene request=answer code=3 field=inconnue' 20
assert_eq 0 "$(psql -Atc "select count(*) from answers where contact_id = $c1")"
# a positive qualification waits for the mandatory question
cmd qualify helene VENTE
wait_for_log "$out" '^error agent=helene request=qualify code=9 field=satisfaction message=.*Êtes-vous satisfait' 20
cmd answer helene usages='Jeux|Streaming' note=8 notes@Accueil=3
wait_for_log "$out" "^answers_saved agent=helene attempt=$a1 saved=3 missing=satisfaction" 20
cmd answer helene satisfaction=yes
wait_for_log "$out" "^answers_saved agent=helene attempt=$a1 saved=1 missing=-" 20
assert_eq "usages {Jeux,Streaming} helene
notes {3} helene
satisfaction {yes} helene" "$(psql -Atc "select a.export_name || ' ' || a.\"values\"::text || ' ' || u.login
    from answers a join users u on u.id = a.answered_by where a.attempt_id = $a1 and a.export_name <> 'note'
    order by a.id")"
# suspended: the qualification (a plain one) keeps it suspended, to resume on the next call
cmd interview helene suspend 'pause déjeuner'
wait_for_log "$out" '^ok agent=helene request=interview' 20
assert_eq suspended "$(psql -Atc "select interview from contacts where id = $c1")"
cmd qualify helene ABS
wait_for_log "$out" "^qualified agent=helene attempt=$a1 code=ABS" 20
assert_eq "suspended waiting" "$(psql -Atc "select interview || ' ' || state from contacts where id = $c1")"

# --- call 2: Jean (never tried, so first). Cancelled, then qualified final: stays cancelled --
wait_for_count "$out" '^state agent=helene state=wrap_up' 2 40
a2=$(sed -n 's/^connected agent=helene attempt=\([0-9]*\) .*contact='"$c2"' .*/\1/p' "$out" | head -1)
[ -n "$a2" ] || { tail -30 "$out" >&2; fail "the second call was not Jean's"; }
assert_contains "$(cat "$out")" 'text="Bonjour Jean Roux de Dole,'
cmd interview helene cancel 'ne souhaite pas répondre'
wait_for_count "$out" '^ok agent=helene request=interview' 2 20
cmd qualify helene REFUS
wait_for_log "$out" "^qualified agent=helene attempt=$a2 code=REFUS" 20
assert_eq "cancelled done" "$(psql -Atc "select interview || ' ' || state from contacts where id = $c2")"
assert_eq "cancelled ne souhaite pas répondre" "$(psql -Atc "select event || ' ' || detail from interview_events
    where contact_id = $c2 and event <> 'started' order by id")"

# --- call 3: Hélène again. The suspended interview resumes with its answers and history -------
wait_for_count "$out" '^state agent=helene state=wrap_up' 3 40
a3=$(sed -n 's/^connected agent=helene attempt=\([0-9]*\) .*contact='"$c1"' .*/\1/p' "$out" | sed -n 2p)
[ -n "$a3" ] || { tail -30 "$out" >&2; fail "the third call was not Hélène's"; }
iv=$(grep "^interview agent=helene attempt=$a3 " "$out")
assert_contains "$iv" 'state=started'
assert_contains "$iv" 'answers="note=8;notes@Accueil=3;satisfaction=yes;usages=Jeux|Streaming"'
hist=$(sed -n "/^connected agent=helene attempt=$a3 /,/^state /p" "$out" | grep '^history ')
assert_contains "$hist" "history agent=helene event=started attempt=$a1"
assert_contains "$hist" "history agent=helene event=answers attempt=$a1 outcome=- qualification=- by=helene detail=\"satisfaction\" answers=\"satisfaction=yes\""
assert_contains "$hist" "history agent=helene event=suspended attempt=$a1 outcome=- qualification=- by=helene detail=\"pause déjeuner\""
assert_contains "$hist" "history agent=helene event=call attempt=$a1 outcome=answered qualification=ABS by=helene"
# a callback for an agent not assigned to the campaign is refused, naming them
cmd qualify helene RAP 86400 paul
wait_for_log "$out" '^error agent=helene request=qualify code=3 field=callback_agent message=.*agent \\"paul\\" is not assigned' 20
cmd qualify helene RAP 86400 marc
wait_for_log "$out" "^qualified agent=helene attempt=$a3 code=RAP" 20
assert_eq "marc" "$(psql -Atc "select u.login from callbacks b join users u on u.id = b.agent_id
    where b.contact_id = $c1 and b.done_at is null")"
assert_eq "to_call_back marc" "$(psql -Atc "select c.interview || ' ' || u.login from contacts c
    join users u on u.id = c.agent_id where c.id = $c1")"
ev=$(psql -Atc "select detail from interview_events where contact_id = $c1 and event = 'callback'")
[[ "$ev" =~ ^at\ 20[0-9-]{8}T[0-9:]{8}Z\ for\ marc$ ]] || fail "callback event detail: '$ev'"
assert_eq "started answers answers suspended started callback" "$(psql -Atc "select string_agg(event, ' ' order by id)
    from interview_events where contact_id = $c1")"

echo quit >&3
wait "$agents_pid" || { tail -20 "$out" >&2; fail "cr-agents did not log out cleanly"; }

# --- preview: the contact offered comes with its window; the interview does not start --------
P='Aperçu Doubs'
sed -e "s/^name: .*/name: '$P'/" -e 's/mode: progressive/mode: preview/' "$dir/campaign.yaml" \
    >"$dir/preview.yaml"
assert_exit 0 carillonctl apply -f "$dir/preview.yaml"
printf 'Nom;Prénom;Tel1;Ville\nBlanc;Zoé;+33612345672;Montbéliard\n' >"$dir/preview.csv"
assert_exit 0 carillonctl list import "$dir/preview.csv" --campaign "$P" --name 'l1' \
    --map 'Nom=last_name,Prénom=first_name,Tel1=phone1,Ville=city'
assert_exit 0 carillonctl campaign state "$P" ready
assert_exit 0 carillonctl campaign state "$P" running
c3=$(psql -Atc "select id from contacts where first_name = 'Zoé'")
mkfifo "$dir/preview.in"
exec 4<>"$dir/preview.in"
out="$dir/preview.out"
cr-agents --server "$CARILLON_SERVER" --ca "$CARILLON_STACK_DIR/pki/ca.pem" \
    --cert "$CARILLON_STACK_DIR/pki/agentd1.pem" --key "$CARILLON_STACK_DIR/pki/agentd1.key" \
    --node agentd1 --timeout 40 --preview wait \
    --agent "helene:agent-pass-1:sip:agent1@127.0.0.1:${port[phone]}:$P" \
    <"$dir/preview.in" >"$out" 2>&1 &
agents_pid=$!
pids+=("$agents_pid")
wait_for_log "$out" '^interview agent=helene attempt=[0-9]+ state=to_call ' 40
assert_contains "$(cat "$out")" 'text="Bonjour Zoé Blanc de Montbéliard, ici Hélène Dupré pour Aperçu Doubs."'
assert_contains "$(cat "$out")" 'numbers="+33612345672/'
assert_eq "to_call 0" "$(psql -Atc "select interview || ' ' || (select count(*) from interview_events
    where contact_id = $c3) from contacts where id = $c3")"
echo quit >&4
wait "$agents_pid" || { tail -20 "$out" >&2; fail "cr-agents (preview) did not log out cleanly"; }
echo "PASS agents_interview"
