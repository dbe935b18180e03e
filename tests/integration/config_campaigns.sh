#!/usr/bin/env bash
# Campaign configuration through carillonctl: apply/get round trip, every refusal with its code,
# field and (for files) line, nothing written on a refusal, state rules, delete, duplicate, list
# filters, and roles.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
ex="$CARILLON_SOURCE_DIR/deploy/examples"
work=$(mktemp -d)
trap_add "rm -rf '$work'"
fibre='Fibre Île-de-France 2027'
survey='Enquête satisfaction Lyon'

assert_exit 0 carillonctl user add helene --role agent --name 'Hélène Dupré' --password-stdin <<<'agent-pass-1'
assert_exit 0 carillonctl user add marc --role supervisor --name 'Marc Lefèvre' --password-stdin <<<'superv-pass-1'

# apply creates, get writes back exactly the file (accents included), a second apply updates
assert_exit 0 carillonctl apply -f "$ex/campaign-fibre.yaml"
assert_contains "$OUT" "campaign $fibre created"
assert_exit 0 carillonctl get campaign "$fibre"
# (the examples' comment lines explain the settings; get writes none)
uncommented() { grep -v '^ *#' "$1"; }
diff <(printf '%s\n' "$OUT") <(uncommented "$ex/campaign-fibre.yaml") || fail "get does not give back the applied file"
assert_exit 0 carillonctl apply -f "$ex/campaign-fibre.yaml"
assert_contains "$OUT" "updated"
assert_exit 0 carillonctl apply -f "$ex/campaign-survey.yaml"
assert_exit 0 carillonctl get campaign "$survey" -o yaml
diff <(printf '%s\n' "$OUT") <(uncommented "$ex/campaign-survey.yaml") || fail "survey round trip differs"
# the engine's settings are stored as applied
assert_eq "fr|skip|2000|60|{break,lunch}" "$(psql -Atc "select compliance, preview_timeout_action, abandon_after_ms, wrapup_max_s, pause_reasons from campaigns where name='$fibre'")"
assert_eq "REF" "$(psql -Atc "select string_agg(code, ',') from qualifications q join campaigns c on c.id=q.campaign_id where c.name='$fibre' and refusal")"
assert_eq "none|dial|180|{}" "$(psql -Atc "select compliance, preview_timeout_action, wrapup_max_s, pause_reasons from campaigns where name='$survey'")"
assert_exit 0 carillonctl get campaign "$survey" -o json
assert_contains "$OUT" '"name":"Enquête satisfaction Lyon"'
assert_eq "3" "$(psql -Atc "select count(*) from qualifications q join campaigns c on c.id=q.campaign_id where c.name='$fibre'")"
assert_eq "09:00:00|12:30:00" "$(psql -Atc "select start_time, end_time from campaign_schedule_slots s join campaigns c on c.id=s.campaign_id where c.name='$fibre' and position=1" | tr -d ' ')"

snapshot() { psql -Atc "select md5(string_agg(t::text, ',' order by t::text)) from (select * from campaigns) t" ; }
before=$(snapshot)

# refusals: (file, expected code, expected text) — and nothing written
refuse() {
    local file=$1 code=$2 text=$3
    assert_exit 1 carillonctl apply -f "$file"
    assert_contains "$ERR" "$code"
    assert_contains "$ERR" "$text"
    assert_eq "$before" "$(snapshot)"
}
sed "0,/start: '14:00'/s//start: '11:00'/" "$ex/campaign-fibre.yaml" > "$work/overlap.yaml"
line=$(($(grep -n "start: '11:00'" "$work/overlap.yaml" | cut -d: -f1) - 1)) # the slot's item line
refuse "$work/overlap.yaml" INVALID_ARGUMENT "overlaps schedule[0]"
assert_contains "$ERR" "overlap.yaml:$line: schedule[1]"
sed "0,/end: '19:00'/s//end: '08:00'/" "$ex/campaign-fibre.yaml" > "$work/empty.yaml"
refuse "$work/empty.yaml" INVALID_ARGUMENT "is empty (end must be after start)"
sed "s/code: 'RAP'/code: 'OK'/" "$ex/campaign-fibre.yaml" > "$work/dupcode.yaml"
refuse "$work/dupcode.yaml" INVALID_ARGUMENT "code 'OK' is already used by qualifications[0]"
sed "s/^time_zone: .*/time_zone: 'Europe\/Atlantis'/" "$ex/campaign-fibre.yaml" > "$work/tz.yaml"
refuse "$work/tz.yaml" INVALID_ARGUMENT "unknown time zone 'Europe/Atlantis'"
sed "s/^referent: .*/referent: 'nobody'/" "$ex/campaign-fibre.yaml" > "$work/ref.yaml"
refuse "$work/ref.yaml" INVALID_ARGUMENT "no user with login 'nobody'"
sed "s/^end_date: .*/end_date: '2027-02-30'/" "$ex/campaign-fibre.yaml" > "$work/date.yaml"
refuse "$work/date.yaml" INVALID_ARGUMENT "not a real date"
sed "s/^qualification_group: .*/qualification_group: 'autre'/" "$ex/campaign-fibre.yaml" > "$work/group.yaml"
refuse "$work/group.yaml" INVALID_ARGUMENT "no qualification belongs to qualification_group 'autre'"
sed "s/^  mode: progressive/  mode: turbo/" "$ex/campaign-fibre.yaml" > "$work/mode.yaml"
refuse "$work/mode.yaml" INVALID_ARGUMENT "expected one of: preview, progressive, power, predictive"
assert_contains "$ERR" "dialing.mode"
printf 'name: x\ntime_zone: Europe/Paris\nnot_a_field: 1\n' > "$work/unknown.yaml"
refuse "$work/unknown.yaml" INVALID_ARGUMENT "unknown.yaml:3: not_a_field: unknown field"
printf 'name: [unclosed\n' > "$work/syntax.yaml"
refuse "$work/syntax.yaml" INVALID_ARGUMENT "syntax.yaml:"

# the engine's settings: each refusal names its field
sed "s/^pause_reasons: .*/pause_reasons: ['break', 'smoke']/" "$ex/campaign-fibre.yaml" > "$work/pause.yaml"
refuse "$work/pause.yaml" INVALID_ARGUMENT "pause_reasons[1]: 'smoke' is not one of the server's pause reasons"
sed "s/^pause_reasons: .*/pause_reasons: ['lunch', 'lunch']/" "$ex/campaign-fibre.yaml" > "$work/pause2.yaml"
refuse "$work/pause2.yaml" INVALID_ARGUMENT "pause_reasons[1]: 'lunch' is listed twice"
sed -e "s/^compliance: .*/compliance: us/" -e "s/^  abandon_after_ms: .*/  abandon_after_ms: 2500/" "$ex/campaign-fibre.yaml" > "$work/us-abandon.yaml"
refuse "$work/us-abandon.yaml" INVALID_ARGUMENT "dialing.abandon_after_ms is at most 2000 with the US compliance profile"
sed -e "s/^compliance: .*/compliance: us/" -e "s/^  ring_timeout_s: .*/  ring_timeout_s: 10/" "$ex/campaign-fibre.yaml" > "$work/us-ring.yaml"
refuse "$work/us-ring.yaml" INVALID_ARGUMENT "dialing.ring_timeout_s must be at least 15 seconds with the US compliance profile"
sed -e "s/^compliance: .*/compliance: us/" -e "s/^  abandon_target_pct: .*/  abandon_target_pct: 5/" "$ex/campaign-fibre.yaml" > "$work/us-target.yaml"
refuse "$work/us-target.yaml" INVALID_ARGUMENT "dialing.abandon_target_pct is at most 3 with the US compliance profile"
for ratio in 0 11; do
    sed "s/^  power_ratio: .*/  power_ratio: $ratio/" "$ex/campaign-fibre.yaml" > "$work/ratio.yaml"
    refuse "$work/ratio.yaml" INVALID_ARGUMENT "dialing.power_ratio must be between 1 and 10"
done
sed "s/^  abandon_target_pct: .*/  abandon_target_pct: 0/" "$ex/campaign-fibre.yaml" > "$work/target.yaml"
refuse "$work/target.yaml" INVALID_ARGUMENT "dialing.abandon_target_pct must be between 0.1 and 10"
sed "s/^  abandon_after_ms: .*/  abandon_after_ms: 200/" "$ex/campaign-fibre.yaml" > "$work/after.yaml"
refuse "$work/after.yaml" INVALID_ARGUMENT "dialing.abandon_after_ms must be between 500 and 10000"
sed "s/^wrapup_max_s: .*/wrapup_max_s: 7200/" "$ex/campaign-fibre.yaml" > "$work/wrapup.yaml"
refuse "$work/wrapup.yaml" INVALID_ARGUMENT "wrapup_max_s is at most 3600"
sed "s/^compliance: .*/compliance: de/" "$ex/campaign-fibre.yaml" > "$work/profile-de.yaml"
refuse "$work/profile-de.yaml" INVALID_ARGUMENT "expected one of: none, fr, us, uk"
assert_contains "$ERR" "compliance"
awk '/code: .RAP./{rap=1} rap && /refusal:/{sub(/false/, "true"); rap=0} 1' "$ex/campaign-fibre.yaml" > "$work/refusal.yaml"
refuse "$work/refusal.yaml" INVALID_ARGUMENT "qualifications[1].refusal: only a final qualification records a refusal"

# absent settings take their defaults (and get writes them); wrapup_max_s 0 is unlimited, not absent
grep -v -e '^ *#' -e '^compliance:' -e '^wrapup_max_s:' -e '^pause_reasons:' -e 'preview_timeout_action:' \
    -e 'abandon_after_ms:' -e 'power_ratio:' -e 'abandon_target_pct:' -e 'refusal:' "$ex/campaign-fibre.yaml" |
    sed "s/^name: .*/name: 'Par défaut'/" > "$work/defaults.yaml"
assert_exit 0 carillonctl apply -f "$work/defaults.yaml"
assert_exit 0 carillonctl get campaign 'Par défaut' -o yaml
for setting in 'compliance: none' 'wrapup_max_s: 60' 'pause_reasons: []' '  preview_timeout_action: skip' \
    '  abandon_after_ms: 2000' '  power_ratio: 1' '  abandon_target_pct: 3' '  refusal: false'; do
    assert_contains "$OUT" "$setting"
done
assert_not_contains "$OUT" "refusal: true"
sed "s/^wrapup_max_s: .*/wrapup_max_s: 0/" "$ex/campaign-fibre.yaml" > "$work/unlimited.yaml"
assert_exit 0 carillonctl apply -f "$work/unlimited.yaml"
assert_eq "0" "$(psql -Atc "select wrapup_max_s from campaigns where name='$fibre'")"
assert_exit 0 carillonctl apply -f "$ex/campaign-fibre.yaml"
assert_exit 0 carillon-server --example-config
assert_contains "$OUT" "pause_reasons = break, lunch, training, meeting"

# state rules: draft cannot run; ready without agents, slots or qualifications cannot run
assert_exit 1 carillonctl campaign state "$fibre" running
assert_contains "$ERR" "FAILED_PRECONDITION"
assert_contains "$ERR" "cannot go from draft to running"
sed -e "s/^agents: .*/agents: []/" -e "s/^name: .*/name: 'Sans agent'/" "$ex/campaign-fibre.yaml" > "$work/noagent.yaml"
assert_exit 0 carillonctl apply -f "$work/noagent.yaml"
assert_exit 0 carillonctl campaign state 'Sans agent' ready
assert_exit 1 carillonctl campaign state 'Sans agent' running
assert_contains "$ERR" "no agent is assigned"
awk '/^schedule:/{print "schedule: []"; skip=1; next} skip && /^schedule_dates:/{skip=0} !skip' "$ex/campaign-fibre.yaml" |
    sed "s/^name: .*/name: 'Sans créneau'/" > "$work/noslot.yaml"
assert_exit 0 carillonctl apply -f "$work/noslot.yaml"
assert_exit 0 carillonctl campaign state 'Sans créneau' ready
assert_exit 1 carillonctl campaign state 'Sans créneau' running
assert_contains "$ERR" "its schedule has no time slot"

# running: group change refused, delete refused, pause/stop then delete works
assert_exit 0 carillonctl campaign state "$fibre" ready
# running needs an active list with contacts to call
assert_exit 1 carillonctl campaign state "$fibre" running
assert_contains "$ERR" "no active list has contacts to call"
assert_exit 0 carillonctl contact add --campaign "$fibre" --phone '06 12 34 56 78' --field last_name=Lefèvre
assert_exit 0 carillonctl campaign state "$fibre" running
assert_eq "running" "$(psql -Atc "select state from campaigns where name='$fibre'")"
# a state: key is never ignored: another state than the campaign's refuses the whole file
assert_exit 1 carillonctl apply -f "$ex/campaign-fibre.yaml"
assert_contains "$ERR" "state: draft, but campaign '$fibre' is running: apply does not change states"
assert_eq "running" "$(psql -Atc "select state from campaigns where name='$fibre'")"
sed -e "s/^qualification_group: .*/qualification_group: 'autre'/" -e "s/groups: \['vente'\]/groups: ['autre']/" -e '/^state: /d' "$ex/campaign-fibre.yaml" > "$work/regroup.yaml"
assert_exit 1 carillonctl apply -f "$work/regroup.yaml"
assert_contains "$ERR" "pause it before changing its qualification group"
assert_exit 1 carillonctl campaign delete "$fibre" --yes
assert_contains "$ERR" "is running: stop it before deleting it"
assert_exit 0 carillonctl campaign state "$fibre" paused
assert_exit 0 carillonctl apply -f "$work/regroup.yaml"

# duplicate: a draft copy with everything; the name must be free
assert_exit 0 carillonctl campaign duplicate "$fibre" 'Fibre copie'
assert_exit 0 carillonctl get campaign 'Fibre copie'
assert_contains "$OUT" "state: draft"
assert_contains "$OUT" "Fête du travail"
assert_contains "$OUT" "compliance: fr"
assert_contains "$OUT" "pause_reasons: ['break', 'lunch']"
assert_contains "$OUT" "  refusal: true"
# ... the script and the declared fields too: the copy's get equals the original's but for its name
# and state
assert_eq "$(psql -Atc "select count(*) from script_blocks b join campaigns c on c.id=b.campaign_id where c.name='$fibre'")" \
    "$(psql -Atc "select count(*) from script_blocks b join campaigns c on c.id=b.campaign_id where c.name='Fibre copie'")"
copy=$OUT
assert_exit 0 carillonctl get campaign "$fibre"
diff <(printf '%s\n' "$OUT" | grep -v '^name:\|^state:') <(printf '%s\n' "$copy" | grep -v '^name:\|^state:') ||
    fail "the copy differs from the campaign it was copied from"
assert_eq "fr|skip|2000|60|{break,lunch}" "$(psql -Atc "select compliance, preview_timeout_action, abandon_after_ms, wrapup_max_s, pause_reasons from campaigns where name='Fibre copie'")"
assert_exit 1 carillonctl campaign duplicate "$fibre" "$survey"
assert_contains "$ERR" "ALREADY_EXISTS"

# list with filters
assert_exit 0 carillonctl campaign list --state paused
assert_contains "$OUT" "$fibre"
assert_not_contains "$OUT" "$survey"
assert_contains "$OUT" "0/500"
assert_exit 0 carillonctl campaign list --contract-type fixe --json
assert_contains "$OUT" "$survey"
# delete asks for --yes and says what goes with the campaign; without it nothing is deleted
assert_exit 1 carillonctl campaign delete 'Fibre copie'
assert_contains "$ERR" "also deletes its 0 lists and 0 contacts"
assert_contains "$ERR" "confirm it (--yes)"
assert_exit 0 carillonctl get campaign 'Fibre copie'
assert_exit 2 carillonctl campaign delete
assert_contains "$ERR" "campaign delete: missing NAME"
assert_contains "$ERR" "usage: carillonctl campaign delete NAME --yes"
assert_exit 0 carillonctl campaign delete 'Fibre copie' --yes
assert_exit 1 carillonctl get campaign 'Fibre copie'
assert_contains "$ERR" "NOT_FOUND"

# roles: a supervisor may configure, an agent may not
assert_exit 0 env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl campaign list
assert_exit 1 env CARILLON_USER=helene CARILLON_PASSWORD=agent-pass-1 carillonctl campaign list
assert_contains "$ERR" "PERMISSION_DENIED"
assert_exit 1 env CARILLON_USER=helene CARILLON_PASSWORD=agent-pass-1 carillonctl apply -f "$ex/campaign-survey.yaml"
assert_contains "$ERR" "PERMISSION_DENIED"

# rights: a supervisor edits what they created, needs a grant for the rest
marc() { env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl "$@"; }
sed "s/^name: .*/name: 'Campagne de Marc'/" "$ex/campaign-survey.yaml" > "$work/marc.yaml"
assert_exit 0 marc apply -f "$work/marc.yaml"
assert_exit 0 marc apply -f "$work/marc.yaml"
assert_exit 1 marc apply -f "$ex/campaign-survey.yaml"
assert_contains "$ERR" "PERMISSION_DENIED"
assert_contains "$ERR" "you do not have the edit right on campaign '$survey'"
assert_exit 1 marc get campaign "$survey"
assert_contains "$ERR" "view right"
assert_exit 0 marc campaign list
assert_contains "$OUT" "Campagne de Marc"
assert_not_contains "$OUT" "$survey"
assert_exit 0 carillonctl grant marc "$survey" view
assert_exit 0 marc get campaign "$survey"
assert_exit 1 marc apply -f "$ex/campaign-survey.yaml"
assert_contains "$ERR" "edit right"
assert_exit 1 marc campaign state "$survey" paused
assert_contains "$ERR" "edit right"
assert_exit 0 carillonctl grant marc "$survey" view,edit
assert_exit 0 marc apply -f "$ex/campaign-survey.yaml"
assert_exit 0 carillonctl grant list "$survey"
assert_contains "$OUT" "marc"
assert_exit 0 carillonctl grant marc "$survey" none
assert_exit 1 marc get campaign "$survey"
assert_exit 1 carillonctl grant nobody "$survey" view
assert_contains "$ERR" "NOT_FOUND"
assert_exit 1 env CARILLON_USER=helene CARILLON_PASSWORD=agent-pass-1 carillonctl grant helene "$survey" edit
assert_contains "$ERR" "PERMISSION_DENIED"

# rights by profile: a supervisor with the profile gets them
assert_exit 0 carillonctl user add lea --role supervisor --name 'Léa Girard' --password-stdin <<<'superv-pass-2'
assert_exit 1 env CARILLON_USER=lea CARILLON_PASSWORD=superv-pass-2 carillonctl get campaign "$survey"
assert_exit 0 carillonctl user profiles lea qualite
assert_exit 0 carillonctl grant @qualite "$survey" view
assert_exit 0 env CARILLON_USER=lea CARILLON_PASSWORD=superv-pass-2 carillonctl get campaign "$survey"
assert_exit 1 env CARILLON_USER=lea CARILLON_PASSWORD=superv-pass-2 carillonctl apply -f "$ex/campaign-survey.yaml"
assert_contains "$ERR" "edit right"
assert_exit 0 env CARILLON_USER=lea CARILLON_PASSWORD=superv-pass-2 carillonctl campaign list
assert_contains "$OUT" "$survey"
assert_exit 0 carillonctl grant list "$survey"
assert_contains "$OUT" "@qualite"
assert_exit 0 carillonctl grant @qualite "$survey" none
assert_exit 1 env CARILLON_USER=lea CARILLON_PASSWORD=superv-pass-2 carillonctl get campaign "$survey"

# agents by profile: a campaign with no agent listed runs when an agent has its profile
assert_exit 0 carillonctl user profiles helene vente,fibre
assert_exit 0 carillonctl user list --json
assert_contains "$OUT" '"profiles":["fibre","vente"]'
sed -e "s/^agents: .*/agents: []/" -e "s/^name: .*/name: 'Par profil'/" "$ex/campaign-fibre.yaml" > "$work/profile.yaml"
assert_exit 0 carillonctl apply -f "$work/profile.yaml"
assert_exit 0 carillonctl campaign state 'Par profil' ready
assert_exit 0 carillonctl contact add --campaign 'Par profil' --phone '06 12 34 56 79'
assert_exit 0 carillonctl campaign state 'Par profil' running
assert_exit 0 carillonctl grant list 'Par profil'
assert_contains "$OUT" "profile"
assert_exit 1 carillonctl user profiles helene 'bad profile'
assert_contains "$ERR" "INVALID_ARGUMENT"

# create and set one field at a time
assert_exit 0 carillonctl campaign create 'Relance Marseille'
assert_exit 0 carillonctl campaign set 'Relance Marseille' dialing.max_simultaneous_calls 30
assert_exit 0 carillonctl campaign set 'Relance Marseille' objective 'Relancer les clients marseillais'
assert_eq "30|Relancer les clients marseillais" "$(psql -Atc "select max_simultaneous_calls, objective from campaigns where name='Relance Marseille'")"
assert_exit 2 carillonctl campaign set 'Relance Marseille' dialing.mode turbo
assert_contains "$ERR" "expected one of: preview, progressive, power, predictive"
assert_exit 2 carillonctl campaign set 'Relance Marseille' nope 1
assert_contains "$ERR" "no field 'nope'"
assert_exit 1 carillonctl campaign set 'Relance Marseille' dialing.ring_timeout_s 2
assert_contains "$ERR" "between 5 and 300"
assert_exit 0 carillonctl campaign set 'Relance Marseille' wrapup_max_s 0
assert_exit 0 carillonctl campaign set 'Relance Marseille' compliance us
assert_eq "0|us" "$(psql -Atc "select wrapup_max_s, compliance from campaigns where name='Relance Marseille'")"
assert_exit 1 carillonctl campaign set 'Relance Marseille' dialing.power_ratio 0
assert_contains "$ERR" "dialing.power_ratio"
echo "PASS config_campaigns"
