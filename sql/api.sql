-- pg_gdpr: SQL-level entry points, triggers and grants (runs after every Rust function exists).

-- The two subject kinds chat products have. `id` may be of the key's type (integer, bigint, uuid) or text.
CREATE FUNCTION gdpr.anonymize_guest(id anyelement, dry_run boolean DEFAULT false, traces boolean DEFAULT false)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT gdpr.anonymize_subject('guest', id::text, dry_run, traces) $$;
CREATE FUNCTION gdpr.anonymize_guest(id text, dry_run boolean DEFAULT false, traces boolean DEFAULT false)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT gdpr.anonymize_subject('guest', id, dry_run, traces) $$;
CREATE FUNCTION gdpr.anonymize_session(id anyelement, dry_run boolean DEFAULT false, traces boolean DEFAULT false)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT gdpr.anonymize_subject('session', id::text, dry_run, traces) $$;
CREATE FUNCTION gdpr.anonymize_session(id text, dry_run boolean DEFAULT false, traces boolean DEFAULT false)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT gdpr.anonymize_subject('session', id, dry_run, traces) $$;

-- The pseudonymization key, generated now; rotate_key() replaces it and forgets the old one, which makes every
-- deterministic pseudonym made with it unlinkable (crypto-shredding).
INSERT INTO gdpr.key (key) VALUES (gdpr._generate_key());
CREATE FUNCTION gdpr.rotate_key() RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    DELETE FROM gdpr.key;
    INSERT INTO gdpr.key (key) VALUES (gdpr._generate_key());
$$;

-- generalize: keyless, so open to every role.
CREATE FUNCTION gdpr.generalize_ip(value inet, ipv4_prefix integer DEFAULT 24, ipv6_prefix integer DEFAULT 48)
    RETURNS inet LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT pg_catalog.network(pg_catalog.set_masklen(value, LEAST(pg_catalog.masklen(value),
              CASE pg_catalog.family(value) WHEN 4 THEN ipv4_prefix ELSE ipv6_prefix END)))::inet $$;
CREATE FUNCTION gdpr.generalize_time(value timestamptz, unit text DEFAULT 'day')
    RETURNS timestamptz LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT pg_catalog.date_trunc(unit, value) $$;
CREATE FUNCTION gdpr.generalize_time(value timestamp, unit text DEFAULT 'day')
    RETURNS timestamp LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT pg_catalog.date_trunc(unit, value) $$;
CREATE FUNCTION gdpr.generalize_time(value date, unit text DEFAULT 'year')
    RETURNS date LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT pg_catalog.date_trunc(unit, value::timestamp)::date $$;
CREATE FUNCTION gdpr.generalize_number(value numeric, bucket numeric DEFAULT 10)
    RETURNS numeric LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT pg_catalog.floor(value / bucket) * bucket $$;

-- Every table with a policy that belongs to a role the caller is a member of in its own right (superuser
-- powers do not count), or exactly the tables named.
CREATE FUNCTION gdpr.pseudonymize_database(batch_size integer DEFAULT 10000, tables regclass[] DEFAULT NULL)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT gdpr._pseudonymize_database(batch_size, tables::pg_catalog.oid[]) $$;

-- Erasures follow no reference by a column named col from the tables of schema (now or created later), except
-- from the tables listed.
CREATE FUNCTION gdpr.exclude_column(schema text, col text, except_tables regclass[] DEFAULT '{}')
    RETURNS void LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT gdpr._exclude_column(schema, col, except_tables::pg_catalog.oid[]) $$;

-- Cached erasure plans and the cached key follow changes in every backend.
CREATE TRIGGER declarations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gdpr.subject
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._declarations_changed();
CREATE TRIGGER declarations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gdpr.pii_policy
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._declarations_changed();
CREATE TRIGGER declarations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gdpr.erase_action
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._declarations_changed();
CREATE TRIGGER declarations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gdpr.link
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._declarations_changed();
CREATE TRIGGER declarations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gdpr.excluded_reference
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._declarations_changed();
CREATE TRIGGER declarations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gdpr.excluded_column
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._declarations_changed();
CREATE TRIGGER declarations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gdpr.owned_reference
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._declarations_changed();
CREATE TRIGGER declarations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gdpr.trace
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._declarations_changed();
CREATE TRIGGER declarations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gdpr.retention
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._declarations_changed();
CREATE TRIGGER declarations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gdpr.key
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._declarations_changed();
CREATE TRIGGER declarations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gdpr.consent_text
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._declarations_changed();
-- Fired under session_replication_role = replica too (a restore or a replication apply must not leave stale
-- plans behind).
ALTER TABLE gdpr.subject ENABLE ALWAYS TRIGGER declarations_changed;
ALTER TABLE gdpr.pii_policy ENABLE ALWAYS TRIGGER declarations_changed;
ALTER TABLE gdpr.erase_action ENABLE ALWAYS TRIGGER declarations_changed;
ALTER TABLE gdpr.link ENABLE ALWAYS TRIGGER declarations_changed;
ALTER TABLE gdpr.excluded_reference ENABLE ALWAYS TRIGGER declarations_changed;
ALTER TABLE gdpr.excluded_column ENABLE ALWAYS TRIGGER declarations_changed;
ALTER TABLE gdpr.owned_reference ENABLE ALWAYS TRIGGER declarations_changed;
ALTER TABLE gdpr.trace ENABLE ALWAYS TRIGGER declarations_changed;
ALTER TABLE gdpr.retention ENABLE ALWAYS TRIGGER declarations_changed;
ALTER TABLE gdpr.key ENABLE ALWAYS TRIGGER declarations_changed;
ALTER TABLE gdpr.consent_text ENABLE ALWAYS TRIGGER declarations_changed;

-- Destructive functions and the audit log: nobody but the extension owner until the DBA grants them.
REVOKE ALL ON FUNCTION
    gdpr.anonymize_subject(text, text, boolean, boolean),
    gdpr.anonymize_subject(text, text[], boolean, boolean),
    gdpr.anonymize_guest(anyelement, boolean, boolean),
    gdpr.anonymize_guest(text, boolean, boolean),
    gdpr.anonymize_session(anyelement, boolean, boolean),
    gdpr.anonymize_session(text, boolean, boolean),
    gdpr.anonymize_subjects(text, text[], boolean),
    gdpr.replay_erasures(jsonb, boolean),
    gdpr._written_here(xid),
    gdpr._declarations_changed(),
    gdpr._generate_key(),
    gdpr.rotate_key(),
    gdpr.hash(text),
    gdpr.fake_email(text),
    gdpr.fake_name(text),
    gdpr.fake_first_name(text),
    gdpr.fake_last_name(text),
    gdpr.fake_city(text),
    gdpr.fake_company(text),
    gdpr.fake_address(text),
    gdpr.fake_phone(text),
    gdpr.pseudonymize_jsonb(jsonb, jsonb),
    gdpr.pseudonymize_table(regclass, integer),
    gdpr.pseudonymize_database(integer, regclass[]),
    gdpr._pseudonymize_database(integer, oid[])
FROM PUBLIC;
REVOKE ALL ON gdpr.erasure_log FROM PUBLIC;

-- One call for the DBA: lets `role` run erasures and read the audit log (never write it).
CREATE FUNCTION gdpr.grant_erasure(role regrole) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION gdpr.anonymize_subject(text, text, boolean, boolean),
             gdpr.anonymize_subject(text, text[], boolean, boolean), gdpr.anonymize_guest(anyelement, boolean, boolean),
             gdpr.anonymize_guest(text, boolean, boolean), gdpr.anonymize_session(anyelement, boolean, boolean),
             gdpr.anonymize_session(text, boolean, boolean), gdpr.anonymize_subjects(text, text[], boolean),
             gdpr.replay_erasures(jsonb, boolean), gdpr.erasure_receipt(uuid), gdpr.erasure_ledger(timestamptz),
             gdpr.audit_head(), gdpr.verify_audit_chain(jsonb)
             TO %s', role::text);
    EXECUTE pg_catalog.format('GRANT SELECT ON gdpr.erasure_log, gdpr.legal_holds, gdpr.erasure_residue, gdpr.audit_chain TO %s',
                              role::text);
END $$;
REVOKE ALL ON FUNCTION gdpr.grant_erasure(regrole) FROM PUBLIC;

-- Lets `role` pseudonymize whole tables (with its own table privileges) and call the keyed strategy functions.
CREATE FUNCTION gdpr.grant_pseudonymization(role regrole) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION gdpr.pseudonymize_table(regclass, integer),
             gdpr.pseudonymize_database(integer, regclass[]), gdpr._pseudonymize_database(integer, oid[]),
             gdpr.hash(text), gdpr.fake_email(text), gdpr.fake_name(text), gdpr.fake_first_name(text),
             gdpr.fake_last_name(text), gdpr.fake_city(text), gdpr.fake_company(text), gdpr.fake_address(text),
             gdpr.fake_phone(text), gdpr.pseudonymize_jsonb(jsonb, jsonb) TO %s',
        role::text);
END $$;
REVOKE ALL ON FUNCTION gdpr.grant_pseudonymization(regrole) FROM PUBLIC;

-- Consent ------------------------------------------------------------------------------------------------------

-- Consent texts are published by the DBA (or a role granted consent administration); a referenced text's
-- wording can no longer change (sql/consent.sql), only be retired in favour of a new version.
CREATE FUNCTION gdpr.publish_consent_text(purpose text, version text, body text, privacy_policy_url text,
                                          language text DEFAULT 'en') RETURNS bigint
    -- standard_conforming_strings: the patterns below hold backslashes, and a caller's setting must not change them
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET standard_conforming_strings = on AS $$
DECLARE
    new_id bigint;
BEGIN
    IF purpose IS NULL OR version IS NULL OR body IS NULL OR privacy_policy_url IS NULL OR language IS NULL THEN
        RAISE EXCEPTION 'gdpr: purpose, version, body, privacy_policy_url and language of a consent text must not be NULL'
            USING ERRCODE = '22004';
    ELSIF purpose !~ '^[a-z_][a-z0-9_]*$' THEN
        RAISE EXCEPTION 'gdpr: consent purpose "%" must be a lower-case identifier such as marketing', purpose
            USING ERRCODE = '22023';
    ELSIF version !~ '^\S+$' THEN
        RAISE EXCEPTION 'gdpr: consent text version "%" (purpose %) must be one word, e.g. 2024-05', version, purpose
            USING ERRCODE = '22023';
    ELSIF btrim(body) = '' THEN
        RAISE EXCEPTION 'gdpr: consent text % version % has an empty body', purpose, version USING ERRCODE = '22023';
    ELSIF privacy_policy_url !~ '^https?://\S+$' THEN
        RAISE EXCEPTION 'gdpr: privacy_policy_url "%" of consent text % version % must be an http(s) URL',
            privacy_policy_url, purpose, version USING ERRCODE = '22023';
    ELSIF language !~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$' THEN
        RAISE EXCEPTION 'gdpr: language "%" of consent text % version % must be a language tag such as en or cs-CZ',
            language, purpose, version USING ERRCODE = '22023';
    ELSIF EXISTS (SELECT 1 FROM gdpr.consent_text t
                   WHERE t.purpose OPERATOR(pg_catalog.=) publish_consent_text.purpose
                     AND t.version OPERATOR(pg_catalog.=) publish_consent_text.version
                     AND t.language OPERATOR(pg_catalog.=) publish_consent_text.language) THEN
        RAISE EXCEPTION 'gdpr: consent text % version % (%) already exists: publish a new version',
            purpose, version, language USING ERRCODE = '23505';
    END IF;
    INSERT INTO gdpr.consent_text (purpose, version, body, privacy_policy_url, language)
    VALUES (purpose, version, body, privacy_policy_url, language) RETURNING id INTO new_id;
    RETURN new_id;
END $$;
CREATE FUNCTION gdpr.retire_consent_text(text_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE gdpr.consent_text SET active = false WHERE id OPERATOR(pg_catalog.=) text_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'gdpr: consent text % does not exist', text_id USING ERRCODE = 'P0002';
    END IF;
END $$;

-- Whether the subject's current consent covers `purpose`; whether consent `consent_id` is for `purpose` and
-- not withdrawn.
CREATE FUNCTION gdpr.has_consent(subject_kind text, subject_id text, purpose text) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM gdpr.current_consents c
                    WHERE c.subject_kind OPERATOR(pg_catalog.=) $1 AND c.subject_id OPERATOR(pg_catalog.=) $2
                      AND c.purpose OPERATOR(pg_catalog.=) $3)
$$;
CREATE FUNCTION gdpr.has_consent(consent_id bigint, purpose text) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM gdpr.consent c JOIN gdpr.consent_text t ON t.id OPERATOR(pg_catalog.=) c.text_id
                    WHERE c.id OPERATOR(pg_catalog.=) $1 AND t.purpose OPERATOR(pg_catalog.=) $2
                      AND c.withdrawn_at IS NULL)
$$;

-- The requirements and the state of their trigger and foreign key: a trigger a table owner disabled or
-- dropped shows here (and in gdpr.lint()).
CREATE VIEW gdpr.consent_requirements AS
SELECT r.tbl AS table_name, r.col AS column_name, r.purpose, r.on_withdraw, r.subject_col, r.subject_kind,
       r.trigger_name,
       CASE tg.tgenabled WHEN 'O' THEN 'enabled' WHEN 'A' THEN 'always' WHEN 'R' THEN 'replica only'
                         WHEN 'D' THEN 'disabled' ELSE 'missing' END AS trigger_state,
       (SELECT k.conname FROM pg_catalog.pg_constraint k
          JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) k.conrelid
                                       AND a.attname OPERATOR(pg_catalog.=) r.col
         WHERE k.conrelid OPERATOR(pg_catalog.=) r.tbl AND k.contype OPERATOR(pg_catalog.=) 'f'
           AND k.confrelid OPERATOR(pg_catalog.=) 'gdpr.consent'::pg_catalog.regclass
           AND k.conkey OPERATOR(pg_catalog.=) ARRAY[a.attnum] LIMIT 1) AS foreign_key,
       r.declared_at
  FROM gdpr.consent_requirement r
  LEFT JOIN pg_catalog.pg_trigger tg ON tg.tgrelid OPERATOR(pg_catalog.=) r.tbl
                                    AND tg.tgname OPERATOR(pg_catalog.=) r.trigger_name;

-- The guard prepares statements with the referenced tables' column types: pinned. The consent trigger runs only
-- schema- and operator-qualified SQL and is not pinned: a SET clause costs a GUC save/restore on every insert.
ALTER FUNCTION gdpr._refuse_erased() SET search_path = pg_catalog, pg_temp;

-- Consent texts are public documents; whose consent is where is not. Table owners may point a FOREIGN KEY at
-- a consent (require_consent adds one as the table owner).
GRANT SELECT ON gdpr.consent_text, gdpr.consent_requirement, gdpr.consent_requirements TO PUBLIC;
-- No REFERENCES for PUBLIC: a foreign key to gdpr.consent would be an oracle for which consent ids exist, and
-- a table under on_withdraw => block could pin other people's consents. require_consent needs the
-- consent-administration grant, which includes it.
REVOKE ALL ON FUNCTION
    gdpr.grant_consent(bigint, text, text, text),
    gdpr.withdraw_consent(bigint),
    gdpr.has_consent(text, text, text),
    gdpr.has_consent(bigint, text),
    gdpr.publish_consent_text(text, text, text, text, text),
    gdpr.retire_consent_text(bigint),
    gdpr._require_consent(),
    gdpr._refuse_erased(),
    gdpr._consent_text_is_immutable(),
    gdpr._consent_is_append_only()
FROM PUBLIC;
-- The triggers run as whoever writes the guarded table: they must stay callable by every role.
GRANT EXECUTE ON FUNCTION gdpr._require_consent(), gdpr._refuse_erased() TO PUBLIC;

-- Lets `role` (the application) record and withdraw consents and ask who consented.
CREATE FUNCTION gdpr.grant_consent_recording(role regrole) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION gdpr.grant_consent(bigint, text, text, text), gdpr.withdraw_consent(bigint),
             gdpr.has_consent(text, text, text), gdpr.has_consent(bigint, text) TO %s', role::text);
    EXECUTE pg_catalog.format(
        'GRANT SELECT ON gdpr.consent, gdpr.current_consents, gdpr.marketing_consents TO %s', role::text);
END $$;
REVOKE ALL ON FUNCTION gdpr.grant_consent_recording(regrole) FROM PUBLIC;

-- Lets `role` publish and retire consent texts and put consent requirements on the tables it owns
-- (gdpr.require_consent, which adds a FOREIGN KEY to gdpr.consent).
CREATE FUNCTION gdpr.grant_consent_administration(role regrole) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION gdpr.publish_consent_text(text, text, text, text, text),
             gdpr.retire_consent_text(bigint) TO %s', role::text);
    EXECUTE pg_catalog.format('GRANT INSERT, UPDATE (active) ON gdpr.consent_text TO %s', role::text);
    EXECUTE pg_catalog.format('GRANT REFERENCES (id) ON gdpr.consent TO %s', role::text);
END $$;
REVOKE ALL ON FUNCTION gdpr.grant_consent_administration(regrole) FROM PUBLIC;

-- A person's request -------------------------------------------------------------------------------------------

CREATE FUNCTION gdpr.find_guests(email text DEFAULT NULL, phone text DEFAULT NULL, name text DEFAULT NULL,
                                 identifier text DEFAULT NULL)
    RETURNS TABLE (subject_id text, score integer, matches jsonb)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT * FROM gdpr.find_subjects('guest', email, phone, name, identifier) $$;
CREATE FUNCTION gdpr.export_guest(id anyelement) RETURNS jsonb
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT gdpr.export_subject('guest', id::text) $$;
CREATE FUNCTION gdpr.export_guest(id text) RETURNS jsonb
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT gdpr.export_subject('guest', id) $$;
CREATE FUNCTION gdpr.export_session(id anyelement) RETURNS jsonb
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT gdpr.export_subject('session', id::text) $$;
CREATE FUNCTION gdpr.export_session(id text) RETURNS jsonb
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT gdpr.export_subject('session', id) $$;

-- Finding and exporting read personal data (and the consent registry and the erasure log, as the extension
-- owner): only for roles granted subject access, and then only with their own SELECT on every table read.
REVOKE ALL ON FUNCTION
    gdpr.find_subjects(text, text, text, text, text),
    gdpr.find_guests(text, text, text, text),
    gdpr.export_subject(text, text),
    gdpr.export_subject(text, text[]),
    gdpr.export_rows(text, text),
    gdpr.export_rows(text, text[]),
    gdpr.export_guest(anyelement),
    gdpr.export_guest(text),
    gdpr.export_session(anyelement),
    gdpr.export_session(text),
    gdpr.locate(text, text),
    gdpr.locate(text, text[]),
    gdpr._subject_tables(text)
FROM PUBLIC;

-- Lets `role` (a support operator) find subjects and export what is held about them: the functions, and SELECT
-- on every table an erasure of a declared kind reaches. Nothing destructive. Run it again after new tables
-- join a subject's reach.
CREATE FUNCTION gdpr.grant_subject_access(role regrole) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t regclass;
BEGIN
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION gdpr.find_subjects(text, text, text, text, text),
             gdpr.find_guests(text, text, text, text), gdpr.export_subject(text, text),
             gdpr.export_subject(text, text[]), gdpr.export_rows(text, text), gdpr.export_rows(text, text[]),
             gdpr.export_guest(anyelement),
             gdpr.export_guest(text), gdpr.export_session(anyelement), gdpr.export_session(text),
             gdpr.locate(text, text), gdpr.locate(text, text[]) TO %s',
        role::text);
    FOR t IN SELECT DISTINCT r::regclass FROM gdpr.subject s, gdpr._subject_tables(s.kind) r
             UNION SELECT tr.tbl FROM gdpr.trace tr LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON %s TO %s', t, role::text);
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION gdpr.grant_subject_access(regrole) FROM PUBLIC;

-- The trigram-indexable prefilter (gdpr.trace_fold(col) ~ ...) is evaluated after the cheap regular expression.
ALTER FUNCTION gdpr.trace_fold(text) COST 1000;

-- Retention and legal holds ------------------------------------------------------------------------------------

-- Erases what expired, in batches that each commit (so it never holds long locks nor one giant transaction);
-- must be CALLed outside a transaction block (pg_cron does). `summary` returns what the run did; it is also
-- written to gdpr.retention_run after every batch. A batch that fails (a trigger, a privilege, a declaration that
-- no longer fits) rolls back alone: its table is marked failed in the run, the run goes on with the next table,
-- and the CALL ends with an error naming every failed table. No SET clause: a procedure with one cannot COMMIT;
-- every name below is schema-qualified.
CREATE PROCEDURE gdpr.enforce_retention(batch_size integer DEFAULT 1000, max_duration interval DEFAULT NULL,
                                        INOUT summary jsonb DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    failed text;
    first_state text;
BEGIN
    IF gdpr._in_transaction_block() THEN
        RAISE EXCEPTION 'gdpr: enforce_retention commits after every batch: CALL it outside a transaction block'
            USING ERRCODE = '25001';
    END IF;
    summary := gdpr._retention_step(batch_size, NULL, max_duration);
    COMMIT;
    LOOP
        BEGIN
            summary := gdpr._retention_step(batch_size, summary, max_duration);
        EXCEPTION WHEN OTHERS THEN
            summary := gdpr._retention_failed(summary, SQLSTATE, SQLERRM);
        END;
        COMMIT;
        EXIT WHEN (summary OPERATOR(pg_catalog.->>) 'finished') OPERATOR(pg_catalog.=) 'true';
    END LOOP;
    IF (summary OPERATOR(pg_catalog.->>) 'stopped') OPERATOR(pg_catalog.=) 'errors' THEN
        SELECT pg_catalog.string_agg(pg_catalog.format('%s (%s: %s)', t OPERATOR(pg_catalog.->>) 'table',
                   t OPERATOR(pg_catalog.#>>) '{error,sqlstate}', t OPERATOR(pg_catalog.#>>) '{error,message}'),
                   '; '),
               pg_catalog.min(t OPERATOR(pg_catalog.#>>) '{error,sqlstate}')
          INTO failed, first_state
          FROM pg_catalog.jsonb_array_elements(summary OPERATOR(pg_catalog.->) 'tables') AS e(t)
         WHERE t OPERATOR(pg_catalog.?) 'error';
        RAISE EXCEPTION 'gdpr: retention run % finished with errors: %', summary OPERATOR(pg_catalog.->>) 'run_id',
            failed USING ERRCODE = first_state;
    END IF;
END $$;

CREATE VIEW gdpr.legal_holds AS
SELECT h.id AS hold_id, h.kind, h.subject_id, h.reason, h.placed_by, h.placed_at, h.released_by, h.released_at,
       h.released_at IS NULL AS active
  FROM gdpr.legal_hold h;

REVOKE ALL ON FUNCTION
    gdpr.retention_due(),
    gdpr._retention_step(integer, jsonb, interval),
    gdpr._retention_failed(jsonb, text, text),
    gdpr._in_transaction_block(),
    gdpr.place_legal_hold(text, text, text),
    gdpr.place_legal_hold(text, text[], text),
    gdpr.release_legal_hold(bigint)
FROM PUBLIC;
REVOKE ALL ON PROCEDURE gdpr.enforce_retention(integer, interval, jsonb) FROM PUBLIC;
REVOKE ALL ON gdpr.legal_hold, gdpr.legal_holds, gdpr.retention_run FROM PUBLIC;

-- Lets `role` (the DBA's retention job, e.g. pg_cron's) run retention and read its runs; each table is still
-- erased only with the role's own privileges on it.
CREATE FUNCTION gdpr.grant_retention(role regrole) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION gdpr.retention_due(), gdpr._retention_step(integer, jsonb, interval),
             gdpr._retention_failed(jsonb, text, text), gdpr._in_transaction_block() TO %s',
        role::text);
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON PROCEDURE gdpr.enforce_retention(integer, interval, jsonb) TO %s', role::text);
    EXECUTE pg_catalog.format('GRANT SELECT ON gdpr.retention_run, gdpr.legal_holds TO %s', role::text);
END $$;
REVOKE ALL ON FUNCTION gdpr.grant_retention(regrole) FROM PUBLIC;

-- Lets `role` (legal, the DPO) place and release legal holds and see them. Placing one also needs SELECT on
-- the subject's table (the subject must exist).
CREATE FUNCTION gdpr.grant_legal_hold(role regrole) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION gdpr.place_legal_hold(text, text, text), gdpr.place_legal_hold(text, text[], text),
             gdpr.release_legal_hold(bigint) TO %s', role::text);
    EXECUTE pg_catalog.format('GRANT SELECT ON gdpr.legal_holds TO %s', role::text);
END $$;
REVOKE ALL ON FUNCTION gdpr.grant_legal_hold(regrole) FROM PUBLIC;
