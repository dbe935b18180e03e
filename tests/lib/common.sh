# Sourced by integration tests: the stack, waiting on conditions, and assertions that say what
# was expected and what came.
# shellcheck shell=bash
set -euo pipefail
CARILLON_SOURCE_DIR=${CARILLON_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CARILLON_BUILD_DIR=${CARILLON_BUILD_DIR:-$CARILLON_SOURCE_DIR/build}
export CARILLON_SOURCE_DIR CARILLON_BUILD_DIR
export PATH="$CARILLON_BUILD_DIR/bin:$PATH"
cd "$CARILLON_SOURCE_DIR"

_traps=()
_trap_failed=
_run_traps() {
    local rc=$? i
    for ((i = ${#_traps[@]} - 1; i >= 0; i--)); do eval "${_traps[$i]}" || true; done
    if [ "$rc" = 0 ] && [ -n "$_trap_failed" ]; then
        echo "FAIL: $_trap_failed" >&2
        rc=1
    fi
    exit $rc
}
trap _run_traps EXIT
# Interrupted or terminated: exit so the EXIT trap stops the stack.
trap 'exit 130' INT
trap 'exit 143' TERM
# Adds a command to run at exit (last added runs first), even when the test fails.
trap_add() { _traps+=("$1"); }

fail() {
    echo "FAIL: $*" >&2
    [ -n "${CARILLON_STACK_DIR:-}" ] && [ -f "$CARILLON_STACK_DIR/server.log" ] &&
        { echo "--- server.log (tail)" >&2; tail -30 "$CARILLON_STACK_DIR/server.log" >&2; }
    exit 1
}

# Starts the stack in a fresh directory and stops it at exit (kept with KEEP=1).
cr_stack_up() {
    local dir
    dir=$(mktemp -d /tmp/carillon-it-XXXXXX)
    trap_add "if [ -z \"\${KEEP:-}\" ]; then rm -rf '$dir'; else echo 'kept $dir' >&2; fi"
    # down fails on a sanitizer report in the server's log or a server that ignored SIGTERM
    trap_add "'$CARILLON_SOURCE_DIR/tests/lib/stack.sh' down '$dir' >/dev/null ||
        _trap_failed='tests/lib/stack.sh down: see its messages above'"
    "$CARILLON_SOURCE_DIR/tests/lib/stack.sh" up "$dir" "$@" >/dev/null ||
        fail "tests/lib/stack.sh up $dir $* failed (its messages are above; KEEP=1 keeps the directory)"
    # shellcheck disable=SC1091
    . "$dir/env.sh"
}

# Starts carillon-server again on the stack's config and waits for its new ready line.
cr_server_start() {
    "$CARILLON_SOURCE_DIR/tests/lib/stack.sh" start-server "$CARILLON_STACK_DIR" >/dev/null ||
        fail "server did not start again"
}

# wait_for_log FILE REGEX [TIMEOUT_S]: polls FILE until a line matches (grep -E).
wait_for_log() {
    local file=$1 regex=$2 timeout=${3:-20} start=$SECONDS
    until grep -qE -- "$regex" "$file" 2>/dev/null; do
        if [ $((SECONDS - start)) -ge "$timeout" ]; then
            echo "--- $file (tail)" >&2
            tail -20 "$file" >&2 || true
            fail "no line matching '$regex' in $file after ${timeout}s"
        fi
        sleep 0.05
    done
}

# Does PID still run? A zombie (exited, not yet reaped by whoever adopted it) does not.
pid_alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)
    [ "$state" != Z ] && [ -n "$state" ]
}

# wait_for_exit PID [TIMEOUT_S]: polls until PID has exited (zombies count as exited).
wait_for_exit() {
    local pid=$1 timeout=${2:-20} start=$SECONDS
    while pid_alive "$pid"; do
        [ $((SECONDS - start)) -ge "$timeout" ] && fail "process $pid still running after ${timeout}s"
        sleep 0.05
    done
}

assert_eq() {
    [ "$1" = "$2" ] || fail "expected '$1', got '$2'"
}

assert_contains() {
    case "$1" in
    *"$2"*) ;;
    *) fail "expected to find '$2' in: $1" ;;
    esac
}

assert_not_contains() {
    case "$1" in
    *"$2"*) fail "did not expect '$2' in: $1" ;;
    *) ;;
    esac
}

# assert_exit CODE CMD...: runs CMD (stdin passed through), checks its exit status; its stdout
# and stderr are left in $OUT and $ERR.
assert_exit() {
    local want=$1
    shift
    local o e rc=0
    o=$(mktemp)
    e=$(mktemp)
    "$@" >"$o" 2>"$e" || rc=$?
    OUT=$(cat "$o")
    ERR=$(cat "$e")
    rm -f "$o" "$e"
    [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want
stdout: $OUT
stderr: $ERR"
}
