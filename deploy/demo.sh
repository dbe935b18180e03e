#!/usr/bin/env bash
# Runs Carillon locally: installs what is missing, builds, starts PostgreSQL and the server on
# free loopback ports with an admin, shows the CLI working, applies a campaign, imports a contact
# list (French names, mixed number formats), then runs a whole campaign: the server drives
# carillon-dialerd against a SIPp trunk, scripted agents with SIPp softphones take the calls, and
# it ends with the campaign's stats and every contact's final state (deploy/demo-campaign.sh).
#   ./deploy/demo.sh [--stop-after] [DIR]     DIR defaults to ./demo-run (kept between runs)
#   --stop-after   stop the stack at the end (the test uses it)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
stop_after=
dir=
for a in "$@"; do
    case "$a" in
    --stop-after) stop_after=1 ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "demo: unknown option '$a' (usage: deploy/demo.sh [--stop-after] [DIR])" >&2; exit 2 ;;
    *) dir=$a ;;
    esac
done
dir=${dir:-$repo/demo-run}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bin=${CARILLON_BUILD_DIR:-$repo/build}/bin

./deploy/bootstrap.sh
echo "demo: starting PostgreSQL and carillon-server in $dir"
if [ -n "$stop_after" ]; then
    trap 'tests/lib/stack.sh down "$dir"' EXIT
fi
tests/lib/stack.sh up "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env.sh"

# A word as the shell reads it back: as is when it has no special character, else in single
# quotes, so that every command the demo prints can be pasted.
q() {
    case "$1" in
    '' | *[!A-Za-z0-9_./:=@%+,-]*) printf "'%s'" "${1//\'/\'\\\'\'}" ;;
    *) printf '%s' "$1" ;;
    esac
}
quoted() { # WORDS...: the words quoted, space-separated
    local a sep=
    for a in "$@"; do printf '%s%s' "$sep" "$(q "$a")"; sep=' '; done
}
# Shows a command, then runs it.
show() {
    echo "\$ carillonctl $(quoted "$@")"
    "$bin/carillonctl" "$@"
}
echo "demo: the server listens on $CARILLON_SERVER; carillonctl logs in as $CARILLON_USER from the environment"
show ping
show whoami
users=$("$bin/carillonctl" user list)
add_user() { # LOGIN ROLE NAME (the campaign below names marc as referent and helene as agent)
    if ! grep -q "^$1\b" <<<"$users"; then
        printf '%s\n' "\$ printf '%s\\n' $(q "demo-$1-pw") | carillonctl $(quoted user add "$1" --role "$2" --name "$3" --password-stdin)"
        printf '%s\n' "demo-$1-pw" | "$bin/carillonctl" user add "$1" --role "$2" --name "$3" --password-stdin
    fi
}
add_user camille agent 'Camille Hébert'
add_user helene agent 'Hélène Dupré'
add_user marc supervisor 'Marc Lefèvre'
show user list

campaign='Fibre Île-de-France 2027'
show apply -f deploy/examples/campaign-fibre.yaml
show campaign list
list="démo $(date +%Y%m%d-%H%M%S)" # a new list each run: the numbers are the same, see duplicates
printf 'Nom;Prénom;Tel1;Ville\nDupré;Zoé;06 12 34 56 78;Lyon\nLefèvre;Jérôme;+33 1 44 55 66 77;Paris\nPayet;Maëlle;0692123456;Saint-Denis\nN'"'"'Diaye;Aïssata;612345679;Créteil\nSansNuméro;Éloïse;;Nantes\n' >"$dir/contacts.csv"
echo "demo: a contact file, $dir/contacts.csv:"
sed 's/^/  /' "$dir/contacts.csv"
show list import "$dir/contacts.csv" --campaign "$campaign" --name "$list" \
    --map 'Nom=last_name,Prénom=first_name,Tel1=phone1,Ville=city'
show list show --campaign "$campaign"

deploy/demo-campaign.sh "$dir"

if [ -n "$stop_after" ]; then
    trap - EXIT
    tests/lib/stack.sh down "$dir"
    echo "demo: stopped"
else
    cat <<MSG

demo: the stack is running. To use it by hand (then, from the repository's root, the commands above run as shown):
  export PATH=$(q "$bin"):"\$PATH"
  source $(q "$dir/env.sh")
  carillonctl user list
  carillonctl $(quoted contact list --campaign "$campaign")
To stop it:
  $(q "$repo/tests/lib/stack.sh") down $(q "$dir")
MSG
fi
