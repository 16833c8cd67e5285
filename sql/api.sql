-- pg_gdpr: SQL-level entry points, triggers and grants (runs after every Rust function exists).

-- The two subject kinds chat products have. `id` may be of the key's type (integer, bigint, uuid) or text.
CREATE FUNCTION gdpr.anonymize_guest(id anyelement, dry_run boolean DEFAULT false) RETURNS jsonb
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT gdpr.anonymize_subject('guest', id::text, dry_run) $$;
CREATE FUNCTION gdpr.anonymize_guest(id text, dry_run boolean DEFAULT false) RETURNS jsonb
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT gdpr.anonymize_subject('guest', id, dry_run) $$;
CREATE FUNCTION gdpr.anonymize_session(id anyelement, dry_run boolean DEFAULT false) RETURNS jsonb
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT gdpr.anonymize_subject('session', id::text, dry_run) $$;
CREATE FUNCTION gdpr.anonymize_session(id text, dry_run boolean DEFAULT false) RETURNS jsonb
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT gdpr.anonymize_subject('session', id, dry_run) $$;

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
CREATE TRIGGER declarations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gdpr.key
    FOR EACH STATEMENT EXECUTE FUNCTION gdpr._declarations_changed();

-- Destructive functions and the audit log: nobody but the extension owner until the DBA grants them.
REVOKE ALL ON FUNCTION
    gdpr.anonymize_subject(text, text, boolean),
    gdpr.anonymize_subject(text, text[], boolean),
    gdpr.anonymize_guest(anyelement, boolean),
    gdpr.anonymize_guest(text, boolean),
    gdpr.anonymize_session(anyelement, boolean),
    gdpr.anonymize_session(text, boolean),
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
    gdpr.pseudonymize_database(integer)
FROM PUBLIC;
REVOKE ALL ON gdpr.erasure_log FROM PUBLIC;

-- One call for the DBA: lets `role` run erasures and read the audit log (never write it).
CREATE FUNCTION gdpr.grant_erasure(role regrole) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION gdpr.anonymize_subject(text, text, boolean),
             gdpr.anonymize_subject(text, text[], boolean), gdpr.anonymize_guest(anyelement, boolean),
             gdpr.anonymize_guest(text, boolean), gdpr.anonymize_session(anyelement, boolean),
             gdpr.anonymize_session(text, boolean) TO %I', role::text);
    EXECUTE pg_catalog.format('GRANT SELECT ON gdpr.erasure_log TO %I', role::text);
END $$;
REVOKE ALL ON FUNCTION gdpr.grant_erasure(regrole) FROM PUBLIC;

-- Lets `role` pseudonymize whole tables (with its own table privileges) and call the keyed strategy functions.
CREATE FUNCTION gdpr.grant_pseudonymization(role regrole) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION gdpr.pseudonymize_table(regclass, integer), gdpr.pseudonymize_database(integer),
             gdpr.hash(text), gdpr.fake_email(text), gdpr.fake_name(text), gdpr.fake_first_name(text),
             gdpr.fake_last_name(text), gdpr.fake_city(text), gdpr.fake_company(text), gdpr.fake_address(text),
             gdpr.fake_phone(text), gdpr.pseudonymize_jsonb(jsonb, jsonb) TO %I',
        role::text);
END $$;
REVOKE ALL ON FUNCTION gdpr.grant_pseudonymization(regrole) FROM PUBLIC;
