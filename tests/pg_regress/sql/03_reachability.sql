-- Reachability: multi-hop, cycles, self-references, composite keys, partitioned tables, tables without a
-- primary key, link-only references (with differing types), polymorphic links, reserved-word and mixed-case
-- names, excluded references, and delete order through NO ACTION / RESTRICT chains.
CREATE SCHEMA reach;
CREATE TABLE reach.guests (id bigint PRIMARY KEY, email text, last_session_id bigint);
CREATE TABLE reach.sessions (id bigint PRIMARY KEY, guest_id bigint NOT NULL REFERENCES reach.guests, topic text);
CREATE INDEX ON reach.sessions (guest_id);
ALTER TABLE reach.guests ADD FOREIGN KEY (last_session_id) REFERENCES reach.sessions;          -- a cycle
CREATE TABLE reach.messages (
    id int PRIMARY KEY, session_id bigint REFERENCES reach.sessions,
    reply_to int REFERENCES reach.messages,                                                    -- self-reference
    body text);
CREATE INDEX ON reach.messages (session_id);
CREATE INDEX ON reach.messages (reply_to);
CREATE TABLE reach.message_versions (                                                          -- composite key
    message_id int REFERENCES reach.messages, version int, body text, PRIMARY KEY (message_id, version));
CREATE TABLE reach.version_reviews (                                                           -- composite FK, no PK
    message_id int, version int, reviewer_note text,
    FOREIGN KEY (message_id, version) REFERENCES reach.message_versions);
CREATE TABLE reach.events (                                                                    -- partitioned
    id bigint, guest_id bigint REFERENCES reach.guests, at date, detail text, PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE reach.events_2025 PARTITION OF reach.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE reach.events_2026 PARTITION OF reach.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE reach.clicks (guest_id bigint, at date, url text) PARTITION BY RANGE (at);     -- partitioned, no PK
CREATE TABLE reach.clicks_2025 PARTITION OF reach.clicks FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE reach.clicks_2026 PARTITION OF reach.clicks FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE reach.message_flags (message_ref bigint, flag text);                              -- link, bigint → int
CREATE TABLE reach."Order" ("User" bigint REFERENCES reach.guests, "select" text, "from" text); -- reserved words
CREATE TABLE reach.comments (id int PRIMARY KEY, record_type text, record_id bigint, body text); -- polymorphic
CREATE TABLE reach.organizations (                                                             -- not the person's
    id int PRIMARY KEY, created_by_guest_id bigint REFERENCES reach.guests, name text);
CREATE TABLE reach.uploads (id int PRIMARY KEY, message_id int REFERENCES reach.messages ON DELETE RESTRICT, path text);
CREATE TABLE reach.upload_thumbs (upload_id int REFERENCES reach.uploads, png text);           -- NO ACTION, no PK

INSERT INTO reach.guests VALUES (1, 'ann@example.cz', NULL), (2, 'bob@example.cz', NULL);
INSERT INTO reach.sessions VALUES (10, 1, 'ann 1'), (11, 1, 'ann 2'), (20, 2, 'bob 1');
UPDATE reach.guests SET last_session_id = 11 WHERE id = 1;
UPDATE reach.guests SET last_session_id = 20 WHERE id = 2;
INSERT INTO reach.messages VALUES (100, 10, NULL, 'ann: hello'), (101, 11, 100, 'ann: again'),
                                  (200, 20, NULL, 'bob: hi'), (201, 20, 101, 'bob replies to ann');
INSERT INTO reach.message_versions VALUES (100, 1, 'ann: helo'), (100, 2, 'ann: hello'), (200, 1, 'bob: hi');
INSERT INTO reach.version_reviews VALUES (100, 1, 'typo by ann'), (200, 1, 'fine');
INSERT INTO reach.events VALUES (1, 1, '2025-06-01', 'ann login'), (2, 1, '2026-02-01', 'ann logout'),
                                (3, 2, '2026-02-01', 'bob login');
INSERT INTO reach.clicks VALUES (1, '2025-03-03', '/ann/a'), (1, '2026-03-03', '/ann/b'), (2, '2026-03-03', '/bob');
INSERT INTO reach.message_flags VALUES (100, 'ann flag'), (200, 'bob flag');
INSERT INTO reach."Order" VALUES (1, 'ann select', 'ann from'), (2, 'bob select', 'bob from');
INSERT INTO reach.comments VALUES (1, 'Guest', 1, 'about ann'), (2, 'Session', 10, 'ann session'),
                                  (3, 'Guest', 2, 'about bob'), (4, 'Session', 1, 'session #1 is not guest #1');
INSERT INTO reach.organizations VALUES (1, 1, 'Org created by ann, shared with others');
INSERT INTO reach.uploads VALUES (1, 100, '/files/ann.png'), (2, 200, '/files/bob.png');
INSERT INTO reach.upload_thumbs VALUES (1, 'ann thumb'), (2, 'bob thumb');

SELECT gdpr.declare_subject('guest', 'reach.guests');
SELECT gdpr.declare_pii('reach.guests', 'email', 'fake_email');
SELECT gdpr.declare_pii('reach.sessions', 'topic', 'null');
SELECT gdpr.declare_pii('reach.messages', 'body', 'constant', '{"value": "[erased]"}');
SELECT gdpr.declare_pii('reach.message_versions', 'body', 'constant', '{"value": "[erased]"}');
SELECT gdpr.declare_pii('reach.version_reviews', 'reviewer_note', 'null');
SELECT gdpr.declare_pii('reach.events', 'detail', 'null');
SELECT gdpr.declare_pii('reach.clicks', 'url', 'constant', '{"value": "/"}');
SELECT gdpr.declare_pii('reach.message_flags', 'flag', 'null');
SELECT gdpr.declare_pii('reach."Order"', 'select', 'hash');
SELECT gdpr.declare_pii('reach."Order"', 'from', 'null');
SELECT gdpr.declare_pii('reach.comments', 'body', 'null');
SELECT gdpr.declare_pii('reach.organizations', 'name', 'null');
SELECT gdpr.declare_erase_action('reach.uploads', 'delete');
SELECT gdpr.declare_erase_action('reach.upload_thumbs', 'delete');
SELECT gdpr.declare_link('reach.clicks', '{guest_id}', 'reach.guests', '{id}');
SELECT gdpr.declare_link('reach.message_flags', '{message_ref}', 'reach.messages', '{id}');
SELECT gdpr.declare_link('reach.comments', '{record_id}', 'reach.guests', '{id}', 'record_type', 'Guest');
SELECT gdpr.declare_link('reach.comments', '{record_id}', 'reach.sessions', '{id}', 'record_type', 'Session');

-- What an erasure of guest 1 would reach, and how. Note the over-reach: bob's message 201 replies to ann's
-- message, and the organization ann created is shared.
CREATE VIEW reach.reached AS
SELECT t->>'table' AS "table", t->>'action' AS action, (t->>'rows')::int AS rows, t->>'path' AS path
  FROM jsonb_array_elements(gdpr.anonymize_guest(1::bigint, dry_run => true)->'tables') t;
SELECT * FROM reach.reached;
SELECT v->>'reference' AS reference, v->>'rows' AS rows
  FROM jsonb_array_elements(gdpr.anonymize_guest(1::bigint, dry_run => true)->'tables') t,
       jsonb_array_elements(t->'via') v
 WHERE t->>'table' = 'reach.messages';

-- Excluding the references that do not mean "belongs to the person" removes the over-reach.
SELECT gdpr.exclude_reference('reach.messages', '{reply_to}');
SELECT gdpr.exclude_reference('reach.organizations', '{created_by_guest_id}');
SELECT * FROM reach.reached;

-- Everything of bob's, before.
CREATE FUNCTION reach.bob_checksum() RETURNS text LANGUAGE sql AS $$
  SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
    SELECT g::text FROM reach.guests g WHERE id = 2
    UNION ALL SELECT s::text FROM reach.sessions s WHERE guest_id = 2
    UNION ALL SELECT m::text FROM reach.messages m WHERE id >= 200
    UNION ALL SELECT v::text FROM reach.message_versions v WHERE message_id >= 200
    UNION ALL SELECT r::text FROM reach.version_reviews r WHERE message_id >= 200
    UNION ALL SELECT e::text FROM reach.events e WHERE guest_id = 2
    UNION ALL SELECT c::text FROM reach.clicks c WHERE guest_id = 2
    UNION ALL SELECT f::text FROM reach.message_flags f WHERE message_ref >= 200
    UNION ALL SELECT o::text FROM reach."Order" o WHERE "User" = 2
    UNION ALL SELECT c::text FROM reach.comments c WHERE id IN (3, 4)
    UNION ALL SELECT o::text FROM reach.organizations o
    UNION ALL SELECT u::text FROM reach.uploads u WHERE id = 2
    UNION ALL SELECT t::text FROM reach.upload_thumbs t WHERE upload_id = 2) AS all_rows(x) $$;
CREATE TABLE reach.bob_before AS SELECT reach.bob_checksum() AS sum;

-- The dry run's counts are what the erasure then changes.
CREATE TABLE reach.dry AS SELECT * FROM reach.reached;
CREATE TABLE reach.real AS
SELECT t->>'table' AS "table", t->>'action' AS action, (t->>'rows')::int AS rows, t->>'path' AS path
  FROM jsonb_array_elements(gdpr.anonymize_guest(1::bigint)->'tables') t;
SELECT (SELECT array_agg(d::text ORDER BY d::text) FROM reach.dry d) = (SELECT array_agg(r::text ORDER BY r::text) FROM reach.real r)
       AS dry_run_matches;

-- ann's personal data is gone from every table; bob's rows are unchanged byte for byte.
SELECT (SELECT email FROM reach.guests WHERE id = 1) LIKE '%@example.%' AND
       (SELECT email FROM reach.guests WHERE id = 1) <> 'ann@example.cz' AS email_pseudonymized;
SELECT id, topic FROM reach.sessions ORDER BY id;
SELECT id, body FROM reach.messages ORDER BY id;
SELECT * FROM reach.message_versions ORDER BY 1, 2;
SELECT * FROM reach.version_reviews ORDER BY 1, 2;
SELECT * FROM reach.events ORDER BY id;
SELECT * FROM reach.clicks ORDER BY guest_id, at;
SELECT * FROM reach.message_flags ORDER BY 1;
SELECT "User", length("select") AS select_len, "from" FROM reach."Order" ORDER BY 1;
SELECT * FROM reach.comments ORDER BY id;
SELECT * FROM reach.organizations;
SELECT * FROM reach.uploads ORDER BY id;
SELECT * FROM reach.upload_thumbs ORDER BY upload_id;
SELECT (SELECT sum FROM reach.bob_before) = reach.bob_checksum() AS bob_unchanged;

-- Erasing twice is harmless.
SELECT (gdpr.anonymize_guest(1::bigint)->>'total_rows')::int AS second_erasure_rows;
SELECT (SELECT sum FROM reach.bob_before) = reach.bob_checksum() AS bob_still_unchanged;

-- A delete table whose rows are referenced by an anonymize table through NO ACTION is refused up front,
-- with nothing changed.
SELECT gdpr.declare_erase_action('reach.upload_thumbs', 'anonymize');
SELECT regress.try($$SELECT gdpr.anonymize_guest(2::bigint)$$);
SELECT count(*) AS bob_uploads FROM reach.uploads WHERE id = 2;

-- Whole subject deleted: children first through the whole chain.
SELECT gdpr.declare_erase_action('reach.upload_thumbs', 'delete');
SELECT gdpr.declare_erase_action('reach.messages', 'delete');
SELECT gdpr.declare_erase_action('reach.message_versions', 'delete');
SELECT gdpr.declare_erase_action('reach.version_reviews', 'delete');
SELECT gdpr.declare_erase_action('reach.message_flags', 'delete');
SELECT t->>'table' AS "table", t->>'action' AS action, t->>'rows' AS rows
  FROM jsonb_array_elements(gdpr.anonymize_guest(2::bigint)->'tables') t;
SELECT (SELECT count(*) FROM reach.messages) AS messages, (SELECT count(*) FROM reach.uploads) AS uploads,
       (SELECT count(*) FROM reach.message_versions) AS versions, (SELECT count(*) FROM reach.message_flags) AS flags;

DROP SCHEMA reach CASCADE;
