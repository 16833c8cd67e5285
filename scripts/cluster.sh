#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster owned by the postgres user, on a private port and socket directory.
#   scripts/cluster.sh start DIR PORT   — initdb (if needed) and start
#   scripts/cluster.sh stop DIR         — stop the cluster in DIR (only ours: we never touch other clusters)
# CLUSTER_OPTS adds server options (-c name=value ...), e.g. the benchmark's settings; CLUSTER_ENV adds
# environment variables for the server (NAME=value ...), e.g. RUST_BACKTRACE=1 in the regression suite.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
cmd=${1:?usage: cluster.sh start DIR PORT | stop DIR}
dir=${2:?data directory}

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else sudo -u postgres -- "$@"; fi
}

case "$cmd" in
  start)
    port=${3:?port}
    mkdir -p "$dir"
    chown postgres:postgres "$dir" 2>/dev/null || true
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_postgres mkdir -p "$dir/data" "$dir/socket"
      as_postgres "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
    fi
    # shellcheck disable=SC2086
    as_postgres env ${CLUSTER_ENV:-} "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w start \
      -o "-p $port -k $dir/socket -c listen_addresses='' -c fsync=off -c shared_buffers=256MB ${CLUSTER_OPTS:-}" >/dev/null
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
