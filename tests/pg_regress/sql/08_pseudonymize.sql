-- Whole-table pseudonymization with the database key, key management and the keyed strategy functions.
CREATE SCHEMA pz;
CREATE TABLE pz.contacts (id int PRIMARY KEY, email text UNIQUE NOT NULL, name text, phone text, notes text);
CREATE TABLE pz.leads (id bigint PRIMARY KEY, contact_email text, name text, phone text UNIQUE);
CREATE TABLE pz.log_lines (email text, line text);                 -- no primary key
INSERT INTO pz.contacts
SELECT i, 'user' || i || '@mail.example', 'Name ' || i, '+420 601 ' || lpad(i::text, 6, '0'), 'n' || i
  FROM generate_series(1, 25) i;
INSERT INTO pz.leads
SELECT i, 'user' || (i * 2) || '@mail.example', 'Name ' || (i * 2), '+420 777 ' || lpad(i::text, 6, '0')
  FROM generate_series(1, 10) i;
INSERT INTO pz.log_lines SELECT 'user' || i || '@mail.example', 'login' FROM generate_series(1, 5) i;
SELECT gdpr.declare_pii('pz.contacts', 'email', 'fake_email');
SELECT gdpr.declare_pii('pz.contacts', 'name', 'fake_name');
SELECT gdpr.declare_pii('pz.contacts', 'phone', 'fake_phone');
SELECT gdpr.declare_pii('pz.contacts', 'notes', 'hash');
SELECT gdpr.declare_pii('pz.leads', 'contact_email', 'fake_email');
SELECT gdpr.declare_pii('pz.leads', 'name', 'fake_name');
SELECT gdpr.declare_pii('pz.leads', 'phone', 'fake_phone');
SELECT gdpr.declare_pii('pz.log_lines', 'email', 'fake_email');
CREATE TABLE pz.original AS
SELECT c.id, c.email, c.name, c.phone, l.id AS lead_id FROM pz.contacts c LEFT JOIN pz.leads l ON l.contact_email = c.email;

-- the key: 32 random bytes, not readable by other roles, not a setting
SELECT count(*) AS keys, min(octet_length(key)) AS key_bytes FROM gdpr.key;
SET ROLE regress_intruder;
SELECT regress.try($$SELECT key FROM gdpr.key$$);
SELECT regress.try($$SELECT gdpr.hash('user1@mail.example')$$);
SELECT regress.try($$SELECT gdpr.fake_email('user1@mail.example')$$);
SELECT regress.try($$SELECT gdpr.pseudonymize_table('pz.contacts')$$);
SELECT regress.try($$SELECT gdpr.rotate_key()$$);
RESET ROLE;

-- deterministic keyed functions
SELECT gdpr.hash('user2@mail.example') = gdpr.hash('user2@mail.example') AS hash_deterministic,
       gdpr.hash('user2@mail.example') ~ '^[0-9a-f]{64}$' AS hash_hex,
       gdpr.fake_email('user2@mail.example') = gdpr.fake_email('user2@mail.example') AS fake_deterministic,
       gdpr.fake_email('user2@mail.example') <> gdpr.fake_email('user3@mail.example') AS fake_distinct;
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict FROM pg_proc p
 WHERE p.pronamespace = 'gdpr'::regnamespace AND p.proname IN ('hash', 'fake_email', 'fake_name', 'fake_phone')
 ORDER BY 1;

-- progress is reported per batch (the rate is in the DETAIL, hidden by terse verbosity here)
\set VERBOSITY terse
SELECT r - 'duration_ms' - 'rows_per_second' AS report FROM gdpr.pseudonymize_table('pz.contacts', batch_size => 10) r;
SELECT r - 'duration_ms' - 'rows_per_second' AS report FROM gdpr.pseudonymize_table('pz.leads', 4) r;
SELECT r - 'duration_ms' - 'rows_per_second' AS report FROM gdpr.pseudonymize_table('pz.log_lines') r;
\set VERBOSITY default

-- no original value is left; every row changed; joins survive (same input → same pseudonym across tables)
SELECT count(*) AS originals_left FROM pz.contacts c JOIN pz.original o
    ON c.email = o.email OR c.name = o.name OR c.phone = o.phone;
SELECT count(*) AS joined_before, (SELECT count(*) FROM pz.contacts c JOIN pz.leads l ON l.contact_email = c.email) AS joined_after
  FROM pz.original WHERE lead_id IS NOT NULL;
SELECT bool_and(c.email = gdpr.fake_email(o.email)) AS matches_standalone_function
  FROM pz.contacts c JOIN pz.original o USING (id);
SELECT count(DISTINCT email) = count(*) AS emails_still_unique, count(DISTINCT phone) AS phones FROM pz.contacts;
SELECT email ~ '^[a-z]+\.[a-z]+\.[0-9a-f]{16}@example\.(com|net|org)$' AS fake_format FROM pz.log_lines LIMIT 1;

-- an erasure uses a one-time key: its pseudonym is not the deterministic one
UPDATE pz.contacts SET email = 'erase.me@mail.example' WHERE id = 1;
SELECT gdpr.declare_subject('pz_contact', 'pz.contacts');
SELECT (gdpr.anonymize_subject('pz_contact', '1')->>'total_rows')::int AS erased_rows;
SELECT email <> gdpr.fake_email('erase.me@mail.example') AS erasure_not_linkable FROM pz.contacts WHERE id = 1;

-- rotate_key (crypto-shredding): the old key is gone, pseudonyms made with it cannot be recomputed
CREATE TABLE pz.before_rotation AS SELECT gdpr.hash('user9@mail.example') AS h, (SELECT key FROM gdpr.key) AS k;
SELECT gdpr.rotate_key();
SELECT count(*) AS keys, (SELECT k FROM pz.before_rotation) <> (SELECT key FROM gdpr.key) AS new_key,
       (SELECT h FROM pz.before_rotation) <> gdpr.hash('user9@mail.example') AS old_pseudonyms_unlinkable
  FROM gdpr.key;

-- the whole database in one call, and the errors
\set VERBOSITY terse
SELECT jsonb_array_length(r->'tables') AS tables, (r->>'total_rows')::int AS rows FROM gdpr.pseudonymize_database(100) r;
\set VERBOSITY default
SELECT regress.try($$SELECT gdpr.pseudonymize_table(NULL)$$);
SELECT regress.try($$SELECT gdpr.pseudonymize_table('pz.contacts', 0)$$);
SELECT r - 'duration_ms' AS report FROM gdpr.pseudonymize_table('pz.original') r;

-- delegation
SELECT gdpr.grant_pseudonymization('regress_dpo');
SET ROLE regress_dpo;
SELECT gdpr.hash('x') = gdpr.hash('x') AS dpo_may_hash;
SELECT regress.try($$SELECT key FROM gdpr.key$$);
RESET ROLE;
DROP SCHEMA pz CASCADE;

-- An empty text stays empty and NULL stays NULL (no invented address for a person who gave none); only
-- `constant` writes its value whatever was there. Erasures use the same expressions.
CREATE TABLE public.empties (id int PRIMARY KEY, street text, city text, email text, note text);
INSERT INTO public.empties VALUES (1, '', NULL, '', ''), (2, 'Dlouhá 5', 'Praha', 'a@mail.example', NULL);
SELECT gdpr.declare_pii('public.empties', 'street', 'fake_address');
SELECT gdpr.declare_pii('public.empties', 'city', 'fake_city');
SELECT gdpr.declare_pii('public.empties', 'email', 'hash');
SELECT gdpr.declare_pii('public.empties', 'note', 'constant', '{"value": "[removed]"}');
SET client_min_messages = warning;
SELECT (gdpr.pseudonymize_table('public.empties'))->'rows' AS rows;
RESET client_min_messages;
SELECT id, street = '' AS street_empty, street = 'Dlouhá 5' AS street_kept, city IS NULL AS city_null,
       city = 'Praha' AS city_kept, email = '' AS email_empty, note
  FROM public.empties ORDER BY id;
DROP TABLE public.empties;
