-- Consent: versioned texts, consents, require_consent (trigger + FOREIGN KEY), withdrawal modes, the
-- marketing view, and the ways an application role might try to get around it.
CREATE SCHEMA cs AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA cs TO regress_app, regress_dpo;
SET ROLE regress_owner;
CREATE TABLE cs.visitors (id bigint PRIMARY KEY, email text, marketing_consent_id bigint);
CREATE TABLE cs.leads (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visitor_id  bigint REFERENCES cs.visitors,
    name        text NOT NULL,
    email       text NOT NULL,
    consent_id  bigint
);
CREATE INDEX ON cs.leads (consent_id);
CREATE TABLE cs.callbacks (id bigint PRIMARY KEY, phone text, consent_id bigint);
CREATE TABLE cs.no_pk (phone text, consent_id bigint);
CREATE TABLE cs.wrong_type (id int PRIMARY KEY, consent_id integer);
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA cs TO regress_app;
RESET ROLE;
SELECT gdpr.declare_subject('cs_visitor', 'cs.visitors');
SET ROLE regress_owner;
SELECT gdpr.declare_pii('cs.leads', 'name', 'fake_name');
SELECT gdpr.declare_pii('cs.leads', 'email', 'fake_email');
SELECT gdpr.declare_pii('cs.visitors', 'email', 'fake_email');
RESET ROLE;

-- Texts: published with validation, versioned per purpose and language.
SELECT gdpr.publish_consent_text('leads', 'v1', 'We keep your name and e-mail to call you back.',
                                 'https://shop.example/privacy') AS leads_v1 \gset
SELECT gdpr.publish_consent_text('leads', 'v1', 'Jméno a e-mail uchováme, abychom se ozvali.',
                                 'https://shop.example/soukromi', 'cs') AS leads_v1_cs \gset
SELECT gdpr.publish_consent_text('marketing', 'v1', 'Send me offers.', 'https://shop.example/privacy') AS mkt_v1 \gset
SELECT gdpr.publish_consent_text('leads', 'v0', 'Old wording.', 'https://shop.example/privacy/old') AS leads_v0 \gset
SELECT regress.try($$SELECT gdpr.publish_consent_text('leads', 'v1', 'Again.', 'https://shop.example/privacy')$$);
SELECT regress.try($$SELECT gdpr.publish_consent_text('Leads!', 'v1', 'x', 'https://shop.example/privacy')$$);
SELECT regress.try($$SELECT gdpr.publish_consent_text('leads', 'v 2', 'x', 'https://shop.example/privacy')$$);
SELECT regress.try($$SELECT gdpr.publish_consent_text('leads', 'v2', '  ', 'https://shop.example/privacy')$$);
SELECT regress.try($$SELECT gdpr.publish_consent_text('leads', 'v2', 'x', 'javascript:alert(1)')$$);
SELECT regress.try($$SELECT gdpr.publish_consent_text('leads', 'v2', 'x', 'https://shop.example', 'English')$$);
SELECT regress.try($$SELECT gdpr.publish_consent_text('leads', NULL, 'x', 'https://shop.example')$$);
SELECT id, purpose, version, language, active, privacy_policy_url FROM gdpr.consent_text ORDER BY id;

-- Granting consent.
SELECT gdpr.grant_consent(:leads_v1, 'offline_form') AS c_lead \gset
SELECT gdpr.grant_consent(:leads_v1, 'chatbot') AS c_lead2 \gset
SELECT gdpr.grant_consent(:leads_v1, 'api') AS c_lead3 \gset
SELECT gdpr.grant_consent(:mkt_v1, 'web_chat_form', 'cs_visitor', '1') AS c_mkt \gset
SELECT gdpr.grant_consent(:leads_v0, 'offline_form') AS c_old \gset
SELECT regress.try($$SELECT gdpr.grant_consent(999999, 'api')$$);
SELECT regress.try(format($$SELECT gdpr.grant_consent(%s, 'fax')$$, :leads_v1));
SELECT regress.try(format($$SELECT gdpr.grant_consent(%s, 'api', 'martian', '1')$$, :leads_v1));
SELECT regress.try(format($$SELECT gdpr.grant_consent(%s, 'api', 'cs_visitor')$$, :leads_v1));
SELECT regress.try($$SELECT gdpr.grant_consent(NULL, 'api')$$);
SELECT regress.try(format($$SELECT gdpr.grant_consent(%s, NULL)$$, :leads_v1));
SELECT c.id = :c_mkt AS is_mkt, t.purpose, c.source, c.subject_kind, c.subject_id, c.granted_by,
       c.withdrawn_at IS NULL AS in_force
  FROM gdpr.consent c JOIN gdpr.consent_text t ON t.id = c.text_id ORDER BY c.id;

-- Retiring a text: no new consents to it; existing ones stay on record.
SELECT gdpr.retire_consent_text(:leads_v0);
SELECT regress.try(format($$SELECT gdpr.grant_consent(%s, 'api')$$, :leads_v0));
SELECT regress.try($$SELECT gdpr.retire_consent_text(999999)$$);

-- Provability: a referenced text cannot be edited or deleted; an unreferenced one can be fixed.
SELECT regress.try(format($$UPDATE gdpr.consent_text SET body = 'We keep everything.' WHERE id = %s$$, :leads_v1));
SELECT regress.try(format($$UPDATE gdpr.consent_text SET privacy_policy_url = 'https://x.example' WHERE id = %s$$, :leads_v1));
SELECT regress.try(format($$DELETE FROM gdpr.consent_text WHERE id = %s$$, :leads_v1));
SELECT regress.try(format($$UPDATE gdpr.consent_text SET body = 'Jméno a e-mail uchováme.' WHERE id = %s$$, :leads_v1_cs));
-- ...and a consent is only granted and withdrawn, never rewritten.
SELECT regress.try(format($$UPDATE gdpr.consent SET text_id = %s WHERE id = %s$$, :mkt_v1, :c_lead));
SELECT regress.try(format($$DELETE FROM gdpr.consent WHERE id = %s$$, :c_lead));
SELECT regress.try($$TRUNCATE gdpr.consent CASCADE$$);

-- require_consent: the table's owner with the consent-administration grant only, validated.
SET ROLE regress_app;
SELECT regress.try($$SELECT gdpr.require_consent('cs.leads', 'consent_id', 'leads')$$);
SET ROLE regress_owner;
SELECT regress.try($$SELECT gdpr.require_consent('cs.leads', 'consent_id', 'leads')$$);
RESET ROLE;
SELECT gdpr.grant_consent_administration('regress_owner');
SET ROLE regress_owner;
SELECT regress.try($$SELECT gdpr.require_consent('cs.leads', 'consent', 'leads')$$);
SELECT regress.try($$SELECT gdpr.require_consent('cs.wrong_type', 'consent_id', 'leads')$$);
SELECT regress.try($$SELECT gdpr.require_consent('cs.leads', 'consent_id', 'Leads; DROP TABLE x')$$);
SELECT regress.try($$SELECT gdpr.require_consent('cs.leads', 'consent_id', 'leads', on_withdraw => 'shred')$$);
SELECT regress.try($$SELECT gdpr.require_consent('cs.no_pk', 'consent_id', 'leads', on_withdraw => 'anonymize')$$);
SELECT regress.try($$SELECT gdpr.require_consent(NULL, 'consent_id')$$);
SELECT regress.try($$SELECT gdpr.require_consent('cs.leads', 'consent_id', on_withdraw => NULL)$$);
SELECT gdpr.require_consent('cs.leads', 'consent_id', 'leads', on_withdraw => 'anonymize');
-- Idempotent: the same call again leaves one trigger and one foreign key.
SELECT gdpr.require_consent('cs.leads', 'consent_id', 'leads', on_withdraw => 'anonymize');
SELECT gdpr.require_consent('cs.no_pk', 'consent_id', 'leads', on_withdraw => 'block');
-- A column that already has its own FOREIGN KEY to gdpr.consent keeps it (and drop leaves it).
ALTER TABLE cs.callbacks ADD CONSTRAINT callbacks_consent FOREIGN KEY (consent_id) REFERENCES gdpr.consent;
SELECT gdpr.require_consent('cs.callbacks', 'consent_id');
RESET ROLE;
SELECT table_name, column_name, purpose, on_withdraw, trigger_name, trigger_state, foreign_key
  FROM gdpr.consent_requirements ORDER BY 1::text, 2;
SELECT tgrelid::regclass, tgname, tgtype FROM pg_trigger WHERE tgname LIKE 'gdpr_consent%' ORDER BY 1::text;
SELECT conrelid::regclass, conname FROM pg_constraint
 WHERE confrelid = 'gdpr.consent'::regclass ORDER BY 1::text, 2;

-- The application inserts leads: every refusal path, with its SQLSTATE.
SET ROLE regress_app;
SELECT regress.try($$INSERT INTO cs.leads (name, email, consent_id) VALUES ('Jana', 'jana@mail.example', NULL)$$);
SELECT regress.try($$INSERT INTO cs.leads (name, email) VALUES ('Jana', 'jana@mail.example')$$);
SELECT regress.try($$INSERT INTO cs.leads (name, email, consent_id) VALUES ('Jana', 'jana@mail.example', 999999)$$);
SELECT regress.try(format($$INSERT INTO cs.leads (name, email, consent_id) VALUES ('Jana', 'jana@mail.example', %s)$$, :c_mkt));
SELECT regress.try(format($$INSERT INTO cs.leads (name, email, consent_id) VALUES ('Jana', 'jana@mail.example', %s)$$, :c_old));
SELECT regress.try(format($$INSERT INTO cs.leads (name, email, consent_id) VALUES ('Jana', 'jana@mail.example', %s)$$, :c_lead));
SELECT regress.try(format($$INSERT INTO cs.leads (name, email, consent_id) VALUES ('Petr', 'petr@mail.example', %s)$$, :c_lead2));
-- Several rows in one statement: one bad row refuses the statement, nothing is stored.
SELECT regress.try(format($$INSERT INTO cs.leads (name, email, consent_id) VALUES ('Eva', 'eva@mail.example', %s), ('Bad', 'bad@mail.example', NULL)$$, :c_lead3));
-- Updates of the consent reference are checked too.
SELECT regress.try($$UPDATE cs.leads SET consent_id = NULL WHERE name = 'Jana'$$);
SELECT regress.try(format($$UPDATE cs.leads SET consent_id = %s WHERE name = 'Jana'$$, :c_mkt));
SELECT regress.try(format($$UPDATE cs.leads SET consent_id = %s WHERE name = 'Jana'$$, :c_lead3));
SELECT regress.try(format($$UPDATE cs.leads SET consent_id = %s WHERE name = 'Jana'$$, :c_lead));
RESET ROLE;
-- COPY goes through the trigger as well.
COPY cs.leads (name, email, consent_id) FROM stdin;
Copy	copy@mail.example	\N
\.
SELECT name, email, consent_id = :c_lead AS lead1 FROM cs.leads ORDER BY id;

-- The application cannot get around the trigger: it owns neither the table nor the consent records.
SET ROLE regress_app;
SELECT regress.try($$ALTER TABLE cs.leads DISABLE TRIGGER gdpr_consent_consent_id$$);
SELECT regress.try($$DROP TRIGGER gdpr_consent_consent_id ON cs.leads$$);
SELECT regress.try($$ALTER TABLE cs.leads DROP CONSTRAINT leads_consent_id_fkey$$);
SELECT regress.try($$SET session_replication_role = replica$$);
SELECT regress.try($$SELECT gdpr.drop_consent_requirement('cs.leads', 'consent_id')$$);
SELECT regress.try($$INSERT INTO gdpr.consent (text_id, source, granted_by) VALUES (1, 'api', 'me')$$);
SELECT regress.try(format($$UPDATE gdpr.consent SET withdrawn_at = NULL WHERE id = %s$$, :c_lead));
SELECT regress.try($$INSERT INTO gdpr.consent_text (purpose, version, body, privacy_policy_url) VALUES ('leads', 'v9', 'x', 'https://x')$$);
SELECT regress.try(format($$SELECT gdpr.grant_consent(%s, 'api')$$, :leads_v1));
SELECT regress.try(format($$SELECT gdpr.withdraw_consent(%s)$$, :c_lead));
SELECT regress.try($$SELECT count(*) FROM gdpr.consent$$);
SELECT count(*) AS texts_are_public FROM gdpr.consent_text;
RESET ROLE;
-- Once the DBA lets the application record consents, it can grant one and store the lead.
SELECT gdpr.grant_consent_recording('regress_app');
SET ROLE regress_app;
SELECT gdpr.grant_consent(:leads_v1, 'offline_form') AS c_app \gset
INSERT INTO cs.leads (name, email, consent_id) VALUES ('Olga', 'olga@mail.example', :c_app);
SELECT granted_by FROM gdpr.consent WHERE id = :c_app;
RESET ROLE;

-- The owner can disable the trigger; the catalog view and gdpr.lint() show it.
ALTER TABLE cs.leads DISABLE TRIGGER gdpr_consent_consent_id;
SELECT table_name, trigger_state FROM gdpr.consent_requirements WHERE table_name = 'cs.leads'::regclass;
SELECT kind, severity, object, message FROM gdpr.lint() WHERE kind = 'consent';
ALTER TABLE cs.leads ENABLE TRIGGER gdpr_consent_consent_id;
SELECT count(*) AS consent_findings FROM gdpr.lint() WHERE kind = 'consent';

-- Withdrawal: block refuses while rows depend on the consent, and changes nothing.
SET ROLE regress_owner;
INSERT INTO cs.no_pk VALUES ('+420 601 000 001', :c_lead2);
RESET ROLE;
SELECT regress.try(format($$SELECT gdpr.withdraw_consent(%s)$$, :c_lead2));
SELECT withdrawn_at IS NULL AS still_in_force FROM gdpr.consent WHERE id = :c_lead2;
SELECT name, email FROM cs.leads WHERE consent_id = :c_lead2;
-- anonymize: the rows collected under the consent are erased (policies of cs.leads) in the same transaction.
SELECT name, email FROM cs.leads WHERE consent_id = :c_lead;
SELECT regress.report(gdpr.withdraw_consent(:c_lead)) - 'withdrawn_at' AS withdrawal;
SELECT name <> 'Jana' AS name_changed, email LIKE '%@example.%' AS email_fake FROM cs.leads WHERE consent_id = :c_lead;
SELECT kind, subject_id, rows_total FROM gdpr.erasure_log ORDER BY id DESC LIMIT 1;
-- The same lead cannot be stored again under the withdrawn consent; withdrawing twice is harmless.
SELECT regress.try(format($$INSERT INTO cs.leads (name, email, consent_id) VALUES ('Jana', 'jana@mail.example', %s)$$, :c_lead));
SELECT gdpr.withdraw_consent(:c_lead)->'already_withdrawn' AS again;
SELECT regress.try($$SELECT gdpr.withdraw_consent(999999)$$);
SELECT regress.try($$SELECT gdpr.withdraw_consent(NULL)$$);
-- An UPDATE that keeps a (now withdrawn) reference is not a new use of it; changing other columns works.
UPDATE cs.leads SET email = email WHERE consent_id = :c_lead;
-- keep: only records the withdrawal (cs.callbacks requires any purpose, keep).
INSERT INTO cs.callbacks VALUES (1, '+420 601 222 333', :c_lead3);
SELECT (gdpr.withdraw_consent(:c_lead3)->'tables') AS kept;
SELECT phone FROM cs.callbacks WHERE id = 1;

-- A consent column on a subject table: withdrawing erases the subject (and what hangs off it).
SET ROLE regress_owner;
SELECT gdpr.require_consent('cs.visitors', 'marketing_consent_id', 'marketing', on_withdraw => 'anonymize');
RESET ROLE;
INSERT INTO cs.visitors VALUES (1, 'vera@mail.example', :c_mkt);
SELECT jsonb_path_query(gdpr.withdraw_consent(:c_mkt), '$.tables[*] ? (@.table == "cs.visitors")') AS visitor;
SELECT email <> 'vera@mail.example' AS erased FROM cs.visitors WHERE id = 1;
SELECT kind, subject_id FROM gdpr.erasure_log ORDER BY id DESC LIMIT 1;

-- Who marketing may contact: the latest consent per subject and purpose, not withdrawn.
SELECT gdpr.grant_consent(:mkt_v1, 'web_chat_form', 'cs_visitor', '2') AS m2 \gset
SELECT gdpr.grant_consent(:mkt_v1, 'chatbot', 'cs_visitor', '3') AS m3a \gset
SELECT gdpr.withdraw_consent(:m3a) IS NOT NULL AS withdrawn;
-- Visitor 3 opted in again; visitor 4's latest consent is withdrawn.
SELECT gdpr.grant_consent(:mkt_v1, 'chatbot', 'cs_visitor', '3') AS m3b \gset
SELECT gdpr.grant_consent(:mkt_v1, 'api', 'cs_visitor', '4') AS m4a \gset
SELECT gdpr.grant_consent(:mkt_v1, 'api', 'cs_visitor', '4') AS m4b \gset
SELECT gdpr.withdraw_consent(:m4b) IS NOT NULL AS withdrawn;
SELECT subject_kind, subject_id, consent_id IN (:m2, :m3b) AS expected_consent, version, source
  FROM gdpr.marketing_consents ORDER BY subject_id;
SELECT s AS visitor, gdpr.has_consent('cs_visitor', s, 'marketing') AS marketing,
       gdpr.has_consent('cs_visitor', s, 'leads') AS leads
  FROM unnest(ARRAY['1', '2', '3', '4', '5']) s;
SELECT gdpr.has_consent(:m2, 'marketing') AS m2_marketing, gdpr.has_consent(:m2, 'leads') AS m2_leads,
       gdpr.has_consent(:m4b, 'marketing') AS m4b_withdrawn;
SET ROLE regress_intruder;
SELECT regress.try($$SELECT count(*) FROM gdpr.marketing_consents$$);
SELECT regress.try($$SELECT gdpr.has_consent('cs_visitor', '2', 'marketing')$$);
RESET ROLE;

-- Hostile identifiers are quoted, never executed.
CREATE TABLE cs."lead; DROP TABLE cs.leads; --" (id int PRIMARY KEY, "con""sent" bigint);
SELECT gdpr.require_consent('cs."lead; DROP TABLE cs.leads; --"', 'con"sent', 'leads');
SELECT regress.try($$INSERT INTO cs."lead; DROP TABLE cs.leads; --" VALUES (1, NULL)$$);
SELECT gdpr.drop_consent_requirement('cs."lead; DROP TABLE cs.leads; --"', 'con"sent');
SELECT count(*) AS leads_table_still_there FROM cs.leads;

-- drop_consent_requirement removes the trigger and the foreign key it added, not the application's own.
SET ROLE regress_owner;
SELECT gdpr.drop_consent_requirement('cs.callbacks', 'consent_id');
SELECT regress.try($$SELECT gdpr.drop_consent_requirement('cs.callbacks', 'consent_id')$$);
SELECT gdpr.drop_consent_requirement('cs.no_pk', 'consent_id');
INSERT INTO cs.no_pk VALUES ('+420 601 000 002', NULL);
RESET ROLE;
SELECT conrelid::regclass, conname FROM pg_constraint
 WHERE confrelid = 'gdpr.consent'::regclass ORDER BY 1::text, 2;
-- Dropping the column or the table forgets the requirement.
ALTER TABLE cs.visitors DROP COLUMN marketing_consent_id CASCADE;
SELECT table_name, column_name FROM gdpr.consent_requirements ORDER BY 1::text, 2;

-- The consent trigger is not pinned to a search_path (it runs for every row): a fresh backend whose
-- search_path puts look-alike objects first must still get every check right.
\c
CREATE SCHEMA evil;
CREATE TABLE evil.consent (id bigint, text_id bigint, withdrawn_at timestamptz);
CREATE TABLE evil.consent_text (id bigint, purpose text, version text, active boolean);
CREATE FUNCTION evil.always(bigint, bigint) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.always);
GRANT USAGE ON SCHEMA evil TO PUBLIC;
SET search_path = evil, pg_catalog, public;
SELECT regress.try($$INSERT INTO cs.leads (name, email, consent_id) VALUES ('X', 'x@mail.example', 999999)$$);
SELECT regress.try(format($$INSERT INTO cs.leads (name, email, consent_id) VALUES ('X', 'x@mail.example', %s)$$,
                          (SELECT min(id) FROM gdpr.consent WHERE withdrawn_at IS NOT NULL)));
SELECT regress.try(format($$INSERT INTO cs.leads (name, email, consent_id) VALUES ('X', 'x@mail.example', %s)$$,
                          (SELECT min(c.id) FROM gdpr.consent c JOIN gdpr.consent_text t ON t.id OPERATOR(pg_catalog.=) c.text_id
                            WHERE t.purpose OPERATOR(pg_catalog.=) 'marketing' AND c.withdrawn_at IS NULL)));
RESET search_path;
DROP SCHEMA evil CASCADE;
