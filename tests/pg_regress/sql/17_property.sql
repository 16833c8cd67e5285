-- Property: a dry run predicts the real erasure. Over randomly generated schemas (seeded, so the same schemas,
-- rows and subjects every run), a dry run that succeeds is followed by a real erasure that succeeds with the
-- same rows per table and action, and a dry run that fails is followed by a real erasure that fails with the
-- same SQLSTATE.
--
-- Each schema prop_<s> has 3-7 tables t1..tN (t1 the subject table): integer or composite primary keys, tables
-- with only a UNIQUE key or no key at all; foreign keys down the table order (each table hangs off an earlier
-- one), self-references and keys back up the order (cycles), single-column and composite, NOT NULL or not,
-- ON DELETE NO ACTION / RESTRICT / CASCADE / SET NULL, some DEFERRABLE (initially deferred or immediate);
-- some excluded (gdpr.exclude_reference); declared links (some polymorphic, some dangling, some excluded);
-- delete or anonymize per table; policies null / hash / fake_name / constant / mask / scrub on the text
-- columns, null on some referencing columns. Rows reference random rows, so subjects share rows.
-- Three random subjects of each schema are erased one after the other, each in its own transaction as in
-- production: the dry run, then the real erasure (kept when it succeeds: the next subject sees its effects);
-- deferred foreign keys are checked before the real erasure counts as a success (SET CONSTRAINTS ALL
-- IMMEDIATE: what its COMMIT would check). After a successful erasure the subject's row must be gone or its
-- name changed.
--
-- The output: a summary, the coverage (the test fails when too few cases exercise what matters), every
-- mismatch in full, the script (DDL, rows, declarations, erasures) of every schema with a mismatch — replay it
-- to reproduce — and the cleanup.
SET client_min_messages = warning;
CREATE SCHEMA prop;
CREATE TABLE prop.tab (
    s int, t int, keykind text, nrows int, action text, name_unique boolean, name_policy text, info_policy text,
    PRIMARY KEY (s, t));
-- references: foreign keys (kind fk) and declared links (kind link)
CREATE TABLE prop.ref (
    s int, name text, child int, parent int, kind text, edge text, ondelete text, dfr text,
    not_null boolean, excluded boolean, poly boolean, null_policy boolean, cols text[], PRIMARY KEY (s, name));
CREATE TABLE prop.subject (s int, no int, key text[], name text, PRIMARY KEY (s, no));
CREATE TABLE prop.script (s int, seq int, stmt text, PRIMARY KEY (s, seq));
CREATE TABLE prop.gen_error (s int PRIMARY KEY, state text, msg text);
CREATE TABLE prop.result (
    s int, no int, dry_state text, dry_msg text, dry_report jsonb, real_state text, real_msg text, real_report jsonb,
    subject_erased boolean, PRIMARY KEY (s, no));

CREATE FUNCTION prop.rnd(lo int, hi int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    RETURN lo + floor(random() * (hi - lo + 1))::int;
END $$;

-- Runs a statement of schema s and appends it to the schema's script.
CREATE FUNCTION prop.exec(s int, stmt text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO prop.script
    SELECT exec.s, coalesce(max(p.seq), 0) + 1, exec.stmt FROM prop.script p WHERE p.s = exec.s;
    EXECUTE stmt;
END $$;

CREATE FUNCTION prop.key_cols(keykind text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE keykind WHEN 'comp' THEN ARRAY['k1', 'k2'] ELSE ARRAY['id'] END $$;
-- The key of row r (1..nrows) of a table.
CREATE FUNCTION prop.key_of(keykind text, r int) RETURNS int[] LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE keykind WHEN 'comp' THEN ARRAY[1 + r % 3, r] ELSE ARRAY[r] END $$;

-- A reference of table c to table p (p = c: a self-reference; p > c: back up the order, a cycle).
CREATE FUNCTION prop.add_ref(s int, c int, p int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    n int := (SELECT count(*) + 1 FROM prop.ref r WHERE r.s = add_ref.s AND r.child = c);
    name text := format('t%s_r%s', c, n);
    pk text := (SELECT keykind FROM prop.tab WHERE tab.s = add_ref.s AND t = p);
    edge text := CASE WHEN p < c THEN 'fwd' WHEN p = c THEN 'self' ELSE 'back' END;
    x float8;
    dfr text;
    nn boolean;
    ondelete text;
BEGIN
    x := random();
    dfr := CASE WHEN x < 0.15 THEN 'deferred' WHEN x < 0.25 THEN 'immediate' ELSE 'no' END;
    nn := CASE WHEN edge = 'fwd' THEN random() < 0.5 ELSE dfr = 'deferred' AND random() < 0.4 END;
    x := random();
    ondelete := CASE WHEN x < 0.35 THEN 'NO ACTION' WHEN x < 0.5 THEN 'RESTRICT' WHEN x < 0.8 THEN 'CASCADE'
                     ELSE 'SET NULL' END;
    -- SET NULL on a NOT NULL column can only fail; kept now and then (a schema bug the erasure must survive
    -- or refuse alike in both runs)
    IF ondelete = 'SET NULL' AND nn AND random() >= 0.15 THEN
        ondelete := 'NO ACTION';
    END IF;
    INSERT INTO prop.ref VALUES (s, name, c, p, 'fk', edge, ondelete, dfr, nn, random() < 0.2, false,
        -- a `null` policy on a nullable one-column reference
        NOT nn AND pk <> 'comp' AND random() < 0.08,
        CASE WHEN pk = 'comp' THEN ARRAY[name || 'a', name || 'b'] ELSE ARRAY[name] END);
END $$;

-- A random table of schema s among those satisfying cond (NULL if none).
CREATE FUNCTION prop.pick(s int, cond text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    ts int[];
BEGIN
    EXECUTE format('SELECT array_agg(t ORDER BY t) FROM prop.tab WHERE s = $1 AND (%s)', cond) INTO ts USING s;
    IF ts IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN ts[prop.rnd(1, cardinality(ts))];
END $$;

CREATE FUNCTION prop.gen(s int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    sch text := 'prop_' || s;
    nt int;
    ti int;
    x float8;
    k int;
    p int;
    tb record;
    rf record;
    cols text[];
    rows text[];
    vals text[];
    upd text[];
    key int[];
    r int;
    lname text;
    pol text;
BEGIN
    PERFORM setseed(s / 1000.0);
    nt := prop.rnd(3, 7);
    FOR ti IN 1..nt LOOP
        x := random();
        INSERT INTO prop.tab (s, t, keykind, nrows, action, name_unique)
        VALUES (s, ti,
                CASE WHEN ti = 1 THEN CASE WHEN x < 0.2 THEN 'comp' ELSE 'int' END
                     WHEN x < 0.55 THEN 'int' WHEN x < 0.75 THEN 'comp' WHEN x < 0.85 THEN 'uniq' ELSE 'nopk' END,
                prop.rnd(4, 12), NULL, NULL);
        UPDATE prop.tab SET action = CASE WHEN random() < CASE WHEN ti = 1 THEN 0.3 ELSE 0.4 END
                                          THEN 'delete' ELSE 'anonymize' END
         WHERE tab.s = gen.s AND tab.t = ti;
        UPDATE prop.tab SET name_unique = random() < 0.2 WHERE tab.s = gen.s AND tab.t = ti;
        x := random();
        UPDATE prop.tab
           SET name_policy = CASE WHEN name_unique THEN
                                      CASE WHEN x < 0.2 THEN 'none' WHEN x < 0.45 THEN 'null'
                                           WHEN x < 0.7 THEN 'hash' ELSE 'fake_name' END
                                  ELSE CASE WHEN x < 0.2 THEN 'none' WHEN x < 0.4 THEN 'null' WHEN x < 0.55 THEN 'hash'
                                            WHEN x < 0.75 THEN 'fake_name' WHEN x < 0.85 THEN 'constant' ELSE 'mask' END
                             END
         WHERE tab.s = gen.s AND tab.t = ti;
        x := random();
        UPDATE prop.tab SET info_policy = CASE WHEN x < 0.4 THEN 'none' WHEN x < 0.7 THEN 'null'
                                               WHEN x < 0.85 THEN 'scrub' ELSE 'constant' END
         WHERE tab.s = gen.s AND tab.t = ti;
    END LOOP;

    -- foreign keys down the order: every table hangs off an earlier one (one or two parents)
    FOR ti IN 2..nt LOOP
        FOR k IN 1..CASE WHEN random() < 0.3 THEN 2 ELSE 1 END LOOP
            p := prop.pick(s, format('t < %s AND keykind <> %L', ti, 'nopk'));
            PERFORM prop.add_ref(s, ti, p);
        END LOOP;
    END LOOP;
    -- self-references and references back up the order (cycles)
    FOR ti IN 1..nt LOOP
        IF random() < 0.2 AND (SELECT keykind <> 'nopk' FROM prop.tab WHERE tab.s = gen.s AND tab.t = ti) THEN
            PERFORM prop.add_ref(s, ti, ti);
        END IF;
        IF random() < 0.3 THEN
            p := prop.pick(s, format('t > %s AND keykind <> %L', ti, 'nopk'));
            IF p IS NOT NULL THEN
                PERFORM prop.add_ref(s, ti, p);
            END IF;
        END IF;
    END LOOP;
    -- declared links (no FOREIGN KEY) onto a one-column key of any table, some polymorphic, some excluded
    FOR ti IN 1..nt LOOP
        IF random() < 0.25 THEN
            p := prop.pick(s, format('keykind IN (%L, %L)', 'int', 'uniq'));
            lname := format('t%s_l%s', ti, (SELECT count(*) + 1 FROM prop.ref WHERE ref.s = gen.s AND child = ti));
            INSERT INTO prop.ref VALUES (s, lname, ti, p, 'link', CASE WHEN p < ti THEN 'fwd' WHEN p = ti THEN 'self' ELSE 'back' END,
                                         NULL, NULL, false, random() < 0.1, random() < 0.3, false, ARRAY[lname]);
        END IF;
    END LOOP;

    -- rows that reference deleted rows through a followed NO ACTION / RESTRICT key are mostly deleted too (else
    -- the erasure is refused, 42P17, and fewer erasures get as far as changing rows)
    FOR rf IN SELECT ref.* FROM prop.ref WHERE ref.s = gen.s AND kind = 'fk' AND NOT excluded
                 AND ondelete IN ('NO ACTION', 'RESTRICT') ORDER BY child, name LOOP
        IF (SELECT action FROM prop.tab WHERE tab.s = gen.s AND tab.t = rf.parent) = 'delete' AND random() < 0.6 THEN
            UPDATE prop.tab SET action = 'delete' WHERE tab.s = gen.s AND tab.t = rf.child;
        END IF;
    END LOOP;

    PERFORM prop.exec(s, format('CREATE SCHEMA %I', sch));
    FOR tb IN SELECT * FROM prop.tab WHERE tab.s = gen.s ORDER BY tab.t LOOP
        cols := CASE tb.keykind WHEN 'int' THEN ARRAY['id int PRIMARY KEY'] WHEN 'comp' THEN ARRAY['k1 int', 'k2 int']
                                WHEN 'uniq' THEN ARRAY['id int UNIQUE'] ELSE ARRAY['id int'] END
                || ('name text' || CASE WHEN tb.name_unique THEN ' UNIQUE' ELSE '' END) || 'info text'::text;
        FOR rf IN SELECT * FROM prop.ref WHERE ref.s = gen.s AND child = tb.t ORDER BY name LOOP
            cols := cols || ARRAY(SELECT c || ' int' || CASE WHEN rf.not_null THEN ' NOT NULL' ELSE '' END FROM unnest(rf.cols) c);
            IF rf.poly THEN
                cols := cols || (rf.name || '_type text');
            END IF;
        END LOOP;
        IF tb.keykind = 'comp' THEN
            cols := cols || 'PRIMARY KEY (k1, k2)'::text;
        END IF;
        PERFORM prop.exec(s, format('CREATE TABLE %I.t%s (%s)', sch, tb.t, array_to_string(cols, ', ')));
    END LOOP;
    FOR rf IN SELECT ref.*, tab.keykind FROM prop.ref JOIN prop.tab ON tab.s = ref.s AND tab.t = ref.parent
               WHERE ref.s = gen.s AND kind = 'fk' ORDER BY child, name LOOP
        PERFORM prop.exec(s, format('ALTER TABLE %I.t%s ADD CONSTRAINT %I FOREIGN KEY (%s) REFERENCES %I.t%s (%s) ON DELETE %s%s',
            sch, rf.child, rf.name, array_to_string(rf.cols, ', '), sch, rf.parent,
            array_to_string(prop.key_cols(rf.keykind), ', '), rf.ondelete,
            CASE rf.dfr WHEN 'deferred' THEN ' DEFERRABLE INITIALLY DEFERRED'
                               WHEN 'immediate' THEN ' DEFERRABLE INITIALLY IMMEDIATE' ELSE '' END));
    END LOOP;

    -- rows; references to later tables and self-references that are checked at once are set afterwards
    FOR tb IN SELECT * FROM prop.tab WHERE tab.s = gen.s ORDER BY tab.t LOOP
        rows := ARRAY[]::text[];
        FOR r IN 1..tb.nrows LOOP
            vals := ARRAY(SELECT v::text FROM unnest(prop.key_of(tb.keykind, r)) v)
                    || quote_literal(format('%s %s-%s', CASE WHEN tb.t = 1 THEN 'Subject' ELSE 'Row' END, tb.t, r))
                    || quote_literal(format('note %s.%s, call +420 600 %s%s%s 000', tb.t, r, tb.t, r % 10, (r * 7) % 10));
            FOR rf IN SELECT ref.*, tab.keykind, tab.nrows FROM prop.ref JOIN prop.tab ON tab.s = ref.s AND tab.t = ref.parent
                       WHERE ref.s = gen.s AND child = tb.t ORDER BY name LOOP
                IF rf.kind = 'link' THEN
                    x := random();
                    vals := vals || CASE WHEN x < 0.7 THEN prop.rnd(1, rf.nrows)::text WHEN x < 0.85 THEN 'NULL' ELSE '999' END;
                    IF rf.poly THEN
                        vals := vals || CASE WHEN random() < 0.75 THEN '''p''' ELSE '''q''' END;
                    END IF;
                ELSIF rf.edge = 'fwd' OR rf.dfr = 'deferred' THEN
                    IF NOT rf.not_null AND random() < 0.2 THEN
                        vals := vals || array_fill('NULL'::text, ARRAY[cardinality(rf.cols)]);
                    ELSE
                        vals := vals || ARRAY(SELECT v::text FROM unnest(prop.key_of(rf.keykind, prop.rnd(1, rf.nrows))) v);
                    END IF;
                ELSE
                    vals := vals || array_fill('NULL'::text, ARRAY[cardinality(rf.cols)]);
                END IF;
            END LOOP;
            rows := rows || ('(' || array_to_string(vals, ', ') || ')');
        END LOOP;
        PERFORM prop.exec(s, format('INSERT INTO %I.t%s VALUES %s', sch, tb.t, array_to_string(rows, ', ')));
    END LOOP;
    FOR rf IN SELECT ref.*, tab.keykind, tab.nrows, c.keykind AS ckeykind, c.nrows AS cnrows
                FROM prop.ref JOIN prop.tab ON tab.s = ref.s AND tab.t = ref.parent
                JOIN prop.tab c ON c.s = ref.s AND c.t = ref.child
               WHERE ref.s = gen.s AND kind = 'fk' AND edge <> 'fwd' AND dfr <> 'deferred' ORDER BY child, name LOOP
        upd := ARRAY[]::text[];
        FOR r IN 1..rf.cnrows LOOP
            IF random() < 0.7 THEN
                key := prop.key_of(rf.keykind, prop.rnd(1, rf.nrows));
                upd := upd || format('(%s, %s)', array_to_string(prop.key_of(rf.ckeykind, r), ', '), array_to_string(key, ', '));
            END IF;
        END LOOP;
        IF cardinality(upd) > 0 THEN
            PERFORM prop.exec(s, format('UPDATE %I.t%s AS c SET %s FROM (VALUES %s) AS v(%s) WHERE %s',
                sch, rf.child,
                (SELECT string_agg(format('%I = v.%I', c, c), ', ') FROM unnest(rf.cols) c),
                array_to_string(upd, ', '),
                array_to_string(ARRAY(SELECT 'key_' || c FROM unnest(prop.key_cols(rf.ckeykind)) c) || rf.cols, ', '),
                (SELECT string_agg(format('c.%I = v.key_%s', c, c), ' AND ') FROM unnest(prop.key_cols(rf.ckeykind)) c)));
        END IF;
    END LOOP;

    -- declarations
    PERFORM prop.exec(s, format('SELECT gdpr.declare_subject(%L, %L)', sch, sch || '.t1'));
    FOR tb IN SELECT * FROM prop.tab WHERE tab.s = gen.s ORDER BY tab.t LOOP
        IF tb.action = 'delete' THEN
            PERFORM prop.exec(s, format('SELECT gdpr.declare_erase_action(%L, %L)', sch || '.t' || tb.t, 'delete'));
        END IF;
        FOREACH pol IN ARRAY ARRAY['name:' || tb.name_policy, 'info:' || tb.info_policy] LOOP
            CONTINUE WHEN split_part(pol, ':', 2) = 'none';
            PERFORM prop.exec(s, format('SELECT gdpr.declare_pii(%L, %L, %L, %L)', sch || '.t' || tb.t,
                split_part(pol, ':', 1), split_part(pol, ':', 2),
                CASE split_part(pol, ':', 2) WHEN 'constant' THEN '{"value": "[erased]"}' ELSE '{}' END));
        END LOOP;
    END LOOP;
    FOR rf IN SELECT ref.* FROM prop.ref WHERE ref.s = gen.s ORDER BY child, name LOOP
        IF rf.kind = 'link' THEN
            PERFORM prop.exec(s, format('SELECT gdpr.declare_link(%L, %L, %L, %L%s)', sch || '.t' || rf.child,
                '{' || rf.name || '}', sch || '.t' || rf.parent, '{id}',
                CASE WHEN rf.poly THEN format(', type_col => %L, type_value => %L', rf.name || '_type', 'p') ELSE '' END));
        END IF;
        IF rf.null_policy THEN
            PERFORM prop.exec(s, format('SELECT gdpr.declare_pii(%L, %L, %L)', sch || '.t' || rf.child, rf.cols[1], 'null'));
        END IF;
        IF rf.excluded THEN
            PERFORM prop.exec(s, format('SELECT gdpr.exclude_reference(%L, %L)', sch || '.t' || rf.child,
                '{' || array_to_string(rf.cols, ',') || '}'));
        END IF;
    END LOOP;

    -- three subjects (the same one twice now and then)
    SELECT * INTO tb FROM prop.tab WHERE tab.s = gen.s AND tab.t = 1;
    FOR k IN 1..3 LOOP
        r := prop.rnd(1, tb.nrows);
        INSERT INTO prop.subject VALUES (s, k, prop.key_of(tb.keykind, r)::text[], format('Subject 1-%s', r));
    END LOOP;
END $$;

-- The dry run, then the real erasure, of subject no of schema s; the real one stays if it succeeds.
CREATE FUNCTION prop.erase(s int, no int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    sch text := 'prop_' || s;
    subj prop.subject;
    t1 prop.tab;
    fcall text;
    d jsonb;
    r jsonb;
    dst text;
    dmsg text;
    rst text;
    rmsg text;
    erased boolean;
    cur_name text;
    nfound int;
BEGIN
    SELECT * INTO subj FROM prop.subject WHERE subject.s = erase.s AND subject.no = erase.no;
    SELECT * INTO t1 FROM prop.tab WHERE tab.s = erase.s AND t = 1;
    fcall := format('gdpr.anonymize_subject(%L, %s', sch,
                   CASE WHEN t1.keykind = 'comp' THEN quote_literal(subj.key) || '::text[]' ELSE quote_literal(subj.key[1]) END);
    BEGIN
        EXECUTE 'SELECT ' || fcall || ', dry_run => true)' INTO d;
        dst := 'ok';
    EXCEPTION WHEN OTHERS THEN
        dst := SQLSTATE;
        dmsg := SQLERRM;
    END;
    BEGIN
        EXECUTE 'SELECT ' || fcall || ')' INTO r;
        SET CONSTRAINTS ALL IMMEDIATE;   -- what COMMIT would check of the deferred foreign keys
        rst := 'ok';
    EXCEPTION WHEN OTHERS THEN
        rst := SQLSTATE;
        rmsg := SQLERRM;
    END;
    INSERT INTO prop.script SELECT erase.s, max(p.seq) + 1,
        format('SELECT %s); -- subject %s: dry run %s, erasure %s', fcall, no, dst, rst)
      FROM prop.script p WHERE p.s = erase.s;
    IF rst = 'ok' AND NOT coalesce((r->>'already_erased')::boolean, false) THEN
        EXECUTE format('SELECT name FROM %I.t1 WHERE (%s) = (%s)', sch, array_to_string(prop.key_cols(t1.keykind), ', '),
                       array_to_string(subj.key, ', ')) INTO cur_name;
        GET DIAGNOSTICS nfound = ROW_COUNT;
        erased := CASE WHEN nfound = 0 THEN true
                       WHEN t1.action = 'delete' THEN false
                       WHEN t1.name_policy = 'none' THEN true   -- nothing declared to change in the name
                       ELSE cur_name IS DISTINCT FROM subj.name END;
    END IF;
    INSERT INTO prop.result VALUES (s, no, dst, dmsg, d - 'erasure_id' - 'duration_ms', rst, rmsg,
                                    r - 'erasure_id' - 'duration_ms', erased);
END $$;

-- 60 schemas, 3 subjects each; every erasure in its own transaction.
DO $$
BEGIN
    FOR sn IN 1..60 LOOP
        BEGIN
            PERFORM prop.gen(sn);
        EXCEPTION WHEN OTHERS THEN
            INSERT INTO prop.gen_error VALUES (sn, SQLSTATE, SQLERRM);
        END;
        COMMIT;
        CONTINUE WHEN EXISTS (SELECT FROM prop.gen_error e WHERE e.s = sn);
        FOR n IN 1..3 LOOP
            PERFORM prop.erase(sn, n);
            COMMIT;
        END LOOP;
    END LOOP;
END $$;

-- Per erasure: the rows per table and action of each run, and what the runs disagree on.
CREATE VIEW prop.compared AS
SELECT x.*, CASE
           WHEN dry_state <> real_state THEN 'outcome'
           WHEN dry_state <> 'ok' THEN NULL
           WHEN (dry_report->>'already_erased') IS DISTINCT FROM (real_report->>'already_erased') THEN 'already_erased'
           -- a `keep` leaf is only looked at by a dry run: it may be missing from the real report
           WHEN EXISTS (SELECT FROM jsonb_each(real_rows) e WHERE dry_rows->e.key IS DISTINCT FROM e.value)
             OR EXISTS (SELECT FROM jsonb_each(dry_rows) e
                         WHERE e.value->>0 <> 'keep' AND real_rows->e.key IS DISTINCT FROM e.value) THEN 'rows'
           WHEN NOT subject_erased THEN 'subject row left'
       END AS mismatch
  FROM (SELECT res.*,
               (SELECT coalesce(jsonb_object_agg(t->>'table', jsonb_build_array(t->>'action', (t->>'rows')::int)), '{}')
                  FROM jsonb_array_elements(dry_report->'tables') t) AS dry_rows,
               (SELECT coalesce(jsonb_object_agg(t->>'table', jsonb_build_array(t->>'action', (t->>'rows')::int)), '{}')
                  FROM jsonb_array_elements(real_report->'tables') t) AS real_rows
          FROM prop.result res) x;

-- Every reference a real erasure went through (with rows), and what it is.
CREATE VIEW prop.used AS
SELECT c.s, c.no, e->>'table' AS child_table, e->>'action' AS child_action, (v->>'rows')::int AS rows,
       substring(v->>'reference' FROM ' → ([^(]+)\(') AS parent_table,
       substring(v->>'reference' FROM 'by foreign key (\S+)$') AS fk,
       ref.child, ref.parent, ref.kind, ref.edge, ref.ondelete, ref.dfr, ref.excluded, ref.cols
  FROM prop.compared c CROSS JOIN LATERAL jsonb_array_elements(c.real_report->'tables') e
       CROSS JOIN LATERAL jsonb_array_elements(e->'via') v
  LEFT JOIN prop.ref ON ref.s = c.s AND ref.name = substring(v->>'reference' FROM 'by foreign key (\S+)$')
 WHERE c.real_state = 'ok' AND (v->>'rows')::int > 0;

SELECT count(DISTINCT s) AS schemas, (SELECT count(*) FROM prop.tab) AS tables,
       (SELECT count(*) FROM prop.ref WHERE kind = 'fk') AS foreign_keys, (SELECT count(*) FROM prop.ref WHERE kind = 'link') AS links,
       (SELECT count(*) FROM prop.gen_error) AS generation_errors,
       count(*) AS erasures, count(*) FILTER (WHERE dry_state = 'ok') AS dry_ok,
       count(*) FILTER (WHERE real_state = 'ok') AS real_ok,
       count(*) FILTER (WHERE mismatch IS NOT NULL) AS mismatches
  FROM prop.compared;
SELECT dry_state, real_state, count(*) AS erasures FROM prop.compared GROUP BY 1, 2 ORDER BY 1, 2;

-- Coverage: how many erasures exercised each thing; the minimum guards against a generator that stopped
-- producing it (the counts themselves follow from the seed).
SELECT what, n, n >= minimum AS enough FROM (VALUES
    ('real erasures that succeeded',
     (SELECT count(*) FROM prop.compared WHERE real_state = 'ok' AND real_report->>'already_erased' IS NULL), 60),
    ('... that deleted rows',
     (SELECT count(*) FROM prop.compared WHERE real_state = 'ok'
         AND EXISTS (SELECT FROM jsonb_array_elements(real_report->'tables') t WHERE t->>'action' = 'delete')), 25),
    ('... that deleted both ends of a NO ACTION/RESTRICT foreign key',
     (SELECT count(DISTINCT (s, no)) FROM prop.used u WHERE ondelete IN ('NO ACTION', 'RESTRICT') AND child_action = 'delete'
         AND EXISTS (SELECT FROM prop.tab WHERE tab.s = u.s AND tab.t = u.parent AND tab.action = 'delete')), 7),
    ('... that went through a CASCADE or SET NULL foreign key from a deleted table',
     (SELECT count(DISTINCT (s, no)) FROM prop.used u WHERE ondelete IN ('CASCADE', 'SET NULL')
         AND EXISTS (SELECT FROM prop.tab WHERE tab.s = u.s AND tab.t = u.parent AND tab.action = 'delete')), 7),
    ('... that went round a cycle or a self-reference',
     (SELECT count(DISTINCT (s, no)) FROM prop.used WHERE edge IN ('back', 'self')), 8),
    ('... that went through a DEFERRABLE foreign key',
     (SELECT count(DISTINCT (s, no)) FROM prop.used WHERE dfr <> 'no'), 15),
    ('... that went through a composite foreign key',
     (SELECT count(DISTINCT (s, no)) FROM prop.used WHERE cardinality(cols) = 2), 10),
    ('... that went through a declared link',
     (SELECT count(DISTINCT (c.s, c.no)) FROM prop.compared c, jsonb_array_elements(c.real_report->'tables') e,
             jsonb_array_elements(e->'via') v
       WHERE c.real_state = 'ok' AND v->>'reference' LIKE '%by declared link' AND (v->>'rows')::int > 0), 8),
    ('... that changed a table without primary key',
     (SELECT count(DISTINCT (c.s, c.no)) FROM prop.compared c, jsonb_array_elements(c.real_report->'tables') e, prop.tab
       WHERE c.real_state = 'ok' AND tab.s = c.s AND e->>'table' = format('prop_%s.t%s', tab.s, tab.t)
         AND tab.keykind IN ('uniq', 'nopk') AND e->>'action' <> 'keep'), 15),
    ('... that deleted rows an excluded NO ACTION/RESTRICT foreign key could point at',
     (SELECT count(*) FROM prop.compared c WHERE real_state = 'ok' AND EXISTS (
          SELECT FROM prop.ref, jsonb_array_elements(c.real_report->'tables') e
           WHERE ref.s = c.s AND ref.kind = 'fk' AND ref.excluded AND ref.ondelete IN ('NO ACTION', 'RESTRICT')
             AND e->>'table' = format('prop_%s.t%s', ref.s, ref.parent) AND e->>'action' = 'delete')), 2),
    ('erasures refused: excluded foreign key still pointing at deleted rows (23503)',
     (SELECT count(*) FROM prop.compared WHERE dry_state = '23503' AND real_state = '23503'), 10),
    ('erasures refused: deleted rows referenced by rows only anonymized (42P17)',
     (SELECT count(*) FROM prop.compared WHERE dry_state = '42P17' AND real_state = '42P17'), 10),
    ('subjects already erased by an earlier erasure of their schema',
     (SELECT count(*) FROM prop.compared WHERE real_report->>'already_erased' = 'true'), 1)
) AS coverage(what, n, minimum);

-- Every mismatch in full (none expected).
\x on
SELECT s, no, mismatch, (SELECT key FROM prop.subject j WHERE j.s = c.s AND j.no = c.no) AS subject,
       dry_state, dry_msg, real_state, real_msg, dry_rows, real_rows
  FROM prop.compared c WHERE mismatch IS NOT NULL ORDER BY s, no;
\x off
-- The script of each schema with a mismatch, one statement a line (the erasures last, with what each run
-- did): run it in a database with pg_gdpr to reproduce.
\pset format unaligned
SELECT stmt || ';' AS script FROM prop.script
 WHERE s IN (SELECT s FROM prop.compared WHERE mismatch IS NOT NULL) ORDER BY s, seq;
\pset format aligned
SELECT s, state, msg FROM prop.gen_error ORDER BY s;

-- Cleanup: dropping the schemas drops their declarations.
DO $$
BEGIN
    FOR sn IN 1..60 LOOP
        EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', 'prop_' || sn);
    END LOOP;
END $$;
SELECT (SELECT count(*) FROM gdpr.subject WHERE kind LIKE 'prop\_%') AS subjects_left,
       (SELECT count(*) FROM gdpr.pii_policy WHERE tbl::text LIKE 'prop\_%') AS policies_left,
       (SELECT count(*) FROM gdpr.link WHERE child::text LIKE 'prop\_%') AS links_left,
       (SELECT count(*) FROM gdpr.erased_row WHERE tbl::text LIKE 'prop\_%') AS markers_left;
DROP SCHEMA prop CASCADE;
RESET client_min_messages;
