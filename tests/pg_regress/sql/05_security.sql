-- Security promises, each attacked: privileges on destructive functions and the log, ownership of
-- declarations, no escalation through erasures, hostile identifiers and values, search_path hijacking.
CREATE SCHEMA sec AUTHORIZATION regress_owner;
SET ROLE regress_owner;
GRANT USAGE ON SCHEMA sec TO PUBLIC;  -- others may see the tables: ownership, not visibility, protects them
CREATE TABLE sec.guests (id int PRIMARY KEY, email text UNIQUE, note text);
CREATE TABLE sec."Robert'); DROP TABLE sec.victims;--" (
    id int PRIMARY KEY, "guest id" int REFERENCES sec.guests, "e""mail; DROP" text, "Příliš žluťoučký" text);
CREATE TABLE sec.victims (id int);
CREATE TABLE sec."select" ("from" int REFERENCES sec.guests, "where" text);
INSERT INTO sec.guests VALUES (1, 'ann@example.cz', 'n1'), (2, 'bob@example.cz', 'n2');
INSERT INTO sec."Robert'); DROP TABLE sec.victims;--" VALUES (1, 1, 'ann@example.cz', 'Anna Nováková'), (2, 2, 'bob', 'Bob');
INSERT INTO sec."select" VALUES (1, 'ann where'), (2, 'bob where');
-- the table owner declares (as its migration would)
SELECT gdpr.declare_subject('sec_guest', 'sec.guests');
SELECT gdpr.declare_pii('sec.guests', 'email', 'fake_email');
SELECT gdpr.declare_pii('sec.guests', 'note', 'constant', '{"value": "x''); DROP TABLE sec.victims; --"}');
SELECT gdpr.declare_pii($$sec."Robert'); DROP TABLE sec.victims;--"$$, 'e"mail; DROP', 'hash');
SELECT gdpr.declare_pii($$sec."Robert'); DROP TABLE sec.victims;--"$$, 'Příliš žluťoučký', 'fake_name');
SELECT gdpr.declare_pii('sec."select"', 'where', 'mask', '{"keep_first": 0}');
RESET ROLE;

-- Nobody may run erasures or read the log until the DBA grants it.
SET ROLE regress_intruder;
SELECT regress.try($$SELECT gdpr.anonymize_subject('sec_guest', '1')$$);
SELECT regress.try($$SELECT gdpr.anonymize_guest(1)$$);
SELECT regress.try($$SELECT count(*) FROM gdpr.erasure_log$$);
SELECT regress.try($$SELECT gdpr.grant_erasure('regress_intruder')$$);
-- ... nor declare anything about tables it does not own, nor write the config tables directly.
SELECT regress.try($$SELECT gdpr.declare_pii('sec.guests', 'email', 'keep')$$);
SELECT regress.try($$SELECT gdpr.declare_erase_action('sec.guests', 'delete')$$);
SELECT regress.try($$SELECT gdpr.declare_subject('sec_guest', 'sec.victims')$$);
SELECT regress.try($$INSERT INTO gdpr.pii_policy (tbl, col, strategy) VALUES ('sec.guests', 'email', 'keep')$$);
SELECT regress.try($$UPDATE gdpr.pii_policy SET strategy = 'keep'$$);
SELECT regress.try($$DELETE FROM gdpr.erase_action$$);
-- declarations are readable: they are not secret
SELECT count(*) AS visible_policies FROM gdpr.pii_policy WHERE tbl::text LIKE 'sec.%';
RESET ROLE;
SELECT strategy FROM gdpr.pii_policy WHERE tbl = 'sec.guests'::regclass AND col = 'email';

-- The DBA grants erasures to the DPO role; the erasure still runs with the DPO's own table privileges.
SELECT gdpr.grant_erasure('regress_dpo');
SET ROLE regress_dpo;
SELECT regress.try($$SELECT gdpr.anonymize_subject('sec_guest', '1')$$);
RESET ROLE;
GRANT USAGE ON SCHEMA sec TO regress_dpo;
GRANT SELECT, UPDATE, DELETE ON ALL TABLES IN SCHEMA sec TO regress_dpo;

-- search_path hijack attempts: look-alike functions and a temp table shadowing the subject table.
CREATE FUNCTION public.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'hijacked unnest'; END $$;
CREATE FUNCTION public.format(text, text) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'hijacked format'; END $$;
CREATE FUNCTION public.textanycat(text, anynonarray) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'hijacked ||'; END $$;
CREATE OPERATOR public.= (LEFTARG = int, RIGHTARG = int, FUNCTION = int4ne);
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = textne);
GRANT EXECUTE ON FUNCTION public.unnest(anyarray), public.format(text, text) TO PUBLIC;

SET ROLE regress_dpo;
SET search_path = public, sec, pg_catalog;
CREATE TEMP TABLE guests (id int PRIMARY KEY, email text);
INSERT INTO guests VALUES (1, 'temp shadow');
SELECT t->>'table' AS "table", t->>'action' AS action, t->>'rows' AS rows
  FROM jsonb_array_elements(gdpr.anonymize_subject('sec_guest', '1')->'tables') t;
SELECT email FROM pg_temp.guests;
RESET search_path;
RESET ROLE;

-- Hostile names and values were quoted and passed as parameters: nothing was executed, victims exists.
SELECT email <> 'ann@example.cz' AS email_erased, note FROM sec.guests WHERE id = 1;
SELECT length("e""mail; DROP") AS hashed_len, "Příliš žluťoučký" <> 'Anna Nováková' AS name_faked
  FROM sec."Robert'); DROP TABLE sec.victims;--" WHERE id = 1;
SELECT "where" FROM sec."select" ORDER BY "from";
SELECT to_regclass('sec.victims') IS NOT NULL AS victims_still_there;
SELECT * FROM sec.guests WHERE id = 2;

-- The log records who erased (through SET ROLE too) and is append-only, even for the extension owner.
SELECT kind, subject_id, erased_by, session_user_name FROM gdpr.erasure_log WHERE kind = 'sec_guest';
SET ROLE regress_dpo;
SELECT count(*) > 0 AS dpo_reads_log FROM gdpr.erasure_log;
SELECT regress.try($$UPDATE gdpr.erasure_log SET erased_by = 'nobody'$$);
SELECT regress.try($$DELETE FROM gdpr.erasure_log$$);
SELECT regress.try($$TRUNCATE gdpr.erasure_log$$);
SELECT regress.try($$INSERT INTO gdpr.erasure_log (erasure_id, kind, subject_id, dry_run, rows_total, tables, erased_by, session_user_name, duration_ms) VALUES (gen_random_uuid(), 'x', 'x', false, 0, '{}', 'x', 'x', 0)$$);
RESET ROLE;
SELECT regress.try($$UPDATE gdpr.erasure_log SET erased_by = 'nobody'$$);
SELECT regress.try($$DELETE FROM gdpr.erasure_log$$);
SELECT regress.try($$TRUNCATE gdpr.erasure_log$$);

-- Hostile subject kinds never reach SQL.
SELECT regress.try($$SELECT gdpr.declare_subject('x''; DROP TABLE sec.victims; --', 'sec.guests')$$);
SELECT regress.try($$SELECT gdpr.anonymize_subject('x''; DROP TABLE sec.victims; --', '1')$$);

-- Catalog audit of the security header.
-- Functions callable by PUBLIC (declarations check table ownership themselves; strategy helpers are keyless
-- or take the key as an argument).
SELECT p.oid::regprocedure::text AS public_function
  FROM pg_proc p WHERE p.pronamespace = 'gdpr'::regnamespace
   AND has_function_privilege('regress_intruder', p.oid, 'EXECUTE') ORDER BY 1;
-- Functions without a pinned search_path: only the pure ones that run no SQL.
SELECT p.oid::regprocedure::text AS unpinned_function
  FROM pg_proc p WHERE p.pronamespace = 'gdpr'::regnamespace
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%') ORDER BY 1;
SELECT p.oid::regprocedure::text AS security_definer_function
  FROM pg_proc p WHERE p.pronamespace = 'gdpr'::regnamespace AND p.prosecdef ORDER BY 1;
-- Tables PUBLIC may read; none it may write.
SELECT c.relname AS public_readable FROM pg_class c
 WHERE c.relnamespace = 'gdpr'::regnamespace AND c.relkind = 'r'
   AND has_table_privilege('regress_intruder', c.oid, 'SELECT') ORDER BY 1;
SELECT c.relname AS public_writable FROM pg_class c
 WHERE c.relnamespace = 'gdpr'::regnamespace AND c.relkind = 'r'
   AND has_table_privilege('regress_intruder', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') ORDER BY 1;
-- No setting carries anything of ours (the only one is the phone country code find and locate use).
SELECT name, setting FROM pg_settings WHERE name LIKE 'gdpr%';
SELECT count(*) AS role_db_settings FROM pg_db_role_setting s, unnest(s.setconfig) c WHERE c LIKE 'gdpr%';

DROP FUNCTION public.unnest(anyarray), public.format(text, text), public.textanycat(text, anynonarray);
DROP OPERATOR public.= (int, int), public.= (text, text);
DROP SCHEMA sec CASCADE;
