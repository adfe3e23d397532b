#!/usr/bin/env bash
# pg.sh: a throwaway PostgreSQL 15 cluster for development and tests.
#
#   tools/pg.sh start <datadir> <port>   initialise (if needed) and start; waits until ready
#   tools/pg.sh stop <datadir>           fast shutdown; no-op when not running
#   tools/pg.sh url <datadir> <port> [dbname]   print postgresql://postgres@127.0.0.1:PORT/DB
#   tools/pg.sh freeport                 print a free TCP port on 127.0.0.1
#
# The cluster listens on 127.0.0.1 only, keeps its socket inside the data directory,
# trusts every local connection and runs with fsync off: never put real data in it.
# Only errors are printed. Run as root, the server runs as the `postgres` OS user.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=postgres

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

usage() {
    die "usage: pg.sh start <datadir> <port> | stop <datadir> | url <datadir> <port> [dbname] | freeport"
}

check_port() {
    [[ $1 =~ ^[0-9]{1,5}$ ]] && (($1 >= 1 && $1 <= 65535)) || die "bad port: $1"
}

# Run a command as the cluster owner: postgres when we are root, ourselves otherwise.
as_owner() {
    if [[ $(id -u) == 0 ]]; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

abs_dir() {
    mkdir -p -- "$1" || die "cannot create $1"
    (cd -- "$1" && pwd -P)
}

is_running() {
    [[ -f $1/PG_VERSION ]] && as_owner "$PG_BIN/pg_ctl" status -D "$1" >/dev/null 2>&1
}

# The port a running cluster listens on (line 4 of postmaster.pid).
running_port() {
    sed -n 4p "$1/postmaster.pid" 2>/dev/null || true
}

init_cluster() {
    local dir=$1 out
    if [[ $(id -u) == 0 ]]; then
        chown "$PG_USER:" "$dir" || die "cannot chown $dir to $PG_USER"
    fi
    chmod 700 "$dir"
    if [[ -f $dir/PG_VERSION ]]; then
        return 0
    fi
    if ! out=$(as_owner "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 \
        --locale=C --no-instructions 2>&1); then
        echo "$out" >&2
        die "initdb failed in $dir (can the $PG_USER user reach it?)"
    fi
    echo "include_if_exists = 'ibx.conf'" >>"$dir/postgresql.conf"
}

# Settings rewritten on every start so the port and socket follow the arguments.
write_conf() {
    local dir=$1 port=$2
    as_owner tee "$dir/ibx.conf" >/dev/null <<EOF
# written by tools/pg.sh: throwaway cluster, speed over durability
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
checkpoint_timeout = '30min'
max_wal_size = '2GB'
shared_buffers = '128MB'
log_min_messages = warning
logging_collector = off
EOF
}

wait_ready() {
    local dir=$1 port=$2 i
    for ((i = 0; i < 300; i++)); do
        if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$dir/server.log" >&2 2>/dev/null || true
    die "server in $dir did not become ready on port $port"
}

cmd_start() {
    (($# == 2)) || usage
    check_port "$2"
    local dir port=$2
    dir=$(abs_dir "$1")
    # A socket path longer than 107 bytes cannot be bound.
    ((${#dir} + 18 <= 107)) || die "data dir path too long for a socket: $dir"
    exec 9<"$dir"
    flock 9 # concurrent starts of the same cluster take turns
    if is_running "$dir"; then
        [[ $(running_port "$dir") == "$port" ]] ||
            die "$dir is already running on port $(running_port "$dir"), not $port"
        wait_ready "$dir" "$port"
        return 0
    fi
    init_cluster "$dir"
    write_conf "$dir" "$port"
    # 9<&-: the server must not inherit (and hold) the start lock.
    if ! as_owner "$PG_BIN/pg_ctl" start -D "$dir" -l "$dir/server.log" -w -t 60 >/dev/null 9<&-; then
        tail -n 20 "$dir/server.log" >&2 2>/dev/null || true
        die "could not start PostgreSQL in $dir on port $port"
    fi
    wait_ready "$dir" "$port"
}

cmd_stop() {
    (($# == 1)) || usage
    local dir=$1
    [[ -d $dir ]] || return 0
    dir=$(cd -- "$dir" && pwd -P)
    is_running "$dir" || return 0
    as_owner "$PG_BIN/pg_ctl" stop -D "$dir" -m fast -w -t 60 >/dev/null ||
        die "could not stop PostgreSQL in $dir"
}

cmd_url() {
    (($# == 2 || $# == 3)) || usage
    check_port "$2"
    local db=${3:-postgres}
    [[ $db =~ ^[A-Za-z0-9_]+$ ]] || die "bad database name: $db"
    echo "postgresql://postgres@127.0.0.1:$2/$db"
}

cmd_freeport() {
    (($# == 0)) || usage
    python3 - <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

(($# >= 1)) || usage
cmd=$1
shift
case $cmd in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
url) cmd_url "$@" ;;
freeport) cmd_freeport "$@" ;;
*) usage ;;
esac
