#!/usr/bin/env bash
# Fuzzes one target with libFuzzer:  tests/fuzz/run.sh NAME MINUTES [libFuzzer options…]
# Builds every fuzz target with clang, libFuzzer, ASan and UBSan into build-fuzz/ (the whole
# tree is instrumented for coverage, not only the target), then runs fuzz_NAME for MINUTES
# minutes on 1 core over tests/fuzz/corpus/NAME, where new inputs are written. A crash is
# saved as build-fuzz/crash-* (replay: build-fuzz/tests/fuzz/fuzz_NAME FILE). Afterwards,
# keep the corpus small: tests/fuzz/run.sh NAME merge  (minimises it with -merge=1).
#   CARILLON_FUZZ_BUILD_DIR=DIR  build somewhere else (default: build-fuzz/)
# Needs clang and libclang-rt-14-dev: CARILLON_FUZZ=1 deploy/bootstrap.sh installs them.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
name=${1:?usage: tests/fuzz/run.sh NAME MINUTES|merge [libFuzzer options…]}
minutes=${2:?usage: tests/fuzz/run.sh NAME MINUTES|merge [libFuzzer options…]}
shift 2
corpus=$repo/tests/fuzz/corpus/$name
[ -f "$repo/tests/fuzz/fuzz_$name.c" ] || { echo "run.sh: no tests/fuzz/fuzz_$name.c" >&2; exit 2; }
command -v clang >/dev/null || { echo "run.sh: no clang (CARILLON_FUZZ=1 deploy/bootstrap.sh)" >&2; exit 2; }

build=${CARILLON_FUZZ_BUILD_DIR:-$repo/build-fuzz}
cmake -S "$repo" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCARILLON_FUZZ=ON -DCARILLON_SANITIZE=address,undefined -DCARILLON_WERROR=OFF \
    -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
cmake --build "$build" -j2 --target "fuzz_$name" >/dev/null
bin=$build/tests/fuzz/fuzz_$name
mkdir -p "$corpus"

if [ "$minutes" = merge ]; then
    # Keeps the inputs that together cover what the whole corpus covers (edges, not hit
    # counts: a smaller corpus). Named inputs (seeds, regressions) always stay; libFuzzer's
    # finds are named by their SHA-1.
    tmp=$(mktemp -d /tmp/carillon-fuzz-merge-XXXXXX)
    "$bin" -merge=1 -use_counters=0 "$@" "$tmp" "$corpus" 2>"$tmp.log" || { tail "$tmp.log" >&2; exit 1; }
    declare -A kept=()
    for f in "$corpus"/*; do
        h=$(sha1sum <"$f" | cut -c1-40)
        if ! [[ $(basename "$f") =~ ^[0-9a-f]{40}$ ]]; then
            continue
        elif [ ! -e "$tmp/$h" ]; then
            rm "$f"
        elif [ -z "${kept[$h]:-}" ]; then
            kept[$h]=$f
        elif [ "$(basename "${kept[$h]}")" = "$h" ]; then
            rm "${kept[$h]}" # a duplicate named by its hash: the named one stays
            kept[$h]=$f
        else
            rm "$f"
        fi
    done
    rm -rf "$tmp" "$tmp.log"
    echo "run.sh: $name corpus minimised to $(find "$corpus" -type f | wc -l) inputs"
    exit 0
fi

# Inputs of up to 64 KiB (xlsx needs room for a zip), 10 s per input, 2 GiB of RSS at most.
cd "$build"
exec "$bin" -max_total_time=$((minutes * 60)) -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$@" "$corpus"
