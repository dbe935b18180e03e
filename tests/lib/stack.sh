#!/usr/bin/env bash
# The local Carillon stack for tests, benchmarks, the demo and people trying it by hand
# (DESIGN.md §10): an ephemeral PostgreSQL, a CA and certificates, carillon-server on a free
# loopback port and an admin user.
#   tests/lib/stack.sh up DIR [--dialer] [--agentd] [--trunk URI]
#        starts what is not running yet; prints export lines (also in DIR/env.sh)
#        --dialer: carillon-dialerd (node dialer1, DIR/dialerd.conf, DIR/dialerd.log) linked to
#        the server and calling through --trunk URI (a sip: URI; required with --dialer);
#        STACK_DIALER_KEYS="k = v\n..." adds [dialer] keys (max_calls, abandon_message, ...)
#        --agentd: carillon-agentd (node agentd1, DIR/agentd.conf, DIR/agentd.log) linked to the
#        server; env.sh exports CARILLON_AGENTD (its listener) and CARILLON_CA;
#        STACK_AGENTD_KEYS="k = v\n..." adds [agentd] keys (max_clients, login_timeout, ...)
#   tests/lib/stack.sh agentd DIR NAME   starts one more carillon-agentd (DIR/NAME.conf,
#                                    DIR/NAME.log) and prints its listener HOST:PORT
#   tests/lib/stack.sh down DIR      stops all it started (tolerant of a half-started stack);
#                                    exit 1 if the server needed SIGKILL or its log holds an
#                                    ASan/UBSan report
#   tests/lib/stack.sh status DIR    exit 0 when everything runs, 3 when something is stopped
#   tests/lib/stack.sh start-server DIR   starts carillon-server again on DIR/server.conf
# Binaries come from $CARILLON_BUILD_DIR/bin (default: build/bin). Exit 1 on failure, 2 on usage.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${CARILLON_BUILD_DIR:-$repo/build}/bin
die() { echo "stack: $*" >&2; exit 1; }
usage() {
    [ $# -eq 0 ] || echo "stack: $*" >&2
    echo "usage: tests/lib/stack.sh up DIR [--dialer] [--agentd] [--trunk URI] | agentd DIR NAME | down DIR | status DIR | start-server DIR" >&2
    exit 2
}

# a port claimed for as long as this script runs: each daemon binds its own before 'up' ends
free_port() { CARILLON_CLAIM_OWNER=$$ "$here/free-port.sh"; }
# shellcheck source=tests/lib/claims.sh
. "$here/claims.sh"

# Is PID a live carillon-server? A pid file may outlive its process and the pid be reused; a
# zombie passes kill -0 but has an empty cmdline.
is_server() {
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qa carillon-server "/proc/$pid/cmdline" 2>/dev/null
}

# Waits until FILE has more than SKIP lines matching REGEX while PID lives, at most TIMEOUT s.
wait_ready() {
    local file=$1 regex=$2 skip=$3 pid=$4 timeout=$5 start=$SECONDS rc
    while :; do
        local n
        n=$(grep -cE -- "$regex" "$file" 2>/dev/null || true)
        [ "${n:-0}" -gt "$skip" ] && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null && rc=0 || rc=$?
            echo "--- $file (tail)" >&2
            tail -20 "$file" >&2
            die "the process $pid exited (status $rc) before it was ready"
        fi
        if [ $((SECONDS - start)) -ge "$timeout" ]; then
            echo "--- $file (tail)" >&2
            tail -20 "$file" >&2
            die "no ready line after ${timeout}s (log: $file)"
        fi
        sleep 0.1
    done
}

# Starts carillon-server on DIR/server.conf and waits for a new " ready " line. The server writes
# DIR/server.pid itself (and refuses a pid file naming a live process), so the pid started here
# goes to DIR/server.spawned, which lets 'down' stop a server that died before its pid file.
start_server() {
    local dir=$1
    local before
    # A stale pid file may name a zombie or a reused pid, which the server would take as busy.
    is_server "$(cat "$dir/server.pid" 2>/dev/null || true)" || rm -f "$dir/server.pid"
    before=$(grep -cE ' ready ' "$dir/server.log" 2>/dev/null || true)
    # setsid: the server outlives this script and a closed terminal does not send it SIGHUP.
    setsid "$bin/carillon-server" --config "$dir/server.conf" >>"$dir/server.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$dir/server.spawned"
    wait_ready "$dir/server.log" ' ready ' "${before:-0}" "$pid" 30
}

up() {
    local dir=$1
    shift
    local want_dialer='' want_agentd='' trunk=''
    while [ $# -gt 0 ]; do
        case "$1" in
        --dialer) want_dialer=1 ;;
        --agentd) want_agentd=1 ;;
        --trunk)
            [ $# -ge 2 ] || usage "--trunk needs a SIP URI"
            trunk=$2
            shift
            ;;
        *) usage "unknown option '$1'" ;;
        esac
        shift
    done
    [ -z "$trunk" ] || [ -n "$want_dialer" ] || usage "--trunk $trunk needs --dialer"
    [ -z "$want_dialer" ] || [ -n "$trunk" ] || usage "--dialer needs --trunk URI"
    [ -z "$want_dialer" ] || [ -x "$bin/carillon-dialerd" ] || die "no $bin/carillon-dialerd: build first"
    [ -z "$want_agentd" ] || [ -x "$bin/carillon-agentd" ] || die "no $bin/carillon-agentd: build first"
    [ -x "$bin/carillon-server" ] || die "no $bin/carillon-server: build first (deploy/bootstrap.sh)"

    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    # From here on a failure leaves some processes running: say how to stop them.
    trap 'rc=$?; [ $rc = 0 ] || echo "stack: up failed; stop what started with: tests/lib/stack.sh down $dir" >&2' EXIT

    local pgenv
    pgenv=$("$here/pg.sh" start "$dir/pg") || die "PostgreSQL did not start (see $dir/pg/postgres.log)"
    eval "$pgenv"
    [ -f "$dir/pki/ca.pem" ] || "$repo/deploy/pki.sh" ca "$dir/pki" >/dev/null
    [ -f "$dir/pki/server1.pem" ] || "$repo/deploy/pki.sh" node "$dir/pki" server server1 \
        "DNS:localhost,IP:127.0.0.1" >/dev/null
    mkdir -p "$dir/ctl"
    chmod 700 "$dir/ctl"
    if [ ! -f "$dir/server.conf" ]; then
        local port
        port=$(free_port)
        cat >"$dir/server.conf" <<CONF
; written by tests/lib/stack.sh
[server]
listen = 127.0.0.1:$port
node_name = server1
pid_file = $dir/server.pid

[tls]
ca = $dir/pki/ca.pem
cert = $dir/pki/server1.pem
key = $dir/pki/server1.key

[database]
conninfo = "host=127.0.0.1 port=$PGPORT dbname=carillon user=carillon"
migrations_dir = $repo/server/db/migrations

[log]
level = info

[auth]
; fast password hashing: tests log in a lot
scrypt_log_n = 12
CONF
    fi

    local password
    if [ -f "$dir/admin.password" ]; then
        password=$(cat "$dir/admin.password")
    else
        password=$(openssl rand -hex 12)
        echo "$password" | "$bin/carillon-server" --config "$dir/server.conf" --init-admin admin \
            >>"$dir/init-admin.log" 2>&1 || { cat "$dir/init-admin.log" >&2; die "carillon-server --init-admin admin failed"; }
        (umask 077 && echo "$password" >"$dir/admin.password")
    fi

    is_server "$(cat "$dir/server.pid" 2>/dev/null || true)" || start_server "$dir"

    local listen
    listen=$(sed -n 's/^listen = //p' "$dir/server.conf")
    (umask 077 && cat >"$dir/env.sh" <<ENV)
export CARILLON_SERVER=$listen
export CARILLON_CA=$dir/pki/ca.pem
# carillonctl's --timeout default: 10 s is too short when a busy machine stalls for seconds
export CARILLON_TIMEOUT=60
export CARILLON_USER=admin
export CARILLON_PASSWORD=$password
export CARILLON_CONFIG_DIR=$dir/ctl
export CARILLON_STACK_DIR=$dir
$pgenv
ENV
    [ -z "$want_dialer" ] || start_dialer "$dir" "$trunk"
    if [ -n "$want_agentd" ]; then
        start_agentd "$dir" agentd1 >/dev/null
        (umask 077 && echo "export CARILLON_AGENTD=$(sed -n 's/^listen = //p' "$dir/agentd.conf")" >>"$dir/env.sh")
    fi
    cat "$dir/env.sh"
}

# Starts carillon-agentd NAME against the stack's server (agentd1: DIR/agentd.conf and
# DIR/agentd.log, others DIR/NAME.conf and DIR/NAME.log), waits until its server link is up and
# prints its listener address.
start_agentd() {
    local dir=$1 name=$2 conf log before port
    [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$ ]] || die "bad agentd name '$name'"
    if [ "$name" = agentd1 ]; then conf=$dir/agentd.conf log=$dir/agentd.log; else conf=$dir/$name.conf log=$dir/$name.log; fi
    if ! is_pid_of "$(cat "$dir/agentd-$name.pid" 2>/dev/null || true)" carillon-agentd; then
        [ -f "$dir/pki/$name.pem" ] || "$repo/deploy/pki.sh" node "$dir/pki" agentd "$name" >/dev/null
        [ -f "$dir/pki/$name-listen.pem" ] || "$repo/deploy/pki.sh" listener "$dir/pki" "$name-listen" \
            "DNS:localhost,IP:127.0.0.1" >/dev/null
        [ -f "$conf" ] || {
            port=$(free_port)
            echo "; written by tests/lib/stack.sh"
            echo "[agentd]"
            echo "node_name = $name"
            echo "listen = 127.0.0.1:$port"
            echo "cert = $dir/pki/$name.pem"
            echo "key = $dir/pki/$name.key"
            echo "ca = $dir/pki/ca.pem"
            echo "client_cert = $dir/pki/$name-listen.pem"
            echo "client_key = $dir/pki/$name-listen.key"
            printf '%b\n' "${STACK_AGENTD_KEYS:-}"
            echo "[server]"
            echo "address = $(sed -n 's/^listen = //p' "$dir/server.conf")"
        } >"$conf"
        before=$(grep -cE 'server_connected' "$log" 2>/dev/null || true)
        setsid "$bin/carillon-agentd" --config "$conf" >>"$log" 2>&1 </dev/null &
        echo $! >"$dir/agentd-$name.pid"
        wait_ready "$log" 'server_connected' "${before:-0}" "$!" 30
    fi
    sed -n 's/^listen = //p' "$conf"
}

is_pid_of() { # PID NAME
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null && grep -qa "$2" "/proc/$1/cmdline" 2>/dev/null
}

# Starts carillon-dialerd (node dialer1) against the stack's server, calling through TRUNK, and
# waits until the server has resumed its link.
start_dialer() {
    local dir=$1 trunk=$2 rtp='' sip before c
    is_pid_of "$(cat "$dir/dialerd.pid" 2>/dev/null || true)" carillon-dialerd && return 0
    [ -f "$dir/pki/dialer1.pem" ] || "$repo/deploy/pki.sh" node "$dir/pki" dialer dialer1 >/dev/null
    # RTP: 200 ports of 10000-19999 that nothing holds, claimed (tests/lib/claims.sh) so that no
    # dialer of a test running alongside chooses them before this one binds them. The claims are
    # the running dialerd's (a dialerd started again keeps its config's range and takes them
    # over), and 'down' gives them back.
    [ -f "$dir/dialerd.conf" ] ||
        rtp=$(claim_rtp_range 200 $$ "$dir/rtp-claims") || die "no free RTP port range of 200"
    sip=$(free_port)
    [ -f "$dir/dialerd.conf" ] || {
        echo "; written by tests/lib/stack.sh"
        echo "[dialer]"
        echo "node_name = dialer1"
        echo "sip_address = 127.0.0.1"
        echo "sip_port = $sip"
        echo "rtp_port_min = $rtp"
        echo "rtp_port_max = $((rtp + 199))"
        printf '%b\n' "${STACK_DIALER_KEYS:-}"
        echo "[trunk]"
        echo "uri = $trunk"
        echo "[server]"
        echo "address = $(sed -n 's/^listen = //p' "$dir/server.conf")"
        echo "tls_ca = $dir/pki/ca.pem"
        echo "tls_cert = $dir/pki/dialer1.pem"
        echo "tls_key = $dir/pki/dialer1.key"
    } >"$dir/dialerd.conf"
    before=$(grep -cE 'dialer_resumed node=dialer1' "$dir/server.log" 2>/dev/null || true)
    setsid "$bin/carillon-dialerd" --config "$dir/dialerd.conf" >>"$dir/dialerd.log" 2>&1 </dev/null &
    echo $! >"$dir/dialerd.pid"
    [ ! -f "$dir/rtp-claims" ] || while read -r c; do echo $! >"$claims_dir/$c/pid"; done <"$dir/rtp-claims"
    wait_ready "$dir/server.log" 'dialer_resumed node=dialer1' "${before:-0}" "$!" 30
}

# SIGTERM, up to 10 s for a clean exit, then SIGKILL (and return 1: a server must stop on TERM).
stop_server_pid() {
    local pid=$1
    is_server "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        is_server "$pid" || return 0
        sleep 0.1
    done
    echo "stack: carillon-server $pid ignored SIGTERM for 10s, killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    return 1
}

# A sanitized build (tests/run.sh) reports leaks and errors on the daemons' stderr, which goes to
# their logs, not to any test: 'down' prints such reports and fails so the test fails.
sanitizer_reports() {
    local dir=$1 rc=0 f
    for f in "$dir/server.log" "$dir/init-admin.log" "$dir/dialerd.log" "$dir"/agentd*.log; do
        [ -f "$f" ] || continue
        if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: ' "$f"; then
            echo "stack: sanitizer report in $f:" >&2
            grep -m1 -A40 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: ' "$f" >&2
            rc=1
        fi
    done
    return $rc
}

down() {
    local dir=$1 rc=0
    [ -d "$dir" ] || return 0
    local f p
    if [ -f "$dir/dialerd.pid" ]; then
        p=$(cat "$dir/dialerd.pid" 2>/dev/null || true)
        if is_pid_of "$p" carillon-dialerd; then
            kill -TERM "$p" 2>/dev/null || true
            for _ in $(seq 1 100); do is_pid_of "$p" carillon-dialerd || break; sleep 0.1; done
            is_pid_of "$p" carillon-dialerd && { kill -KILL "$p" 2>/dev/null; rc=1; }
        fi
        release_claims "$dir/rtp-claims" "$p"
        rm -f "$dir/dialerd.pid" "$dir/rtp-claims"
    fi
    for f in "$dir"/agentd-*.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f" 2>/dev/null || true)
        if is_pid_of "$p" carillon-agentd; then
            kill -TERM "$p" 2>/dev/null || true
            for _ in $(seq 1 100); do is_pid_of "$p" carillon-agentd || break; sleep 0.1; done
            is_pid_of "$p" carillon-agentd && { kill -KILL "$p" 2>/dev/null; rc=1; }
        fi
        rm -f "$f"
    done
    for f in server.pid server.spawned; do
        [ -f "$dir/$f" ] || continue
        stop_server_pid "$(cat "$dir/$f" 2>/dev/null || true)" || rc=1
        rm -f "${dir:?}/$f"
    done
    if [ -d "$dir/pg" ]; then
        "$here/pg.sh" stop "$dir/pg" || { echo "stack: PostgreSQL in $dir/pg did not stop cleanly" >&2; rc=1; }
    fi
    sanitizer_reports "$dir" || rc=1
    return $rc
}

status() {
    local dir=$1 rc=0
    [ -d "$dir" ] || { echo "stack: no stack in $dir"; return 3; }
    local pid
    pid=$(cat "$dir/server.pid" 2>/dev/null || true)
    if is_server "$pid"; then
        echo "carillon-server: running (pid $pid, $(sed -n 's/^listen = //p' "$dir/server.conf"))"
    else
        echo "carillon-server: stopped"
        rc=3
    fi
    if [ -f "$dir/pg/pgdata/postmaster.pid" ] && kill -0 "$(head -1 "$dir/pg/pgdata/postmaster.pid")" 2>/dev/null; then
        echo "postgresql: running (pid $(head -1 "$dir/pg/pgdata/postmaster.pid"), port $(cat "$dir/pg/port" 2>/dev/null))"
    else
        echo "postgresql: stopped"
        rc=3
    fi
    return $rc
}

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then usage; fi
shift 2
case "$cmd" in
up) up "$dir" "$@" ;;
down) down "$dir" ;;
agentd)
    [ $# -eq 1 ] || usage "agentd DIR NAME"
    [ -f "$dir/server.conf" ] || die "no $dir/server.conf (run: tests/lib/stack.sh up $dir)"
    [ -x "$bin/carillon-agentd" ] || die "no $bin/carillon-agentd: build first"
    start_agentd "$(cd "$dir" && pwd)" "$1"
    ;;
status) status "$dir" ;;
start-server)
    [ -f "$dir/server.conf" ] || die "no $dir/server.conf (run: tests/lib/stack.sh up $dir)"
    start_server "$(cd "$dir" && pwd)"
    ;;
*) usage "unknown command '$cmd'" ;;
esac
