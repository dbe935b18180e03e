#!/usr/bin/env bash
# Campaign reports (seed 003's PDF export): carillonctl campaign report zips one PDF per target
# that answered: finished interviews, or with --include-unfinished also the started, suspended
# and cancelled ones with answers or an answered call. A PDF holds the target's details (accents
# kept), the last interview's answers under their questions, and the history. Pages of 200
# targets (or fewer) are all fetched; the export right is needed; no target: exit 1 and no file.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
ex="$CARILLON_SOURCE_DIR/deploy/examples"
F='Fibre Île-de-France 2027'
d="$CARILLON_STACK_DIR/files"
mkdir -p "$d"
export TZ=Europe/Paris # the PDFs show times in carillonctl's zone
# One saved session per user (each password login costs a scrypt): admin's in the stack's
# CARILLON_CONFIG_DIR, the others' in their own.
assert_exit 0 carillonctl login
ctl_as() { # ctl_as LOGIN PASSWORD ARGS...
    local who=$1 pw=$2
    shift 2
    mkdir -p "$CARILLON_STACK_DIR/ctl-$who"
    CARILLON_CONFIG_DIR="$CARILLON_STACK_DIR/ctl-$who" CARILLON_USER=$who CARILLON_PASSWORD=$pw \
        carillonctl "$@"
}
assert_exit 0 carillonctl user add marc --role supervisor --password-stdin <<<'superv-pass-1'
assert_exit 0 carillonctl user add helene --role agent --password-stdin <<<'agent-pass-1'
assert_exit 0 carillonctl user add vera --role supervisor --password-stdin <<<'viewer-pass-1'
assert_exit 0 carillonctl user add xavier --role supervisor --password-stdin <<<'export-pass-1'
assert_exit 0 carillonctl apply -f "$ex/campaign-fibre.yaml"
assert_exit 0 carillonctl grant vera "$F" view
assert_exit 0 carillonctl grant xavier "$F" view,export
printf 'Nom;Prénom;Tel1;Ville;Ancienneté\nDupré;Hélène;06 12 34 56 78;Besançon;12\nMartin;Luc;06 12 34 56 79;Paris;3\nPetit;Zoé;06 12 34 56 70;Lyon;1\nLeroy;Max;06 12 34 56 71;Nantes;2\nDubois/..;Ana;06 12 34 56 72;Brest;5\n' >"$d/cibles.csv"
assert_exit 0 carillonctl list import "$d/cibles.csv" --campaign "$F" --name cibles \
    --map 'Nom=last_name,Prénom=first_name,Tel1=phone1,Ville=city,Ancienneté=anciennete'
assert_contains "$OUT" "5 imported"
id() { psql -Atc "select id from contacts where first_name = '$1'"; }
helene=$(id Hélène) luc=$(id Luc) zoe=$(id Zoé) max=$(id Max) ana=$(id Ana)
agent=$(psql -Atc "select id from users where login = 'helene'")

# What the interview window would have written (another part of Carillon fills these tables).
psql -q -v ON_ERROR_STOP=1 <<SQL
-- Hélène: a first interview cancelled (its answer is not the last interview's), then a call
-- answered, answers (the latest per question wins), finished and qualified OK.
insert into attempts (id, campaign_id, contact_id, number, agent_id, created_at, answered_at,
    ended_at, outcome, counted, qualification, qualified_at, closed_at)
select v.id, c.campaign_id, c.id, '+33612345678', $agent, v.at::timestamptz,
    case when v.outcome = 'answered' then v.at::timestamptz end, v.at::timestamptz,
    v.outcome, true, v.q, v.at::timestamptz, v.at::timestamptz
from contacts c, (values (9001, $helene, '2027-03-01 10:00+01', 'answered', 'RAP'),
                         (9002, $helene, '2027-03-02 10:30+01', 'answered', 'OK'),
                         (9003, $luc, '2027-03-03 11:00+01', 'answered', 'RAP'),
                         (9004, $zoe, '2027-03-03 11:30+01', 'busy', null),
                         (9005, $ana, '2027-03-03 12:00+01', 'answered', 'REF'))
    as v(id, contact, at, outcome, q)
where c.id = v.contact;
insert into interview_events (campaign_id, contact_id, attempt_id, at, event, agent_id, detail)
select c.campaign_id, c.id, v.attempt, v.at::timestamptz, v.event, $agent, v.detail
from contacts c, (values ($helene, 9001, '2027-03-01 10:01+01', 'started', ''),
                         ($helene, 9001, '2027-03-01 10:05+01', 'cancelled', 'la cliente raccroche'),
                         ($helene, 9002, '2027-03-02 10:31+01', 'started', ''),
                         ($helene, 9002, '2027-03-02 10:35+01', 'answers', ''),
                         ($helene, 9002, '2027-03-02 10:40+01', 'finished', ''),
                         ($luc, 9003, '2027-03-03 11:01+01', 'started', ''),
                         ($luc, 9003, '2027-03-03 11:05+01', 'suspended', ''),
                         ($zoe, 9004, '2027-03-03 11:31+01', 'started', ''),
                         ($ana, 9005, '2027-03-03 12:01+01', 'started', ''),
                         ($ana, 9005, '2027-03-03 12:02+01', 'cancelled', ''))
    as v(contact, attempt, at, event, detail)
where c.id = v.contact;
insert into answers (campaign_id, export_name, contact_id, attempt_id, matrix_row, "values",
    answered_by, answered_at)
select c.campaign_id, v.q, c.id, v.attempt, v.row, v.vals::text[], $agent, v.at::timestamptz
from contacts c, (values
    ($helene, 9001, 'date_installation', null, '{2027-04-01}', '2027-03-01 10:03+01'),
    ($helene, 9002, 'satisfaction', null, '{Non}', '2027-03-02 10:32+01'),
    ($helene, 9002, 'remarques', null, '{"Très bonne écoute ; la cliente souhaite être rappelée après 18 h pour parler de la box, du décodeur et de l''installation de la fibre optique dans son appartement de Besançon."}', '2027-03-02 10:34+01'),
    ($helene, 9002, 'usages', null, '{Télétravail,Streaming}', '2027-03-02 10:34+01'),
    ($helene, 9002, 'notes', 'Technique', '{4}', '2027-03-02 10:34+01'),
    ($helene, 9002, 'notes', 'Accueil', '{5}', '2027-03-02 10:34+01'),
    ($helene, 9002, 'debit', null, '{Fibre}', '2027-03-02 10:34+01'),
    ($luc, 9003, 'satisfaction', null, '{Non}', '2027-03-03 11:03+01'))
    as v(contact, attempt, q, row, vals, at)
where c.id = v.contact;
-- the same question answered again: the later answer (answers.id) replaces the first
insert into answers (campaign_id, export_name, contact_id, attempt_id, "values", answered_by,
    answered_at)
select campaign_id, 'satisfaction', id, 9002, '{Oui}', $agent, '2027-03-02 10:34:30+01'
from contacts where id = $helene;
update contacts set interview = 'finished', interview_at = '2027-03-02 10:40+01',
    last_qualification = 'OK', state = 'done' where id = $helene;
update contacts set interview = 'suspended', interview_at = '2027-03-03 11:05+01',
    last_qualification = 'RAP' where id = $luc;
-- Zoé: busy until she failed; the engine marks such an interview finished, with nothing in it
update contacts set interview = 'finished', interview_at = '2027-03-03 11:31+01', state = 'failed'
    where id = $zoe;
update contacts set interview = 'cancelled', interview_at = '2027-03-03 12:02+01',
    last_qualification = 'REF', state = 'done' where id = $ana;
SQL

# Finished interviews of targets that answered: Hélène (not Zoé, closed failed after busy calls).
assert_exit 0 ctl_as xavier export-pass-1 login
assert_exit 0 ctl_as xavier export-pass-1 campaign report "$F" -o "$d/fini.zip"
assert_eq "1 PDF written to $d/fini.zip" "$OUT"
assert_eq "$helene-Dupre.pdf" "$(zipinfo -1 "$d/fini.zip")"
unzip -l "$d/fini.zip" >/dev/null
assert_eq "" "$(ls -A "$d" | grep '^\.' || true)" # no work files left beside it
# With the unfinished ones: Luc (answers), Ana (an answered call); not Zoé (busy), not Max.
assert_exit 0 carillonctl campaign report "$F" -o "$d/tout.zip" --include-unfinished
assert_eq "3 PDFs written to $d/tout.zip" "$OUT"
# in contact id order (the import numbered them its own way)
assert_eq "$(printf '%s\n' "$helene-Dupre.pdf" "$luc-Martin.pdf" "$ana-Dubois.pdf" | sort -n)" \
    "$(zipinfo -1 "$d/tout.zip")"

# Hélène's PDF: details with accents, answers in script order under their questions, history.
mkdir "$d/x"
(cd "$d/x" && unzip -q ../tout.zip)
pdftotext -enc UTF-8 "$d/x/$helene-Dupre.pdf" "$d/helene.txt"
txt=$(tr -s ' \n' '  ' <"$d/helene.txt")
for want in "Hélène Dupré" "Prénom : Hélène" "Nom : Dupré" "Ville : Besançon" "Ancienneté : 12" \
    "Téléphone 1 : +33612345678" "entretien terminé le 2027-03-02 10:40 CET" "Dernière qualification : OK" \
    "Êtes-vous satisfait de votre offre actuelle ? Oui" "Quel débit utilisez-vous ? Fibre" \
    "Quels usages ? Télétravail, Streaming" "Notez nos services Accueil : 5 Technique : 4" \
    "Remarques Très bonne écoute" "dans son appartement de Besançon." \
    "2027-03-01 10:00 CET Appel n° 9001 : décroché, qualification RAP, agent helene" \
    "2027-03-01 10:05 CET Entretien annulé, agent helene — la cliente raccroche" \
    "2027-03-02 10:30 CET Appel n° 9002 : décroché, qualification OK, agent helene" \
    "2027-03-02 10:35 CET Réponses enregistrées" "2027-03-02 10:40 CET Entretien terminé"; do
    assert_contains "$txt" "$want"
done
# the earlier interview's answer and the replaced answer are not the last interview's
assert_not_contains "$txt" "2027-04-01"
assert_not_contains "$txt" "Non"
# script order: satisfaction, débit (screen 1), then usages, notes, remarques (screen 2)
grep -n -e 'Êtes-vous' -e 'Quel débit' -e 'Quels usages' -e 'Notez nos' -e 'Remarques' "$d/helene.txt" |
    cut -d: -f1 | sort -n -c || fail "answers out of script order: $(cat "$d/helene.txt")"
# the long remark is wrapped, not cut: its end is on a later line than its start
[ "$(grep -n 'Très bonne' "$d/helene.txt" | cut -d: -f1)" -lt "$(grep -n 'Besançon\.' "$d/helene.txt" | cut -d: -f1)" ] ||
    fail "the long remark is not wrapped: $(cat "$d/helene.txt")"
pdftotext -enc UTF-8 "$d/x/$luc-Martin.pdf" - | grep -q 'Entretien suspendu' || fail "Luc's history"

# Rights: the export right on the campaign, at the route.
assert_exit 1 ctl_as vera viewer-pass-1 campaign report "$F" -o "$d/refus.zip"
assert_contains "$ERR" "PERMISSION_DENIED"
assert_contains "$ERR" "export"
[ ! -e "$d/refus.zip" ] || fail "a refused report left a file"
# Bad input: an unknown campaign, bounds of a page.
assert_exit 1 carillonctl campaign report 'Inconnue' -o "$d/x.zip"
assert_contains "$ERR" "no campaign named 'Inconnue'"
assert_exit 2 carillonctl campaign report "$F"
out=$(cr-probe --server "$CARILLON_SERVER" --ca "$CARILLON_CA" hello supervisor \
    login "$CARILLON_USER" "$CARILLON_PASSWORD" send campaign_report "campaign=$F" limit=201 \
    send campaign_report "campaign=$F" after_contact_id=-1 \
    send campaign_report "campaign=$F" limit=200 | tail -n +3)
assert_contains "$(sed -n 1p <<<"$out")" "INVALID_ARGUMENT field=limit"
assert_contains "$(sed -n 2p <<<"$out")" "INVALID_ARGUMENT field=after_contact_id"
assert_contains "$(sed -n 3p <<<"$out")" "reply body=campaign_report_reply"
# No target: exit 1, nothing written.
assert_exit 0 carillonctl campaign create 'Vide'
assert_exit 1 carillonctl campaign report 'Vide' -o "$d/vide.zip"
assert_contains "$ERR" "nothing written"
[ ! -e "$d/vide.zip" ] || fail "an empty report left a file"

# Several pages: one target per request, every one in the archive, in order.
assert_exit 0 carillonctl campaign report "$F" -o "$d/pages.zip" --include-unfinished --page-size 1
assert_eq "3 PDFs written to $d/pages.zip" "$OUT"
assert_eq "$(zipinfo -1 "$d/tout.zip")" "$(zipinfo -1 "$d/pages.zip")"
log=$(grep 'campaign_report user="admin"' "$CARILLON_STACK_DIR/server.log" | tail -n 3)
assert_eq "after=0 targets=1 next=$(printf "%s\n" "$helene" "$luc" "$ana" | sort -n | head -1)" "$(sed -n 1p <<<"$log" | grep -o 'after=.*')"
assert_contains "$(sed -n 3p <<<"$log")" "targets=1 next=0"
assert_exit 2 carillonctl campaign report "$F" -o "$d/pages.zip" --page-size 201
echo "agents_report: ok"
