-- pg_gdpr: the consent registry (src/consent/). Texts are versioned and stay provable once a consent refers to
-- them; consents are only ever granted and withdrawn, never edited or deleted by the application.

-- One version of a consent text, per purpose ('chat', 'marketing', 'chatbot_leads') and language.
CREATE TABLE gdpr.consent_text (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purpose             text NOT NULL CHECK (purpose ~ '^[a-z_][a-z0-9_]*$'),
    version             text NOT NULL CHECK (version ~ '^\S+$'),
    language            text NOT NULL DEFAULT 'en' CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    body                text NOT NULL CHECK (pg_catalog.btrim(body) <> ''),
    privacy_policy_url  text NOT NULL CHECK (privacy_policy_url ~ '^https?://\S+$'),
    active              boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (purpose, version, language)
);

-- A consent given by a person, for the text they saw. The subject reference is optional: a lead's consent is
-- recorded before the application knows who the visitor is.
CREATE TABLE gdpr.consent (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    text_id       bigint NOT NULL REFERENCES gdpr.consent_text,
    source        text NOT NULL
                  CHECK (source IN ('web_chat_form', 'video_form', 'chatbot', 'offline_form', 'api')),
    subject_kind  text,
    subject_id    text,
    granted_at    timestamptz NOT NULL DEFAULT now(),
    granted_by    name NOT NULL,
    withdrawn_at  timestamptz,
    withdrawn_by  name,
    -- The grant's and the withdrawal's links in the audit chain (sql/audit_chain.sql).
    grant_seq       bigint UNIQUE,
    grant_hash      bytea,
    withdrawal_seq  bigint UNIQUE,
    withdrawal_hash bytea,
    CHECK ((subject_kind IS NULL) = (subject_id IS NULL)),
    CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL))
);
CREATE INDEX consent_text_id ON gdpr.consent (text_id);
CREATE INDEX consent_subject ON gdpr.consent (subject_kind, subject_id, text_id);

-- Columns whose rows may only be written with a valid consent (gdpr.require_consent), and what withdrawing
-- such a consent does to them.
CREATE TABLE gdpr.consent_requirement (
    tbl          regclass NOT NULL,
    col          name NOT NULL,
    purpose      text CHECK (purpose ~ '^[a-z_][a-z0-9_]*$'),
    on_withdraw  text NOT NULL CHECK (on_withdraw IN ('keep', 'block', 'anonymize')),
    -- With a subject column, a row's consent must have been given by that row's subject (of this kind).
    subject_col  name,
    subject_kind text,
    trigger_name name NOT NULL,
    -- The FOREIGN KEY require_consent added (NULL: the column already had one, which is left alone).
    fkey_name    name,
    declared_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tbl, col),
    CHECK ((subject_col IS NULL) = (subject_kind IS NULL))
);

SELECT pg_catalog.pg_extension_config_dump('gdpr.consent_text', '');
SELECT pg_catalog.pg_extension_config_dump('gdpr.consent', '');
SELECT pg_catalog.pg_extension_config_dump('gdpr.consent_requirement', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('gdpr.consent_text', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('gdpr.consent', 'id'), '');

-- Consent must stay provable: once a consent refers to a text, what the person saw (purpose, version,
-- language, body, privacy-policy link) cannot change and the text cannot be deleted. Only `active` may change.
CREATE FUNCTION gdpr._consent_text_is_immutable() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.id, NEW.purpose, NEW.version, NEW.language, NEW.body, NEW.privacy_policy_url,
                             NEW.created_at)
                            IS NOT DISTINCT FROM
                            (OLD.id, OLD.purpose, OLD.version, OLD.language, OLD.body, OLD.privacy_policy_url,
                             OLD.created_at) THEN
        RETURN NEW;
    END IF;
    IF EXISTS (SELECT 1 FROM gdpr.consent c WHERE c.text_id OPERATOR(pg_catalog.=) OLD.id) THEN
        RAISE EXCEPTION 'gdpr: consent text % (purpose %, version %, language %) is referenced by consents and cannot be %',
            OLD.id, OLD.purpose, OLD.version, OLD.language,
            CASE TG_OP WHEN 'UPDATE' THEN 'edited: publish a new version' ELSE 'deleted' END
            USING ERRCODE = '55000';
    END IF;
    RETURN CASE TG_OP WHEN 'UPDATE' THEN NEW ELSE OLD END;
END $$;
CREATE TRIGGER consent_text_is_immutable
    BEFORE UPDATE OR DELETE ON gdpr.consent_text
    FOR EACH ROW EXECUTE FUNCTION gdpr._consent_text_is_immutable();
ALTER TABLE gdpr.consent_text ENABLE ALWAYS TRIGGER consent_text_is_immutable;  -- also under replica role

-- A consent is granted once and withdrawn at most once: the record of what was agreed never changes. Its links in
-- the audit chain (the grant's, the withdrawal's) are set once each, when the transaction commits
-- (sql/proofs.sql), and never change.
CREATE FUNCTION gdpr._consent_is_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND ((OLD.grant_hash IS NOT NULL
             AND (NEW.grant_seq, NEW.grant_hash) IS DISTINCT FROM (OLD.grant_seq, OLD.grant_hash))
            OR (OLD.withdrawal_hash IS NOT NULL
                AND (NEW.withdrawal_seq, NEW.withdrawal_hash) IS DISTINCT FROM (OLD.withdrawal_seq, OLD.withdrawal_hash)))
    THEN
        RAISE EXCEPTION 'gdpr: consent %: its links in the audit chain cannot be changed', OLD.id
            USING ERRCODE = '55000';
    END IF;
    IF TG_OP = 'UPDATE'
       AND (NEW.id, NEW.text_id, NEW.source, NEW.subject_kind, NEW.subject_id, NEW.granted_at, NEW.granted_by,
            NEW.withdrawn_at, NEW.withdrawn_by)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.text_id, OLD.source, OLD.subject_kind, OLD.subject_id, OLD.granted_at, OLD.granted_by,
            OLD.withdrawn_at, OLD.withdrawn_by)
    THEN
        RETURN NEW;  -- a link set
    END IF;
    IF TG_OP = 'UPDATE'
       AND OLD.withdrawn_at IS NULL
       AND (NEW.id, NEW.text_id, NEW.source, NEW.subject_kind, NEW.subject_id, NEW.granted_at, NEW.granted_by)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.text_id, OLD.source, OLD.subject_kind, OLD.subject_id, OLD.granted_at, OLD.granted_by)
    THEN
        RETURN NEW;  -- the withdrawal
    END IF;
    RAISE EXCEPTION 'gdpr: consent % cannot be %: consents are only granted and withdrawn', OLD.id,
        CASE TG_OP WHEN 'UPDATE' THEN 'changed' ELSE 'deleted' END
        USING ERRCODE = '55000';
END $$;
CREATE TRIGGER consent_is_append_only
    BEFORE UPDATE OR DELETE ON gdpr.consent
    FOR EACH ROW EXECUTE FUNCTION gdpr._consent_is_append_only();
CREATE TRIGGER consent_no_truncate
    BEFORE TRUNCATE ON gdpr.consent
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._erasure_log_is_append_only();
-- ALWAYS: `SET session_replication_role = replica` must not let anyone edit or delete consents without DDL.
ALTER TABLE gdpr.consent ENABLE ALWAYS TRIGGER consent_is_append_only;
ALTER TABLE gdpr.consent ENABLE ALWAYS TRIGGER consent_no_truncate;

-- Every consent currently in force: not withdrawn, and the latest of its subject for its purpose (a person who
-- consented, withdrew and consented again is in; one whose latest consent is withdrawn is out).
CREATE VIEW gdpr.current_consents AS
SELECT c.id AS consent_id, t.purpose, t.version, t.language, c.source, c.subject_kind, c.subject_id, c.granted_at
  FROM gdpr.consent c
  JOIN gdpr.consent_text t ON t.id OPERATOR(pg_catalog.=) c.text_id
 WHERE c.withdrawn_at IS NULL
   AND NOT EXISTS (
       SELECT 1 FROM gdpr.consent later
         JOIN gdpr.consent_text lt ON lt.id OPERATOR(pg_catalog.=) later.text_id
        WHERE later.subject_kind OPERATOR(pg_catalog.=) c.subject_kind
          AND later.subject_id OPERATOR(pg_catalog.=) c.subject_id
          AND lt.purpose OPERATOR(pg_catalog.=) t.purpose
          AND (later.granted_at, later.id) OPERATOR(pg_catalog.>) (c.granted_at, c.id)
          AND later.withdrawn_at IS NOT NULL);

-- Whom marketing may contact: join on subject (kind, id) or on the consent id a table stores.
CREATE VIEW gdpr.marketing_consents AS
SELECT consent_id, version, language, source, subject_kind, subject_id, granted_at
  FROM gdpr.current_consents
 WHERE purpose OPERATOR(pg_catalog.=) 'marketing';
