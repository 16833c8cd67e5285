#!/usr/bin/env bash
# What an erasure leaves on disk, and what gdpr.erasure_residue's VACUUM removes. A throwaway cluster (autovacuum
# off, so nothing vacuums behind the test's back) holds examples/chat plus one long, TOASTed message of guest 7
# with the guest's e-mail in it. After gdpr.anonymize_guest(7) commits, the old e-mail is still in a dead heap
# tuple of chat.guests (pg_dirtyread) and in an entry of the UNIQUE index on chat.guests(email) (pageinspect's
# bt_page_items); the old long body is still in dead chunks of the TOAST table (pg_dirtyread on the TOAST table).
# The view lists chat.guests and chat.messages with the erasure; after its commands run, pg_dirtyread and
# bt_page_items find nothing and the view is empty.
#
# What the test also pins down (see the README's "What erasure does not reach"):
#  - Detoasting the dead row of chat.messages (pg_dirtyread on chat.messages) fails: the TOAST index fetch prunes
#    the full TOAST page first, on access, with no VACUUM ("missing chunk number 0"). Pruning frees the chunks'
#    line pointers, not their bytes.
#  - Neither pruning nor VACUUM zeroes freed space: after the view's VACUUM the old e-mail (and the whole old body)
#    is still in the raw bytes of pages (get_raw_page), in the free space between pd_lower and pd_upper, of the
#    TOAST table and of chat.messages. VACUUM FULL (new files) leaves none in the relations; the WAL still has it.
#  - A plain VACUUM (INDEX_CLEANUP AUTO) of a table of 20k guests after erasing one of them bypasses the indexes:
#    the old e-mail stays in the UNIQUE index, and the view keeps listing the table (it counts a VACUUM only when
#    the table sets vacuum_index_cleanup = on). The view's setting and command remove the entry; with the setting,
#    a plain VACUUM cleans the index too.
# Usage: tests/residue.sh (as root or postgres); RESIDUE_DIR and RESIDUE_PORT move the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${RESIDUE_DIR:-/tmp/pg_gdpr_residue}
PORT=${RESIDUE_PORT:-55448}
DB=gdpr_residue
export PGOPTIONS="-c client_min_messages=warning"
started=$(date +%s%N)
elapsed() { awk -v ns=$(($(date +%s%N) - started)) 'BEGIN { printf "%.1f", ns / 1e9 }'; }

scripts/cluster.sh stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"
CLUSTER_OPTS="-c autovacuum=off" scripts/cluster.sh start "$DIR" "$PORT"
trap 'scripts/cluster.sh stop "$DIR"' EXIT
psql=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$DIR/socket" -p "$PORT" -U postgres)
q() { "${psql[@]}" -d "$DB" -c "$1"; }

result=ok
fail() { echo "residue: $1"; result=FAILED; }
check() { # check NAME SQL EXPECTED
  local got
  got=$(q "$2" 2>&1) || true
  [ "$got" = "$3" ] || fail "$1: expected '$3', got '$got'"
}
check_error() { # check_error NAME SQL EXPECTED-PART-OF-THE-ERROR
  local got
  if got=$(q "$2" 2>&1); then fail "$1: expected an error with '$3', got '$got'"
  elif [[ "$got" != *"$3"* ]]; then fail "$1: expected an error with '$3', got '$got'"; fi
}

"${psql[@]}" -c "CREATE DATABASE $DB"
q "CREATE EXTENSION pg_gdpr; CREATE EXTENSION pg_dirtyread; CREATE EXTENSION pageinspect;"
"${psql[@]}" -d "$DB" -f examples/chat/schema.sql -f examples/chat/declare.sql -f examples/chat/data.sql \
  -v guests=20 >/dev/null

G=7
"${psql[@]}" -d "$DB" >/dev/null <<SQL
-- One long message of guest $G: ~10 kB of hex digits pglz cannot shrink enough, so stored out of line in TOAST.
INSERT INTO chat.messages (session_id, author_kind, body, sent_at)
SELECT (SELECT min(id) FROM chat.chat_sessions WHERE guest_id = $G), 'guest',
       'A long letter from ' || (SELECT email FROM chat.guests WHERE id = $G) || ': '
         || string_agg(md5(i::text), ' ' ORDER BY i), now()
  FROM generate_series(1, 300) i;

-- Where the bytes of a value are in a relation's raw pages: 'block:free' when the first occurrence in the block is
-- in the page's free space (between pd_lower and pd_upper: bytes of tuples pruned or vacuumed away, never zeroed),
-- 'block:used' when it is in the tuple area (a live or dead tuple, an index entry).
CREATE FUNCTION raw_hits(rel regclass, needle text) RETURNS text LANGUAGE sql AS \$\$
  SELECT coalesce(string_agg(b || CASE WHEN q.p - 1 >= h.lower AND q.p - 1 < h.upper THEN ':free' ELSE ':used' END,
                             ',' ORDER BY b), '')
    FROM generate_series(0, pg_relation_size(rel) / 8192 - 1) b,
         LATERAL (SELECT get_raw_page(rel::text, b::int) AS page) r,
         LATERAL (SELECT position(convert_to(needle, 'UTF8') IN r.page) AS p) q,
         LATERAL page_header(r.page) h
   WHERE q.p > 0 \$\$;
-- Entries of a B-tree index whose key holds the value (bt_page_items' data: hex bytes, the varlena header first).
CREATE FUNCTION index_entries(idx regclass, needle text) RETURNS bigint LANGUAGE sql AS \$\$
  SELECT count(*) FROM generate_series(1, pg_relation_size(idx) / 8192 - 1) b,
         LATERAL bt_page_items(get_raw_page(idx::text, b::int)) i
   WHERE replace(i.data, ' ', '') LIKE '%' || encode(convert_to(needle, 'UTF8'), 'hex') || '%' \$\$;
SQL

EMAIL=$(q "SELECT email FROM chat.guests WHERE id = $G")
MSG=$(q "SELECT id FROM chat.messages WHERE length(body) > 8000")
TOAST=$(q "SELECT reltoastrelid::regclass FROM pg_class WHERE oid = 'chat.messages'::regclass")
IDX=$(q "SELECT conindid::regclass FROM pg_constraint WHERE conrelid = 'chat.guests'::regclass AND contype = 'u'")
BODY_MD5=$(q "SELECT md5(body) FROM chat.messages WHERE id = $MSG")
VALUE=$(q "SELECT chunk_id FROM $TOAST WHERE chunk_seq = 0 AND position(convert_to('$EMAIL', 'UTF8') IN chunk_data) > 0")
guests_cols="dead boolean, xmax xid, id bigint, name text, email text, phone text, ip inet, metadata jsonb,
             consent_version text, referred_by_id bigint, created_at timestamptz"
messages_cols="dead boolean, xmax xid, id bigint, session_id bigint, author_kind text, body text, sent_at timestamptz"
toast_cols="dead boolean, xmax xid, chunk_id oid, chunk_seq integer, chunk_data bytea"

# --- before the erasure -------------------------------------------------------------------------------------------
check "e-mail index" "SELECT '$IDX'" "chat.guests_email_key"
check "long body stored out of line" "SELECT count(*) FROM $TOAST WHERE chunk_id = '$VALUE'" "5"
check "view empty before" "SELECT count(*) FROM gdpr.erasure_residue" "0"

# --- the erasure ---------------------------------------------------------------------------------------------------
EID=$(q "SELECT gdpr.anonymize_guest($G)->>'erasure_id'")
# Until the checks below have read what they need, nothing reads chat.messages or its TOAST table as a query would:
# the first such read after the erasure prunes their full pages (see below).

# The view: every table the erasure changed, with the erasure; chat.guests and chat.messages among them.
check "view lists the tables" "SELECT string_agg(tbl || ' ' || erasures || ' ' || (erasure_ids = ARRAY['$EID'::uuid])
                                                 || ' ' || (last_vacuum IS NULL), ', ' ORDER BY tbl::text)
                                 FROM gdpr.erasure_residue WHERE tbl IN ('chat.guests'::regclass, 'chat.messages'::regclass)" \
  "chat.guests 1 true true, chat.messages 1 true true"
check "view command" "SELECT setting || '; ' || command FROM gdpr.erasure_residue WHERE tbl = 'chat.guests'::regclass" \
  "ALTER TABLE chat.guests SET (vacuum_index_cleanup = on); VACUUM (INDEX_CLEANUP ON, PROCESS_TOAST ON) chat.guests"
residue_tables=$(q "SELECT string_agg(tbl::text, ' ' ORDER BY tbl::text) FROM gdpr.erasure_residue")

# Raw pages, before anything reads them after the erasure: the old values in the tuple area of each relation.
check "raw: guests heap after erasure" "SELECT raw_hits('chat.guests', '$EMAIL') ~ ':used'" "t"
check "raw: e-mail index after erasure" "SELECT raw_hits('$IDX', '$EMAIL') ~ ':used'" "t"
check "raw: TOAST after erasure" "SELECT raw_hits('$TOAST', '$EMAIL') ~ ':used'" "t"

# chat.guests: the old row version, dead (hint bits set by a scan of the table: the page has room, no pruning).
q "SELECT count(*) FROM chat.guests" >/dev/null
check "dirtyread: old e-mail in a dead tuple" "SELECT string_agg(dead || ' ' || (xmax <> '0'), ',')
  FROM pg_dirtyread('chat.guests') AS t($guests_cols) WHERE email = '$EMAIL'" "true true"
# The UNIQUE index: the old e-mail's entry, pointing to the dead tuple.
check "index: old e-mail entry" "SELECT index_entries('$IDX', '$EMAIL')" "1"
# TOAST: the old body, whole, from its dead chunks (pg_dirtyread does not prune the pages it reads).
check "dirtyread: old body from dead TOAST chunks" "SELECT count(*) || ' ' || bool_and(xmax <> '0') || ' '
    || md5(convert_from(string_agg(chunk_data, ''::bytea ORDER BY chunk_seq), 'UTF8'))
  FROM pg_dirtyread('$TOAST') AS t($toast_cols) WHERE chunk_id = '$VALUE'" "5 true $BODY_MD5"
# chat.messages: the dead row version is there, but detoasting its body fetches the chunks through the TOAST
# index, which prunes the (full) TOAST page first: the old chunks go on access, without VACUUM.
check "dirtyread: old message row" "SELECT count(*) FROM pg_dirtyread('chat.messages') AS t(xmax xid, id bigint)
                                     WHERE id = $MSG" "2"
check_error "dirtyread: old body not detoastable" \
  "SELECT body FROM pg_dirtyread('chat.messages') AS t($messages_cols) WHERE id = $MSG" \
  "missing chunk number 0 for toast value $VALUE"
check "dirtyread: TOAST chunks pruned on access" "SELECT count(*) FROM pg_dirtyread('$TOAST') AS t($toast_cols)
                                                  WHERE chunk_id = '$VALUE'" "0"
# ... but their bytes are still in the page: pruning frees line pointers, it does not zero the space.
check "raw: TOAST after pruning" "SELECT raw_hits('$TOAST', '$EMAIL') ~ ':free' AND raw_hits('$TOAST', '$EMAIL') !~ ':used'" "t"

# An ordinary read of chat.messages (a sequential scan, detoasting the new bodies) prunes every full page it
# visits: the old row versions go from chat.messages without VACUUM, their bytes stay in the pages' free space.
check "erased in the table" "SELECT count(*) FROM chat.guests WHERE email = '$EMAIL'" "0"
check "body scrubbed" "SELECT count(*) FROM chat.messages WHERE body LIKE '%$EMAIL%'" "0"
check "dirtyread: old message row pruned on access" "SELECT count(*) FROM pg_dirtyread('chat.messages')
                                                   AS t(xmax xid, id bigint) WHERE id = $MSG" "1"
check "raw: messages heap after pruning" "SELECT raw_hits('chat.messages', '$EMAIL') ~ ':free'" "t"

# --- the view's commands -------------------------------------------------------------------------------------------
"${psql[@]}" -d "$DB" >/dev/null <<'SQL'
SELECT setting, command FROM gdpr.erasure_residue \gexec
SQL
check "view empty after its VACUUM" "SELECT count(*) FROM gdpr.erasure_residue" "0"
check "dirtyread: old e-mail gone" "SELECT count(*) FROM pg_dirtyread('chat.guests') AS t($guests_cols)
                                    WHERE email = '$EMAIL'" "0"
check "dirtyread: old message row gone" "SELECT count(*) FROM pg_dirtyread('chat.messages') AS t($messages_cols)
                                         WHERE id = $MSG" "1"
check "dirtyread: no body with the e-mail" "SELECT count(*) FROM pg_dirtyread('chat.messages') AS t($messages_cols)
                                            WHERE body LIKE '%$EMAIL%'" "0"
check "dirtyread: no TOAST chunk with the e-mail" "SELECT count(*) FROM pg_dirtyread('$TOAST') AS t($toast_cols)
  WHERE chunk_id = '$VALUE' OR position(convert_to('$EMAIL', 'UTF8') IN chunk_data) > 0" "0"
check "index: old e-mail entry gone" "SELECT index_entries('$IDX', '$EMAIL')" "0"
# Raw bytes after VACUUM: none in a tuple anywhere; in chat.messages (old versions of 'You can reach me at ...')
# and in the TOAST table (the old body, whole) they are still there, in free space (in chat.guests and its index,
# in this run, page compaction happened to overwrite them: nothing guarantees it).
check "raw: guests heap after VACUUM" "SELECT raw_hits('chat.guests', '$EMAIL') !~ ':used'" "t"
check "raw: e-mail index after VACUUM" "SELECT raw_hits('$IDX', '$EMAIL') !~ ':used'" "t"
check "raw: messages heap after VACUUM" "SELECT raw_hits('chat.messages', '$EMAIL') ~ ':free'
                                         AND raw_hits('chat.messages', '$EMAIL') !~ ':used'" "t"
check "raw: TOAST after VACUUM" "SELECT raw_hits('$TOAST', '$EMAIL') ~ ':free' AND raw_hits('$TOAST', '$EMAIL') !~ ':used'" "t"
check "raw: old body's text after VACUUM" "SELECT (position(convert_to(substring(body, 60, 200), 'UTF8')
    IN get_raw_page('$TOAST', 0)) > 0)::text FROM chat.messages WHERE id = $MSG" "true"

# VACUUM FULL writes new files: nothing in the relations' pages. The old files are truncated at commit (their
# blocks go back to the file system as they are); the WAL still holds the e-mail (the INSERTs, full-page images).
old_file=$(q "SELECT pg_relation_filepath('$TOAST')")
q "VACUUM FULL chat.guests" && q "VACUUM FULL chat.messages"
TOAST=$(q "SELECT reltoastrelid::regclass FROM pg_class WHERE oid = 'chat.messages'::regclass")
check "raw: nothing after VACUUM FULL" "SELECT raw_hits('chat.guests', '$EMAIL') || '|' || raw_hits('$IDX', '$EMAIL')
    || '|' || raw_hits('chat.messages', '$EMAIL') || '|' || raw_hits('$TOAST', '$EMAIL')" "|||"
check "old TOAST file truncated" "SELECT size FROM pg_stat_file('$old_file', true)" "0"
wal=$(grep -l -a -F "$EMAIL" "$DIR"/data/pg_wal/0* 2>/dev/null | wc -l)
[ "$wal" -ge 1 ] || fail "WAL: expected the e-mail in a WAL segment, found it in none"

# --- autovacuum's shortcut: INDEX_CLEANUP AUTO bypasses the indexes ----------------------------------------------
# 20k more guests (~270 pages); erasing one leaves dead items on 1 page, under the 2 % that makes VACUUM skip index
# vacuuming when INDEX_CLEANUP is AUTO (the default of VACUUM and autovacuum).
q "INSERT INTO chat.guests (name, email, phone, created_at)
   SELECT 'Bulk Guest ' || i, 'bulk' || i || '@mail.example', '+420 7' || lpad(i::text, 8, '0'), now()
     FROM generate_series(1, 20000) i"
q "VACUUM (INDEX_CLEANUP ON) chat.guests"
# Without the view's setting (reset here: the commands above set it).
q "ALTER TABLE chat.guests RESET (vacuum_index_cleanup)"
B=$(q "SELECT id FROM chat.guests WHERE email = 'bulk10000@mail.example'")
BEMAIL=bulk10000@mail.example
EID2=$(q "SELECT gdpr.anonymize_guest($B)->>'erasure_id'")
# (With the setting reset, the earlier erasure is listed again: the VACUUM that cleared it is no longer known to
# have cleaned the indexes.)
check "bypass: view lists chat.guests" "SELECT erasure_ids @> ARRAY['$EID2'::uuid] FROM gdpr.erasure_residue
                                        WHERE tbl = 'chat.guests'::regclass" "t"
check "bypass: entry after erasure" "SELECT index_entries('$IDX', '$BEMAIL')" "1"
verbose=$(q "VACUUM (VERBOSE) chat.guests" 2>&1)
[[ "$verbose" == *"index scan bypassed: 1 pages from table"* ]] ||
  fail "bypass: expected 'index scan bypassed' from a plain VACUUM, got: $verbose"
check "bypass: heap tuple gone after plain VACUUM" "SELECT count(*) FROM pg_dirtyread('chat.guests') AS t($guests_cols)
                                                   WHERE email = '$BEMAIL'" "0"
check "bypass: entry kept by plain VACUUM" "SELECT index_entries('$IDX', '$BEMAIL')" "1"
# Which options a past VACUUM ran with is recorded nowhere: without the setting, the view keeps the table.
check "bypass: view still lists it" "SELECT tbl || ' ' || (last_vacuum IS NOT NULL) || ' ' || (setting IS NOT NULL)
                                     FROM gdpr.erasure_residue" "chat.guests true true"
"${psql[@]}" -d "$DB" >/dev/null <<'SQL'
SELECT setting, command FROM gdpr.erasure_residue \gexec
SQL
check "bypass: entry gone after the view's commands" "SELECT index_entries('$IDX', '$BEMAIL')" "0"
check "bypass: view empty" "SELECT count(*) FROM gdpr.erasure_residue" "0"
# With the setting, a plain VACUUM (and autovacuum) cleans the indexes too, and the view counts it.
B3=$(q "SELECT id FROM chat.guests WHERE email = 'bulk12000@mail.example'")
q "SELECT gdpr.anonymize_guest($B3)" >/dev/null
check "setting: listed after an erasure" "SELECT count(*) || ' ' || bool_and(setting IS NULL) FROM gdpr.erasure_residue
                                          WHERE tbl = 'chat.guests'::regclass" "1 true"
verbose=$(q "VACUUM (VERBOSE) chat.guests" 2>&1)
[[ "$verbose" != *"index scan bypassed"* ]] || fail "setting: a plain VACUUM bypassed the indexes: $verbose"
check "setting: entry gone after a plain VACUUM" "SELECT index_entries('$IDX', 'bulk12000@mail.example')" "0"
check "setting: view counts the plain VACUUM" "SELECT count(*) FROM gdpr.erasure_residue WHERE tbl = 'chat.guests'::regclass" "0"

echo "residue: erasure $EID changed: $residue_tables; e-mail in $wal WAL segment(s); $(elapsed) s"
echo "test residue                      ... $result"
[ "$result" = ok ]
