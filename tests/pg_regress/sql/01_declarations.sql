-- Declarations: validated at once, idempotent, stored in config tables, every error with its SQLSTATE.
CREATE SCHEMA decl;
CREATE TABLE decl.guests (
    id      integer PRIMARY KEY,
    email   text UNIQUE,
    name    text NOT NULL,
    phone   varchar(20),
    code    varchar(10),
    age     integer,
    ip      inet,
    visits  integer NOT NULL DEFAULT 0
);
CREATE TABLE decl.sessions (id bigint PRIMARY KEY, guest_id integer REFERENCES decl.guests, note text);
CREATE TABLE decl.no_pk (guest_ref integer, kind text, payload text);
CREATE VIEW decl.guest_view AS SELECT * FROM decl.guests;

-- subjects
SELECT gdpr.declare_subject('guest', 'decl.guests');
SELECT gdpr.declare_subject('guest', 'decl.guests');       -- idempotent
SELECT kind, tbl FROM gdpr.subject;
SELECT regress.try($$SELECT gdpr.declare_subject('Guest!', 'decl.guests')$$);
SELECT regress.try($$SELECT gdpr.declare_subject('log', 'decl.no_pk')$$);
SELECT regress.try($$SELECT gdpr.declare_subject('guest', 'decl.missing')$$);
SELECT regress.try($$SELECT gdpr.declare_subject('view', 'decl.guest_view')$$);
SELECT regress.try($$SELECT gdpr.declare_subject(NULL, 'decl.guests')$$);
SELECT regress.try($$SELECT gdpr.declare_subject('guest', NULL)$$);

-- policies: the vocabulary and the column checks
SELECT gdpr.declare_pii('decl.guests', 'email', 'fake_email');
SELECT gdpr.declare_pii('decl.guests', 'email', 'hash');    -- re-declaring replaces the strategy
SELECT gdpr.declare_pii('decl.guests', 'name', 'fake_name');
SELECT gdpr.declare_pii('decl.guests', 'phone', 'fake_phone');
SELECT gdpr.declare_pii('decl.guests', 'ip', 'null');
SELECT gdpr.declare_pii('decl.guests', 'age', 'constant', '{"value": 0}');
SELECT gdpr.declare_pii('decl.guests', 'visits', 'keep');
SELECT gdpr.declare_pii('decl.sessions', 'note', 'mask', '{"keep_first": 2, "keep_last": 1}');
SELECT tbl, col, strategy, options FROM gdpr.pii_policy ORDER BY tbl::text, col;

SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'email', 'rot13')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'email', 'md5(email)')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'nope', 'null')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'name', 'null')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'age', 'hash')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'ip', 'fake_email')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'code', 'hash')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'code', 'fake_email')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'email', 'mask')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'email', 'constant', '{"value": "x"}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'age', 'constant', '{"value": "forty"}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'age', 'constant')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'age', 'constant', '{"value": 1, "extra": 2}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.sessions', 'note', 'mask', '{"keep_first": -1}')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.sessions', 'note', 'mask', '[1, 2]')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'id', 'null')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.sessions', 'id', 'hash')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'email', NULL)$$);
-- nothing of the failed calls was stored
SELECT tbl, col, strategy, options FROM gdpr.pii_policy ORDER BY tbl::text, col;

-- erase actions
SELECT gdpr.declare_erase_action('decl.sessions', 'delete');
SELECT gdpr.declare_erase_action('decl.sessions', 'delete');
SELECT regress.try($$SELECT gdpr.declare_erase_action('decl.sessions', 'truncate')$$);
SELECT tbl, action FROM gdpr.erase_action;

-- links
SELECT gdpr.declare_link('decl.no_pk', '{guest_ref}', 'decl.guests', '{id}');
SELECT gdpr.declare_link('decl.no_pk', '{guest_ref}', 'decl.guests', '{id}');   -- idempotent
SELECT gdpr.declare_link('decl.no_pk', '{guest_ref}', 'decl.guests', '{id}', type_col => 'kind', type_value => 'Guest');
SELECT child, child_cols, parent, parent_cols, type_col, type_value FROM gdpr.link ORDER BY id;
SELECT regress.try($$SELECT gdpr.declare_link('decl.no_pk', '{guest_ref, kind}', 'decl.guests', '{id}')$$);
SELECT regress.try($$SELECT gdpr.declare_link('decl.no_pk', '{nope}', 'decl.guests', '{id}')$$);
SELECT regress.try($$SELECT gdpr.declare_link('decl.no_pk', '{guest_ref}', 'decl.guests', '{nope}')$$);
SELECT regress.try($$SELECT gdpr.declare_link('decl.no_pk', '{guest_ref}', 'decl.guests', '{id}', type_col => 'kind')$$);
SELECT regress.try($$SELECT gdpr.declare_link('decl.no_pk', '{}', 'decl.guests', '{}')$$);
SELECT regress.try($$SELECT gdpr.declare_link('decl.no_pk', '{guest_ref}', 'decl.missing', '{id}')$$);
-- a column other rows point at (by FOREIGN KEY or link) cannot be pseudonymized; a referencing one can
-- a link targets the parent's primary key or a unique key, as a FOREIGN KEY would (42830)
SELECT regress.try($$SELECT gdpr.declare_link('decl.no_pk', '{kind}', 'decl.guests', '{code}')$$);
SELECT gdpr.declare_link('decl.no_pk', '{kind}', 'decl.guests', '{email}');
SELECT regress.try($$SELECT gdpr.declare_pii('decl.guests', 'email', 'null')$$);
SELECT regress.try($$SELECT gdpr.declare_pii('decl.no_pk', 'guest_ref', 'null')$$);

-- excluded references
SELECT gdpr.exclude_reference('decl.sessions', '{guest_id}');
SELECT gdpr.exclude_reference('decl.sessions', '{guest_id}');
SELECT child, child_cols FROM gdpr.excluded_reference;
SELECT regress.try($$SELECT gdpr.exclude_reference('decl.sessions', '{note}')$$);

-- dropping a column or a table drops its declarations
DROP VIEW decl.guest_view;
ALTER TABLE decl.guests DROP COLUMN phone;
SELECT col FROM gdpr.pii_policy WHERE tbl = 'decl.guests'::regclass ORDER BY col;
DROP TABLE decl.no_pk;
SELECT count(*) AS links_left FROM gdpr.link;
DROP SCHEMA decl CASCADE;
SELECT (SELECT count(*) FROM gdpr.subject) AS subjects, (SELECT count(*) FROM gdpr.pii_policy) AS policies,
       (SELECT count(*) FROM gdpr.erase_action) AS actions, (SELECT count(*) FROM gdpr.excluded_reference) AS exclusions;
