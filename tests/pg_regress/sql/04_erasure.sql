-- Erasure entry points: key types, unknown and NULL ids, idempotency, the report and the audit log,
-- and the chat example end to end.
CREATE SCHEMA era;

-- Subject keys of type integer, bigint, uuid, text and a composite key.
CREATE TABLE era.k_int (id integer PRIMARY KEY, v text);
CREATE TABLE era.k_uuid (id uuid PRIMARY KEY, v text);
CREATE TABLE era.k_text (id text PRIMARY KEY, v text);
CREATE TABLE era.k_comp (tenant int, id int, v text, PRIMARY KEY (tenant, id));
INSERT INTO era.k_int VALUES (1, 'one'), (2, 'two');
INSERT INTO era.k_uuid VALUES ('7b5e3c1e-2d1f-4f8a-9c39-6f2d8f1c0a11', 'u1'), ('00000000-0000-0000-0000-000000000002', 'u2');
INSERT INTO era.k_text VALUES ('jan-novak', 't1'), ('eva', 't2');
INSERT INTO era.k_comp VALUES (1, 1, 'c11'), (1, 2, 'c12'), (2, 1, 'c21');
SELECT gdpr.declare_subject('kint', 'era.k_int'), gdpr.declare_subject('kuuid', 'era.k_uuid'),
       gdpr.declare_subject('ktext', 'era.k_text'), gdpr.declare_subject('kcomp', 'era.k_comp');
SELECT gdpr.declare_pii('era.k_int', 'v', 'null'), gdpr.declare_pii('era.k_uuid', 'v', 'null'),
       gdpr.declare_pii('era.k_text', 'v', 'null'), gdpr.declare_pii('era.k_comp', 'v', 'null');

SELECT regress.report(gdpr.anonymize_subject('kint', '1'));
SELECT regress.report(gdpr.anonymize_subject('kuuid', '7b5e3c1e-2d1f-4f8a-9c39-6f2d8f1c0a11'));
SELECT regress.report(gdpr.anonymize_subject('ktext', 'jan-novak'));
SELECT regress.report(gdpr.anonymize_subject('kcomp', ARRAY['1', '2']));
SELECT (SELECT count(*) FROM era.k_int WHERE v IS NULL) AS int_erased, (SELECT count(*) FROM era.k_uuid WHERE v IS NULL) AS uuid_erased,
       (SELECT count(*) FROM era.k_text WHERE v IS NULL) AS text_erased, (SELECT string_agg(v, ',' ORDER BY tenant, id) FROM era.k_comp) AS comp;

-- Unknown ids, NULL ids, malformed ids, unknown kinds.
SELECT regress.try($$SELECT gdpr.anonymize_subject('kint', '42')$$);
SELECT regress.try($$SELECT gdpr.anonymize_subject('kint', NULL)$$);
SELECT regress.try($$SELECT gdpr.anonymize_subject('kint', 'forty-two')$$);
SELECT regress.try($$SELECT gdpr.anonymize_subject('kuuid', '00000000-0000-0000-0000-000000000099')$$);
SELECT regress.try($$SELECT gdpr.anonymize_subject('kcomp', ARRAY['1'])$$);
SELECT regress.try($$SELECT gdpr.anonymize_subject('kcomp', ARRAY['1', NULL])$$);
SELECT regress.try($$SELECT gdpr.anonymize_subject('nobody', '1')$$);
SELECT regress.try($$SELECT gdpr.anonymize_subject(NULL, '1')$$);
SELECT regress.try($$SELECT gdpr.anonymize_subject('kint', '1', dry_run => NULL)$$);

-- A subject whose own table is deleted: erasing again reports it as already erased, not as unknown.
SELECT gdpr.declare_erase_action('era.k_int', 'delete');
SELECT regress.report(gdpr.anonymize_subject('kint', '2'));
SELECT regress.report(gdpr.anonymize_subject('kint', '2'));
SELECT count(*) AS k_int_rows FROM era.k_int;

-- The audit log: one row per erasure and dry run, counts only, who and when.
SELECT kind, subject_id, dry_run, rows_total, tables, erased_by = current_user AS by_me,
       erased_at <= now() AS logged_now, duration_ms >= 0 AS timed
  FROM gdpr.erasure_log ORDER BY id DESC LIMIT 6;

-- The chat example, end to end.
\i examples/chat/schema.sql
\set guests 50
\i examples/chat/declare.sql
\i examples/chat/data.sql

-- An export reaches exactly what an erasure reaches: per table, the rows exported and the rows a dry run
-- reports, for every guest and every session; export_rows streams the same rows.
SELECT count(*) AS guests_compared, count(*) FILTER (WHERE exported IS DISTINCT FROM dry_run) AS differing,
       count(*) FILTER (WHERE streamed <> total) AS streamed_differently
  FROM (SELECT (SELECT jsonb_object_agg(t->>'table', (t->>'row_count')::int)
                  FROM jsonb_array_elements(gdpr.export_guest(g.id)->'tables') t) AS exported,
               (SELECT jsonb_object_agg(t->>'table', (t->>'rows')::int)
                  FROM jsonb_array_elements(d->'tables') t) AS dry_run,
               (SELECT count(*) FROM gdpr.export_rows('guest', g.id::text)) AS streamed,
               (d->>'total_rows')::bigint AS total
          FROM chat.guests g, gdpr.anonymize_guest(g.id, dry_run => true) d) s;
SELECT count(*) AS sessions_compared, count(*) FILTER (WHERE exported IS DISTINCT FROM dry_run) AS differing
  FROM (SELECT (SELECT jsonb_object_agg(t->>'table', (t->>'row_count')::int)
                  FROM jsonb_array_elements(gdpr.export_session(cs.id)->'tables') t) AS exported,
               (SELECT jsonb_object_agg(t->>'table', (t->>'rows')::int)
                  FROM jsonb_array_elements(gdpr.anonymize_session(cs.id, dry_run => true)->'tables') t) AS dry_run
          FROM chat.chat_sessions cs) s;

-- Everything guest 20 gave us, before.
CREATE TABLE era.pii_20 AS
SELECT v FROM (
    SELECT unnest(ARRAY[name, split_part(name, ' ', 1), split_part(name, ' ', 2), email, phone, host(ip),
                        metadata->>'address', split_part(metadata->>'address', ',', 1)]) FROM chat.guests WHERE id = 20
    UNION SELECT unnest(ARRAY[host(visitor_ip), user_agent]) FROM chat.chat_sessions WHERE guest_id = 20
    UNION SELECT unnest(ARRAY[name, email, phone, message]) FROM chat.offline_leads WHERE guest_id = 20
) AS x(v) WHERE v IS NOT NULL;
CREATE FUNCTION era.others_checksum() RETURNS text LANGUAGE sql AS $$
SELECT md5(string_agg(r, '|' ORDER BY r)) FROM (
    SELECT g::text FROM chat.guests g WHERE id <> 20
    UNION ALL SELECT s::text FROM chat.chat_sessions s WHERE guest_id <> 20
    UNION ALL SELECT m::text FROM chat.messages m JOIN chat.chat_sessions s ON s.id = m.session_id WHERE s.guest_id <> 20
    UNION ALL SELECT a::text FROM chat.attachments a JOIN chat.messages m ON m.id = a.message_id
                                                 JOIN chat.chat_sessions s ON s.id = m.session_id WHERE s.guest_id <> 20
    UNION ALL SELECT l::text FROM chat.offline_leads l WHERE guest_id IS DISTINCT FROM 20
    UNION ALL SELECT e::text FROM chat.visitor_events e WHERE guest_ref <> 20
    UNION ALL SELECT n::text FROM chat.notes n WHERE NOT (record_type = 'Guest' AND record_id = 20)) AS t(r) $$;
CREATE TABLE era.others_before AS SELECT era.others_checksum() AS sum;
-- A value found as a whole word, case-insensitively (the fakes an erasure writes are random: "Jan" inside a fake
-- "New Jana Rutherford" is not guest 20's name).
CREATE FUNCTION era.has_word(haystack text, needle text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT haystack ~* ('(^|[^[:alnum:]])' || regexp_replace(needle, '([^[:alnum:][:space:]])', '\\\1', 'g')
                        || '($|[^[:alnum:]])') $$;

SELECT t->>'table' AS "table", t->>'action' AS action, t->>'rows' AS rows
  FROM jsonb_array_elements(gdpr.anonymize_guest(20)->'tables') t;

-- None of guest 20's values is left in any column of any chat table (message bodies and notes included);
-- the rest of their messages' text is kept; every other row is unchanged.
SELECT count(*) AS pii_left FROM era.pii_20 p
 WHERE EXISTS (SELECT 1 FROM chat.guests g WHERE era.has_word(g::text, p.v) AND g.id = 20)
    OR EXISTS (SELECT 1 FROM chat.chat_sessions s WHERE s.guest_id = 20 AND era.has_word(s::text, p.v))
    OR EXISTS (SELECT 1 FROM chat.offline_leads l WHERE l.guest_id = 20 AND era.has_word(l::text, p.v))
    OR EXISTS (SELECT 1 FROM chat.messages m JOIN chat.chat_sessions s ON s.id = m.session_id
                WHERE s.guest_id = 20 AND era.has_word(m.body, p.v))
    OR EXISTS (SELECT 1 FROM chat.notes n WHERE n.record_type = 'Guest' AND n.record_id = 20
                                            AND era.has_word(n.body, p.v));
SELECT DISTINCT regexp_replace(m.body, '[0-9]+', 'N', 'g') AS guest_20_messages_now
  FROM chat.messages m JOIN chat.chat_sessions s ON s.id = m.session_id WHERE s.guest_id = 20 ORDER BY 1;
SELECT count(*) AS attachments_left FROM chat.attachments a JOIN chat.messages m ON m.id = a.message_id
  JOIN chat.chat_sessions s ON s.id = m.session_id WHERE s.guest_id = 20;
SELECT count(*) AS events_left FROM chat.visitor_events WHERE guest_ref = 20;
SELECT (SELECT sum FROM era.others_before) = era.others_checksum() AS other_guests_unchanged;

-- The referral (guest 20 was referred by guest 19) is excluded: guest 19 is untouched.
SELECT name NOT LIKE '%@%' AND email = 'guest19@mail.example' AS referrer_untouched FROM chat.guests WHERE id = 19;

-- One conversation: anonymize_session. The guest row stays, but the guest's name, e-mail, phone and address
-- are scrubbed from the conversation too (identifiers of the rows the session references).
SELECT t->>'table' AS "table", t->>'action' AS action, t->>'rows' AS rows
  FROM jsonb_array_elements(gdpr.anonymize_session(31)->'tables') t;
SELECT body FROM chat.messages WHERE session_id = 31 ORDER BY id;
SELECT email = 'guest11@mail.example' AS guest_kept FROM chat.guests WHERE id = 11;

-- id of any key type through the convenience wrappers, text literals too
SELECT (gdpr.anonymize_guest('21')->>'total_rows')::int > 0 AS text_literal,
       (gdpr.anonymize_guest(22::bigint)->>'total_rows')::int > 0 AS bigint_id,
       (gdpr.anonymize_guest(23)->>'total_rows')::int > 0 AS int_id;
SELECT regress.try($$SELECT gdpr.anonymize_guest(NULL)$$);
SELECT regress.try($$SELECT gdpr.anonymize_guest(100000)$$);
SELECT regress.try($$SELECT gdpr.anonymize_session(NULL::bigint)$$);

DROP SCHEMA chat CASCADE;
DROP SCHEMA era CASCADE;

-- Deletes follow every FOREIGN KEY between the tables an erasure deletes from, excluded ones too: files reached
-- through a reverse link, whose foreign key from the attachment rows is excluded, are deleted after them.
CREATE SCHEMA att;
CREATE TABLE att.guests (id int PRIMARY KEY, email text);
CREATE TABLE att.store_files (id int PRIMARY KEY, filename text);
CREATE TABLE att.stores (id int PRIMARY KEY, guest_id int NOT NULL REFERENCES att.guests,
                         store_file_id int NOT NULL UNIQUE REFERENCES att.store_files);
CREATE INDEX ON att.stores (guest_id);
INSERT INTO att.guests VALUES (1, 'one@mail.example');
INSERT INTO att.store_files VALUES (10, 'passport.pdf');
INSERT INTO att.stores VALUES (100, 1, 10);
SELECT gdpr.declare_subject('att_guest', 'att.guests');
SELECT gdpr.declare_pii('att.guests', 'email', 'fake_email');
SELECT gdpr.exclude_reference('att.stores', '{store_file_id}');
SELECT gdpr.declare_link('att.store_files', '{id}', 'att.stores', '{store_file_id}');
SELECT gdpr.declare_erase_action('att.stores', 'delete');
SELECT gdpr.declare_erase_action('att.store_files', 'delete');
SELECT t->>'table' AS "table", t->>'action' AS action, t->>'rows' AS rows
  FROM jsonb_array_elements(gdpr.anonymize_subject('att_guest', '1')->'tables') t;
SELECT (SELECT count(*) FROM att.stores) AS stores, (SELECT count(*) FROM att.store_files) AS files;
-- A file another guest's attachment still references through the excluded key: the real erasure would fail on
-- it (23503), so the dry run says so too, with the same SQLSTATE, naming the key — and nothing changes.
INSERT INTO att.guests VALUES (2, 'two@mail.example'), (3, 'three@mail.example');
INSERT INTO att.store_files VALUES (20, 'shared.pdf');
ALTER TABLE att.stores DROP CONSTRAINT stores_store_file_id_key;
ALTER TABLE att.stores ADD CONSTRAINT stores_file_guest UNIQUE (store_file_id, guest_id);
INSERT INTO att.stores VALUES (200, 2, 20), (300, 3, 20);
SELECT regress.try($$SELECT gdpr.anonymize_subject('att_guest', '2', dry_run => true)$$);
SELECT regress.try($$SELECT gdpr.anonymize_subject('att_guest', '2')$$);
SELECT (SELECT count(*) FROM att.stores) AS stores, (SELECT count(*) FROM att.store_files) AS files;
DROP SCHEMA att CASCADE;
