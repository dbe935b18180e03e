#!/usr/bin/env bash
# Runs Carillon locally: installs what is missing, builds, starts PostgreSQL and the server on
# free loopback ports with an admin, and shows the CLI working. Later issues extend it to a
# whole campaign (contacts, dialer against a SIPp trunk, scripted agents).
#   ./deploy/demo.sh [--stop-after] [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
stop_after=
dir=
for a in "$@"; do
    case "$a" in
    --stop-after) stop_after=1 ;;
    *) dir=$a ;;
    esac
done
dir=${dir:-$repo/demo-run}

./deploy/bootstrap.sh
echo "demo: starting the stack in $dir"
tests/lib/stack.sh up "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env.sh"
ctl="$repo/build/bin/carillonctl"
set -x
"$ctl" ping
"$ctl" whoami
echo 'demo-agent-pw' | "$ctl" user add camille --role agent --name 'Camille Hébert' --password-stdin || true
"$ctl" user list
set +x
if [ -n "$stop_after" ]; then
    tests/lib/stack.sh down "$dir"
    echo "demo: stopped"
else
    cat <<MSG

demo: the stack is running. To use it by hand:
  source $dir/env.sh && build/bin/carillonctl user list
To stop it:
  tests/lib/stack.sh down $dir
MSG
fi
