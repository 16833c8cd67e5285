-- jsonb: a strategy per key or dotted path inside a jsonb column, arrays and nested objects included.
CREATE SCHEMA js;
CREATE TABLE js.visitors (id int PRIMARY KEY, profile jsonb NOT NULL, settings json);
CREATE TABLE js.messages (id int PRIMARY KEY, visitor_id int REFERENCES js.visitors, body text);
INSERT INTO js.visitors VALUES
  (1, '{"email": "jana@posta.example", "ip": "192.168.17.42", "browser": "Firefox",
        "address": {"street": "Vinohradská 12", "city": "Praha", "zip": "120 00"},
        "phones": ["+420 603 111 222", "+420 603 333 444"], "age": 41, "vip": true,
        "contacts": [{"name": "Eva Malá", "email": "eva@posta.example"}]}', NULL),
  (2, '{"email": "piotr@poczta.example", "browser": "Chrome"}', NULL);
INSERT INTO js.messages VALUES (1, 1, 'Jsem z Praha, Vinohradská 12; použivám Firefox; eva@posta.example je kamarádka.');
SELECT gdpr.declare_subject('js_visitor', 'js.visitors');
SELECT gdpr.declare_pii('js.visitors', 'profile', 'jsonb', '{
   "keys": {"email": "fake_email", "ip": "generalize", "browser": "keep", "phones": "fake_phone",
            "address.street": {"strategy": "mask", "keep_first": 3}, "address.city": "fake_city",
            "age": {"strategy": "generalize", "bucket": 10}, "name": "fake_name"},
   "default": "null"}');
SELECT gdpr.declare_pii('js.messages', 'body', 'scrub');

-- declaration errors
SELECT regress.try($$SELECT gdpr.declare_pii('js.visitors', 'settings', 'jsonb', '{"keys": {"a": "null"}}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('js.visitors', 'profile', 'jsonb')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('js.visitors', 'profile', 'jsonb', '{"keys": {"a": "md5(a)"}}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('js.visitors', 'profile', 'jsonb', '{"keys": {"a": "jsonb"}}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('js.visitors', 'profile', 'jsonb', '{"keys": {"a": {"strategy": "mask", "x": 1}}}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('js.visitors', 'profile', 'jsonb', '{"keys": {"a": "constant"}}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('js.visitors', 'profile', 'jsonb', '{"keys": {"a": "keep"}, "extra": 1}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('js.visitors', 'profile', 'jsonb', '{"keys": {"a": {"strategy": "fake_city", "locale": "xx"}}}')$$);

SELECT (gdpr.anonymize_subject('js_visitor', '1')->>'total_rows')::int AS rows;
SELECT profile->>'email' ~ '@example\.' AS email_fake, profile->>'ip' AS ip, profile->>'browser' AS browser,
       profile->'address'->>'street' AS street, profile->'address'->>'city' <> 'Praha' AS city_fake,
       profile->'address'->'zip' AS zip_by_default, profile->'age' AS age, profile->'vip' AS vip_by_default,
       (SELECT bool_and(p ~ '^\+420 \d{3} \d{3} \d{3}$' AND p NOT IN ('+420 603 111 222', '+420 603 333 444'))
          FROM jsonb_array_elements_text(profile->'phones') p) AS phones_fake,
       profile->'contacts'->0->>'name' <> 'Eva Malá' AS nested_name_fake,
       profile->'contacts'->0->>'email' ~ '@example\.' AS nested_email_fake
  FROM js.visitors WHERE id = 1;
-- the strings of the profile (but the kept browser) were the subject's identifiers for scrub
SELECT body FROM js.messages;
SELECT profile FROM js.visitors WHERE id = 2;

-- Any depth: widget metadata nested 10,000 levels (serde_json stopped at 128) is walked iteratively, with
-- PostgreSQL's own jsonb iterator, by erasures and by pseudonymize_table alike.
INSERT INTO js.visitors VALUES (3, (repeat('{"k": ', 10000)
  || '{"email": "deep@posta.example", "browser": "Lynx", "tags": ["a", 7, {"ip": "10.1.2.3"}]}'
  || repeat('}', 10000))::jsonb, NULL);
CREATE FUNCTION pg_temp.bottom(v jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT v #> array_fill('k'::text, ARRAY[10000]) $$;
SELECT (gdpr.anonymize_subject('js_visitor', '3')->>'total_rows')::int AS rows;
SELECT b->>'email' ~ '@example\.' AS email_fake, b->'browser' AS browser, b->'tags' AS tags,
       position('posta' IN profile::text) = 0 AS nothing_left
  FROM js.visitors, pg_temp.bottom(profile) b WHERE id = 3;
UPDATE js.visitors SET profile = (repeat('{"k": ', 10000) || '{"email": "deep@posta.example"}'
  || repeat('}', 10000))::jsonb WHERE id = 3;

-- deterministic in pseudonymize_table: the same e-mail gives the same pseudonym as gdpr.fake_email()
\set VERBOSITY terse
SELECT (gdpr.pseudonymize_table('js.visitors')->>'rows')::int AS rows;
\set VERBOSITY default
SELECT profile->>'email' = gdpr.fake_email('piotr@poczta.example') AS deterministic FROM js.visitors WHERE id = 2;
SELECT pg_temp.bottom(profile)->>'email' = gdpr.fake_email('deep@posta.example') AS deep_deterministic
  FROM js.visitors WHERE id = 3;
-- A value PostgreSQL cannot rebuild here (its stack limit lowered below what the value needs) is replaced
-- whole, never left in place; PostgreSQL's own jsonb functions fail on it the same way.
CREATE TEMP TABLE deep AS SELECT profile AS o, jsonb_build_array(profile) AS a FROM js.visitors WHERE id = 3;
SET max_stack_depth = '100kB';
SELECT gdpr.pseudonymize_jsonb(o, '{"keys": {"x": "keep"}, "default": "keep"}') AS replaced_whole,
       gdpr.pseudonymize_jsonb(a, '{"keys": {"x": "keep"}}') AS replaced_whole_array
  FROM deep;
SELECT regress.try($$SELECT jsonb_strip_nulls(o) FROM deep$$) AS postgres_itself;
RESET max_stack_depth;
DROP TABLE deep;
SELECT gdpr.pseudonymize_jsonb('"jan@posta.example"', '{"keys": {"x": "keep"}, "default": "fake_email"}')
       = to_jsonb(gdpr.fake_email('jan@posta.example')) AS top_level_scalar,
       gdpr.pseudonymize_jsonb('7', '{"keys": {"x": "keep"}, "default": {"strategy": "constant", "value": {"a": [1]}}}')
       AS constant_for_scalar;
-- standalone with the database key (not for PUBLIC)
SELECT gdpr.pseudonymize_jsonb('{"email": "piotr@poczta.example", "ip": "10.1.2.3", "x": 1}',
                               '{"keys": {"email": "fake_email", "ip": "generalize"}, "default": "keep"}')
       = jsonb_build_object('email', gdpr.fake_email('piotr@poczta.example'), 'ip', '10.1.2.0/24', 'x', 1) AS standalone;
SELECT regress.try($$SELECT gdpr.pseudonymize_jsonb('{}', '{"keys": {"a": "md5(a)"}}')$$);
SET ROLE regress_intruder;
SELECT regress.try($$SELECT gdpr.pseudonymize_jsonb('{}', '{"keys": {"a": "keep"}}')$$);
RESET ROLE;
DROP SCHEMA js CASCADE;
