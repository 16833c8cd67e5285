#!/usr/bin/env bash
# Crash atomicity of an erasure. A throwaway cluster (data checksums on) holds examples/chat plus two guests with
# ~100k rows each; the erasure of the first is killed in the middle (kill -9 of its backend: the postmaster
# restarts every backend through crash recovery), the erasure of the second is cut by `pg_ctl stop -m immediate`
# (the cluster is then started again and recovers). After each recovery every table of schemas chat and gdpr is
# byte-identical to what it was before the erasure (the subject wholly untouched, nothing of a half-done erasure
# left: no log entry, no erased-row marker), and a second erasure succeeds: logged once, none of the guest's
# values left anywhere in chat, other guests' rows byte-identical. Finally pg_checksums verifies every page of the
# stopped cluster offline. The test fails loudly if an erasure finishes before the crash instead of being cut.
#
# The cluster runs with fsync=off (scripts/cluster.sh) and initdb --no-sync: harmless here, since a kill -9 or an
# immediate stop kills processes, not the machine — what PostgreSQL wrote is in the OS page cache and recovery
# reads it back. Only a power loss or an OS crash would need fsync, which this test does not simulate.
# Usage: tests/crash.sh (as root or postgres); CRASH_DIR and CRASH_PORT move the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${CRASH_DIR:-/tmp/pg_gdpr_crash}
PORT=${CRASH_PORT:-55441}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DB=gdpr_crash
export PGOPTIONS="-c client_min_messages=warning"
started=$(date +%s%N)
elapsed() { awk -v ns=$(($(date +%s%N) - started)) 'BEGIN { printf "%.1f", ns / 1e9 }'; }

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else sudo -u postgres -- "$@"; fi
}
psql=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$DIR/socket" -p "$PORT" -U postgres)
q() { "${psql[@]}" -d "$DB" -c "$1"; }

result=ok
done_=""
bg=""
cleanup() {
  if [ -n "$bg" ]; then kill "$bg" 2>/dev/null || true; fi
  scripts/cluster.sh stop "$DIR" >/dev/null 2>&1 || true
  if [ -z "$done_" ]; then
    echo "crash: aborted (server log: $DIR/data/server.log)"
    echo "test crash                        ... FAILED"
  fi
}
fail() { echo "crash: $*"; result=FAILED; }
check() { # check NAME SQL EXPECTED
  local got
  got=$(q "$2" 2>&1) || true
  if [ "$got" != "$3" ]; then fail "$1: expected '$3', got '$got'"; fi
}
log_since() { tail -c +"$(($1 + 1))" "$DIR/data/server.log"; }
log_size() { stat -c %s "$DIR/data/server.log"; }

# --- a cluster of our own, with data checksums ------------------------------------------------------------------
scripts/cluster.sh stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"
mkdir -p "$DIR"
chown postgres:postgres "$DIR" 2>/dev/null || true
as_postgres mkdir -p "$DIR/data" "$DIR/socket"
# cluster.sh's initdb, plus --data-checksums (cluster.sh skips initdb when the data directory exists).
as_postgres "$PGBIN/initdb" -D "$DIR/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 \
  --data-checksums >"$DIR/initdb.log"
scripts/cluster.sh start "$DIR" "$PORT"
trap cleanup EXIT
"${psql[@]}" -c "CREATE DATABASE $DB"
[ "$(q "SHOW data_checksums")" = on ] || fail "data checksums are off"

# --- examples/chat, and two guests with ~100k rows each -----------------------------------------------------------
"${psql[@]}" -d "$DB" -v guests=300 -c "CREATE EXTENSION pg_gdpr" -f examples/chat/schema.sql \
  -f examples/chat/declare.sql -f examples/chat/data.sql >/dev/null
"${psql[@]}" -d "$DB" >/dev/null <<'SQL'
-- A bulk load: generated consistent, so without the per-row guard and consent triggers and FOREIGN KEY checks.
SET session_replication_role = replica;
INSERT INTO chat.guests (name, email, phone, ip, metadata, consent_version)
VALUES ('Alžběta Crashtestová', 'alzbeta.crashtest@mail.example', '+420 777 100 201', '10.99.0.1',
        '{"address": "Crashova 12, Praha", "browser": "Firefox"}', 'chat-v1'),
       ('Bohumil Crashtester', 'bohumil.crashtester@mail.example', '+420 777 100 202', '10.99.0.2',
        '{"address": "Padajici 7, Brno", "browser": "Chrome"}', 'chat-v2');
CREATE TEMP TABLE big AS SELECT * FROM chat.guests WHERE email LIKE '%.crashtest%@mail.example';
-- 100 chats of 1000 messages each, mentioning the guest's name, e-mail, phone; every 100th with an attachment.
INSERT INTO chat.chat_sessions (guest_id, operator_id, channel, visitor_ip, user_agent, started_at, ended_at)
SELECT g.id, 1 + s % 20, 'web_chat', g.ip, 'Mozilla/5.0 crash/' || s, now() - (s || ' hours')::interval,
       now() - (s || ' hours')::interval + interval '20 minutes'
  FROM big g, generate_series(1, 100) s;
INSERT INTO chat.messages (session_id, author_kind, body, sent_at)
SELECT cs.id, CASE WHEN m % 2 = 1 THEN 'guest' ELSE 'operator' END,
       CASE m % 4 WHEN 1 THEN 'Hi, ' || g.name || ' here, mail me at ' || g.email
                  WHEN 2 THEN 'Operator answer ' || m
                  WHEN 3 THEN 'Call me on ' || g.phone || ', or write to ' || split_part(g.name, ' ', 2)
                  ELSE 'Thanks ' || split_part(g.name, ' ', 1) || ', sent to ' || (g.metadata->>'address') END,
       cs.started_at + (m || ' seconds')::interval
  FROM chat.chat_sessions cs JOIN big g ON g.id = cs.guest_id, generate_series(1, 1000) m;
INSERT INTO chat.attachments (message_id, filename, bytes)
SELECT m.id, 'scan-' || m.id || '.pdf', decode(md5(m.id::text), 'hex')
  FROM chat.messages m JOIN chat.chat_sessions cs ON cs.id = m.session_id JOIN big g ON g.id = cs.guest_id
 WHERE m.id % 100 = 0;
INSERT INTO chat.visitor_events (guest_ref, url, at)
SELECT g.id, 'https://shop.example/cart?step=' || e, now() - (e || ' minutes')::interval
  FROM big g, generate_series(1, 500) e;
INSERT INTO chat.notes (record_type, record_id, created_by, body)
SELECT 'Guest', g.id, 1, 'Called back ' || g.name || ' on ' || g.phone FROM big g, generate_series(1, 5);
RESET session_replication_role;

-- Helpers outside the checked schemas. Every table of chat and gdpr: rows and a checksum of their text.
CREATE SCHEMA crash;
CREATE FUNCTION crash.table_checksums() RETURNS TABLE (tbl text, n bigint, md5 text) LANGUAGE plpgsql AS $$
DECLARE t regclass;
BEGIN
  FOR t IN SELECT c.oid FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
            WHERE s.nspname IN ('chat', 'gdpr') AND c.relkind IN ('r', 'p') ORDER BY 1::regclass::text LOOP
    tbl := t::text;
    EXECUTE format('SELECT count(*), md5(coalesce(string_agg(x::text, E''\n'' ORDER BY x::text COLLATE "C"), ''''))
                      FROM %s x', t) INTO n, md5;
    RETURN NEXT;
  END LOOP;
END $$;
-- Every row tied to one guest (as data.sql ties them): count and checksum.
CREATE FUNCTION crash.guest_rows(gid bigint) RETURNS text LANGUAGE sql AS $$
SELECT count(*) || ' ' || md5(string_agg(r, E'\n' ORDER BY r COLLATE "C")) FROM (
  SELECT 'g' || g::text FROM chat.guests g WHERE g.id = gid
  UNION ALL SELECT 's' || s::text FROM chat.chat_sessions s WHERE s.guest_id = gid
  UNION ALL SELECT 'm' || m::text FROM chat.messages m JOIN chat.chat_sessions s ON s.id = m.session_id
             WHERE s.guest_id = gid
  UNION ALL SELECT 'a' || a::text FROM chat.attachments a JOIN chat.messages m ON m.id = a.message_id
             JOIN chat.chat_sessions s ON s.id = m.session_id WHERE s.guest_id = gid
  UNION ALL SELECT 't' || t::text FROM chat.session_tags t JOIN chat.chat_sessions s ON s.id = t.session_id
             WHERE s.guest_id = gid
  UNION ALL SELECT 'c' || c::text FROM chat.chatbot_leads c JOIN chat.chat_sessions s ON s.id = c.session_id
             WHERE s.guest_id = gid
  UNION ALL SELECT 'o' || o::text FROM chat.offline_leads o WHERE o.guest_id = gid
  UNION ALL SELECT 'v' || v::text FROM chat.visitor_events v WHERE v.guest_ref = gid
  UNION ALL SELECT 'n' || n::text FROM chat.notes n
             WHERE (n.record_type = 'Guest' AND n.record_id = gid)
                OR (n.record_type = 'ChatSession' AND n.record_id IN (SELECT id FROM chat.chat_sessions WHERE guest_id = gid))
) x(r) $$;
-- Rows of any chat table whose text holds one of the given values (case-insensitively).
CREATE FUNCTION crash.rows_holding(vals text[]) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE t regclass; k bigint; total bigint := 0;
BEGIN
  FOR t IN SELECT c.oid FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
            WHERE s.nspname = 'chat' AND c.relkind = 'r' LOOP
    EXECUTE format('SELECT count(*) FROM %s x WHERE x::text ILIKE ANY ($1)', t)
      INTO k USING (SELECT array_agg('%' || v || '%') FROM unnest(vals) v);
    total := total + k;
  END LOOP;
  RETURN total;
END $$;
VACUUM ANALYZE;
SQL
A=$(q "SELECT id FROM chat.guests WHERE email = 'alzbeta.crashtest@mail.example'")
B=$(q "SELECT id FROM chat.guests WHERE email = 'bohumil.crashtester@mail.example'")
OTHER=40   # an ordinary guest of data.sql: sessions, messages, an offline lead, a note, a referral
planted_A="ARRAY['alzbeta.crashtest@mail.example', 'Alžběta', 'Crashtestová', '+420 777 100 201', '420777100201', 'Crashova 12']"
planted_B="ARRAY['bohumil.crashtester@mail.example', 'Bohumil', 'Crashtester', '+420 777 100 202', '420777100202', 'Padajici 7']"
echo "crash: guests $A and $B with $(q "SELECT count(*) FROM chat.messages m JOIN chat.chat_sessions s ON s.id = m.session_id
  WHERE s.guest_id = $A") messages each; setup $(elapsed) s"

# How long one erasure takes: erase guest A in a transaction that rolls back.
t0=$(date +%s%N)
q "BEGIN; SELECT gdpr.anonymize_guest($A); ROLLBACK;" >/dev/null
erase_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
q "VACUUM ANALYZE" >/dev/null
echo "crash: one erasure takes ${erase_ms} ms (rolled back); the crash comes ${erase_ms}/2 ms into it"

# erase_and_crash ID HOW: erase guest ID in a background psql and, half-way through, crash the cluster by HOW
# (kill: kill -9 of the erasing backend; immediate: pg_ctl stop -m immediate); then wait until it accepts
# connections again. Fails the test unless the erasure was cut while running and had written.
erase_and_crash() {
  local id=$1 how=$2 pid="" state="" wal0 wal rc out logpos
  q "CHECKPOINT" >/dev/null
  wal0=$(q "SELECT pg_current_wal_insert_lsn()")
  logpos=$(log_size)
  PGAPPNAME=crash_erasure "${psql[@]}" -d "$DB" -c "SELECT gdpr.anonymize_guest($id)" >"$DIR/erasure.out" 2>&1 &
  bg=$!
  for _ in $(seq 1 200); do
    pid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'crash_erasure' AND state = 'active'
               AND query = 'SELECT gdpr.anonymize_guest($id)'")
    [ -n "$pid" ] && break
    sleep 0.05
  done
  [ -n "$pid" ] || { fail "$how: the erasure never showed up as active in pg_stat_activity"; return 1; }
  sleep "$(awk -v ms="$erase_ms" 'BEGIN { printf "%.3f", ms / 2000 }')"
  # Still running, and already written (an xid is assigned at the first row it locks or changes)?
  state=$(q "SELECT state || ' ' || (backend_xid IS NOT NULL) FROM pg_stat_activity WHERE pid = $pid")
  wal=$(q "SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$wal0'))")
  if [ "$state" != "active true" ]; then
    fail "$how: the erasure was not running and writing at the crash ('$state'): the crash would prove nothing"
    return 1
  fi
  case $how in
    kill) as_postgres kill -9 "$pid" ;;
    immediate) as_postgres "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null ;;
  esac
  rc=0; wait "$bg" || rc=$?
  bg=""
  out=$(cat "$DIR/erasure.out")
  echo "crash: $how: backend $pid cut after ${wal} of WAL; psql exit $rc: $(echo "$out" | head -1)"
  if [ "$rc" = 0 ] || [[ "$out" == *erasure_id* ]]; then
    fail "$how: the erasure completed before the crash (psql exit $rc) — more data needed"
  fi
  if [[ "$out" != *"server closed the connection unexpectedly"* && "$out" != *"terminating connection"* ]]; then
    fail "$how: the erasure did not end by losing its server: $out"
  fi
  if [ "$how" = immediate ]; then
    scripts/cluster.sh start "$DIR" "$PORT"
  fi
  local ready=""
  for _ in $(seq 1 600); do
    if log_since "$logpos" | grep -q "database system is ready to accept connections" \
       && "$PGBIN/pg_isready" -q -h "$DIR/socket" -p "$PORT" && q "SELECT 1" >/dev/null 2>&1; then
      ready=1; break
    fi
    sleep 0.1
  done
  [ -n "$ready" ] || { fail "$how: the cluster did not accept connections within 60 s of the crash"; return 1; }
  local log
  log=$(log_since "$logpos")
  case $how in
    kill)
      grep -q "server process (PID $pid) was terminated by signal 9" <<<"$log" \
        || fail "kill: the server log does not show backend $pid killed by signal 9"
      grep -q "Failed process was running: SELECT gdpr.anonymize_guest($id)" <<<"$log" \
        || fail "kill: the server log does not show the killed backend running the erasure"
      grep -q "all server processes terminated; reinitializing" <<<"$log" \
        || fail "kill: the postmaster did not reinitialize"
      ;;
    immediate)
      grep -q "received immediate shutdown request" <<<"$log" || fail "immediate: no immediate shutdown in the log"
      ;;
  esac
  grep -q "automatic recovery in progress" <<<"$log" || fail "$how: no crash recovery in the server log"
  echo "crash: $how: recovered ($(grep -o 'redo done at [^ ]*.*' <<<"$log" | head -1))"
}

# after_crash ID PLANTED BEFORE_CHECKSUMS ROWS_HOLDING_BEFORE NAME: the subject wholly untouched, nothing of the erasure anywhere.
after_crash() {
  local id=$1 planted=$2 before=$3 held=$4 how=$5 after
  after=$(q "SELECT tbl || ' ' || n || ' ' || md5 FROM crash.table_checksums()")
  if [ "$before" != "$after" ]; then
    fail "$how: tables changed by an erasure that never committed:"
    diff <(echo "$before") <(echo "$after") || true
  fi
  check "$how: no log entry" "SELECT count(*) FROM gdpr.erasure_log WHERE kind = 'guest' AND subject_id = '$id'
                              AND NOT dry_run" "0"
  check "$how: no erased-row marker" "SELECT count(*) FROM gdpr.erased_row
                                      WHERE tbl = 'chat.guests'::regclass AND key = '$id'" "0"
  check "$how: guest still there" "SELECT email = ($planted)[1] FROM chat.guests WHERE id = $id" "t"
  check "$how: its values all still there" "SELECT crash.rows_holding($planted)" "$held"
}

# erase_again ID PLANTED NAME: a second erasure succeeds, is logged once, leaves none of the guest's values.
erase_again() {
  local id=$1 planted=$2 how=$3 report
  report=$(q "SELECT gdpr.anonymize_guest($id)" 2>&1) || { fail "$how: second erasure failed: $report"; return 0; }
  echo "crash: $how: second erasure of guest $id: $(q "SELECT (r->>'total_rows') || ' rows in ' ||
        round((r->>'duration_ms')::numeric) || ' ms' FROM (SELECT \$r\$$report\$r\$::jsonb) x(r)")"
  check "$how: one log entry" "SELECT count(*) || ' ' || bool_and(l.erasure_id = (r->>'erasure_id')::uuid
                                  AND l.rows_total = (r->>'total_rows')::bigint)
                               FROM gdpr.erasure_log l, (SELECT \$r\$$report\$r\$::jsonb) x(r)
                               WHERE l.kind = 'guest' AND l.subject_id = '$id' AND NOT l.dry_run" "1 true"
  check "$how: messages erased" "SELECT t->>'rows' FROM jsonb_array_elements(\$r\$$report\$r\$::jsonb->'tables') t
                                 WHERE t->>'table' = 'chat.messages'" "100000"
  check "$how: erased-row marker" "SELECT count(*) > 0 FROM gdpr.erased_row
                                   WHERE tbl = 'chat.guests'::regclass AND key = '$id'" "t"
  check "$how: no planted value left" "SELECT crash.rows_holding($planted)" "0"
  check "$how: guest row anonymized" "SELECT ip IS NULL AND email NOT LIKE '%crashte%' FROM chat.guests
                                      WHERE id = $id" "t"
  check "$how: attachments and events deleted" "SELECT (SELECT count(*) FROM chat.attachments a
      JOIN chat.messages m ON m.id = a.message_id JOIN chat.chat_sessions s ON s.id = m.session_id
      WHERE s.guest_id = $id) + (SELECT count(*) FROM chat.visitor_events WHERE guest_ref = $id)" "0"
}
check "markers only of logged erasures" "SELECT count(*) FROM gdpr.erased_row r
  WHERE NOT EXISTS (SELECT 1 FROM gdpr.erasure_log l WHERE l.erasure_id = r.erasure_id)" "0"

# --- 1. kill -9 of the erasing backend ----------------------------------------------------------------------------
before=$(q "SELECT tbl || ' ' || n || ' ' || md5 FROM crash.table_checksums()")
other_before=$(q "SELECT crash.guest_rows($OTHER)")
b_before=$(q "SELECT crash.guest_rows($B)")
held=$(q "SELECT crash.rows_holding($planted_A)")
erase_and_crash "$A" kill
after_crash "$A" "$planted_A" "$before" "$held" kill
erase_again "$A" "$planted_A" kill
check "kill: other guest's rows identical" "SELECT crash.guest_rows($OTHER)" "$other_before"
check "kill: other big guest's rows identical" "SELECT crash.guest_rows($B)" "$b_before"

# --- 2. pg_ctl stop -m immediate during the erasure of the other big guest ----------------------------------------
before=$(q "SELECT tbl || ' ' || n || ' ' || md5 FROM crash.table_checksums()")
a_before=$(q "SELECT crash.guest_rows($A)")
held=$(q "SELECT crash.rows_holding($planted_B)")
erase_and_crash "$B" immediate
after_crash "$B" "$planted_B" "$before" "$held" immediate
erase_again "$B" "$planted_B" immediate
check "immediate: other guest's rows identical" "SELECT crash.guest_rows($OTHER)" "$other_before"
check "immediate: erased guest's rows identical" "SELECT crash.guest_rows($A)" "$a_before"
check "markers only of logged erasures" "SELECT count(*) FROM gdpr.erased_row r
  WHERE NOT EXISTS (SELECT 1 FROM gdpr.erasure_log l WHERE l.erasure_id = r.erasure_id)" "0"

# --- every page of the stopped cluster still carries a valid checksum ---------------------------------------------
scripts/cluster.sh stop "$DIR"
if sums=$(as_postgres "$PGBIN/pg_checksums" --check -D "$DIR/data" 2>&1); then
  echo "crash: pg_checksums: $(grep -E 'Blocks scanned|Bad checksums' <<<"$sums" | tr -s ' ' | paste -sd, -)"
else
  fail "pg_checksums --check: $sums"
fi

done_=1
echo "crash: $(elapsed) s in all"
echo "test crash                        ... $result"
[ "$result" = ok ]
