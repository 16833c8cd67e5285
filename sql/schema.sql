-- pg_gdpr: catalog (config) tables, audit log and the security header.
-- Every object is schema-qualified; nothing here depends on the caller's search_path.

-- Which table identifies a kind of data subject ('guest', 'session', ...).
CREATE TABLE gdpr.subject (
    kind        text PRIMARY KEY CHECK (kind ~ '^[a-z_][a-z0-9_]*$'),
    tbl         regclass NOT NULL,
    declared_at timestamptz NOT NULL DEFAULT now()
);

-- One row per (table, column): how its personal data is neutralised.
-- strategy is checked against the fixed vocabulary by gdpr.declare_pii(); options are validated there too.
CREATE TABLE gdpr.pii_policy (
    tbl         regclass NOT NULL,
    col         name NOT NULL,
    strategy    text NOT NULL,
    options     jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- What kind of personal data the column holds (src/strategy/category.rs): the option "category", else
    -- what the strategy says (fake_email: email, scrub: free_text, ...), else other.
    category    text NOT NULL DEFAULT 'other' CHECK (category IN ('email', 'phone', 'name', 'address', 'ip',
                    'date_of_birth', 'identifier', 'free_text', 'location', 'device', 'other')),
    declared_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tbl, col)
);

-- What an erasure does to the rows of a table tied to the subject (default: anonymize).
CREATE TABLE gdpr.erase_action (
    tbl         regclass PRIMARY KEY,
    action      text NOT NULL CHECK (action IN ('anonymize', 'delete')),
    declared_at timestamptz NOT NULL DEFAULT now()
);

-- References the schema has no FOREIGN KEY for (Rails-style *_id columns, polymorphic type/id pairs).
CREATE TABLE gdpr.link (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    child       regclass NOT NULL,
    child_cols  name[] NOT NULL,
    parent      regclass NOT NULL,
    parent_cols name[] NOT NULL,
    type_col    name,
    type_value  text,
    declared_at timestamptz NOT NULL DEFAULT now(),
    CHECK (cardinality(child_cols) = cardinality(parent_cols) AND cardinality(child_cols) > 0),
    CHECK ((type_col IS NULL) = (type_value IS NULL))
);
CREATE UNIQUE INDEX link_identity ON gdpr.link
    (child, child_cols, parent, parent_cols, coalesce(type_col, ''), coalesce(type_value, ''));

-- Foreign keys (or links) that do not mean "belongs to the person" and must not be followed.
CREATE TABLE gdpr.excluded_reference (
    child       regclass NOT NULL,
    child_cols  name[] NOT NULL,
    declared_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (child, child_cols)
);

-- Schema-wide exclusions by column name (audit columns such as created_by_id / updated_by_id): every foreign key or
-- link whose referencing columns are exactly (col), from a table of the schema, now or created later, except the
-- tables listed.
CREATE TABLE gdpr.excluded_column (
    schema_name   regnamespace NOT NULL,
    col           name NOT NULL,
    except_tables regclass[] NOT NULL DEFAULT '{}',
    declared_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schema_name, col)
);

-- References whose parent rows belong to the rows referencing them (an attachment's file, a content-addressed
-- blob): after an erasure, a parent row that no remaining row references gets the parent table's action.
-- The parent is part of the declaration: a reference later re-pointed at another table is not owned.
CREATE TABLE gdpr.owned_reference (
    child       regclass NOT NULL,
    child_cols  name[] NOT NULL,
    parent      regclass NOT NULL,
    declared_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (child, child_cols, parent)
);

-- Trace columns: may hold a person's identifiers with no key tying the row to them (call logs, webhook payloads,
-- anonymous chats). gdpr.locate searches them; an erasure with traces => true scrubs or deletes what it finds.
CREATE TABLE gdpr.trace (
    tbl         regclass PRIMARY KEY,
    cols        name[] NOT NULL CHECK (cardinality(cols) > 0),
    action      text NOT NULL CHECK (action IN ('scrub', 'delete')),
    declared_at timestamptz NOT NULL DEFAULT now()
);

-- Retention periods: rows of `tbl` whose `time_col` is older than `keep` are erased by gdpr.enforce_retention —
-- a subject table's subjects whole (erase), other tables' rows deleted or anonymized with everything tied to them.
CREATE TABLE gdpr.retention (
    tbl         regclass PRIMARY KEY,
    time_col    name NOT NULL,
    keep        interval NOT NULL CHECK (keep > interval '0'),
    action      text NOT NULL CHECK (action IN ('erase', 'delete', 'anonymize')),
    declared_by name NOT NULL,
    declared_at timestamptz NOT NULL DEFAULT now()
);

-- Legal holds: a held subject is not erased (requests fail with 55000, retention and consent withdrawals leave
-- it and what is tied to it). Holds are never deleted: releasing one records who and when on its row.
CREATE TABLE gdpr.legal_hold (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL,
    subject_id  text NOT NULL,
    reason      text NOT NULL CHECK (pg_catalog.btrim(reason) <> ''),
    placed_by   name NOT NULL,
    placed_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    released_by name,
    released_at timestamptz,
    CHECK ((released_by IS NULL) = (released_at IS NULL))
);
CREATE INDEX legal_hold_active ON gdpr.legal_hold (kind, subject_id) WHERE released_at IS NULL;

-- Retention runs: one row per CALL gdpr.enforce_retention, its summary written with every committed batch
-- (finished_at NULL: still running, or interrupted — the summary says what the committed batches did).
CREATE TABLE gdpr.retention_run (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_by      name NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    summary     jsonb NOT NULL
);

-- Audit trail: one row per erasure (dry runs included). No personal data: the subject's key, counts, who, when.
CREATE TABLE gdpr.erasure_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    erasure_id  uuid NOT NULL UNIQUE,
    kind        text NOT NULL,
    subject_id  text NOT NULL,
    dry_run     boolean NOT NULL,
    rows_total  bigint NOT NULL,
    tables      jsonb NOT NULL,
    erased_by   name NOT NULL,
    session_user_name name NOT NULL,
    erased_at   timestamptz NOT NULL DEFAULT now(),
    duration_ms double precision NOT NULL,
    -- request (a person asked), retention (an expired period), consent (a withdrawal), replay (an erasure of a
    -- restored backup's data again, gdpr.replay_erasures: the erasure id is the original one)
    origin      text NOT NULL DEFAULT 'request' CHECK (origin IN ('request', 'retention', 'consent', 'replay')),
    -- subjects erased together by one pass of the engine (anonymize_subjects, a retention batch)
    batch_id    uuid,
    -- The entry's link in the audit chain (sql/audit_chain.sql): its place and its hash, set when appended.
    chain_seq   bigint UNIQUE,
    chain_hash  bytea
);
CREATE INDEX erasure_log_subject ON gdpr.erasure_log (kind, subject_id);

-- The database's pseudonymization key (see src/key.rs). Readable by the extension owner only, never a
-- setting. Not dumped by pg_dump: a restored copy gets a key of its own at CREATE EXTENSION, so pseudonyms
-- made in production cannot be recomputed from a backup's copy.
CREATE TABLE gdpr.key (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key         bytea NOT NULL CHECK (octet_length(key) = 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Rows an erasure changed that other rows reference (and every subject row erased): the erased-subject guard
-- (src/subject/guard.rs) refuses later writes that reference them, so a late message for an erased guest's
-- chat cannot bring personal data back. `cols` are the referenced columns, `key` their values (the text form of
-- a single column, a JSON array of text forms for several). No personal data: keys only. A row erased twice is
-- recorded twice (one plain index insert per row keeps erasures fast; the guard only asks whether one exists).
CREATE TABLE gdpr.erased_row (
    tbl         regclass NOT NULL,
    cols        text[] NOT NULL,
    key         text NOT NULL,
    erasure_id  uuid NOT NULL,
    erased_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX erased_row_key ON gdpr.erased_row (tbl, key);

-- pg_dump keeps the declarations (the config tables) and the audit log.
SELECT pg_catalog.pg_extension_config_dump('gdpr.subject', '');
SELECT pg_catalog.pg_extension_config_dump('gdpr.pii_policy', '');
SELECT pg_catalog.pg_extension_config_dump('gdpr.erase_action', '');
SELECT pg_catalog.pg_extension_config_dump('gdpr.link', '');
SELECT pg_catalog.pg_extension_config_dump('gdpr.excluded_reference', '');
SELECT pg_catalog.pg_extension_config_dump('gdpr.excluded_column', '');
SELECT pg_catalog.pg_extension_config_dump('gdpr.owned_reference', '');
SELECT pg_catalog.pg_extension_config_dump('gdpr.trace', '');
SELECT pg_catalog.pg_extension_config_dump('gdpr.retention', '');
SELECT pg_catalog.pg_extension_config_dump('gdpr.legal_hold', '');
SELECT pg_catalog.pg_extension_config_dump('gdpr.retention_run', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('gdpr.legal_hold', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('gdpr.retention_run', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump('gdpr.erasure_log', '');
SELECT pg_catalog.pg_extension_config_dump('gdpr.erased_row', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('gdpr.link', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('gdpr.erasure_log', 'id'), '');

-- Append-only log (and consents, sql/consent.sql): even a role that was granted more than SELECT cannot rewrite history;
-- only the extension owner (who owns the table and can drop the trigger) can. The one update an entry takes is
-- its link in the audit chain, set once when its transaction commits (sql/proofs.sql).
CREATE FUNCTION gdpr._erasure_log_is_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- (Nested: the same function guards TRUNCATE, and other tables, whose OLD has no such fields.)
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'erasure_log' THEN
        IF OLD.chain_hash IS NULL AND OLD.chain_seq IS NULL
           AND (NEW.id, NEW.erasure_id, NEW.kind, NEW.subject_id, NEW.dry_run, NEW.rows_total, NEW.tables,
                NEW.erased_by, NEW.session_user_name, NEW.erased_at, NEW.duration_ms, NEW.origin, NEW.batch_id)
               IS NOT DISTINCT FROM
               (OLD.id, OLD.erasure_id, OLD.kind, OLD.subject_id, OLD.dry_run, OLD.rows_total, OLD.tables,
                OLD.erased_by, OLD.session_user_name, OLD.erased_at, OLD.duration_ms, OLD.origin, OLD.batch_id)
        THEN
            RETURN NEW;  -- its link in the audit chain
        END IF;
    END IF;
    RAISE EXCEPTION 'gdpr: %.% is append-only (% refused)', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = '42501';
END $$;
CREATE TRIGGER erasure_log_append_only
    BEFORE UPDATE OR DELETE ON gdpr.erasure_log
    FOR EACH ROW EXECUTE FUNCTION gdpr._erasure_log_is_append_only();
CREATE TRIGGER erasure_log_no_truncate
    BEFORE TRUNCATE ON gdpr.erasure_log
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._erasure_log_is_append_only();
-- ALWAYS: `SET session_replication_role = replica` (which skips ordinary triggers) must not open a window
-- for rewriting history without any DDL.
ALTER TABLE gdpr.erasure_log ENABLE ALWAYS TRIGGER erasure_log_append_only;
ALTER TABLE gdpr.erasure_log ENABLE ALWAYS TRIGGER erasure_log_no_truncate;

-- Legal holds are kept: no DELETE or TRUNCATE, and an UPDATE may only release an active hold.
CREATE FUNCTION gdpr._legal_hold_is_kept() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.released_at IS NULL AND NEW.released_at IS NOT NULL
       AND (NEW.id, NEW.kind, NEW.subject_id, NEW.reason, NEW.placed_by, NEW.placed_at)
           IS NOT DISTINCT FROM (OLD.id, OLD.kind, OLD.subject_id, OLD.reason, OLD.placed_by, OLD.placed_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'gdpr: legal holds are kept; only releasing an active hold changes one (% refused)', TG_OP
        USING ERRCODE = '42501';
END $$;
CREATE TRIGGER legal_hold_is_kept BEFORE UPDATE OR DELETE ON gdpr.legal_hold
    FOR EACH ROW EXECUTE FUNCTION gdpr._legal_hold_is_kept();
CREATE TRIGGER legal_hold_no_truncate BEFORE TRUNCATE ON gdpr.legal_hold
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._legal_hold_is_kept();
ALTER TABLE gdpr.legal_hold ENABLE ALWAYS TRIGGER legal_hold_is_kept;
ALTER TABLE gdpr.legal_hold ENABLE ALWAYS TRIGGER legal_hold_no_truncate;

-- Declarations follow DROP TABLE / DROP COLUMN: a migration that drops an object drops its declarations.
-- SECURITY DEFINER because the config tables are writable by the extension owner only; it takes no
-- arguments and deletes only rows naming objects PostgreSQL reports as dropped.
CREATE FUNCTION gdpr._forget_dropped_objects() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d record;
BEGIN
    FOR d IN SELECT o.objid, o.object_type, o.address_names
               FROM pg_catalog.pg_event_trigger_dropped_objects() o
              WHERE o.object_type IN ('table', 'table column', 'schema')
    LOOP
        IF d.object_type = 'schema' THEN
            DELETE FROM gdpr.excluded_column WHERE schema_name::oid = d.objid;
        ELSIF d.object_type = 'table' THEN
            DELETE FROM gdpr.subject WHERE tbl::oid = d.objid;
            DELETE FROM gdpr.pii_policy WHERE tbl::oid = d.objid;
            DELETE FROM gdpr.erase_action WHERE tbl::oid = d.objid;
            DELETE FROM gdpr.link WHERE child::oid = d.objid OR parent::oid = d.objid;
            DELETE FROM gdpr.excluded_reference WHERE child::oid = d.objid;
            DELETE FROM gdpr.owned_reference WHERE child::oid = d.objid OR parent::oid = d.objid;
            UPDATE gdpr.excluded_column SET except_tables = pg_catalog.array_remove(except_tables, d.objid::regclass)
             WHERE d.objid::regclass = ANY (except_tables);
            DELETE FROM gdpr.trace WHERE tbl::oid = d.objid;
            DELETE FROM gdpr.retention WHERE tbl::oid = d.objid;
            DELETE FROM gdpr.erased_row WHERE tbl::oid = d.objid;
            DELETE FROM gdpr.consent_requirement WHERE tbl::oid = d.objid;
        ELSE
            DELETE FROM gdpr.pii_policy WHERE tbl::oid = d.objid AND col = d.address_names[3];
            DELETE FROM gdpr.link
             WHERE (child::oid = d.objid AND (d.address_names[3] = ANY (child_cols) OR type_col = d.address_names[3]))
                OR (parent::oid = d.objid AND d.address_names[3] = ANY (parent_cols));
            DELETE FROM gdpr.excluded_reference WHERE child::oid = d.objid AND d.address_names[3] = ANY (child_cols);
            DELETE FROM gdpr.owned_reference WHERE child::oid = d.objid AND d.address_names[3] = ANY (child_cols);
            DELETE FROM gdpr.trace WHERE tbl::oid = d.objid AND cols = ARRAY[d.address_names[3]]::name[];
            UPDATE gdpr.trace SET cols = pg_catalog.array_remove(cols, d.address_names[3]::name)
             WHERE tbl::oid = d.objid AND d.address_names[3] = ANY (cols);
            DELETE FROM gdpr.retention WHERE tbl::oid = d.objid AND time_col = d.address_names[3];
            DELETE FROM gdpr.consent_requirement
             WHERE tbl::oid = d.objid AND (col = d.address_names[3] OR subject_col = d.address_names[3]);
        END IF;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION gdpr._forget_dropped_objects() FROM PUBLIC;
CREATE EVENT TRIGGER gdpr_forget_dropped_objects ON sql_drop
    EXECUTE FUNCTION gdpr._forget_dropped_objects();

-- Checks that a literal is valid input for a type, inside a subtransaction (plpgsql's EXCEPTION block).
-- The type comes from pg_catalog.format_type and the value is passed as a parameter.
CREATE FUNCTION gdpr._is_valid_input(value text, typ regtype) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE pg_catalog.format('SELECT CAST($1 AS %s)', pg_catalog.format_type(typ, NULL)) USING value;
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END $$;

-- A value in its type's own text form (bigint '0168' is '168', a uuid lower-case), or NULL if it is not valid
-- input: subject ids are logged and looked up in this form. Cast in a subtransaction, to the type without its
-- modifier (format_type(typ, -1): bpchar, not character = char(1)); output settings fixed so that the form does
-- not depend on the session's DateStyle or float digits (a timestamptz key is still written in the session's
-- time zone).
CREATE FUNCTION gdpr._canonical_input(value text, typ regtype) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp SET datestyle = 'ISO' SET intervalstyle = 'postgres'
SET extra_float_digits = 1 SET bytea_output = 'hex' AS $$
DECLARE
    canonical text;
BEGIN
    EXECUTE pg_catalog.format('SELECT CAST(CAST($1 AS %s) AS text)', pg_catalog.format_type(typ, -1))
        INTO canonical USING value;
    RETURN canonical;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END $$;

-- Security header: nothing in the schema is usable by PUBLIC unless granted below (sql/grants.sql).
REVOKE ALL ON ALL TABLES IN SCHEMA gdpr FROM PUBLIC;
REVOKE ALL ON FUNCTION gdpr._erasure_log_is_append_only(), gdpr._legal_hold_is_kept() FROM PUBLIC;
-- gdpr._is_valid_input stays executable: declare_pii runs as the migration role and only casts a literal.
GRANT USAGE ON SCHEMA gdpr TO PUBLIC;
-- Declarations are not secret: migrations and application CI may read them.
GRANT SELECT ON gdpr.subject, gdpr.pii_policy, gdpr.erase_action, gdpr.link, gdpr.excluded_reference, gdpr.trace,
    gdpr.retention, gdpr.excluded_column, gdpr.owned_reference TO PUBLIC;
