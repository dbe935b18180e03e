#!/usr/bin/env bash
# Script navigation (a screen's next, a select question's branches) and the automatic
# qualification table through carillonctl apply/get: the YAML round-trips exactly, and every
# refusal names the item that is wrong.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
ex="$CARILLON_SOURCE_DIR/deploy/examples"
work=$(mktemp -d)
trap_add "rm -rf '$work'"
F='Fibre Île-de-France 2027'
assert_exit 0 carillonctl user add helene --role agent --name 'Hélène Dupré' --password-stdin <<<'agent-pass-1'
assert_exit 0 carillonctl user add marc --role supervisor --name 'Marc Lefèvre' --password-stdin <<<'superv-pass-1'

# The fibre example with navigation: "satisfaction" (yes/no) no -> Offre, "debit" Fibre ->
# Offre; Accueil then goes to Offre; an automatic qualification table.
python3 - "$ex/campaign-fibre.yaml" "$work/nav.yaml" <<'PY'
import sys
s = open(sys.argv[1], encoding='utf-8').read()
sat = "    export_name: 'satisfaction'\n"
i = s.index(sat)
j = s.index("    branches: []\n", i)
s = s[:j] + "    branches:\n    - answer: 'no'\n      screen: 'Offre'\n    - answer: 'yes'\n      screen: 'Accueil'\n" + s[j + len("    branches: []\n"):]
deb = "    export_name: 'debit'\n"
i = s.index(deb)
j = s.index("    branches: []\n", i)
s = s[:j] + "    branches:\n    - answer: 'Fibre'\n      screen: 'Offre'\n" + s[j + len("    branches: []\n"):]
s = s.replace("  next: ''\n- name: 'Offre'", "  next: 'Offre'\n- name: 'Offre'", 1)
s = s.replace("auto_qualifications: []\n",
              "auto_qualifications:\n- outcome: 'answered'\n  code: 'OK'\n- outcome: 'busy'\n  code: 'RAP'\n- outcome: 'no_answer'\n  code: 'REF'\n")
open(sys.argv[2], 'w', encoding='utf-8').write(s)
PY
assert_exit 0 carillonctl apply -f "$work/nav.yaml"
assert_exit 0 carillonctl get campaign "$F"
diff <(printf '%s\n' "$OUT") <(grep -v '^ *#' "$work/nav.yaml") || fail "navigation does not round-trip"
assert_eq "{no,Offre,yes,Accueil}" "$(psql -Atc "select branches from script_blocks where export_name='satisfaction'")"
assert_eq "Offre|" "$(psql -Atc "select string_agg(next, '|' order by position) from script_screens s join campaigns c on c.id = s.campaign_id where c.name = '$F'")"
assert_eq "answered=OK busy=RAP no_answer=REF" "$(psql -Atc "select string_agg(outcome || '=' || code, ' ' order by outcome) from campaign_auto_qualifications")"
# applying the same file again changes nothing; get --json carries the same
assert_exit 0 carillonctl apply -f "$work/nav.yaml"
assert_exit 0 carillonctl get campaign "$F" --json
assert_contains "$OUT" '"branches":[{"answer":"no","screen":"Offre"}'
assert_contains "$OUT" '"auto_qualifications":[{"outcome":"answered","code":"OK"}'

# refusals, each naming its item
bad() { # sed expression, expected text
    sed "$1" "$work/nav.yaml" > "$work/bad.yaml"
    assert_exit 1 carillonctl apply -f "$work/bad.yaml"
    assert_contains "$ERR" "$2"
}
bad "s/    - answer: 'no'/    - answer: 'peut-être'/" "script[0].blocks[1].branches[0].answer: 'peut-être' is not an answer (yes or no) of question 'satisfaction'"
bad "s/    - answer: 'Fibre'/    - answer: 'Satellite'/" "script[0].blocks[2].branches[0].answer: 'Satellite' is not one of the choices of question 'debit'"
bad "s/    - answer: 'yes'/    - answer: 'no'/" "script[0].blocks[1].branches[1].answer: answer 'no' already has a branch (branches[0])"
bad "0,/      screen: 'Offre'/s//      screen: 'Conclusion'/" "script[0].blocks[1].branches[0].screen: no screen named 'Conclusion' in this script"
bad "s/  next: 'Offre'/  next: 'Fin'/" "script[0].next: no screen named 'Fin' in this script"
bad "s/  next: 'Offre'/  next: 'Accueil'/" "script[0].next: screen 'Accueil' cannot lead to itself"
bad "s/- outcome: 'busy'/- outcome: 'occupé'/" "auto_qualifications[1].outcome: 'occupé' is not an outcome"
bad "s/- outcome: 'busy'/- outcome: 'answered'/" "auto_qualifications[1].outcome: outcome 'answered' is already listed (auto_qualifications[0])"
bad "s/  code: 'RAP'/  code: 'NOPE'/" "auto_qualifications[1].code: no qualification with code 'NOPE' in this campaign"
bad "s/  code: 'RAP'/  code: ''/" "auto_qualifications[1].code is required"
# branches only on select questions: a text block with one
python3 - "$work/nav.yaml" "$work/bad.yaml" <<'PY'
import sys
s = open(sys.argv[1], encoding='utf-8').read()
s = s.replace("    branches: []\n", "    branches:\n    - answer: 'oui'\n      screen: 'Offre'\n", 1)
open(sys.argv[2], 'w', encoding='utf-8').write(s)
PY
assert_exit 1 carillonctl apply -f "$work/bad.yaml"
assert_contains "$ERR" "script[0].blocks[0].branches: only select questions have branches"
# a screen that a branch leads to cannot go away
assert_exit 1 carillonctl script screen-delete "$F" 'Offre'
assert_contains "$ERR" "no screen named 'Offre' in this script"
# nothing was changed by the refusals
assert_exit 0 carillonctl get campaign "$F"
diff <(printf '%s\n' "$OUT") <(grep -v '^ *#' "$work/nav.yaml") || fail "a refused apply changed the campaign"

# the table is emptied by a file without it; duplicating a campaign copies it
assert_exit 0 carillonctl campaign duplicate "$F" 'Fibre copie'
assert_eq "3" "$(psql -Atc "select count(*) from campaign_auto_qualifications a join campaigns c on c.id = a.campaign_id where c.name = 'Fibre copie'")"
assert_exit 0 carillonctl apply -f "$ex/campaign-fibre.yaml"
assert_eq "0" "$(psql -Atc "select count(*) from campaign_auto_qualifications a join campaigns c on c.id = a.campaign_id where c.name = '$F'")"
echo "config_navigation: ok"
