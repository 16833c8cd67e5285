-- Erasure statements use the indexes: a table reached by two paths stays on index scans, never a
-- sequential scan of the whole table. The statements are the ones the erasure prepares (gdpr.erasure_statements).
CREATE SCHEMA plans;
CREATE TABLE plans.guests (id bigint PRIMARY KEY, email text);
CREATE TABLE plans.sessions (id bigint PRIMARY KEY, guest_id bigint REFERENCES plans.guests, note text);
CREATE INDEX ON plans.sessions (guest_id);
-- messages reach the guest by two paths: directly (author_guest_id) and through their session
CREATE TABLE plans.messages (id bigint PRIMARY KEY, session_id bigint REFERENCES plans.sessions,
                             author_guest_id bigint REFERENCES plans.guests, body text);
CREATE INDEX ON plans.messages (session_id);
CREATE INDEX ON plans.messages (author_guest_id);
INSERT INTO plans.guests SELECT g, 'g' || g || '@example.cz' FROM generate_series(1, 2000) g;
INSERT INTO plans.sessions SELECT s, 1 + s % 2000, 'note' FROM generate_series(1, 20000) s;
INSERT INTO plans.messages SELECT m, 1 + m % 20000, 1 + m % 2000, 'body' FROM generate_series(1, 100000) m;
ANALYZE plans.guests, plans.sessions, plans.messages;
SELECT gdpr.declare_subject('plan_guest', 'plans.guests');
SELECT gdpr.declare_pii('plans.guests', 'email', 'fake_email');
SELECT gdpr.declare_pii('plans.sessions', 'note', 'null');
SELECT gdpr.declare_pii('plans.messages', 'body', 'null');

SELECT "table", purpose FROM gdpr.erasure_statements('plan_guest') ORDER BY 1, 2;

-- Every statement, planned generically (as the prepared statements run), uses no sequential scan.
CREATE FUNCTION plans.scan_nodes(kind text) RETURNS TABLE ("table" text, purpose text, node text)
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    line text;
    n int := 0;
BEGIN
    SET LOCAL plan_cache_mode = force_generic_plan;
    FOR s IN SELECT * FROM gdpr.erasure_statements(kind) ORDER BY 1, 2 LOOP
        n := n + 1;
        EXECUTE format('PREPARE plans_stmt_%s(%s) AS %s', n, array_to_string(s.parameter_types, ','), s.statement);
        FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) EXECUTE plans_stmt_%s(%s)', n,
                                   array_to_string(array_fill('NULL'::text, ARRAY[cardinality(s.parameter_types)]), ','))
        LOOP
            IF line ~ 'Scan' THEN
                "table" := s."table"; purpose := s.purpose;
                node := regexp_replace(regexp_replace(line, '^\s*(->\s*)?', ''), ' on .*$', '');
                RETURN NEXT;
            END IF;
        END LOOP;
        EXECUTE format('DEALLOCATE plans_stmt_%s', n);
    END LOOP;
END $$;
SELECT DISTINCT "table", purpose, node FROM plans.scan_nodes('plan_guest') ORDER BY 1, 2, 3;
SELECT count(*) AS sequential_scans FROM plans.scan_nodes('plan_guest') WHERE node LIKE 'Seq Scan%';

-- the check can fail: without the index on one referencing column that path becomes a sequential scan
DROP INDEX plans.messages_author_guest_id_idx;
SELECT DISTINCT "table", node FROM plans.scan_nodes('plan_guest') WHERE node LIKE 'Seq Scan%';
-- ... and gdpr.lint() names the unindexed reference
SELECT * FROM gdpr.lint();
CREATE INDEX ON plans.messages (author_guest_id);

-- and the erasure itself reaches each message once although two paths lead to it
SELECT t->>'table' AS "table", t->>'rows' AS rows, jsonb_array_length(t->'via') AS paths
  FROM jsonb_array_elements(gdpr.anonymize_subject('plan_guest', '7')->'tables') t;
SELECT count(*) AS messages_of_guest_7 FROM plans.messages m
 WHERE m.author_guest_id = 7 OR m.session_id IN (SELECT id FROM plans.sessions WHERE guest_id = 7);
-- Plans are cached per backend and follow DDL: a table added, or renamed, after this backend cached the
-- plan is handled by the next erasure in the same session.
CREATE TABLE plans.reactions (message_id bigint REFERENCES plans.messages, emoji text);
CREATE INDEX ON plans.reactions (message_id);
INSERT INTO plans.reactions SELECT id, ':)' FROM plans.messages WHERE author_guest_id = 8;
SELECT gdpr.declare_pii('plans.reactions', 'emoji', 'null');
ALTER TABLE plans.sessions RENAME TO conversations;
SELECT t->>'table' AS "table", t->>'rows' AS rows
  FROM jsonb_array_elements(gdpr.anonymize_subject('plan_guest', '8')->'tables') t;
SELECT count(*) FILTER (WHERE emoji IS NULL) AS erased, count(*) AS reactions FROM plans.reactions;
-- A renamed column keeps its policy under the old name: lint reports it and erasures refuse to run.
ALTER TABLE plans.reactions RENAME COLUMN emoji TO reaction;
SELECT kind, severity, message FROM gdpr.lint();
SELECT regress.try($$SELECT gdpr.anonymize_subject('plan_guest', '9')$$);
SELECT gdpr.undeclare_pii('plans.reactions', 'emoji');
SELECT gdpr.declare_pii('plans.reactions', 'reaction', 'null');
SELECT count(*) AS findings FROM gdpr.lint() WHERE severity <> 'info';
SELECT (gdpr.anonymize_subject('plan_guest', '9')->>'total_rows')::int AS rows;
-- A polymorphic link's statement compares the id column and the type column: an index on (type, id) serves it
-- (any order); an index on the type column alone does not.
CREATE TABLE plans.comments (id bigint PRIMARY KEY, record_type text, record_id bigint, body text);
CREATE INDEX comments_type ON plans.comments (record_type);
SELECT gdpr.declare_link('plans.comments', '{record_id}', 'plans.guests', '{id}', 'record_type', 'Guest');
SELECT object, message FROM gdpr.lint() WHERE object LIKE 'plans.comments%';
CREATE INDEX ON plans.comments (record_type, record_id);
SELECT count(*) AS comment_findings FROM gdpr.lint() WHERE object LIKE 'plans.comments%';
DROP SCHEMA plans CASCADE;
