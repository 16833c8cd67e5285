-- pg_gdpr: proofs beyond the transaction — the audit chain, the erasure ledger, the residue VACUUM has to clear.
--
-- The audit chain. Every entry of gdpr.erasure_log, and every grant and withdrawal of gdpr.consent, is a
-- link of a hash chain: link n's hash is sha256(hash of link n-1 || the canonical text of [n, the entry's
-- fields]) — the first link has no predecessor. gdpr.audit_chain keeps each log's head (its last place and hash);
-- gdpr.verify_audit_chain() recomputes every link. The append-only triggers stop the roles that write the logs;
-- the chain is what catches the extension owner or a superuser who disables them: an edit, a deletion or a
-- reordering breaks a link, and a cut tail is caught against the head, or against gdpr.audit_head() values the
-- DPO keeps outside the database.
--
-- Links are made when the appending transaction commits (deferred constraint triggers): the head row's lock is
-- held from then until the commit ends, so the chain follows commit order and a long transaction that erased or
-- granted a consent holds nobody up. Under REPEATABLE READ or SERIALIZABLE, a transaction whose snapshot predates
-- another append's commit fails at its own commit with 40001 (retry). A transaction that rolls back makes no link.

CREATE TABLE gdpr.audit_chain (
    log      text PRIMARY KEY CHECK (log IN ('erasure_log', 'consent')),
    entries  bigint NOT NULL CHECK (entries >= 0),
    head     bytea CHECK (octet_length(head) = 32),
    CHECK ((entries = 0) = (head IS NULL))
);
-- What has no link yet: this transaction's entries, until its commit (and anything written with the chain's
-- trigger disabled, which gdpr.verify_audit_chain() reports).
CREATE INDEX erasure_log_unlinked ON gdpr.erasure_log (id) WHERE chain_hash IS NULL;
CREATE INDEX consent_unlinked ON gdpr.consent (id)
    WHERE grant_hash IS NULL OR (withdrawn_at IS NOT NULL AND withdrawal_hash IS NULL);
-- Kept by pg_dump with the logs; created at the first append, so a restore brings the original head back.
SELECT pg_catalog.pg_extension_config_dump('gdpr.audit_chain', '');

-- The tables a log names (`schema.name` unquoted, as erasures log them): matched, never parsed — a name two
-- tables match ("a.b"."c", "a"."b.c") gives both; a table renamed or dropped since gives none. Used by the
-- residue view and by gdpr.replay_erasures.
CREATE FUNCTION gdpr._tables_named(name text) RETURNS SETOF oid
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.oid FROM pg_catalog.pg_class r
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) r.relnamespace
     WHERE n.nspname::text OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) r.relname::text
           OPERATOR(pg_catalog.=) _tables_named.name
       AND r.relkind IN ('r', 'p')
$$;

-- A link's hash. The text of a jsonb value is canonical (keys ordered, numbers normalised).
CREATE FUNCTION gdpr._audit_link_hash(previous bytea, seq bigint, fields jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.sha256(coalesce(previous, ''::bytea) OPERATOR(pg_catalog.||)
                             pg_catalog.convert_to(pg_catalog.jsonb_build_array(seq, fields)::text, 'UTF8'))
$$;

-- What each link covers, in a form that does not depend on the session (time zone, float digits).
CREATE FUNCTION gdpr._erasure_log_fields(e gdpr.erasure_log) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET extra_float_digits = 1 AS $$
    SELECT pg_catalog.jsonb_build_array(e.id, e.erasure_id, e.kind, e.subject_id, e.dry_run, e.rows_total, e.tables,
                                        e.erased_by, e.session_user_name, e.erased_at, e.duration_ms, e.origin,
                                        e.batch_id)
$$;

-- A grant covers the consent text the person saw (its digest): rewriting the text breaks the grant's link.
CREATE FUNCTION gdpr._consent_grant_fields(c gdpr.consent) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $$
    SELECT pg_catalog.jsonb_build_array(
        'grant', c.id, c.text_id,
        (SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.jsonb_build_array(
                    t.purpose, t.version, t.language, t.body, t.privacy_policy_url, t.created_at)::text, 'UTF8')),
                'hex')
           FROM gdpr.consent_text t WHERE t.id OPERATOR(pg_catalog.=) c.text_id),
        c.source, c.subject_kind, c.subject_id, c.granted_at, c.granted_by)
$$;

CREATE FUNCTION gdpr._consent_withdrawal_fields(c gdpr.consent) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $$
    SELECT pg_catalog.jsonb_build_array('withdrawal', c.id, c.withdrawn_at, c.withdrawn_by)
$$;

-- The head of `log`'s chain, locked until the transaction ends: links are made one transaction after another.
CREATE FUNCTION gdpr._audit_chain_lock(log text, OUT entries bigint, OUT head bytea)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.=) 'read committed' THEN
        INSERT INTO gdpr.audit_chain AS a (log, entries, head) VALUES (log, 0, NULL)
        ON CONFLICT ON CONSTRAINT audit_chain_pkey DO NOTHING;
        -- waits for another transaction's commit, then reads the head it left
        SELECT a.entries, a.head INTO entries, head FROM gdpr.audit_chain a
         WHERE a.log OPERATOR(pg_catalog.=) _audit_chain_lock.log FOR UPDATE;
        RETURN;
    END IF;
    BEGIN  -- (a subtransaction, only here: to name the failure)
        INSERT INTO gdpr.audit_chain AS a (log, entries, head) VALUES (log, 0, NULL)
        ON CONFLICT ON CONSTRAINT audit_chain_pkey DO NOTHING;
        SELECT a.entries, a.head INTO entries, head FROM gdpr.audit_chain a
         WHERE a.log OPERATOR(pg_catalog.=) _audit_chain_lock.log FOR UPDATE;
    EXCEPTION WHEN serialization_failure THEN
        RAISE EXCEPTION 'gdpr: the % audit chain moved on after this transaction''s snapshot (another transaction appended to it and committed): retry the transaction', log
            USING ERRCODE = '40001';
    END;
END $$;

-- Links every entry of the erasure log this transaction wrote that has none yet, in id order, moving the head
-- once. An entry that arrives with its link (pg_restore, logical replication) keeps it: gdpr.verify_audit_chain()
-- checks every link, whoever wrote it.
CREATE FUNCTION gdpr._link_erasure_log() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e gdpr.erasure_log;
    n bigint;
    h bytea;
BEGIN
    SELECT l.entries, l.head INTO n, h FROM gdpr._audit_chain_lock('erasure_log') l;
    FOR e IN SELECT * FROM gdpr.erasure_log
              WHERE chain_hash IS NULL AND gdpr._written_here(xmin) ORDER BY id LOOP
        n := n OPERATOR(pg_catalog.+) 1;
        h := gdpr._audit_link_hash(h, n, gdpr._erasure_log_fields(e));
        UPDATE gdpr.erasure_log SET chain_seq = n, chain_hash = h WHERE id OPERATOR(pg_catalog.=) e.id;
    END LOOP;
    UPDATE gdpr.audit_chain SET entries = n, head = h WHERE log OPERATOR(pg_catalog.=) 'erasure_log';
END $$;

-- At commit, once per entry written: the first firing links them all, the others find theirs linked.
-- SECURITY DEFINER: the commit may run as a role that appends entries through pg_gdpr but may not write the log
-- or its head; it runs fixed statements only.
CREATE FUNCTION gdpr._erasure_log_link() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM FROM gdpr.erasure_log WHERE id OPERATOR(pg_catalog.=) NEW.id AND chain_hash IS NULL;
    IF FOUND THEN
        PERFORM gdpr._link_erasure_log();
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER z_audit_chain AFTER INSERT ON gdpr.erasure_log
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gdpr._erasure_log_link();
ALTER TABLE gdpr.erasure_log ENABLE ALWAYS TRIGGER z_audit_chain;

-- The same for consents: this transaction's grants (id order), then its withdrawals (id order). The heads are
-- always taken in one order, the erasure log's first: a transaction that granted a consent and then erased (or
-- withdrew one, which erases) links its erasures before its consents, so two such commits cannot deadlock.
CREATE FUNCTION gdpr._consent_link() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c gdpr.consent;
    n bigint;
    h bytea;
BEGIN
    PERFORM FROM gdpr.consent WHERE id OPERATOR(pg_catalog.=) NEW.id
                                AND (grant_hash IS NULL OR (withdrawn_at IS NOT NULL AND withdrawal_hash IS NULL));
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT FROM gdpr.erasure_log WHERE chain_hash IS NULL AND gdpr._written_here(xmin)) THEN
        PERFORM gdpr._link_erasure_log();
    END IF;
    SELECT l.entries, l.head INTO n, h FROM gdpr._audit_chain_lock('consent') l;
    FOR c IN SELECT * FROM gdpr.consent
              WHERE grant_hash IS NULL AND gdpr._written_here(xmin) ORDER BY id LOOP
        n := n OPERATOR(pg_catalog.+) 1;
        h := gdpr._audit_link_hash(h, n, gdpr._consent_grant_fields(c));
        UPDATE gdpr.consent SET grant_seq = n, grant_hash = h WHERE id OPERATOR(pg_catalog.=) c.id;
    END LOOP;
    FOR c IN SELECT * FROM gdpr.consent
              WHERE withdrawn_at IS NOT NULL AND withdrawal_hash IS NULL AND gdpr._written_here(xmin) ORDER BY id LOOP
        n := n OPERATOR(pg_catalog.+) 1;
        h := gdpr._audit_link_hash(h, n, gdpr._consent_withdrawal_fields(c));
        UPDATE gdpr.consent SET withdrawal_seq = n, withdrawal_hash = h WHERE id OPERATOR(pg_catalog.=) c.id;
    END LOOP;
    UPDATE gdpr.audit_chain SET entries = n, head = h WHERE log OPERATOR(pg_catalog.=) 'consent';
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER z_audit_chain AFTER INSERT OR UPDATE OF withdrawn_at ON gdpr.consent
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gdpr._consent_link();
ALTER TABLE gdpr.consent ENABLE ALWAYS TRIGGER z_audit_chain;

-- Every link of both chains, with its predecessor's place and hash.
CREATE VIEW gdpr._audit_links AS
WITH links AS (
    SELECT 'erasure_log'::text AS log, e.chain_seq AS seq, e.chain_hash AS hash, gdpr._erasure_log_fields(e) AS fields,
           pg_catalog.format('erasure_log id %s (erasure %s)', e.id, e.erasure_id) AS what
      FROM gdpr.erasure_log e
    UNION ALL
    SELECT 'consent', c.grant_seq, c.grant_hash, gdpr._consent_grant_fields(c),
           pg_catalog.format('consent %s (grant)', c.id)
      FROM gdpr.consent c
    UNION ALL
    SELECT 'consent', c.withdrawal_seq, c.withdrawal_hash, gdpr._consent_withdrawal_fields(c),
           pg_catalog.format('consent %s (withdrawal)', c.id)
      FROM gdpr.consent c WHERE c.withdrawn_at IS NOT NULL
)
SELECT l.*, pg_catalog.lag(l.seq) OVER w AS previous_seq, pg_catalog.lag(l.hash) OVER w AS previous_hash
  FROM links l
WINDOW w AS (PARTITION BY l.log ORDER BY l.seq NULLS LAST);

-- The chains' heads: keep this value outside the database (with the backups, in the DPO's records); a later
-- gdpr.verify_audit_chain(that value) finds a tail cut after it even if the head row was rewritten too.
CREATE FUNCTION gdpr.audit_head() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.jsonb_build_object(
        'database', pg_catalog.current_database(), 'taken_at', pg_catalog.now(),
        'erasure_log', (SELECT pg_catalog.jsonb_build_object('entries', a.entries, 'head', pg_catalog.encode(a.head, 'hex'))
                          FROM gdpr.audit_chain a
                         WHERE a.log OPERATOR(pg_catalog.=) 'erasure_log' AND a.entries OPERATOR(pg_catalog.>) 0),
        'consent', (SELECT pg_catalog.jsonb_build_object('entries', a.entries, 'head', pg_catalog.encode(a.head, 'hex'))
                      FROM gdpr.audit_chain a
                     WHERE a.log OPERATOR(pg_catalog.=) 'consent' AND a.entries OPERATOR(pg_catalog.>) 0))
$$;

-- Empty when both chains are intact; otherwise one row per broken link, the first one first. SECURITY DEFINER:
-- it must read every log (consents too, which the roles that erase cannot read); it returns places and ids only.
CREATE FUNCTION gdpr.verify_audit_chain(known_head jsonb DEFAULT NULL)
RETURNS TABLE (log text, entry bigint, problem text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    l text;
    kept jsonb;
    kept_entries bigint;
    stored bytea;
BEGIN
    IF known_head IS NOT NULL AND (pg_catalog.jsonb_typeof(known_head) IS DISTINCT FROM 'object'
                                   OR NOT known_head OPERATOR(pg_catalog.?|) ARRAY['erasure_log', 'consent']
                                   OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(known_head) k
                                               WHERE k OPERATOR(pg_catalog.<>) ALL (ARRAY['erasure_log', 'consent', 'database', 'taken_at']))) THEN
        RAISE EXCEPTION 'gdpr: known_head must be a value gdpr.audit_head() returned (an object with "erasure_log" or "consent"), not %', known_head
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    WITH links AS MATERIALIZED (  -- every link recomputed once
        SELECT * FROM gdpr._audit_links
    ), tails AS (
        SELECT k.log, max(k.seq) AS last FROM links k GROUP BY k.log
    ), problems AS (
        SELECT k.log, k.seq AS entry, pg_catalog.format('%s has no link in the chain: written with the chain trigger disabled', k.what) AS problem
          FROM links k WHERE k.seq IS NULL OR k.hash IS NULL
        UNION ALL
        SELECT k.log, k.seq,
               CASE WHEN k.seq OPERATOR(pg_catalog.=) k.previous_seq
                    THEN pg_catalog.format('%s claims place %s, which another entry holds', k.what, k.seq)
                    WHEN k.seq OPERATOR(pg_catalog.>) (coalesce(k.previous_seq, 0) OPERATOR(pg_catalog.+) 1)
                    THEN pg_catalog.format('%s missing (deleted), before %s',
                                           CASE WHEN k.seq OPERATOR(pg_catalog.=) (coalesce(k.previous_seq, 0) OPERATOR(pg_catalog.+) 2)
                                                THEN pg_catalog.format('entry %s is', k.seq OPERATOR(pg_catalog.-) 1)
                                                ELSE pg_catalog.format('entries %s to %s are',
                                                                       coalesce(k.previous_seq, 0) OPERATOR(pg_catalog.+) 1,
                                                                       k.seq OPERATOR(pg_catalog.-) 1)
                                           END, k.what)
                    ELSE pg_catalog.format('%s does not match its hash: it%s, or the hash of the entry before it, was changed',
                                           k.what, CASE WHEN k.what OPERATOR(pg_catalog.~~) '%(grant)' THEN ' (or the consent text it refers to)' ELSE '' END)
               END
          FROM links k
         WHERE k.seq IS NOT NULL AND k.hash IS NOT NULL
           AND (k.seq IS DISTINCT FROM (coalesce(k.previous_seq, 0) OPERATOR(pg_catalog.+) 1)
                OR k.hash IS DISTINCT FROM gdpr._audit_link_hash(k.previous_hash, k.seq, k.fields))
        UNION ALL
        -- The head row: entries cut from the tail, or entries appended past it.
        SELECT coalesce(a.log, t.log),
               CASE WHEN a.log IS NULL THEN 1
                    WHEN coalesce(t.last, 0) OPERATOR(pg_catalog.<>) a.entries
                    THEN LEAST(coalesce(t.last, 0), a.entries) OPERATOR(pg_catalog.+) 1
                    ELSE a.entries
               END,
               CASE WHEN a.log IS NULL
                    THEN 'the chain has entries but no head in gdpr.audit_chain'
                    WHEN coalesce(t.last, 0) OPERATOR(pg_catalog.<) a.entries
                    THEN pg_catalog.format('entries %s to %s are missing at the end: the chain''s head is at %s',
                                           coalesce(t.last, 0) OPERATOR(pg_catalog.+) 1, a.entries, a.entries)
                    WHEN t.last OPERATOR(pg_catalog.>) a.entries
                    THEN pg_catalog.format('entries %s to %s lie past the chain''s head (%s)',
                                           a.entries OPERATOR(pg_catalog.+) 1, t.last, a.entries)
                    ELSE 'the last entry does not match the chain''s head'
               END
          FROM gdpr.audit_chain a FULL JOIN tails t ON t.log OPERATOR(pg_catalog.=) a.log
         WHERE (a.log IS NULL AND t.last IS NOT NULL) OR coalesce(t.last, 0) OPERATOR(pg_catalog.<>) coalesce(a.entries, 0)
            OR a.head IS DISTINCT FROM (SELECT k.hash FROM links k
                                         WHERE k.log OPERATOR(pg_catalog.=) a.log AND k.seq OPERATOR(pg_catalog.=) a.entries
                                         LIMIT 1)
    )
    SELECT p.log, p.entry, p.problem FROM problems p ORDER BY p.log, p.entry NULLS LAST;

    -- A head kept outside the database: its entry must still be in the chain, with the same hash.
    FOR l IN SELECT pg_catalog.unnest(ARRAY['erasure_log', 'consent']) LOOP
        kept := known_head OPERATOR(pg_catalog.->) l;
        CONTINUE WHEN kept IS NULL OR pg_catalog.jsonb_typeof(kept) OPERATOR(pg_catalog.=) 'null';
        IF pg_catalog.jsonb_typeof(kept) IS DISTINCT FROM 'object'
           OR pg_catalog.jsonb_typeof(kept OPERATOR(pg_catalog.->) 'entries') IS DISTINCT FROM 'number'
           OR (kept OPERATOR(pg_catalog.->>) 'head') IS NULL
           OR (kept OPERATOR(pg_catalog.->>) 'head') OPERATOR(pg_catalog.!~) '^[0-9a-f]{64}$' THEN
            RAISE EXCEPTION 'gdpr: known_head: % must be {"entries": <number>, "head": <64 hex digits>}, not %', l, kept
                USING ERRCODE = '22023';
        END IF;
        BEGIN
            kept_entries := (kept OPERATOR(pg_catalog.->>) 'entries')::bigint;
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'gdpr: known_head: %.entries must be a whole number, not %', l, kept OPERATOR(pg_catalog.->) 'entries'
                USING ERRCODE = '22023';
        END;
        -- (by the links' unique places: no need to recompute the chain again)
        stored := CASE l
            WHEN 'erasure_log' THEN (SELECT e.chain_hash FROM gdpr.erasure_log e
                                      WHERE e.chain_seq OPERATOR(pg_catalog.=) kept_entries)
            ELSE coalesce((SELECT c.grant_hash FROM gdpr.consent c WHERE c.grant_seq OPERATOR(pg_catalog.=) kept_entries),
                          (SELECT c.withdrawal_hash FROM gdpr.consent c
                            WHERE c.withdrawal_seq OPERATOR(pg_catalog.=) kept_entries))
        END;
        IF stored IS NULL THEN
            log := l; entry := kept_entries;
            problem := pg_catalog.format('entry %s of the head kept outside the database is missing: the chain was cut', kept_entries);
            RETURN NEXT;
        ELSIF pg_catalog.encode(stored, 'hex') IS DISTINCT FROM kept OPERATOR(pg_catalog.->>) 'head' THEN
            log := l; entry := kept_entries;
            problem := pg_catalog.format('entry %s does not match the head kept outside the database: the chain was rewritten', kept_entries);
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;

-- The answer to give the person: what their erasure did, with its link in the chain — no personal data.
CREATE FUNCTION gdpr.erasure_receipt(erasure_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    receipt jsonb;
BEGIN
    IF erasure_id IS NULL THEN
        RAISE EXCEPTION 'gdpr: erasure_id must not be NULL' USING ERRCODE = '22004';
    END IF;
    SELECT pg_catalog.jsonb_build_object(
               'erasure_id', e.erasure_id, 'kind', e.kind, 'subject_id', e.subject_id, 'origin', e.origin,
               'dry_run', e.dry_run, 'erased_at', e.erased_at, 'rows_total', e.rows_total, 'tables', e.tables,
               'database', pg_catalog.current_database(),
               'chain', pg_catalog.jsonb_build_object(
                   'log', 'erasure_log', 'entry', e.chain_seq, 'hash', pg_catalog.encode(e.chain_hash, 'hex'),
                   'previous_hash', pg_catalog.encode(p.chain_hash, 'hex'),
                   -- the entry's own link holds (gdpr.verify_audit_chain checks the whole chain)
                   'verified', coalesce((e.chain_seq OPERATOR(pg_catalog.=) 1 OR p.chain_seq IS NOT NULL)
                                        AND e.chain_hash OPERATOR(pg_catalog.=)
                                            gdpr._audit_link_hash(p.chain_hash, e.chain_seq, gdpr._erasure_log_fields(e)),
                                        false)))
      INTO receipt
      FROM gdpr.erasure_log e
      LEFT JOIN gdpr.erasure_log p ON p.chain_seq OPERATOR(pg_catalog.=) (e.chain_seq OPERATOR(pg_catalog.-) 1)
     WHERE e.erasure_id OPERATOR(pg_catalog.=) erasure_receipt.erasure_id;
    IF receipt IS NULL THEN
        RAISE EXCEPTION 'gdpr: no erasure % in gdpr.erasure_log', erasure_id USING ERRCODE = 'P0002';
    END IF;
    RETURN receipt;
END $$;

-- Every erasure since `since` (all when NULL), and every consent withdrawal, keys only: keep it next to the
-- backups; after restoring one, gdpr.replay_erasures(ledger) erases again what the backup brought back, and
-- withdraws again the consents it brought back in force. SECURITY DEFINER: it reads the consents too, which the
-- roles that erase cannot read; of them it returns what names a consent (id, text, grant time) and the time of
-- its withdrawal — not whose consent it is.
CREATE FUNCTION gdpr.erasure_ledger(since timestamptz DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.jsonb_build_object(
        'ledger_version', 1, 'database', pg_catalog.current_database(), 'taken_at', pg_catalog.now(),
        'since', since, 'audit_head', gdpr.audit_head(),
        'erasures', (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                'erasure_id', e.erasure_id, 'kind', e.kind, 'subject_id', e.subject_id,
                                'erased_at', e.erased_at, 'origin', e.origin,
                                'retention', e.origin OPERATOR(pg_catalog.=) 'retention',
                                'batch_id', e.batch_id, 'entry', e.chain_seq,
                                -- whether the erasure scrubbed traces too (a replay does it again)
                                'traces', EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(e.tables) k
                                                   WHERE k OPERATOR(pg_catalog.~~) '% (traces)'))
                            ORDER BY e.chain_seq, e.id), '[]'::jsonb)
                       FROM gdpr.erasure_log e
                      WHERE NOT e.dry_run AND (since IS NULL OR e.erased_at OPERATOR(pg_catalog.>=) since)),
        'withdrawals', (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                   'consent_id', c.id, 'text_id', c.text_id, 'granted_at', c.granted_at,
                                   'withdrawn_at', c.withdrawn_at)
                               ORDER BY c.withdrawal_seq, c.id), '[]'::jsonb)
                          FROM gdpr.consent c
                         WHERE c.withdrawn_at IS NOT NULL
                           AND (since IS NULL OR c.withdrawn_at OPERATOR(pg_catalog.>=) since)))
$$;

-- What erasures left on disk: the old versions of the rows an erasure changed or deleted (long values in TOAST
-- chunks) and the index entries of the old values stay in the table's files until a VACUUM removes them. A table
-- is listed while an erasure of it is newer than the last VACUUM that is known to have removed both:
-- * its own last vacuum (manual or auto) counts only when the table has no index or sets vacuum_index_cleanup =
--   on: otherwise VACUUM may skip the indexes (INDEX_CLEANUP AUTO bypasses them when few pages have dead rows),
--   leaving the old e-mail in a UNIQUE index, and which options a past VACUUM ran with is recorded nowhere;
-- * its TOAST table's last vacuum (manual, with the table, or auto, on its own): its index holds no values.
-- `setting` turns index cleanup on (NULL when it is); `command` is the VACUUM to run after it. A VACUUM that ran
-- while the erasure's transaction was still open could not remove its rows, and the view cannot tell: run the
-- command after the erasure commits. Statistics lost in a crash list the table again (never the reverse).
-- VACUUM does not zero the space it frees: the bytes stay in the pages until overwritten (VACUUM FULL rewrites).
CREATE FUNCTION gdpr._index_cleanup_on(reloptions text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(bool_or(pg_catalog.lower(pg_catalog.split_part(o, '=', 2)) IN ('on', 'true', 'yes', '1')), false)
      FROM pg_catalog.unnest(reloptions) o WHERE pg_catalog.split_part(o, '=', 1) OPERATOR(pg_catalog.=) 'vacuum_index_cleanup'
$$;

CREATE VIEW gdpr.erasure_residue AS
WITH logged AS (
    SELECT pg_catalog.regexp_replace(t.key, ' \(traces\)$', '') AS name, e.erasure_id, e.erased_at,
           e.erased_at OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => e.duration_ms OPERATOR(pg_catalog./) 1000) AS ended_at
      FROM gdpr.erasure_log e, pg_catalog.jsonb_each(e.tables) t
     WHERE NOT e.dry_run AND (t.value OPERATOR(pg_catalog.->>) 'rows')::bigint OPERATOR(pg_catalog.>) 0
), named AS MATERIALIZED (  -- each name looked up once
    SELECT l.name, t.tbl
      FROM (SELECT DISTINCT name FROM logged) l, gdpr._tables_named(l.name) t(tbl)
), changed AS (
    SELECT n.tbl, l.erasure_id, l.erased_at, l.ended_at
      FROM logged l JOIN named n ON n.name OPERATOR(pg_catalog.=) l.name
), tables AS (
    SELECT r.oid AS tbl, s.n_dead_tup AS dead_tuples, ts.n_dead_tup AS toast_dead_tuples,
           GREATEST(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
           NOT r.relhasindex OR gdpr._index_cleanup_on(r.reloptions) AS index_cleanup,
           CASE WHEN r.reltoastrelid OPERATOR(pg_catalog.=) 0 THEN 'infinity'::timestamptz
                ELSE coalesce(GREATEST(ts.last_vacuum, ts.last_autovacuum), '-infinity') END AS toast_last_vacuum
      FROM pg_catalog.pg_class r
      JOIN pg_catalog.pg_stat_all_tables s ON s.relid OPERATOR(pg_catalog.=) r.oid
      LEFT JOIN pg_catalog.pg_stat_all_tables ts ON ts.relid OPERATOR(pg_catalog.=) r.reltoastrelid
     WHERE r.oid IN (SELECT c.tbl FROM changed c)
)
SELECT t.tbl::regclass AS tbl,
       pg_catalog.count(*) AS erasures,
       pg_catalog.array_agg(c.erasure_id ORDER BY c.erased_at) AS erasure_ids,
       pg_catalog.max(c.erased_at) AS last_erased_at,
       t.dead_tuples, t.toast_dead_tuples, t.last_vacuum,
       CASE WHEN NOT t.index_cleanup
            THEN pg_catalog.format('ALTER TABLE %s SET (vacuum_index_cleanup = on)', t.tbl::regclass) END AS setting,
       pg_catalog.format('VACUUM (INDEX_CLEANUP ON, PROCESS_TOAST ON) %s', t.tbl::regclass) AS command
  FROM changed c JOIN tables t ON t.tbl OPERATOR(pg_catalog.=) c.tbl
 WHERE NOT (t.index_cleanup AND c.ended_at OPERATOR(pg_catalog.<) t.last_vacuum
            AND c.ended_at OPERATOR(pg_catalog.<) t.toast_last_vacuum)
 GROUP BY t.tbl, t.dead_tuples, t.toast_dead_tuples, t.last_vacuum, t.index_cleanup;

REVOKE ALL ON gdpr.audit_chain, gdpr._audit_links, gdpr.erasure_residue FROM PUBLIC;
REVOKE ALL ON FUNCTION gdpr._audit_chain_lock(text), gdpr._link_erasure_log(), gdpr._erasure_log_link(), gdpr._consent_link(),
    gdpr.audit_head(), gdpr.verify_audit_chain(jsonb), gdpr.erasure_receipt(uuid), gdpr.erasure_ledger(timestamptz)
FROM PUBLIC;
-- Pure computations stay executable: receipts recompute a link as their caller, the residue view reads options
-- and names as its reader. They read nothing their caller could not (a consent text, the catalog are public).
