#!/usr/bin/env bash
# carillonctl's help and its dispatcher come from one table: every command the help names runs
# through the dispatcher (CMD --help answers with that command's synopsis), the text help and
# the JSON help list the same commands, every carillonctl command used in the README, the demo
# and the tests is in the help, and a usage error names the wrong or missing argument and shows
# the synopsis. No server is needed: usage is checked before connecting.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
work=$(mktemp -d)
trap_add "rm -rf '$work'"
unset CARILLON_SERVER CARILLON_CA

assert_exit 0 carillonctl help
help=$OUT
assert_contains "$help" "usage: carillonctl [GLOBAL OPTIONS] COMMAND [ARGUMENTS]"
assert_contains "$help" "times: shown in your local zone"
# the command lines of the overview: "  NAME [ARGS]" where NAME is one or two lower-case words
printf '%s\n' "$help" | sed '/^global options/,$d' | sed -n 's/^  \([a-z][a-z-]*\)\( [a-z][a-z-]*\)\{0,1\}\( .*\)\{0,1\}$/\1\2/p' |
    sed 's/ *$//' | sort -u > "$work/text"
assert_exit 0 carillonctl --json help
printf '%s\n' "$OUT" | jq -r '.commands[].name' | sort -u > "$work/json"
diff "$work/text" "$work/json" || fail "the text help and the command table list different commands"
n=$(wc -l < "$work/json")
[ "$n" -ge 60 ] || fail "only $n commands in the help"

# the commands the issue found missing from the help are there
for c in "list import" "list show" "list set" "filter save" "contact modify" "blacklist remove" \
         "campaign create" "campaign set" "blacklist list" "contact columns"; do
    grep -qx "$c" "$work/json" || fail "help does not list '$c'"
done

# every command: help CMD and CMD --help (through the dispatcher) give its synopsis, options
# and example
while read -r cmd; do
    # shellcheck disable=SC2086
    assert_exit 0 carillonctl help $cmd
    assert_contains "$OUT" "usage: carillonctl $cmd"
    assert_contains "$OUT" "example:"
    want=$OUT
    # shellcheck disable=SC2086
    assert_exit 0 carillonctl $cmd --help
    [ "$OUT" = "$want" ] || fail "'$cmd --help' differs from 'help $cmd'"
done < "$work/json"

# every carillonctl command used in the README, the demo and the tests is one the help knows
# (commands: at a line's start, after '; ', '| ', a backquote or '$(', or after an assert_exit N)
grep -ohE "(^ *|; |\| |\`|\\\$\(|assert_exit [013] )carillonctl( --(json|utc)| --(server|ca|timeout) [^ ]+)* [a-z][a-z-]*( [a-z][a-z-]*)?" \
    "$CARILLON_SOURCE_DIR/README.md" "$CARILLON_SOURCE_DIR"/deploy/*.sh \
    $(ls "$CARILLON_SOURCE_DIR"/tests/integration/*.sh | grep -v config_help) "$CARILLON_SOURCE_DIR"/tests/e2e/*.sh |
    sed -E 's/^.*carillonctl( --(json|utc)| --(server|ca|timeout) [^ ]+)* //' | sort -u > "$work/used"
while read -r words; do
    first=${words%% *}
    # the command itself, or a one-word command followed by an argument, or a family's word
    # followed by something the pattern cut (a quoted argument)
    if grep -qx "$words" "$work/json" || grep -qx "$first" "$work/json"; then continue; fi
    if [ "$words" = "$first" ] && grep -q "^$first " "$work/json"; then continue; fi
    case $first in
        # (words after "carillonctl" in prose: "carillonctl is", "carillonctl and" ...)
        is|and|or|the|on|as|to|with|from|for|commands|binary|reads|prints|exits|runs|talks|uses|gets|keeps|asks|command|session|exit|logs|writes) continue ;;
    esac
    fail "'carillonctl $words' is used but the help does not know '$first'"
done < "$work/used"

# a group word alone lists its subcommands; a wrong one says which and lists them
assert_exit 0 carillonctl help contact
assert_contains "$OUT" "carillonctl contact modify"
assert_exit 2 carillonctl contact frobnicate
assert_contains "$ERR" "contact has no subcommand 'frobnicate' (it has: add, list,"
assert_exit 2 carillonctl frobnicate
assert_contains "$ERR" "unknown command 'frobnicate'"
assert_exit 2 carillonctl help frobnicate
assert_contains "$ERR" "no command 'frobnicate'"

# usage errors name the argument and show the synopsis (the issue's three cases)
assert_exit 2 carillonctl campaign state Fibre
assert_contains "$ERR" "campaign state: missing draft|ready|running|paused|stopped|finished"
assert_contains "$ERR" "usage: carillonctl campaign state NAME draft|ready|running|paused|stopped|finished"
assert_exit 2 carillonctl question choices Fibre
assert_contains "$ERR" "question choices: missing EXPORT_NAME"
assert_contains "$ERR" "usage: carillonctl question choices CAMPAIGN EXPORT_NAME --bulk CHOICES"
assert_exit 2 carillonctl question choices Fibre age --file x.txt
assert_contains "$ERR" "expected --bulk where '--file' is"
assert_exit 2 carillonctl question duplicate Fibre age
assert_contains "$ERR" "question duplicate: missing NEW_EXPORT_NAME"
assert_exit 2 carillonctl question duplicate Fibre age a b
assert_contains "$ERR" "unexpected argument 'b'"
assert_exit 2 carillonctl --json question duplicate Fibre
[ "$(printf '%s' "$OUT" | jq -r .error.code)" = INVALID_ARGUMENT ] || fail "JSON usage error: $OUT"
assert_contains "$(printf '%s' "$OUT" | jq -r .error.message)" "missing EXPORT_NAME"
# with the arguments right, the next check is the server's address
assert_exit 2 carillonctl campaign state Fibre running
assert_contains "$ERR" "no server"
echo "config_help: ok ($n commands)"

# --json works for every command: each command's own example, run with --json on a stack with
# the example campaign, prints exactly one JSON object on stdout, whatever its exit code
# (errors are JSON too), and nothing on stderr but the progress of long transfers.
cr_stack_up
chmod 755 "$work"
cd "$work"
cp "$CARILLON_SOURCE_DIR/deploy/examples/campaign-fibre.yaml" campaign.yaml
printf 'Nom;Prénom;Tel1\nDupré;Hélène;0612345678\n' > clients.csv
printf 'ADSL\nFibre\n' > fournisseurs.txt
printf '0612345679\n' > bloctel.txt
PASSWORD=pass-word-1
export PASSWORD
assert_exit 0 carillonctl campaign create 'Énergie-2026'
assert_exit 0 carillonctl campaign create 'Essai'
jq -r '.commands[] | select(.name != "help") | .example' <<<"$(carillonctl --json help)" > examples
while IFS= read -r ex; do
    case $ex in *'>'*) continue ;; esac
    out=$(timeout 20 bash -c "${ex/carillonctl/carillonctl --json} </dev/null" 2>"$work/stderr") || true
    n=$(printf '%s' "$out" | jq -s 'length' 2>/dev/null) || fail "'$ex --json' printed no JSON: $out"
    [ "$n" = 1 ] || fail "'$ex --json' printed $n JSON values: $out"
    [ "$(printf '%s' "$out" | jq -r 'type')" = object ] || fail "'$ex --json' printed no object: $out"
done < examples
echo "config_help: --json checked on every command's example"
