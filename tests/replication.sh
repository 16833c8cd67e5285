#!/usr/bin/env bash
# Erasures on a replicated primary. Three throwaway clusters: a primary (wal_level = logical) with examples/chat,
# its consent triggers and erased-subject guards; a streaming standby built with pg_basebackup -R; a logical
# subscriber (the same migrations: schema.sql and declare.sql, no data) subscribed to FOR TABLES IN SCHEMA chat.
#   * a guest erased on the primary leaves none of their values on the standby nor on the subscriber, which end
#     up identical to the primary (every chat table compared); the standby has the erasure log entry and the
#     guard's markers, the subscriber has neither (gdpr.* is not published); old row versions stay on each copy
#     until VACUUM — the primary's, replayed, on the standby; the subscriber's own on the subscriber;
#   * the standby refuses to erase (read-only) with 25006, changing nothing;
#   * a publication that publishes deletes makes erasures fail whole until every table an erasure deletes from
#     has a replica identity (chat.visitor_events has no primary key: REPLICA IDENTITY FULL);
#   * during apply (session_replication_role = replica) neither the consent trigger, nor the guard, nor the
#     FOREIGN KEYs to gdpr.consent fire: leads whose consents the subscriber lacks are applied, and a late write
#     made on the subscriber itself is let in — until gdpr.erased_row is published too (inserts only), which
#     makes the subscriber's guard refuse it; an ENABLE ALWAYS consent trigger stops the apply unless gdpr.consent
#     is published; an ENABLE ALWAYS guard, with the markers published, stops it at the next update of an erased
#     row (erasing the guest again). Apply errors disable the subscription (disable_on_error) and are counted.
# Starts and stops its own clusters (ports REPL_PRIMARY_PORT, REPL_STANDBY_PORT, REPL_SUBSCRIBER_PORT under
# REPL_DIR, default 55443-55445 and /tmp/pg_gdpr_repl); never touches another one.
set -euo pipefail
cd "$(dirname "$0")/.."
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
BASE=${REPL_DIR:-/tmp/pg_gdpr_repl}
PRIMARY=$BASE/primary
STANDBY=$BASE/standby
SUBSCRIBER=$BASE/subscriber
PRIMARY_PORT=${REPL_PRIMARY_PORT:-55443}
STANDBY_PORT=${REPL_STANDBY_PORT:-55444}
SUBSCRIBER_PORT=${REPL_SUBSCRIBER_PORT:-55445}
DB=chat
GUEST=20     # erased on the primary: sessions, messages, attachments, an offline and a chatbot lead, a note, a call
OTHER=12     # the standby is asked to erase it; erased on the primary later
SUB=gdpr_chat
SUBLOG=$SUBSCRIBER/data/server.log

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else sudo -u postgres -- "$@"; fi
}
stop_all() {
  local d
  for d in "$SUBSCRIBER" "$STANDBY" "$PRIMARY"; do scripts/cluster.sh stop "$d" >/dev/null 2>&1 || true; done
}
stop_all
rm -rf "$BASE"
finished=""
# Stops the clusters whatever happens; a step that aborts the script (set -e) still ends with the test's line.
trap 'rc=$?; stop_all; [ -n "$finished" ] || echo "test replication                  ... FAILED (exit $rc)"' EXIT

started=$(date +%s)
p=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$PRIMARY/socket" -p "$PRIMARY_PORT" -U postgres)
s=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$STANDBY/socket" -p "$STANDBY_PORT" -U postgres)
u=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$SUBSCRIBER/socket" -p "$SUBSCRIBER_PORT" -U postgres)

result=ok
fail() { echo "replication: $*"; result=FAILED; }
say() { echo "replication: $*"; }
run() { # run p|s|u SQL
  local -n _cl=$1
  "${_cl[@]}" -d "$DB" -c "$2"
}
err() { # err p|s|u SQL: "SQLSTATE message" of the error SQL raises, or "no error"
  local -n _cl=$1
  local out
  if out=$("${_cl[@]}" -d "$DB" -v VERBOSITY=verbose -c "$2" 2>&1 >/dev/null); then
    echo "no error"
  else
    sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\): /\1 /p' <<<"$out" | head -n 1
  fi
}
check() { # check p|s|u NAME SQL EXPECTED
  local got
  got=$(run "$1" "$3" 2>&1) || true
  [ "$got" = "$4" ] || fail "$1: $2: expected '$4', got '$got'"
}
check_error() { # check_error p|s|u NAME SQL EXPECTED ("SQLSTATE message" or "no error")
  local got
  got=$(err "$1" "$3")
  [ "$got" = "$4" ] || fail "$1: $2: expected '$4', got '$got'"
}
same() { # same NAME GOT EXPECTED
  [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"
}
wait_for() { # wait_for p|s|u NAME SQL EXPECTED: polls for up to 30 s
  local got="" i
  for i in $(seq 1 300); do
    got=$(run "$1" "$3" 2>&1) || true
    [ "$got" = "$4" ] && return 0
    sleep 0.1
  done
  fail "$1: $2: waited 30 s for '$4', still '$got'"
}

# Every row of every table of schema chat, per table: "table rows md5" (rows compared in their text form).
read -r -d '' DIGEST_SQL <<'SQL' || true
SELECT 'SELECT l FROM (' || string_agg(format(
         'SELECT %L || '' '' || count(*) || '' '' || coalesce(md5(string_agg(t::text, E''\n'' ORDER BY t::text)), ''-'') FROM %s t',
         c.oid::regclass, c.oid::regclass), ' UNION ALL ') || ') u(l) ORDER BY l'
  FROM pg_class c WHERE c.relnamespace = 'chat'::regnamespace AND c.relkind = 'r'
SQL
# The text form of every row of every table of schema chat, as (tbl, r).
read -r -d '' ROWS_SQL <<'SQL' || true
SELECT string_agg(format('SELECT %L AS tbl, t::text AS r FROM %s t', c.oid::regclass, c.oid::regclass), ' UNION ALL ')
  FROM pg_class c WHERE c.relnamespace = 'chat'::regnamespace AND c.relkind = 'r'
SQL
digest() { run "$1" "$(run "$1" "$DIGEST_SQL")"; }
# The tables of schema chat whose rows hold one of the values of text[] literal $2 (case-insensitive).
holding() { echo "SELECT coalesce(string_agg(DISTINCT tbl, ',' ORDER BY tbl), '') FROM ($(run "$1" "$ROWS_SQL")) x,
                      unnest($2::text[]) v WHERE strpos(lower(x.r), lower(v)) > 0"; }
# Rows tied to guest $1: theirs, their sessions', messages', leads', notes'.
tied_rows() {
  cat <<SQL
SELECT t::text AS r FROM chat.guests t WHERE id = $1
UNION ALL SELECT t::text FROM chat.chat_sessions t WHERE guest_id = $1
UNION ALL SELECT t::text FROM chat.messages t WHERE session_id IN (SELECT id FROM chat.chat_sessions WHERE guest_id = $1)
UNION ALL SELECT t::text FROM chat.chatbot_leads t WHERE session_id IN (SELECT id FROM chat.chat_sessions WHERE guest_id = $1)
UNION ALL SELECT t::text FROM chat.offline_leads t WHERE guest_id = $1
UNION ALL SELECT t::text FROM chat.notes t WHERE (record_type = 'Guest' AND record_id = $1)
   OR (record_type = 'ChatSession' AND record_id IN (SELECT id FROM chat.chat_sessions WHERE guest_id = $1))
SQL
}
replayed() { # the standby has replayed everything the primary has written so far
  local lsn
  lsn=$(run p "SELECT pg_current_wal_lsn()")
  wait_for s "$1: replay" "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn" t
}
applied() { # the subscriber's chat tables are the primary's
  local want got="" i
  want=$(digest p)
  for i in $(seq 1 300); do
    got=$(digest u 2>&1) || true
    [ "$got" = "$want" ] && return 0
    sleep 0.1
  done
  fail "u: $1: the subscriber's chat tables differ from the primary's after 30 s:
$(diff <(echo "$want") <(echo "$got") || true)"
}
apply_errors() { echo "SELECT apply_error_count || ' ' || sync_error_count FROM pg_stat_subscription_stats
                        WHERE subname = '$SUB'"; }
# Errors of the apply worker in the subscriber's log: an ERROR whose CONTEXT says "processing remote data".
apply_failures() {
  awk 'function flush() { if (msg != "" && remote) print msg; msg = ""; remote = 0 }
       /^[0-9]/ { if ($0 ~ / ERROR:  /) { flush(); msg = $0; sub(/^.* ERROR:  /, "", msg); next }
                  if ($0 !~ / CONTEXT:  /) flush() }
       msg != "" && /processing remote data/ { remote = 1 }
       END { flush() }' "$SUBLOG"
}

# --- the primary: examples/chat with its consent triggers and guards ------------------------------------------
CLUSTER_OPTS="-c wal_level=logical -c autovacuum=off" scripts/cluster.sh start "$PRIMARY" "$PRIMARY_PORT"
"${p[@]}" -c "CREATE DATABASE $DB"
# pageinspect shows the old row versions an erasure leaves until VACUUM (created here: the standby gets it too).
"${p[@]}" -d "$DB" -v guests=20 -c "CREATE EXTENSION pg_gdpr" -c "CREATE EXTENSION pageinspect" \
  -f examples/chat/schema.sql -f examples/chat/declare.sql -f examples/chat/data.sql >/dev/null
check p "consent triggers and guards on the chat tables" \
  "SELECT tgname || ' ' || count(*) FROM pg_trigger WHERE tgrelid::regclass::text LIKE 'chat.%'
     AND tgname IN ('gdpr_consent_consent_id', 'gdpr_erased_guard') AND tgenabled = 'O' GROUP BY tgname ORDER BY 1" \
  "gdpr_consent_consent_id 2
gdpr_erased_guard 9"

# --- the standby: pg_basebackup -R (initdb --auth=trust has "local replication all trust") ---------------------
mkdir -p "$STANDBY"
chown postgres:postgres "$STANDBY"
as_postgres mkdir -p "$STANDBY/socket"
as_postgres "$PGBIN/pg_basebackup" -h "$PRIMARY/socket" -p "$PRIMARY_PORT" -U postgres -D "$STANDBY/data" -R -X stream -c fast
: >"$STANDBY/data/server.log"   # copied from the primary's data directory
CLUSTER_OPTS="-c autovacuum=off" scripts/cluster.sh start "$STANDBY" "$STANDBY_PORT"
check s "in recovery" "SELECT pg_is_in_recovery()" t

# --- the subscriber: the same migrations, no data --------------------------------------------------------------
CLUSTER_OPTS="-c autovacuum=off -c wal_retrieve_retry_interval=200ms" \
  scripts/cluster.sh start "$SUBSCRIBER" "$SUBSCRIBER_PORT"
"${u[@]}" -c "CREATE DATABASE $DB"
"${u[@]}" -d "$DB" -c "CREATE EXTENSION pg_gdpr" -c "CREATE EXTENSION pageinspect" \
  -f examples/chat/schema.sql -f examples/chat/declare.sql >/dev/null

run p "CREATE PUBLICATION $SUB FOR TABLES IN SCHEMA chat"
# A publication that publishes deletes refuses them on a table without replica identity: the erasure (which
# deletes the guest's visitor_events) fails whole, naming the table, and changes nothing.
check_error p "erasure while chat.visitor_events has no replica identity" "SELECT gdpr.anonymize_guest($GUEST)" \
  "55000 gdpr: deleting from table chat.visitor_events as its owner postgres: cannot delete from table \"visitor_events\" because it does not have a replica identity and publishes deletes"
check p "nothing erased, nothing logged" \
  "SELECT (SELECT email FROM chat.guests WHERE id = $GUEST) || ' ' || (SELECT count(*) FROM gdpr.erasure_log)" \
  "guest$GUEST@mail.example 0"
run p "ALTER TABLE chat.visitor_events REPLICA IDENTITY FULL"

# disable_on_error: an apply error disables the subscription (and is counted) instead of being retried forever.
PGOPTIONS="-c client_min_messages=warning" run u "CREATE SUBSCRIPTION $SUB
  CONNECTION 'host=$PRIMARY/socket port=$PRIMARY_PORT dbname=$DB user=postgres'
  PUBLICATION $SUB WITH (disable_on_error = true)"
tables=$(run p "SELECT count(*) FROM pg_tables WHERE schemaname = 'chat'")
wait_for u "initial sync" "SELECT count(*) FILTER (WHERE srsubstate = 'r') || '/' || count(*) FROM pg_subscription_rel" \
  "$tables/$tables"
applied "initial sync"
leads=$(run p "SELECT (SELECT count(*) FROM chat.offline_leads) + (SELECT count(*) FROM chat.chatbot_leads)")
# (c) The sync copied the leads although the subscriber's gdpr.consent is empty: neither the consent trigger nor
# the FOREIGN KEY to gdpr.consent (its RI triggers are ordinary ones too) fired; the key stays "valid".
check u "FOREIGN KEYs to gdpr.consent (validated)" \
  "SELECT string_agg(conrelid::regclass || ' ' || convalidated, ', ' ORDER BY conrelid::regclass::text)
     FROM pg_constraint WHERE confrelid = 'gdpr.consent'::regclass" "chat.chatbot_leads true, chat.offline_leads true"
ORPHANS="SELECT count(*) FROM (SELECT consent_id FROM chat.offline_leads UNION ALL SELECT consent_id FROM chat.chatbot_leads) l
          WHERE NOT EXISTS (SELECT 1 FROM gdpr.consent c WHERE c.id = l.consent_id)"
check u "leads whose consent the subscriber does not have" "$ORPHANS" "$leads"
say "primary, standby and subscriber up ($(($(date +%s) - started)) s); $leads leads synced without their consents"

# --- erase a guest on the primary --------------------------------------------------------------------------------
# Values unique to the guest, searched in every row of every chat table; their name (shared with guest 10) only in
# the rows tied to them.
values=$(run p "SELECT quote_literal(ARRAY[email, phone, regexp_replace(phone, '[^0-9]', '', 'g'), host(ip),
                       metadata->>'address', split_part(metadata->>'address', ',', 1)]::text)
                  FROM chat.guests WHERE id = $GUEST")
names=$(run p "SELECT quote_literal(ARRAY[name, split_part(name, ' ', 2)]::text) FROM chat.guests WHERE id = $GUEST")
NAMES_SQL="SELECT count(*) FROM ($(tied_rows $GUEST)) x, unnest($names::text[]) v WHERE x.r ~* ('\\m' || v || '\\M')"
holders="chat.call_log,chat.chat_sessions,chat.chatbot_leads,chat.guests,chat.messages,chat.offline_leads"
for c in p s u; do
  check $c "before: tables holding guest $GUEST's values $values" "$(holding $c "$values")" "$holders"
done
check p "before: their name in their rows" "SELECT ($NAMES_SQL) > 0" t
EMAIL=$(run p "SELECT email FROM chat.guests WHERE id = $GUEST")
# Tuples (live or dead, as long as a line pointer keeps them) and raw pages of chat.guests holding the e-mail.
VERSIONS="SELECT count(*) FROM generate_series(0, pg_relation_size('chat.guests') / 8192 - 1) b,
                 heap_page_items(get_raw_page('chat.guests', b::int)) i
           WHERE position(convert_to('$EMAIL', 'UTF8') IN i.t_data) > 0"
PAGES="SELECT count(*) FROM generate_series(0, pg_relation_size('chat.guests') / 8192 - 1) b
        WHERE position(convert_to('$EMAIL', 'UTF8') IN get_raw_page('chat.guests', b::int)) > 0"

run p "SELECT gdpr.anonymize_guest($GUEST, traces => true)" >/dev/null
check p "after: tables holding guest $GUEST's values" "$(holding p "$values")" ""

# --- the standby: WAL replay brings everything, the old row versions included -----------------------------------
replayed "erasure"
check s "after: tables holding guest $GUEST's values" "$(holding s "$values")" ""
check s "after: their name in their rows" "$NAMES_SQL" 0
check s "after: their visitor events and attachments" \
  "SELECT (SELECT count(*) FROM chat.visitor_events WHERE guest_ref = $GUEST) + (SELECT count(*) FROM chat.attachments a
     JOIN chat.messages m ON m.id = a.message_id JOIN chat.chat_sessions cs ON cs.id = m.session_id WHERE cs.guest_id = $GUEST)" 0
check s "the erasure log entry and the guard's markers" \
  "SELECT (SELECT count(*) FROM gdpr.erasure_log WHERE kind = 'guest' AND subject_id = '$GUEST' AND NOT dry_run)
          || ' ' || (SELECT count(*) FROM gdpr.erased_row)" \
  "1 $(run p "SELECT count(*) FROM gdpr.erased_row")"
[ "$(digest s)" = "$(digest p)" ] || fail "s: the standby's chat tables differ from the primary's"
versions=$(run p "$VERSIONS")
[ "$versions" -gt 0 ] || fail "p: expected the erasure's old versions of guest $GUEST's row, found none"
check s "old versions of guest $GUEST's row, until the primary's VACUUM" "$VERSIONS" "$versions"

# The standby is read-only: an erasure there fails with 25006 and changes nothing; so do the functions that read
# through pg_gdpr's statements (they take a transaction id, which a server in recovery cannot assign).
for f in "anonymize_guest($OTHER)" "anonymize_guest($OTHER, dry_run => true)" "export_guest($OTHER)"; do
  got=$(err s "SELECT gdpr.$f")
  case "$got" in
    "25006 gdpr: "*"runs on the primary: this server is a standby (recovery in progress)") ;;
    *) fail "s: gdpr.$f on the standby: expected 25006 naming the standby, got '$got'" ;;
  esac
done
check s "guest $OTHER untouched on the standby" "SELECT email FROM chat.guests WHERE id = $OTHER" "guest$OTHER@mail.example"
check p "guest $OTHER untouched on the primary" "SELECT email FROM chat.guests WHERE id = $OTHER" "guest$OTHER@mail.example"

# --- the subscriber: only the new row values arrive ---------------------------------------------------------------
applied "erasure"
check u "after: tables holding guest $GUEST's values" "$(holding u "$values")" ""
check u "after: their name in their rows" "$NAMES_SQL" 0
check u "the subscriber's own gdpr tables (not published): erasure log, markers, consents" \
  "SELECT (SELECT count(*) FROM gdpr.erasure_log) || ' ' || (SELECT count(*) FROM gdpr.erased_row)
          || ' ' || (SELECT count(*) FROM gdpr.consent)" "0 0 0"
# The value the sync copied is now the subscriber's own dead tuple: the primary's VACUUM does not reach it.
check u "old version of guest $GUEST's row (from the initial copy)" "SELECT ($VERSIONS) > 0" t
run p "VACUUM chat.guests"
replayed "VACUUM"
check p "after VACUUM: versions holding the e-mail" "$VERSIONS" 0
check s "after the primary's VACUUM, replayed: versions holding the e-mail" "$VERSIONS" 0
say "after VACUUM, raw pages of chat.guests still holding the e-mail's bytes (free space, not zeroed):" \
    "primary $(run p "$PAGES"), standby $(run s "$PAGES")"
check u "after the primary's VACUUM, the subscriber's own old version" "SELECT ($VERSIONS) > 0" t
run u "VACUUM chat.guests"
check u "after the subscriber's VACUUM" "$VERSIONS" 0
check u "apply and sync errors" "$(apply_errors)" "0 0"

# --- triggers during apply ------------------------------------------------------------------------------------------
session=$(run p "SELECT min(id) FROM chat.chat_sessions WHERE guest_id = $GUEST")
LATE="INSERT INTO chat.messages (id, session_id, author_kind, body, sent_at) OVERRIDING SYSTEM VALUE
      VALUES (1000000, $session, 'guest', 'are you still there?', now())"
REFUSED="55000 gdpr: chat.messages: (session_id) = ($session) refers to a row of chat.chat_sessions that was erased; data for an erased subject is refused"
# (a) The primary's guard refuses a late message for the erased guest; the subscriber's guard knows nothing of the
# erasure (its gdpr.erased_row is empty) and lets the same message in.
check_error p "late message for erased guest $GUEST" "$LATE" "$REFUSED"
check_error u "late message for erased guest $GUEST, written on the subscriber" "$LATE" "no error"
run u "DELETE FROM chat.messages WHERE id = 1000000"

new_lead() { # new_lead GUEST EMAIL: a chatbot lead with a fresh consent, on the primary → "lead_id consent_id"
  run p "INSERT INTO chat.chatbot_leads (session_id, email, phone, consent_id)
         SELECT cs.id, '$2', '+420 777 000 $1', gdpr.grant_consent(t.id, 'chatbot', 'guest', cs.guest_id::text)
           FROM chat.chat_sessions cs, gdpr.consent_text t
          WHERE cs.guest_id = $1 AND t.purpose = 'chatbot_leads' AND t.active ORDER BY cs.id LIMIT 1
         RETURNING id || ' ' || consent_id"
}
# (b) A lead written on the primary under a valid consent is applied although the consent is not on the
# subscriber; written on the subscriber itself, the same row is refused by its consent trigger; under
# session_replication_role = replica (what the apply worker runs with) nothing checks it.
read -r lead consent <<<"$(new_lead 8 lead.b@mail.example)"
wait_for u "lead $lead applied" "SELECT count(*) FROM chat.chatbot_leads WHERE id = $lead" 1
COPY_LEAD="INSERT INTO chat.chatbot_leads (id, session_id, email, phone, consent_id) OVERRIDING SYSTEM VALUE
           SELECT 1000001, session_id, email, phone, consent_id FROM chat.chatbot_leads WHERE id = $lead"
check_error u "the same lead written on the subscriber" "$COPY_LEAD" \
  "23503 gdpr: chat.chatbot_leads.consent_id: consent $consent does not exist"
check_error u "... under session_replication_role = replica" \
  "BEGIN; SET LOCAL session_replication_role = replica; $COPY_LEAD; ROLLBACK" "no error"
check u "apply and sync errors" "$(apply_errors)" "0 0"
same "u: apply failures in the subscriber's log" "$(apply_failures)" ""

# ENABLE ALWAYS on the subscriber's consent trigger: the next lead stops the apply (the subscriber has no consents);
# back to ENABLE, the apply goes on from there.
run u "ALTER TABLE chat.chatbot_leads ENABLE ALWAYS TRIGGER gdpr_consent_consent_id"
read -r lead consent <<<"$(new_lead 8 lead.d@mail.example)"
wait_for u "subscription disabled by the apply error" "SELECT NOT subenabled FROM pg_subscription WHERE subname = '$SUB'" t
wait_for u "apply and sync errors" "$(apply_errors)" "1 0"
same "u: apply failures in the subscriber's log" "$(apply_failures)" \
  "gdpr: chat.chatbot_leads.consent_id: consent $consent does not exist"
errors=1
run u "ALTER TABLE chat.chatbot_leads ENABLE TRIGGER gdpr_consent_consent_id"
run u "ALTER SUBSCRIPTION $SUB ENABLE"
wait_for u "lead $lead applied once the trigger is ENABLE again" "SELECT count(*) FROM chat.chatbot_leads WHERE id = $lead" 1

# Publishing the guard's markers (inserts only: pg_gdpr deletes markers of dropped tables, and erased_row has no
# replica identity) and the consent registry: the subscriber's own writes are checked as on the primary.
run p "CREATE PUBLICATION gdpr_markers FOR TABLE gdpr.erased_row WITH (publish = 'insert')"
run p "CREATE PUBLICATION gdpr_consents FOR TABLE gdpr.consent_text, gdpr.consent"
run u "ALTER SUBSCRIPTION $SUB ADD PUBLICATION gdpr_markers, gdpr_consents"
all=$((tables + 3))
wait_for u "sync of the gdpr tables" \
  "SELECT count(*) FILTER (WHERE srsubstate = 'r') || '/' || count(*) FROM pg_subscription_rel" "$all/$all"
wait_for u "the guard's markers" "SELECT count(*) FROM gdpr.erased_row" "$(run p "SELECT count(*) FROM gdpr.erased_row")"
check_error u "late message for erased guest $GUEST on the subscriber, markers published" "$LATE" "$REFUSED"
check u "leads whose consent the subscriber does not have, consents published" "$ORPHANS" 0
check_error u "a lead written on the subscriber with a replicated consent" "BEGIN; $COPY_LEAD; ROLLBACK" "no error"
# ... and an ENABLE ALWAYS consent trigger then lets the apply through, a withdrawal (anonymize) included.
run u "ALTER TABLE chat.chatbot_leads ENABLE ALWAYS TRIGGER gdpr_consent_consent_id"
read -r lead consent <<<"$(new_lead 4 lead.e@mail.example)"
applied "lead $lead under consent $consent, consent trigger ENABLE ALWAYS"
run p "SELECT gdpr.withdraw_consent($consent)" >/dev/null
# gdpr.consent's links arrive already set (its ENABLE ALWAYS chain trigger keeps them): the withdrawal applies.
WITHDRAWN="SELECT withdrawn_at IS NOT NULL FROM gdpr.consent WHERE id = $consent"
STOPPED="SELECT NOT subenabled FROM pg_subscription WHERE subname = '$SUB'"
wait_for u "consent $consent withdrawn" "$WITHDRAWN" t
check u "its withdrawal link as on the primary" "SELECT encode(withdrawal_hash, 'hex') FROM gdpr.consent WHERE id = $consent" \
  "$(run p "SELECT encode(withdrawal_hash, 'hex') FROM gdpr.consent WHERE id = $consent")"
check u "consent $consent withdrawn on the subscriber" "$WITHDRAWN" t
applied "the withdrawal of consent $consent (anonymize), consent trigger ENABLE ALWAYS"
run u "ALTER TABLE chat.chatbot_leads ENABLE TRIGGER gdpr_consent_consent_id"

# ENABLE ALWAYS on the subscriber's guards, markers published: a first erasure is applied (its markers come after
# its changes); the next update of an erased row — erasing the guest again — stops the apply.
GUARDED="SELECT tgrelid::regclass FROM pg_trigger WHERE tgname = 'gdpr_erased_guard' ORDER BY 1"
for t in $(run u "$GUARDED"); do run u "ALTER TABLE $t ENABLE ALWAYS TRIGGER gdpr_erased_guard"; done
run p "SELECT gdpr.anonymize_guest($OTHER)" >/dev/null
applied "erasure of guest $OTHER, guards ENABLE ALWAYS"
check u "apply and sync errors" "$(apply_errors)" "$errors 0"
run p "SELECT gdpr.anonymize_guest($GUEST)" >/dev/null
errors=$((errors + 1))
wait_for u "subscription disabled by the apply error" "$STOPPED" t
wait_for u "apply and sync errors" "$(apply_errors)" "$errors 0"
same "u: apply failures in the subscriber's log" "$(apply_failures | tail -n 1)" \
  "gdpr: chat.guests: the row with (id) = ($GUEST) was erased; data for an erased subject is refused"
for t in $(run u "$GUARDED"); do run u "ALTER TABLE $t ENABLE TRIGGER gdpr_erased_guard"; done
run u "ALTER SUBSCRIPTION $SUB ENABLE"
applied "the second erasure of guest $GUEST, guards ENABLE again"

# --- in the end all three agree --------------------------------------------------------------------------------------
replayed "the end"
[ "$(digest s)" = "$(digest p)" ] || fail "s: the standby's chat tables differ from the primary's at the end"
check s "erasure log entries" "SELECT count(*) FROM gdpr.erasure_log" "$(run p "SELECT count(*) FROM gdpr.erasure_log")"
same "u: apply failures in the subscriber's log" "$(apply_failures | wc -l)" "$errors"
say "done in $(($(date +%s) - started)) s"
finished=yes
echo "test replication                  ... $result"
[ "$result" = ok ]
