-- Patterns of real helpdesk schemas (issue 12): content-addressed files owned by the attachments that use
-- them (gdpr.declare_owned), audit columns excluded by one rule per schema (gdpr.exclude_column), and what
-- excluded ON DELETE CASCADE / SET NULL keys do to rows outside the erasure.
CREATE SCHEMA hd;
CREATE TABLE hd.customers (id int PRIMARY KEY, name text, email text);
CREATE TABLE hd.contents (sha text PRIMARY KEY, data text);
CREATE TABLE hd.files (id int PRIMARY KEY, filename text, content_sha text NOT NULL REFERENCES hd.contents);
CREATE TABLE hd.tickets (
    id int PRIMARY KEY,
    customer_id int NOT NULL REFERENCES hd.customers,
    subject text,
    created_by_id int REFERENCES hd.customers ON DELETE SET NULL,
    updated_by_id int REFERENCES hd.customers ON DELETE SET NULL);
CREATE TABLE hd.attachments (
    id int PRIMARY KEY,
    ticket_id int NOT NULL REFERENCES hd.tickets,
    file_id int NOT NULL REFERENCES hd.files);
-- Notes belong to whoever wrote them: the audit-column rule must not apply here.
CREATE TABLE hd.notes (id int PRIMARY KEY, created_by_id int REFERENCES hd.customers, body text);
CREATE INDEX ON hd.tickets (customer_id);
CREATE INDEX ON hd.tickets (created_by_id);
CREATE INDEX ON hd.tickets (updated_by_id);
CREATE INDEX ON hd.attachments (ticket_id);
CREATE INDEX ON hd.attachments (file_id);
CREATE INDEX ON hd.files (content_sha);
CREATE INDEX ON hd.notes (created_by_id);

SELECT gdpr.declare_subject('hd_customer', 'hd.customers');
SELECT gdpr.declare_pii('hd.customers', 'name', 'fake_name');
SELECT gdpr.declare_pii('hd.customers', 'email', 'fake_email');
SELECT gdpr.declare_erase_action(t, 'delete')
  FROM unnest('{hd.customers, hd.tickets, hd.attachments, hd.files, hd.contents, hd.notes}'::regclass[]) t;

INSERT INTO hd.customers VALUES (1, 'Ann Archer', 'ann@mail.example'), (2, 'Bob Baker', 'bob@mail.example'),
    (3, 'Carla Agent', 'carla@shop.example');
-- Ann and Bob sent the same invoice PDF (one content, two file rows); both attached the same shared.png (one
-- file row); Ann's photo is hers alone; an unrelated orphan content is nobody's business here.
INSERT INTO hd.contents VALUES ('sha-pdf', 'PDF: invoice of Ann Archer'), ('sha-photo', 'JPEG: Ann'),
    ('sha-png', 'PNG: logo'), ('sha-orphan', 'left by an old bug');
INSERT INTO hd.files VALUES (100, 'invoice.pdf', 'sha-pdf'), (101, 'ann-archer.jpg', 'sha-photo'),
    (200, 'invoice (1).pdf', 'sha-pdf'), (300, 'shared.png', 'sha-png'), (900, 'lost.bin', 'sha-orphan');
INSERT INTO hd.tickets VALUES (10, 1, 'Refund please', 3, 3), (20, 2, 'Where is my order', 3, 1);
INSERT INTO hd.attachments VALUES (1000, 10, 100), (1001, 10, 101), (1002, 10, 300), (2000, 20, 200), (2001, 20, 300);
INSERT INTO hd.notes VALUES (1, 1, 'Ann: call me after 5'), (2, 3, 'Carla: customer called');

-- regress.tables(report): table → rows of an erasure report.
CREATE FUNCTION regress.tables(r jsonb) RETURNS TABLE (tbl text, action text, rows int, path text)
LANGUAGE sql AS $$
    SELECT t->>'table', t->>'action', (t->>'rows')::int, t->>'path'
      FROM jsonb_array_elements(r->'tables') t ORDER BY 1
$$;

-- 1. Audit columns. Followed, Ann's erasure would delete Bob's ticket, which she last updated.
SELECT * FROM regress.tables(gdpr.anonymize_subject('hd_customer', '1', dry_run => true));

-- One rule per column name for the schema, with an exception: notes belong to their author.
SELECT gdpr.exclude_column('hd', 'created_by_id', '{hd.notes}');
SELECT gdpr.exclude_column('hd', 'updated_by_id');
SELECT schema_name, col, except_tables FROM gdpr.excluded_column ORDER BY col;
-- A table created later is covered too.
CREATE TABLE hd.macros (id int PRIMARY KEY, created_by_id int REFERENCES hd.customers ON DELETE CASCADE, body text);
INSERT INTO hd.macros VALUES (1, 1, 'Ann''s macro'), (2, 3, 'Carla''s macro');
-- Ann's ticket only; what the rule leaves out is listed, and so is what the excluded keys' ON DELETE does to
-- rows the erasure does not reach (Bob's ticket loses updated_by_id, Ann's macro goes by CASCADE).
SELECT * FROM regress.tables(gdpr.anonymize_subject('hd_customer', '1', dry_run => true));
SELECT jsonb_pretty(r->'excluded_by_rule'), jsonb_pretty(r->'excluded_cascades')
  FROM gdpr.anonymize_subject('hd_customer', '1', dry_run => true) r;

-- Rules: only the schema's owner, existing schemas, exceptions from the schema.
SELECT regress.try($$SELECT gdpr.exclude_column('no_such_schema', 'created_by_id')$$);
SELECT regress.try($$SELECT gdpr.exclude_column('hd', 'x', '{regress.try}')$$);
SELECT regress.try($$SELECT gdpr.exclude_column('hd', 'x', '{gdpr.subject}')$$);
GRANT USAGE ON SCHEMA hd TO regress_intruder;
SET ROLE regress_intruder;
SELECT regress.try($$SELECT gdpr.exclude_column('hd', 'customer_id')$$);
SELECT regress.try($$SELECT gdpr.include_column('hd', 'created_by_id')$$);
SELECT regress.try($$SELECT gdpr.declare_owned('hd.attachments', '{file_id}')$$);
RESET ROLE;

-- 2. Files are parents of attachments: not reached by the erasure at all.
SELECT count(*) AS files_reached FROM regress.tables(gdpr.anonymize_subject('hd_customer', '1', dry_run => true))
 WHERE tbl IN ('hd.files', 'hd.contents');
SELECT regress.try($$SELECT gdpr.declare_owned('hd.attachments', '{ticket_id, file_id}')$$);
SELECT regress.try($$SELECT gdpr.declare_owned('hd.attachments', '{nope}')$$);
SELECT gdpr.declare_owned('hd.attachments', '{file_id}');
SELECT gdpr.declare_owned('hd.files', '{content_sha}');
SELECT child, child_cols FROM gdpr.owned_reference ORDER BY child::text;

-- Ann's photo and its content go; the shared.png row (Bob's attachment uses it) and the PDF content (Bob's
-- file row uses it) stay. Files and contents are reached upwards: path and reference say so.
SELECT * FROM regress.tables(gdpr.anonymize_subject('hd_customer', '1', dry_run => true));
SELECT jsonb_pretty(t->'via') FROM jsonb_array_elements(
    gdpr.anonymize_subject('hd_customer', '1', dry_run => true)->'tables') t
 WHERE t->>'table' IN ('hd.files', 'hd.contents') ORDER BY t->>'table';
SELECT (gdpr.anonymize_subject('hd_customer', '1'))->'total_rows' AS erased_rows;
SELECT id, filename, content_sha FROM hd.files ORDER BY id;
SELECT sha FROM hd.contents ORDER BY sha;
SELECT id, ticket_id, file_id FROM hd.attachments ORDER BY id;
SELECT id, customer_id, created_by_id, updated_by_id FROM hd.tickets ORDER BY id;
SELECT id, created_by_id FROM hd.macros ORDER BY id;

-- Bob's turn: now nobody else uses his files, nor their contents. The orphan nobody reached stays.
SELECT * FROM regress.tables(gdpr.anonymize_subject('hd_customer', '2', dry_run => true));
SELECT (gdpr.anonymize_subject('hd_customer', '2'))->'total_rows' AS erased_rows;
SELECT id, filename FROM hd.files ORDER BY id;
SELECT sha FROM hd.contents ORDER BY sha;

-- Rows the erasure only anonymizes still use an owned parent: Dana's file row is anonymized (its name nulled)
-- and keeps its content.
INSERT INTO hd.customers VALUES (4, 'Dana Doe', 'dana@mail.example');
INSERT INTO hd.contents VALUES ('sha-dana', 'Dana''s scan');
INSERT INTO hd.files VALUES (400, 'dana.pdf', 'sha-dana');
INSERT INTO hd.tickets VALUES (40, 4, 'Scan attached', NULL, NULL);
INSERT INTO hd.attachments VALUES (4000, 40, 400);
SELECT gdpr.declare_erase_action('hd.files', 'anonymize');
SELECT gdpr.declare_pii('hd.files', 'filename', 'null');
SELECT * FROM regress.tables(gdpr.anonymize_subject('hd_customer', '4'));
SELECT id, filename, content_sha FROM hd.files WHERE id = 400;
SELECT sha FROM hd.contents WHERE sha = 'sha-dana';

-- 3. Per-row policies: in a chat, the customer's own messages are the person's words (nulled); the agents'
-- replies are the business's, but may quote the person (scrubbed of their identifiers).
CREATE TABLE hd.chat_messages (id int PRIMARY KEY, customer_id int REFERENCES hd.customers ON DELETE SET NULL,
    author_kind text NOT NULL, author_level int, body text, sent_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON hd.chat_messages (customer_id);
INSERT INTO hd.customers VALUES (5, 'Eva Egg', 'eva@mail.example');
INSERT INTO hd.chat_messages VALUES
    (1, 5, 'guest', 0, 'Hi, I am Eva Egg, eva@mail.example'),
    (2, 5, 'agent', 1, 'Hello Eva Egg, we will write to eva@mail.example'),
    (3, 5, 'bot', 2, 'Ticket created'),
    (4, 5, 'guest', 0, ''),
    (5, 5, 'guest', 0, NULL);
-- Validated when declared: the column, its values' type, the else strategy and its fit.
SELECT regress.try($$SELECT gdpr.declare_pii('hd.chat_messages', 'body', 'null', '{"when": {"column": "nope", "in": ["guest"]}}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('hd.chat_messages', 'body', 'null', '{"when": {"column": "body", "in": ["x"]}}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('hd.chat_messages', 'body', 'null', '{"when": {"column": "author_level", "in": ["guest"]}}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('hd.chat_messages', 'body', 'null', '{"when": {"column": "author_kind", "in": []}}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('hd.chat_messages', 'body', 'null', '{"when": {"column": "author_kind", "like": "g%"}}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('hd.chat_messages', 'body', 'null', '{"when": {"column": "author_kind", "in": [{"sql": "true"}]}}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('hd.chat_messages', 'body', 'null', '{"when": {"column": "author_kind", "in": ["guest"]}, "else": "shred"}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('hd.chat_messages', 'body', 'null', '{"when": {"column": "author_kind", "in": ["guest"]}, "else": "generalize"}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('hd.chat_messages', 'body', 'null', '{"else": "scrub"}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('hd.chat_messages', 'body', 'null', '{"when": {"column": "author_kind", "in": ["guest"]}, "else": {"strategy": "scrub", "options": {"when": {"column": "author_kind", "in": ["agent"]}}}}')$$);
SELECT gdpr.declare_pii('hd.chat_messages', 'body', 'null',
    '{"when": {"column": "author_kind", "in": ["guest"]}, "else": "scrub"}');
SELECT gdpr.declare_pii('hd.chat_messages', 'author_level', 'constant',
    '{"value": 0, "when": {"column": "author_kind", "equals": "bot"}}');
SELECT col, strategy, category FROM gdpr.pii_policy WHERE tbl = 'hd.chat_messages'::regclass ORDER BY col;
SELECT * FROM regress.tables(gdpr.anonymize_subject('hd_customer', '5'));
SELECT id, author_kind, author_level, coalesce(body, '<null>') AS body FROM hd.chat_messages ORDER BY id;
-- Whole-table pseudonymization applies the same rule.
INSERT INTO hd.customers VALUES (6, 'Finn Fox', 'finn@mail.example');
INSERT INTO hd.chat_messages VALUES (6, 6, 'guest', 0, 'call me at +420 601 234 567'),
    (7, 6, 'agent', 1, 'we called +420 601 234 567'), (8, 6, 'bot', 5, 'ok');
SET client_min_messages = warning;
SELECT (gdpr.pseudonymize_table('hd.chat_messages'))->'rows' AS rows;
RESET client_min_messages;
SELECT id, author_kind, author_level, coalesce(body, '<null>') AS body FROM hd.chat_messages WHERE id >= 6 ORDER BY id;
-- So does retention's anonymize.
INSERT INTO hd.chat_messages VALUES (9, NULL, 'guest', 0, 'old words of a guest', now() - interval '3 years'),
    (10, NULL, 'agent', 1, 'old reply, copied to gus@mail.example', now() - interval '3 years');
SELECT gdpr.declare_retention('hd.chat_messages', 'sent_at', interval '2 years', 'anonymize');
SET client_min_messages = warning;
\o /dev/null
CALL gdpr.enforce_retention();
\o
RESET client_min_messages;
SELECT id, author_kind, coalesce(body, '<null>') AS body FROM hd.chat_messages WHERE id >= 9 ORDER BY id;
-- The condition's column dropped: the plan fails naming the policy (never a silent skip), and lint says so.
ALTER TABLE hd.chat_messages DROP COLUMN author_level;
ALTER TABLE hd.chat_messages DROP COLUMN author_kind;
SELECT regress.try($$SELECT gdpr.anonymize_subject('hd_customer', '6', dry_run => true)$$);
SELECT kind, object, message FROM gdpr.lint() WHERE object LIKE 'hd.chat_messages%' AND kind = 'policy';
DROP TABLE hd.chat_messages;

-- 4. Personal data typed into free text: street addresses, names introduced by a phrase, dates of birth next to
-- a keyword (en/de/cs/pl/fr) — while order numbers, prices and opening hours stay.
SELECT m AS message, gdpr.scrub(m) AS scrubbed FROM (VALUES
    ('my new address is 27 Baker Street, NW1 6XE London'),
    ('deliver to Hauptstraße 12 please'),
    ('Hi, I am Jana Nováková'),
    ('verified via DOB 1984-03-17'),
    ('Dobrý den, jmenuji se Petr Svoboda, bydlím Korunní 45, 120 00 Praha 2, narozen 17. 3. 1984'),
    ('Nazywam się Łukasz Wiśniewski, ul. Marszałkowska 10/5, 00-001 Warszawa'),
    ('Je m''appelle Zoë Martin, 12 rue de la Paix, 75002 Paris, née le 17 mars 1984'),
    ('Order ORD-2024-0042: 2 boxes, 12 pieces, 1 234,50 Kč, delivered 2024-03-17, open Mon-Fri 9-17')) v(m);
-- The business's own contact data survives when listed: a domain, a phone number (any format), an address.
CREATE TABLE hd.replies (id int PRIMARY KEY, customer_id int REFERENCES hd.customers ON DELETE SET NULL, body text);
CREATE INDEX ON hd.replies (customer_id);
INSERT INTO hd.customers VALUES (7, 'Gus Grey', 'gus@mail.example');
INSERT INTO hd.replies VALUES
    (1, 7, 'Write to support@shop.example or call 800 123 456; we are at Václavské náměstí 1, 110 00 Praha 1'),
    (2, 7, 'Gus Grey, gus@mail.example, born 17. 3. 1984, lives at Korunní 45, 120 00 Praha 2; cc sales@shop.example');
SELECT regress.try($$SELECT gdpr.declare_pii('hd.replies', 'body', 'scrub', '{"keep": "support@shop.example"}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('hd.replies', 'body', 'scrub', '{"keep": [""]}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('hd.replies', 'body', 'scrub', '{"keep": [42]}')$$);
SELECT gdpr.declare_pii('hd.replies', 'body', 'scrub',
    '{"keep": ["@shop.example", "+420 800 123 456", "Václavské náměstí 1, 110 00 Praha 1"]}');
SELECT (gdpr.anonymize_subject('hd_customer', '7'))->'total_rows' AS erased_rows;
SELECT id, body FROM hd.replies ORDER BY id;

-- 5. What the property test (17_property) found: each case's dry run now predicts its erasure.
CREATE SCHEMA pr;
CREATE FUNCTION regress.dry_then_real(kind text, id text) RETURNS TABLE (run text, outcome text) LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM gdpr.anonymize_subject(kind, id, dry_run => true);
        run := 'dry run'; outcome := 'ok'; RETURN NEXT;
    EXCEPTION WHEN OTHERS THEN
        run := 'dry run'; outcome := SQLSTATE || ': ' || SQLERRM; RETURN NEXT;
    END;
    BEGIN
        PERFORM gdpr.anonymize_subject(kind, id);
        SET CONSTRAINTS ALL IMMEDIATE;
        run := 'erasure'; outcome := 'ok'; RETURN NEXT;
    EXCEPTION WHEN OTHERS THEN
        run := 'erasure'; outcome := SQLSTATE || ': ' || SQLERRM; RETURN NEXT;
    END;
END $$;
-- A DEFERRABLE INITIALLY DEFERRED key onto a table the erasure deletes from (was 42501 after a dry run said ok).
CREATE TABLE pr.g1 (id int PRIMARY KEY, name text);
CREATE TABLE pr.s1 (id int PRIMARY KEY, guest_id int REFERENCES pr.g1 DEFERRABLE INITIALLY DEFERRED);
INSERT INTO pr.g1 VALUES (1, 'Ann'); INSERT INTO pr.s1 VALUES (10, 1);
SELECT gdpr.declare_subject('pr_g1', 'pr.g1');
SELECT gdpr.declare_erase_action('pr.g1', 'delete'), gdpr.declare_erase_action('pr.s1', 'delete');
SELECT * FROM regress.dry_then_real('pr_g1', '1');
SELECT count(*) AS left_rows FROM pr.s1;
-- Two tables erased by delete that reference each other: the back-reference is set to NULL first; when it is
-- NOT NULL, both runs refuse (was 23503 after a dry run said ok).
CREATE TABLE pr.g2 (id int PRIMARY KEY, last_session_id int);
CREATE TABLE pr.s2 (id int PRIMARY KEY, guest_id int NOT NULL REFERENCES pr.g2);
ALTER TABLE pr.g2 ADD FOREIGN KEY (last_session_id) REFERENCES pr.s2;
INSERT INTO pr.g2 VALUES (1, NULL); INSERT INTO pr.s2 VALUES (10, 1); UPDATE pr.g2 SET last_session_id = 10;
SELECT gdpr.declare_subject('pr_g2', 'pr.g2');
SELECT gdpr.declare_erase_action('pr.g2', 'delete'), gdpr.declare_erase_action('pr.s2', 'delete');
SELECT * FROM regress.dry_then_real('pr_g2', '1');
SELECT (SELECT count(*) FROM pr.g2) AS guests_left, (SELECT count(*) FROM pr.s2) AS sessions_left;
INSERT INTO pr.g2 VALUES (2, NULL); INSERT INTO pr.s2 VALUES (20, 2); UPDATE pr.g2 SET last_session_id = 20;
ALTER TABLE pr.g2 ALTER COLUMN last_session_id SET NOT NULL;
SELECT * FROM regress.dry_then_real('pr_g2', '2');
-- Rows an ON DELETE CASCADE removes from an anonymized table, still referenced by rows only anonymized.
CREATE TABLE pr.g3 (id int PRIMARY KEY, name text);
CREATE TABLE pr.s3 (id int PRIMARY KEY, guest_id int REFERENCES pr.g3);
CREATE TABLE pr.m3 (id int PRIMARY KEY, session_id int REFERENCES pr.s3 ON DELETE CASCADE, body text);
CREATE TABLE pr.r3 (id int PRIMARY KEY, message_id int REFERENCES pr.m3, note text);
INSERT INTO pr.g3 VALUES (1, 'Ann'); INSERT INTO pr.s3 VALUES (10, 1); INSERT INTO pr.m3 VALUES (100, 10, 'hi');
INSERT INTO pr.r3 VALUES (1000, 100, 'like');
SELECT gdpr.declare_subject('pr_g3', 'pr.g3');
SELECT gdpr.declare_pii('pr.g3', 'name', 'null'), gdpr.declare_pii('pr.m3', 'body', 'null'),
       gdpr.declare_pii('pr.r3', 'note', 'null'), gdpr.declare_erase_action('pr.s3', 'delete');
SELECT * FROM regress.dry_then_real('pr_g3', '1');
-- An excluded ON DELETE CASCADE key: the cascade reaches rows of others that a NO ACTION key still uses.
CREATE TABLE pr.g4 (id int PRIMARY KEY, name text);
CREATE TABLE pr.orgs (id int PRIMARY KEY, created_by int REFERENCES pr.g4 ON DELETE CASCADE, name text);
CREATE TABLE pr.members (org_id int REFERENCES pr.orgs, guest_id int REFERENCES pr.g4 ON DELETE CASCADE);
INSERT INTO pr.g4 VALUES (1, 'Ann'), (2, 'Bob'), (3, 'Cid');
INSERT INTO pr.orgs VALUES (10, 1, 'shared org, created by Ann'), (20, 3, 'org of Cid alone');
INSERT INTO pr.members VALUES (10, 2), (20, 3);
SELECT gdpr.declare_subject('pr_g4', 'pr.g4');
SELECT gdpr.declare_erase_action('pr.g4', 'delete'), gdpr.declare_erase_action('pr.members', 'delete');
SELECT gdpr.exclude_reference('pr.orgs', '{created_by}');
SELECT * FROM regress.dry_then_real('pr_g4', '1');
-- Cid's org goes by the cascade, and the report says so.
SELECT r->'excluded_cascades' AS cascades FROM gdpr.anonymize_subject('pr_g4', '3', dry_run => true) r;
SELECT * FROM regress.dry_then_real('pr_g4', '3');
SELECT id FROM pr.orgs ORDER BY id;
-- ON DELETE SET NULL onto a NOT NULL column of rows only anonymized (was 23502 after a dry run said ok).
CREATE TABLE pr.g5 (id int PRIMARY KEY, name text);
CREATE TABLE pr.s5 (id int PRIMARY KEY, guest_id int NOT NULL REFERENCES pr.g5 ON DELETE SET NULL, topic text);
INSERT INTO pr.g5 VALUES (1, 'Ann'); INSERT INTO pr.s5 VALUES (10, 1, 'hello');
SELECT gdpr.declare_subject('pr_g5', 'pr.g5');
SELECT gdpr.declare_erase_action('pr.g5', 'delete'), gdpr.declare_pii('pr.s5', 'topic', 'null');
SELECT * FROM regress.dry_then_real('pr_g5', '1');
DROP SCHEMA pr CASCADE;
DROP FUNCTION regress.dry_then_real(text, text);

-- 6. Attacks on the new entry points, as a role owning only its own schema (with REFERENCES on two tables).
INSERT INTO hd.customers VALUES (8, 'Hal Hope', 'hal@mail.example');
GRANT REFERENCES ON hd.customers, hd.files TO regress_intruder;
GRANT CREATE ON DATABASE gdpr_regression TO regress_intruder;
SET ROLE regress_intruder;
CREATE SCHEMA mal2;
CREATE FUNCTION mal2.hit(int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'mal2.hit ran as superuser %', current_user;
    END IF;
    RETURN true;
END $$;
-- A per-row policy whose condition column has a hostile type: its values are cast only as the table's owner,
-- never while a superuser's erasure builds its statements.
CREATE DOMAIN mal2.kind AS int CHECK (mal2.hit(VALUE));
CREATE TABLE mal2.msgs (id int PRIMARY KEY, customer_id int REFERENCES hd.customers ON DELETE CASCADE,
                        kinds mal2.kind[], body text);
INSERT INTO mal2.msgs VALUES (1, 8, '{1}', 'hal''s words');
SELECT gdpr.declare_pii('mal2.msgs', 'body', 'null', '{"when": {"column": "kinds", "in": ["{1}"]}}');
-- An owned declaration on a key that is then re-pointed at another owner's table binds nothing there.
CREATE TABLE mal2.dummy (id int PRIMARY KEY);
CREATE TABLE mal2.att (id int PRIMARY KEY, customer_id int REFERENCES hd.customers ON DELETE CASCADE,
                       file_id int REFERENCES mal2.dummy);
SELECT gdpr.declare_owned('mal2.att', '{file_id}');
ALTER TABLE mal2.att DROP CONSTRAINT att_file_id_fkey;
ALTER TABLE mal2.att ADD FOREIGN KEY (file_id) REFERENCES hd.files;
INSERT INTO mal2.att VALUES (1, 8, 900);
RESET ROLE;
SELECT regress.try($$SELECT gdpr.anonymize_subject('hd_customer', '8', dry_run => true)$$) AS superuser_dry_run;
SELECT (gdpr.anonymize_subject('hd_customer', '8'))->'total_rows' AS erased_rows;
SELECT id, filename FROM hd.files WHERE id = 900;
-- The identifiers of the erasure are gone with it: no statement can test guesses against them afterwards.
SELECT regress.try($$SELECT gdpr._erase_scrub('Hal Hope', 1)$$) AS oracle;
-- A keep list has at most 100 items (anyone may call _erase_scrub, and each item is compiled).
SELECT regress.try(format($$SELECT gdpr._erase_scrub('x', 0, %L)$$,
    (SELECT json_agg('item ' || g)::text FROM generate_series(1, 101) g))) AS long_keep;
REVOKE CREATE ON DATABASE gdpr_regression FROM regress_intruder;
DROP SCHEMA mal2 CASCADE;

-- Declarations follow DROP COLUMN / DROP TABLE / DROP SCHEMA.
ALTER TABLE hd.files DROP COLUMN content_sha;
SELECT child, child_cols FROM gdpr.owned_reference ORDER BY child::text;
DROP TABLE hd.notes;
SELECT col, except_tables FROM gdpr.excluded_column ORDER BY col;
DROP SCHEMA hd CASCADE;
SELECT count(*) AS rules_left FROM gdpr.excluded_column;
SELECT count(*) AS owned_left FROM gdpr.owned_reference;
DROP FUNCTION regress.tables(jsonb);
