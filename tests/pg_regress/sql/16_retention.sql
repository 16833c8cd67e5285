-- Retention periods, legal holds, erasing many subjects at once.
CREATE SCHEMA rt AUTHORIZATION regress_owner;
SET ROLE regress_owner;
CREATE TABLE rt.customers (id int PRIMARY KEY, email text, last_seen timestamptz);
CREATE INDEX ON rt.customers (last_seen);
CREATE TABLE rt.tickets (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES rt.customers, subject text);
CREATE INDEX ON rt.tickets (customer_id);
CREATE TABLE rt.messages (id int PRIMARY KEY, ticket_id int NOT NULL REFERENCES rt.tickets, body text,
                          sent_at timestamptz);
CREATE INDEX ON rt.messages (ticket_id);
CREATE INDEX ON rt.messages (sent_at);
CREATE TABLE rt.events (id bigint PRIMARY KEY, customer_id int REFERENCES rt.customers, url text, at date);
CREATE INDEX ON rt.events (customer_id);
CREATE TABLE rt.no_pk (note text, at timestamptz);
INSERT INTO rt.no_pk VALUES ('old', now() - interval '2 years'), ('older', now() - interval '3 years'), ('new', now());
CREATE TABLE rt.codes (code text UNIQUE, at timestamptz);
CREATE TABLE rt.code_uses (id int PRIMARY KEY, code text REFERENCES rt.codes (code));
CREATE TABLE rt.no_policy (id int PRIMARY KEY, at timestamptz);
-- customers 1-4 last seen over three years ago, 5 recently.
INSERT INTO rt.customers
SELECT i, 'customer' || i || '@mail.example', CASE WHEN i < 5 THEN now() - interval '4 years' - i * interval '1 day'
                                                   ELSE now() - interval '1 day' END
  FROM generate_series(1, 5) i;
INSERT INTO rt.tickets SELECT i, i, 'Order problem of customer ' || i FROM generate_series(1, 5) i;
-- Two messages per ticket: one three years old, one from last week.
INSERT INTO rt.messages SELECT i, i, 'Call me at +420 601 00' || i, now() - interval '3 years' FROM generate_series(1, 5) i;
INSERT INTO rt.messages SELECT 10 + i, i, 'Thanks, customer ' || i, now() - interval '7 days' FROM generate_series(1, 5) i;
-- Events: 100 and 200 days old for every customer, and one from today.
INSERT INTO rt.events SELECT 100 + i, i, '/pricing', current_date - 100 FROM generate_series(1, 5) i;
INSERT INTO rt.events SELECT 200 + i, i, '/cart', current_date - 200 FROM generate_series(1, 5) i;
INSERT INTO rt.events SELECT 300 + i, i, '/help', current_date FROM generate_series(1, 5) i;
GRANT USAGE ON SCHEMA rt TO regress_dpo;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA rt TO regress_dpo;
RESET ROLE;
SELECT gdpr.declare_subject('rt_customer', 'rt.customers');
SET ROLE regress_owner;
SELECT gdpr.declare_pii('rt.customers', 'email', 'fake_email');
SELECT gdpr.declare_pii('rt.tickets', 'subject', 'constant', '{"value": "[removed]"}');
SELECT gdpr.declare_pii('rt.messages', 'body', 'constant', '{"value": "[removed]"}');
SELECT gdpr.declare_erase_action('rt.events', 'delete');

-- Declaration errors, each with its SQLSTATE, naming the table and column.
SELECT regress.try($$SELECT gdpr.declare_retention('rt.events', 'url', interval '90 days')$$);
SELECT regress.try($$SELECT gdpr.declare_retention('rt.events', 'nope', interval '90 days')$$);
SELECT regress.try($$SELECT gdpr.declare_retention('rt.events', 'at', interval '0 days')$$);
SELECT regress.try($$SELECT gdpr.declare_retention('rt.events', 'at', interval '1 month -40 days')$$);
SELECT regress.try($$SELECT gdpr.declare_retention('rt.events', 'at', interval '90 days', 'erase')$$);
SELECT regress.try($$SELECT gdpr.declare_retention('rt.events', 'at', interval '90 days', 'shred')$$);
SELECT regress.try($$SELECT gdpr.declare_retention('rt.customers', 'last_seen', interval '3 years', 'delete')$$);
SELECT regress.try($$SELECT gdpr.declare_retention('rt.no_pk', 'at', interval '1 year', 'anonymize')$$);
SELECT regress.try($$SELECT gdpr.declare_retention('rt.codes', 'at', interval '1 year')$$);
SELECT regress.try($$SELECT gdpr.declare_retention('rt.no_policy', 'at', interval '1 year', 'anonymize')$$);
SELECT regress.try($$SELECT gdpr.declare_retention('rt.events', NULL, interval '90 days')$$);
SELECT regress.try($$SELECT gdpr.declare_retention('rt.events', 'at', NULL)$$);
-- Only the table's owner declares (not even a role with every privilege on it).
SET ROLE regress_dpo;
SELECT regress.try($$SELECT gdpr.declare_retention('rt.events', 'at', interval '90 days')$$);
SELECT regress.try($$SELECT gdpr.undeclare_retention('rt.events')$$);
SET ROLE regress_owner;
SELECT gdpr.declare_retention('rt.events', 'at', interval '90 days');
SELECT gdpr.declare_retention('rt.messages', 'sent_at', interval '2 years', 'anonymize');
SELECT gdpr.declare_retention('rt.customers', 'last_seen', interval '3 years');
SELECT gdpr.declare_retention('rt.no_policy', 'at', interval '1 year');
-- A table without primary key: its expired rows are deleted by ctid (nothing can belong to them).
SELECT gdpr.declare_retention('rt.no_pk', 'at', interval '1 year');
SELECT gdpr.undeclare_retention('rt.no_policy');
RESET ROLE;
SELECT tbl, time_col, keep, action, declared_by FROM gdpr.retention ORDER BY tbl::text;
-- lint: the events' time column has no index.
SELECT kind, severity, object, message FROM gdpr.lint() WHERE kind = 'retention';
CREATE INDEX ON rt.events (at);
SELECT count(*) AS retention_findings FROM gdpr.lint() WHERE kind = 'retention';

-- The preview.
SELECT table_name, action, rows_due, oldest < now() - interval '3 years' AS oldest_expired, held
  FROM gdpr.retention_due() ORDER BY 1;

-- Legal holds: their own grant.
SET ROLE regress_dpo;
SELECT regress.try($$SELECT gdpr.place_legal_hold('rt_customer', '2', 'dispute #77')$$);
RESET ROLE;
SELECT gdpr.grant_legal_hold('regress_dpo');
SELECT gdpr.grant_erasure('regress_dpo');
SET ROLE regress_dpo;
SELECT regress.try($$SELECT gdpr.place_legal_hold('rt_customer', '2', '   ')$$);
SELECT regress.try($$SELECT gdpr.place_legal_hold('rt_customer', '99', 'dispute #78')$$);
SELECT regress.try($$SELECT gdpr.place_legal_hold('rt_customer', 'two', 'dispute #78')$$);
SELECT regress.try($$SELECT gdpr.place_legal_hold('martian', '2', 'dispute #78')$$);
SELECT regress.try($$SELECT gdpr.place_legal_hold('rt_customer', NULL, 'dispute #78')$$);
SELECT gdpr.place_legal_hold('rt_customer', '02', 'dispute #77') AS hold \gset
SELECT hold_id = :hold AS is_hold, kind, subject_id, reason, placed_by, active FROM gdpr.legal_holds;
-- The hold table is kept: no role rewrites it, not even its owner without dropping the trigger.
SELECT regress.try($$UPDATE gdpr.legal_hold SET reason = 'x'$$);
RESET ROLE;
SELECT regress.try($$UPDATE gdpr.legal_hold SET reason = 'x'$$);
SELECT regress.try($$DELETE FROM gdpr.legal_hold$$);
SELECT regress.try($$TRUNCATE gdpr.legal_hold$$);
SET ROLE regress_dpo;
-- Erasing a held subject fails with 55000 naming the hold; a dry run reports it; a batch with it fails whole.
SELECT regexp_replace(regress.try($$SELECT gdpr.anonymize_subject('rt_customer', '2')$$), 'at \S+ \S+:', 'at …:');
SELECT r->'total_rows' AS rows, r->'legal_holds'->0->'reason' AS hold_reason
  FROM gdpr.anonymize_subject('rt_customer', '2', dry_run => true) r;
SELECT regexp_replace(regress.try($$SELECT gdpr.anonymize_subjects('rt_customer', '{1,2}')$$), 'at \S+ \S+:', 'at …:');
SELECT count(*) AS customer_2_intact FROM rt.customers WHERE id = 2 AND email = 'customer2@mail.example';
RESET ROLE;

-- The preview counts what the hold keeps: customer 2, its expired events and its old message.
SELECT table_name, action, rows_due, held FROM gdpr.retention_due() ORDER BY 1;

-- Running it: only the DBA or a role granted retention.
SET ROLE regress_intruder;
CALL gdpr.enforce_retention();
RESET ROLE;
SET client_min_messages = warning;
\o /dev/null
CALL gdpr.enforce_retention(batch_size => 2);
\o
RESET client_min_messages;
SELECT s->'batches' AS batches, s->'stopped' AS stopped, r.finished_at IS NOT NULL AS finished
  FROM gdpr.retention_run r, LATERAL (SELECT r.summary) AS x(s) ORDER BY r.id DESC LIMIT 1;
SELECT t->>'table' AS "table", t->'action' AS action, t->'due' AS due, t->'done' AS done, t->'rows' AS rows,
       t->'held' AS held, t->'processed_before' AS processed_before
  FROM gdpr.retention_run r, jsonb_array_elements(r.summary->'tables') t
 WHERE r.id = (SELECT max(id) FROM gdpr.retention_run) ORDER BY 1;
-- Customers 1, 3, 4 erased whole (their tickets and messages anonymized, events deleted); 2 held; 5 not expired.
SELECT id, email LIKE 'customer%' AS email_kept FROM rt.customers ORDER BY id;
SELECT note FROM rt.no_pk;
SELECT id, customer_id, subject FROM rt.tickets ORDER BY id;
SELECT id, body FROM rt.messages ORDER BY id;
SELECT customer_id, count(*) AS events, min(at) = current_date AS only_today FROM rt.events GROUP BY 1 ORDER BY 1;
-- One log entry per erased customer, marked as retention's; one per batch of expired rows of other tables,
-- their keys as subject id.
SELECT kind, regexp_replace(subject_id, 'before .*', 'before …') AS subject_id, origin, rows_total, tables
  FROM gdpr.erasure_log WHERE origin = 'retention' ORDER BY id;

-- A second run finds nothing new: anonymized rows are remembered, not anonymized again.
SET client_min_messages = warning;
\o /dev/null
CALL gdpr.enforce_retention();
\o
RESET client_min_messages;
SELECT t->>'table' AS "table", t->'due' AS due, t->'done' AS done, t->'held' AS held,
       t->'processed_before' AS processed_before
  FROM gdpr.retention_run r, jsonb_array_elements(r.summary->'tables') t
 WHERE r.id = (SELECT max(id) FROM gdpr.retention_run) ORDER BY 1;
SELECT table_name, rows_due, held FROM gdpr.retention_due() ORDER BY 1;

-- max_duration: a run past its time stops before the next batch; the next run continues.
INSERT INTO rt.events SELECT 400 + i, 5, '/old', current_date - 365 FROM generate_series(1, 3) i;
SET client_min_messages = warning;
\o /dev/null
CALL gdpr.enforce_retention(batch_size => 1, max_duration => interval '0');
\o
RESET client_min_messages;
SELECT r.summary->'stopped' AS stopped, r.summary->'batches' AS batches FROM gdpr.retention_run r
 ORDER BY id DESC LIMIT 1;
SELECT count(*) AS old_events_left FROM rt.events WHERE id > 400;

-- A batch that fails rolls back alone: its table is marked failed in the run, the run goes on with the other
-- tables and the CALL ends with an error naming it. The batches before it stay committed.
CREATE FUNCTION rt.refuse_402() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.id = 402 THEN RAISE EXCEPTION 'event 402 is busy'; END IF;
    IF OLD.id = 403 THEN PERFORM pg_sleep(10); END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER refuse_402 BEFORE DELETE ON rt.events FOR EACH ROW EXECUTE FUNCTION rt.refuse_402();
SET client_min_messages = warning;
CALL gdpr.enforce_retention(batch_size => 1);
RESET client_min_messages;
SELECT r.finished_at IS NOT NULL AS finished, r.summary->'stopped' AS stopped, t->>'table' AS "table",
       t->'done' AS done, t->'error'->>'sqlstate' AS error
  FROM gdpr.retention_run r, jsonb_array_elements(r.summary->'tables') t
 WHERE r.id = (SELECT max(id) FROM gdpr.retention_run) ORDER BY 3;
SELECT array_agg(id ORDER BY id) AS old_events_left FROM rt.events WHERE id > 400;
-- Interrupting a run (a cancel, here a statement timeout, as a crash would) loses nothing either: the committed
-- batches are complete and logged, the run's record says how far it got, and the next run continues.
UPDATE rt.events SET id = 399 WHERE id = 402;
SET statement_timeout = '3s';
SET client_min_messages = warning;
CALL gdpr.enforce_retention(batch_size => 1);
RESET client_min_messages;
RESET statement_timeout;
SELECT r.finished_at IS NULL AS interrupted, t->'done' AS events_done
  FROM gdpr.retention_run r, jsonb_array_elements(r.summary->'tables') t
 WHERE r.id = (SELECT max(id) FROM gdpr.retention_run) AND t->>'table' = 'rt.events';
SELECT array_agg(id ORDER BY id) AS old_events_left FROM rt.events WHERE id > 398;
DROP TRIGGER refuse_402 ON rt.events;
SET client_min_messages = warning;
\o /dev/null
CALL gdpr.enforce_retention(batch_size => 1);
\o
RESET client_min_messages;
SELECT count(*) AS old_events_left FROM rt.events WHERE id > 398;
-- A CALL inside a transaction block is refused before it does anything (it must commit after every batch).
BEGIN;
CALL gdpr.enforce_retention();
ROLLBACK;

-- A role granted retention still erases only with its own privileges on each table.
SELECT gdpr.grant_retention('regress_app');
GRANT USAGE ON SCHEMA rt TO regress_app;
GRANT SELECT ON ALL TABLES IN SCHEMA rt TO regress_app;
INSERT INTO rt.events VALUES (500, 5, '/old', current_date - 365);
SET ROLE regress_app;
CALL gdpr.enforce_retention();
-- A run is continued only by the role that started it, from its own record (never from the state passed in).
SELECT regress.try(format($$SELECT gdpr._retention_step(10, '{"run_id": %s, "tables": []}', NULL)$$,
                          (SELECT min(id) FROM gdpr.retention_run)));
SELECT regress.try($$SELECT gdpr._retention_step(10, '{"run_id": 999999}', NULL)$$);
SELECT regress.try($$SELECT gdpr._retention_step(0, NULL, NULL)$$);
RESET ROLE;
SELECT count(*) AS event_500_kept FROM rt.events WHERE id = 500;

-- Releasing the hold: logged on the hold; retention takes the customer at its next run.
SET ROLE regress_dpo;
SELECT r - 'released_at' FROM gdpr.release_legal_hold(:hold) r;
SELECT regexp_replace(regress.try(format($$SELECT gdpr.release_legal_hold(%s)$$, :hold)), 'at \S+ \S+$', 'at …');
SELECT regress.try($$SELECT gdpr.release_legal_hold(999999)$$);
SELECT kind, subject_id, reason, placed_by, released_by, active FROM gdpr.legal_holds;
RESET ROLE;
SELECT table_name, rows_due, held FROM gdpr.retention_due() ORDER BY 1;
SET client_min_messages = warning;
\o /dev/null
CALL gdpr.enforce_retention();
\o
RESET client_min_messages;
SELECT id, email LIKE 'customer%' AS email_kept FROM rt.customers ORDER BY id;
SELECT count(*) AS expired_events_left FROM rt.events WHERE at < current_date - 90;

-- Erasing many subjects at once: one pass, one log entry (and erasure id) per subject, a shared batch id.
SET ROLE regress_owner;
INSERT INTO rt.customers SELECT i, 'customer' || i || '@mail.example', now() FROM generate_series(10, 14) i;
INSERT INTO rt.tickets SELECT i, i, 'Order problem of customer ' || i FROM generate_series(10, 14) i;
INSERT INTO rt.messages SELECT 100 + i, i, 'Hello from ' || i, now() FROM generate_series(10, 14) i;
INSERT INTO rt.events SELECT 1000 + i, i, '/x', current_date FROM generate_series(10, 14) i;
RESET ROLE;
SET ROLE regress_intruder;
SELECT regress.try($$SELECT gdpr.anonymize_subjects('rt_customer', '{10,11}')$$);
SET ROLE regress_dpo;
SELECT regress.try($$SELECT gdpr.anonymize_subjects('rt_customer', '{10,NULL}')$$);
SELECT regress.try($$SELECT gdpr.anonymize_subjects('rt_customer', NULL)$$);
SELECT regress.try($$SELECT gdpr.anonymize_subjects('rt_customer', '{10,x}')$$);
SELECT r->'subjects' AS subjects, r->'total_rows' AS total_rows, r->'tables' AS tables, r->'not_found' AS not_found
  FROM gdpr.anonymize_subjects('rt_customer', '{10,11,12}', dry_run => true) r;
SELECT r->'subjects' AS subjects, r->'total_rows' AS total_rows, r->'already_erased' AS already_erased,
       r->'not_found' AS not_found,
       (SELECT jsonb_agg(e - 'erasure_id' ORDER BY e->>'subject_id') FROM jsonb_array_elements(r->'erased') e) AS erased
  FROM gdpr.anonymize_subjects('rt_customer', '{10,11,012,11,77}') r;
RESET ROLE;
SELECT subject_id, rows_total, tables, origin, batch_id IS NOT NULL AS in_batch
  FROM gdpr.erasure_log WHERE kind = 'rt_customer' AND subject_id IN ('10', '11', '12') AND NOT dry_run
 ORDER BY subject_id;
SELECT count(DISTINCT batch_id) AS batches, count(DISTINCT erasure_id) AS erasure_ids
  FROM gdpr.erasure_log WHERE kind = 'rt_customer' AND subject_id IN ('10', '11', '12') AND NOT dry_run;
-- Each subject's guard markers carry its own erasure id.
SELECT e.subject_id, count(*) AS markers FROM gdpr.erased_row m JOIN gdpr.erasure_log e USING (erasure_id)
 WHERE e.subject_id IN ('10', '11', '12') GROUP BY 1 ORDER BY 1;
SELECT id, email LIKE 'customer%' AS email_kept FROM rt.customers WHERE id >= 10 ORDER BY id;
SELECT count(*) AS events_left FROM rt.events WHERE customer_id IN (10, 11, 12);

-- A consent withdrawal whose rows belong to a held subject records the withdrawal and leaves those rows.
SELECT gdpr.publish_consent_text('rt_callback', 'v1', 'Call me back.', 'https://shop.example/privacy') AS cb_v1 \gset
SET ROLE regress_owner;
CREATE TABLE rt.callbacks (id int PRIMARY KEY, customer_id int REFERENCES rt.customers, phone text,
                           consent_id bigint);
SELECT gdpr.declare_pii('rt.callbacks', 'phone', 'null');
RESET ROLE;
SELECT gdpr.grant_consent_administration('regress_owner');
SET ROLE regress_owner;
SELECT gdpr.require_consent('rt.callbacks', 'consent_id', 'rt_callback', on_withdraw => 'anonymize');
RESET ROLE;
SELECT gdpr.grant_consent(:cb_v1, 'api') AS cb \gset
INSERT INTO rt.callbacks VALUES (1, 13, '+420 601 000 013', :cb), (2, 14, '+420 601 000 014', :cb);
SET ROLE regress_dpo;
SELECT gdpr.place_legal_hold('rt_customer', '13', 'investigation') AS hold13 \gset
RESET ROLE;
SELECT r->'tables' AS tables FROM gdpr.withdraw_consent(:cb) r;
SELECT id, phone FROM rt.callbacks ORDER BY id;
SELECT withdrawn_at IS NOT NULL AS withdrawn FROM gdpr.consent WHERE id = :cb;

-- A hold protects every row tied to the held subject: erasing another kind of subject that reaches them (the
-- held customer's ticket, erased as a ticket) fails with 55000 naming the hold; its dry run reports the hold.
SELECT gdpr.declare_subject('rt_ticket', 'rt.tickets');
SELECT regexp_replace(regress.try($$SELECT gdpr.anonymize_subject('rt_ticket', '13')$$), 'at \S+ \S+:', 'at …:');
SELECT r->'total_rows' AS rows, r->'legal_holds'->0->>'kind' AS held_kind, r->'legal_holds'->0->>'subject_id' AS held
  FROM gdpr.anonymize_subject('rt_ticket', '13', dry_run => true) r;
SELECT (gdpr.anonymize_subject('rt_ticket', '14'))->'total_rows' AS unheld_ticket_rows;
SELECT id, subject FROM rt.tickets WHERE id IN (13, 14) ORDER BY id;

-- Declarations follow the schema: dropping the time column drops the period.
ALTER TABLE rt.events DROP COLUMN at;
SELECT tbl FROM gdpr.retention ORDER BY tbl::text;

-- Batches walk a composite key through rows with the same time, none skipped or taken twice.
SET ROLE regress_owner;
CREATE TABLE rt.pings (a int, b text, at timestamptz NOT NULL, PRIMARY KEY (a, b));
INSERT INTO rt.pings VALUES (1, 'y', '2020-01-01'), (1, 'x', '2020-01-01'), (2, 'a', '2020-01-01'),
                            (2, 'x', '2020-01-01'), (0, 'z', '2021-01-01'), (3, 'z', now());
SELECT gdpr.declare_retention('rt.pings', 'at', interval '1 day');
RESET ROLE;
SET client_min_messages = warning;
\o /dev/null
CALL gdpr.enforce_retention(batch_size => 1);
\o
RESET client_min_messages;
SELECT t->'due' AS due, t->'done' AS done FROM gdpr.retention_run r, jsonb_array_elements(r.summary->'tables') t
 WHERE r.id = (SELECT max(id) FROM gdpr.retention_run) AND t->>'table' = 'rt.pings';
SELECT a, b FROM rt.pings;
SELECT subject_id FROM gdpr.erasure_log WHERE kind = 'rt.pings' ORDER BY id;

-- A hold protects the subject's rows from retention of a table above it: an expired organisation whose erasure
-- would reach a held customer is left (counted as held), the other erased.
SET ROLE regress_owner;
CREATE TABLE rt.orgs (id int PRIMARY KEY, name text, created_at timestamptz NOT NULL);
INSERT INTO rt.orgs VALUES (1, 'Held Org', now() - interval '5 years'), (2, 'Old Org', now() - interval '5 years');
ALTER TABLE rt.customers ADD COLUMN org_id int REFERENCES rt.orgs;
CREATE INDEX ON rt.customers (org_id);
UPDATE rt.customers SET org_id = 1 WHERE id = 13;
UPDATE rt.customers SET org_id = 2 WHERE id = 14;
SELECT gdpr.declare_pii('rt.orgs', 'name', 'constant', '{"value": "[removed]"}');
SELECT gdpr.declare_retention('rt.orgs', 'created_at', interval '1 year', 'anonymize');
RESET ROLE;
SET client_min_messages = warning;
\o /dev/null
CALL gdpr.enforce_retention();
\o
RESET client_min_messages;
SELECT t->'done' AS done, t->'held' AS held FROM gdpr.retention_run r, jsonb_array_elements(r.summary->'tables') t
 WHERE r.id = (SELECT max(id) FROM gdpr.retention_run) AND t->>'table' = 'rt.orgs';
SELECT id, name FROM rt.orgs ORDER BY id;
SELECT id, email LIKE 'customer%' AS email_kept FROM rt.customers WHERE id IN (13, 14) ORDER BY id;

-- Holds and the erasure log: an erased subject cannot be held (nothing is left to hold).
SET ROLE regress_dpo;
SELECT regress.try($$SELECT gdpr.place_legal_hold('rt_customer', '10', 'too late')$$);
RESET ROLE;
-- A kind with active holds can be neither dropped nor re-pointed (the holds would hold nothing).
SELECT regress.try($$SELECT gdpr.undeclare_subject('rt_customer')$$);
SELECT regress.try($$SELECT gdpr.declare_subject('rt_customer', 'rt.orgs')$$);
-- Another owner's held kind whose table is dropped does not stop anyone's erasures or retention.
CREATE SCHEMA legal AUTHORIZATION regress_dpo;
SET ROLE regress_dpo;
CREATE TABLE legal.cases (id int PRIMARY KEY);
INSERT INTO legal.cases VALUES (1);
SELECT gdpr.declare_subject('rt_case', 'legal.cases');
SELECT gdpr.place_legal_hold('rt_case', '1', 'internal investigation') > 0 AS held;
DROP TABLE legal.cases;
RESET ROLE;
SELECT (gdpr.anonymize_subject('rt_customer', '5', dry_run => true))->'total_rows' AS still_erasable;
SELECT count(*) AS due_tables FROM gdpr.retention_due();

-- After the hold is released, withdrawing the consent again erases what the withdrawal left.
SET ROLE regress_dpo;
SELECT gdpr.release_legal_hold(:hold13) IS NOT NULL AS released;
RESET ROLE;
SELECT r->'already_withdrawn' AS again, r->'tables' AS tables FROM gdpr.withdraw_consent(:cb) r;
SELECT id, phone FROM rt.callbacks ORDER BY id;
SELECT r->'tables' AS nothing_left FROM gdpr.withdraw_consent(:cb) r;

-- Declarations are for application tables: a temporary one would outlive its session in them.
CREATE TEMP TABLE scratch (id int PRIMARY KEY, at timestamptz);
SELECT regexp_replace(regress.try($$SELECT gdpr.declare_retention('pg_temp.scratch', 'at', interval '1 day')$$),
                      'pg_temp_[0-9]+', 'pg_temp_N');

-- In one pass over many subjects, every row is counted for the subject whose reach found it — also where a
-- type's equality is not textual (numeric 2.00 = 2).
SET ROLE regress_owner;
CREATE TABLE rt.members (id numeric PRIMARY KEY, email text);
CREATE TABLE rt.posts (id int PRIMARY KEY, member_id numeric NOT NULL REFERENCES rt.members, body text);
CREATE INDEX ON rt.posts (member_id);
INSERT INTO rt.members VALUES (1, 'one@mail.example'), (2, 'two@mail.example');
INSERT INTO rt.posts VALUES (10, 1.0, 'post of 1'), (20, 2.00, 'post of 2'), (21, 2, 'another of 2');
SELECT gdpr.declare_pii('rt.members', 'email', 'fake_email');
SELECT gdpr.declare_pii('rt.posts', 'body', 'constant', '{"value": "[removed]"}');
RESET ROLE;
SELECT gdpr.declare_subject('rt_member', 'rt.members');
SELECT r->'total_rows' AS total_rows FROM gdpr.anonymize_subjects('rt_member', '{1,2}') r;
SELECT subject_id, rows_total, tables FROM gdpr.erasure_log WHERE kind = 'rt_member' ORDER BY subject_id;

-- gdpr.lint() names an active hold whose kind is gone (the legal schema's table above was dropped).
SELECT kind, severity, object, message FROM gdpr.lint() WHERE kind = 'legal_hold';
