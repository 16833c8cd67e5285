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
    UNION ALL SELECT 'o ' || child::text || child_cols::text || parent::text FROM gdpr.owned_reference
    UNION ALL SELECT 'c ' || schema_name::text || ' ' || col || except_tables::text FROM gdpr.excluded_column
    UNION ALL SELECT 'r ' || tbl::text || ' ' || time_col || ' ' || keep::text || ' ' || action FROM gdpr.retention
    UNION ALL SELECT 'h ' || id || ' ' || kind || ' ' || subject_id || ' ' || reason || ' ' || (released_at IS NULL)
                FROM gdpr.legal_hold
    UNION ALL SELECT 'e ' || kind || ' ' || subject_id || ' ' || rows_total || ' ' || origin FROM gdpr.erasure_log) d(x)"

"${psql[@]}" -c "DROP DATABASE IF EXISTS dump_src" -c "DROP DATABASE IF EXISTS dump_dst" -c "CREATE DATABASE dump_src"
"${psql[@]}" -d dump_src -v guests=20 -c "CREATE EXTENSION pg_gdpr" -f examples/chat/schema.sql \
  -f examples/chat/declare.sql -f examples/chat/data.sql >/dev/null
"${psql[@]}" -d dump_src -c "SELECT gdpr.anonymize_guest(5)" -c "SELECT gdpr.place_legal_hold('guest', '7', 'dispute')" \
  -c "SELECT gdpr.release_legal_hold(gdpr.place_legal_hold('guest', '8', 'closed case'))" \
  -c "SELECT gdpr.exclude_column('chat', 'created_by_id', '{chat.notes}')" \
  -c "SELECT gdpr.declare_owned('chat.attachments', '{message_id}')" >/dev/null
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
# The restored database keeps working: a new declaration (identity sequence restored), an erasure, a new hold;
# the hold restored still refuses its guest's erasure (55000).
if ! "${psql[@]}" -d dump_dst -c "SELECT gdpr.declare_link('chat.notes', '{record_id}', 'chat.offline_leads', '{id}', 'record_type', 'Lead')" \
     -c "SELECT gdpr.anonymize_guest(6)" -c "SELECT gdpr.place_legal_hold('guest', '9', 'new case')" >/dev/null; then
  status=FAILED
fi
# The audit chains came back whole: the restored links verify, and the source's head is in them.
head=$("${psql[@]}" -d dump_src -c "SELECT gdpr.audit_head()")
problems=$("${psql[@]}" -d dump_dst -v head="$head" <<<"SELECT count(*) FROM gdpr.verify_audit_chain(:'head')")
if [ "$problems" != 0 ]; then
  echo "the restored audit chain has $problems problems"; status=FAILED
fi
held=$("${psql[@]}" -d dump_dst -c "DO \$\$ BEGIN PERFORM gdpr.anonymize_guest(7); RAISE NOTICE 'erased';
  EXCEPTION WHEN object_not_in_prerequisite_state THEN RAISE WARNING 'held'; END \$\$" 2>&1 || true)
if [[ "$held" != *held* ]]; then
  echo "the restored legal hold did not refuse the erasure: $held"; status=FAILED
fi
"${psql[@]}" -c "DROP DATABASE dump_src" -c "DROP DATABASE dump_dst"
echo "test dump_restore                 ... $status"
[ "$status" = ok ]
