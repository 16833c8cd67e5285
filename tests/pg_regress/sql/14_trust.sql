-- The trust model, attacked: a non-superuser owns the chat schema (regress_owner), a hostile role owns only
-- schema mal (regress_hostile), a superuser or a DPO erases. Every statement on a user table runs as that
-- table's owner in a security-restricted operation, after the caller's own privileges were checked.
CREATE ROLE regress_hostile LOGIN;
CREATE ROLE regress_analyst LOGIN IN ROLE regress_owner;
CREATE ROLE "regress_DPO" LOGIN;
CREATE SCHEMA tr AUTHORIZATION regress_owner;
CREATE SCHEMA mal AUTHORIZATION regress_hostile;

SET ROLE regress_owner;
GRANT USAGE ON SCHEMA tr TO PUBLIC;
CREATE TABLE tr.guests (id int PRIMARY KEY, email text UNIQUE, name text, visitor_ip inet);
CREATE TABLE tr.messages (id int PRIMARY KEY, guest_id int NOT NULL REFERENCES tr.guests, body text);
CREATE INDEX ON tr.messages (guest_id);
INSERT INTO tr.guests VALUES (1, 'ann@example.cz', 'Ann Kovář', '10.1.2.3'), (2, 'bob@example.cz', 'Bob Malý', '10.9.8.7'),
                             (3, 'cyril@example.cz', 'Cyril Dvořák', '10.3.3.3');
INSERT INTO tr.messages VALUES (1, 1, 'hi from ann'), (2, 1, 'ann again'), (3, 2, 'hi from bob'), (4, 3, 'cyril here');
SELECT gdpr.declare_subject('tr_guest', 'tr.guests');
SELECT gdpr.declare_pii('tr.guests', 'email', 'fake_email');
SELECT gdpr.declare_pii('tr.guests', 'name', 'fake_name');
SELECT gdpr.declare_pii('tr.guests', 'visitor_ip', 'generalize');
SELECT gdpr.declare_pii('tr.messages', 'body', 'scrub');
RESET ROLE;

-- The hostile role's toolbox: a function that records who ran it, tries to become superuser, to read the key,
-- to SET ROLE and to change the caller's search_path.
SET ROLE regress_hostile;
GRANT USAGE ON SCHEMA mal TO PUBLIC;
CREATE TABLE mal.loot (who name, was_superuser boolean, what text);
GRANT INSERT ON mal.loot TO PUBLIC;
CREATE TABLE mal.armed (since timestamptz);  -- the traps stay quiet while the hostile role sets them
GRANT SELECT ON mal.armed TO PUBLIC;
CREATE FUNCTION mal.hit(tag text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    su boolean := (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM mal.armed) THEN
        RETURN true;
    END IF;
    INSERT INTO mal.loot VALUES (current_user, su, tag);
    IF su THEN
        EXECUTE 'ALTER ROLE regress_hostile SUPERUSER';
    END IF;
    BEGIN
        INSERT INTO mal.loot SELECT current_user, su, 'key ' || pg_catalog.encode(k.key, 'hex') FROM gdpr.key k;
    EXCEPTION WHEN insufficient_privilege THEN
        INSERT INTO mal.loot VALUES (current_user, su, tag || ': gdpr.key denied');
    END;
    BEGIN
        EXECUTE 'SET ROLE postgres';
        INSERT INTO mal.loot VALUES (current_user, su, tag || ': SET ROLE worked');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO mal.loot VALUES (current_user, su, tag || ': SET ROLE refused');
    END;
    PERFORM pg_catalog.set_config('search_path', 'mal, pg_catalog', false);
    RETURN true;
END $$;
CREATE FUNCTION mal.imm(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN PERFORM mal.hit('index expression'); RETURN t; END $$;
CREATE FUNCTION mal.trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM mal.hit('trigger on ' || TG_TABLE_NAME); RETURN NEW; END $$;
CREATE DOMAIN mal.gref AS integer CHECK (mal.hit('domain on a key'));
CREATE DOMAIN mal.note AS text CHECK (mal.hit('domain on a changed column'));

-- 1. Without REFERENCES on tr.guests, the hostile role cannot attach its table to the chat's guests at all.
CREATE TABLE mal.t (id int PRIMARY KEY, guest mal.gref, note mal.note CHECK (mal.hit('table CHECK')));
SELECT regress.try($$SELECT gdpr.declare_link('mal.t', '{guest}', 'tr.guests', '{id}')$$);
SELECT regress.try($$ALTER TABLE mal.t ADD FOREIGN KEY (guest) REFERENCES tr.guests$$);
-- 2. Nor re-point or drop the chat's subject kind (a decoy would be erased instead of guest 1).
CREATE TABLE mal.decoy (id int PRIMARY KEY);
SELECT regress.try($$SELECT gdpr.declare_subject('tr_guest', 'mal.decoy')$$);
SELECT regress.try($$SELECT gdpr.undeclare_subject('tr_guest')$$);
-- ... nor put a consent requirement anywhere, nor point a FOREIGN KEY at gdpr.consent (an oracle for
-- which consents exist, and a way to pin them).
CREATE TABLE mal.pins (id int PRIMARY KEY, consent_id bigint);
SELECT regress.try($$SELECT gdpr.require_consent('mal.pins', 'consent_id', on_withdraw => 'block')$$);
SELECT regress.try($$ALTER TABLE mal.pins ADD FOREIGN KEY (consent_id) REFERENCES gdpr.consent$$);
RESET ROLE;
SELECT kind, tbl FROM gdpr.subject WHERE kind = 'tr_guest';

-- 3. A link needs REFERENCES on the parent columns and must target a primary or unique key.
SET ROLE regress_owner;
GRANT REFERENCES (id) ON tr.guests TO regress_hostile;   -- a plugin the chat owner lets reference guests
RESET ROLE;
SET ROLE regress_hostile;
SELECT regress.try($$SELECT gdpr.declare_link('mal.t', '{note}', 'tr.guests', '{email}')$$);
SELECT regress.try($$SELECT gdpr.declare_link('mal.t', '{note}', 'tr.guests', '{name}')$$);
SELECT gdpr.declare_link('mal.t', '{guest}', 'tr.guests', '{id}');
CREATE INDEX ON mal.t (mal.imm(note));
CREATE RULE t_update AS ON UPDATE TO mal.t DO ALSO SELECT mal.hit('rule');
CREATE TRIGGER t_trg BEFORE UPDATE OR DELETE ON mal.t FOR EACH ROW EXECUTE FUNCTION mal.trg();
ALTER TABLE mal.t ENABLE ROW LEVEL SECURITY;
CREATE POLICY t_policy ON mal.t USING (mal.hit('row-level security policy'));
INSERT INTO mal.t VALUES (1, 1, 'planted'), (2, 2, 'other guest');
SELECT gdpr.declare_pii('mal.t', 'note', 'constant', '{"value": "erased"}');
INSERT INTO mal.armed VALUES (now());
RESET ROLE;
-- The chat owner plants code too: a trigger on its own table (it once copied gdpr.key this way).
SET ROLE regress_owner;
CREATE TRIGGER messages_trg BEFORE UPDATE ON tr.messages FOR EACH ROW EXECUTE FUNCTION mal.trg();
RESET ROLE;

-- 4. A superuser runs a dry run, then the erasure. Planted code runs, but as its author, in a
-- security-restricted operation: no superuser, no key, no SET ROLE, and the caller's search_path survives.
SHOW search_path;
SELECT t->>'table' AS "table", t->>'rows' AS rows
  FROM jsonb_array_elements(gdpr.anonymize_subject('tr_guest', '1', dry_run => true)->'tables') t ORDER BY 1;
SELECT t->>'table' AS "table", t->>'action' AS action, t->>'rows' AS rows
  FROM jsonb_array_elements(gdpr.anonymize_subject('tr_guest', '1')->'tables') t ORDER BY 1;
SHOW search_path;
SELECT who, was_superuser, what FROM mal.loot ORDER BY what, who;
SELECT rolsuper AS hostile_became_superuser FROM pg_roles WHERE rolname = 'regress_hostile';
SELECT id, note FROM mal.t ORDER BY id;
SELECT id, email = 'ann@example.cz' AS email_kept FROM tr.guests ORDER BY id;

-- 5. A reached table that fails (here: its trigger raises) fails the whole erasure, naming the table; nothing
-- is half-done. No Rust backtrace reaches DETAIL (the server runs with RUST_BACKTRACE=1).
SET ROLE regress_hostile;
CREATE OR REPLACE FUNCTION mal.trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF TG_TABLE_NAME = 't' THEN RAISE EXCEPTION 'no erasure today'; END IF; RETURN NEW; END $$;
RESET ROLE;
SELECT gdpr.anonymize_subject('tr_guest', '2');
SELECT id, email FROM tr.guests WHERE id = 2;
SELECT id, body FROM tr.messages WHERE guest_id = 2;
SET ROLE regress_hostile;
DROP TRIGGER t_trg ON mal.t;
RESET ROLE;
SET ROLE regress_owner;
DROP TRIGGER messages_trg ON tr.messages;
RESET ROLE;

-- 6. Entitlement is the caller's: a DPO granted erasures needs its own privileges on every table reached,
-- the hostile one included (named in the error) ...
SELECT gdpr.grant_erasure('"regress_DPO"');
GRANT USAGE ON SCHEMA tr, mal TO "regress_DPO";
GRANT SELECT, UPDATE, DELETE ON ALL TABLES IN SCHEMA tr TO "regress_DPO";
SET ROLE "regress_DPO";
SELECT regress.try($$SELECT gdpr.anonymize_subject('tr_guest', '2')$$);
SELECT regress.try($$SELECT gdpr.anonymize_subject('tr_guest', '2', dry_run => true)$$);
RESET ROLE;
SET ROLE regress_hostile;
GRANT SELECT, UPDATE ON mal.t TO "regress_DPO";
RESET ROLE;
-- ... and row-level security that hides rows from it is an error, never a success that skipped them.
SET ROLE "regress_DPO";
SELECT regress.try($$SELECT gdpr.anonymize_subject('tr_guest', '2')$$);
RESET ROLE;
SET ROLE regress_hostile;
ALTER TABLE mal.t DISABLE ROW LEVEL SECURITY;
RESET ROLE;
SET ROLE regress_owner;
ALTER TABLE tr.messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_short ON tr.messages USING (length(body) < 5);
RESET ROLE;
SET ROLE "regress_DPO";
SELECT regress.try($$SELECT gdpr.anonymize_subject('tr_guest', '2')$$);
RESET ROLE;
SET ROLE regress_owner;
ALTER TABLE tr.messages DISABLE ROW LEVEL SECURITY;
RESET ROLE;
SET ROLE "regress_DPO";
SELECT (gdpr.anonymize_subject('tr_guest', '2')->>'total_rows')::int AS erased_by_dpo;
RESET ROLE;
SELECT id, body FROM tr.messages ORDER BY id;
SELECT erased_by, kind, subject_id FROM gdpr.erasure_log WHERE kind = 'tr_guest' AND NOT dry_run ORDER BY id;

-- 7. A policy that no longer fits its column fails the plan (and lint says so) instead of keeping the IP.
SET ROLE regress_owner;
ALTER TABLE tr.guests ALTER COLUMN visitor_ip TYPE text;
RESET ROLE;
SELECT regress.try($$SELECT gdpr.anonymize_subject('tr_guest', '3')$$);
SELECT kind, severity, object, message FROM gdpr.lint() WHERE kind IN ('policy', 'tr_guest') ORDER BY 1;
SELECT visitor_ip FROM tr.guests WHERE id = 3;
SET ROLE regress_owner;
SELECT gdpr.declare_pii('tr.guests', 'visitor_ip', 'null');
RESET ROLE;
SELECT (gdpr.anonymize_subject('tr_guest', '3')->>'total_rows')::int AS erased_after_redeclaring;

-- 8. Keys keep their meaning: char(n), varchar(n), numeric(p,s) and timestamp(p) ids are compared exactly, so
-- an id that is not stored never erases a truncated or rounded neighbour.
SET ROLE regress_owner;
CREATE TABLE tr.customers (code char(6) PRIMARY KEY, email text);
CREATE TABLE tr.orders (id int PRIMARY KEY, customer char(6) REFERENCES tr.customers, note text);
CREATE TABLE tr.tickets (no varchar(8) PRIMARY KEY, email text);
CREATE TABLE tr.ledger (amount numeric(10,2) PRIMARY KEY, email text);
CREATE TABLE tr.visits (at timestamp(0) PRIMARY KEY, email text);
INSERT INTO tr.customers VALUES ('A00001', 'a@x.cz'), ('B00002', 'b@x.cz'), ('A', 'one-letter@x.cz');
INSERT INTO tr.orders VALUES (1, 'A00001', 'order of A00001'), (2, 'B00002', 'order of B00002');
INSERT INTO tr.tickets VALUES ('T-1', 't1@x.cz'), ('T-10', 't10@x.cz');
INSERT INTO tr.ledger VALUES (1.01, 'l1@x.cz'), (2.00, 'l2@x.cz');
INSERT INTO tr.visits VALUES ('2026-01-01 10:00:01', 'v1@x.cz');
SELECT gdpr.declare_subject('tr_customer', 'tr.customers');
SELECT gdpr.declare_subject('tr_ticket', 'tr.tickets');
SELECT gdpr.declare_subject('tr_ledger', 'tr.ledger');
SELECT gdpr.declare_subject('tr_visit', 'tr.visits');
SELECT gdpr.declare_pii(t, 'email', 'fake_email') FROM unnest('{tr.customers,tr.tickets,tr.ledger,tr.visits}'::regclass[]) t;
SELECT gdpr.declare_pii('tr.orders', 'note', 'scrub');
RESET ROLE;
SELECT (gdpr.anonymize_subject('tr_customer', 'A00001')->>'total_rows')::int AS rows_a00001;
SELECT code, email LIKE '%@x.cz' AS email_kept FROM tr.customers ORDER BY code;
SELECT regress.try($$SELECT gdpr.anonymize_subject('tr_customer', 'A000011')$$);
SELECT (gdpr.anonymize_subject('tr_customer', 'B00002')->>'total_rows')::int AS rows_b00002;
SELECT id, note FROM tr.orders ORDER BY id;
SELECT regress.try($$SELECT gdpr.anonymize_subject('tr_ticket', 'T-10000000')$$);
SELECT (gdpr.anonymize_subject('tr_ticket', 'T-1')->>'total_rows')::int AS rows_t1;
SELECT no, email LIKE '%@x.cz' AS email_kept FROM tr.tickets ORDER BY no;
SELECT regress.try($$SELECT gdpr.anonymize_subject('tr_ledger', '1.005')$$);
SELECT regress.try($$SELECT gdpr.anonymize_subject('tr_visit', '2026-01-01 10:00:00.6')$$);
SELECT (gdpr.anonymize_subject('tr_ledger', '1.01')->>'total_rows')::int AS rows_ledger;
SELECT (gdpr.anonymize_subject('tr_visit', '2026-01-01 10:00:01')->>'total_rows')::int AS rows_visit;
-- pseudonymize_table walks a char(6) key in batches of one and ends (progress NOTICEs carry timings: hidden).
SET client_min_messages = warning;
SELECT (gdpr.pseudonymize_table('tr.customers', 1) - 'duration_ms' - 'rows_per_second') AS report;

-- 9. pseudonymize_database takes only the tables of roles the caller really belongs to (superuser powers do
-- not count: a hostile table of chosen inputs would make the database key an oracle), or the tables named.
SET ROLE regress_hostile;
CREATE TABLE mal.inputs (id int PRIMARY KEY, guess text);
INSERT INTO mal.inputs VALUES (1, 'ann@example.cz');
SELECT gdpr.declare_pii('mal.inputs', 'guess', 'fake_email');
RESET ROLE;
SELECT gdpr.grant_pseudonymization('regress_analyst');
GRANT SELECT, UPDATE ON ALL TABLES IN SCHEMA tr TO regress_analyst;
SET ROLE regress_analyst;
SELECT r->>'table' AS pseudonymized FROM jsonb_array_elements(gdpr.pseudonymize_database()->'tables') r ORDER BY 1;
SELECT s->>'table' AS skipped, s->>'reason' AS reason
  FROM jsonb_array_elements(gdpr.pseudonymize_database()->'skipped') s ORDER BY 1;
RESET ROLE;
SELECT guess AS hostile_inputs_untouched FROM mal.inputs;
SELECT s->>'table' AS skipped_for_superuser FROM jsonb_array_elements(gdpr.pseudonymize_database()->'skipped') s ORDER BY 1;
SELECT r->>'table' AS named FROM jsonb_array_elements(gdpr.pseudonymize_database(tables => '{tr.tickets}')->'tables') r;
RESET client_min_messages;

-- 10. A consent given by one guest cannot be used for another guest's lead (subject_col).
SELECT gdpr.grant_consent_administration('regress_owner');
SELECT gdpr.publish_consent_text('tr_leads', 'v1', 'We call you back.', 'https://example.cz/privacy') AS text_id \gset
SET ROLE regress_owner;
CREATE TABLE tr.leads (id int PRIMARY KEY, guest_id int REFERENCES tr.guests, consent_id bigint, phone text);
SELECT regress.try($$SELECT gdpr.require_consent('tr.leads', 'consent_id', 'tr_leads', subject_col => 'phone')$$);
SELECT gdpr.require_consent('tr.leads', 'consent_id', 'tr_leads', subject_col => 'guest_id');
RESET ROLE;
SELECT table_name, column_name, subject_col, subject_kind FROM gdpr.consent_requirements WHERE table_name = 'tr.leads'::regclass;
SELECT gdpr.grant_consent(:text_id, 'api', 'tr_guest', '3') AS c3 \gset
SELECT gdpr.grant_consent(:text_id, 'api') AS c_anon \gset
INSERT INTO tr.guests VALUES (5, 'eve@example.cz', 'Eve', NULL);
SELECT regress.try(format($$INSERT INTO tr.leads VALUES (1, 5, %s, '+420 601 000 005')$$, :c3));
SELECT regress.try(format($$INSERT INTO tr.leads VALUES (1, NULL, %s, '+420 601 000 005')$$, :c3));
SELECT regress.try(format($$INSERT INTO tr.leads VALUES (1, 5, %s, '+420 601 000 005')$$, :c_anon));
SELECT regress.try(format($$INSERT INTO tr.leads VALUES (1, 3, %s, '+420 601 000 003')$$, :c3));
SELECT regress.try(format($$INSERT INTO tr.leads VALUES (2, NULL, %s, '+420 601 000 009')$$, :c_anon));
SELECT regress.try($$UPDATE tr.leads SET guest_id = 5 WHERE id = 1$$);
SELECT id, guest_id FROM tr.leads ORDER BY id;

-- 11. Nobody rewrites history without DDL, not even with session_replication_role = replica.
SET session_replication_role = replica;
SELECT regress.try($$UPDATE gdpr.erasure_log SET erased_by = 'nobody'$$);
SELECT regress.try($$DELETE FROM gdpr.erasure_log$$);
SELECT regress.try(format($$DELETE FROM gdpr.consent WHERE id = %s$$, :c3));
SELECT regress.try(format($$UPDATE gdpr.consent SET subject_id = '5' WHERE id = %s$$, :c3));
SELECT regress.try(format($$UPDATE gdpr.consent_text SET body = 'We sell your number.' WHERE id = %s$$, :text_id));
RESET session_replication_role;
SELECT tgrelid::regclass AS "table", tgname, tgenabled FROM pg_trigger
 WHERE tgrelid IN ('gdpr.erasure_log'::regclass, 'gdpr.consent'::regclass, 'gdpr.consent_text'::regclass)
   AND NOT tgisinternal ORDER BY 1, 2;

-- 12. Grant helpers quote a mixed-case role once.
SELECT has_function_privilege('regress_DPO', 'gdpr.anonymize_guest(text, boolean, boolean)', 'EXECUTE') AS dpo_may_erase;

SET client_min_messages = warning;
DROP SCHEMA tr, mal CASCADE;
DELETE FROM gdpr.consent_text WHERE purpose = 'tr_leads' AND NOT EXISTS (SELECT 1 FROM gdpr.consent c WHERE c.text_id = consent_text.id);
REVOKE ALL ON ALL TABLES IN SCHEMA gdpr FROM "regress_DPO", regress_analyst;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA gdpr FROM "regress_DPO", regress_analyst;
REVOKE ALL ON SCHEMA gdpr FROM "regress_DPO", regress_analyst;
DROP OWNED BY regress_hostile, "regress_DPO", regress_analyst;
DROP ROLE regress_hostile, "regress_DPO", regress_analyst;
