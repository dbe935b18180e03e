# Claims on loopback ports and RTP port ranges, shared by every test, benchmark and stack running
# on this machine (ctest -j, another worktree): a claim is a directory under $claims_dir made by
# mkdir (atomic), holding its owner's pid, so that nobody takes a port or range another has chosen
# but not bound yet. A claim whose owner is gone (killed before its exit trap) is taken over.
# Sourced by tests/lib/dialer.sh and tests/lib/stack.sh.
# shellcheck shell=bash

claims_dir=/tmp/carillon-claims
mkdir -p "$claims_dir" 2>/dev/null || true

# claim NAME OWNER_PID LIST: takes claim NAME for OWNER_PID and appends NAME to the file LIST;
# 1 when another live owner holds it.
claim() {
    local c="$claims_dir/$1" owner
    if ! mkdir "$c" 2>/dev/null; then
        owner=$(cat "$c/pid" 2>/dev/null) || return 1 # being made right now: held
        [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null || return 1
        mv "$c" "$c.stale.$$" 2>/dev/null || return 1 # one taker wins the stale claim
        rm -rf "$c.stale.$$"
        mkdir "$c" 2>/dev/null || return 1
    fi
    echo "$2" >"$c/pid"
    echo "$1" >>"$3"
}

# claim_blocks FIRST SPAN OWNER_PID LIST: claims the RTP ports FIRST..FIRST+SPAN-1 block by
# block of 100 (FIRST a multiple of 100), all or none: 1, with none kept, when another live
# owner holds one of the blocks.
claim_blocks() {
    local b t taken=()
    for ((b = $1; b < $1 + $2; b += 100)); do
        if ! claim "rtp-$b" "$3" "$4"; then
            for t in "${taken[@]}"; do # give back the blocks taken before the one held
                rm -rf "${claims_dir:?}/rtp-$t"
                sed -i "/^rtp-$t\$/d" "$4"
            done
            return 1
        fi
        taken+=("$b")
    done
}

# claim_rtp_range SPAN OWNER_PID LIST: the first port of a range of SPAN ports (a multiple of
# 100) in 10000-19999 that nothing holds on UDP, claimed (claim_blocks); 1 when none could be
# had in 50 tries. The range is one no free-port.sh port falls in (those are 20000+) and no
# client socket takes (the kernel's ephemeral ports start at 32768).
claim_rtp_range() {
    local span=$1 rtp
    for _ in $(seq 1 50); do
        rtp=$((10000 + RANDOM % ((10000 - span) / 100 + 1) * 100))
        ss -Hlun "sport >= :$rtp and sport <= :$((rtp + span - 1))" 2>/dev/null | grep -q . && continue
        claim_blocks "$rtp" "$span" "$2" "$3" && echo "$rtp" && return 0
    done
    return 1
}

# release_claims LIST OWNER_PID: gives back the claims in LIST that OWNER_PID still holds.
release_claims() {
    local c
    [ -f "$1" ] || return 0
    while read -r c; do
        [ "$(cat "$claims_dir/$c/pid" 2>/dev/null)" = "$2" ] && rm -rf "${claims_dir:?}/$c"
    done <"$1"
}
