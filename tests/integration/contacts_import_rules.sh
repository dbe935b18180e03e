#!/usr/bin/env bash
# What an import says and refuses (issue 14): files without rows or without a good row write
# nothing and exit 1 with the counts; the preview refuses empty, row-less and binary files and
# unknown campaigns; spreadsheet apostrophes are stripped; --dedup field:NAME and the number rule
# (no second contact with a held number unless --allow-duplicate-numbers), for contact add too;
# rejects name the file's header and every bad number; counted words; --json for both steps;
# two imports at once never give a number to two contacts.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
F='Fibre Île-de-France 2027'
d="$CARILLON_STACK_DIR/files"
mkdir -p "$d"
assert_exit 0 carillonctl user add marc --role supervisor --name 'Marc Lefèvre' --password-stdin <<<'superv-pass-1'
assert_exit 0 carillonctl user add helene --role agent --name 'Hélène Dupré' --password-stdin <<<'agent-pass-1'
assert_exit 0 carillonctl apply -f "$CARILLON_SOURCE_DIR/deploy/examples/campaign-fibre.yaml"
assert_exit 0 carillonctl user add sans --role supervisor --name 'Sans Droits' --password-stdin <<<'superv-pass-9'
contacts() { psql -Atc "select count(*) from contacts"; }
lists() { psql -Atc "select count(*) from lists where name = '$1'"; }

# --- nothing to import: exit 1, the counts, nothing written --------------------------------
printf 'Nom;Tel1;Tel2\n' > "$d/header.csv"
assert_exit 1 carillonctl list import "$d/header.csv" --campaign "$F" --name vide --map 'Nom=last_name,Tel1=phone1,Tel2=phone2'
assert_contains "$OUT" "0 rows: 0 imported, 0 duplicates, 0 rejected"
assert_contains "$ERR" "no rows: nothing imported"
assert_eq "0" "$(lists vide)"
assert_eq "0" "$(contacts)"
{
    echo 'Nom;Tel1;Tel2'
    for i in $(seq 1 11); do echo "Faux$i;abc$i;"; done
    echo 'Double;12;zz'
} > "$d/bad.csv"
assert_exit 1 carillonctl list import "$d/bad.csv" --campaign "$F" --name mauvais --map 'Nom=last_name,Tel1=phone1,Tel2=phone2'
assert_contains "$OUT" "12 rows: 0 imported, 0 duplicates, 12 rejected"
assert_contains "$OUT" "line 2, Tel1 (phone1): 'abc1': "
assert_contains "$OUT" "... 3 more (use --report FILE.csv)"
assert_contains "$ERR" "all 12 rows rejected: nothing imported"
assert_eq "0" "$(lists mauvais)"
assert_eq "0" "$(contacts)"
# every bad number of a row is named, in the report file and in JSON
assert_exit 1 carillonctl list import "$d/bad.csv" --campaign "$F" --name mauvais --map 'Nom=last_name,Tel1=phone1,Tel2=phone2' --report "$d/rej.csv"
grep -q '^13;"Tel1";"phone1";"12";' "$d/rej.csv" || fail "Tel1 of line 13 missing: $(cat "$d/rej.csv")"
grep -q '^13;"Tel2";"phone2";"zz";' "$d/rej.csv" || fail "Tel2 of line 13 missing: $(cat "$d/rej.csv")"
assert_exit 1 carillonctl --json list import "$d/bad.csv" --campaign "$F" --name mauvais --map 'Nom=last_name,Tel1=phone1,Tel2=phone2'
j=$OUT
assert_eq "1" "$(wc -l <<<"$j")"
assert_eq "all 12 rows rejected: nothing imported" "$(jq -r '.error.message' <<<"$j")"
assert_eq "12|0|12|true|13" "$(jq -r '.report | "\(.rows)|\(.imported)|\(.rejected)|\(.rolled_back)|\(.rejects | length)"' <<<"$j")"
assert_eq "number" "$(jq -r '.report.rejected | type' <<<"$j")"
assert_eq '13 Tel1 phone1 12 2|13 Tel2 phone2 zz 3' \
    "$(jq -r '[.report.rejects[] | select(.line == 13) | "\(.line) \(.column) \(.field) \(.value) \(.column_number)"] | join("|")' <<<"$j")"
assert_eq "0" "$(contacts)"

# --- the preview: no rows, empty, binary, unknown campaign, JSON -------------------------------
assert_exit 1 carillonctl list import "$d/header.csv" --campaign "$F" --name x
assert_contains "$ERR" "no rows"
assert_not_contains "$OUT" "--map"
: > "$d/empty.csv"
assert_exit 1 carillonctl list import "$d/empty.csv" --campaign "$F" --name x
assert_contains "$ERR" "empty file"
assert_not_contains "$OUT" "--map ''"
printf 'Nom;Tel1\n\0\0\x01\x02binary' > "$d/binary.csv"
assert_exit 1 carillonctl list import "$d/binary.csv" --campaign "$F" --name x
assert_contains "$ERR" "not a text file"
assert_exit 1 carillonctl list import "$d/binary.csv" --campaign "$F" --name x --map 'Nom=last_name,Tel1=phone1'
assert_contains "$ERR" "not a text file"
printf "Nom;Prénom;Tel1;Remarque\nO'Brien;Zoé;0611000001;x\n" > "$d/ok.csv"
assert_exit 1 carillonctl list import "$d/ok.csv" --campaign 'Campagne inconnue' --name x
assert_contains "$ERR" "Campagne inconnue"
assert_not_contains "$OUT" "--map"
assert_exit 1 env CARILLON_USER=sans CARILLON_PASSWORD=superv-pass-9 carillonctl list import "$d/ok.csv" --campaign "$F" --name x
assert_contains "$ERR" "right on campaign"
assert_exit 0 carillonctl list import "$d/ok.csv" --campaign "$F" --name "l'été"
assert_contains "$OUT" "import with: carillonctl list import '$d/ok.csv' --campaign '$F' --name 'l'\\''été' --map 'Nom=last_name,Prénom=first_name,Tel1=phone1'"
assert_exit 0 carillonctl --json list import "$d/ok.csv" --campaign "$F" --name ete
j=$OUT
assert_eq "1" "$(wc -l <<<"$j")"
assert_eq 'Nom,Prénom,Tel1,Remarque' "$(jq -r '.headers | join(",")' <<<"$j")"
assert_eq 'Nom=last_name Prénom=first_name Tel1=phone1 Remarque=null' \
    "$(jq -r '[.mapping[] | "\(.column)=\(.field)"] | join(" ")' <<<"$j")"
assert_eq 'Nom=last_name,Prénom=first_name,Tel1=phone1' "$(jq -r '.map' <<<"$j")"
assert_eq 'csv|;|UTF-8' "$(jq -r '"\(.format)|\(.delimiter)|\(.encoding)"' <<<"$j")"

# --- apostrophes spreadsheets add; counted words; JSON report ----------------------------------
printf "Nom;Prénom;Tel1;Société\n'=SUM(1);'Jo';'0611000002;O'Brien\n''=1;'+33;'+33611000003;'\n" > "$d/quotes.csv"
assert_exit 0 carillonctl list import "$d/quotes.csv" --campaign "$F" --name quotes --map 'Nom=last_name,Prénom=first_name,Tel1=phone1,Société=company'
assert_contains "$OUT" "2 rows: 2 imported, 0 duplicates, 0 rejected"
assert_eq "=SUM(1)|'Jo'|O'Brien" "$(psql -Atc "select c.last_name, c.first_name, c.company from contacts c join addresses a on a.contact_id = c.id where a.number = '+33611000002'")"
assert_eq "''=1|+33|'" "$(psql -Atc "select c.last_name, c.first_name, c.company from contacts c join addresses a on a.contact_id = c.id where a.number = '+33611000003'")"
printf "Nom;Tel1\nUn;0611000002\nDeux;0611000004\n" > "$d/one-dup.csv"
assert_exit 0 carillonctl list import "$d/one-dup.csv" --campaign "$F" --name un --map 'Nom=last_name,Tel1=phone1'
assert_contains "$OUT" "2 rows: 1 imported, 1 duplicate, 0 rejected"
printf "Nom;Tel1\nSeul;0611000005\n" > "$d/one.csv"
assert_exit 0 carillonctl --json list import "$d/one.csv" --campaign "$F" --name seul --map 'Nom=last_name,Tel1=phone1'
assert_eq "1|1|0|false" "$(jq -r '"\(.rows)|\(.imported)|\(.duplicates)|\(.rolled_back)"' <<<"$OUT")"
assert_exit 0 carillonctl list import "$d/one.csv" --campaign "$F" --name seul2 --map 'Nom=last_name,Tel1=phone1'
assert_contains "$OUT" "1 row: 0 imported, 1 duplicate"

# --- --dedup field:NAME and the number rule -------------------------------------------------------
assert_exit 2 carillonctl list import "$d/ok.csv"
assert_contains "$ERR" "--dedup phone|field:NAME|none"
assert_exit 2 carillonctl list import "$d/ok.csv" --campaign "$F" --name x --dedup mail --map 'Tel1=phone1'
assert_contains "$ERR" "--dedup takes phone, field:NAME or none, not 'mail'"
assert_exit 1 carillonctl list import "$d/ok.csv" --campaign "$F" --name x --dedup field:numero_client --map 'Tel1=phone1'
assert_contains "$ERR" "'numero_client' is not a field of this campaign"
before=$(contacts)
# C1 twice in the file (key); C3 takes C2's number (file); C4 takes Zoé's (campaign); C5 is new
printf 'Client;Nom;Tel1;Tel2\nC1;Un;0622000001;\nC2;Deux;0622000002;\nC1;Un bis;0622000009;\nC3;Trois;0622000008;06 22 00 00 02\nC4;Quatre;0611000002;\nC5;Cinq;0622000005;\n' > "$d/clients.csv"
CMAP='Client=customer_id,Nom=last_name,Tel1=phone1,Tel2=phone2'
assert_exit 0 carillonctl list import "$d/clients.csv" --campaign "$F" --name clients --dedup field:customer_id --map "$CMAP" --report "$d/dups.csv"
assert_contains "$OUT" "6 rows: 3 imported, 3 duplicates, 0 rejected"
assert_contains "$OUT" "line 5, Tel2 (phone2): '+33622000002': duplicate: +33622000002 is already on line 3 of this file"
holder=$(psql -Atc "select c.id from contacts c join addresses a on a.contact_id = c.id where a.number = '+33611000002'")
assert_contains "$OUT" "line 6, Tel1 (phone1): '+33611000002': duplicate: +33611000002 is already held by contact $holder of the campaign"
grep -q "^6;\"Tel1\";\"phone1\";\"+33611000002\";\"duplicate: " "$d/dups.csv" || fail "duplicate missing from the report: $(cat "$d/dups.csv")"
assert_eq "$((before + 3))" "$(contacts)"
assert_eq "C1|Un C2|Deux C5|Cinq" "$(psql -Atc "select string_agg(customer_id || '|' || last_name, ' ' order by customer_id) from contacts where customer_id like 'C_'")"
assert_exit 0 carillonctl --json list import "$d/clients.csv" --campaign "$F" --name clients --dedup field:customer_id --map "$CMAP"
assert_eq "0|6|true" "$(jq -r '"\(.imported)|\(.duplicates)|\(.rolled_back)"' <<<"$OUT")"
# against the campaign by key: C3 and C4 are new keys, their numbers are held: allowed, in
assert_exit 0 carillonctl list import "$d/clients.csv" --campaign "$F" --name clients --dedup field:customer_id --allow-duplicate-numbers --map "$CMAP"
assert_contains "$OUT" "6 rows: 2 imported, 4 duplicates"
assert_eq "2" "$(psql -Atc "select count(*) from contacts c join addresses a on a.contact_id = c.id where a.number = '+33611000002'")"
# --dedup none keeps a number to one contact unless told
assert_exit 0 carillonctl list import "$d/one.csv" --campaign "$F" --name seul3 --dedup none --map 'Nom=last_name,Tel1=phone1'
assert_contains "$OUT" "1 row: 0 imported, 1 duplicate"
assert_exit 0 carillonctl list import "$d/one.csv" --campaign "$F" --name seul3 --dedup none --allow-duplicate-numbers --map 'Nom=last_name,Tel1=phone1'
assert_contains "$OUT" "1 row: 1 imported, 0 duplicates"

# two imports of one file at once (max_per_user = 2): the campaign's numbers lock makes one
# import them all and the other find every number held, never both
awk 'BEGIN { print "Nom;Tel1"; for (i = 0; i < 20000; i++) printf "Par%d;+3367%07d\n", i, i }' > "$d/par.csv"
carillonctl list import "$d/par.csv" --campaign "$F" --name par1 --map 'Nom=last_name,Tel1=phone1' > "$d/par1.out" 2>&1 &
p1=$!
carillonctl list import "$d/par.csv" --campaign "$F" --name par2 --map 'Nom=last_name,Tel1=phone1' > "$d/par2.out" 2>&1 &
p2=$!
wait "$p1" || fail "the first parallel import failed: $(cat "$d/par1.out")"
wait "$p2" || fail "the second parallel import failed: $(cat "$d/par2.out")"
assert_eq "0" "$(psql -Atc "select count(*) from (select a.number from addresses a join contacts c on c.id = a.contact_id where a.number like '+3367%' group by a.number having count(*) > 1) x")"
assert_eq "20000" "$(psql -Atc "select count(*) from addresses where number like '+3367%'")"
assert_eq "20000 rows: 0 imported, 20000 duplicates, 0 rejected|20000 rows: 20000 imported, 0 duplicates, 0 rejected" \
    "$(grep -ho '20000 rows: .* rejected' "$d/par1.out" "$d/par2.out" | sort | paste -sd'|')"

# --consent-column COL is COL=consent
printf 'Nom;Tel1;Accord\nOui;0633000001;oui\nNon;0633000002;non\n' > "$d/accord.csv"
assert_exit 0 carillonctl list import "$d/accord.csv" --campaign "$F" --name accord --consent-column accord --map 'Nom=last_name,Tel1=phone1'
assert_contains "$OUT" "2 rows: 1 imported, 0 duplicates, 1 rejected"
assert_contains "$OUT" "line 3, Accord (consent): 'non': no call consent"
assert_exit 1 carillonctl list import "$d/accord.csv" --campaign "$F" --name accord --consent-column Avis --map 'Nom=last_name,Tel1=phone1'
assert_contains "$ERR" "'Avis', which is not a column"

# --- contact add: a number already held is refused, naming the contact -----------------------------
holder=$(psql -Atc "select c.id from contacts c join addresses a on a.contact_id = c.id where a.number = '+33622000005'")
before=$(contacts)
assert_exit 1 carillonctl contact add --campaign "$F" --list manuel --phone 0699000001 --phone '06 22 00 00 05' --field last_name=Doublon
assert_contains "$ERR" "+33622000005 is already held by contact $holder of this campaign"
assert_contains "$ERR" "--allow-duplicate-numbers"
assert_eq "$before" "$(contacts)"
assert_eq "0" "$(lists manuel)"
assert_exit 0 carillonctl contact add --campaign "$F" --list manuel --phone 0699000001 --phone '06 22 00 00 05' --field last_name=Doublon --allow-duplicate-numbers
assert_eq "$((before + 1))" "$(contacts)"
assert_exit 0 carillonctl contact add --campaign "$F" --list manuel --phone 0699000002
echo "PASS contacts_import_rules"
