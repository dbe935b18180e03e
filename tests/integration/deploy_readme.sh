#!/usr/bin/env bash
# The README's walkthrough runs as written: the ```sh blocks marked <!-- walkthrough --> are
# taken in order and run with bash -euo pipefail from the repository's root, the stack included
# (tests/lib/stack.sh up and down, as the README says); any line that fails fails the test. Only
# two things are rewritten: $PWD/build/bin becomes the build under test (and stack.sh is given
# it as CARILLON_BUILD_DIR), /tmp/carillon a fresh directory. Every ```sh block of the README is
# also checked for reference notation that does not run (a|b alternatives, [optional]
# brackets, "...") and must parse.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
readme=$CARILLON_SOURCE_DIR/README.md

# Reference notation inside a shell block: `| ` pipes are fine, `a|b` between words is not.
# Lines are numbered as in README.md.
bad=$(awk '/^```sh/ { inblock = 1; next } /^```/ { inblock = 0 }
    inblock && /(^|[^ ])\.\.\.|[ =]\[-|[A-Za-z0-9_]\|[A-Za-z@-]/ { print NR ": " $0 }' "$readme")
[ -z "$bad" ] || fail "README.md: shell blocks with notation that does not run (alternatives, [options], ...):
$bad"
# Every shell block parses.
awk '/^```sh/ { inblock = 1; next } /^```/ { inblock = 0 } inblock' "$readme" | bash -n ||
    fail "README.md: a shell block does not parse (bash -n above)"

# The walkthrough, in order. A marker must be followed by a ```sh fence.
dir=$(mktemp -d /tmp/carillon-readme-XXXXXX)
trap_add "if [ -z \"\${KEEP:-}\" ]; then rm -rf '$dir'; else echo 'kept $dir' >&2; fi"
# Stops the stack if the walkthrough failed before its last line; tolerant of a stopped one.
trap_add "'$CARILLON_SOURCE_DIR/tests/lib/stack.sh' down '$dir/stack' >/dev/null 2>&1 || true"
awk -v out="$dir/walkthrough.sh" '
    marker && !/^```sh[[:space:]]*$/ { print "line " NR ": <!-- walkthrough --> is not followed by a ```sh fence"; exit 1 }
    marker { marker = 0; inblock = 1; blocks++; printf "\n# README.md line %d\n", NR + 1 > out; next }
    /^<!-- walkthrough -->[[:space:]]*$/ { marker = 1; next }
    inblock && /^```/ { inblock = 0; next }
    inblock { print > out }
    END { if (inblock) { print "an unterminated walkthrough block"; exit 1 } print blocks }' "$readme" >"$dir/blocks" ||
    fail "README.md: $(cat "$dir/blocks")"
blocks=$(cat "$dir/blocks")
[ "$blocks" -ge 6 ] || fail "README.md has $blocks walkthrough blocks, expected at least 6"
grep -qE '^export PATH="\$PWD/build/bin:\$PATH"' "$dir/walkthrough.sh" ||
    fail "the walkthrough does not put build/bin first in PATH"
grep -qE '^tests/lib/stack\.sh up /tmp/carillon( |$)' "$dir/walkthrough.sh" ||
    fail "the walkthrough does not start its stack in /tmp/carillon"
grep -qE '^tests/lib/stack\.sh down /tmp/carillon( |$)' "$dir/walkthrough.sh" ||
    fail "the walkthrough does not stop its stack"

# The build under test for build/, a fresh directory for /tmp/carillon.
sed -e "s#\$PWD/build/bin#$CARILLON_BUILD_DIR/bin#g" -e "s#/tmp/carillon\\b#$dir/stack#g" \
    "$dir/walkthrough.sh" >"$dir/run.sh"

# A fresh shell: no stack of ours in the environment, and the build's binaries found only
# through the README's own PATH line.
path=$(tr ':' '\n' <<<"$PATH" | grep -vxF "$CARILLON_BUILD_DIR/bin" | paste -sd: -)
start=$SECONDS
rc=0
env -u CARILLON_SERVER -u CARILLON_CA -u CARILLON_USER -u CARILLON_PASSWORD -u CARILLON_CONFIG_DIR \
    -u CARILLON_STACK_DIR -u CARILLON_AGENTD -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE \
    PATH="$path" CARILLON_BUILD_DIR="$CARILLON_BUILD_DIR" \
    bash -euo pipefail -c '
        trap '\''echo "walkthrough: exit $? at line $LINENO: $BASH_COMMAND" >&2'\'' ERR
        . "$1"' walkthrough "$dir/run.sh" >"$dir/out" 2>"$dir/err" </dev/null || rc=$?
if [ "$rc" != 0 ]; then
    # The README's line: the block's first line (its "# README.md line N" comment) plus the offset.
    at=$(sed -n 's/^walkthrough: exit [0-9]* at line \([0-9]*\):.*/\1/p' "$dir/err" | tail -1)
    where=
    if [ -n "$at" ]; then
        where=$(awk -v at="$at" '/^# README.md line / { base = $4; from = NR }
            NR == at { print "README.md line " base + (NR - from - 1) ": " $0; exit }' "$dir/run.sh")
    fi
    echo "--- stdout (tail)" >&2
    tail -30 "$dir/out" >&2
    echo "--- stderr" >&2
    tail -30 "$dir/err" >&2
    [ -f "$dir/stack/server.log" ] && { echo "--- server.log (tail)" >&2; tail -20 "$dir/stack/server.log" >&2; }
    fail "the README walkthrough failed (exit $rc) after $((SECONDS - start)) s${where:+ at $where}; the script run: $dir/run.sh (KEEP=1 keeps it)"
fi
echo "walkthrough: $blocks blocks, $(grep -cvE '^[[:space:]]*(#|$)' "$dir/run.sh") lines, $((SECONDS - start)) s"

# It did what the README says it does, and left nothing running.
assert_contains "$(cat "$dir/out")" "user helene added"
assert_contains "$(cat "$dir/out")" "campaign Fibre Île-de-France 2027 created"
assert_contains "$(cat "$dir/out")" "6 rows: 5 imported"
assert_contains "$(cat "$dir/out")" "contact 6 created"
[ -s "$dir/stack/contacts.xlsx" ] || fail "no contacts.xlsx from the walkthrough's export"
grep -q 'Lemaître;Anaïs' "$dir/stack/contacts.csv" || fail "the export lacks the contact added by hand: $(cat "$dir/stack/contacts.csv")"
assert_exit 3 tests/lib/stack.sh status "$dir/stack"
