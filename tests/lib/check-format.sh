#!/usr/bin/env bash
# Fails when a C source or header of ours is not formatted per .clang-format.
set -euo pipefail
cd "${CARILLON_SOURCE_DIR:-$(dirname "$0")/../..}"
bad=0
while IFS= read -r -d '' f; do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (run: clang-format -i $f)"
        bad=1
    fi
done < <(find libcommon server dialerd agentd tests -name build -prune -o \( -name '*.c' -o -name '*.h' \) -print0)
[ "$bad" = 0 ] && echo "all sources formatted"
exit "$bad"
