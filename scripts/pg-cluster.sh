# A throwaway PostgreSQL cluster for the tests, from Debian's packages. Sourced, not run:
#
#   source scripts/pg-cluster.sh
#   pg_cluster_start      # exports VIGIL_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/postgres
#   cargo test -p vigil-store --release
#   pg_cluster_stop       # stops it and removes its directory
#
# scripts/test.sh does the same (and installs the package `postgresql` first when it is
# missing). The cluster lives in a fresh temporary directory, listens on a free loopback port
# only, trusts local connections (nothing but this machine can reach it) and keeps fsync on.
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user.

pg_cluster_bin() {
    local initdb
    initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
    [ -n "$initdb" ] && dirname "$initdb"
}

# Runs a PostgreSQL program as the cluster's owner.
pg_cluster_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_cluster_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_cluster_start() {
    local bin port attempt
    bin=$(pg_cluster_bin) || { echo "pg-cluster: no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)" >&2; return 1; }
    PG_CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vigil-pg.XXXXXX")
    chmod 755 "$PG_CLUSTER_DIR"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$PG_CLUSTER_DIR"
    fi
    # C.UTF-8: UTF-8 text with Unicode case folding (ILIKE), and no locale of the machine's.
    pg_cluster_as_owner "$bin/initdb" -D "$PG_CLUSTER_DIR/data" -U postgres -E UTF8 \
        --locale=C.UTF-8 --auth=trust >"$PG_CLUSTER_DIR/initdb.log" 2>&1 \
        || { cat "$PG_CLUSTER_DIR/initdb.log" >&2; return 1; }
    # Another process may take the port between the probe and the server's bind: try again.
    for attempt in 1 2 3; do
        port=$(pg_cluster_free_port)
        if pg_cluster_as_owner "$bin/pg_ctl" -D "$PG_CLUSTER_DIR/data" -l "$PG_CLUSTER_DIR/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_CLUSTER_DIR -c max_connections=300" \
            start >/dev/null; then
            PG_CLUSTER_BIN=$bin
            export VIGIL_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
            echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($PG_CLUSTER_DIR)"
            return 0
        fi
    done
    cat "$PG_CLUSTER_DIR/server.log" >&2
    return 1
}

pg_cluster_stop() {
    if [ -n "${PG_CLUSTER_DIR:-}" ] && [ -d "$PG_CLUSTER_DIR" ]; then
        if [ -n "${PG_CLUSTER_BIN:-}" ]; then
            pg_cluster_as_owner "$PG_CLUSTER_BIN/pg_ctl" -D "$PG_CLUSTER_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$PG_CLUSTER_DIR"
    fi
    PG_CLUSTER_DIR=
}
