-- Installs the extension and the helpers the other tests use.
CREATE EXTENSION pg_gdpr;
SELECT extname, extrelocatable, nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'pg_gdpr';

-- regress.try(sql): runs a statement and shows its SQLSTATE and message instead of aborting the script.
CREATE SCHEMA regress;
CREATE FUNCTION regress.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
GRANT USAGE ON SCHEMA regress TO PUBLIC;

-- regress.report(r): an erasure report without the parts that change from run to run.
CREATE FUNCTION regress.report(r jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT r - 'erasure_id' - 'duration_ms'
$$;

-- Roles used by the security tests.
DO $$
BEGIN
    CREATE ROLE regress_owner LOGIN;      -- owns the application tables, runs migrations
    CREATE ROLE regress_app LOGIN;        -- the application: reads/writes rows, nothing else
    CREATE ROLE regress_dpo LOGIN;        -- granted erasures by the DBA
    CREATE ROLE regress_intruder LOGIN;   -- no grants at all
END $$;
GRANT CREATE ON DATABASE gdpr_regression TO regress_owner;
