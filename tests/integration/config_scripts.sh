#!/usr/bin/env bash
# Scripts and questionnaires through carillonctl: every block type round-trips, validation,
# ordering/duplicating/deleting questions and screens, bulk choices, import from another
# campaign, preview with contact fields, and questions or choices frozen once answered.
# Also the per-part commands for qualifications and the schedule.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
ex="$CARILLON_SOURCE_DIR/deploy/examples"
work=$(mktemp -d)
trap_add "rm -rf '$work'"
F='Fibre Île-de-France 2027'
S='Enquête satisfaction Lyon'
assert_exit 0 carillonctl user add helene --role agent --name 'Hélène Dupré' --password-stdin <<<'agent-pass-1'
assert_exit 0 carillonctl user add marc --role supervisor --name 'Marc Lefèvre' --password-stdin <<<'superv-pass-1'
assert_exit 0 carillonctl apply -f "$ex/campaign-fibre.yaml"
assert_exit 0 carillonctl apply -f "$ex/campaign-survey.yaml"
assert_exit 0 carillonctl get campaign "$F"
diff <(printf '%s\n' "$OUT") <(grep -v '^ *#' "$ex/campaign-fibre.yaml") || fail "script does not round-trip"
assert_eq "7" "$(psql -Atc "select count(*) from script_blocks b join campaigns c on c.id=b.campaign_id where c.name='$F' and export_name is not null")"

# preview: placeholders substituted, the rest shown as is
assert_exit 0 carillonctl script preview "$F" --contact 'Nom=Dupont,Prénom=Zoé'
assert_contains "$OUT" "Bonjour Zoé Dupont, je suis [Agent]"
assert_contains "$OUT" "Screen 1: Accueil (initial)"
assert_contains "$OUT" "Q1* Êtes-vous satisfait"
assert_contains "$OUT" "( ) Oui   ( ) Non"
assert_contains "$OUT" "[ ] Télétravail"
assert_contains "$OUT" "Quick qualification: [OK] [RAP] [REF]"

# validation of blocks, each naming its field
bad() { # sed expression, expected text
    sed "$1" "$ex/campaign-fibre.yaml" > "$work/bad.yaml"
    assert_exit 1 carillonctl apply -f "$work/bad.yaml"
    assert_contains "$ERR" "$2"
}
bad "s/export_name: 'debit'/export_name: 'satisfaction'/" "'satisfaction' is already the export name of script[0].blocks[1]"
bad "s/export_name: 'debit'/export_name: '2debit'/" "must be 1-64 letters, digits or _"
bad "s/qualifications: \['OK', 'RAP', 'REF'\]/qualifications: ['OK', 'NOPE']/" "no qualification with code 'NOPE'"
bad "s/  initial: false/  initial: true/" "exactly one screen must be initial (found 2)"
bad "s/text: 'Quel débit utilisez-vous ?'/text: 'Quel [débit utilisez-vous ?'/" "a [ is not closed by ]"
bad "s/choices: \['ADSL', 'VDSL', 'Fibre', 'Je ne sais pas'\]/choices: ['ADSL']/" "needs at least 2 choices"
bad "s/    predefined_type: date/    predefined_type: ''/" "predefined questions, and only they, have a predefined type"
bad "s/\[anciennete\]/[anciennété]/" "[anciennété] is not a field of this campaign"
bad "s/popup_fields: \['last_name'/popup_fields: ['surname'/" "popup_fields[0]: 'surname' is not a field of this campaign"
bad "s/- name: 'offre_actuelle'/- name: 'city'/" "'city' is a standard field already"
bad "s/  label: 'Offre actuelle'/  label: 'Ancienneté'/" "'Ancienneté' is the label of fields[0] too"

# ordering, duplicating, deleting questions and screens; bulk choices
assert_exit 0 carillonctl question move "$F" debit 1
assert_exit 0 carillonctl question list "$F"
assert_contains "$(printf '%s\n' "$OUT" | sed -n 2p)" "debit"
assert_exit 0 carillonctl question duplicate "$F" remarques remarques_bis
assert_exit 0 carillonctl question list "$F" --json
assert_contains "$OUT" '"export_name":"remarques_bis"'
assert_exit 0 carillonctl question delete "$F" remarques_bis
assert_exit 1 carillonctl question delete "$F" remarques_bis
assert_contains "$ERR" "NOT_FOUND"
assert_exit 0 carillonctl question choices "$F" debit --bulk 'ADSL; VDSL ;Fibre;Je ne sais pas;4G box'
assert_eq "{ADSL,VDSL,Fibre,\"Je ne sais pas\",\"4G box\"}" "$(psql -Atc "select choices from script_blocks where export_name='debit'")"
assert_exit 0 carillonctl script screen-duplicate "$F" Offre 'Offre bis'
assert_exit 0 carillonctl question list "$F"
assert_contains "$OUT" "usages_2"
assert_exit 0 carillonctl script screen-move "$F" 'Offre bis' 1
assert_exit 0 carillonctl script screens "$F"
assert_contains "$(printf '%s\n' "$OUT" | sed -n 2p)" "Offre bis"
assert_exit 0 carillonctl script screen-delete "$F" 'Offre bis'
assert_exit 0 carillonctl question import "$S" --from "$F"
assert_contains "$OUT" "7 questions imported"
assert_exit 1 carillonctl question import "$S" --from "$F"
assert_contains "$ERR" "already exists"
# from a campaign with no questionnaire: said, and nothing changes
assert_exit 0 carillonctl campaign create 'Vide'
before=$(psql -Atc "select count(*) from script_screens")
assert_exit 1 carillonctl question import "$S" --from 'Vide'
assert_contains "$ERR" "campaign 'Vide' has no questionnaire"
assert_contains "$ERR" "nothing imported"
assert_eq "$before" "$(psql -Atc "select count(*) from script_screens")"

# answered questions and choices are frozen; the rest stays editable
psql -qAtc "insert into answers (campaign_id, export_name, \"values\") select id, 'debit', '{Fibre}' from campaigns where name='$F'"
assert_exit 1 carillonctl question delete "$F" debit
assert_contains "$ERR" "FAILED_PRECONDITION"
assert_contains "$ERR" "question 'debit' has answers: it cannot be deleted"
assert_exit 1 carillonctl question choices "$F" debit --bulk 'ADSL;VDSL'
assert_contains "$ERR" "choice 'Fibre' of question 'debit' has answers"
sed "s/text: 'Quel débit utilisez-vous ?'/text: 'Votre débit ?'/" "$ex/campaign-fibre.yaml" > "$work/reword.yaml"
assert_exit 1 carillonctl apply -f "$work/reword.yaml"
assert_contains "$ERR" "question 'debit' has answers: it cannot be edited"
assert_exit 0 carillonctl question choices "$F" debit --bulk 'ADSL;Fibre;Satellite'
assert_exit 0 carillonctl question delete "$F" remarques

# qualifications and schedule, one part at a time
assert_exit 0 carillonctl qualification add "$F" NRP 'Ne répond pas' --type misc --group vente --callback manual --max-days 7
assert_exit 0 carillonctl qualification list "$F"
assert_contains "$OUT" "Ne répond pas"
assert_exit 1 carillonctl qualification add "$F" OK 'Encore OK' --type positive
assert_contains "$ERR" "code 'OK' is already used"
assert_exit 0 carillonctl qualification delete "$F" NRP
assert_exit 0 carillonctl schedule add "$F" friday 09:00 12:00
assert_exit 1 carillonctl schedule add "$F" friday 11:00 13:00
assert_contains "$ERR" "overlaps"
assert_exit 0 carillonctl schedule close "$F" 2027-07-14 'Fête nationale'
assert_exit 0 carillonctl schedule list "$F"
assert_contains "$OUT" "2027-07-14      closed  Fête nationale"
assert_exit 0 carillonctl schedule list "$F" --json
assert_contains "$OUT" '{"day":"friday","start":"09:00","end":"12:00"}'
assert_exit 0 carillonctl script screens "$F" --json
assert_contains "$OUT" '"name":"Accueil","initial":true'
assert_exit 0 carillonctl schedule remove "$F" 5
assert_exit 1 env CARILLON_USER=helene CARILLON_PASSWORD=agent-pass-1 carillonctl question list "$F"
assert_contains "$ERR" "PERMISSION_DENIED"
assert_exit 1 env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl question delete "$F" email
assert_contains "$ERR" "right on campaign"
echo "PASS config_scripts"
