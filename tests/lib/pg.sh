#!/usr/bin/env bash
# An ephemeral PostgreSQL cluster for tests, benchmarks and the demo.
#   tests/lib/pg.sh start DIR    initdb (first time) + start on a free loopback port; prints
#                                'export PGHOST=127.0.0.1 PGPORT=N PGUSER=carillon PGDATABASE=carillon'
#                                (also written to DIR/pg.env); on a running DIR, prints it again
#   tests/lib/pg.sh stop DIR     fast shutdown (tolerant when not running or DIR is missing)
#   tests/lib/pg.sh restart DIR  fast shutdown then start, on the same port
#   tests/lib/pg.sh env DIR      the export line again
# Layout: DIR/pgdata (cluster), DIR/pgsock (unix socket), DIR/postgres.log, DIR/initdb.log,
# DIR/port, DIR/pg.env. PostgreSQL refuses to run as root: as root the cluster belongs to the
# postgres user. Debug-friendly: fsync and full_page_writes are off (never use for real data).
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }
usage() { echo "usage: tests/lib/pg.sh start|stop|restart|env DIR" >&2; exit 2; }

bindir=$(pg_config --bindir 2>/dev/null || true)
[ -x "$bindir/initdb" ] || bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/initdb" ] || die "PostgreSQL server binaries not found (apt-get install postgresql)"

as_root=false
[ "$(id -u)" = 0 ] && as_root=true
as_owner() {
    if $as_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd=${1:-}
dir=${2:-}
{ [ -n "$cmd" ] && [ -n "$dir" ]; } || usage
case "$cmd" in start | stop | restart | env) ;; *) usage ;; esac

if [ ! -d "$dir" ]; then
    case "$cmd" in
    start) mkdir -p "$dir" || die "cannot create $dir" ;;
    stop) exit 0 ;;
    *) die "no cluster in $dir" ;;
    esac
fi
dir=$(cd "$dir" && pwd)
data="$dir/pgdata"
sock="$dir/pgsock"
log="$dir/postgres.log"

# Something accepts connections on 127.0.0.1:$1 (bash's /dev/tcp; refused at once on loopback).
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12700)) # below the kernel's ephemeral ports (32768+): no client socket holds it
        port_busy "$p" || { echo "$p"; return 0; }
    done
    die "no free TCP port found on 127.0.0.1"
}

running() {
    [ -f "$data/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

write_env() {
    echo "export PGHOST=127.0.0.1 PGPORT=$(cat "$dir/port") PGUSER=carillon PGDATABASE=carillon" \
        >"$dir/pg.env"
}

print_env() {
    [ -f "$dir/pg.env" ] || { [ -f "$dir/port" ] && write_env; } || die "no cluster in $dir"
    cat "$dir/pg.env"
}

prepare_dirs() {
    mkdir -p "$sock"
    if $as_root; then
        # postgres must reach DIR (mkdtemp makes 0700 dirs; /root is 0700): open the path for
        # traversal only, and hand it DIR itself and the socket dir.
        local d="$dir"
        while [ "$d" != / ]; do
            chmod o+x "$d" 2>/dev/null || true
            d=$(dirname "$d")
        done
        chown postgres: "$dir" "$sock"
        if [ -d "$data" ] && [ "$(stat -c %U "$data")" != postgres ]; then chown -R postgres: "$data"; fi
    fi
    # The socket path (DIR/pgsock/.s.PGSQL.NNNNN) must fit in sun_path (107 bytes).
    [ $((${#sock} + 18)) -le 107 ] ||
        die "DIR is too long for a unix socket path ($sock): use a shorter DIR"
}

init_cluster() {
    [ -f "$data/PG_VERSION" ] && return 0
    # initdb removes what it made when it fails, so a second try with plain C starts clean.
    local loc
    for loc in C.UTF-8 C; do
        if as_owner "$bindir/initdb" -D "$data" -U carillon -A trust -E UTF8 --locale="$loc" \
            >"$dir/initdb.log" 2>&1; then
            return 0
        fi
    done
    die "initdb failed, see $dir/initdb.log ($(grep -m1 'initdb: error' "$dir/initdb.log" || true))"
}

# Starts the postmaster on $1; returns 1 when the port was taken under our feet.
start_on() {
    local port=$1 seen=0
    [ -f "$log" ] && seen=$(wc -l <"$log")
    if as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -o \
        "-p $port -k $sock -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200" \
        start >/dev/null 2>&1; then
        return 0
    fi
    # Only this attempt's lines: the log is kept across restarts.
    if tail -n +"$((seen + 1))" "$log" 2>/dev/null |
        grep -qE 'could not bind|Address already in use|could not create any TCP/IP sockets'; then
        return 1
    fi
    tail -20 "$log" >&2 || true
    die "PostgreSQL did not start, see $log"
}

wait_ready() {
    local port=$1
    for _ in $(seq 1 300); do
        "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U carillon -d postgres && return 0
        sleep 0.1
    done
    die "PostgreSQL on port $port not ready after 30 s, see $log"
}

start() {
    prepare_dirs
    init_cluster
    if running; then
        print_env
        return 0
    fi
    local port
    if [ -f "$dir/port" ]; then
        # A restart keeps its port, so clients reconnect to the same address.
        port=$(cat "$dir/port")
        ! port_busy "$port" || die "port $port (kept in $dir/port) is in use by another process"
        start_on "$port" || die "port $port (kept in $dir/port) is in use by another process"
    else
        local tries=0
        while :; do
            port=$(pick_port)
            start_on "$port" && break
            tries=$((tries + 1))
            [ "$tries" -lt 5 ] || die "no free port after 5 tries (last: $port), see $log"
        done
        echo "$port" >"$dir/port"
    fi
    wait_ready "$port"
    if ! as_owner "$bindir/psql" -h "$sock" -p "$port" -U carillon -d postgres -Atqc \
        "select 1 from pg_database where datname='carillon'" | grep -q 1; then
        as_owner "$bindir/createdb" -h "$sock" -p "$port" -U carillon -E UTF8 carillon ||
            die "createdb carillon failed (server log: $log)"
    fi
    write_env
    print_env
}

stop() {
    if running; then
        as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null ||
            die "PostgreSQL in $data did not stop, see $log"
    fi
}

case "$cmd" in
start) start ;;
stop) stop ;;
restart)
    [ -f "$data/PG_VERSION" ] || die "no cluster in $dir"
    stop
    start >/dev/null
    ;;
env) print_env ;;
esac
