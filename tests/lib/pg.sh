#!/usr/bin/env bash
# An ephemeral PostgreSQL cluster for tests, benchmarks and the demo.
#   tests/lib/pg.sh start DIR    initdb (first time) + start on a free loopback port; prints
#                                'export PGHOST=... PGPORT=... PGUSER=carillon PGDATABASE=carillon'
#                                (also written to DIR/pg.env)
#   tests/lib/pg.sh stop DIR     fast shutdown (tolerant when not running)
#   tests/lib/pg.sh restart DIR  same port
#   tests/lib/pg.sh env DIR      the export line again
# PostgreSQL refuses to run as root: as root the cluster belongs to the postgres user.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }
bindir=$(pg_config --bindir 2>/dev/null || true)
[ -x "$bindir/initdb" ] || bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/initdb" ] || die "PostgreSQL server binaries not found (apt-get install postgresql)"

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() { "$(dirname "$0")/free-port.sh"; }

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: tests/lib/pg.sh start|stop|restart|env DIR" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data="$dir/pgdata"
sock="$dir/pgsock"
log="$dir/postgres.log"

print_env() {
    [ -f "$dir/pg.env" ] || die "no cluster in $dir"
    cat "$dir/pg.env"
}

running() { [ -f "$data/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; }

start() {
    if [ "$(id -u)" = 0 ]; then
        # postgres must reach DIR: open the path for traversal, hand it the cluster dirs.
        d="$dir"
        while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
        mkdir -p "$sock"
        chown postgres: "$dir" "$sock"
    else
        mkdir -p "$sock"
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        as_owner "$bindir/initdb" -D "$data" -U carillon -A trust -E UTF8 --locale=C.UTF-8 \
            >"$dir/initdb.log" 2>&1 || die "initdb failed, see $dir/initdb.log"
    fi
    if running; then
        print_env
        return 0
    fi
    port=$(cat "$dir/port" 2>/dev/null || free_port)
    echo "$port" > "$dir/port"
    as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -o \
        "-p $port -k $sock -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200" \
        start >/dev/null || { tail -20 "$log" >&2; die "PostgreSQL did not start, see $log"; }
    if ! as_owner "$bindir/psql" -h "$sock" -p "$port" -U carillon -d postgres -Atqc \
        "select 1 from pg_database where datname='carillon'" | grep -q 1; then
        as_owner "$bindir/createdb" -h "$sock" -p "$port" -U carillon -E UTF8 carillon
    fi
    echo "export PGHOST=127.0.0.1 PGPORT=$port PGUSER=carillon PGDATABASE=carillon" > "$dir/pg.env"
    print_env
}

case "$cmd" in
start) start ;;
stop)
    if running; then as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null; fi
    ;;
restart)
    [ -f "$data/PG_VERSION" ] || die "no cluster in $dir"
    if running; then as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null; fi
    start >/dev/null
    ;;
env) print_env ;;
*) echo "usage: tests/lib/pg.sh start|stop|restart|env DIR" >&2; exit 2 ;;
esac
