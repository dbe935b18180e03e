#!/usr/bin/env bash
# Contacts created by hand: numbers normalised (lost leading zero, overseas departments and
# their time zones), blacklists blocking numbers now and later, the filter language over
# standard and declared fields, its errors, and injection attempts that leave data intact.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
ex="$CARILLON_SOURCE_DIR/deploy/examples"
F='Fibre Île-de-France 2027'
assert_exit 0 carillonctl user add helene --role agent --name 'Hélène Dupré' --password-stdin <<<'agent-pass-1'
assert_exit 0 carillonctl user add marc --role supervisor --name 'Marc Lefèvre' --password-stdin <<<'superv-pass-1'
assert_exit 0 carillonctl apply -f "$ex/campaign-fibre.yaml"

assert_exit 0 carillonctl contact add --campaign "$F" --list 'Fichier mars' --phone '06 12 34 56 78' \
    --phone '0145678910:work' --field last_name=Dupré --field first_name=Zoé --field city=Lyon --field anciennete=12
assert_contains "$OUT" "time zone Europe/Paris"
assert_contains "$OUT" "+33612345678     mobile  scheduled"
assert_contains "$OUT" "+33145678910     work    waiting"
assert_exit 0 carillonctl contact add --campaign "$F" --phone 692123456 --field last_name=Payet --field city='Saint-Denis'
assert_contains "$OUT" "time zone Indian/Reunion"
assert_contains "$OUT" "+262692123456"
assert_eq "Zoé|Lyon|12|Fichier mars" "$(psql -Atc "select c.first_name, c.city, c.fields->>'anciennete', l.name from contacts c join lists l on l.id=c.list_id where c.last_name='Dupré'")"

# refusals
assert_exit 1 carillonctl contact add --campaign "$F" --phone 'abc'
assert_contains "$ERR" "'abc': holds characters that are not digits"
assert_exit 1 carillonctl contact add --campaign "$F" --phone '06 12 34 56'
assert_contains "$ERR" "too short for a French number"
assert_exit 1 carillonctl contact add --campaign "$F" --phone '0612345678' --field nope=1
assert_contains "$ERR" "'nope' is not a field of this campaign"
assert_exit 1 carillonctl contact add --campaign "$F" --phone '0612345678' --field anciennete=douze
assert_contains "$ERR" "is a number field"
assert_exit 1 carillonctl contact add --campaign 'Nulle part' --phone '0612345678'
assert_contains "$ERR" "NOT_FOUND"
assert_exit 1 env CARILLON_USER=helene CARILLON_PASSWORD=agent-pass-1 carillonctl contact list --campaign "$F"
assert_contains "$ERR" "PERMISSION_DENIED"
assert_exit 1 env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl contact add --campaign "$F" --phone 0612345678
assert_contains "$ERR" "edit right"
assert_eq "2" "$(psql -Atc "select count(*) from contacts")"

# blacklists: existing numbers become blocked; a later contact with that number starts blocked
assert_exit 0 carillonctl blacklist add --campaign "$F" --reason Bloctel '01 45 67 89 10' abc
assert_contains "$OUT" "1 added"
assert_contains "$OUT" "1 contact number now blocked"
assert_contains "$OUT" "invalid: abc"
assert_eq "blocked" "$(psql -Atc "select state from addresses where number='+33145678910'")"
printf '# Bloctel extract\n0690123456\n0612000000\n' > "$CARILLON_STACK_DIR/bloctel.txt"
assert_exit 0 carillonctl blacklist add --file "$CARILLON_STACK_DIR/bloctel.txt"
assert_contains "$OUT" "blacklist (global): 2 added"
assert_exit 0 carillonctl contact add --campaign "$F" --phone '0690 12 34 56' --field last_name=Jean-Baptiste
assert_contains "$OUT" "America/Guadeloupe"
assert_contains "$OUT" "blocked"
assert_exit 1 env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl blacklist add 0612345678
assert_contains "$ERR" "acts on every campaign: it needs the admin role"
# removal: audited with who and why; the number is dialable again where no list blocks it
assert_exit 0 carillonctl blacklist remove --campaign "$F" --reason 'opposition levée' '01 45 67 89 10'
assert_contains "$OUT" "1 removed, 1 contact number dialable again"
assert_eq "0" "$(psql -Atc "select count(*) from addresses where number='+33145678910' and state='blocked'")"
assert_eq "opposition levée" "$(psql -Atc "select detail->>'reason' from audit_log where action='blacklist.remove' and subject='+33145678910'")"
assert_exit 0 carillonctl blacklist add --campaign "$F" --reason Bloctel '01 45 67 89 10'
assert_contains "$OUT" "1 contact number now blocked"

# listing and the filter language
assert_exit 0 carillonctl contact list --campaign "$F"
assert_contains "$OUT" "(3 of 3 contacts)"
assert_contains "$OUT" "+33145678910 (blocked)"
assert_exit 0 carillonctl contact list --campaign "$F" --filter "city like 'saint%' or anciennete >= 10" --columns id,last_name,city,time_zone
assert_contains "$OUT" "(2 of 2 contacts)"
assert_contains "$OUT" "Indian/Reunion"
assert_not_contains "$OUT" "Jean-Baptiste"
assert_exit 0 carillonctl contact list --campaign "$F" --filter "phone = '+262692123456'" --json
assert_contains "$OUT" '"total":1'
assert_exit 0 carillonctl contact list --campaign "$F" --filter "state = 'waiting' and next_try is null and attempts < 1" --limit 2
assert_contains "$OUT" "(2 of 3 contacts)"
assert_exit 1 carillonctl contact list --campaign "$F" --filter "ville = 'Lyon'"
assert_contains "$ERR" "unknown field 'ville' at column 1"
assert_exit 1 carillonctl contact list --campaign "$F" --columns id,ville
assert_contains "$ERR" "unknown column 'ville'"

# saved filters, per user, used as @name
assert_exit 0 carillonctl filter save lyon-anciens "city = 'Lyon' and anciennete >= 10"
assert_exit 0 carillonctl filter list
assert_contains "$OUT" "lyon-anciens"
assert_exit 0 carillonctl contact list --campaign "$F" --filter @lyon-anciens --columns last_name
assert_contains "$OUT" "Dupré"
assert_contains "$OUT" "(1 of 1 contact)"
assert_exit 1 carillonctl filter save broken "city = "
assert_contains "$ERR" "expected a value"
assert_exit 1 carillonctl contact list --campaign "$F" --filter @nope
assert_contains "$ERR" "no saved filter named 'nope'"
assert_exit 0 carillonctl filter delete lyon-anciens
assert_exit 1 carillonctl contact list --campaign "$F" --filter @lyon-anciens
assert_exit 1 carillonctl filter save 'bad name' "state = 'x'"
assert_contains "$ERR" "a filter name is 1-64"

# injection attempts are values or syntax errors; the data is intact
assert_exit 0 carillonctl contact list --campaign "$F" --filter "last_name = '''; drop table contacts; --'"
assert_contains "$OUT" "(0 of 0 contacts)"
assert_exit 1 carillonctl contact list --campaign "$F" --filter "last_name = 'x'; drop table contacts"
assert_contains "$ERR" "unexpected character ';'"
assert_exit 1 carillonctl contact list --campaign "$F" --filter "1=1"
# a value PostgreSQL refuses is the user's mistake, named, not "database unavailable"
assert_exit 1 carillonctl contact list --campaign "$F" --filter "next_try < 'demain'"
assert_contains "$ERR" 'INVALID_ARGUMENT: a value was refused: invalid input syntax for type timestamp with time zone: "demain" (field: filter)'
assert_exit 1 carillonctl contact list --campaign "$F" --filter "next_try < now + 99999999999d"
assert_contains "$ERR" "is too long (at most 100 years)"
assert_eq "3" "$(psql -Atc "select count(*) from contacts")"

# modify one contact: fields, priority, next try in its zone, agent; refusals name the field
idz=$(psql -Atc "select id from contacts where last_name='Dupré'")
assert_exit 0 carillonctl contact modify --campaign "$F" --id "$idz" --field city=Villeurbanne --field anciennete=13 --field priority=5 --field top_priority=true --field next_try='2027-03-02 10:30' --field agent=helene
assert_eq "Villeurbanne|13|5|t|2027-03-02 10:30|helene" "$(psql -Atc "select c.city, c.fields->>'anciennete', c.priority, c.top_priority, to_char(c.next_try at time zone c.time_zone, 'YYYY-MM-DD HH24:MI'), u.login from contacts c join users u on u.id = c.agent_id where c.id = $idz")"
assert_exit 1 carillonctl contact modify --campaign "$F" --id "$idz" --field priority=haute
assert_contains "$ERR" "priority is a whole number"
assert_exit 1 carillonctl contact modify --campaign "$F" --id "$idz" --field next_try=demain
assert_contains "$ERR" "next_try must look like"
assert_exit 1 carillonctl contact modify --campaign "$F" --id "$idz" --field agent=nobody
assert_contains "$ERR" "no such agent"
assert_exit 1 carillonctl contact modify --campaign "$F" --id 999999 --field city=x
assert_contains "$ERR" "no contact 999999"
assert_exit 1 carillonctl contact modify --campaign "$F" --id "$idz" --field nope=1
assert_contains "$ERR" "'nope' is not a field"
assert_exit 0 carillonctl contact modify --campaign "$F" --id "$idz" --field next_try= --field agent= --field city=Lyon
assert_eq "|" "$(psql -Atc "select coalesce(next_try::text, ''), coalesce(agent_id::text, '') from contacts where id = $idz")"
# a field given twice is refused by name (200 of them once overflowed the SET clause's stack
# buffer); a declared field's type is checked as at creation; nothing changes
many=()
for _ in $(seq 200); do many+=(--field "next_try=2027-03-02 10:30"); done
assert_exit 1 carillonctl contact modify --campaign "$F" --id "$idz" "${many[@]}"
assert_contains "$ERR" "field 'next_try' is given twice"
assert_exit 1 carillonctl contact modify --campaign "$F" --id "$idz" --field city=Paris --field city=Lyon
assert_contains "$ERR" "given twice"
assert_exit 1 carillonctl contact modify --campaign "$F" --id "$idz" --field anciennete=beaucoup
assert_contains "$ERR" "'anciennete' is a number field"
assert_eq "Lyon|13" "$(psql -Atc "select city, fields->>'anciennete' from contacts where id = $idz")"

# operations on one contact, a selection, or a filter; live calls are left alone
q() { psql -Atc "$1"; }
id_payet=$(q "select id from contacts where last_name='Payet'")
q "update contacts set attempts = 3, state = 'failed', next_try = now() where id = $id_payet" >/dev/null
assert_exit 0 carillonctl contact reset --campaign "$F" --id "$id_payet"
assert_contains "$OUT" "reset: 1 contact"
assert_eq "waiting|0|" "$(q "select state, attempts, coalesce(next_try::text, '') from contacts where id = $id_payet")"
assert_exit 0 carillonctl contact shelve --campaign "$F" --filter "city = 'Lyon'"
assert_eq "shelved" "$(q "select state from contacts where last_name='Dupré'")"
assert_exit 0 carillonctl contact move --campaign "$F" --filter "state = 'shelved'" --list 'À rappeler'
assert_eq "À rappeler" "$(q "select l.name from contacts c join lists l on l.id=c.list_id where c.last_name='Dupré'")"
assert_exit 0 carillonctl contact assign --campaign "$F" --all --agent helene
assert_contains "$OUT" "assign: 3 contacts"
assert_eq "3" "$(q "select count(*) from contacts c join users u on u.id = c.agent_id where u.login='helene'")"
assert_exit 1 carillonctl contact assign --campaign "$F" --all --agent nobody
assert_contains "$ERR" "no agent with login 'nobody'"
assert_exit 0 carillonctl contact reload --campaign "$F" --filter "list = 'À rappeler'"
assert_eq "waiting" "$(q "select state from contacts where last_name='Dupré'")"
q "update contacts set state = 'running' where last_name = 'Jean-Baptiste'" >/dev/null
assert_exit 0 carillonctl contact shelve --campaign "$F" --all
assert_contains "$OUT" "skipped (in a live call): 1"
assert_eq "running" "$(q "select state from contacts where last_name='Jean-Baptiste'")"
assert_exit 1 carillonctl contact delete --campaign "$F" --id "$id_payet"
assert_contains "$ERR" "irreversible: confirm it (--yes)"
assert_exit 0 carillonctl contact delete --campaign "$F" --id "$id_payet" --yes
assert_eq "0" "$(q "select count(*) from contacts where id = $id_payet")"
assert_eq "0" "$(q "select count(*) from addresses where contact_id = $id_payet")"
assert_exit 1 carillonctl contact shelve --campaign "$F"
assert_contains "$ERR" "say which contacts"
assert_exit 1 carillonctl contact shelve --campaign "$F" --filter "ville = 1"
assert_contains "$ERR" "unknown field 'ville'"

# exports: every column, the filter applied, formulas neutralised, the export right needed
assert_exit 0 carillonctl contact add --campaign "$F" --phone 0612345600 --field last_name='=HYPERLINK("http://evil")' --field first_name='@SUM(1)' --field city='Montréal; "QC"'
exp="$CARILLON_STACK_DIR/export.csv"
assert_exit 0 carillonctl contact export --campaign "$F" -o "$exp"
assert_contains "$OUT" "3 contacts exported"
head -c 3 "$exp" | od -An -tx1 | grep -q 'ef bb bf' || fail "no UTF-8 BOM"
hdr=$(head -1 "$exp" | sed 's/^\xef\xbb\xbf//')
assert_contains "$hdr" "id;list;state;last_name;first_name"
assert_contains "$hdr" ";anciennete;offre_actuelle"
grep -q "\"'=HYPERLINK(\"\"http://evil\"\")\"" "$exp" || fail "formula not neutralised: $(grep HYPER "$exp")"
grep -q "\"'@SUM(1)\"" "$exp" || fail "@ not neutralised"
grep -q '"Montréal; ""QC"""' "$exp" || fail "quoting lost: $(grep Montr "$exp")"
grep -q "Dupré;Zoé" "$exp" || fail "accents lost"
assert_exit 0 carillonctl contact export --campaign "$F" --filter "city = 'Lyon'" -o "$CARILLON_STACK_DIR/lyon.xlsx"
assert_contains "$OUT" "1 contact exported"
# exports write in constant memory: strings are inline in the sheet, not in sharedStrings.xml
unzip -p "$CARILLON_STACK_DIR/lyon.xlsx" xl/worksheets/sheet1.xml | grep -q "Dupré" || fail "xlsx lacks the contact"
assert_exit 0 carillonctl grant marc "$F" view
assert_exit 1 env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl contact export --campaign "$F" -o "$CARILLON_STACK_DIR/no.csv"
assert_contains "$ERR" "export right"
assert_exit 0 carillonctl grant marc "$F" view,export
assert_exit 0 env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl contact export --campaign "$F" -o "$CARILLON_STACK_DIR/yes.csv"
echo "PASS contacts_manual"
