-- The extension uninstalls cleanly (its objects, the event trigger, the config tables) and installs again.
DROP EXTENSION pg_gdpr;
-- (the gdpr schema is created by CREATE EXTENSION but, as for any `schema =` control file, not dropped with it)
SELECT count(*) AS objects_left FROM pg_class WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = 'gdpr');
SELECT count(*) AS functions_left FROM pg_proc WHERE pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = 'gdpr');
SELECT count(*) AS event_triggers FROM pg_event_trigger WHERE evtname LIKE 'gdpr%';
CREATE TABLE after_drop (id int);
DROP TABLE after_drop;                 -- DDL works without the extension's event trigger
CREATE EXTENSION pg_gdpr;
SELECT count(*) AS subjects FROM gdpr.subject;
