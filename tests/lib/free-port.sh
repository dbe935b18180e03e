#!/usr/bin/env bash
# free-port.sh [N]: the first of N consecutive ports (1) on 127.0.0.1 that nothing holds on TCP
# or UDP, each claimed (tests/lib/claims.sh) so that no test running alongside is handed it
# before it is bound. The claims are CARILLON_CLAIM_OWNER's (a pid; by default the caller's)
# and listed in CARILLON_CLAIM_LIST (none by default): an owner that binds its ports before it
# exits (tests/lib/stack.sh, pg.sh) can leave them, a test gives them back at its end.
# Ports are in 20000-32767: below the kernel's ephemeral ports (32768+), so no client socket
# holds one, and above the tests' RTP ranges (10000-19999).
set -uo pipefail
# shellcheck source=tests/lib/claims.sh
. "$(dirname "${BASH_SOURCE[0]}")/claims.sh"
n=${1:-1} owner=${CARILLON_CLAIM_OWNER:-$PPID} list=${CARILLON_CLAIM_LIST:-/dev/null}
for ((t = 0; t < 200; t++)); do
    p=$((20000 + RANDOM % (12768 - n)))
    ss -Hltun "sport >= :$p and sport <= :$((p + n - 1))" 2>/dev/null | grep -q . && continue
    for ((i = p; i < p + n; i++)); do
        # a port claimed here before one held elsewhere stays claimed: harmless
        claim "port-$i" "$owner" "$list" || continue 2
    done
    echo "$p"
    exit 0
done
echo "free-port.sh: no free port found" >&2
exit 1
