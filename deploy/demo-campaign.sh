#!/usr/bin/env bash
# The campaign part of the demo (deploy/demo.sh runs it, on its running stack): a real campaign
# from start to end. carillon-dialerd joins the stack and calls through a SIPp trunk whose
# answers follow the last digit of each number (tests/sipp/engine_trunk.xml: 0-5 answered, 6-7
# busy, 8 no answer, 9 not a number); carillon-agentd joins too, and three agents log in through
# it with carillon-agent --auto (SIPp plays their softphones), talk to whoever answers, answer the
# questionnaire and qualify each call; the server paces the calls, retries by the campaign's
# rules and finishes the campaign when every contact is done.
#   deploy/demo-campaign.sh DIR     DIR: the stack's directory (its env.sh is sourced)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
bin=${CARILLON_BUILD_DIR:-$repo/build}/bin
[ $# -eq 1 ] || { echo "usage: deploy/demo-campaign.sh DIR" >&2; exit 2; }
command -v sipp >/dev/null || { echo "demo: sipp (Debian package sip-tester) is missing" >&2; exit 1; }
dir=$(cd "$1" && pwd)
d=$dir/campaign
rm -rf "$d"
mkdir -p "$d"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

used=" "
port() { # a TCP and UDP loopback port nothing holds, below the kernel's ephemeral range
    local p
    while :; do
        p=$((20000 + RANDOM % 12700))
        case "$used" in *" $p "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && ! ss -Hlun "sport = :$p" | grep -q .; then
            used+="$p $((p + 1)) $((p + 2)) "
            echo "$p"
            return
        fi
    done
}
wait_line() { # FILE REGEX SECONDS
    local t=$((SECONDS + $3))
    until grep -qE "$2" "$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$t" ] || { echo "demo: no '$2' in $1" >&2; tail -20 "$1" >&2; exit 1; }
        sleep 0.1
    done
}
sipp_run() { # NAME SCENARIO [ARGS...]: a SIPp UAS on a free port; sets sport
    local name=$1 scen=$2
    shift 2
    sport=$(port)
    sipp -sf "tests/sipp/$scen" -i 127.0.0.1 -p "$sport" -mp "$(port)" -nostdin -timeout 600s \
        "$@" >"$d/sipp_$name.out" 2>&1 &
    pids+=($!)
    until ss -Hlun "sport = :$sport" | grep -q .; do sleep 0.05; done
}

sipp_run trunk engine_trunk.xml
trunk=$sport
echo "demo: a SIPp trunk on sip:127.0.0.1:$trunk answers by each number's last digit"
tests/lib/stack.sh up "$dir" --dialer --agentd --trunk "sip:127.0.0.1:$trunk" >/dev/null
# shellcheck disable=SC1091
. "$dir/env.sh"
echo "demo: carillon-dialerd (node dialer1) is linked to the server ($dir/dialerd.conf)"
echo "demo: carillon-agentd (node agentd1) serves agents on $CARILLON_AGENTD ($dir/agentd.conf)"

# A word as the shell reads it back (as deploy/demo.sh): as is when it has no special
# character, else in single quotes, so that every command the demo prints can be pasted.
q() {
    case "$1" in
    '' | *[!A-Za-z0-9_./:=@%+,-]*) printf "'%s'" "${1//\'/\'\\\'\'}" ;;
    *) printf '%s' "$1" ;;
    esac
}
quoted() { # WORDS...: the words quoted, space-separated
    local a sep=
    for a in "$@"; do printf '%s%s' "$sep" "$(q "$a")"; sep=' '; done
}
# Shows a command, then runs it.
show() {
    echo "\$ carillonctl $(quoted "$@")"
    "$bin/carillonctl" "$@"
}
users=$("$bin/carillonctl" user list)
agents=(camille helene theo)
names=('Camille Hébert' 'Hélène Dupré' 'Théo Marchal')
phones=()
for i in 0 1 2; do
    login=${agents[$i]}
    if ! grep -q "^$login\b" <<<"$users"; then
        printf '%s\n' "\$ printf '%s\\n' $(q "demo-$login-pw") | carillonctl $(quoted user add "$login" --role agent --name "${names[$i]}" --password-stdin)"
        printf '%s\n' "demo-$login-pw" | "$bin/carillonctl" user add "$login" --role agent --name "${names[$i]}" --password-stdin
    fi
    media=$(port)
    "$bin/cr-rtp-sink" --listen "127.0.0.1:$media" --timeout 600 >"$d/${login}_media.out" 2>&1 &
    pids+=($!)
    sipp_run "$login" softphone_autoanswer.xml -m 1 -set sink "$media"
    phones+=("sip:$login@127.0.0.1:$sport")
done

campaign='Démo relance'
{
    cat <<'EOF'
name: 'Démo relance'
objective: 'Call back the customers who asked about the fibre offer'
time_zone: 'Europe/Paris'
dialing:
  mode: progressive
  call_order: customer_first
  number_for_agents: '+33140000000'
  number_for_customers: '+33180000000'
  max_simultaneous_calls: 10
  ring_timeout_s: 5
outcomes:
  busy: {retry_delay_s: 2, max_attempts: 2, after_last: failed}
  no_answer: {retry_delay_s: 2, max_attempts: 1, after_last: shelved}
  trunk_failure: {retry_delay_s: 2, max_attempts: 2, after_last: failed}
stop:
  when_all_done: true
qualification_mode: manual
qualification_group: 'relance'
popup_fields: ['last_name', 'first_name', 'city']
qualifications:
- {code: 'VENTE', name: 'Vente conclue', type: positive, final: true, groups: ['relance']}
- {code: 'REFUS', name: 'Refus', type: negative, final: true, refusal: true, groups: ['relance']}
agents: ['camille', 'helene', 'theo']
script:
- name: 'Accueil'
  initial: true
  blocks:
  - {kind: text, text: 'Bonjour [Prénom] [Nom], je vous appelle de Carillon Télécom au sujet de la fibre à [Ville].'}
  - {kind: select, text: 'Êtes-vous intéressé(e) par la fibre ?', export_name: 'interesse', mandatory: true,
     select_type: yes_no}
  - {kind: select, text: 'Quel débit utilisez-vous ?', export_name: 'debit', select_type: dropdown,
     choices: ['ADSL', 'VDSL', 'Fibre', 'Je ne sais pas']}
schedule:
EOF
    for day in monday tuesday wednesday thursday friday saturday sunday; do
        printf -- "- day: %s\n  start: '00:00'\n  end: '24:00'\n" "$day"
    done
} >"$d/campaign.yaml"
echo "demo: a progressive campaign, every day 00:00-24:00 (compliance none), $d/campaign.yaml"
show apply -f "$d/campaign.yaml"
{
    echo 'Nom;Prénom;Tel1;Ville'
    n=0
    for name in Dupré Lefèvre Payet "N'Diaye" Hébert Marchal Mercier Bézier Garnier Rivière \
        Noël Lemaître; do
        for first in Zoé Jérôme; do
            n=$((n + 1))
            printf '%s;%s;+3361000%04d;Créteil\n' "$name" "$first" "$n"
        done
    done
} >"$d/contacts.csv"
show list import "$d/contacts.csv" --campaign "$campaign" --name 'rappels' \
    --map 'Nom=last_name,Prénom=first_name,Tel1=phone1,Ville=city'
answered=$(awk -F';' 'NR > 1 && $3 ~ /[0-5]$/' "$d/contacts.csv" | wc -l)
show campaign state "$campaign" ready
show campaign state "$campaign" running
echo "demo: 3 agents log in through carillon-agentd with carillon-agent --auto; each answers the questionnaire and qualifies VENTE after the customer hangs up"
agent_pids=()
for i in 0 1 2; do
    login=${agents[$i]}
    mkfifo "$d/$login.in"
    exec {fd}<>"$d/$login.in" # the demo logs the agents out once the campaign is over
    agent_args=(--script --auto --login "$login" --softphone "${phones[$i]}" --campaign "$campaign"
        --qualify VENTE --wrapup-ms 300 --answer interesse=yes --answer 'debit=Je ne sais pas')
    echo "\$ CARILLON_PASSWORD=$(q "demo-$login-pw") carillon-agent $(quoted "${agent_args[@]}")"
    CARILLON_PASSWORD="demo-$login-pw" "$bin/carillon-agent" "${agent_args[@]}" \
        <"$d/$login.in" >"$d/$login.out" 2>"$d/$login.err" &
    agent_pids+=($!)
    pids+=($!)
done
wait_line "$dir/server.log" 'campaign_finished campaign="?Démo relance' 240
for login in "${agents[@]}"; do echo '{"cmd":"logout"}' >"$d/$login.in"; done
for i in 0 1 2; do
    wait "${agent_pids[$i]}" ||
        { tail -5 "$d/${agents[$i]}.out" "$d/${agents[$i]}.err" >&2; echo "demo: ${agents[$i]} did not log out" >&2; exit 1; }
done
connected=0
for login in "${agents[@]}"; do
    connected=$((connected + $(grep -c '"event":"call_connected"' "$d/$login.out" || true)))
done
[ "$connected" = "$answered" ] || { echo "demo: $connected calls reached the agents, $answered answered" >&2; exit 1; }
echo "demo: $connected calls reached the agents; what camille's client saw first ($d/camille.out):"
grep -m1 '"event":"call_connected"' "$d/camille.out" | cut -c1-300 | sed 's/^/  /'
echo "demo: the campaign finished by itself:"
grep -E 'campaign_finished campaign="?Démo relance' "$dir/server.log" | tail -1 | sed 's/^/  /'
show campaign stats "$campaign"
show contact list --campaign "$campaign" --columns id,last_name,first_name,phone,state,attempts,last_qualification
echo "demo: one PDF per contact who answered (the questionnaire and the interview's history), zipped:"
show campaign report "$campaign" -o "$d/reports.zip"
unzip -l "$d/reports.zip" | sed -n '4,6p' | sed 's/^/  /'
