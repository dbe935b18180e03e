#!/usr/bin/env bash
# File imports through carillonctl: the proposed mapping, semicolons, Windows-1252, BOM, quoted
# newlines, ragged rows, empty and header-only files, a huge field, lost leading zeros,
# duplicates (in the file and against the campaign), blacklisted numbers, the report, and all or
# nothing when the file fails mid-way.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
ex="$CARILLON_SOURCE_DIR/deploy/examples"
F='Fibre Île-de-France 2027'
d="$CARILLON_STACK_DIR/files"
mkdir -p "$d"
assert_exit 0 carillonctl user add marc --role supervisor --name 'Marc Lefèvre' --password-stdin <<<'superv-pass-1'
assert_exit 0 carillonctl user add helene --role agent --name 'Hélène Dupré' --password-stdin <<<'agent-pass-1'
assert_exit 0 carillonctl apply -f "$ex/campaign-fibre.yaml"
count() { psql -Atc "select count(*) from contacts c join lists l on l.id = c.list_id where l.name = '$1'"; }
MAP='Nom=last_name,Prénom=first_name,Tel1=phone1,Ville=city,Ancienneté=anciennete'

# the proposal (step 2 of the wizard): header beside the fields, nothing imported
printf '\xef\xbb\xbfNom;Prénom;Tel1;Ville;Ancienneté\r\n' > "$d/header.csv"
assert_exit 0 carillonctl list import "$d/header.csv" --campaign "$F" --name x
assert_contains "$OUT" "UTF-8 (BOM), delimiter ';'"
assert_contains "$OUT" "Prénom                       first_name"
assert_contains "$OUT" "--map 'Nom=last_name,Prénom=first_name,Tel1=phone1,Ville=city'"
assert_exit 0 carillonctl list import "$d/header.csv" --campaign "$F" --name vide --map "$MAP"
assert_contains "$OUT" "0 rows: 0 imported"
: > "$d/empty.csv"
assert_exit 1 carillonctl list import "$d/empty.csv" --campaign "$F" --name vide --map "$MAP"
assert_contains "$ERR" "the file is empty"

# semicolons, lost leading zeros, duplicates, bad numbers, typed fields, overseas numbers
printf 'Nom;Prénom;Tel1;Ville;Ancienneté\nDupré;Zoé;06 12 34 56 78;Lyon;12\nMartin;Luc;612345679;Paris;3\nDoublon;X;0612345678;Lyon;1\nSansNum;Y;;Lyon;2\nMauvais;Z;abc;Lyon;2\nTypé;W;0612345670;Lyon;douze\nPayet;Jo;0692123456;Saint-Denis;4\n' > "$d/mars.csv"
assert_exit 0 carillonctl list import "$d/mars.csv" --campaign "$F" --name mars --map "$MAP" --report "$d/rejects.csv"
assert_contains "$OUT" "7 rows: 3 imported, 1 duplicates, 3 rejected, 0 blocked"
assert_contains "$OUT" "line 5, phone: '': no phone number"
assert_contains "$OUT" "line 6, phone1: 'abc': holds characters that are not digits"
assert_contains "$OUT" "line 7, anciennete: 'douze': not a number"
assert_eq "4" "$(wc -l < "$d/rejects.csv")"
grep -q '^6;"phone1";"abc";"holds characters that are not digits"' "$d/rejects.csv" || fail "report row missing: $(cat "$d/rejects.csv")"
assert_eq "3" "$(count mars)"
assert_eq "+33612345679" "$(psql -Atc "select a.number from addresses a join contacts c on c.id=a.contact_id where c.last_name='Martin'")"
assert_eq "Indian/Reunion" "$(psql -Atc "select time_zone from contacts where last_name='Payet'")"
assert_eq "12" "$(psql -Atc "select fields->>'anciennete' from contacts where last_name='Dupré'")"

# the same file again: every number is already in the campaign
assert_exit 0 carillonctl list import "$d/mars.csv" --campaign "$F" --name mars-bis --map "$MAP"
assert_contains "$OUT" "0 imported, 4 duplicates"
assert_exit 0 carillonctl list import "$d/mars.csv" --campaign "$F" --name mars-ter --map "$MAP" --dedup none
assert_contains "$OUT" "4 imported, 0 duplicates"

# Windows-1252, commas, CRLF, quoted newline, ragged row, two numbers, a blacklisted number
assert_exit 0 carillonctl blacklist add 0612345680
printf 'Nom,Tel1,Mobile\r\nCh\xe2teau,06 12 34 56 80,\r\n"Multi\r\nligne",0145678911,0745678912\r\nRagged,0145678912\r\n' > "$d/avril.csv"
assert_exit 0 carillonctl list import "$d/avril.csv" --campaign "$F" --name avril --map 'Nom=last_name,Tel1=phone1,Mobile=phone2:mobile'
assert_contains "$OUT" "3 rows: 2 imported, 0 duplicates, 1 rejected, 1 blocked"
assert_contains "$OUT" "line 5, : '': has 2 columns, the header has 3"
assert_eq "Château" "$(psql -Atc "select last_name from contacts where last_name like 'Ch%teau'")"
assert_eq "$(printf 'Multi\r\nligne')" "$(psql -Atc "select last_name from contacts where last_name like 'Multi%'")"
assert_eq "mobile" "$(psql -Atc "select type from addresses where number='+33745678912'")"
assert_eq "blocked" "$(psql -Atc "select state from addresses where number='+33612345680'")"

# de-duplication on a field: the same customer number is one contact, numbers aside
printf 'Client;Nom;Tel1\nC001;Un;0622000001\nC002;Deux;0622000002\nC001;Un bis;0622000003\n;Sans;0622000004\n;Sans bis;0622000005\n' > "$d/clients.csv"
assert_exit 0 carillonctl list import "$d/clients.csv" --campaign "$F" --name clients --dedup field:customer_id --map 'Client=customer_id,Nom=last_name,Tel1=phone1'
assert_contains "$OUT" "5 rows: 4 imported, 1 duplicates"
assert_exit 0 carillonctl list import "$d/clients.csv" --campaign "$F" --name clients2 --dedup field:customer_id --map 'Client=customer_id,Nom=last_name,Tel1=phone1'
assert_contains "$OUT" "5 rows: 2 imported, 3 duplicates"
assert_exit 1 carillonctl list import "$d/clients.csv" --campaign "$F" --name clients3 --dedup field:email --map 'Client=customer_id,Nom=last_name,Tel1=phone1'
assert_contains "$ERR" "no column is mapped to 'email'"

# mapping errors name the column
assert_exit 1 carillonctl list import "$d/mars.csv" --campaign "$F" --name z --map 'Nom=last_name,Ville=city'
assert_contains "$ERR" "no column is mapped to a phone number"
assert_exit 1 carillonctl list import "$d/mars.csv" --campaign "$F" --name z --map 'Nom=surname,Tel1=phone1'
assert_contains "$ERR" "maps to 'surname', which is not a field of this campaign"
assert_exit 1 carillonctl list import "$d/mars.csv" --campaign "$F" --name z --map 'Name=last_name,Tel1=phone1'
assert_contains "$ERR" "'Name', which is not a column"

# all or nothing: a file that fails after thousands of good rows leaves nothing behind
{
    echo 'Nom;Tel1'
    for i in $(seq 10000 16999); do echo "Nom$i;06 00 0$i"; done
    printf 'Ch\xe2teau;0600099999\n'
} > "$d/broken.csv"
before=$(psql -Atc "select count(*) from contacts")
assert_exit 1 carillonctl list import "$d/broken.csv" --campaign "$F" --name cassé --map 'Nom=last_name,Tel1=phone1'
assert_contains "$ERR" "not valid UTF-8"
assert_contains "$ERR" "nothing was imported"
wait_for_log "$CARILLON_STACK_DIR/server.log" "import_abandoned"
assert_eq "$before" "$(psql -Atc "select count(*) from contacts")"
assert_eq "0" "$(psql -Atc "select count(*) from lists where name = 'cassé'")"
# the same rows without the bad line go in
head -n -1 "$d/broken.csv" > "$d/fixed.csv"
assert_exit 0 carillonctl list import "$d/fixed.csv" --campaign "$F" --name réparé --map 'Nom=last_name,Tel1=phone1'
assert_contains "$OUT" "7000 rows: 7000 imported"

# chunks are merged one by one in one transaction: duplicates across chunks (5,000 rows each)
# are still found, by number and by field, and the progress bar reaches 100 %
{
    echo 'Client;Nom;Tel1'
    for i in $(seq 20000 25999); do echo "K$i;Nom$i;06 10 0$i"; done
    for i in $(seq 20000 25999); do echo "K$i;Bis$i;06 20 0$i"; done
} > "$d/twice.csv"
CARILLON_PROGRESS=1 assert_exit 0 carillonctl list import "$d/twice.csv" --campaign "$F" --name deux-fois --map 'Client=customer_id,Nom=last_name,Tel1=phone1'
assert_contains "$OUT" "12000 rows: 12000 imported, 0 duplicates"
assert_contains "$ERR" "[##############################] 100% 12000 rows"
assert_exit 0 carillonctl list import "$d/twice.csv" --campaign "$F" --name deux-fois-k --dedup field:customer_id --map 'Client=customer_id,Nom=last_name,Tel1=phone1'
assert_contains "$OUT" "12000 rows: 0 imported, 12000 duplicates"
sed -e 's/;06 10 0/;06 30 0/' -e 's/;06 20 0/;06 30 0/' "$d/twice.csv" > "$d/twice-same.csv"
assert_exit 0 carillonctl list import "$d/twice-same.csv" --campaign "$F" --name deux-fois-n --map 'Client=customer_id,Nom=last_name,Tel1=phone1'
assert_contains "$OUT" "12000 rows: 6000 imported, 6000 duplicates"
assert_eq "6000" "$(psql -Atc "select count(*) from contacts c join lists l on l.id = c.list_id where l.name = 'deux-fois-n' and c.last_name like 'Nom%'")"

# a huge field is refused with its line, nothing imported
{ echo 'Nom;Tel1'; printf 'x;0611111111\n"'; head -c 70000 /dev/zero | tr '\0' 'y'; printf '";0622222222\n'; } > "$d/huge.csv"
assert_exit 1 carillonctl list import "$d/huge.csv" --campaign "$F" --name énorme --map 'Nom=last_name,Tel1=phone1'
assert_contains "$ERR" "line 3"
assert_contains "$ERR" "longer than 65536 bytes"
assert_eq "0" "$(psql -Atc "select count(*) from lists where name = 'énorme'")"

# rights
assert_exit 1 env CARILLON_USER=helene CARILLON_PASSWORD=agent-pass-1 carillonctl list import "$d/mars.csv" --campaign "$F" --name a --map "$MAP"
assert_contains "$ERR" "PERMISSION_DENIED"
assert_exit 1 env CARILLON_USER=marc CARILLON_PASSWORD=superv-pass-1 carillonctl list import "$d/mars.csv" --campaign "$F" --name a --map "$MAP"
assert_contains "$ERR" "edit right"

# a time zone column wins over the number's; consent refused unless asked for
printf 'Nom;Tel1;Fuseau;Accord\nMontréal;0611110001;America/Montreal;oui\nSansFuseau;0611110002;;oui\nRefus;0611110003;;non\nFaux;0611110004;Mars/Olympus;oui\nBizarre;0611110005;;peut-être\n' > "$d/tz.csv"
assert_exit 0 carillonctl list import "$d/tz.csv" --campaign "$F" --name fuseaux --map 'Nom=last_name,Tel1=phone1,Fuseau=time_zone,Accord=consent'
assert_contains "$OUT" "5 rows: 2 imported, 0 duplicates, 3 rejected"
assert_contains "$OUT" "line 4, consent: 'no': no call consent"
assert_contains "$OUT" "line 5, time_zone: 'Mars/Olympus': unknown time zone"
assert_contains "$OUT" "line 6, consent: 'peut-être': consent is yes or no"
assert_eq "America/Montreal" "$(psql -Atc "select time_zone from contacts where last_name='Montréal'")"
assert_eq "Europe/Paris" "$(psql -Atc "select time_zone from contacts where last_name='SansFuseau'")"
assert_exit 0 carillonctl list import "$d/tz.csv" --campaign "$F" --name fuseaux2 --dedup none --include-no-consent --map 'Nom=last_name,Tel1=phone1,Fuseau=time_zone,Accord=consent'
assert_contains "$OUT" "3 imported"
assert_eq "f" "$(psql -Atc "select c.consent from contacts c join lists l on l.id=c.list_id where l.name='fuseaux2' and c.last_name='Refus'")"

# XLSX: the first sheet of a workbook (here one of our own exports) imports like a CSV
assert_exit 0 carillonctl contact export --campaign "$F" --filter "list = 'mars'" -o "$d/mars.xlsx"
assert_contains "$OUT" "3 contacts exported"
assert_exit 0 carillonctl list import "$d/mars.xlsx" --campaign "$F" --name excel
assert_contains "$OUT" "(XLSX, first sheet)"
assert_exit 0 carillonctl list import "$d/mars.xlsx" --campaign "$F" --name excel --dedup none --map 'last_name=last_name,first_name=first_name,phone1=phone1,city=city'
assert_contains "$OUT" "3 rows: 3 imported"
assert_eq "Zoé|Lyon" "$(psql -Atc "select c.first_name, c.city from contacts c join lists l on l.id=c.list_id where l.name='excel' and c.last_name='Dupré'")"
printf 'not a zip' > "$d/fake.xlsx"
assert_exit 1 carillonctl list import "$d/fake.xlsx" --campaign "$F" --name z --map 'a=phone1'
assert_contains "$ERR" "not a readable XLSX file"

# list state and caller ID: stopping parks the waiting contacts, active brings them back
assert_exit 0 carillonctl list set --campaign "$F" mars --state stopped --caller-id '01 80 00 00 00'
assert_eq "stopped|+33180000000" "$(psql -Atc "select state, caller_id from lists where name='mars'")"
assert_eq "3" "$(psql -Atc "select count(*) from contacts c join lists l on l.id=c.list_id where l.name='mars' and c.state='list_stopped'")"
assert_exit 0 carillonctl list show --campaign "$F"
assert_contains "$OUT" "mars"
assert_contains "$OUT" "stopped"
assert_exit 0 carillonctl list set --campaign "$F" mars --state active
assert_eq "3" "$(psql -Atc "select count(*) from contacts c join lists l on l.id=c.list_id where l.name='mars' and c.state='waiting'")"
assert_exit 1 carillonctl list set --campaign "$F" mars --state paused
assert_contains "$ERR" "state must be active, stopped or suspended"
assert_exit 1 carillonctl list set --campaign "$F" nulle --state stopped
assert_contains "$ERR" "no list 'nulle'"
echo "PASS contacts_import"
