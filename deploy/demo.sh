#!/usr/bin/env bash
# Runs Carillon locally: installs what is missing, builds, starts PostgreSQL and the server on
# free loopback ports with an admin, and shows the CLI working. Later issues extend it to a
# whole campaign (contacts, dialer against a SIPp trunk, scripted agents).
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

# Shows a command, then runs it.
show() {
    echo "\$ carillonctl $*"
    "$bin/carillonctl" "$@"
}
echo "demo: the server listens on $CARILLON_SERVER; carillonctl logs in as $CARILLON_USER from the environment"
show ping
show whoami
if ! "$bin/carillonctl" user list | grep -q '^camille\b'; then
    echo 'demo-agent-pw' | show user add camille --role agent --name 'Camille Hébert' --password-stdin
fi
show user list

if [ -n "$stop_after" ]; then
    trap - EXIT
    tests/lib/stack.sh down "$dir"
    echo "demo: stopped"
else
    cat <<MSG

demo: the stack is running. To use it by hand:
  source $dir/env.sh
  $bin/carillonctl user list
To stop it:
  tests/lib/stack.sh down $dir
MSG
fi
