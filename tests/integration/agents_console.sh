#!/usr/bin/env bash
# The agent console (carillon-agent without --script) as a person uses it: in a tmux terminal
# of 80x24, against the whole stack (server, dialerd calling a SIPp trunk, agentd, a SIPp
# softphone). The status bar shows READY after login; the campaign's call connects and the
# screen shows the pop-up fields (accents included), the interview window the server sends
# (the script's text with the contact's values, its questions) and the qualification keys.
# The agent answers with keys (a yes/no, a multiple choice, a date, a typed remark); a date the
# console lets through but the server refuses shows the server's message by its question; a
# positive qualification without the mandatory answer shows the refusal; then F1 qualifies the
# call. PostgreSQL then holds the answers of that attempt and the qualification. The History
# and Numbers tabs show the real data; q then y logs out and the console exits 0. Each step
# waits on what the screen shows (tmux capture-pane), never on a fixed delay.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"

command -v tmux >/dev/null || fail "tmux is required"
locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$' || fail "the C.UTF-8 locale is required"

dl_setup agents-console
start_engine_trunk
agent_phone 1
dl_trunks_ready
cr_stack_up --dialer --agentd --trunk "sip:127.0.0.1:$trunk_port"
carillonctl user add agent1 --role agent --name "Agent n°1" --password-stdin \
    <<<"agent-pass-1" >/dev/null || fail "user add agent1"
block() { # kind text export mandatory select predefined choices
    cat <<EOF
  - kind: $1
    text: '$2'
    export_name: '$3'
    mandatory: $4
    select_type: '$5'
    predefined_type: '$6'
    choices: [$7]
    matrix_rows: []
    qualifications: []
EOF
}
{
    cat <<EOF
name: 'Console'
time_zone: 'Europe/Paris'
dialing: {mode: progressive, call_order: customer_first, max_simultaneous_calls: 5,
          ring_timeout_s: 5, abandon_after_ms: 5000, number_for_agents: '+33140000000'}
outcomes:
  busy: {retry_delay_s: 0, max_attempts: 2, after_last: failed}
  no_answer: {retry_delay_s: 0, max_attempts: 1, after_last: shelved}
stop: {when_all_done: true}
qualification_mode: manual
qualification_group: 'g'
wrapup_max_s: 0
popup_fields: ['last_name', 'first_name', 'city']
qualifications:
- {code: 'VENTE', name: 'Vente conclue', type: positive, final: true, groups: ['g']}
- {code: 'RAP', name: 'Rappel', type: misc, final: false, callback: manual,
   callback_max_days: 30, groups: ['g']}
agents: ['agent1']
schedule:
EOF
    for d in monday tuesday wednesday thursday friday saturday sunday; do
        printf -- "- {day: %s, start: '00:00', end: '24:00'}\n" "$d"
    done
    echo "script:"
    printf -- "- name: 'Accueil'\n  initial: true\n  blocks:\n"
    block text 'Bonjour [Prénom] [Nom] de [Ville], ici [Agent].' '' false '' '' ''
    block select 'Êtes-vous satisfait ?' satisfaction true yes_no '' ''
    printf -- "- name: 'Offre'\n  initial: false\n  blocks:\n"
    block select 'Quels usages ?' usages false multiple '' "'Télétravail', 'Jeux', 'Streaming'"
    block predefined 'Date du rendez-vous ?' rdv false '' date ''
    printf -- "- name: 'Fin'\n  initial: false\n  blocks:\n"
    block input 'Une remarque, [Prénom] ?' remarque false '' '' ''
} >"$dir/campaign.yaml"
assert_exit 0 carillonctl apply -f "$dir/campaign.yaml"
# navigation: satisfied leads to the offer, else to the end; the offer is followed by the end
psql -qc "update script_blocks set branches = '{yes,Offre,no,Fin}' where export_name = 'satisfaction';
    update script_screens set next = 'Fin' where name = 'Offre'" || fail "branches"
# one contact; its number's last digit 1: the trunk answers (engine_trunk.xml)
printf 'Nom;Prénom;Tel1;Ville\nDupré;Hélène;+33610000001;Créteil\n' >"$dir/contacts.csv"
assert_exit 0 carillonctl list import "$dir/contacts.csv" --campaign 'Console' --name 'un' \
    --map 'Nom=last_name,Prénom=first_name,Tel1=phone1,Ville=city'
# ready (not running yet): agents may log in, no call is placed until it runs
assert_exit 0 carillonctl campaign state 'Console' ready

# the console in a tmux of its own (a private socket), 80x24, UTF-8
sock="$dir/tmux.sock"
tm() { tmux -S "$sock" "$@"; }
trap_add "tmux -S '$sock' kill-server 2>/dev/null || true"
cat >"$dir/console.sh" <<EOF
#!/usr/bin/env bash
export LANG=C.UTF-8 LC_ALL=C.UTF-8 CARILLON_AGENTD='$CARILLON_AGENTD' CARILLON_CA='$CARILLON_CA'
export CARILLON_PASSWORD=agent-pass-1 ASAN_OPTIONS='${ASAN_OPTIONS:-}'
'$CARILLON_BUILD_DIR/bin/carillon-agent' --login agent1 \
    --softphone 'sip:agent1@127.0.0.1:${port[phone_1]}' 2>'$dir/console.err'
echo "exit=\$?" >'$dir/console.exit'
sleep 600 # keeps the pane for capture-pane after the exit
EOF
chmod +x "$dir/console.sh"
LANG=C.UTF-8 LC_ALL=C.UTF-8 tm -u new-session -d -x 80 -y 24 -s console "$dir/console.sh" ||
    fail "tmux did not start"

screen() { tm capture-pane -p -t console 2>/dev/null; }
# wait_screen REGEX [TIMEOUT_S]: the pane shows REGEX (grep -E)
wait_screen() {
    local regex=$1 timeout=${2:-20} start=$SECONDS
    until screen | grep -qE -- "$regex"; do
        if [ $((SECONDS - start)) -ge "$timeout" ]; then
            echo "--- the console's screen" >&2
            screen >&2
            cat "$dir/console.err" >&2 2>/dev/null
            fail "the console did not show '$regex' within ${timeout}s"
        fi
        [ -f "$dir/console.exit" ] && ! screen | grep -qE -- "$regex" && {
            screen >&2
            cat "$dir/console.exit" "$dir/console.err" >&2
            fail "the console exited before showing '$regex'"
        }
        sleep 0.1
    done
}

# logged in: the status bar, the agent's name, READY once the softphone leg is up
wait_screen '^ Agent n°1 │ READY [0-9:]+ │ calls 0 │ link up ' 30
wait_screen 'r ready +p pause' 5
[ "$(screen | wc -l)" -le 24 ] || fail "the console draws more than 24 rows"
# a resized terminal (SIGWINCH) is drawn again at its new size, then back to 80x24
tm resize-window -t console -x 100 -y 30
start=$SECONDS
until screen | sed -n 30p | grep -q 'q logout'; do
    [ $((SECONDS - start)) -ge 10 ] && { screen >&2; fail "not redrawn at 100x30"; }
    sleep 0.1
done
tm resize-window -t console -x 80 -y 24
wait_screen 'r ready +p pause' 10

# the campaign calls: the call connects with the pop-up fields, the interview window (the
# script's text with the contact's values, the first screen's question) and the keys
assert_exit 0 carillonctl campaign state 'Console' running
wait_screen 'Prénom: Hélène' 30
wait_screen 'Nom: Dupré'
wait_screen 'Ville: Créteil'
wait_screen 'F1 VENTE Vente conclue +F2 RAP Rappel'
wait_screen 'calls 1'
wait_screen 'F1-F12 qualify'
wait_screen ' Bonjour Hélène Dupré de Créteil, ici Agent n°1\.'
wait_screen '▶ \* Êtes-vous satisfait \?'
wait_screen '1 \( \) yes +2 \( \) no'
wait_screen 'screen 1/3 Accueil'
attempt=$(psql -Atc "select a.id from attempts a join contacts c on c.id = a.contact_id
    where a.number = '+33610000001'")
[ -n "$attempt" ] || fail "no attempt for the call"
# the customer hangs up (1.5 s after answering): wrap-up; answers are still taken
wait_screen 'ENDED answered by customer: qualify · call [0-9]+ *$' 20
wait_screen 'WRAP-UP'
# a positive qualification while the mandatory question has no answer: refused, shown
tm send-keys -t console F1
wait_screen 'qualify refused: .*Êtes-vous satisfait' 10
wait_screen '! .*Êtes-vous satisfait' 5
# yes (a key): saved, the refusal goes; the branch "yes" leads to the offer
tm send-keys -t console y
wait_screen '1 \(x\) yes +2 \( \) no' 10
wait_screen 'answer saved' 10
tm send-keys -t console PgDn
wait_screen 'screen 2/3 Offre' 5
tm send-keys -t console 2
wait_screen 'answer saved' 10
tm send-keys -t console 3
wait_screen '2 \[x\] Jeux +3 \[x\] Streaming' 10
# a date the console lets through (its form is right) but the server refuses: the server's
# message by the question
tm send-keys -t console Down
wait_screen '▶ Date du rendez-vous \?' 5
tm send-keys -t console Enter
wait_screen 'type the answer' 5
tm send-keys -t console -l '2026-02-30'
tm send-keys -t console Enter
wait_screen "! question \"Date du rendez-vous \?\" \(rdv\): '2026-02-30' is not a date" 10
wait_screen 'answer refused' 5
tm send-keys -t console Enter
wait_screen '> 2026-02-30_' 5
tm send-keys -t console BSpace BSpace
tm send-keys -t console -l '28'
tm send-keys -t console Enter
wait_screen '> 2026-02-28 *$' 10
! screen | grep -q 'is not a date' || { screen >&2; fail "the refusal stays after the answer was saved"; }
# Screen.next: the offer is followed by the end; a typed answer with accents
tm send-keys -t console PgDn
wait_screen 'screen 3/3 Fin' 5
wait_screen '▶ Une remarque, Hélène \?' 5
tm send-keys -t console Enter
wait_screen 'type the answer' 5
tm send-keys -t console -l 'Très bien, merci'
tm send-keys -t console Enter
wait_screen '> Très bien, merci *$' 10
wait_screen 'answer saved' 5
# the history and numbers tabs, with the server's data
tm send-keys -t console Tab
wait_screen 'interview: started' 5
wait_screen '^ 20[0-9-]{8} [0-9:]{5} started by agent1' 5
echo "--- the History tab"
screen
tm send-keys -t console Tab
wait_screen '☎ \+33610000001 .*\(this call\)' 5
echo "--- the Numbers tab"
screen
tm send-keys -t console Tab
wait_screen 'screen 3/3 Fin' 5
# now F1 qualifies VENTE
tm send-keys -t console F1
wait_screen 'call qualified VENTE' 10
wait_screen '│ READY [0-9:]+ │ calls 1 │' 10
assert_eq "VENTE answered" "$(psql -Atc "select a.qualification || ' ' || a.outcome from attempts a
    where a.id = $attempt")"
assert_eq "done VENTE" "$(psql -Atc "select state || ' ' || last_qualification from contacts
    where campaign_id = (select id from campaigns where name = 'Console')")"
# the answers stored for that attempt: the last one saved per question
assert_eq "rdv {2026-02-28} agent1
remarque {\"Très bien, merci\"} agent1
satisfaction {yes} agent1
usages {Jeux,Streaming} agent1" "$(psql -Atc "select distinct on (a.export_name) a.export_name || ' ' ||
    a.\"values\"::text || ' ' || u.login from answers a join users u on u.id = a.answered_by
    where a.attempt_id = $attempt order by a.export_name, a.id desc")"

# pause with a reason from the list, then ready again
tm send-keys -t console p
wait_screen 'Pause: choose a reason' 5
tm send-keys -t console 1
wait_screen '│ PAUSED \(' 10
tm send-keys -t console r
wait_screen '│ READY [0-9:]+ │' 10

# logout: asked, confirmed, the console exits 0 and the session is closed
tm send-keys -t console q
wait_screen 'Log out\? y/n' 5
tm send-keys -t console y
start=$SECONDS
until [ -f "$dir/console.exit" ]; do
    [ $((SECONDS - start)) -ge 15 ] && { screen >&2; fail "the console did not exit after logout"; }
    sleep 0.1
done
assert_eq "exit=0" "$(cat "$dir/console.exit")"
if grep -q Sanitizer "$dir/console.err"; then
    cat "$dir/console.err" >&2
    fail "sanitizer report from carillon-agent"
fi
assert_eq 0 "$(psql -Atc "select count(*) from agent_sessions where logged_out_at is null")"
echo "agents_console: ok"
