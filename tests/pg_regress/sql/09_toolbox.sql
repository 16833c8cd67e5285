-- The rest of the vocabulary: realistic fakes with locales, generalization of networks, times and numbers.
CREATE SCHEMA tb;
CREATE TABLE tb.people (
    id int PRIMARY KEY, first text, last text, full_name text, city text, company text UNIQUE,
    address varchar(32), street_de text,
    ip inet, net6 inet, seen_at timestamptz, local_at timestamp, born date, age smallint, income numeric(10,2),
    code varchar(10), token uuid);
INSERT INTO tb.people VALUES
  (1, 'Jan', 'Novák', 'Jan Novák', 'Praha', 'Novák s.r.o.', 'Vinohradská 12, 120 00 Praha', 'Hauptstraße 1',
   '192.168.17.42', '2001:db8:1234:5678::1', '2026-03-14 15:09:26.5+01', '2026-03-14 15:09:26.5', '1985-07-23',
   37, 54321.99, 'AB12', '7b5e3c1e-2d1f-4f8a-9c39-6f2d8f1c0a11');
SELECT gdpr.declare_subject('tb_person', 'tb.people');
SELECT gdpr.declare_pii('tb.people', 'first', 'fake_first_name');
SELECT gdpr.declare_pii('tb.people', 'last', 'fake_last_name', '{"locale": "de_de"}');
SELECT gdpr.declare_pii('tb.people', 'full_name', 'fake_name', '{"locale": "fr_fr"}');
SELECT gdpr.declare_pii('tb.people', 'city', 'fake_city');
SELECT gdpr.declare_pii('tb.people', 'company', 'fake_company');
SELECT gdpr.declare_pii('tb.people', 'address', 'fake_address');
SELECT gdpr.declare_pii('tb.people', 'street_de', 'fake_address', '{"locale": "de_de"}');
SELECT gdpr.declare_pii('tb.people', 'ip', 'generalize');
SELECT gdpr.declare_pii('tb.people', 'net6', 'generalize', '{"ipv6_prefix": 32}');
SELECT gdpr.declare_pii('tb.people', 'seen_at', 'generalize', '{"unit": "month"}');
SELECT gdpr.declare_pii('tb.people', 'local_at', 'generalize');
SELECT gdpr.declare_pii('tb.people', 'born', 'generalize');
SELECT gdpr.declare_pii('tb.people', 'age', 'generalize');
SELECT gdpr.declare_pii('tb.people', 'income', 'generalize', '{"bucket": 1000}');

-- wrong types and options are refused when declared
SELECT regress.try($$SELECT gdpr.declare_pii('tb.people', 'first', 'fake_first_name', '{"locale": "cs_cz"}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('tb.people', 'token', 'fake_city')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('tb.people', 'code', 'generalize')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('tb.people', 'token', 'generalize')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('tb.people', 'ip', 'generalize', '{"unit": "day"}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('tb.people', 'ip', 'generalize', '{"ipv4_prefix": 33}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('tb.people', 'born', 'generalize', '{"unit": "decade"}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('tb.people', 'age', 'generalize', '{"bucket": 0}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('tb.people', 'company', 'generalize')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('tb.people', 'code', 'fake_company')$$);

SET TimeZone = 'Europe/Prague';
SELECT (gdpr.anonymize_subject('tb_person', '1')->>'total_rows')::int AS rows;
SELECT first <> 'Jan' AND first ~ '^\S+$' AS first_fake, last <> 'Novák' AS last_fake,
       full_name ~ '^\S+ \S+' AND full_name <> 'Jan Novák' AS name_fake, city <> 'Praha' AS city_fake,
       company ~ ' [0-9a-f]{16}$' AS company_unique_suffix, length(address) <= 32 AS address_fits,
       street_de <> 'Hauptstraße 1' AS street_fake
  FROM tb.people;
SELECT ip, net6, seen_at, local_at, born, age, income FROM tb.people;
RESET TimeZone;

-- standalone, keyless generalization functions (open to every role)
SELECT gdpr.generalize_ip('10.1.2.3'), gdpr.generalize_ip('10.1.2.3', 16), gdpr.generalize_ip('10.0.0.0/8'),
       gdpr.generalize_ip('2001:db8:1:2::5'), gdpr.generalize_time('2026-03-14 15:09'::timestamp, 'hour'),
       gdpr.generalize_time('2026-03-14'::date), gdpr.generalize_number(37), gdpr.generalize_number(-3, 5);
-- keyed fakes with the database key: deterministic, not for PUBLIC
SELECT gdpr.fake_city('Praha') = gdpr.fake_city('Praha') AS city_deterministic,
       gdpr.fake_address('Vinohradská 12') <> gdpr.fake_address('Vinohradská 13') AS address_distinct,
       length(gdpr.fake_company('Novák s.r.o.')) > 0 AS company;
SET ROLE regress_intruder;
SELECT regress.try($$SELECT gdpr.fake_city('Praha')$$);
SELECT gdpr.generalize_ip('10.1.2.3') AS intruder_may_generalize;
RESET ROLE;
DROP SCHEMA tb CASCADE;
