#!/usr/bin/env bash
# Exports carry the questionnaire: after the contact's columns, one column per question (script
# blocks with an export name, in script order) headed by its export name, holding the answers
# of the contact's last finished interview: answers of its attempts since the interview before
# it (finished or cancelled), the latest per question winning, several values joined with
# " | ", a matrix as "row: value" pairs. CSV and XLSX are both read back; accents round-trip.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
ex="$CARILLON_SOURCE_DIR/deploy/examples"
F='Fibre Île-de-France 2027'
assert_exit 0 carillonctl user add helene --role agent --name 'Hélène Dupré' --password-stdin <<<'agent-pass-1'
assert_exit 0 carillonctl user add marc --role supervisor --name 'Marc Lefèvre' --password-stdin <<<'superv-pass-1'
assert_exit 0 carillonctl apply -f "$ex/campaign-fibre.yaml"
assert_exit 0 carillonctl contact add --campaign "$F" --phone '0612345601' --field last_name=Dupré --field first_name=Zoé
assert_exit 0 carillonctl contact add --campaign "$F" --phone '0612345602' --field last_name=Lefèvre --field first_name=Anaïs
assert_exit 0 carillonctl contact add --campaign "$F" --phone '0612345603' --field last_name=Payet --field first_name=Noël
assert_exit 0 carillonctl contact add --campaign "$F" --phone '0612345604' --field last_name=Martin

# attempt N of contact LAST_NAME, created at T (minutes ago)
psql -q <<'SQL'
CREATE FUNCTION pg_temp.att(p_last text, p_ago int) RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO attempts (campaign_id, contact_id, number, created_at, outcome, counted,
                          qualification, closed_at)
    SELECT c.campaign_id, c.id, '+33612345600', now() - make_interval(mins => p_ago), 'answered',
           true, 'OK', now() - make_interval(mins => p_ago - 1)
      FROM contacts c WHERE c.last_name = p_last RETURNING id
$$;
CREATE FUNCTION pg_temp.ans(p_attempt bigint, p_q text, p_vals text[], p_row text DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO answers (campaign_id, export_name, contact_id, attempt_id, matrix_row, "values",
                         answered_at)
    SELECT a.campaign_id, p_q, a.contact_id, a.id, p_row, p_vals, a.created_at + interval '10 s'
      FROM attempts a WHERE a.id = p_attempt
$$;
CREATE FUNCTION pg_temp.ev(p_attempt bigint, p_event text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO interview_events (campaign_id, contact_id, attempt_id, at, event)
    SELECT a.campaign_id, a.contact_id, a.id, a.created_at + interval '30 s', p_event
      FROM attempts a WHERE a.id = p_attempt
$$;
-- Dupré: a cancelled interview (its answer is not this one's), then a finished one over two
-- calls; debit changed its answer, the matrix answered row by row, a remark with accents
SELECT pg_temp.ans(pg_temp.att('Dupré', 60), 'satisfaction', '{no}');
SELECT pg_temp.ev(max(id), 'cancelled') FROM attempts;
SELECT pg_temp.ans(pg_temp.att('Dupré', 40), 'debit', '{VDSL}');
SELECT pg_temp.ans(max(id), 'satisfaction', '{yes}') FROM attempts;
SELECT pg_temp.ans(pg_temp.att('Dupré', 20), 'debit', '{Fibre}');
SELECT pg_temp.ans(max(id), 'usages', '{Télétravail,Streaming}') FROM attempts;
SELECT pg_temp.ans(max(id), 'notes', '{4}', 'Technique') FROM attempts;
SELECT pg_temp.ans(max(id), 'notes', '{5}', 'Accueil') FROM attempts;
SELECT pg_temp.ans(max(id), 'notes', '{3}', 'Technique') FROM attempts;
SELECT pg_temp.ans(max(id), 'remarques', '{"Très satisfaite ; « fibre » à l''étage"}') FROM attempts;
SELECT pg_temp.ev(max(id), 'finished') FROM attempts;
UPDATE contacts SET interview = 'finished' WHERE last_name = 'Dupré';
-- Lefèvre: two finished interviews, only the last one is exported
SELECT pg_temp.ans(pg_temp.att('Lefèvre', 50), 'debit', '{ADSL}');
SELECT pg_temp.ev(max(id), 'finished') FROM attempts;
SELECT pg_temp.ans(pg_temp.att('Lefèvre', 30), 'satisfaction', '{no}');
SELECT pg_temp.ev(max(id), 'finished') FROM attempts;
UPDATE contacts SET interview = 'finished' WHERE last_name = 'Lefèvre';
-- Payet: an interview under way: nothing exported
SELECT pg_temp.ans(pg_temp.att('Payet', 10), 'satisfaction', '{yes}');
UPDATE contacts SET interview = 'started' WHERE last_name = 'Payet';
-- Martin: finished without an interview event (qualified automatically): its answers count
SELECT pg_temp.ans(pg_temp.att('Martin', 10), 'email', '{martin@exemple.fr}');
UPDATE contacts SET interview = 'finished' WHERE last_name = 'Martin';
SQL

# CSV: headers, then each contact's answers
assert_exit 0 carillonctl contact export --campaign "$F" -o "$CARILLON_STACK_DIR/answers.csv"
assert_contains "$OUT" "4 contacts exported"
csv_rows() { # FILE: "last_name|satisfaction|debit|usages|notes|date_installation|email|remarques"
    python3 - "$1" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding='utf-8-sig', newline=''), delimiter=';'))
hdr = rows[0]
qs = ['satisfaction', 'debit', 'usages', 'notes', 'date_installation', 'email', 'remarques']
# the questions come after the contact's columns (the question "email" has the name of a
# contact column: its own column is the later one)
first = hdr.index('offre_actuelle') + 1
print(';'.join(hdr[first:]))
for r in rows[1:]:
    print('|'.join([r[hdr.index('last_name')]] + [r[hdr.index(q, first)] for q in qs]))
PY
}
got=$(csv_rows "$CARILLON_STACK_DIR/answers.csv")
want="satisfaction;debit;usages;notes;date_installation;email;remarques
Dupré|yes|Fibre|Télétravail | Streaming|Accueil: 5 | Technique: 3|||Très satisfaite ; « fibre » à l'étage
Lefèvre|no||||||
Payet|||||||
Martin||||||martin@exemple.fr|"
[ "$want" = "$got" ] || {
    psql -c "select c.last_name, c.interview, a.id, a.created_at, n.export_name, n.\"values\", n.answered_at
        from contacts c left join attempts a on a.contact_id = c.id left join answers n on n.attempt_id = a.id
        order by c.id, a.id, n.id" >&2
    psql -c "select * from interview_events order by id" >&2
    assert_eq "$want" "$got"
}

# XLSX: the same cells, read back from the sheet (inline strings)
assert_exit 0 carillonctl contact export --campaign "$F" -o "$CARILLON_STACK_DIR/answers.xlsx"
assert_contains "$OUT" "4 contacts exported"
got=$(python3 - "$CARILLON_STACK_DIR/answers.xlsx" <<'PY'
import os, sys
sys.path.insert(0, os.environ['CARILLON_SOURCE_DIR'] + '/tests/lib')
from xlsx_rows import rows as read_rows
rows = read_rows(sys.argv[1])
hdr = rows[0]
qs = ['satisfaction', 'debit', 'usages', 'notes', 'date_installation', 'email', 'remarques']
first = hdr.index('offre_actuelle') + 1
print(';'.join(hdr[first:]))
for r in rows[1:]:
    r = r + [''] * (len(hdr) - len(r))
    print('|'.join([r[hdr.index('last_name')]] + [r[hdr.index(q, first)] for q in qs]))
PY
)
assert_eq "$want" "$got"

# a question named in --columns, beside contact columns; an unknown name is refused
assert_exit 0 carillonctl contact export --campaign "$F" --columns last_name,notes,debit -o "$CARILLON_STACK_DIR/some.csv"
some=$(tr -d '\r' <"$CARILLON_STACK_DIR/some.csv" | sed 's/^\xef\xbb\xbf//')
assert_eq "last_name;notes;debit" "$(head -1 <<<"$some")"
grep -q '^Dupré;Accueil: 5 | Technique: 3;Fibre$' <<<"$some" ||
    fail "named question columns: $(cat "$CARILLON_STACK_DIR/some.csv")"
assert_exit 1 carillonctl contact export --campaign "$F" --columns last_name,satisfactions -o "$CARILLON_STACK_DIR/no.csv"
assert_contains "$ERR" "unknown column 'satisfactions'"
# a filter still applies
assert_exit 0 carillonctl contact export --campaign "$F" --filter "last_name = 'Martin'" -o "$CARILLON_STACK_DIR/martin.csv"
assert_contains "$OUT" "1 contact exported"
echo "PASS contacts_export_answers"
