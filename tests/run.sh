#!/usr/bin/env bash
# The whole test suite: bootstrap (packages + the plain build), then a build with
# AddressSanitizer and UndefinedBehaviorSanitizer in build-san/, then ctest there.
# Extra arguments go to ctest (e.g. ./tests/run.sh -L unit, ./tests/run.sh -R login).
# CI=1 (set by .ci/run) makes warnings errors. Exit status: ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
./deploy/bootstrap.sh

san=$repo/build-san
# shellcheck disable=SC2054 # the comma belongs to the value: address,undefined
args=(-DCMAKE_BUILD_TYPE=Debug -DCARILLON_SANITIZE=address,undefined -DCARILLON_WERROR=OFF -DCARILLON_TESTING=ON)
[ -n "${CI:-}" ] && args+=(-DCARILLON_WERROR=ON)
echo "tests/run.sh: building with ASan+UBSan into $san"
cmake -S "$repo" -B "$san" "${args[@]}" >/dev/null
# Quiet parallel build; on failure build again serially so the first error reads cleanly.
cmake --build "$san" -j"$(nproc)" >/dev/null || cmake --build "$san" -j1

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$san"
rc=0
ctest --output-on-failure -j2 --timeout 600 "$@" || rc=$?
echo "tests/run.sh: ctest exited $rc after ${SECONDS}s"
exit "$rc"
