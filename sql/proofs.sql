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
-- Appending takes the head row's lock (INSERT … ON CONFLICT DO UPDATE) until the transaction ends, so links are
-- made in the order their transactions commit: concurrent erasures (and consent grants) append one after
-- another. Under REPEATABLE READ or SERIALIZABLE the second of two concurrent appends fails with 40001 (retry).

CREATE TABLE gdpr.audit_chain (
    log      text PRIMARY KEY CHECK (log IN ('erasure_log', 'consent')),
    entries  bigint NOT NULL CHECK (entries > 0),
    head     bytea NOT NULL CHECK (octet_length(head) = 32)
);
-- Kept by pg_dump with the logs; created at the first append, so a restore brings the original head back.
SELECT pg_catalog.pg_extension_config_dump('gdpr.audit_chain', '');

-- A link's hash. The text of a jsonb value is canonical (keys ordered, numbers normalised).
CREATE FUNCTION gdpr._audit_link_hash(previous bytea, seq bigint, fields jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.sha256(coalesce(previous, '\x'::bytea) OPERATOR(pg_catalog.||)
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

-- Appends a link to `log`'s chain: the head row's lock orders concurrent appends.
CREATE FUNCTION gdpr._audit_chain_append(log text, fields jsonb, OUT seq bigint, OUT hash bytea)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO gdpr.audit_chain AS a (log, entries, head)
    VALUES (log, 1, gdpr._audit_link_hash(NULL, 1, fields))
    ON CONFLICT (log) DO UPDATE
        SET entries = a.entries OPERATOR(pg_catalog.+) 1,
            head = gdpr._audit_link_hash(a.head, a.entries OPERATOR(pg_catalog.+) 1, fields)
    RETURNING entries, head
$$;

-- An entry written with its link already set (pg_restore bringing a dump's log back) keeps it:
-- gdpr.verify_audit_chain() checks every link, whoever wrote it.
CREATE FUNCTION gdpr._erasure_log_link() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.chain_hash IS NULL THEN
        SELECT l.seq, l.hash INTO NEW.chain_seq, NEW.chain_hash
          FROM gdpr._audit_chain_append('erasure_log', gdpr._erasure_log_fields(NEW)) l;
    END IF;
    RETURN NEW;
END $$;
-- Named to fire after the other BEFORE triggers (alphabetical order): the link covers the row as stored.
CREATE TRIGGER z_audit_chain BEFORE INSERT ON gdpr.erasure_log
    FOR EACH ROW EXECUTE FUNCTION gdpr._erasure_log_link();
ALTER TABLE gdpr.erasure_log ENABLE ALWAYS TRIGGER z_audit_chain;

CREATE FUNCTION gdpr._consent_link() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.grant_hash IS NULL THEN
            SELECT l.seq, l.hash INTO NEW.grant_seq, NEW.grant_hash
              FROM gdpr._audit_chain_append('consent', gdpr._consent_grant_fields(NEW)) l;
        END IF;
    ELSIF (NEW.grant_seq, NEW.grant_hash, NEW.withdrawal_seq, NEW.withdrawal_hash)
          IS DISTINCT FROM (OLD.grant_seq, OLD.grant_hash, OLD.withdrawal_seq, OLD.withdrawal_hash) THEN
        RAISE EXCEPTION 'gdpr: consent %: its links in the audit chain cannot be changed', OLD.id
            USING ERRCODE = '55000';
    END IF;
    IF NEW.withdrawn_at IS NOT NULL AND NEW.withdrawal_hash IS NULL THEN
        SELECT l.seq, l.hash INTO NEW.withdrawal_seq, NEW.withdrawal_hash
          FROM gdpr._audit_chain_append('consent', gdpr._consent_withdrawal_fields(NEW)) l;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER z_audit_chain BEFORE INSERT OR UPDATE ON gdpr.consent
    FOR EACH ROW EXECUTE FUNCTION gdpr._consent_link();
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
                          FROM gdpr.audit_chain a WHERE a.log OPERATOR(pg_catalog.=) 'erasure_log'),
        'consent', (SELECT pg_catalog.jsonb_build_object('entries', a.entries, 'head', pg_catalog.encode(a.head, 'hex'))
                      FROM gdpr.audit_chain a WHERE a.log OPERATOR(pg_catalog.=) 'consent'))
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
    IF known_head IS NOT NULL AND pg_catalog.jsonb_typeof(known_head) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'gdpr: known_head must be a value gdpr.audit_head() returned, not %', known_head
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    WITH tails AS (
        SELECT k.log, max(k.seq) AS last FROM gdpr._audit_links k GROUP BY k.log
    ), problems AS (
        SELECT k.log, k.seq AS entry, pg_catalog.format('%s has no link in the chain: written with the chain trigger disabled', k.what) AS problem
          FROM gdpr._audit_links k WHERE k.seq IS NULL OR k.hash IS NULL
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
          FROM gdpr._audit_links k
         WHERE k.seq IS NOT NULL AND k.hash IS NOT NULL
           AND (k.seq IS DISTINCT FROM (coalesce(k.previous_seq, 0) OPERATOR(pg_catalog.+) 1)
                OR k.hash IS DISTINCT FROM gdpr._audit_link_hash(k.previous_hash, k.seq, k.fields))
        UNION ALL
        -- The head row: entries cut from the tail, or entries appended past it.
        SELECT coalesce(a.log, t.log),
               CASE WHEN a.log IS NULL THEN 1
                    WHEN t.last IS DISTINCT FROM a.entries
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
         WHERE a.log IS NULL OR t.log IS NULL OR t.last IS DISTINCT FROM a.entries
            OR a.head IS DISTINCT FROM (SELECT k.hash FROM gdpr._audit_links k
                                         WHERE k.log OPERATOR(pg_catalog.=) a.log AND k.seq OPERATOR(pg_catalog.=) a.entries
                                         LIMIT 1)
    )
    SELECT p.log, p.entry, p.problem FROM problems p;

    -- A head kept outside the database: its entry must still be in the chain, with the same hash.
    FOR l IN SELECT pg_catalog.unnest(ARRAY['erasure_log', 'consent']) LOOP
        kept := known_head OPERATOR(pg_catalog.->) l;
        CONTINUE WHEN kept IS NULL OR pg_catalog.jsonb_typeof(kept) OPERATOR(pg_catalog.=) 'null';
        BEGIN
            kept_entries := (kept OPERATOR(pg_catalog.->>) 'entries')::bigint;
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'gdpr: known_head: %.entries must be a number, not %', l, kept OPERATOR(pg_catalog.->) 'entries'
                USING ERRCODE = '22023';
        END;
        SELECT k.hash INTO stored FROM gdpr._audit_links k
         WHERE k.log OPERATOR(pg_catalog.=) l AND k.seq OPERATOR(pg_catalog.=) kept_entries LIMIT 1;
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

-- Every erasure since `since` (all when NULL), keys only: keep it next to the backups; after restoring one,
-- gdpr.replay_erasures(ledger) erases again what the backup brought back.
CREATE FUNCTION gdpr.erasure_ledger(since timestamptz DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.jsonb_build_object(
        'ledger_version', 1, 'database', pg_catalog.current_database(), 'taken_at', pg_catalog.now(),
        'since', since, 'audit_head', gdpr.audit_head(),
        'erasures', coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                        'erasure_id', e.erasure_id, 'kind', e.kind, 'subject_id', e.subject_id,
                        'erased_at', e.erased_at, 'origin', e.origin, 'retention', e.origin OPERATOR(pg_catalog.=) 'retention',
                        'batch_id', e.batch_id, 'entry', e.chain_seq,
                        -- what a replay needs: the root table's action (erasures rooted at a table), traces
                        'action', e.tables OPERATOR(pg_catalog.->) e.kind OPERATOR(pg_catalog.->>) 'action',
                        'traces', EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(e.tables) k
                                           WHERE k OPERATOR(pg_catalog.~~) '% (traces)'))
                    ORDER BY e.chain_seq, e.id), '[]'::jsonb))
      FROM gdpr.erasure_log e
     WHERE NOT e.dry_run AND (since IS NULL OR e.erased_at OPERATOR(pg_catalog.>=) since)
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
WITH changed AS (
    SELECT pg_catalog.to_regclass(pg_catalog.regexp_replace(t.key, ' \(traces\)$', '')) AS tbl,
           e.erasure_id, e.erased_at,
           e.erased_at OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => e.duration_ms OPERATOR(pg_catalog./) 1000) AS ended_at
      FROM gdpr.erasure_log e, pg_catalog.jsonb_each(e.tables) t
     WHERE NOT e.dry_run AND (t.value OPERATOR(pg_catalog.->>) 'rows')::bigint OPERATOR(pg_catalog.>) 0
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
REVOKE ALL ON FUNCTION gdpr._audit_chain_append(text, jsonb), gdpr._erasure_log_link(), gdpr._consent_link(),
    gdpr.audit_head(), gdpr.verify_audit_chain(jsonb), gdpr.erasure_receipt(uuid), gdpr.erasure_ledger(timestamptz)
FROM PUBLIC;
-- Pure computations stay executable: receipts recompute a link as their caller, the residue view reads options
-- as its reader. They read nothing their caller could not (a consent text is public).
