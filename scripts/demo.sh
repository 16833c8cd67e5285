#!/usr/bin/env bash
# `make demo`: builds and installs pg_gdpr, starts a throwaway PostgreSQL 15 cluster, loads examples/chat
# (schema, a few hundred generated guests, the PII declarations a migration makes), erases one guest and shows
# every table before and after. Stops the cluster it started.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
export PATH="$HOME/.cargo/bin:$PATH"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PORT=${DEMO_PORT:-55433}
DIR=${DEMO_DIR:-/tmp/pg_gdpr_demo}

echo "== building and installing pg_gdpr"
cargo pgrx install --pg-config "$PG_CONFIG" >/dev/null

scripts/cluster.sh stop "$DIR" || true
rm -rf "$DIR"
scripts/cluster.sh start "$DIR" "$PORT"
trap 'scripts/cluster.sh stop "$DIR"' EXIT

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$DIR/socket" -p "$PORT" -U postgres)
"${PSQL[@]}" -c "CREATE DATABASE chat"
echo "== loading examples/chat: schema, generated data, PII declarations"
"${PSQL[@]}" -d chat -c "CREATE EXTENSION pg_gdpr" -f examples/chat/schema.sql -f examples/chat/declare.sql \
  -f examples/chat/data.sql >/dev/null
"${PSQL[@]}" -d chat -c "SELECT count(*) AS guests, (SELECT count(*) FROM chat.messages) AS messages FROM chat.guests"
"${PSQL[@]}" -d chat -f examples/chat/demo.sql
echo "== demo finished; cluster in $DIR stopped"
