-- Each strategy's effect on a real erasure, and the standalone functions.
CREATE SCHEMA strat;
CREATE TABLE strat.people (
    id          integer PRIMARY KEY,
    email       text UNIQUE,
    alt_email   varchar(40),
    name        text,
    nick        text UNIQUE,
    phone       text,
    phone_u     text UNIQUE,
    card        text,
    secret      text,
    short_hash  varchar(16),
    age         integer,
    status      text NOT NULL,
    note        text,
    kept        text
);
INSERT INTO strat.people VALUES
  (1, 'jan.novak@example.cz', 'jan.novak.private.address@seznam.example', 'Jan Novák', 'jnovak', '+420 601 234 567',
   '+420 601 234 567', '4111111111111111', 'top secret', 'abcdefabcdefabcd', 41, 'active', 'likes cats', 'stays'),
  (2, 'eva@example.cz', NULL, 'Eva Černá', 'eva', '601-234-568', '601-234-568', '5500000000000004', 's2', NULL, 30,
   'active', NULL, 'stays too');
SELECT gdpr.declare_subject('person', 'strat.people');
SELECT gdpr.declare_pii('strat.people', 'email', 'fake_email');
SELECT gdpr.declare_pii('strat.people', 'alt_email', 'fake_email');
SELECT gdpr.declare_pii('strat.people', 'name', 'fake_name');
SELECT gdpr.declare_pii('strat.people', 'nick', 'fake_name');
SELECT gdpr.declare_pii('strat.people', 'phone', 'fake_phone');
SELECT gdpr.declare_pii('strat.people', 'phone_u', 'fake_phone');
SELECT gdpr.declare_pii('strat.people', 'card', 'mask', '{"keep_first": 4, "keep_last": 4}');
SELECT gdpr.declare_pii('strat.people', 'secret', 'hash');
SELECT gdpr.declare_pii('strat.people', 'short_hash', 'hash');
SELECT gdpr.declare_pii('strat.people', 'age', 'constant', '{"value": 0}');
SELECT gdpr.declare_pii('strat.people', 'status', 'constant', '{"value": "erased"}');
SELECT gdpr.declare_pii('strat.people', 'note', 'null');
SELECT gdpr.declare_pii('strat.people', 'kept', 'keep');

CREATE TABLE strat.before AS SELECT * FROM strat.people;
SELECT regress.report(gdpr.anonymize_subject('person', '1'));

SELECT p.email <> b.email AS email_changed,
       p.email ~ '^[a-z]+\.[a-z]+\.[0-9a-f]{16}@example\.(com|net|org)$' AS email_fake_unique,
       p.alt_email ~ '^([a-z]+\.[a-z]+\.)?[0-9a-f]{16}@example\.(com|net|org)$' AND length(p.alt_email) <= 40 AS alt_email_fits,
       p.name <> b.name AND p.name ~ '^\S+ \S+' AS name_fake,
       p.nick ~ ' [0-9a-f]{16}$' AS nick_unique_suffix,
       p.phone ~ '^\+420 \d{3} \d{3} \d{3}$' AND p.phone <> b.phone AS phone_format_kept,
       p.phone_u ~ '^\+420 \d{3} \d{3} \d{3} x\d{12}$' AS phone_unique_ext,
       p.card AS card,
       p.secret ~ '^[0-9a-f]{64}$' AS secret_hashed,
       length(p.short_hash) = 16 AND p.short_hash <> b.short_hash AS short_hash_fits,
       p.age, p.status, p.note, p.kept
  FROM strat.people p JOIN strat.before b USING (id) WHERE id = 1;

-- the other person is untouched, byte for byte
SELECT (SELECT p FROM strat.people p WHERE id = 2)::text = (SELECT b FROM strat.before b WHERE id = 2)::text AS untouched;

-- erasure pseudonyms use a one-time key: erasing again gives different values, and two erasures of equal
-- values do not collide under UNIQUE constraints
CREATE TABLE strat.after1 AS SELECT * FROM strat.people WHERE id = 1;
SELECT (gdpr.anonymize_subject('person', '1')->>'total_rows')::int AS rows;
SELECT p.email <> a.email AS new_pseudonym, p.secret <> a.secret AS new_hash
  FROM strat.people p JOIN strat.after1 a USING (id);
SELECT (gdpr.anonymize_subject('person', '2')->>'total_rows')::int AS rows;
SELECT count(DISTINCT email) AS distinct_emails, count(DISTINCT nick) AS distinct_nicks FROM strat.people;

-- standalone mask
SELECT gdpr.mask('4111111111111111', 4, 4), gdpr.mask('jan.novak@example.cz', 1, 0), gdpr.mask('Žluťoučký', 1, 1),
       gdpr.mask('ab', 1, 1), gdpr.mask('', 1, 0), gdpr.mask(NULL, 1, 1) IS NULL AS null_in_null_out;
SELECT provolatile, proparallel, proisstrict FROM pg_proc WHERE oid = 'gdpr.mask(text,int,int)'::regprocedure;

DROP SCHEMA strat CASCADE;
SELECT regress.try($$SELECT gdpr.declare_subject('person', 'pg_catalog.pg_class')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('gdpr.erasure_log', 'erased_by', 'null')$$);
