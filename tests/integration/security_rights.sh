#!/usr/bin/env bash
# Every request route against the five kinds of user (an agent, a view-only supervisor, a
# supervisor with view + export, an editor, an admin): each cell of the table below is asserted,
# through the real protocol (cr-probe builds each request). Then the holes the one policy point
# closes: a view-only user cannot page through a campaign, and nobody grants a right they do not
# hold, nor to themselves or to a profile of theirs.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
ex="$CARILLON_SOURCE_DIR/deploy/examples"
F='Fibre Île-de-France 2027'
add_user() { assert_exit 0 carillonctl user add "$1" --role "$2" --password-stdin <<<"$3"; }
add_user helene agent agent-pass-1
add_user marc supervisor superv-pass-1
add_user vera supervisor viewer-pass-1
add_user xavier supervisor export-pass-1
add_user edith supervisor editor-pass-1
assert_exit 0 carillonctl apply -f "$ex/campaign-fibre.yaml"
assert_exit 0 carillonctl grant vera "$F" view
assert_exit 0 carillonctl grant xavier "$F" view,export
assert_exit 0 carillonctl grant edith "$F" view,edit
assert_exit 0 carillonctl contact add --campaign "$F" --phone '06 12 34 56 78' --field last_name=Dupré
# 1,200 contacts, for the paging limits
psql -Atc "insert into contacts (campaign_id, list_id, time_zone, last_name)
    select campaign_id, list_id, time_zone, 'Clément ' || g from contacts, generate_series(1, 1199) g" >/dev/null
assert_exit 0 carillonctl campaign state "$F" ready
assert_exit 0 carillonctl campaign state "$F" running
id1=$(psql -Atc "select min(id) from contacts")

# route | request (cr-probe send ...) | agent viewer exporter editor admin (a: allowed, d: denied)
# Allowed means the route let the request through: its handler may still refuse it for what it
# says (a missing field, a running campaign), with any code but PERMISSION_DENIED.
table=(
    "whoami|whoami|aaaaa"
    "ping|ping|aaaaa"
    "user add|send user_add login=zed|dddda"
    "user list|send user_list|daaaa"
    "user passwd (another)|send user_passwd login=marc new_password=x|dddda"
    "user passwd (self)|send user_passwd new_password=x|aaaaa"
    "user disable|send user_disable login=nobody|dddda"
    "user profiles|send user_set_profiles login=nobody|dddda"
    "campaign list|send campaign_list|daaaa"
    "campaign get|send campaign_get name=@F|daaaa"
    "campaign rights|send campaign_rights_get campaign=@F|daaaa"
    "campaign apply (existing)|send campaign_apply campaign.name=@F|dddaa"
    "campaign apply (new)|send campaign_apply campaign.name=Neuve|daaaa"
    "campaign state|send campaign_set_state name=@F state=CAMPAIGN_STATE_RUNNING|dddaa"
    "campaign delete|send campaign_delete name=@F|dddaa"
    "campaign duplicate|send campaign_duplicate name=@F new_name=|dddaa"
    "grant|send campaign_grant campaign=@F login=marc|dddaa"
    "contact create|send contact_create campaign=@F|dddaa"
    "contact list|send contact_list campaign=@F|daaaa"
    "contact export|send contact_list campaign=@F export=true limit=1|ddada"
    "contact update|send contact_update campaign=@F|dddaa"
    "contact modify|send contact_modify campaign=@F id=@ID|dddaa"
    "list set|send list_set campaign=@F list=x|dddaa"
    "lists get|send lists_get campaign=@F|daaaa"
    "filter save|send filter_save name=f1|daaaa"
    "filters get|send filters_get|daaaa"
    "blacklist (campaign)|send blacklist_add campaign=@F|dddaa"
    "blacklist (global)|send blacklist_add|dddda"
    "blacklist list (campaign)|send blacklist_list campaign=@F|daaaa"
    "blacklist list (global)|send blacklist_list|dddda"
    "import begin|send import_begin campaign=@F|dddaa"
    "import rows|send import_rows|daaaa"
    "import end|send import_end|daaaa"
    "campaign stats|send campaign_stats name=@F|daaaa"
    "compliance report|send compliance_report name=@F|daaaa"
    "campaign report|send campaign_report campaign=@F|ddada"
    # last: an allowed export streams several answers (chunks, then its end)
    "export begin|send export_begin campaign=@F|ddada"
)
users=(helene vera xavier edith admin)
passwords=(agent-pass-1 viewer-pass-1 export-pass-1 editor-pass-1 "$CARILLON_PASSWORD")
hellos=(agent supervisor supervisor supervisor supervisor)
for u in 0 1 2 3 4; do
    steps=(hello "${hellos[$u]}" login "${users[$u]}" "${passwords[$u]}")
    rows=()
    for row in "${table[@]}"; do
        IFS='|' read -r name req want <<<"$row"
        rows+=("$row")
        read -r -a words <<<"$req"
        # the campaign's name has spaces: put in after the split
        for i in "${!words[@]}"; do
            words[i]=${words[i]//@F/$F}
            words[i]=${words[i]//@ID/$id1}
        done
        [ "$req" = whoami ] && words=(send whoami)
        steps+=("${words[@]}")
    done
    out=$(cr-probe --server "$CARILLON_SERVER" --ca "$CARILLON_CA" "${steps[@]}")
    mapfile -t lines < <(tail -n +3 <<<"$out")
    assert_contains "$(sed -n 2p <<<"$out")" "login_ok user=${users[$u]}"
    [ "${#lines[@]}" -ge "${#rows[@]}" ] || fail "${users[$u]}: ${#rows[@]} requests, answers: $out"
    for i in "${!rows[@]}"; do
        IFS='|' read -r name req want <<<"${rows[$i]}"
        line=${lines[$i]}
        case "$line" in
        *PERMISSION_DENIED*) got=d ;;
        "reply body="* | "pong" | "error code="*) got=a ;;
        *) fail "${users[$u]} / $name: unexpected answer '$line'" ;;
        esac
        case "$line" in *UNAUTHENTICATED* | *UNAVAILABLE* | *INTERNAL*) fail "${users[$u]} / $name: $line" ;; esac
        [ "$got" = "${want:$u:1}" ] ||
            fail "${users[$u]} / $name: expected $([ "${want:$u:1}" = a ] && echo allowed || echo denied), got '$line'"
    done
done
# denials are logged with who, what and the right
assert_contains "$(cat "$CARILLON_STACK_DIR/server.log")" 'permission_denied peer='
assert_contains "$(grep permission_denied "$CARILLON_STACK_DIR/server.log")" 'user="vera" role=supervisor campaign="Fibre Île-de-France 2027" right=edit'

probe_as() {
    local who=$1 pass=$2
    shift 2
    cr-probe --server "$CARILLON_SERVER" --ca "$CARILLON_CA" hello supervisor login "$who" "$pass" "$@" |
        tail -n +3 | grep -v "^closed"
}

# Logout, a session route every person may use, ends the session on that connection.
out=$(probe_as vera viewer-pass-1 send logout send whoami)
assert_contains "$(sed -n 1p <<<"$out")" "reply body=ok"
assert_contains "$(sed -n 2p <<<"$out")" "UNAUTHENTICATED"

# Without the export right: one page of at most 100 rows, inside the first 1,000 contacts.
out=$(probe_as vera viewer-pass-1 send contact_list "campaign=$F" limit=1000 \
    send contact_list "campaign=$F" limit=100 offset=950 \
    send contact_list "campaign=$F" offset=1000 \
    send contact_list "campaign=$F" "filter=id >= $((id1 + 1000))" \
    send contact_list "campaign=$F" export=true)
assert_eq "reply body=contact_list_reply rows=100 total=1000
reply body=contact_list_reply rows=50 total=1000" "$(sed -n 1,2p <<<"$out")"
assert_contains "$(sed -n 3p <<<"$out")" "PERMISSION_DENIED field=offset"
assert_contains "$(sed -n 3p <<<"$out")" "first 1000 contacts"
assert_eq "reply body=contact_list_reply rows=0 total=0" "$(sed -n 4p <<<"$out")"
assert_contains "$(sed -n 5p <<<"$out")" "you do not have the export right"
# with it, the whole campaign
out=$(probe_as xavier export-pass-1 send contact_list "campaign=$F" limit=1000 \
    send contact_list "campaign=$F" limit=1000 offset=1000)
assert_eq "reply body=contact_list_reply rows=1000 total=1200
reply body=contact_list_reply rows=200 total=1200" "$out"
# and through carillonctl
assert_exit 0 env CARILLON_USER=vera CARILLON_PASSWORD=viewer-pass-1 carillonctl contact list --campaign "$F" --limit 1000
assert_eq 100 "$(grep -c 'Clément\|Dupré' <<<"$OUT")"

# Grants: never a right one does not hold, never to oneself nor to a profile of one's own.
assert_exit 0 carillonctl user profiles edith qualite
ed() { env CARILLON_USER=edith CARILLON_PASSWORD=editor-pass-1 carillonctl "$@"; }
assert_exit 1 ed grant marc "$F" view,export
assert_contains "$ERR" "you cannot grant the export right: you do not hold it"
assert_exit 1 ed grant edith "$F" view,edit,export
assert_contains "$ERR" "you cannot change your own rights"
assert_exit 1 ed grant @qualite "$F" view,edit
assert_contains "$ERR" "you have that profile"
assert_exit 1 ed grant @vente "$F" view,export
assert_contains "$ERR" "export right"
assert_exit 0 ed grant marc "$F" view,edit
assert_eq "t|t|f" "$(psql -Atc "select can_view, can_edit, can_export from campaign_user_rights r join users u on u.id = r.user_id join campaigns c on c.id = r.campaign_id where u.login = 'marc' and c.name = '$F'")"
# every grant is audited: the table's (an empty grant: a revocation) and this one
assert_eq 2 "$(psql -Atc "select count(*) from audit_log a join users u on u.id = a.actor_id where u.login = 'edith' and a.action = 'campaign.grant'")"
# refused grants changed nothing
assert_eq "" "$(psql -Atc "select profile from campaign_profile_rights")"
assert_eq "t|f" "$(psql -Atc "select can_view, can_export from campaign_user_rights r join users u on u.id = r.user_id where u.login = 'edith'")"
# an admin may still grant anything to anyone else
assert_exit 0 carillonctl grant @vente "$F" view,export
echo "security_rights: ok"
