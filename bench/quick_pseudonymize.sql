-- Quick pseudonymize_table check on N generated contacts (psql -v n=1000000): no original value left, joins
-- kept, UNIQUE constraints valid, throughput against the floor (UPDATE t SET col = col on the same columns).
\if :{?n}
\else
\set n 1000000
\endif
DROP SCHEMA IF EXISTS pzbench CASCADE;
CREATE SCHEMA pzbench;
CREATE TABLE pzbench.contacts (id bigint PRIMARY KEY, email text UNIQUE NOT NULL, name text, phone text);
CREATE TABLE pzbench.leads (id bigint PRIMARY KEY, email text);
INSERT INTO pzbench.contacts
SELECT i, 'contact' || i || '@mail.example', 'First' || i || ' Last' || (i % 977), '+420 6' || lpad(i::text, 8, '0')
  FROM generate_series(1, :n) i;
INSERT INTO pzbench.leads SELECT i, 'contact' || (i * 3) || '@mail.example' FROM generate_series(1, :n / 10) i;
CREATE TABLE pzbench.original AS SELECT * FROM pzbench.contacts;
ALTER TABLE pzbench.original ADD PRIMARY KEY (id);
VACUUM ANALYZE pzbench.contacts, pzbench.leads, pzbench.original;
SELECT gdpr.declare_pii('pzbench.contacts', 'email', 'fake_email');
SELECT gdpr.declare_pii('pzbench.contacts', 'name', 'fake_name');
SELECT gdpr.declare_pii('pzbench.contacts', 'phone', 'fake_phone');
SELECT gdpr.declare_pii('pzbench.leads', 'email', 'fake_email');
SELECT count(*) AS joined_before FROM pzbench.contacts c JOIN pzbench.leads l ON l.email = c.email;

\timing on
-- floor: rewrite the same rows and columns without computing anything
\echo floor: UPDATE pzbench.contacts SET email = email, name = name, phone = phone
UPDATE pzbench.contacts SET email = email, name = name, phone = phone;
SELECT 'floor done' AS step;
\set VERBOSITY terse
SELECT r - 'columns' AS contacts FROM gdpr.pseudonymize_table('pzbench.contacts', 50000) r;
SELECT r - 'columns' AS leads FROM gdpr.pseudonymize_table('pzbench.leads', 50000) r;
\timing off
\set VERBOSITY default

SELECT count(*) AS originals_left FROM pzbench.contacts c JOIN pzbench.original o USING (id)
 WHERE c.email = o.email OR c.name = o.name OR c.phone = o.phone;
SELECT count(*) AS joined_after FROM pzbench.contacts c JOIN pzbench.leads l ON l.email = c.email;
SELECT count(*) = count(DISTINCT email) AS emails_unique FROM pzbench.contacts;
DROP SCHEMA pzbench CASCADE;
