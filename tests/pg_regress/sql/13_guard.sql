-- The erased-subject guard: after an erasure, writes that would tie new data to the erased subject are refused
-- (SQLSTATE 55000), at any depth, through foreign keys, declared links and polymorphic links.
CREATE SCHEMA gd AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA gd TO regress_app;
SET ROLE regress_owner;
CREATE TABLE gd.people (id int PRIMARY KEY, name text, email text);
CREATE TABLE gd.visits (id int PRIMARY KEY, person_id int NOT NULL REFERENCES gd.people, ip inet);
CREATE INDEX ON gd.visits (person_id);
CREATE TABLE gd.pages (id int PRIMARY KEY, visit_id int NOT NULL REFERENCES gd.visits, url text);
CREATE INDEX ON gd.pages (visit_id);
CREATE TABLE gd.clicks (person_ref int, at timestamptz);                    -- no FK, no PK
CREATE INDEX ON gd.clicks (person_ref);
CREATE TABLE gd.comments (id int PRIMARY KEY, record_type text, record_id int, body text);
CREATE INDEX ON gd.comments (record_id);
CREATE TABLE gd.unrelated (id int PRIMARY KEY, note text);
INSERT INTO gd.people VALUES (1, 'Jana Nová', 'jana@mail.example'), (2, 'Petr Malý', 'petr@mail.example');
INSERT INTO gd.visits VALUES (10, 1, '10.0.0.1'), (20, 2, '10.0.0.2');
INSERT INTO gd.pages VALUES (100, 10, '/cart'), (200, 20, '/cart');
INSERT INTO gd.clicks VALUES (1, now()), (2, now());
INSERT INTO gd.comments VALUES (1, 'Person', 1, 'call Jana'), (2, 'Visit', 10, 'odd visit'), (3, 'Order', 1, 'order 1');
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA gd TO regress_app;
RESET ROLE;
SELECT gdpr.declare_subject('gd_person', 'gd.people');
SET ROLE regress_owner;
SELECT gdpr.declare_pii('gd.people', 'name', 'fake_name');
SELECT gdpr.declare_pii('gd.people', 'email', 'fake_email');
SELECT gdpr.declare_pii('gd.visits', 'ip', 'null');
SELECT gdpr.declare_pii('gd.pages', 'url', 'constant', '{"value": "/"}');
SELECT gdpr.declare_pii('gd.comments', 'body', 'scrub');
SELECT gdpr.declare_link('gd.clicks', '{person_ref}', 'gd.people', '{id}');
SELECT gdpr.declare_erase_action('gd.clicks', 'delete');
SELECT gdpr.declare_link('gd.comments', '{record_id}', 'gd.people', '{id}', type_col => 'record_type', type_value => 'Person');
SELECT gdpr.declare_link('gd.comments', '{record_id}', 'gd.visits', '{id}', type_col => 'record_type', type_value => 'Visit');
RESET ROLE;

-- Installing the guard: the tables' owner only; idempotent.
SET ROLE regress_app;
SELECT regress.try($$SELECT * FROM gdpr.guard_erased_subjects()$$);
RESET ROLE;
SELECT table_name, installed_now FROM gdpr.guard_erased_subjects() WHERE table_name LIKE 'gd.%' ORDER BY 1;
SELECT table_name, installed_now FROM gdpr.guard_erased_subjects() WHERE table_name LIKE 'gd.%' ORDER BY 1;
SELECT tgrelid::regclass FROM pg_trigger WHERE tgname = 'gdpr_erased_guard' AND tgrelid::regclass::text LIKE 'gd.%'
 ORDER BY 1::text;

-- Before any erasure every write is accepted.
SET ROLE regress_app;
INSERT INTO gd.pages VALUES (101, 10, '/checkout');
RESET ROLE;

-- A dry run records nothing.
SELECT (gdpr.anonymize_subject('gd_person', '1', dry_run => true))->'total_rows' AS dry_run_rows;
SELECT count(*) AS markers FROM gdpr.erased_row WHERE tbl::text LIKE 'gd.%';
SELECT (gdpr.anonymize_subject('gd_person', '1'))->'total_rows' AS erased_rows;
-- What is recorded: keys of the erased rows other rows point at, no personal data.
SELECT tbl, cols, key FROM gdpr.erased_row WHERE tbl::text LIKE 'gd.%' ORDER BY 1::text, 2, 3;

-- Late writes for person 1, as the application: each refused with 55000, the database unchanged.
SET ROLE regress_app;
SELECT regress.try(s) AS late_write
  FROM unnest(ARRAY[
    $$INSERT INTO gd.visits VALUES (11, 1, '10.0.0.9')$$,
    $$INSERT INTO gd.pages VALUES (102, 10, '/account/jana')$$,
    $$INSERT INTO gd.clicks VALUES (1, now())$$,
    $$INSERT INTO gd.comments VALUES (4, 'Person', 1, 'Jana called again')$$,
    $$INSERT INTO gd.comments VALUES (5, 'Visit', 10, 'from jana@mail.example')$$,
    $$UPDATE gd.people SET email = 'jana@mail.example' WHERE id = 1$$,
    $$UPDATE gd.visits SET ip = '10.0.0.1' WHERE id = 10$$,
    $$UPDATE gd.pages SET url = '/account/jana' WHERE id = 100$$,
    $$UPDATE gd.visits SET person_id = 1 WHERE id = 20$$,
    $$INSERT INTO gd.people VALUES (1, 'Jana', 'jana@mail.example') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name$$
  ]) s;
-- Rows that do not point at an erased row are accepted: person 2, another type of comment, NULL references.
INSERT INTO gd.visits VALUES (21, 2, '10.0.0.3');
INSERT INTO gd.pages VALUES (201, 20, '/cart');
INSERT INTO gd.clicks VALUES (2, now()), (NULL, now());
INSERT INTO gd.comments VALUES (6, 'Order', 1, 'order 1 shipped'), (7, 'Person', 2, 'Petr');
UPDATE gd.people SET email = 'petr@new.example' WHERE id = 2;
RESET ROLE;
SELECT count(*) AS person_1_visits FROM gd.visits WHERE person_id = 1;
SELECT count(*) AS person_1_pages FROM gd.pages WHERE visit_id = 10;
SELECT name <> 'Jana Nová' AS still_erased FROM gd.people WHERE id = 1;

-- The guard protects the subject's rows, not the engine: erasing again and pseudonymizing still work.
SELECT (gdpr.anonymize_subject('gd_person', '1'))->'total_rows' AS erased_again;
SET client_min_messages = warning;
SELECT (gdpr.pseudonymize_table('gd.visits'))->'rows' AS pseudonymized_rows;
RESET client_min_messages;
-- Erasing person 2 guards their rows too; erasing one row's subject never blocks others.
SELECT (gdpr.anonymize_subject('gd_person', '2'))->'total_rows' AS erased_rows;
SELECT regress.try($$INSERT INTO gd.pages VALUES (202, 21, '/x')$$);
INSERT INTO gd.people VALUES (3, 'Nový Host', 'novy@mail.example');
INSERT INTO gd.visits VALUES (30, 3, NULL);

-- The application cannot read or forge the markers.
SET ROLE regress_app;
SELECT regress.try($$SELECT count(*) FROM gdpr.erased_row$$);
SELECT regress.try($$DELETE FROM gdpr.erased_row$$);
RESET ROLE;

-- A table added later and reachable from the subject is reported until the guard covers it.
CREATE TABLE gd.reviews (id int PRIMARY KEY, visit_id int REFERENCES gd.visits, stars int);
CREATE INDEX ON gd.reviews (visit_id);
SELECT kind, severity, object, message FROM gdpr.lint() WHERE kind = 'guard';
SELECT table_name FROM gdpr.guard_erased_subjects() WHERE installed_now;
SELECT regress.try($$INSERT INTO gd.reviews VALUES (1, 10, 5)$$);
INSERT INTO gd.reviews VALUES (2, 30, 5);
SELECT count(*) AS guard_findings FROM gdpr.lint() WHERE kind = 'guard';
-- A guard its table's owner disabled is reported too.
ALTER TABLE gd.reviews DISABLE TRIGGER gdpr_erased_guard;
SELECT kind, severity, object, message FROM gdpr.lint() WHERE kind = 'guard';
ALTER TABLE gd.reviews ENABLE TRIGGER gdpr_erased_guard;

-- Dropping a table forgets its markers.
SELECT count(*) AS visit_markers FROM gdpr.erased_row WHERE tbl = 'gd.visits'::regclass;
DROP TABLE gd.reviews, gd.pages, gd.comments, gd.visits;
SELECT count(*) AS dangling_markers FROM gdpr.erased_row
 WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = tbl);
