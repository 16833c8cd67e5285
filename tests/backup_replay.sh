#!/usr/bin/env bash
# A backup restored after erasures brings their subjects back; the erasure ledger erases them again.
# Dump the chat example, then erase three guests (one alone, two in one pass), withdraw a consent (its lead is
# anonymized) and run retention; take the ledger;
# restore the old dump into a new database and replay the ledger there. Then none of the three guests' values
# remain, the rows the replay changed are exactly the rows the original erasures changed (every other row is
# byte-identical to the dump), the consent is withdrawn again, a second replay does nothing, and the
# chains verify.
# Usage: tests/backup_replay.sh SOCKET_DIR PORT
set -euo pipefail
cd "$(dirname "$0")/.."
socket=${1:?socket dir}
port=${2:?port}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PGOPTIONS="-c client_min_messages=warning"
psql=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$socket" -p "$port" -U postgres)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"${psql[@]}" -c "DROP DATABASE IF EXISTS replay_src" -c "DROP DATABASE IF EXISTS replay_dst" \
  -c "DROP DATABASE IF EXISTS replay_ref" -c "CREATE DATABASE replay_src"
"${psql[@]}" -d replay_src -v guests=50 -c "CREATE EXTENSION pg_gdpr" -f examples/chat/schema.sql \
  -f examples/chat/declare.sql -f examples/chat/data.sql -c "SELECT gdpr.guard_erased_subjects()" >/dev/null
"$PGBIN/pg_dump" -h "$socket" -p "$port" -U postgres -Fc -f "$work/old.dump" replay_src

head_at_dump=$("${psql[@]}" -d replay_src -c "SELECT gdpr.audit_head()")
# What the three guests gave: none of it may come back.
# (E-mail and phone: the example's names repeat across guests.)
"${psql[@]}" -d replay_src -c "SELECT v FROM chat.guests g, LATERAL (VALUES (g.email), (g.phone)) x(v)
                                WHERE g.id IN (3, 4, 5)" >"$work/values"
"${psql[@]}" -d replay_src -c "SELECT gdpr.anonymize_guest(3)" -c "SELECT gdpr.anonymize_subjects('guest', '{4,5}')" \
  -c "SELECT gdpr.withdraw_consent(2)" -c "CALL gdpr.enforce_retention()" >/dev/null
"${psql[@]}" -d replay_src -c "SELECT gdpr.erasure_ledger()" >"$work/ledger.json"

"${psql[@]}" -c "CREATE DATABASE replay_dst" -c "CREATE DATABASE replay_ref"
"$PGBIN/pg_restore" -h "$socket" -p "$port" -U postgres -d replay_dst --exit-on-error "$work/old.dump"
"$PGBIN/pg_restore" -h "$socket" -p "$port" -U postgres -d replay_ref --exit-on-error "$work/old.dump"

status=ok
fail() { echo "backup_replay: $1"; status=FAILED; }
# The ledger goes in as a psql variable (a value, never SQL text).
replay() { "${psql[@]}" -d replay_dst -v ledger="$(cat "$work/ledger.json")" <<<"$1"; }
ledger_size=$("${psql[@]}" -v ledger="$(cat "$work/ledger.json")" <<<"SELECT jsonb_array_length((:'ledger'::jsonb)->'erasures')")
summary=$(replay "SELECT format('%s erased, %s absent, %s not replayable, %s already logged',
                                 jsonb_array_length(r->'erased'), jsonb_array_length(r->'absent'),
                                 jsonb_array_length(r->'not_replayable'), r->'already_logged')
                           || format(', %s withdrawal made again', r->'withdrawals'->'withdrawn')
                    FROM gdpr.replay_erasures(:'ledger') r")
# Every erasure is replayed but retention's deletion of expired rows without a key (nothing names them): the
# retention run after the replay, as the README says, deletes them again.
[ "$summary" = "$(( ledger_size - 1 )) erased, 0 absent, 1 not replayable, 0 already logged, 1 withdrawal made again" ] && [ "$ledger_size" -gt 5 ] ||
  fail "the replay of a ledger of $ledger_size erasures: $summary"
echo "backup_replay: ledger of $ledger_size erasures; replay: $summary"
"${psql[@]}" -d replay_dst -c "CALL gdpr.enforce_retention()" >/dev/null

# The guests' values, in any column of any table.
dump_chat() { "$PGBIN/pg_dump" -h "$socket" -p "$port" -U postgres --data-only --schema=chat "$1" 2>/dev/null; }
dump_chat replay_ref >"$work/ref.sql"
dump_chat replay_dst >"$work/dst.sql"
[ "$(wc -l <"$work/values")" -eq 6 ] || fail "expected 6 values of the three guests"
while IFS= read -r v; do
  grep -qF -- "$v" "$work/ref.sql" || fail "'$v' is not in the old dump: the check would prove nothing"
  grep -qF -- "$v" "$work/dst.sql" && fail "'$v' is still in the restored database after the replay"
done <"$work/values"

# Rows per table as text: what the replay changed must be what the erasures changed in the source.
rows() { # rows DB: every row of every chat table, as text, sorted
  "${psql[@]}" -d "$1" -c "SELECT format('SELECT %L || '' '' || t::text FROM %s t', c.oid::regclass, c.oid::regclass)
                            FROM pg_class c WHERE c.relnamespace = 'chat'::regnamespace AND c.relkind = 'r'" |
    while IFS= read -r q; do "${psql[@]}" -d "$1" -c "$q"; done | LC_ALL=C sort
}
rows replay_ref >"$work/ref"
rows replay_src >"$work/src"
rows replay_dst >"$work/dst"
# Rows of the dump that the erasures changed or deleted (lines only in the dump's copy).
comm -23 "$work/ref" "$work/src" >"$work/changed_by_erasure"
comm -23 "$work/ref" "$work/dst" >"$work/changed_by_replay"
if ! cmp -s "$work/changed_by_erasure" "$work/changed_by_replay"; then
  fail "the replay changed other rows than the erasures did:"
  diff "$work/changed_by_erasure" "$work/changed_by_replay" | head -20
fi
[ -s "$work/changed_by_replay" ] || fail "the replay changed nothing"
# … and what they left unchanged is byte-identical to the dump in both.
unchanged=$(comm -12 "$work/ref" "$work/dst" | wc -l)
expected=$(( $(wc -l <"$work/ref") - $(wc -l <"$work/changed_by_replay") ))
[ "$unchanged" -eq "$expected" ] || fail "$unchanged rows identical to the dump, expected $expected"
# The anonymized rows are there (new values), the deleted ones are gone, in the same numbers as in the source.
[ "$(comm -13 "$work/ref" "$work/src" | wc -l)" -eq "$(comm -13 "$work/ref" "$work/dst" | wc -l)" ] ||
  fail "the replay left a different number of anonymized rows than the erasures"
echo "backup_replay: $(wc -l <"$work/changed_by_replay") rows changed or deleted, as in the source; $unchanged rows byte-identical to the dump"

# Replaying again does nothing; the replayed entries carry the original erasure ids; both chains verify.
again=$(replay "SELECT format('%s erased, %s already logged', jsonb_array_length(r->'erased'), r->'already_logged')
                  FROM gdpr.replay_erasures(:'ledger') r")
[ "$again" = "0 erased, $(( ledger_size - 1 )) already logged" ] || fail "a second replay: $again"
ids_src=$("${psql[@]}" -d replay_src -c "SELECT string_agg(erasure_id::text, ',' ORDER BY erasure_id) FROM gdpr.erasure_log
                                                  WHERE NOT dry_run AND subject_id NOT LIKE '% rows without key, %'")
ids_dst=$("${psql[@]}" -d replay_dst -c "SELECT string_agg(erasure_id::text, ',' ORDER BY erasure_id) FROM gdpr.erasure_log WHERE origin = 'replay'")
[ "$ids_src" = "$ids_dst" ] || fail "the replayed erasures are logged under other ids"
[ "$("${psql[@]}" -d replay_dst -c "SELECT withdrawn_by FROM gdpr.consent WHERE id = 2")" = postgres ] ||
  fail "consent 2 is not withdrawn again"
[ "$("${psql[@]}" -d replay_dst -c "SELECT count(*) FROM gdpr.current_consents WHERE consent_id = 2")" = 0 ] ||
  fail "consent 2 is still in force after the replay"
for db in replay_src replay_dst; do
  problems=$("${psql[@]}" -d "$db" -c "SELECT count(*) FROM gdpr.verify_audit_chain()")
  [ "$problems" = 0 ] || fail "$db: the audit chain has $problems problems"
done
# The restored chain is the source's up to the dump: the head taken then is still in it.
problems=$("${psql[@]}" -d replay_dst -v head="$head_at_dump" <<<"SELECT count(*) FROM gdpr.verify_audit_chain(:'head')")
[ "$problems" = 0 ] || fail "the restored chain does not hold the head taken at the dump ($problems problems)"
"${psql[@]}" -c "DROP DATABASE replay_src" -c "DROP DATABASE replay_dst" -c "DROP DATABASE replay_ref"
echo "test backup_replay                ... $status"
[ "$status" = ok ]
