-- Quick erasure timing on the examples/chat data (psql -v guests=N -f examples/chat/{schema,data,declare}.sql first):
-- anonymize_guest on distinct guests, alternating with a hand-written SQL floor that changes the same rows (its
-- message scrub is a single regexp_replace, much less than gdpr scrub does).
-- Reports medians and p99 in ms; both sides run in the same session, so plans are cached on both.
CREATE OR REPLACE FUNCTION pg_temp.floor_erase(g bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    sess bigint[] := ARRAY(SELECT id FROM chat.chat_sessions WHERE guest_id = g);
    msgs bigint[] := ARRAY(SELECT id FROM chat.messages WHERE session_id = ANY (sess));
BEGIN
    UPDATE chat.guests SET name = 'x', email = 'erased-' || id || '@example.com', phone = '+420 000', ip = NULL WHERE id = g;
    UPDATE chat.chat_sessions SET visitor_ip = NULL, user_agent = NULL WHERE id = ANY (sess);
    UPDATE chat.messages SET body = regexp_replace(body, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+|\+?[0-9][0-9 ]{7,}[0-9]', '[redacted]', 'g') WHERE id = ANY (msgs);
    DELETE FROM chat.attachments WHERE message_id = ANY (msgs);
    UPDATE chat.offline_leads SET name = 'x', email = 'x', phone = 'x', message = NULL WHERE guest_id = g;
    DELETE FROM chat.visitor_events WHERE guest_ref = g;
    UPDATE chat.notes SET body = '[removed on request]'
     WHERE (record_type = 'Guest' AND record_id = g) OR (record_type = 'ChatSession' AND record_id = ANY (sess));
END $$;
CREATE TEMP TABLE timing (side text, ms double precision);
DO $$
DECLARE
    n int := (SELECT count(*) FROM chat.guests);
    g bigint;
    t0 timestamptz;
BEGIN
    PERFORM gdpr.anonymize_guest(1::bigint);   -- build and cache the plan
    PERFORM pg_temp.floor_erase(2);
    FOR i IN 1..400 LOOP
        g := 3 + (i * 7919) % (n - 3);
        t0 := clock_timestamp();
        IF i % 2 = 0 THEN
            PERFORM gdpr.anonymize_guest(g);
            INSERT INTO timing VALUES ('anonymize_guest', extract(epoch FROM clock_timestamp() - t0) * 1000);
        ELSE
            PERFORM pg_temp.floor_erase(g);
            INSERT INTO timing VALUES ('floor', extract(epoch FROM clock_timestamp() - t0) * 1000);
        END IF;
    END LOOP;
END $$;
SELECT side, count(*) AS runs,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS median_ms,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p99_ms
  FROM timing GROUP BY side ORDER BY side;
SELECT round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM timing WHERE side = 'anonymize_guest')::numeric
     / (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM timing WHERE side = 'floor')::numeric, 2) AS median_ratio;
