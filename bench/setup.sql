-- pg_gdpr benchmark: the hand-written floors and the timing helpers (loaded after examples/chat).
-- A floor is what a DBA would write without the extension to change exactly the same rows and columns:
-- plain UPDATE/DELETE statements driven by `= ANY(ARRAY(SELECT ...))`, with simple expressions instead of the
-- keyed pseudonyms, and one regexp_replace chain where the policy is `scrub`.
CREATE SCHEMA IF NOT EXISTS bench;
CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA bench;

-- E-mail, phone, IPv4: the patterns a DBA would scrub free text with.
CREATE OR REPLACE FUNCTION bench.floor_scrub(body text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(body,
        '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '[email]', 'g'),
        '\+?[0-9][0-9 ]{7,}[0-9]', '[phone]', 'g'),
        '\m(?:[0-9]{1,3}\.){3}[0-9]{1,3}\M', '[ip]', 'g')
$$;

-- Erasing a guest by hand: the same tables, rows and columns as the examples/chat policies. The floor runs with
-- the tables' triggers off (session_replication_role = replica): the erased-subject guard that examples/chat
-- installs would otherwise check every row the floor writes (the extension's own writes skip it), and no other
-- trigger or foreign-key action applies to these statements.
CREATE OR REPLACE FUNCTION bench.floor_guest(g bigint) RETURNS void LANGUAGE plpgsql
SET session_replication_role = replica AS $$
DECLARE
    sess bigint[] := ARRAY(SELECT id FROM chat.chat_sessions WHERE guest_id = g FOR UPDATE);
    msgs bigint[] := ARRAY(SELECT id FROM chat.messages WHERE session_id = ANY (sess) FOR UPDATE);
BEGIN
    UPDATE chat.guests SET name = 'erased', email = 'erased-' || id || '@example.invalid', phone = NULL, ip = NULL,
                           metadata = jsonb_build_object('browser', metadata->'browser')
     WHERE id = g;
    UPDATE chat.chat_sessions SET visitor_ip = NULL, user_agent = NULL WHERE id = ANY (sess);
    UPDATE chat.messages SET body = bench.floor_scrub(body) WHERE id = ANY (msgs);
    DELETE FROM chat.attachments WHERE message_id = ANY (msgs);
    UPDATE chat.offline_leads SET name = 'erased', email = 'erased@example.invalid', phone = NULL, message = NULL
     WHERE guest_id = g;
    UPDATE chat.chatbot_leads SET email = 'erased@example.invalid', phone = NULL WHERE session_id = ANY (sess);
    DELETE FROM chat.visitor_events WHERE guest_ref = g;
    UPDATE chat.notes SET body = bench.floor_scrub(body) WHERE record_type = 'Guest' AND record_id = g;
    UPDATE chat.notes SET body = bench.floor_scrub(body) WHERE record_type = 'ChatSession' AND record_id = ANY (sess);
END $$;

-- Erasing one chat by hand.
CREATE OR REPLACE FUNCTION bench.floor_session(s bigint) RETURNS void LANGUAGE plpgsql
SET session_replication_role = replica AS $$
DECLARE
    msgs bigint[] := ARRAY(SELECT id FROM chat.messages WHERE session_id = s FOR UPDATE);
BEGIN
    UPDATE chat.chat_sessions SET visitor_ip = NULL, user_agent = NULL WHERE id = s;
    UPDATE chat.messages SET body = bench.floor_scrub(body) WHERE id = ANY (msgs);
    DELETE FROM chat.attachments WHERE message_id = ANY (msgs);
    UPDATE chat.chatbot_leads SET email = 'erased@example.invalid', phone = NULL WHERE session_id = s;
    UPDATE chat.notes SET body = bench.floor_scrub(body) WHERE record_type = 'ChatSession' AND record_id = s;
END $$;

-- Runs `ours` and `floor` (each with $1 = id) for every id, each in a subtransaction that is rolled back, so
-- both change the same rows of the same data; alternates which goes first. Returns one row per run.
CREATE OR REPLACE FUNCTION bench.compare_rolled_back(ours text, floor text, ids bigint[])
RETURNS TABLE (side text, ms double precision) LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    elapsed double precision;
    n int := 0;
    id bigint;
    which text;
BEGIN
    -- Warm up: plans built and cached on both sides before anything is timed.
    FOR which IN SELECT unnest(ARRAY['ours', 'floor']) LOOP
        BEGIN
            EXECUTE CASE which WHEN 'ours' THEN ours ELSE floor END USING ids[1];
            RAISE SQLSTATE 'BENCH';
        EXCEPTION WHEN SQLSTATE 'BENCH' THEN NULL;
        END;
    END LOOP;
    FOREACH id IN ARRAY ids LOOP
        n := n + 1;
        FOR which IN SELECT unnest(CASE WHEN n % 2 = 0 THEN ARRAY['ours', 'floor'] ELSE ARRAY['floor', 'ours'] END) LOOP
            BEGIN
                t0 := clock_timestamp();
                EXECUTE CASE which WHEN 'ours' THEN ours ELSE floor END USING id;
                elapsed := extract(epoch FROM clock_timestamp() - t0) * 1000;
                RAISE SQLSTATE 'BENCH';
            EXCEPTION WHEN SQLSTATE 'BENCH' THEN
                side := which; ms := elapsed;
                RETURN NEXT;
            END;
        END LOOP;
    END LOOP;
END $$;

-- Runs `sql` for every id and commits after each; the time includes the commit.
CREATE TABLE IF NOT EXISTS bench.timing (label text, ms double precision);
CREATE OR REPLACE PROCEDURE bench.time_committed(label text, sql text, ids bigint[]) LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    id bigint;
BEGIN
    FOREACH id IN ARRAY ids LOOP
        t0 := clock_timestamp();
        EXECUTE sql USING id;
        COMMIT;
        INSERT INTO bench.timing VALUES (label, extract(epoch FROM clock_timestamp() - t0) * 1000);
        COMMIT;
    END LOOP;
END $$;

-- Runs one statement in a subtransaction that is rolled back; returns its duration in ms.
CREATE OR REPLACE FUNCTION bench.time_once(sql text) RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    elapsed double precision;
BEGIN
    BEGIN
        EXECUTE sql;
        elapsed := extract(epoch FROM clock_timestamp() - t0) * 1000;
        RAISE SQLSTATE 'BENCH';
    EXCEPTION WHEN SQLSTATE 'BENCH' THEN NULL;
    END;
    RETURN elapsed;
END $$;

-- The sessions of guests the concurrency scenario does not erase, for its inserting clients.
CREATE TABLE IF NOT EXISTS bench.insert_sessions (n int PRIMARY KEY, session_id bigint NOT NULL);

-- The consent scenario: the same lead insert with a plain FOREIGN KEY, and under gdpr.require_consent.
DROP TABLE IF EXISTS bench.leads_fk, bench.leads_consent;
CREATE TABLE bench.leads_fk (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL,
                             email text NOT NULL, consent_id bigint REFERENCES gdpr.consent);
CREATE TABLE bench.leads_consent (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL,
                                  email text NOT NULL, consent_id bigint);
SELECT gdpr.require_consent('bench.leads_consent', 'consent_id', 'chatbot_leads');
