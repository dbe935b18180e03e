#!/usr/bin/env bash
# Installs the Debian packages Carillon needs (only when one is missing), then configures and
# builds into build/. Idempotent: with nothing to install it only runs an incremental build.
#   CI=1                     warnings become errors
#   CARILLON_BUILD_DIR=DIR   build somewhere else (default: build/)
#   CARILLON_CMAKE_ARGS="…"  extra cmake arguments
#   CARILLON_FUZZ=1          also install clang and libFuzzer (tests/fuzz/run.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

packages=(
    build-essential cmake pkg-config git ca-certificates openssl
    libuv1-dev libprotobuf-c-dev protobuf-c-compiler libpq-dev libssl-dev libsofia-sip-ua-dev
    libinih-dev libjansson-dev libcmocka-dev libcsv-dev libxlsxwriter-dev libyaml-dev libzip-dev libxml2-dev libphonenumber-dev
    postgresql postgresql-client sip-tester clang-format iproute2 procps util-linux unzip
    libncurses-dev libcairo2-dev fonts-dejavu-core poppler-utils tmux jq
    libspandsp-dev espeak-ng sox
)
# libFuzzer ships in compiler-rt: clang 14 (Debian 12's) finds it in libclang-rt-14-dev.
[ "${CARILLON_FUZZ:-}" = 1 ] && packages+=(clang libclang-rt-14-dev)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    aptlog=$(mktemp /tmp/carillon-apt-XXXXXX.log)
    if ! { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${missing[@]}"; } >"$aptlog" 2>&1; then
        tail -30 "$aptlog" >&2
        echo "bootstrap: apt-get failed (whole log: $aptlog)" >&2
        exit 1
    fi
    rm -f "$aptlog"
    # The postgresql package may have created and started a 'main' cluster: it is left alone,
    # tests and the demo run their own clusters on free ports (tests/lib/pg.sh).
    echo "bootstrap: installed ${#missing[@]} packages"
else
    echo "bootstrap: all ${#packages[@]} packages present, nothing to install"
fi

build=${CARILLON_BUILD_DIR:-$repo/build}
# Both options always given: a cached value from an earlier run (e.g. CI's) must not linger.
args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCARILLON_SANITIZE= -DCARILLON_WERROR=OFF)
[ -n "${CI:-}" ] && args+=(-DCARILLON_WERROR=ON)
# shellcheck disable=SC2206
[ -n "${CARILLON_CMAKE_ARGS:-}" ] && args+=(${CARILLON_CMAKE_ARGS})
cmake -S "$repo" -B "$build" "${args[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null || cmake --build "$build" -j1
echo "bootstrap: built into $build (${SECONDS}s)"
