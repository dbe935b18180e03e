#!/usr/bin/env bash
# Exports that import back: campaign A's contacts (French accents, up to four typed numbers, a
# Guadeloupe number, fields starting like formulas) exported to CSV and to XLSX, each file
# imported into a fresh campaign with a mapping built from its headers: no rejects, the same
# contacts, numbers, types and field values. In CSV the number columns hold E.164 numbers
# unprefixed and other formula-like cells get an apostrophe; in XLSX nothing is prefixed.
# Then a spreadsheet-made XLSX: a date cell imports as an ISO date, a number cell as a number.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
ex="$CARILLON_SOURCE_DIR/deploy/examples"
d="$CARILLON_STACK_DIR/files"
mkdir -p "$d"
assert_exit 0 carillonctl user add marc --role supervisor --name 'Marc Lefèvre' --password-stdin <<<'superv-pass-1'
assert_exit 0 carillonctl user add helene --role agent --name 'Hélène Dupré' --password-stdin <<<'agent-pass-1'

# Three campaigns from the example, each with a date field besides its number and text ones.
campaign() { # NAME
    python3 - "$ex/campaign-fibre.yaml" "$1" >"$d/$1.yaml" <<'PY'
import sys
y = open(sys.argv[1], encoding='utf-8').read()
y = y.replace("name: 'Fibre Île-de-France 2027'", "name: '%s'" % sys.argv[2], 1)
anchor = "- name: 'offre_actuelle'\n  label: 'Offre actuelle'\n  type: text\n"
assert anchor in y
y = y.replace(anchor, anchor + "- name: 'rdv'\n  label: 'Rendez-vous'\n  type: date\n", 1)
sys.stdout.write(y)
PY
    assert_exit 0 carillonctl apply -f "$d/$1.yaml"
}
A='Rétro A'
campaign "$A"
campaign 'Rétro CSV'
campaign 'Rétro XLSX'

assert_exit 0 carillonctl contact add --campaign "$A" --phone 0612345601:mobile --phone 0140000001:home \
    --phone '+33 1 40 00 00 02:work' --field first_name=Hélène --field last_name=Dupré \
    --field city=Lyon --field offre_actuelle='=1+2' --field anciennete=12 --field rdv=2027-03-15 \
    --field address='12, rue de l'"'"'Église; bât "B"'
assert_exit 0 carillonctl contact add --campaign "$A" --phone 0590123456 --phone 0745678902:mobile \
    --field first_name=Françoise --field last_name="D'Aubigné" --field company='+33 Conseil' \
    --field city=Pointe-à-Pitre --field anciennete=3.5
assert_exit 0 carillonctl contact add --campaign "$A" --phone 0612345603:other --phone 0140000003:work \
    --phone 0140000004:home --phone 0745678904:mobile --field first_name=Zoë --field last_name=Payet \
    --field company=-Sud --field offre_actuelle='@moi' --field email=zoe@exemple.fr
assert_eq "America/Guadeloupe" "$(psql -Atc "select time_zone from contacts where last_name = 'D''Aubigné'")"

# What a campaign holds, one line per contact: its columns, fields, and numbers with types.
held() { # CAMPAIGN
    psql -At -F '|' -c "select c.last_name, c.first_name, c.company, c.address, c.city, c.email,
            c.consent, c.time_zone, coalesce(c.fields->>'anciennete', ''),
            coalesce(c.fields->>'offre_actuelle', ''), coalesce(c.fields->>'rdv', ''),
            (select string_agg(a.number || ':' || a.type, ' ' order by a.position)
               from addresses a where a.contact_id = c.id)
        from contacts c join campaigns k on k.id = c.campaign_id
        where k.name = '$1' order by c.last_name"
}
want=$(held "$A")
grep -q '^Dupré|Hélène||12, rue de l'"'"'Église; bât "B"|Lyon||t|Europe/Paris|12|=1+2|2027-03-15|+33612345601:mobile +33140000001:home +33140000002:work$' <<<"$want" ||
    fail "campaign A: $want"
grep -q '+590590123456:home +33745678902:mobile$' <<<"$want" || fail "campaign A: $want"

# The mapping from a file's headers: every importable column onto itself.
map_of() { # HEADER-LINE (';'-separated)
    python3 - "$1" <<'PY'
import sys
known = {'last_name', 'first_name', 'civility', 'company', 'address', 'zip', 'city', 'country',
         'email', 'customer_id', 'consent', 'anciennete', 'offre_actuelle', 'rdv'}
known |= {'phone%d' % n for n in range(1, 5)} | {'phone%d_type' % n for n in range(1, 5)}
print(','.join('%s=%s' % (h, h) for h in sys.argv[1].split(';') if h in known))
PY
}

# --- CSV --------------------------------------------------------------------------------------
assert_exit 0 carillonctl contact export --campaign "$A" -o "$d/a.csv"
assert_contains "$OUT" "3 contacts exported"
[ "$(head -c 3 "$d/a.csv" | od -An -tx1 | tr -d ' ')" = "efbbbf" ] || fail "the CSV has no UTF-8 BOM"
cells=$(python3 - "$d/a.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding='utf-8-sig', newline=''), delimiter=';'))
h = rows[0]
print(';'.join(h))
for r in rows[1:]:
    c = dict(zip(h, r))
    print('|'.join(c[k] for k in ('last_name', 'phone1', 'phone1_type', 'phone2', 'phone2_type',
                                  'phone4', 'phone4_type', 'company', 'offre_actuelle', 'address')))
PY
)
header=$(head -1 <<<"$cells")
assert_contains ";$header;" ";phone1;phone1_type;phone1_state;phone2;phone2_type;phone2_state;phone3;phone3_type;phone3_state;phone4;phone4_type;phone4_state;"
assert_not_contains ";$header;" ";phone5;"
assert_not_contains ";$header;" ";phone;"
assert_contains ";$header;" ";anciennete;offre_actuelle;rdv;"
# E.164 numbers unprefixed in the number columns; '+', '-', '=' and '@' elsewhere neutralised
assert_contains "$cells" "Dupré|+33612345601|mobile|+33140000001|home||||'=1+2|12, rue de l'Église; bât \"B\""
assert_contains "$cells" "D'Aubigné|+590590123456|home|+33745678902|mobile|||'+33 Conseil|"
assert_contains "$cells" "Payet|+33612345603|other|+33140000003|work|+33745678904|mobile|'-Sud|'@moi|"
# the guesser proposes the number columns and their types for the export's headers
assert_exit 0 carillonctl list import "$d/a.csv" --campaign 'Rétro CSV' --name preview
assert_contains "$OUT" "phone1_type=phone1_type"
assert_contains "$OUT" "phone4=phone4,phone4_type=phone4_type"
map=$(map_of "$header")
assert_exit 0 carillonctl list import "$d/a.csv" --campaign 'Rétro CSV' --name retour --map "$map"
assert_contains "$OUT" "3 rows: 3 imported, 0 duplicates, 0 rejected, 0 blocked"
# the same contacts; a neutralised cell comes back as the text (once the importer strips the
# spreadsheet's apostrophe) or, until then, with the apostrophe this side wrote
got=$(held 'Rétro CSV' | sed -e "s/|'\\([-=+@]\\)/|\\1/g")
assert_eq "$want" "$got"

# number columns may be named; an unknown one is refused
assert_exit 0 carillonctl contact export --campaign "$A" --columns last_name,phone2,phone2_type,phone2_state --filter "last_name = 'Payet'" -o "$d/named.csv"
assert_eq "last_name;phone2;phone2_type;phone2_state
Payet;+33140000003;work;waiting" "$(sed -e 's/^\xef\xbb\xbf//' -e 's/\r$//' "$d/named.csv")"
assert_exit 1 carillonctl contact export --campaign "$A" --columns last_name,phone9 -o "$d/refused.csv"
assert_contains "$ERR" "unknown column 'phone9'"

# --- XLSX -------------------------------------------------------------------------------------
assert_exit 0 carillonctl contact export --campaign "$A" -o "$d/a.xlsx"
assert_contains "$OUT" "3 contacts exported"
xcells=$(python3 - "$d/a.xlsx" <<'PY'
import os, sys
sys.path.insert(0, os.environ['CARILLON_SOURCE_DIR'] + '/tests/lib')
from xlsx_rows import rows as read_rows
rows = read_rows(sys.argv[1], strict=True)
h = rows[0]
print(';'.join(h))
for r in rows[1:]:
    c = dict(zip(h, r + [''] * (len(h) - len(r))))
    print('|'.join(c[k] for k in ('last_name', 'phone1', 'phone1_type', 'company', 'offre_actuelle')))
PY
) || fail "the XLSX export: $xcells"
xheader=$(head -1 <<<"$xcells")
assert_eq "$header" "$xheader"
# string cells, never formulas: nothing prefixed
assert_contains "$xcells" "Dupré|+33612345601|mobile||=1+2"
assert_contains "$xcells" "D'Aubigné|+590590123456|home|+33 Conseil|"
assert_contains "$xcells" "Payet|+33612345603|other|-Sud|@moi"
assert_not_contains "$xcells" "'="
assert_exit 0 carillonctl list import "$d/a.xlsx" --campaign 'Rétro XLSX' --name retour --map "$(map_of "$xheader")"
assert_contains "$OUT" "3 rows: 3 imported, 0 duplicates, 0 rejected, 0 blocked"
assert_eq "$want" "$(held 'Rétro XLSX')"

# --- the type columns on their own ------------------------------------------------------------
printf 'Nom;Tel;Genre\nBon;0612345690;WORK\nInconnu;0612345691;fax\nSans;0612345692;\n' >"$d/types.csv"
assert_exit 0 carillonctl list import "$d/types.csv" --campaign 'Rétro CSV' --name types --map 'Nom=last_name,Tel=phone1,Genre=phone1_type'
assert_contains "$OUT" "3 rows: 2 imported, 0 duplicates, 1 rejected"
assert_contains "$OUT" "'fax': unknown phone type 'fax' (mobile, home, work or other)"
assert_eq "work" "$(psql -Atc "select type from addresses where number = '+33612345690'")"
assert_eq "mobile" "$(psql -Atc "select type from addresses where number = '+33612345692'")"
assert_exit 1 carillonctl list import "$d/types.csv" --campaign 'Rétro CSV' --name types2 --map 'Nom=last_name,Tel=phone1,Genre=phone2_type'
assert_contains "$ERR" "phone2_type is mapped but no column is mapped to phone2"

# --- a spreadsheet's own XLSX: a date cell and number cells -------------------------------------
python3 - "$d/tableur.xlsx" <<'PY'
import sys, zipfile
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
def s(ref, text):
    return '<c r="%s" t="inlineStr"><is><t>%s</t></is></c>' % (ref, text)
styles = ('<?xml version="1.0" encoding="UTF-8"?><styleSheet %s><numFmts count="1">'
          '<numFmt numFmtId="164" formatCode="dd/mm/yyyy;@"/></numFmts><cellXfs count="3">'
          '<xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/>'
          '<xf numFmtId="164" applyNumberFormat="1"/></cellXfs></styleSheet>' % NS)
sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet %s><sheetData>'
         '<row r="1">%s%s%s%s</row>'
         '<row r="2">%s<c r="B2"><v>612345695</v></c><c r="C2" s="1"><v>46461</v></c>'
         '<c r="D2"><v>12.0</v></c></row>'
         '<row r="3">%s<c r="B3"><v>612345696</v></c><c r="C3" s="2"><v>46462</v></c>'
         '<c r="D3"><v>0.30000000000000004</v></c></row>'
         '</sheetData></worksheet>'
         % (NS, s('A1', 'Nom'), s('B1', 'Tel1'), s('C1', 'Rendez-vous'), s('D1', 'Ancienneté'),
            s('A2', 'Tableur'), s('A3', 'Tableur bis')))
workbook = ('<?xml version="1.0" encoding="UTF-8"?><workbook %s><workbookPr/><sheets>'
            '<sheet name="Feuil1" sheetId="1"/></sheets></workbook>' % NS)
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('xl/workbook.xml', workbook)
    z.writestr('xl/styles.xml', styles)
    z.writestr('xl/worksheets/sheet1.xml', sheet)
PY
assert_exit 0 carillonctl list import "$d/tableur.xlsx" --campaign 'Rétro XLSX' --name tableur --map 'Nom=last_name,Tel1=phone1,Rendez-vous=rdv,Ancienneté=anciennete'
assert_contains "$OUT" "2 rows: 2 imported, 0 duplicates, 0 rejected"
assert_eq "2027-03-15|12|+33612345695
2027-03-16|0.3|+33612345696" "$(psql -At -F '|' -c "select c.fields->>'rdv', c.fields->>'anciennete', a.number
    from contacts c join addresses a on a.contact_id = c.id where c.last_name like 'Tableur%' order by c.last_name")"
# A contact with more than four numbers (contact add takes eight) comes back whole too.
campaign 'Rétro cinq'
campaign 'Rétro cinq bis'
assert_exit 0 carillonctl contact add --campaign 'Rétro cinq' --phone 0612345611:mobile \
    --phone 0140000011:home --phone 0140000012:work --phone 0745678911:mobile \
    --phone 0140000013:other --field last_name=Cinq
assert_exit 0 carillonctl contact export --campaign 'Rétro cinq' -o "$d/cinq.csv"
header=$(head -1 "$d/cinq.csv" | sed 's/^\xEF\xBB\xBF//' | tr -d '\r')
assert_contains ";$header;" ";phone5;phone5_type;"
assert_exit 0 carillonctl list import "$d/cinq.csv" --campaign 'Rétro cinq bis' --name retour \
    --map 'last_name=last_name,phone1=phone1,phone1_type=phone1_type,phone2=phone2,phone2_type=phone2_type,phone3=phone3,phone3_type=phone3_type,phone4=phone4,phone4_type=phone4_type,phone5=phone5,phone5_type=phone5_type'
assert_contains "$OUT" "1 imported"
assert_eq "$(held 'Rétro cinq')" "$(held 'Rétro cinq bis')"
echo "PASS contacts_roundtrip"
