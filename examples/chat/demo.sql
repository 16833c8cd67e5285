-- The demo: a person's request, end to end. They write with their e-mail in capitals and their phone in another
-- format than the one stored; the DBA finds them, shows them what is held about them, erases it (traces in the
-- call log included), and proves nothing is left. Then: late writes refused, consent enforced.
\pset footer off

\echo
\echo '=== A person writes: "Delete everything you have about me. GUEST40@MAIL.EXAMPLE, 00420 600 316 760" ==='
\echo '--- gdpr.find_guests: which guest is it? (e-mail trimmed and case-insensitive, phone by its digits)'
SELECT subject_id, score,
       (SELECT string_agg((m->>'category') || ' in ' || (m->>'table') || '.' || (m->>'column'), ', ')
          FROM jsonb_array_elements(matches) m) AS "matched (where, never what)"
  FROM gdpr.find_guests(email => ' GUEST40@MAIL.EXAMPLE ', phone => '00420 600 316 760');
SELECT subject_id AS guest FROM gdpr.find_guests(email => ' GUEST40@MAIL.EXAMPLE ', phone => '00420 600 316 760')
 ORDER BY score DESC LIMIT 1 \gset

\echo
\echo '--- gdpr.export_guest: what we hold about them (right of access; the full document is JSON, summarised here)'
SELECT t->>'table' AS "table", t->>'row_count' AS rows, t->>'path' AS "reached through",
       (SELECT string_agg(DISTINCT c.value #>> '{}', ', ') FROM jsonb_each(t->'categories') c) AS categories
  FROM jsonb_array_elements(gdpr.export_guest(:guest)->'tables') t;
SELECT e->'categories' AS "categories of personal data", jsonb_array_length(e->'consents') AS consents,
       pg_size_pretty(octet_length(e::text)::bigint) AS "export size"
  FROM gdpr.export_guest(:guest) e;

\echo
\echo '--- gdpr.locate: rows no key ties to them, holding their identifiers (the call log stores the number as digits)'
SELECT table_name, row_key, columns, categories FROM gdpr.locate('guest', :'guest');
SELECT payload AS "call log entry" FROM chat.call_log
 WHERE id IN (SELECT (row_key->>'id')::bigint FROM gdpr.locate('guest', :'guest'));
\set show_rows 'SELECT ''guests'' AS "table", g::text AS "row" FROM chat.guests g WHERE id = :guest UNION ALL SELECT ''chat_sessions'', s::text FROM chat.chat_sessions s WHERE guest_id = :guest UNION ALL (SELECT ''messages'', m::text FROM chat.messages m JOIN chat.chat_sessions s ON s.id = m.session_id WHERE s.guest_id = :guest ORDER BY m.session_id, m.id LIMIT 8) UNION ALL SELECT ''attachments'', a::text FROM chat.attachments a JOIN chat.messages m ON m.id = a.message_id JOIN chat.chat_sessions s ON s.id = m.session_id WHERE s.guest_id = :guest UNION ALL SELECT ''offline_leads'', l::text FROM chat.offline_leads l WHERE guest_id = :guest UNION ALL SELECT ''visitor_events'', e::text FROM chat.visitor_events e WHERE guest_ref = :guest UNION ALL SELECT ''notes'', n::text FROM chat.notes n WHERE record_type = ''Guest'' AND record_id = :guest'

\echo
\echo '=== Guest' :guest 'before the erasure (the 8 first messages of their first chat shown) ==='
:show_rows;

-- What the guest gave us, to prove afterwards that none of it is left in the rows tied to them.
CREATE TEMP TABLE given AS
SELECT DISTINCT v FROM (
    SELECT unnest(ARRAY[name, email, phone, host(ip), metadata->>'address']) FROM chat.guests WHERE id = :guest
    UNION ALL SELECT unnest(ARRAY[host(visitor_ip), user_agent]) FROM chat.chat_sessions WHERE guest_id = :guest
    UNION ALL SELECT unnest(ARRAY[name, email, phone, message]) FROM chat.offline_leads WHERE guest_id = :guest
    UNION ALL SELECT unnest(ARRAY[l.email, l.phone]) FROM chat.chatbot_leads l
                JOIN chat.chat_sessions s ON s.id = l.session_id WHERE s.guest_id = :guest
) x(v) WHERE v IS NOT NULL;
CREATE TEMP VIEW guest_rows AS
          SELECT g::text AS r FROM chat.guests g WHERE id = :guest
UNION ALL SELECT s::text FROM chat.chat_sessions s WHERE guest_id = :guest
UNION ALL SELECT m::text FROM chat.messages m JOIN chat.chat_sessions s ON s.id = m.session_id WHERE s.guest_id = :guest
UNION ALL SELECT l::text FROM chat.offline_leads l WHERE guest_id = :guest
UNION ALL SELECT l::text FROM chat.chatbot_leads l JOIN chat.chat_sessions s ON s.id = l.session_id WHERE s.guest_id = :guest
UNION ALL SELECT e::text FROM chat.visitor_events e WHERE guest_ref = :guest
UNION ALL SELECT n::text FROM chat.notes n WHERE record_type = 'Guest' AND record_id = :guest;

\echo
\echo '=== Dry run: what the erasure would reach, and how (nothing changes) ==='
SELECT t->>'table' AS "table", t->>'action' AS action, t->>'rows' AS rows, t->>'path' AS "reached through"
  FROM jsonb_array_elements(gdpr.anonymize_guest(:guest, dry_run => true)->'tables') t;

\echo
\echo '=== SELECT gdpr.anonymize_guest(' :guest ', traces => true) ==='
SELECT gdpr.anonymize_guest(:guest, traces => true) AS report \gset
SELECT 'reached' AS "how", t->>'table' AS "table", t->>'action' AS action, t->>'rows' AS rows,
       t->'columns' AS columns
  FROM jsonb_array_elements(:'report'::jsonb->'tables') t
UNION ALL
SELECT 'trace', t->>'table', t->>'action', t->>'rows', t->'columns'
  FROM jsonb_array_elements(:'report'::jsonb->'traces') t;

\echo
\echo '=== Guest' :guest 'after the erasure ==='
:show_rows;

\echo
\echo '=== Values the guest gave us still found in any row tied to them (before: all of them; expect 0) ==='
SELECT (SELECT count(*) FROM given) AS "values given",
       (SELECT count(*) FROM given WHERE EXISTS (SELECT 1 FROM guest_rows WHERE r LIKE '%' || v || '%')) AS "still present";
\echo
\echo '=== gdpr.locate finds nothing left; the call log keeps the call, without the number ==='
SELECT count(*) AS "traces left" FROM gdpr.locate('guest', :'guest');
SELECT payload AS "call log entry now" FROM chat.call_log WHERE payload LIKE '%[phone]%';
\echo
\echo '=== The guest who referred them (reference excluded by the migration) is untouched ==='
SELECT id, name, email FROM chat.guests WHERE id = (SELECT referred_by_id FROM chat.guests WHERE id = :guest);

\echo
\echo '=== The audit log (no personal data), each entry a link of a hash chain ==='
SELECT id, kind, subject_id, dry_run, rows_total, erased_by, erased_at::timestamp(0) AS erased_at,
       chain_seq AS link, left(encode(chain_hash, 'hex'), 12) || '…' AS hash
  FROM gdpr.erasure_log ORDER BY id;

\echo
\echo '=== Proving it: the receipt for the person, the chain intact, what VACUUM still has to clear ==='
SELECT jsonb_pretty(gdpr.erasure_receipt((:'report'::jsonb->>'erasure_id')::uuid) - 'tables' - 'database')
       AS receipt;
SELECT count(*) AS "broken links (gdpr.verify_audit_chain)" FROM gdpr.verify_audit_chain();
SELECT tbl, erasures, setting IS NOT NULL AS "needs vacuum_index_cleanup", command FROM gdpr.erasure_residue ORDER BY tbl::text;
SELECT setting, command FROM gdpr.erasure_residue \gexec
SELECT count(*) AS "tables with residue after the view's commands" FROM gdpr.erasure_residue;

\echo
\echo '=== Erasing again is harmless; an unknown guest is an error (SQLSTATE P0002) ==='
SELECT (gdpr.anonymize_guest(:guest)->>'total_rows') AS "second erasure, rows";
DO $$
BEGIN
    PERFORM gdpr.anonymize_guest(999999);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'SQLSTATE %: %', SQLSTATE, SQLERRM;
END $$;

\echo
\echo '=== Late writes for the erased guest are refused (a chat window still open, a retried API call) ==='
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN 'refused, SQLSTATE ' || SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT min(id) AS session FROM chat.chat_sessions WHERE guest_id = :guest \gset
SELECT attempt, pg_temp.try(statement) AS outcome FROM (VALUES
    ('message in their open chat', format($$INSERT INTO chat.messages (session_id, author_kind, body, sent_at)
                                            VALUES (%s, 'guest', 'I am still here, call me', now())$$, :session)),
    ('their e-mail written back',  format($$UPDATE chat.guests SET email = 'back@mail.example' WHERE id = %s$$, :guest)),
    ('a new chat for them',        format($$INSERT INTO chat.chat_sessions (guest_id, channel, started_at)
                                            VALUES (%s, 'web_chat', now())$$, :guest))
) a(attempt, statement);

\echo
\echo '=== Consent: contact data only with a valid consent of the right purpose ==='
SELECT id, purpose, version, active, privacy_policy_url FROM gdpr.consent_text ORDER BY id;
SELECT table_name, column_name, purpose, on_withdraw, trigger_state, foreign_key FROM gdpr.consent_requirements;
SELECT gdpr.grant_consent(t.id, 'offline_form') AS fresh_consent
  FROM gdpr.consent_text t WHERE t.purpose = 'offline_contact' AND t.active \gset
SELECT gdpr.grant_consent(t.id, 'offline_form') AS withdrawn_consent
  FROM gdpr.consent_text t WHERE t.purpose = 'offline_contact' AND t.active \gset
SELECT gdpr.withdraw_consent(:withdrawn_consent) IS NOT NULL AS withdrawn \gset
SELECT min(c.id) AS marketing_consent FROM gdpr.consent c JOIN gdpr.consent_text t ON t.id = c.text_id
 WHERE t.purpose = 'marketing' \gset
\set lead 'INSERT INTO chat.offline_leads (name, email, phone, consent_id) VALUES (''Ann Lead'', ''ann@mail.example'', ''+420 601 000 111'', '
SELECT attempt, pg_temp.try(statement) AS outcome FROM (VALUES
    ('an application bug forgets the consent', :'lead' || 'NULL)'),
    ('a consent id that does not exist',       :'lead' || '999999)'),
    ('a marketing consent used for the form',  :'lead' || :marketing_consent || ')'),
    ('a withdrawn consent',                    :'lead' || :withdrawn_consent || ')'),
    ('a fresh consent for the form',           :'lead' || :fresh_consent || ')')
) a(attempt, statement);

\echo
\echo '=== Withdrawing a lead''s consent erases the lead (on_withdraw => anonymize) ==='
SELECT id AS lead_id, consent_id AS lead_consent FROM chat.offline_leads WHERE guest_id = 44 \gset
SELECT id, name, email, phone, message, consent_id FROM chat.offline_leads WHERE id = :lead_id;
SELECT jsonb_pretty(gdpr.withdraw_consent(:lead_consent)) AS withdrawal;
SELECT id, name, email, phone, message, consent_id FROM chat.offline_leads WHERE id = :lead_id;

\echo
\echo '=== Marketing may contact only guests whose current consent stands ==='
SELECT (SELECT count(*) FROM chat.guests) AS guests,
       (SELECT count(*) FROM chat.marketing_contacts) AS "may receive marketing",
       gdpr.has_consent('guest', '27', 'marketing') AS "guest 27 (withdrew)",
       gdpr.has_consent('guest', '30', 'marketing') AS "guest 30";

\echo
\echo '=== Retention: what nobody asked about expires (periods declared in examples/chat/declare.sql) ==='
SELECT tbl AS "table", time_col, keep, action FROM gdpr.retention ORDER BY tbl::text;
\echo '--- A dispute: a legal hold on one expired guest. Retention must leave them and every row tied to them.'
SELECT min(id) AS held_guest FROM chat.guests WHERE created_at < now() - interval '3 years' \gset
SELECT gdpr.place_legal_hold('guest', :'held_guest', 'dispute about an order, case 2026/17') AS hold \gset
SELECT hold_id, kind, subject_id, reason, placed_by FROM gdpr.legal_holds;
\echo '--- gdpr.retention_due(): what the next run will do'
SELECT table_name, action, rows_due, oldest::date AS oldest, held FROM gdpr.retention_due();
\echo '--- CALL gdpr.enforce_retention(batch_size => 100): each batch commits on its own (progress as NOTICEs)'
CALL gdpr.enforce_retention(batch_size => 100) \gset
SELECT t->>'table' AS "table", t->>'action' AS action, t->>'due' AS due, t->>'done' AS done,
       t->>'rows' AS "rows changed", t->>'held' AS held
  FROM jsonb_array_elements(:'summary'::jsonb->'tables') t;
\echo '--- Guests who came over three years ago: erased, except the held one'
SELECT id, name, email, created_at::date AS came FROM chat.guests
 WHERE created_at < now() - interval '3 years' ORDER BY id LIMIT 4;
SELECT count(*) AS "messages of the held guest, untouched" FROM chat.messages m
  JOIN chat.chat_sessions s ON s.id = m.session_id WHERE s.guest_id = :held_guest AND m.body NOT LIKE '%[%]%';
SELECT kind, count(*) AS "log entries", sum(rows_total) AS rows FROM gdpr.erasure_log
 WHERE origin = 'retention' GROUP BY kind ORDER BY kind;
\echo '--- Nothing left to do but the hold; releasing it lets the next run erase the guest'
SELECT table_name, rows_due, held FROM gdpr.retention_due();
SELECT gdpr.release_legal_hold(:hold) IS NOT NULL AS released;
SELECT table_name, rows_due, held FROM gdpr.retention_due();
