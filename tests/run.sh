#!/usr/bin/env bash
# The whole test suite: bootstrap (packages + the plain build), then a build with
# AddressSanitizer and UndefinedBehaviorSanitizer in build-san/, then ctest there.
# Extra arguments go to ctest (e.g. ./tests/run.sh -L unit, ./tests/run.sh -R login).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
./deploy/bootstrap.sh

san=$repo/build-san
args=(-DCMAKE_BUILD_TYPE=Debug -DCARILLON_SANITIZE=address,undefined)
[ -n "${CI:-}" ] && args+=(-DCARILLON_WERROR=ON)
cmake -S "$repo" -B "$san" "${args[@]}" >/dev/null
cmake --build "$san" -j"$(nproc)" >/dev/null || cmake --build "$san" -j1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$san"
ctest --output-on-failure -j2 --timeout 600 "$@"
