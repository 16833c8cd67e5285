-- Proofs beyond the transaction: the audit chain over the erasure log and the consents, receipts, the erasure
-- ledger and its replay, the residue VACUUM has to clear. (Crashes, dead tuples on disk, standbys and restores
-- into another database are cluster-level scripts next to tests/dump_restore.sh.)
SET client_min_messages = warning;

-- Every erasure, dry run, retention batch, consent grant and withdrawal the suite made so far is a link.
SELECT count(*) AS problems FROM gdpr.verify_audit_chain();
SELECT (SELECT count(*) FROM gdpr.erasure_log)
           = coalesce((SELECT entries FROM gdpr.audit_chain WHERE log = 'erasure_log'), 0) AS every_log_entry_linked,
       (SELECT count(*) + count(withdrawn_at) FROM gdpr.consent)
           = coalesce((SELECT entries FROM gdpr.audit_chain WHERE log = 'consent'), 0) AS every_grant_and_withdrawal_linked;

CREATE SCHEMA pf AUTHORIZATION regress_owner;
SET ROLE regress_owner;
CREATE TABLE pf.people (id int PRIMARY KEY, email text UNIQUE, bio text);
CREATE TABLE pf.notes (id int PRIMARY KEY, person_id int NOT NULL REFERENCES pf.people, body text);
CREATE INDEX ON pf.notes (person_id);
CREATE TABLE pf.pairs (a int, b int, email text, PRIMARY KEY (a, b));
INSERT INTO pf.people SELECT i, 'person' || i || '@mail.example', 'Bio of person ' || i FROM generate_series(1, 8) i;
INSERT INTO pf.notes SELECT 10 * p + n, p, 'Note ' || n || ' of person' || p || '@mail.example'
  FROM generate_series(1, 8) p, generate_series(1, 2) n;
INSERT INTO pf.pairs VALUES (1, 1, 'pair11@mail.example'), (1, 2, 'pair12@mail.example');
-- No key: retention deletes its expired rows by ctid, and logs how many.
CREATE TABLE pf.visits (url text, at timestamptz);
CREATE INDEX ON pf.visits (at);
GRANT USAGE ON SCHEMA pf TO regress_dpo;
GRANT SELECT, UPDATE, DELETE ON pf.people, pf.notes TO regress_dpo;
RESET ROLE;
SELECT gdpr.declare_subject('pf_person', 'pf.people');
SELECT gdpr.declare_subject('pf_pair', 'pf.pairs');
SET ROLE regress_owner;
SELECT gdpr.declare_pii('pf.people', 'email', 'fake_email');
SELECT gdpr.declare_pii('pf.people', 'bio', 'null');
SELECT gdpr.declare_pii('pf.notes', 'body', 'constant', '{"value": "[removed]"}');
SELECT gdpr.declare_pii('pf.pairs', 'email', 'fake_email');
SELECT gdpr.declare_retention('pf.visits', 'at', interval '1 year');
RESET ROLE;
SELECT gdpr.grant_erasure('regress_dpo');
-- Consents are links too: a grant, and a withdrawal.
SELECT gdpr.publish_consent_text('pf_newsletter', 'v1', 'You may send me the newsletter.', 'https://example.com/privacy')
       AS text_id \gset
SELECT gdpr.grant_consent(:text_id, 'api', subject_kind => 'pf_person', subject_id => '1') AS consent_id \gset
SELECT gdpr.grant_consent(:text_id, 'api', subject_kind => 'pf_person', subject_id => '2') AS consent_id2 \gset
SELECT gdpr.withdraw_consent(:consent_id2)->>'purpose' AS withdrawn;
SELECT grant_seq IS NOT NULL AND grant_hash IS NOT NULL AS grant_linked,
       withdrawal_seq > grant_seq AS withdrawal_linked_after
  FROM gdpr.consent WHERE id = :consent_id2;

-- A receipt: what was erased, when, and the entry's link — no personal data.
SET ROLE regress_dpo;
CREATE TEMP TABLE erased AS SELECT (gdpr.anonymize_subject('pf_person', '1')->>'erasure_id')::uuid AS id;
SELECT r - 'erasure_id' - 'erased_at' - 'chain' AS receipt,
       r->'chain'->>'verified' AS verified,
       (r->'chain'->>'entry')::bigint = (SELECT max(chain_seq) FROM gdpr.erasure_log) AS last_link,
       length(r->'chain'->>'hash') AS hash_hex_digits,
       r::text LIKE '%person1@%' AS holds_the_email
  FROM (SELECT gdpr.erasure_receipt(id) AS r FROM erased) x;
SELECT regress.try($$SELECT gdpr.erasure_receipt('00000000-0000-0000-0000-000000000000')$$);
SELECT regress.try($$SELECT gdpr.erasure_receipt(NULL)$$);
RESET ROLE;
-- The person's request made more links: a dry run, a consent grant.
SELECT gdpr.anonymize_subject('pf_person', '2', dry_run => true)->>'total_rows' AS dry_run_rows;
CREATE TEMP TABLE kept_head AS SELECT gdpr.audit_head() AS head;
SELECT (head->'erasure_log'->>'entries')::bigint = (SELECT max(chain_seq) FROM gdpr.erasure_log) AS head_is_last_entry,
       length(head->'erasure_log'->>'head') AS hash_hex_digits
  FROM kept_head;
SELECT count(*) AS problems FROM gdpr.verify_audit_chain((SELECT head FROM kept_head));

-- A superuser who disables the append-only trigger and rewrites an entry breaks its link.
BEGIN;
ALTER TABLE gdpr.erasure_log DISABLE TRIGGER erasure_log_append_only;
UPDATE gdpr.erasure_log SET rows_total = 0 WHERE erasure_id = (SELECT id FROM erased);
SELECT entry = (SELECT chain_seq FROM gdpr.erasure_log WHERE erasure_id = (SELECT id FROM erased)) AS names_the_entry,
       regexp_replace(problem, '[0-9a-f-]{36}|\d+', 'N', 'g') AS problem
  FROM gdpr.verify_audit_chain();
ROLLBACK;
-- … deletes one in the middle: the gap is named.
BEGIN;
ALTER TABLE gdpr.erasure_log DISABLE TRIGGER erasure_log_append_only;
CREATE TEMP TABLE gone AS SELECT chain_seq AS seq FROM gdpr.erasure_log WHERE erasure_id = (SELECT id FROM erased);
DELETE FROM gdpr.erasure_log WHERE chain_seq = (SELECT seq FROM gone);
SELECT entry = (SELECT seq + 1 FROM gone) AS names_the_next_entry,
       regexp_replace(problem, '[0-9a-f-]{36}|\d+', 'N', 'g') AS problem
  FROM gdpr.verify_audit_chain();
ROLLBACK;
-- … swaps two entries' places.
BEGIN;
ALTER TABLE gdpr.erasure_log DISABLE TRIGGER erasure_log_append_only;
CREATE TEMP TABLE swap AS SELECT max(chain_seq) AS last FROM gdpr.erasure_log;
UPDATE gdpr.erasure_log SET chain_seq = -chain_seq WHERE chain_seq >= (SELECT last - 1 FROM swap);
UPDATE gdpr.erasure_log SET chain_seq = CASE WHEN -chain_seq = (SELECT last FROM swap) THEN -chain_seq - 1 ELSE -chain_seq + 1 END
 WHERE chain_seq < 0;
SELECT entry - (SELECT last FROM swap) AS entry_from_last, regexp_replace(problem, '[0-9a-f-]{36}|\d+', 'N', 'g') AS problem
  FROM gdpr.verify_audit_chain() ORDER BY entry;
ROLLBACK;
-- … cuts the tail: caught against the head row; and when the head row is rewritten too, against the head kept
-- outside the database.
BEGIN;
ALTER TABLE gdpr.erasure_log DISABLE TRIGGER erasure_log_append_only;
DELETE FROM gdpr.erasure_log WHERE chain_seq = (SELECT max(chain_seq) FROM gdpr.erasure_log);
SELECT regexp_replace(problem, '\d+', 'N', 'g') AS problem FROM gdpr.verify_audit_chain();
UPDATE gdpr.audit_chain SET entries = s.last, head = s.hash
  FROM (SELECT chain_seq AS last, chain_hash AS hash FROM gdpr.erasure_log ORDER BY chain_seq DESC LIMIT 1) s
 WHERE log = 'erasure_log';
SELECT count(*) AS problems_without_the_kept_head FROM gdpr.verify_audit_chain();
SELECT log, regexp_replace(problem, '\d+', 'N', 'g') AS problem FROM gdpr.verify_audit_chain((SELECT head FROM kept_head));
ROLLBACK;
-- … rewrites an entry and recomputes every hash after it and the head: only the kept head catches it.
BEGIN;
ALTER TABLE gdpr.erasure_log DISABLE TRIGGER erasure_log_append_only;
UPDATE gdpr.erasure_log SET subject_id = '999' WHERE erasure_id = (SELECT id FROM erased);
DO $$
DECLARE
    r gdpr.erasure_log;
    previous bytea;
BEGIN
    SELECT p.chain_hash INTO previous FROM gdpr.erasure_log p, gdpr.erasure_log e
     WHERE e.erasure_id = (SELECT id FROM erased) AND p.chain_seq = e.chain_seq - 1;
    FOR r IN SELECT * FROM gdpr.erasure_log
              WHERE chain_seq >= (SELECT chain_seq FROM gdpr.erasure_log WHERE erasure_id = (SELECT id FROM erased))
              ORDER BY chain_seq LOOP
        previous := gdpr._audit_link_hash(previous, r.chain_seq, gdpr._erasure_log_fields(r));
        UPDATE gdpr.erasure_log SET chain_hash = previous WHERE id = r.id;
    END LOOP;
    UPDATE gdpr.audit_chain SET head = previous WHERE log = 'erasure_log';
END $$;
SELECT count(*) AS problems_without_the_kept_head FROM gdpr.verify_audit_chain();
SELECT log, regexp_replace(problem, '\d+', 'N', 'g') AS problem FROM gdpr.verify_audit_chain((SELECT head FROM kept_head));
ROLLBACK;
-- … slips in an entry with the chain trigger disabled.
BEGIN;
ALTER TABLE gdpr.erasure_log DISABLE TRIGGER z_audit_chain;
INSERT INTO gdpr.erasure_log (erasure_id, kind, subject_id, dry_run, rows_total, tables, erased_by, session_user_name,
                              duration_ms)
VALUES ('11111111-1111-1111-1111-111111111111', 'pf_person', '5', false, 3, '{}', 'postgres', 'postgres', 1);
SELECT entry, regexp_replace(problem, 'id \d+', 'id N') AS problem FROM gdpr.verify_audit_chain();
ROLLBACK;
-- Links are made at commit: an entry has none inside its own transaction, and one that rolls back makes none.
BEGIN;
SELECT gdpr.anonymize_subject('pf_person', '8', dry_run => true)->>'total_rows' AS dry_run_rows;
SELECT chain_seq IS NULL AS not_linked_yet FROM gdpr.erasure_log ORDER BY id DESC LIMIT 1;
ROLLBACK;
SELECT count(*) AS problems FROM gdpr.verify_audit_chain();
-- `SET session_replication_role = replica` skips ordinary triggers, not the chain's.
SET session_replication_role = replica;
SELECT gdpr.anonymize_subject('pf_person', '8', dry_run => true)->>'total_rows' AS dry_run_rows;
RESET session_replication_role;
SELECT chain_seq IS NOT NULL AS linked FROM gdpr.erasure_log ORDER BY id DESC LIMIT 1;
-- A caller's settings do not change a link: standard_conforming_strings off, another time zone, fewer digits.
SET standard_conforming_strings = off;
SET TimeZone = 'Asia/Kathmandu';
SET extra_float_digits = -15;
SELECT gdpr.anonymize_subject('pf_person', '8', dry_run => true)->>'total_rows' AS dry_run_rows;
SELECT count(*) AS problems FROM gdpr.verify_audit_chain();
RESET standard_conforming_strings;
RESET TimeZone;
RESET extra_float_digits;
SELECT count(*) AS problems FROM gdpr.verify_audit_chain();
-- Consents: an edited grant, and a consent text rewritten under a grant, break the grant's link.
BEGIN;
ALTER TABLE gdpr.consent DISABLE TRIGGER consent_is_append_only;
UPDATE gdpr.consent SET granted_at = granted_at - interval '1 year' WHERE id = :consent_id;
SELECT log, entry = (SELECT grant_seq FROM gdpr.consent WHERE id = :consent_id) AS names_the_grant,
       regexp_replace(problem, '\d+', 'N', 'g') AS problem
  FROM gdpr.verify_audit_chain();
ROLLBACK;
BEGIN;
ALTER TABLE gdpr.consent_text DISABLE TRIGGER consent_text_is_immutable;
UPDATE gdpr.consent_text SET body = 'We may sell your data.' WHERE id = :text_id;
SELECT count(*) AS grants_of_the_text_broken,
       bool_and(problem LIKE '%(or the consent text it refers to)%') AS says_why
  FROM gdpr.verify_audit_chain();
ROLLBACK;
-- Links cannot be changed through the consent table either (the withdrawal is the only update it takes).
SELECT regexp_replace(regress.try(format($$UPDATE gdpr.consent SET grant_hash = NULL WHERE id = %s$$, :consent_id)), '\d+', 'N', 'g');
SELECT regexp_replace(regress.try(format($$UPDATE gdpr.consent SET withdrawal_hash = '\x00' WHERE id = %s$$, :consent_id2)),
                      '\d+', 'N', 'g');
SELECT regress.try($$SELECT gdpr.verify_audit_chain('[1]')$$);
SELECT regress.try($$SELECT gdpr.verify_audit_chain('{"erasure_log": {"entries": "x"}}')$$);
SELECT regress.try($$SELECT gdpr.verify_audit_chain('{"erasure_log": "abc"}')$$);
SELECT regress.try($$SELECT gdpr.verify_audit_chain('{"erasure_log": {"entries": 1.5, "head": "00"}}')$$);
SELECT regress.try($$SELECT gdpr.verify_audit_chain('{"erasurelog": {"entries": 1}}')$$);
SELECT count(*) AS problems FROM gdpr.verify_audit_chain();

-- Unprivileged roles: the chain, its head and the proofs are not theirs to write, and not the intruder's to read.
SET ROLE regress_dpo;
SELECT count(*) AS dpo_verifies FROM gdpr.verify_audit_chain();
SELECT regress.try($$UPDATE gdpr.audit_chain SET entries = 1$$);
SELECT regress.try($$SELECT gdpr._audit_chain_lock('erasure_log')$$);
SELECT regress.try($$INSERT INTO gdpr.erasure_log (erasure_id, kind, subject_id, dry_run, rows_total, tables, erased_by, session_user_name, duration_ms, chain_seq, chain_hash) VALUES (gen_random_uuid(), 'x', 'x', false, 0, '{}', 'x', 'x', 0, 1, '\x00')$$);
SELECT regress.try($$UPDATE gdpr.consent SET grant_hash = NULL$$);
RESET ROLE;
SET ROLE regress_intruder;
SELECT regress.try($$SELECT gdpr.verify_audit_chain()$$);
SELECT regress.try($$SELECT gdpr.audit_head()$$);
SELECT regress.try($$SELECT gdpr.erasure_receipt('00000000-0000-0000-0000-000000000000')$$);
SELECT regress.try($$SELECT gdpr.erasure_ledger()$$);
SELECT regress.try($$SELECT gdpr.replay_erasures('{"erasures": []}')$$);
SELECT regress.try($$SELECT count(*) FROM gdpr.erasure_residue$$);
SELECT regress.try($$SELECT count(*) FROM gdpr.audit_chain$$);
RESET ROLE;

-- The ledger: every erasure (no dry runs), keys only.
SELECT e->>'kind' AS kind, e->>'subject_id' AS subject_id, e->>'origin' AS origin, e->'retention' AS retention,
       e->'traces' AS traces, e->>'erasure_id' = (SELECT id::text FROM erased) AS same_id
  FROM jsonb_array_elements(gdpr.erasure_ledger(now() - interval '1 hour')->'erasures') e
 WHERE e->>'kind' LIKE 'pf%';
SELECT gdpr.erasure_ledger()::text LIKE '%@mail.example%' AS ledger_holds_emails,
       jsonb_array_length(gdpr.erasure_ledger()->'erasures') = (SELECT count(*) FROM gdpr.erasure_log WHERE NOT dry_run)
       AS every_erasure,
       jsonb_array_length(gdpr.erasure_ledger(now() + interval '1 day')->'erasures') AS since_tomorrow;

-- Replaying a database's own ledger finds every erasure logged and does nothing.
SELECT r - 'erasures' - 'already_logged' AS report,
       (r->>'already_logged')::int = (r->>'erasures')::int AS all_logged
  FROM (SELECT gdpr.replay_erasures(gdpr.erasure_ledger()) AS r) x;

-- A ledger from another copy of the database (erasures made there): erased here under the original ids.
CREATE TEMP TABLE ledger AS SELECT jsonb_build_object('erasures', jsonb_build_array(
    jsonb_build_object('erasure_id', 'a0000000-0000-4000-8000-000000000003', 'kind', 'pf_person', 'subject_id', '3',
                       'origin', 'request'),
    jsonb_build_object('erasure_id', 'a0000000-0000-4000-8000-000000000004', 'kind', 'pf_person', 'subject_id', '4',
                       'origin', 'retention'),
    jsonb_build_object('erasure_id', 'a0000000-0000-4000-8000-000000000099', 'kind', 'pf_person', 'subject_id', '99',
                       'origin', 'request'),
    jsonb_build_object('erasure_id', 'a0000000-0000-4000-8000-000000000012', 'kind', 'pf_pair', 'subject_id', '["1","2"]',
                       'origin', 'request'),
    jsonb_build_object('erasure_id', 'a0000000-0000-4000-8000-0000000000ff', 'kind', 'pf.visits',
                       'subject_id', '2 rows without key, at before 2020-01-01', 'origin', 'retention'))) AS l;
-- A dry run: what would be erased; nothing changes, and the ids stay free for the real replay.
SELECT jsonb_pretty(gdpr.replay_erasures(l, dry_run => true) - 'rows_total') FROM ledger;
SELECT count(*) AS still_there FROM pf.people WHERE email IN ('person3@mail.example', 'person4@mail.example');
GRANT SELECT ON ledger TO regress_dpo;
SET ROLE regress_dpo;
-- The DPO may erase pf people, not pf pairs: the replay is refused as a whole (entitlement is the caller's).
SELECT regress.try($$SELECT gdpr.replay_erasures((SELECT l FROM ledger))$$);
SELECT count(*) AS still_there FROM pf.people WHERE email IN ('person3@mail.example', 'person4@mail.example');
RESET ROLE;
-- Rows named by key with no subject behind them (retention batches, withdrawals' rows) are the extension owner's
-- to replay, not a DPO's.
SET ROLE regress_dpo;
SELECT regress.try($$SELECT gdpr.replay_erasures('{"erasures": [{"erasure_id": "e0000000-0000-4000-8000-000000000001", "kind": "pf.visits", "subject_id": "2 rows without key, at before 2020-01-01", "origin": "retention"}]}')$$);
RESET ROLE;
-- A legal hold placed here refuses the whole replay (55000): release it, or take the subject out of the ledger.
SELECT gdpr.place_legal_hold('pf_person', '4', 'dispute') AS hold \gset
SELECT regexp_replace(regress.try($$SELECT gdpr.replay_erasures((SELECT l FROM ledger))$$), 'at \S+ \S+:', 'at …:');
SELECT gdpr.release_legal_hold(:hold) IS NOT NULL AS released;
SELECT jsonb_pretty(gdpr.replay_erasures(l)) FROM ledger;
SELECT id, email LIKE 'person%' AS original_email, bio FROM pf.people WHERE id IN (3, 4, 5) ORDER BY id;
SELECT count(*) FILTER (WHERE body = '[removed]') AS notes_removed, count(*) AS notes FROM pf.notes WHERE person_id IN (3, 4);
SELECT a, b, email LIKE 'pair%' AS original_email FROM pf.pairs ORDER BY a, b;
SELECT kind, subject_id, origin, rows_total FROM gdpr.erasure_log
 WHERE erasure_id::text LIKE 'a0000000-%' ORDER BY erasure_id;
SELECT gdpr.erasure_receipt('a0000000-0000-4000-8000-000000000003')->>'origin' AS receipt_origin;
-- Again: every erasure of the ledger is logged now, nothing is erased twice.
SELECT gdpr.replay_erasures(l) - 'not_replayable' FROM ledger;
SELECT count(*) AS problems FROM gdpr.verify_audit_chain();

-- Consent withdrawals: a ledger's withdrawal is made again — by the caller, now, as gdpr.withdraw_consent makes
-- it — on the consent it names while that consent is in force here; another consent under the same id (another
-- grant time) is never touched.
CREATE TEMP TABLE wledger AS
SELECT jsonb_build_object('erasures', '[]'::jsonb, 'withdrawals', jsonb_build_array(
    jsonb_build_object('consent_id', c.id, 'text_id', c.text_id, 'granted_at', c.granted_at,
                       'withdrawn_at', '2020-01-02 03:04:05+00'),
    jsonb_build_object('consent_id', c.id, 'text_id', c.text_id, 'granted_at', c.granted_at - interval '1 day'),
    jsonb_build_object('consent_id', :consent_id2, 'text_id', :text_id,
                       'granted_at', (SELECT granted_at FROM gdpr.consent WHERE id = :consent_id2)))) AS l
  FROM gdpr.consent c WHERE c.id = :consent_id;
GRANT SELECT ON wledger TO regress_dpo;
SET ROLE regress_dpo;
-- Withdrawing needs the consent-recording grant.
SELECT regress.try($$SELECT gdpr.replay_erasures((SELECT l FROM wledger))$$);
RESET ROLE;
SELECT regexp_replace((gdpr.replay_erasures(l, dry_run => true)->'withdrawals')::text, '"consent_id": \d+', '"consent_id": N')
       AS dry_run FROM wledger;
SELECT withdrawn_at IS NULL AS still_in_force FROM gdpr.consent WHERE id = :consent_id;
SELECT regexp_replace((gdpr.replay_erasures(l)->'withdrawals')::text, '"consent_id": \d+', '"consent_id": N') AS replayed
  FROM wledger;
-- The ledger's withdrawal time is not copied: the record says who withdrew it here, and when.
SELECT withdrawn_at > now() - interval '1 hour' AS withdrawn_now, withdrawn_by,
       withdrawal_seq > grant_seq AS linked
  FROM gdpr.consent WHERE id = :consent_id;
SELECT (gdpr.replay_erasures(l)->'withdrawals'->>'already_withdrawn')::int AS already_withdrawn_again FROM wledger;
SELECT count(*) AS problems FROM gdpr.verify_audit_chain();
SELECT regress.try($$SELECT gdpr.replay_erasures('{"erasures": [], "withdrawals": [{"consent_id": 1, "text_id": 1, "granted_at": "yesterday-ish"}]}')$$);
SELECT regress.try($$SELECT gdpr.replay_erasures('{"erasures": [], "withdrawals": [{"consent_id": "1"}]}')$$);
SELECT regress.try($$SELECT gdpr.replay_erasures('{"erasures": [], "withdrawals": {}}')$$);
-- The ledger lists the withdrawals: what names the consent, and when it was withdrawn — not whose it is.
SELECT w->>'consent_id' = :'consent_id' AS consent, w ? 'subject_id' AS names_the_subject, w ? 'granted_at' AS grant_time
  FROM jsonb_array_elements(gdpr.erasure_ledger()->'withdrawals') w
 WHERE (w->>'consent_id')::bigint IN (:consent_id, :consent_id2) ORDER BY (w->>'consent_id')::bigint;

-- The ledger names what to erase, never how: a kind that is a table is replayed only as this database's
-- retention rule or consent requirement erases its rows.
SELECT regress.try($$SELECT gdpr.replay_erasures('{"erasures": [{"erasure_id": "c0000000-0000-4000-8000-000000000001", "kind": "pf.notes", "subject_id": "71", "origin": "request"}]}')$$);
SELECT regress.try($$SELECT gdpr.replay_erasures('{"erasures": [{"erasure_id": "c0000000-0000-4000-8000-000000000002", "kind": "pf.notes", "subject_id": "[\"71\"]", "origin": "retention"}]}')$$);
SELECT regress.try($$SELECT gdpr.replay_erasures('{"erasures": [{"erasure_id": "c0000000-0000-4000-8000-000000000003", "kind": "pf.notes", "subject_id": "71", "origin": "consent"}]}')$$);
SELECT count(*) AS note_71_untouched FROM pf.notes WHERE id = 71 AND body LIKE 'Note%';
-- An erasure id this database logged for a dry run is not an erasure to skip, nor one to reuse.
SELECT regexp_replace(regress.try(format($$SELECT gdpr.replay_erasures('{"erasures": [{"erasure_id": "%s", "kind": "pf_person", "subject_id": "7", "origin": "request"}]}')$$,
                          (SELECT erasure_id FROM gdpr.erasure_log WHERE dry_run ORDER BY id DESC LIMIT 1))), '[0-9a-f-]{36}', 'X');
-- Ids in upper case are the same ids: a second replay finds them logged.
SELECT gdpr.replay_erasures('{"erasures": [{"erasure_id": "D0000000-0000-4000-8000-00000000000A", "kind": "pf_person", "subject_id": "7", "origin": "request"}]}')->'erased' AS first;
SELECT gdpr.replay_erasures('{"erasures": [{"erasure_id": "D0000000-0000-4000-8000-00000000000A", "kind": "pf_person", "subject_id": "7", "origin": "request"}]}')->'already_logged' AS second;

-- Ledgers that are not one: clear errors, nothing erased.
SELECT regress.try($$SELECT gdpr.replay_erasures(NULL)$$);
SELECT regress.try($$SELECT gdpr.replay_erasures('[]')$$);
SELECT regress.try($$SELECT gdpr.replay_erasures('{"erasures": [{"kind": "pf_person"}]}')$$);
SELECT regress.try($$SELECT gdpr.replay_erasures('{"erasures": [{"erasure_id": "x; DROP TABLE pf.people", "kind": "pf_person", "subject_id": "5", "origin": "request"}]}')$$);
SELECT regress.try($$SELECT gdpr.replay_erasures('{"erasures": [
    {"erasure_id": "b0000000-0000-4000-8000-000000000005", "kind": "pf_person", "subject_id": "5", "origin": "request"},
    {"erasure_id": "B0000000-0000-4000-8000-000000000005", "kind": "pf_person", "subject_id": "6", "origin": "request"}]}')$$);
SELECT regress.try($$SELECT gdpr.replay_erasures('{"erasures": [{"erasure_id": "b0000000-0000-4000-8000-000000000006", "kind": "pf.people; DROP TABLE pf.notes", "subject_id": "6", "origin": "request"}]}')$$);
SELECT regress.try($$SELECT gdpr.replay_erasures('{"erasures": [{"erasure_id": "b0000000-0000-4000-8000-000000000007", "kind": "pf_pair", "subject_id": "1", "origin": "request"}]}')$$);
SELECT regress.try($$SELECT gdpr.replay_erasures('{"erasures": [{"erasure_id": "b0000000-0000-4000-8000-000000000008", "kind": "pf_person", "subject_id": "seven", "origin": "request"}]}')$$);
SELECT count(*) AS untouched FROM pf.people WHERE email LIKE 'person%' AND id IN (5, 6);

-- The residue: tables erasures changed since the last VACUUM known to have cleaned their indexes, and what to run.
SELECT tbl, erasures >= 1 AS erased, erasure_ids @> ARRAY[(SELECT id FROM erased)] AS lists_the_erasure, setting, command
  FROM gdpr.erasure_residue WHERE tbl::text LIKE 'pf.%' ORDER BY tbl::text;
-- A VACUUM may skip the indexes (INDEX_CLEANUP AUTO) and no record says which options it ran with: without the
-- setting, even the command's VACUUM leaves the table listed.
VACUUM (INDEX_CLEANUP ON, PROCESS_TOAST ON) pf.people;
SELECT tbl, last_vacuum IS NOT NULL AS vacuumed FROM gdpr.erasure_residue WHERE tbl::text LIKE 'pf.%' ORDER BY tbl::text;
ALTER TABLE pf.people SET (vacuum_index_cleanup = on);
VACUUM (INDEX_CLEANUP ON, PROCESS_TOAST ON) pf.people;
SELECT tbl FROM gdpr.erasure_residue WHERE tbl::text LIKE 'pf.%' ORDER BY tbl::text;
ALTER TABLE pf.notes SET (vacuum_index_cleanup = true);
ALTER TABLE pf.pairs SET (vacuum_index_cleanup = on, toast.vacuum_index_cleanup = on);
-- With the setting, any VACUUM counts (autovacuum too).
VACUUM pf.notes, pf.pairs;
SELECT count(*) AS pf_tables_left FROM gdpr.erasure_residue WHERE tbl::text LIKE 'pf.%';
-- Tables are matched by the name the log gives them, never parsed: quotes, spaces, a dot or mixed case in a name
-- neither break the view nor make it list another table.
SET ROLE regress_owner;
CREATE TABLE pf."Odd Name.x" (id int PRIMARY KEY, email text);
CREATE TABLE pf."odd name.x" (id int PRIMARY KEY, email text);
INSERT INTO pf."Odd Name.x" VALUES (1, 'odd@mail.example');
RESET ROLE;
SELECT gdpr.declare_subject('pf_odd', 'pf."Odd Name.x"');
SET ROLE regress_owner;
SELECT gdpr.declare_pii('pf."Odd Name.x"', 'email', 'fake_email');
RESET ROLE;
SELECT gdpr.anonymize_subject('pf_odd', '1')->>'total_rows' AS rows;
SELECT tbl, command FROM gdpr.erasure_residue WHERE tbl::text LIKE 'pf.%odd%' COLLATE "C" OR tbl::text LIKE 'pf."%' ORDER BY 1;
-- A new erasure lists its tables again.
SELECT gdpr.anonymize_subject('pf_person', '6')->>'total_rows' AS rows;
SELECT tbl, setting FROM gdpr.erasure_residue WHERE tbl::text LIKE 'pf.%' ORDER BY tbl::text;
SET ROLE regress_dpo;
SELECT count(*) > 0 AS dpo_reads_residue FROM gdpr.erasure_residue;
RESET ROLE;
