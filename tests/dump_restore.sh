#!/usr/bin/env bash
# Declarations and the audit log survive pg_dump / pg_restore (they live in extension config tables), and the
# restored database erases as the original did. Usage: tests/dump_restore.sh SOCKET_DIR PORT
set -euo pipefail
cd "$(dirname "$0")/.."
socket=${1:?socket dir}
port=${2:?port}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PGOPTIONS="-c client_min_messages=warning"
psql=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$socket" -p "$port" -U postgres)
declarations="SELECT string_agg(x, E'\n' ORDER BY x) FROM (
    SELECT 's ' || kind || ' ' || tbl::text FROM gdpr.subject
    UNION ALL SELECT 'p ' || tbl::text || '.' || col || ' ' || strategy || ' ' || options::text FROM gdpr.pii_policy
    UNION ALL SELECT 'a ' || tbl::text || ' ' || action FROM gdpr.erase_action
    UNION ALL SELECT 'l ' || id || ' ' || child::text || child_cols::text || parent::text || parent_cols::text
                     || coalesce(type_col || '=' || type_value, '') FROM gdpr.link
    UNION ALL SELECT 'x ' || child::text || child_cols::text FROM gdpr.excluded_reference
    UNION ALL SELECT 'e ' || kind || ' ' || subject_id || ' ' || rows_total FROM gdpr.erasure_log) d(x)"

"${psql[@]}" -c "DROP DATABASE IF EXISTS dump_src" -c "DROP DATABASE IF EXISTS dump_dst" -c "CREATE DATABASE dump_src"
"${psql[@]}" -d dump_src -v guests=20 -c "CREATE EXTENSION pg_gdpr" -f examples/chat/schema.sql \
  -f examples/chat/declare.sql -f examples/chat/data.sql >/dev/null
"${psql[@]}" -d dump_src -c "SELECT gdpr.anonymize_guest(5)" >/dev/null
before=$("${psql[@]}" -d dump_src -c "$declarations")

dump=$(mktemp)
trap 'rm -f "$dump"' EXIT
"$PGBIN/pg_dump" -h "$socket" -p "$port" -U postgres -Fc -f "$dump" dump_src
"${psql[@]}" -c "CREATE DATABASE dump_dst"
"$PGBIN/pg_restore" -h "$socket" -p "$port" -U postgres -d dump_dst --exit-on-error "$dump"
after=$("${psql[@]}" -d dump_dst -c "$declarations")

status=ok
if [ "$before" != "$after" ] || [ -z "$after" ]; then
  echo "declarations differ after restore:"; diff <(echo "$before") <(echo "$after") || true
  status=FAILED
fi
# The restored database keeps working: a new declaration (identity sequence restored) and an erasure.
if ! "${psql[@]}" -d dump_dst -c "SELECT gdpr.declare_link('chat.notes', '{record_id}', 'chat.offline_leads', '{id}', 'record_type', 'Lead')" \
     -c "SELECT gdpr.anonymize_guest(6)" >/dev/null; then
  status=FAILED
fi
"${psql[@]}" -c "DROP DATABASE dump_src" -c "DROP DATABASE dump_dst"
echo "test dump_restore                 ... $status"
[ "$status" = ok ]
