-- A person's request: data categories, finding a subject by what they gave (gdpr.find_subjects / find_guests and
-- the normalizers), exporting everything held about them (export_subject / export_rows), the traces no key links
-- (declare_traces, locate, anonymize_*(traces => true)), the support operator's grant, and attacks on each.
CREATE SCHEMA req;
CREATE TABLE req.agents (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL);
CREATE TABLE req.customers (
    id          bigint PRIMARY KEY,
    first_name  text,
    last_name   text,
    email       varchar(200),
    phone       text,
    login       text,
    avatar      bytea,
    referred_by bigint REFERENCES req.customers
);
CREATE TABLE req.conversations (
    id          bigint PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES req.customers,
    agent_id    integer REFERENCES req.agents,
    topic       text
);
CREATE TABLE req.leads (
    id              bigint PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES req.conversations,
    phone           text,
    email           text
);
CREATE INDEX ON req.conversations (customer_id);
CREATE INDEX ON req.leads (conversation_id);
INSERT INTO req.agents VALUES (1, 'Agent Smith', 'smith@helpdesk.example');
INSERT INTO req.customers VALUES
    (1, 'Jana', 'Nováková', 'Jana.Novakova@Example.cz', '+420 600 316 760', 'jnovakova', '\x0102ff', NULL),
    (2, 'Jan', 'Novák', 'jan.novak@example.cz', '777 000 111', 'jnovak', NULL, NULL),
    (3, 'Eva', 'Svobodová', 'eva@example.cz', NULL, 'eva', NULL, 1);
INSERT INTO req.conversations VALUES
    (10, 1, 1, 'Order ORD-1 for Jana Nováková'), (11, 1, 1, 'Delivery'), (20, 2, 1, 'Refund'),
    (30, 3, NULL, 'call Jana Nováková back');
INSERT INTO req.leads VALUES (100, 11, '00420 608 123 456', 'jana.private@example.cz'),
                             (200, 20, '+420777000111', 'jan.novak@example.cz');

SELECT gdpr.declare_subject('guest', 'req.customers'), gdpr.declare_subject('session', 'req.conversations');
SELECT gdpr.exclude_reference('req.customers', '{referred_by}');

-- 1. Categories: inferred from the strategy, set with the option "category", validated.
SELECT gdpr.declare_pii('req.customers', 'first_name', 'fake_first_name'),
       gdpr.declare_pii('req.customers', 'last_name', 'fake_last_name'),
       gdpr.declare_pii('req.customers', 'email', 'fake_email'),
       gdpr.declare_pii('req.customers', 'phone', 'mask', '{"keep_first": 4}'),
       gdpr.declare_pii('req.customers', 'login', 'hash', '{"category": "identifier"}'),
       gdpr.declare_pii('req.customers', 'avatar', 'null'),
       gdpr.declare_pii('req.conversations', 'topic', 'scrub'),
       gdpr.declare_pii('req.leads', 'phone', 'fake_phone'),
       gdpr.declare_pii('req.leads', 'email', 'fake_email'),
       gdpr.declare_pii('req.agents', 'name', 'fake_name');
SELECT gdpr.declare_erase_action('req.leads', 'delete');
SELECT regress.try($$SELECT gdpr.declare_pii('req.customers', 'phone', 'mask', '{"category": "telephone"}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('req.customers', 'phone', 'mask', '{"category": 7}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('req.customers', 'phone', 'mask', '{"colour": "red"}')$$);
-- mask says nothing about what the column holds: lint proposes the category its name suggests.
SELECT object, message FROM gdpr.lint() WHERE kind = 'category' AND object LIKE 'req.%';
SELECT gdpr.declare_pii('req.customers', 'phone', 'mask', '{"keep_first": 4, "category": "phone"}');
SELECT tbl, col, strategy, category FROM gdpr.pii_policy WHERE tbl::text LIKE 'req.%' ORDER BY tbl::text, col;

-- 2. Normal forms: IMMUTABLE, so expression indexes serve them.
SELECT gdpr.normalize_email('  Jana.Novakova@Example.CZ ') AS email,
       gdpr.normalize_name('NOVAKOVA jana') = gdpr.normalize_name('Jana  Nováková') AS name_same,
       gdpr.normalize_name('Łukasz Wiśniewski') AS polish,
       gdpr.normalize_identifier(' JNovakova ') AS identifier;
SELECT v, gdpr.normalize_phone(v) AS normalized
  FROM (VALUES ('+420 600 316 760'), ('00420600316760'), ('420600316760'), ('600 316 760'), ('600-316-760'),
               ('0600316760'), ('+44 20 7946 0958'), ('12'), ('')) AS t(v);
SELECT gdpr.normalize_phone('06 12 34 56 78', '33') AS french_national;
SELECT regress.try($$SELECT gdpr.normalize_phone('600316760', 'x1')$$);
SELECT provolatile, proisstrict FROM pg_proc
 WHERE oid IN ('gdpr.normalize_email(text)'::regprocedure, 'gdpr.normalize_phone(text, text)'::regprocedure,
               'gdpr.normalize_name(text)'::regprocedure, 'gdpr.normalize_identifier(text)'::regprocedure)
 GROUP BY 1, 2;

-- 3. Find: by e-mail, phone, name and identifier in every variant, in the subject table and below it.
SELECT * FROM gdpr.find_guests(email => '  JANA.NOVAKOVA@example.CZ ');
SELECT v AS phone_given, (SELECT string_agg(subject_id || ':' || score, ',') FROM gdpr.find_guests(phone => v)) AS found
  FROM (VALUES ('+420 600 316 760'), ('00420600316760'), ('420600316760'), ('600316760'), ('600-316-760'),
               ('+420 777 000 111'), ('777000111'), ('+421 600 316 760')) AS t(v);
SELECT v AS name_given, (SELECT string_agg(subject_id, ',') FROM gdpr.find_guests(name => v)) AS found
  FROM (VALUES ('NOVAKOVA jana'), ('Jana Nováková'), ('Jan Novák'), ('novak'), ('Jana')) AS t(v);
-- Every field given matched first; matches say where, never what.
SELECT * FROM gdpr.find_guests(email => 'jana.novakova@example.cz', phone => '600316760', name => 'jana NOVAKOVA',
                               identifier => 'JNOVAKOVA');
SELECT * FROM gdpr.find_guests(email => 'jana.novakova@example.cz', phone => '777 000 111');
-- A phone given only in a lead of one of the customer's conversations finds the customer; an e-mail stored in
-- both finds one customer with two matches.
SELECT * FROM gdpr.find_guests(phone => '+420 608 123 456');
SELECT * FROM gdpr.find_guests(email => 'jan.novak@example.cz');
SELECT * FROM gdpr.find_subjects('session', phone => '608123456');
-- Never in free text: conversation 30 (customer 3) mentions Jana Nováková in its topic.
SELECT subject_id FROM gdpr.find_guests(name => 'Jana Novakova');
SELECT count(*) AS nobody FROM gdpr.find_guests(email => 'nobody@example.cz', phone => '+420 111 222 333');
SELECT * FROM gdpr.find_guests(email => NULL, phone => '600316760');
SELECT regress.try($$SELECT * FROM gdpr.find_guests()$$);
SELECT regress.try($$SELECT * FROM gdpr.find_guests(phone => 'call me')$$);
SELECT regress.try($$SELECT * FROM gdpr.find_guests(email => '  ')$$);
SELECT regress.try($$SELECT * FROM gdpr.find_subjects('nobody', email => 'x@example.cz')$$);
SELECT regress.try($$SELECT * FROM gdpr.find_subjects(NULL, email => 'x@example.cz')$$);
SET gdpr.phone_country_code = 'abc';
SELECT regress.try($$SELECT * FROM gdpr.find_guests(phone => '600316760')$$);
RESET gdpr.phone_country_code;

-- lint suggests the expression index of every searched column; with it, the search is an index scan.
SELECT object, message FROM gdpr.lint() WHERE kind = 'guest' AND severity = 'info' ORDER BY object;
CREATE INDEX customers_email_normal ON req.customers ((gdpr.normalize_email(email::text)));
CREATE INDEX customers_phone_normal ON req.customers ((gdpr.normalize_phone(phone, '420')));
SELECT object FROM gdpr.lint() WHERE kind = 'guest' AND severity = 'info' AND object LIKE 'req.customers%' ORDER BY 1;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM req.customers t WHERE gdpr.normalize_phone(t.phone::text, '420') = '420600316760';
RESET enable_seqscan;

-- 4. Export: every row the erasure reaches, all columns, bytea as base64, categories, consents, erasures.
SELECT gdpr.publish_consent_text('req_news', 'v1', 'Send me news.', 'https://help.example/privacy') AS news_text \gset
SELECT gdpr.grant_consent(:news_text, 'api', 'guest', '1') IS NOT NULL AS consent_recorded;
SELECT jsonb_pretty(gdpr.export_guest(1) - 'exported_at' - 'erasures' - 'consents') AS export;
SELECT jsonb_pretty(jsonb_path_query_array(e, '$.consents[*] ? (@.purpose == "req_news")')
                    #- '{0,consent_id}' #- '{0,granted_at}') AS consents,
       (e->>'exported_at')::timestamptz = now() AS exported_now
  FROM gdpr.export_guest(1) e;
-- Nothing of anyone else: not the agent (a parent row), not the customer customer 1 referred.
SELECT jsonb_path_query_array(gdpr.export_guest(1), '$.tables[*].table') AS tables_of_customer_1;
SELECT jsonb_path_query_array(gdpr.export_session(11), '$.tables[*].rows[*].id') AS session_11_rows;
SELECT table_name, path, row->>'id' AS id FROM gdpr.export_rows('guest', '1') ORDER BY 1, 3;
COPY (SELECT table_name, row->>'id' FROM gdpr.export_rows('guest', '2') ORDER BY 1, 2) TO STDOUT WITH (FORMAT csv);
-- The erasure log entries of the subject: a dry run shows up.
SELECT jsonb_array_length(gdpr.export_guest(2)->'erasures') AS erasures_before;
SELECT gdpr.anonymize_guest(2, dry_run => true) IS NOT NULL AS dry_run_done;
SELECT jsonb_array_length(gdpr.export_guest(2)->'erasures') AS erasures_after,
       gdpr.export_guest(2)->'erasures'->-1->>'dry_run' AS last_was_dry_run;
-- The id in its key type's own form: '02' is guest 2 (its erasures and consents are found under '2'); numbers
-- are exported exactly.
SELECT e->>'subject_id' AS subject_id, jsonb_array_length(e->'erasures') AS erasures
  FROM gdpr.export_guest('02') e;
ALTER TABLE req.customers ADD COLUMN balance numeric(32,2);
UPDATE req.customers SET balance = 123456789012345678901234567890.12 WHERE id = 2;
SELECT row->'balance' AS exact_balance FROM gdpr.export_rows('guest', '2') WHERE table_name = 'req.customers';
SELECT regress.try($$SELECT gdpr.export_guest(999)$$);
SELECT regress.try($$SELECT gdpr.export_guest('abc')$$);
SELECT regress.try($$SELECT gdpr.export_subject('guest', NULL::text)$$);
SELECT regress.try($$SELECT gdpr.export_subject('nobody', '1')$$);

-- 5. Traces: a call log keyed by numbers written without +, anonymous chats (no key at all).
CREATE TABLE req.call_log (id serial PRIMARY KEY, payload text NOT NULL, meta jsonb, duration integer);
CREATE TABLE req.anon_chats (body text NOT NULL, at timestamptz NOT NULL DEFAULT now());
INSERT INTO req.call_log (payload) VALUES
    (E'caller: 420600316760\ncallee: 420777000111\nduration: 35'),
    (E'caller: 420777000111\ncallee: 420601000000\nduration: 12'),
    ('ticket created for jana.novakova%40example.cz'),
    ('user jnovakova logged in'),
    ('user jnovakovax logged in; 1420600316760 is another number');
INSERT INTO req.anon_chats (body) VALUES ('Hi, I am Jana Nováková, call me'), ('Hi, I am Jana Dvořáková'),
                                         ('NOVAKOVA JANA here, about my order'), ('Jana here');
SELECT regress.try($$SELECT gdpr.declare_traces('req.call_log', '{duration}')$$);
SELECT regress.try($$SELECT gdpr.declare_traces('req.call_log', '{meta}')$$);
SELECT regress.try($$SELECT gdpr.declare_traces('req.call_log', '{payload}', 'burn')$$);
SELECT regress.try($$SELECT gdpr.declare_traces('req.call_log', '{nope}')$$);
SELECT regress.try($$SELECT gdpr.declare_traces('req.call_log', NULL)$$);
SELECT regress.try($$SELECT gdpr.declare_traces('req.call_log', '{}')$$);
SELECT regress.try($$SELECT * FROM gdpr.locate('guest', '1')$$);
SELECT gdpr.declare_traces('req.call_log', '{payload}'), gdpr.declare_traces('req.anon_chats', '{body}', 'delete');
-- The documented index search: a trigram index on gdpr.trace_fold(col) serves the literal prefilter.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX call_log_traces ON req.call_log USING gin (gdpr.trace_fold(payload) gin_trgm_ops);
SELECT gdpr.trace_fold(E'Caller: +420 600-316-760, NOVÁKOVÁ\u00a0Jana') AS folded;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM req.call_log t WHERE gdpr.trace_fold(t.payload::text) ~ '00316760|novakova';
RESET enable_seqscan;
SELECT tbl, cols, action FROM gdpr.trace ORDER BY tbl::text;
SELECT table_name, row_key, columns, categories FROM gdpr.locate('guest', '1') ORDER BY 1, 2::text;
SELECT table_name, row_key, categories FROM gdpr.locate('guest', '2') ORDER BY 1, 2::text;
SELECT regress.try($$SELECT * FROM gdpr.locate('guest', '999')$$);
CREATE TABLE req.untouched AS
SELECT md5(string_agg(payload, '|' ORDER BY id)) AS calls FROM req.call_log WHERE id IN (2, 5);
SELECT jsonb_pretty(gdpr.anonymize_guest(1, dry_run => true, traces => true)->'traces') AS dry_run_traces;
SELECT count(*) AS anon_chats_still_there FROM req.anon_chats;
SELECT jsonb_pretty(gdpr.anonymize_guest(1, traces => true)->'traces') AS erased_traces;
SELECT id, payload FROM req.call_log ORDER BY id;
SELECT body FROM req.anon_chats ORDER BY body;
SELECT calls = (SELECT md5(string_agg(payload, '|' ORDER BY id)) FROM req.call_log WHERE id IN (2, 5))
       AS other_calls_unchanged FROM req.untouched;
SELECT count(*) AS traces_left FROM gdpr.locate('guest', '1');
SELECT tables ? 'req.call_log (traces)' AS logged FROM gdpr.erasure_log
 WHERE kind = 'guest' AND subject_id = '1' AND NOT dry_run ORDER BY id DESC LIMIT 1;
SELECT regress.try($$SELECT gdpr.anonymize_guest(2, traces => NULL)$$);

-- 6. The support operator: find, export and locate with the subject-access grant, nothing destructive, and only
-- with their own SELECT on every table read.
CREATE ROLE regress_support LOGIN;
SET ROLE regress_support;
SELECT regress.try($$SELECT * FROM gdpr.find_guests(email => 'jan.novak@example.cz')$$);
SELECT regress.try($$SELECT gdpr.export_guest(2)$$);
RESET ROLE;
SELECT gdpr.grant_subject_access('regress_support');
SET ROLE regress_support;
SELECT subject_id, score FROM gdpr.find_guests(email => 'jan.novak@example.cz');
SELECT jsonb_array_length(gdpr.export_guest(2)->'tables') AS tables_exported;
SELECT count(*) AS located FROM gdpr.locate('guest', '2');
SELECT regress.try($$SELECT gdpr.anonymize_guest(2)$$);
SELECT regress.try($$SELECT gdpr.declare_traces('req.call_log', '{payload}', 'delete')$$);
SELECT regress.try($$UPDATE req.customers SET email = 'x' WHERE id = 2$$);
RESET ROLE;
REVOKE SELECT ON req.leads FROM regress_support;
ALTER TABLE req.conversations ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_agent ON req.conversations USING (agent_id = 1);
SET ROLE regress_support;
SELECT regress.try($$SELECT * FROM gdpr.find_guests(phone => '608 123 456')$$);
SELECT regress.try($$SELECT gdpr.export_guest(2)$$);
SELECT regress.try($$SELECT * FROM gdpr.find_guests(email => 'eva@example.cz')$$);
RESET ROLE;
ALTER TABLE req.conversations DISABLE ROW LEVEL SECURITY;

-- 7. Planted code runs as its author: a plugin role that owns a table tied to customers gives one column an
-- enum type of its own with a cast to json, which to_jsonb calls while exporting. Run as the table's owner in a
-- security-restricted operation, it sees its own role and can take nothing.
CREATE ROLE regress_plugin LOGIN;
CREATE SCHEMA req_mal AUTHORIZATION regress_plugin;
GRANT USAGE ON SCHEMA req TO regress_plugin;
GRANT REFERENCES (id) ON req.customers TO regress_plugin;
SET ROLE regress_plugin;
CREATE TYPE req_mal.mood AS ENUM ('calm', 'angry');
CREATE TABLE req_mal.seen (who name, was_super boolean);
CREATE FUNCTION req_mal.spy(m req_mal.mood) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO req_mal.seen VALUES (current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user));
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE regress_plugin SUPERUSER';
    END IF;
    RETURN json_build_object('mood', m::text);
END $$;
CREATE CAST (req_mal.mood AS json) WITH FUNCTION req_mal.spy(req_mal.mood);
CREATE TABLE req_mal.notes (id int PRIMARY KEY, customer_id bigint, mood req_mal.mood);
INSERT INTO req_mal.notes VALUES (1, 3, 'angry');
SELECT gdpr.declare_link('req_mal.notes', '{customer_id}', 'req.customers', '{id}');
-- Declarations bind only what their author owns.
SELECT regress.try($$SELECT gdpr.declare_traces('req.call_log', '{payload}', 'delete')$$);
SELECT regress.try($$SELECT gdpr.undeclare_traces('req.anon_chats')$$);
RESET ROLE;
SELECT jsonb_path_query_array(gdpr.export_guest(3), '$.tables[*] ? (@.table == "req_mal.notes").rows[*].mood')
       AS plugin_note_mood;
SELECT who, was_super FROM req_mal.seen;
SELECT rolsuper AS plugin_became_superuser FROM pg_roles WHERE rolname = 'regress_plugin';

-- The walk from a matching row up to its subject reads each table as its own owner: the plugin's callbacks,
-- tied to a shop owner's clients, show their rows only to the plugin (RLS); read as the shop's owner they would
-- be hidden and the client silently not found.
CREATE ROLE regress_shop LOGIN;
CREATE SCHEMA shop AUTHORIZATION regress_shop;
SET ROLE regress_shop;
CREATE TABLE shop.clients (id int PRIMARY KEY, email text);
INSERT INTO shop.clients VALUES (1, 'client@example.cz');
SELECT gdpr.declare_subject('shop_client', 'shop.clients'), gdpr.declare_pii('shop.clients', 'email', 'fake_email');
GRANT USAGE ON SCHEMA shop TO regress_plugin;
GRANT REFERENCES (id) ON shop.clients TO regress_plugin;
SET ROLE regress_plugin;
CREATE TABLE req_mal.callbacks (id int PRIMARY KEY, client_id int REFERENCES shop.clients, phone text);
CREATE INDEX ON req_mal.callbacks (client_id);
INSERT INTO req_mal.callbacks VALUES (1, 1, '+420 700 111 222');
SELECT gdpr.declare_pii('req_mal.callbacks', 'phone', 'fake_phone');
ALTER TABLE req_mal.callbacks ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_plugin ON req_mal.callbacks USING (current_user = 'regress_plugin');
GRANT SELECT ON req_mal.callbacks TO regress_shop;
RESET ROLE;
SELECT subject_id, matches FROM gdpr.find_subjects('shop_client', phone => '700 111 222');

-- 8. Declarations follow DROP COLUMN / DROP TABLE; undeclare; no traces declared is an error for locate.
ALTER TABLE req.anon_chats ADD COLUMN subject text;
SELECT gdpr.declare_traces('req.anon_chats', '{body, subject}', 'delete');
ALTER TABLE req.anon_chats DROP COLUMN subject;
SELECT tbl, cols FROM gdpr.trace WHERE tbl = 'req.anon_chats'::regclass;
ALTER TABLE req.anon_chats DROP COLUMN body;
SELECT count(*) AS anon_chats_traces FROM gdpr.trace WHERE tbl::text = 'req.anon_chats';
SELECT gdpr.undeclare_traces('req.call_log');
SELECT regress.try($$SELECT * FROM gdpr.locate('guest', '2')$$);

-- 9. Keys compared exactly: a domain with a modifier does not truncate the id given onto another key; citext
-- keys use citext's own equality (foreign-key rows in another case are reached); a float key names its own row
-- whatever extra_float_digits says. Traces in a jsonb column are read from its decoded strings, and a column with
-- a nondeterministic collation can be searched.
CREATE EXTENSION IF NOT EXISTS citext;
CREATE SCHEMA keyx;
CREATE DOMAIN keyx.code AS char(5);
CREATE TABLE keyx.customers (code keyx.code PRIMARY KEY, name text);
INSERT INTO keyx.customers VALUES ('AB123', 'Jana');
CREATE TABLE keyx.users (login citext PRIMARY KEY, email text);
CREATE TABLE keyx.posts (id int PRIMARY KEY, author citext REFERENCES keyx.users, body text);
INSERT INTO keyx.users VALUES ('alice', 'alice@example.cz');
INSERT INTO keyx.posts VALUES (1, 'alice', 'a'), (2, 'Alice', 'b'), (3, 'ALICE', 'c');
CREATE TABLE keyx.floats (id float8 PRIMARY KEY, name text);
INSERT INTO keyx.floats VALUES (0.3, 'Petr'), (0.30000000000000004, 'Jana');
SELECT gdpr.declare_subject('keyx_customer', 'keyx.customers'), gdpr.declare_pii('keyx.customers', 'name', 'null'),
       gdpr.declare_subject('keyx_user', 'keyx.users'), gdpr.declare_pii('keyx.users', 'email', 'fake_email'),
       gdpr.declare_erase_action('keyx.posts', 'delete'),
       gdpr.declare_subject('keyx_float', 'keyx.floats'), gdpr.declare_pii('keyx.floats', 'name', 'null');
SELECT regress.try($$SELECT gdpr.anonymize_subject('keyx_customer', 'AB1234')$$);
SELECT count(*) AS posts_exported FROM gdpr.export_rows('keyx_user', 'ALICE') WHERE table_name = 'keyx.posts';
SELECT gdpr.anonymize_subject('keyx_user', 'Alice')->>'subject_id' AS erased_as;
SELECT count(*) AS posts_left FROM keyx.posts;
BEGIN;
SET LOCAL extra_float_digits = 0;
SELECT gdpr.anonymize_subject('keyx_float', '0.30000000000000004')->>'total_rows' AS rows;
COMMIT;
SELECT id = 0.3 AS is_point_three, name FROM keyx.floats ORDER BY id;
CREATE COLLATION keyx.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE keyx.hooks (id int PRIMARY KEY, payload jsonb);
CREATE TABLE keyx.tickets (id int PRIMARY KEY, body text COLLATE keyx.ci);
INSERT INTO keyx.hooks VALUES (1, jsonb_build_object('msg', E'Contact:\nalice@example.cz')), (2, '{"msg": "other"}');
INSERT INTO keyx.tickets VALUES (1, 'from ALICE@example.cz'), (2, 'from bob@example.cz');
SELECT gdpr.declare_traces('keyx.hooks', '{payload}', 'delete'), gdpr.declare_traces('keyx.tickets', '{body}');
INSERT INTO keyx.users VALUES ('bob', 'alice@example.cz');
SELECT table_name, row_key, categories FROM gdpr.locate('keyx_user', 'bob') ORDER BY 1, 2::text;

SET client_min_messages = warning;
DROP SCHEMA keyx CASCADE;
DROP SCHEMA req, req_mal, shop CASCADE;
DROP OWNED BY regress_support, regress_plugin, regress_shop;
DROP ROLE regress_support, regress_plugin, regress_shop;

-- The report's path is a route that reached rows: streams found through the polymorphic link, not through the
-- foreign key that matched none.
CREATE SCHEMA pth;
CREATE TABLE pth.users (id int PRIMARY KEY, email text);
CREATE TABLE pth.streams (id int PRIMARY KEY, created_by_id int REFERENCES pth.users, o_type text, o_id int, note text);
CREATE INDEX ON pth.streams (created_by_id);
CREATE INDEX ON pth.streams (o_type, o_id);
INSERT INTO pth.users VALUES (1, 'one@mail.example'), (2, 'two@mail.example');
INSERT INTO pth.streams VALUES (10, 2, 'User', 1, 'about one'), (11, 2, 'User', 1, 'about one again');
SELECT gdpr.declare_subject('pth_user', 'pth.users');
SELECT gdpr.declare_pii('pth.users', 'email', 'fake_email');
SELECT gdpr.declare_pii('pth.streams', 'note', 'null');
SELECT gdpr.declare_link('pth.streams', '{o_id}', 'pth.users', '{id}', 'o_type', 'User');
SELECT t->>'table' AS "table", t->>'rows' AS rows, t->>'path' AS path
  FROM jsonb_array_elements(gdpr.anonymize_subject('pth_user', '1', dry_run => true)->'tables') t;
SELECT t->>'table' AS "table", t->>'path' AS path
  FROM jsonb_array_elements(gdpr.export_subject('pth_user', '1')->'tables') t;
DROP SCHEMA pth CASCADE;
