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

-- An owned parent erased by delete while rows of the erasure that keep it (through a NO ACTION key) are only
-- anonymized would fail half-way: refused up front, dry run too.
INSERT INTO hd.customers VALUES (4, 'Dana Doe', 'dana@mail.example');
INSERT INTO hd.contents VALUES ('sha-dana', 'Dana''s scan');
INSERT INTO hd.files VALUES (400, 'dana.pdf', 'sha-dana');
INSERT INTO hd.tickets VALUES (40, 4, 'Scan attached', NULL, NULL);
INSERT INTO hd.attachments VALUES (4000, 40, 400);
SELECT gdpr.declare_erase_action('hd.files', 'anonymize');
SELECT gdpr.declare_pii('hd.files', 'filename', 'null');
SELECT regress.try($$SELECT gdpr.anonymize_subject('hd_customer', '4', dry_run => true)$$);
SELECT regress.try($$SELECT gdpr.anonymize_subject('hd_customer', '4')$$);
SELECT count(*) AS dana_rows_left FROM hd.attachments WHERE id = 4000;
-- Anonymized files and kept contents: the file row stays, its name is gone, the content stays with it.
SELECT gdpr.declare_erase_action('hd.contents', 'anonymize');
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

-- Declarations follow DROP COLUMN / DROP TABLE / DROP SCHEMA.
ALTER TABLE hd.files DROP COLUMN content_sha;
SELECT child, child_cols FROM gdpr.owned_reference ORDER BY child::text;
DROP TABLE hd.notes;
SELECT col, except_tables FROM gdpr.excluded_column ORDER BY col;
DROP SCHEMA hd CASCADE;
SELECT count(*) AS rules_left FROM gdpr.excluded_column;
SELECT count(*) AS owned_left FROM gdpr.owned_reference;
DROP FUNCTION regress.tables(jsonb);
