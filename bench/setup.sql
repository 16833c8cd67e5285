-- pg_gdpr benchmark: the hand-written floors and the timing helpers (loaded after examples/chat).
-- A floor is what a DBA would write without the extension to change exactly the same rows and columns:
-- plain UPDATE/DELETE statements driven by `= ANY(ARRAY(SELECT ...))`, with simple expressions instead of the
-- keyed pseudonyms, and one regexp_replace chain where the policy is `scrub`.
CREATE SCHEMA IF NOT EXISTS bench;
CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA bench;

-- The generic patterns, then (simplified) the free-text detectors: a street address (number + street word, or a
-- German compound + number), a name after an introducing phrase, a date after a birth keyword.
CREATE OR REPLACE FUNCTION bench.floor_scrub(body text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(body,
        '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '[email]', 'g'),
        '\+?[0-9][0-9 ]{7,}[0-9]', '[phone]', 'g'),
        '\m(?:[0-9]{1,3}\.){3}[0-9]{1,3}\M', '[ip]', 'g'),
        '\m[0-9]{1,4}[a-z]?\s+(?:[[:upper:]][[:alpha:]]+\s+){1,3}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Way)\M'
        '|\m[[:upper:]][[:alpha:]]*(?:straße|str\.|weg|platz)\s+[0-9]{1,4}[a-z]?\M', '[address]', 'g'),
        '((?:[Mm]y name is|I am|I''m|[Tt]his is|[Jj]menuji se|[Jj]sem|[Nn]azywam się|[Jj]estem|[Ii]ch heiße|[Ii]ch bin'
        '|[Jj]e m''appelle|[Jj]e suis)\s+)[[:upper:]][[:alpha:]]+(?:\s+[[:upper:]][[:alpha:]]+){0,2}', '\1[name]', 'g'),
        '((?:DOB|[Bb]orn|[Bb]irth|narozen[aáý]?|nar\.|urodzon[aye]|ur\.|geboren|geb\.|née?)[^0-9\n]{0,16})'
        '[0-9]{1,4}[-./ ]+[0-9]{1,2}[-./ ]+[0-9]{2,4}', '\1[birthdate]', 'g')
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

-- Erasing many guests by hand (the floor of gdpr.anonymize_subjects and of a retention batch): the statements of
-- bench.floor_guest, each run once for all of them (`= ANY`).
CREATE OR REPLACE FUNCTION bench.floor_guests(gs bigint[]) RETURNS void LANGUAGE plpgsql
SET session_replication_role = replica AS $$
DECLARE
    sess bigint[] := ARRAY(SELECT id FROM chat.chat_sessions WHERE guest_id = ANY (gs) FOR UPDATE);
    msgs bigint[] := ARRAY(SELECT id FROM chat.messages WHERE session_id = ANY (sess) FOR UPDATE);
BEGIN
    UPDATE chat.guests SET name = 'erased', email = 'erased-' || id || '@example.invalid', phone = NULL, ip = NULL,
                           metadata = jsonb_build_object('browser', metadata->'browser')
     WHERE id = ANY (gs);
    UPDATE chat.chat_sessions SET visitor_ip = NULL, user_agent = NULL WHERE id = ANY (sess);
    UPDATE chat.messages SET body = bench.floor_scrub(body) WHERE id = ANY (msgs);
    DELETE FROM chat.attachments WHERE message_id = ANY (msgs);
    UPDATE chat.offline_leads SET name = 'erased', email = 'erased@example.invalid', phone = NULL, message = NULL
     WHERE guest_id = ANY (gs);
    UPDATE chat.chatbot_leads SET email = 'erased@example.invalid', phone = NULL WHERE session_id = ANY (sess);
    DELETE FROM chat.visitor_events WHERE guest_ref = ANY (gs);
    UPDATE chat.notes SET body = bench.floor_scrub(body) WHERE record_type = 'Guest' AND record_id = ANY (gs);
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

-- The batch erasure scenario: erases the guests `ids` three ways, each in a subtransaction that is rolled back (so
-- that all three change the same rows of the same data): one gdpr.anonymize_subjects call for all of them
-- ('batch'), one gdpr.anonymize_guest call per guest ('single', each call timed; the calls add up in one
-- subtransaction, as the batch's changes do) and bench.floor_guests ('floor'). `first` (0, 1, 2) rotates which
-- goes first. Returns one row per timed call.
CREATE OR REPLACE FUNCTION bench.compare_batch(ids bigint[], first int)
RETURNS TABLE (side text, ms double precision) LANGUAGE plpgsql AS $$
DECLARE
    sides text[] := ARRAY['batch', 'single', 'floor'];
    t0 timestamptz;
    times double precision[];
    id bigint;
    i int;
    warm_up boolean;
BEGIN
    -- Warm up: plans built and cached on every side (a few guests) before anything is timed.
    FOR warm_up IN SELECT unnest(ARRAY[true, false]) LOOP
        FOR i IN 0..2 LOOP
            side := sides[1 + (first + i) % 3];
            times := '{}';
            BEGIN
                IF side = 'single' THEN
                    FOREACH id IN ARRAY CASE WHEN warm_up THEN ids[1:3] ELSE ids END LOOP
                        t0 := clock_timestamp();
                        PERFORM gdpr.anonymize_guest(id);
                        times := times || extract(epoch FROM clock_timestamp() - t0) * 1000;
                    END LOOP;
                ELSE
                    t0 := clock_timestamp();
                    IF side = 'batch' THEN
                        PERFORM gdpr.anonymize_subjects('guest',
                                                        (CASE WHEN warm_up THEN ids[1:3] ELSE ids END)::text[]);
                    ELSE
                        PERFORM bench.floor_guests(CASE WHEN warm_up THEN ids[1:3] ELSE ids END);
                    END IF;
                    times := ARRAY[extract(epoch FROM clock_timestamp() - t0) * 1000];
                END IF;
                RAISE SQLSTATE 'BENCH';
            EXCEPTION WHEN SQLSTATE 'BENCH' THEN
                IF NOT warm_up THEN
                    FOREACH ms IN ARRAY times LOOP
                        RETURN NEXT;
                    END LOOP;
                END IF;
            END;
        END LOOP;
    END LOOP;
END $$;

-- A nightly retention job by hand (the floor of gdpr.enforce_retention for guests): the guests that came before
-- now() - `keep`, oldest first, `batch_size` at a time after the last one taken (FOR UPDATE SKIP LOCKED, as the
-- extension's batches do), each batch erased by bench.floor_guests and committed. A NOTICE as each batch ends
-- (before its commit, where the extension raises its own): the harness times the batches by them.
CREATE OR REPLACE PROCEDURE bench.floor_retention(keep interval, batch_size int) LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamptz := now() - keep;
    ids bigint[];
    last_at timestamptz;
    last_id bigint;
    done bigint := 0;
BEGIN
    LOOP
        SELECT array_agg(b.id ORDER BY b.created_at, b.id),
               (array_agg(b.created_at ORDER BY b.created_at DESC, b.id DESC))[1],
               (array_agg(b.id ORDER BY b.created_at DESC, b.id DESC))[1]
          INTO ids, last_at, last_id
          FROM (SELECT g.id, g.created_at FROM chat.guests g
                 WHERE g.created_at < cutoff AND (last_id IS NULL OR (g.created_at, g.id) > (last_at, last_id))
                 ORDER BY g.created_at, g.id LIMIT batch_size FOR UPDATE SKIP LOCKED) b;
        EXIT WHEN ids IS NULL;
        PERFORM bench.floor_guests(ids);
        done := done + cardinality(ids);
        RAISE NOTICE 'bench: floor retention: % guests erased', done;
        COMMIT;
    END LOOP;
END $$;

-- The guests the retention scenario makes expired: half for gdpr.enforce_retention ('ours'), half for the floor.
CREATE TABLE IF NOT EXISTS bench.retention_guests (id bigint PRIMARY KEY, side text NOT NULL);

-- The sessions of guests the concurrency and retention scenarios do not erase, for their inserting clients.
CREATE TABLE IF NOT EXISTS bench.insert_sessions (n int PRIMARY KEY, session_id bigint NOT NULL);

-- The consent scenario: the same lead insert with a plain FOREIGN KEY, and under gdpr.require_consent.
DROP TABLE IF EXISTS bench.leads_fk, bench.leads_consent;
CREATE TABLE bench.leads_fk (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL,
                             email text NOT NULL, consent_id bigint REFERENCES gdpr.consent);
CREATE TABLE bench.leads_consent (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL,
                                  email text NOT NULL, consent_id bigint);
SELECT gdpr.require_consent('bench.leads_consent', 'consent_id', 'chatbot_leads');

-- Finding a guest by hand (the floor of gdpr.find_guests): one indexed lookup per column find_guests searches for
-- an e-mail, a phone or a name in examples/chat (guests, offline_leads, chatbot_leads), compared in the same
-- normal forms so that the same expression indexes serve both sides, the leads joined up to their guest. A NULL
-- argument was not given: its lookups compare with NULL and find nothing.
CREATE OR REPLACE FUNCTION bench.floor_find_guests(given_email text, given_phone text, given_name text)
RETURNS SETOF bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT g.id FROM chat.guests g WHERE gdpr.normalize_email(g.email) = gdpr.normalize_email(given_email)
    UNION SELECT g.id FROM chat.guests g WHERE gdpr.normalize_phone(g.phone, '420') = gdpr.normalize_phone(given_phone, '420')
    UNION SELECT g.id FROM chat.guests g WHERE gdpr.normalize_name(g.name) = gdpr.normalize_name(given_name)
    UNION SELECT o.guest_id FROM chat.offline_leads o
           WHERE gdpr.normalize_email(o.email) = gdpr.normalize_email(given_email) AND o.guest_id IS NOT NULL
    UNION SELECT o.guest_id FROM chat.offline_leads o
           WHERE gdpr.normalize_phone(o.phone, '420') = gdpr.normalize_phone(given_phone, '420') AND o.guest_id IS NOT NULL
    UNION SELECT o.guest_id FROM chat.offline_leads o
           WHERE gdpr.normalize_name(o.name) = gdpr.normalize_name(given_name) AND o.guest_id IS NOT NULL
    UNION SELECT s.guest_id FROM chat.chatbot_leads l JOIN chat.chat_sessions s ON s.id = l.session_id
           WHERE gdpr.normalize_email(l.email) = gdpr.normalize_email(given_email)
    UNION SELECT s.guest_id FROM chat.chatbot_leads l JOIN chat.chat_sessions s ON s.id = l.session_id
           WHERE gdpr.normalize_phone(l.phone, '420') = gdpr.normalize_phone(given_phone, '420');
END $$;

-- Exporting a guest by hand (the floor of gdpr.export_guest): every row the guest's erasure reaches, all columns
-- as jsonb (bytea as base64 with its size, as the export writes it), with the guest's consents and erasure-log
-- entries, in one document. Row counts per table are compared with the export's for every sample.
CREATE OR REPLACE FUNCTION bench.floor_export_guest(g bigint) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    sess bigint[] := ARRAY(SELECT id FROM chat.chat_sessions WHERE guest_id = g);
    msgs bigint[] := ARRAY(SELECT id FROM chat.messages WHERE session_id = ANY (sess));
BEGIN
    RETURN jsonb_build_object(
        'guest_id', g,
        'tables', jsonb_build_object(
            'chat.guests', (SELECT jsonb_agg(to_jsonb(t)) FROM chat.guests t WHERE t.id = g),
            'chat.chat_sessions', (SELECT jsonb_agg(to_jsonb(t)) FROM chat.chat_sessions t WHERE t.id = ANY (sess)),
            'chat.messages', (SELECT jsonb_agg(to_jsonb(t)) FROM chat.messages t WHERE t.id = ANY (msgs)),
            'chat.attachments', (SELECT jsonb_agg(to_jsonb(t) || jsonb_build_object('bytes', jsonb_build_object(
                                     'base64', translate(encode(t.bytes, 'base64'), E'\n', ''),
                                     'bytes', octet_length(t.bytes))))
                                   FROM chat.attachments t WHERE t.message_id = ANY (msgs)),
            'chat.offline_leads', (SELECT jsonb_agg(to_jsonb(t)) FROM chat.offline_leads t WHERE t.guest_id = g),
            'chat.chatbot_leads', (SELECT jsonb_agg(to_jsonb(t)) FROM chat.chatbot_leads t WHERE t.session_id = ANY (sess)),
            'chat.session_tags', (SELECT jsonb_agg(to_jsonb(t)) FROM chat.session_tags t WHERE t.session_id = ANY (sess)),
            'chat.visitor_events', (SELECT jsonb_agg(to_jsonb(t)) FROM chat.visitor_events t WHERE t.guest_ref = g),
            'chat.notes', (SELECT jsonb_agg(to_jsonb(t)) FROM chat.notes t
                            WHERE (t.record_type = 'Guest' AND t.record_id = g)
                               OR (t.record_type = 'ChatSession' AND t.record_id = ANY (sess)))),
        'consents', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                'consent_id', c.id, 'purpose', x.purpose, 'version', x.version, 'language', x.language,
                                'text', x.body, 'privacy_policy_url', x.privacy_policy_url, 'source', c.source,
                                'granted_at', c.granted_at, 'withdrawn_at', c.withdrawn_at) ORDER BY c.id), '[]')
                       FROM gdpr.consent c JOIN gdpr.consent_text x ON x.id = c.text_id
                      WHERE (c.subject_kind = 'guest' AND c.subject_id = g::text)
                         OR c.id = ANY (ARRAY(SELECT consent_id FROM chat.offline_leads WHERE guest_id = g
                                              UNION ALL
                                              SELECT consent_id FROM chat.chatbot_leads WHERE session_id = ANY (sess)))),
        'erasures', (SELECT coalesce(jsonb_agg(to_jsonb(l) ORDER BY l.id), '[]') FROM gdpr.erasure_log l
                      WHERE l.kind = 'guest' AND l.subject_id = g::text));
END $$;

-- Runs `ours` and `floor` (read-only statements returning one jsonb value; $1..$4 = the elements of one array of
-- `given`, as text) for every array, alternating which goes first; times each call alone. Returns the value
-- each side found, so that the caller can check both found the same.
CREATE OR REPLACE FUNCTION bench.compare_read(ours text, floor text, given jsonb)
RETURNS TABLE (n int, side text, ms double precision, args jsonb, result jsonb) LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    a jsonb;
    which text;
BEGIN
    -- Warm up: plans built and cached, the kind's erasure plan loaded, on both sides before anything is timed.
    FOR which IN SELECT unnest(ARRAY['ours', 'floor']) LOOP
        EXECUTE CASE which WHEN 'ours' THEN ours ELSE floor END INTO result
          USING given->0->>0, given->0->>1, given->0->>2, given->0->>3;
    END LOOP;
    n := 0;
    FOR a IN SELECT jsonb_array_elements(given) LOOP
        n := n + 1;
        args := a;
        FOR which IN SELECT unnest(CASE WHEN n % 2 = 0 THEN ARRAY['ours', 'floor'] ELSE ARRAY['floor', 'ours'] END) LOOP
            t0 := clock_timestamp();
            EXECUTE CASE which WHEN 'ours' THEN ours ELSE floor END INTO result USING a->>0, a->>1, a->>2, a->>3;
            ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
            side := which;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END $$;
