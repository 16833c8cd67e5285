-- scrub: the erased subject's own identifiers (as stored before the erasure, jsonb string values included)
-- and generic patterns leave free text; nothing else in the text changes.
CREATE SCHEMA sc;
CREATE TABLE sc.visitors (id int PRIMARY KEY, full_name text, email text, phone text, profile jsonb);
CREATE TABLE sc.messages (id int PRIMARY KEY, visitor_id int REFERENCES sc.visitors, body text);
INSERT INTO sc.visitors VALUES
  (1, 'Jana Dvořáková', 'jana.dvorakova@posta.example', '+420 603 111 222',
   '{"address": {"street": "Vinohradská 12", "city": "Praha"}, "tags": ["vip"], "age": 41}'),
  (2, 'Piotr Nowak', 'piotr@poczta.example', '+48 601 234 567', '{"address": {"city": "Kraków"}}');
INSERT INTO sc.messages VALUES
  (1, 1, 'Dobrý den, tady JANA DVOŘÁKOVÁ, objednávka ORD-000123.'),
  (2, 1, 'Pište na jana.dvorakova@posta.example nebo volejte 603 111 222.'),
  (3, 1, 'Form data: email=jana.dvorakova%40posta.example&name=Jana+Dvo%C5%99%C3%A1kov%C3%A1'),
  (4, 1, 'Adresa: Vinohradská 12, Praha. Kartou 4111 1111 1111 1111, IBAN CZ65 0800 0000 1920 0014 5399.'),
  (5, 1, 'Moje IP je 192.168.1.20 nebo 2001:db8::7, kamarádka má mail eva@example.org a číslo +421 905 123 456.'),
  (6, 1, 'Děkuji, Janička a Dvořákovic rodina pozdravují. Schůzka 2026-03-14 v 15:09, cena 1 234,50 Kč.'),
  (7, 2, 'Piotr Nowak z Krakowa: jana.dvorakova@posta.example mi poleciła.');
SELECT gdpr.declare_subject('sc_visitor', 'sc.visitors');
SELECT gdpr.declare_pii('sc.visitors', 'full_name', 'fake_name');
SELECT gdpr.declare_pii('sc.visitors', 'email', 'fake_email');
SELECT gdpr.declare_pii('sc.visitors', 'phone', 'fake_phone');
SELECT gdpr.declare_pii('sc.visitors', 'profile', 'null');
SELECT gdpr.declare_pii('sc.messages', 'body', 'scrub');
SELECT regress.try($$SELECT gdpr.declare_pii('sc.visitors', 'id', 'scrub')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('sc.visitors', 'profile', 'scrub')$$);

SELECT (gdpr.anonymize_subject('sc_visitor', '1')->>'total_rows')::int AS rows;
SELECT id, body FROM sc.messages ORDER BY id;

-- whole-table pseudonymization scrubs generic patterns only (there is no subject)
\set VERBOSITY terse
SELECT (gdpr.pseudonymize_table('sc.messages')->>'rows')::int AS rows;
\set VERBOSITY default
SELECT body FROM sc.messages WHERE id = 7;

-- standalone, keyless
SELECT gdpr.scrub('mail me: a.b@c.example, +420 601 234 567, 10.0.0.1');
SELECT gdpr.scrub('Jan Novák from Brno says hi, order ORD-000123', ARRAY['Jan Novák', 'Brno']);
SELECT gdpr.scrub(NULL) IS NULL AS strict, gdpr.scrub('') = '' AS empty;
SELECT p.oid::regprocedure::text AS scrub_function, p.provolatile, p.proparallel
  FROM pg_proc p WHERE p.pronamespace = 'gdpr'::regnamespace AND p.proname = 'scrub' ORDER BY 1;
SET ROLE regress_intruder;
SELECT gdpr.scrub('x@y.example') AS intruder_may_scrub;
RESET ROLE;

-- Many identifiers: the matcher is built in linear time, in pieces (here several automata), and a cancel stops
-- it. gdpr.scrub(text, text[]) is open to every role, so it must never hold a backend.
CREATE TEMP TABLE many_ids AS
  SELECT array_agg(md5(i::text)) AS ids FROM generate_series(1, 30000) i;
SELECT gdpr.scrub('keep ' || md5('1') || ', ' || upper(md5('7777')) || ' and ' || md5('30000') || 'x; '
                  || md5('30001'), ids) AS thirty_thousand FROM many_ids;
CREATE TEMP TABLE million_ids AS
  SELECT array_agg(md5(i::text) || '@example.org') AS ids FROM generate_series(1, 1000000) i;
SET statement_timeout = '1s';
DO $$
DECLARE
  started timestamptz := clock_timestamp();
  out text;
BEGIN
  SELECT gdpr.scrub('x', ids) INTO out FROM million_ids;
  RAISE NOTICE 'not cancelled: %', out;
EXCEPTION WHEN query_canceled THEN
  RAISE NOTICE 'cancelled with %, long before the build would end: %', SQLSTATE, clock_timestamp() - started < interval '8 s';
END $$;
RESET statement_timeout;
DROP TABLE many_ids, million_ids;
DROP SCHEMA sc CASCADE;
