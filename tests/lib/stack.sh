#!/usr/bin/env bash
# The local Carillon stack for tests, benchmarks, the demo and people trying it by hand
# (DESIGN.md §10): an ephemeral PostgreSQL, a CA and certificates, carillon-server on a free
# loopback port and an admin user.
#   tests/lib/stack.sh up DIR [--dialer] [--agentd] [--trunk URI]   prints export lines (DIR/env.sh)
#   tests/lib/stack.sh down DIR                                     stops all it started
#   tests/lib/stack.sh status DIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${CARILLON_BUILD_DIR:-$repo/build}/bin
die() { echo "stack: $*" >&2; exit 1; }

free_port() { "$here/free-port.sh"; }

# Waits until FILE has more than SKIP lines matching REGEX, the process PID lives, TIMEOUT s.
wait_ready() {
    local file=$1 regex=$2 skip=$3 pid=$4 timeout=$5 start=$SECONDS
    while :; do
        local n
        n=$(grep -cE "$regex" "$file" 2>/dev/null || true)
        [ "${n:-0}" -gt "$skip" ] && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -20 "$file" >&2
            die "the process $pid exited before it was ready (log: $file)"
        fi
        if [ $((SECONDS - start)) -ge "$timeout" ]; then
            tail -20 "$file" >&2
            die "not ready after ${timeout}s (log: $file)"
        fi
        sleep 0.1
    done
}

# Starts carillon-server on DIR/server.conf and waits for a new "ready" line.
start_server() {
    local dir=$1
    local before
    before=$(grep -cE ' ready ' "$dir/server.log" 2>/dev/null || true)
    "$bin/carillon-server" --config "$dir/server.conf" >>"$dir/server.log" 2>&1 &
    local pid=$!
    wait_ready "$dir/server.log" ' ready ' "${before:-0}" "$pid" 30
}

up() {
    local dir=$1
    shift
    while [ $# -gt 0 ]; do
        case "$1" in
        --dialer | --agentd)
            local what=${1#--}
            [ -x "$bin/carillon-$what" ] || die "--$what: carillon-$what is not built yet (it comes with its issue)"
            die "--$what: not wired into the stack yet"
            ;;
        --trunk) shift ;;
        *) die "unknown option '$1'" ;;
        esac
        shift
    done
    [ -x "$bin/carillon-server" ] || die "no $bin/carillon-server: build first (deploy/bootstrap.sh)"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    local pgenv
    pgenv=$("$here/pg.sh" start "$dir/pg")
    eval "$pgenv"
    "$repo/deploy/pki.sh" ca "$dir/pki" >/dev/null
    [ -f "$dir/pki/server1.pem" ] || "$repo/deploy/pki.sh" node "$dir/pki" server server1 >/dev/null
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
scrypt_log_n = 12
CONF
    fi
    local password
    if [ -f "$dir/admin.password" ]; then
        password=$(cat "$dir/admin.password")
    else
        password=$(openssl rand -hex 12)
        (umask 077 && echo "$password" >"$dir/admin.password")
        echo "$password" | "$bin/carillon-server" --config "$dir/server.conf" --init-admin admin \
            >>"$dir/init-admin.log" 2>&1 || { cat "$dir/init-admin.log" >&2; die "--init-admin failed"; }
    fi
    if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
        :
    else
        start_server "$dir"
    fi
    local listen
    listen=$(sed -n 's/^listen = //p' "$dir/server.conf")
    cat >"$dir/env.sh" <<ENV
export CARILLON_SERVER=$listen
export CARILLON_CA=$dir/pki/ca.pem
export CARILLON_USER=admin
export CARILLON_PASSWORD=$password
export CARILLON_CONFIG_DIR=$dir/ctl
export CARILLON_STACK_DIR=$dir
$pgenv
ENV
    cat "$dir/env.sh"
}

stop_pid() {
    local pidfile=$1
    [ -f "$pidfile" ] || return 0
    local pid
    pid=$(cat "$pidfile")
    if kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

down() {
    local dir=$1
    [ -d "$dir" ] || return 0
    stop_pid "$dir/server.pid"
    [ -d "$dir/pg" ] && "$here/pg.sh" stop "$dir/pg" || true
}

status() {
    local dir=$1
    if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
        echo "carillon-server: running (pid $(cat "$dir/server.pid"))"
    else
        echo "carillon-server: stopped"
    fi
    if [ -f "$dir/pg/pgdata/postmaster.pid" ]; then echo "postgresql: running"; else echo "postgresql: stopped"; fi
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: tests/lib/stack.sh up|down|status|start-server DIR [options]" >&2; exit 2; }
shift 2
case "$cmd" in
up) up "$dir" "$@" ;;
down) down "$dir" ;;
status) status "$dir" ;;
start-server) start_server "$(cd "$dir" && pwd)" ;;
*) echo "usage: tests/lib/stack.sh up|down|status|start-server DIR" >&2; exit 2 ;;
esac
