#!/usr/bin/env python3
"""pg_gdpr benchmark harness (`make bench`).

Starts a throwaway PostgreSQL 15 cluster (as the postgres user, private port and socket), generates the
examples/chat data at the chosen scale, declares its policies, and measures every scenario against its floor —
the plain SQL a DBA would write by hand to change (or read) the same rows — in the same run, on the same data.
Writes BENCHMARKS.md (machine, settings, scale, medians, p99, ratios) and BENCHMARKS.json.

    bench/bench.py [--scale default|small] [--only find,export,...] [--keep] [--out FILE.md]

Scenarios: erasure (anonymize_guest rolled back, and the size check), session, batch (anonymize_subjects on 1,000
guests in one call against 1,000 anonymize_guest calls), committed (a commit per erasure), pseudonymize, functions,
consent, concurrency, retention (enforce_retention over expired guests while clients insert messages), and a
person's requests: find (find_guests by e-mail, by phone, by both and the name, with the indexes gdpr.lint()
suggests) and export (export_guest). --only runs some of them and writes its report to bench/results/ (not
BENCHMARKS.md). PGBIN, BENCH_DIR and BENCH_PORT choose the PostgreSQL binaries and the throwaway cluster's
directory and port (default /tmp/pg_gdpr_bench, 55436).

default: 100k guests x 10 chats x 10 messages (10M messages), plus a 10k-guest database for the size check.
small:   10k guests (1M messages) and 1k guests: a quick run.
"""

import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PGBIN = Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"))
DIR = Path(os.environ.get("BENCH_DIR", "/tmp/pg_gdpr_bench"))
PORT = os.environ.get("BENCH_PORT", "55436")
SOCKET = DIR / "socket"

SCALES = {
    "default": {"guests": 100_000, "small_guests": 10_000, "erasures": 300, "pgbench_seconds": 10},
    "small": {"guests": 10_000, "small_guests": 1_000, "erasures": 200, "pgbench_seconds": 5},
}
SESSIONS_PER_GUEST = 10
MESSAGES_PER_SESSION = 10
SERVER_SETTINGS = {
    "shared_buffers": "2GB",
    "work_mem": "16MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "fsync": "off",
    "synchronous_commit": "on",
    "jit": "off",
    # Measured scenarios should not race autovacuum; the harness vacuums between them instead.
    "autovacuum": "off",
}


def log(msg):
    print(f"[bench {datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


def as_postgres(cmd, **kw):
    if os.geteuid() == 0:
        cmd = ["sudo", "-u", "postgres", "--"] + cmd
    return subprocess.run(cmd, check=True, text=True, **kw)


def psql_cmd(db):
    return [str(PGBIN / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-h", str(SOCKET), "-p", PORT, "-U", "postgres", "-d", db]


def psql(db, sql=None, files=(), variables=None, env=None):
    """Runs SQL (or files) with psql and returns stdout (unaligned, tuples only)."""
    cmd = psql_cmd(db)
    for k, v in (variables or {}).items():
        cmd += ["-v", f"{k}={v}"]
    if sql is not None:
        cmd += ["-c", sql]
    for f in files:
        cmd += ["-f", str(f)]
    run_env = dict(os.environ, **(env or {}))
    out = subprocess.run(cmd, text=True, capture_output=True, env=run_env)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed on {db}: {out.stderr.strip()[-2000:]}")
    return out.stdout.strip()


def one(db, sql):
    return psql(db, sql).splitlines()[0]


def pctl(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(values):
    return {"runs": len(values), "median": pctl(values, 0.5), "p99": pctl(values, 0.99)}


# --- cluster and data ---------------------------------------------------------------------------------------

def start_cluster():
    subprocess.run([str(ROOT / "scripts/cluster.sh"), "stop", str(DIR)], check=False)
    shutil.rmtree(DIR, ignore_errors=True)
    opts = " ".join(f"-c {k}={v}" for k, v in SERVER_SETTINGS.items())
    env = dict(os.environ, CLUSTER_OPTS=opts)
    subprocess.run([str(ROOT / "scripts/cluster.sh"), "start", str(DIR), PORT], check=True, env=env)


def stop_cluster():
    subprocess.run([str(ROOT / "scripts/cluster.sh"), "stop", str(DIR)], check=False)


def load_chat(db, guests):
    """examples/chat at `guests` guests; generated with triggers and foreign-key checks off (bulk load)."""
    psql("postgres", f"CREATE DATABASE {db}")
    psql(db, "CREATE EXTENSION pg_gdpr")
    started = time.time()
    psql(db, files=[ROOT / "examples/chat/schema.sql", ROOT / "examples/chat/declare.sql"])
    psql(db, files=[ROOT / "examples/chat/data.sql"],
         variables={"guests": guests, "sessions": SESSIONS_PER_GUEST, "messages": MESSAGES_PER_SESSION},
         env={"PGOPTIONS": "-c session_replication_role=replica"})
    psql(db, "VACUUM (ANALYZE)")
    psql(db, files=[ROOT / "bench/setup.sql"])
    psql(db, "CHECKPOINT")
    counts = dict(
        line.split("|") for line in psql(db, """
            SELECT 'guests', count(*)::text FROM chat.guests UNION ALL
            SELECT 'sessions', count(*)::text FROM chat.chat_sessions UNION ALL
            SELECT 'messages', count(*)::text FROM chat.messages UNION ALL
            SELECT 'attachments', count(*)::text FROM chat.attachments UNION ALL
            SELECT 'database_size', pg_size_pretty(pg_database_size(current_database()))""").splitlines())
    log(f"{db}: loaded in {time.time() - started:.0f} s: {counts}")
    return counts


def sample_ids(db, table, n, seed):
    """n distinct ids of `table`, drawn with a fixed seed."""
    ids = [int(x) for x in psql(db, f"SELECT id FROM {table} ORDER BY id").splitlines()]
    return random.Random(seed).sample(ids, min(n, len(ids)))


def array(ids):
    return "ARRAY[" + ",".join(str(i) for i in ids) + "]::bigint[]"


# Guests no erasure has reached (the committed scenarios erase some for good, by the extension or by the floor's
# hand): erasing one of those again would measure an "already erased" subject or rows the floor already changed.
UNERASED_GUEST = """NOT EXISTS (SELECT 1 FROM gdpr.erasure_log l
                                 WHERE l.kind = 'guest' AND NOT l.dry_run AND l.subject_id = g.id::text)
                    AND g.name IS DISTINCT FROM 'erased'"""


def unerased_guests(db, n, seed):
    """n distinct guests not erased yet (UNERASED_GUEST), drawn with a fixed seed."""
    ids = [int(x) for x in psql(db, f"SELECT g.id FROM chat.guests g WHERE {UNERASED_GUEST} ORDER BY g.id")
           .splitlines()]
    return random.Random(seed).sample(ids, min(n, len(ids)))


# --- scenarios -----------------------------------------------------------------------------------------------

def compare_rolled_back(db, ours, floor, ids):
    rows = psql(db, f"SELECT side, ms FROM bench.compare_rolled_back($q${ours}$q$, $q${floor}$q$, {array(ids)})")
    out = {"ours": [], "floor": []}
    for line in rows.splitlines():
        side, ms = line.split("|")
        out[side].append(float(ms))
    return out


def committed(db, label, sql, ids):
    psql(db, f"DELETE FROM bench.timing WHERE label = '{label}'")
    psql(db, f"CALL bench.time_committed('{label}', $q${sql}$q$, {array(ids)})")
    return [float(x) for x in psql(db, f"SELECT ms FROM bench.timing WHERE label = '{label}'").splitlines()]


def ratio_entry(name, ours, floor, targets, unit="ms", note=""):
    o, f = summary(ours), summary(floor)
    entry = {"scenario": name, "unit": unit, "ours": o, "floor": f,
             "ratio_median": o["median"] / f["median"], "ratio_p99": o["p99"] / f["p99"], "note": note}
    entry["targets"] = targets
    entry["met"] = all(target_value(entry, k) <= v for k, v in targets.items())
    return entry


def target_value(entry, key):
    """A target is on a ratio (ratio_median, ratio_p99) or, for ours_median, on our own median (in the unit)."""
    return entry["ours"]["median"] if key == "ours_median" else entry[key]


def target_label(key, value, unit):
    if key == "ours_median":
        return f"median ≤ {value} {unit}"
    return f"{key.replace('ratio_', '')} ≤ {value}×"


def scenario_erasure(db, n, label_suffix=""):
    guests = sample_ids(db, "chat.guests", n, seed=42)
    r = compare_rolled_back(db, "SELECT gdpr.anonymize_guest($1)", "SELECT bench.floor_guest($1)", guests)
    return ratio_entry(f"anonymize_guest, rolled back{label_suffix}", r["ours"], r["floor"],
                       {"ratio_median": 1.5, "ratio_p99": 2.0},
                       note=f"{len(guests)} random guests; each erased by both in a subtransaction that is rolled back")


def scenario_erasure_committed(db, n):
    guests = sample_ids(db, "chat.guests", 2 * n, seed=7)
    ours_ids, floor_ids = guests[0::2], guests[1::2]
    ours = committed(db, "ours", "SELECT gdpr.anonymize_guest($1)", ours_ids)
    floor = committed(db, "floor", "SELECT bench.floor_guest($1)", floor_ids)
    return ratio_entry("anonymize_guest, commit per erasure", ours, floor,
                       {"ratio_median": 1.5, "ratio_p99": 2.0},
                       note=f"{n} + {n} distinct random guests (ours / floor), a COMMIT after each")


def scenario_session(db, n):
    sessions = sample_ids(db, "chat.chat_sessions", n, seed=43)
    r = compare_rolled_back(db, "SELECT gdpr.anonymize_session($1)", "SELECT bench.floor_session($1)", sessions)
    return ratio_entry("anonymize_session, rolled back", r["ours"], r["floor"], {"ratio_median": 1.5},
                       note=f"{len(sessions)} random chats")


# The cold-plan scenario's schema: a helpdesk of 53 tables (users, then 52 tables each hanging off one or two
# earlier ones), audit columns excluded by rule, polymorphic links, scrubbed and nulled text on every table.
COLD_TABLES = 52


def cold_schema_sql():
    rnd = random.Random(7)
    out = ["DROP SCHEMA IF EXISTS hd53 CASCADE; CREATE SCHEMA hd53;",
           "CREATE TABLE hd53.users (id bigint PRIMARY KEY, login text, firstname text, lastname text, email text, "
           "phone text, street text, city text, note text, created_by_id bigint REFERENCES hd53.users, "
           "updated_by_id bigint REFERENCES hd53.users);",
           "CREATE INDEX ON hd53.users (created_by_id); CREATE INDEX ON hd53.users (updated_by_id);"]
    tables, data = ["users"], []
    for i in range(1, COLD_TABLES + 1):
        name = f"t{i:02d}"
        parents = rnd.sample(tables, k=min(len(tables), rnd.choice([1, 1, 2])))
        cols = ["id bigint PRIMARY KEY", "body text", "title text", "created_by_id bigint REFERENCES hd53.users",
                "updated_by_id bigint REFERENCES hd53.users"]
        cols += [f"{p}_id bigint REFERENCES hd53.{p}" for p in parents] + ["o_type text", "o_id bigint"]
        out.append(f"CREATE TABLE hd53.{name} ({', '.join(cols)});")
        out += [f"CREATE INDEX ON hd53.{name} ({p}_id);" for p in parents]
        out.append(f"CREATE INDEX ON hd53.{name} (created_by_id); CREATE INDEX ON hd53.{name} (updated_by_id); "
                   f"CREATE INDEX ON hd53.{name} (o_type, o_id);")
        out.append(f"SELECT gdpr.declare_pii('hd53.{name}', 'body', 'scrub'); "
                   f"SELECT gdpr.declare_pii('hd53.{name}', 'title', 'null');")
        if i % 3 == 0:
            out.append(f"SELECT gdpr.declare_link('hd53.{name}', '{{o_id}}', 'hd53.users', '{{id}}', 'o_type', 'User');")
        refs = ", ".join(f"(g * 7 % {200 if p == 'users' else 2000}) + 1" for p in parents)
        data.append(f"INSERT INTO hd53.{name} SELECT g, 'text of ' || g, 'title ' || g, (g % 200) + 1, "
                    f"(g % 200) + 1, {refs}, 'User', (g % 200) + 1 FROM generate_series(1, 2000) g;")
        tables.append(name)
    out.append("SELECT gdpr.declare_subject('hd53_user', 'hd53.users');")
    for col, strategy in [("login", "hash"), ("firstname", "fake_first_name"), ("lastname", "fake_last_name"),
                          ("email", "fake_email"), ("phone", "fake_phone"), ("street", "fake_address"),
                          ("city", "fake_city"), ("note", "scrub")]:
        out.append(f"SELECT gdpr.declare_pii('hd53.users', '{col}', '{strategy}');")
    out.append("SELECT gdpr.exclude_column('hd53', 'created_by_id'); SELECT gdpr.exclude_column('hd53', 'updated_by_id');")
    out.append("INSERT INTO hd53.users SELECT g, 'login' || g, 'First' || g, 'Last' || g, 'u' || g || '@mail.example', "
               "'+420 601 000 ' || lpad(g::text, 3, '0'), 'Street ' || g, 'City', 'note', NULL, NULL "
               "FROM generate_series(1, 200) g;")
    return "\n".join(out + data + ["ANALYZE;"])


def scenario_cold(db, connections):
    """The first erasure in a new connection (plans built, statements prepared, catalog caches filled) against
    the second one in the same connection, on the 53-table schema; each rolled back."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(cold_schema_sql())
    psql(db, files=[f.name])
    os.unlink(f.name)
    rnd = random.Random(11)
    cold, warm = [], []
    for _ in range(connections):
        a, b = rnd.randint(1, 200), rnd.randint(1, 200)
        script = "\\timing on\n" + "".join(
            f"BEGIN; SELECT 1 FROM (SELECT gdpr.anonymize_subject('hd53_user', '{g}')) x; ROLLBACK;\n" for g in (a, b))
        out = subprocess.run(psql_cmd(db), input=script, text=True, capture_output=True, check=True).stdout
        times = [float(m) for m in re.findall(r"Time: ([0-9.]+) ms", out)]
        # BEGIN, erasure, ROLLBACK per line: the erasure is the middle one.
        cold.append(times[1])
        warm.append(times[4])
    return ratio_entry(f"cold plan: first erasure in a new connection vs the next ({COLD_TABLES + 1} tables)",
                       cold, warm, {"ratio_median": 2.0},
                       note=f"{connections} new connections, each erasing two random users of a {COLD_TABLES + 1}-table "
                            f"helpdesk schema (audit columns excluded by rule, polymorphic links, 2,000 rows per table), "
                            f"rolled back; 'floor' is the second erasure in the same connection")


# Guests per gdpr.anonymize_subjects call in the batch scenario, and per batch of a retention run.
BATCH = 1000
BATCH_RUNS = 5


def scenario_batch(db, runs):
    """gdpr.anonymize_subjects erasing BATCH guests in one call, against BATCH single gdpr.anonymize_guest calls on
    the same guests, and against bench.floor_guests (the same statements by hand, once for all the guests). Every
    side runs in a subtransaction that is rolled back (bench.compare_batch), so all three change the same rows;
    each run takes guests no other run erased, and rotates which side goes first. Returns two entries: the batch
    per guest against a single call (the target), and the batch against the floor (reported)."""
    guests = unerased_guests(db, runs * BATCH, seed=46)
    n = len(guests) // runs
    times = {"batch": [], "single": [], "floor": []}
    for i in range(runs):
        out = psql(db, f"SELECT side, ms FROM bench.compare_batch({array(guests[i * n:(i + 1) * n])}, {i % 3})")
        for line in out.splitlines():
            side, ms = line.split("|")
            times[side].append(float(ms))
    if len(times["single"]) != runs * n or len(times["batch"]) != runs:
        raise RuntimeError(f"batch: expected {runs} batch calls and {runs * n} single calls, got "
                           f"{len(times['batch'])} and {len(times['single'])}")
    singles_per_run = [sum(times["single"][i * n:(i + 1) * n]) for i in range(runs)]
    # The batch's cost per guest, against a single call: (one call's time / n) / a single call's time.
    per_guest = ratio_entry(
        f"anonymize_subjects, {n:,} guests in one call (per guest) vs single anonymize_guest calls",
        [ms / n for ms in times["batch"]], times["single"], {"ratio_median": 0.3},
        note=f"{runs} runs of {n:,} distinct random guests (not erased before), each rolled back; ours: one "
             f"anonymize_subjects('guest', ids) call's time / {n:,}; the comparison column: each of {n:,} "
             f"anonymize_guest(id) calls on the same guests, in one rolled-back subtransaction per run "
             f"({runs * n:,} calls; {n:,} of them take {fmt(statistics.median(singles_per_run), 'ms')} per run, "
             f"the batch {fmt(statistics.median(times['batch']), 'ms')}); sides alternated")
    per_guest["single_calls_per_run_ms"] = summary(singles_per_run)
    floor = ratio_entry(
        f"anonymize_subjects, {n:,} guests in one call", times["batch"], times["floor"], {},
        note=f"the same runs and guests; floor: bench.floor_guests(ids), the statements of bench.floor_guest once "
             f"for all {n:,} guests (= ANY), triggers off; no target (reported)")
    return [per_guest, floor]


def scenario_pseudonymize(db, table, floor_cols, target, batch, runs, context_sql=None):
    ours, floor, context = [], [], []
    rows = int(one(db, f"SELECT count(*) FROM {table}"))
    set_list = ", ".join(f"{c} = {c}" for c in floor_cols)
    for i in range(runs):
        for side in (["ours", "floor"] if i % 2 == 0 else ["floor", "ours"]):
            sql = (f"SELECT gdpr.pseudonymize_table('{table}', {batch})" if side == "ours"
                   else f"UPDATE {table} SET {set_list}")
            # A bulk rewrite runs with triggers off on both sides (what a DBA does on a copy).
            ms = float(one(db, "SET client_min_messages = warning; SET session_replication_role = replica; "
                               f"SELECT bench.time_once($q${sql}$q$)"))
            (ours if side == "ours" else floor).append(ms)
            psql(db, f"VACUUM {table}")
        if context_sql:
            context.append(float(one(db, "SET session_replication_role = replica; "
                                         f"SELECT bench.time_once($q${context_sql}$q$)")))
            psql(db, f"VACUUM {table}")
    entry = ratio_entry(f"pseudonymize_table({table})", ours, floor, {"ratio_median": target},
                        note=f"{rows} rows, columns {', '.join(floor_cols)}; floor: UPDATE {table} SET "
                             f"{floor_cols[0]} = {floor_cols[0]}, …; {runs} runs each, rolled back; both with "
                             "session_replication_role = replica (triggers off, as for a bulk rewrite of a copy)")
    if context:
        entry["context"] = {"sql": context_sql, "median": statistics.median(context),
                            "ratio_median": statistics.median(context) / entry["floor"]["median"]}
        entry["note"] += (f"; for scale, the same columns rewritten with md5() in SQL ({context_sql}) "
                          f"take {entry['context']['ratio_median']:.2f}× the floor")
    entry["ours_rows_per_s"] = rows / (entry["ours"]["median"] / 1000)
    entry["floor_rows_per_s"] = rows / (entry["floor"]["median"] / 1000)
    return entry


def scenario_functions(db, runs):
    psql(db, "DROP TABLE IF EXISTS bench.vals")
    psql(db, """CREATE TABLE bench.vals AS
                SELECT 'user' || i || '@mail' || (i % 97) || '.example' AS email,
                       (SELECT body FROM chat.messages m WHERE m.id = 1 + (i * 7) % 1000000) AS body
                  FROM generate_series(1, 1000000) i""")
    psql(db, "VACUUM ANALYZE bench.vals")
    key = "'\\x" + "ab" * 32 + "'::bytea"
    pairs = {
        "hash": ("SELECT count(gdpr.hash(email)) FROM bench.vals",
                 f"SELECT count(encode(bench.hmac(email::bytea, {key}, 'sha256'), 'hex')) FROM bench.vals"),
        "fake_email": ("SELECT count(gdpr.fake_email(email)) FROM bench.vals",
                       f"SELECT count('user.' || left(encode(bench.hmac(email::bytea, {key}, 'sha256'), 'hex'), 16)"
                       f" || '@example.com') FROM bench.vals"),
        "scrub": ("SELECT count(gdpr.scrub(body)) FROM bench.vals",
                  "SELECT count(bench.floor_scrub(body)) FROM bench.vals"),
    }
    entries = []
    for name, (ours_sql, floor_sql) in pairs.items():
        ours, floor = [], []
        for i in range(runs):
            for side in (["ours", "floor"] if i % 2 == 0 else ["floor", "ours"]):
                ms = float(one(db, f"SELECT bench.time_once($q${ours_sql if side == 'ours' else floor_sql}$q$)"))
                (ours if side == "ours" else floor).append(ms)
        e = ratio_entry(f"gdpr.{name} over 1M values", ours, floor, {"ratio_median": 1.0},
                        note=f"floor: {floor_sql.replace('SELECT count(', '').split(' FROM')[0][:-1]}")
        e["ours_calls_per_s"] = 1_000_000 / (e["ours"]["median"] / 1000)
        e["floor_calls_per_s"] = 1_000_000 / (e["floor"]["median"] / 1000)
        entries.append(e)
    return entries


# --- a person's requests: find, export (read-only; measured on the data as loaded) --------------------------

# The normal forms find_guests compares for an e-mail, a phone and a name in examples/chat (and
# bench.floor_find_guests with it): every one needs an index for a lookup to be an index scan.
FIND_SEARCHED = [
    ("chat.guests", "gdpr.normalize_email(email)"), ("chat.guests", "gdpr.normalize_phone(phone, '420')"),
    ("chat.guests", "gdpr.normalize_name(name)"),
    ("chat.offline_leads", "gdpr.normalize_email(email)"), ("chat.offline_leads", "gdpr.normalize_phone(phone, '420')"),
    ("chat.offline_leads", "gdpr.normalize_name(name)"),
    ("chat.chatbot_leads", "gdpr.normalize_email(email)"), ("chat.chatbot_leads", "gdpr.normalize_phone(phone, '420')"),
]


def create_find_indexes(db):
    """Creates every expression index gdpr.lint() suggests for finding guests, then any that a searched normal
    form (FIND_SEARCHED) still lacks — lint's omissions are reported, not measured as slow lookups — then ANALYZE
    (the planner needs the expressions' statistics). Returns (suggested, missed) statements; the indexes are
    named bench_find_* for drop_find_indexes."""
    suggested = psql(db, """SELECT message FROM gdpr.lint()
                             WHERE kind = 'guest' AND severity = 'info' AND message LIKE '%CREATE INDEX ON %'
                             ORDER BY object""").splitlines()
    statements = [re.search(r"(CREATE INDEX ON .*)$", m).group(1) for m in suggested]
    if not statements:
        raise RuntimeError("gdpr.lint() suggests no index for finding guests: nothing to benchmark against")
    for i, st in enumerate(statements):
        psql(db, st.replace("CREATE INDEX ON", f"CREATE INDEX bench_find_{i} ON", 1))
    missed = []
    for i, (table, expr) in enumerate(FIND_SEARCHED):
        if not index_serves(db, table, expr):
            missed.append(f"CREATE INDEX ON {table} (({expr}))")
            psql(db, f"CREATE INDEX bench_find_missed_{i} ON {table} (({expr}))")
    psql(db, f"ANALYZE {', '.join(sorted({t for t, _ in FIND_SEARCHED}))}")
    left = psql(db, "SELECT message FROM gdpr.lint() WHERE kind = 'guest' AND message LIKE '%CREATE INDEX ON %'")
    if left:
        raise RuntimeError(f"gdpr.lint() still suggests indexes after creating them: {left}")
    if missed:
        log(f"gdpr.lint() did not suggest (created anyway): {'; '.join(missed)}")
    return statements, missed


def index_serves(db, table, expr):
    """Whether an index serves `expr = constant` as an index condition (a full scan of another index whose
    rows are filtered by it does not count)."""
    plan = psql(db, f"SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT 1 FROM {table} WHERE {expr} = 'x'")
    return f"Index Cond: ({expr.split('(')[0]}(" in plan


def drop_find_indexes(db):
    """The other scenarios run on the schema as examples/chat declares it (an expression index on guests.email
    would slow down every erasure and pseudonymization of guests)."""
    names = psql(db, "SELECT string_agg(c.oid::regclass::text, ', ') FROM pg_class c "
                     "WHERE c.relkind = 'i' AND c.relname LIKE 'bench\\_find\\_%'")
    if names:
        psql(db, f"DROP INDEX {names}")


def compare_read(db, ours, floor, given, summary):
    """bench.compare_read: both sides on every `given` argument list. Returns the times per side and, per sample,
    `summary` (an SQL expression over `side`, `args` and `result`) of what each side returned."""
    out = psql(db, f"SELECT n, side, ms, {summary} FROM bench.compare_read($q${ours}$q$, $q${floor}$q$, "
                   f"$q${json.dumps(given)}$q$::jsonb)")
    times, found = {"ours": [], "floor": []}, {}
    for line in out.splitlines():
        n, side, ms, what = line.split("|", 3)
        times[side].append(float(ms))
        found.setdefault(int(n), {})[side] = json.loads(what)
    return times, found


def phone_as_dictated(phone):
    """'+420 612345678' as a person gives it on the phone: '00420 612 345 678' (examples/chat stores +420
    numbers only: a three-digit country code)."""
    digits = re.sub(r"\D", "", phone)
    national = digits[3:]
    return f"00{digits[:3]} " + " ".join(national[i:i + 3] for i in range(0, len(national), 3))


# What a person gives, per lookup: their e-mail in capitals with spaces around it, their phone in another
# format, and both plus their name in capitals, surname first. Each is ($1 e-mail, $2 phone, $3 name).
# (label, what the person gives, targets). The generated data has only 10 distinct full names, so a name
# matches 10,000 guests: that shape measures the cost per match (reported), not a person's request.
FIND_TARGETS = {"ours_median": 2.0, "ratio_median": 1.5}
FIND_SHAPES = [
    ("e-mail", lambda g: [f"  {g['email'].upper()} ", None, None], FIND_TARGETS),
    ("phone", lambda g: [None, phone_as_dictated(g["phone"]), None], FIND_TARGETS),
    ("e-mail + phone", lambda g: [f"  {g['email'].upper()} ", phone_as_dictated(g["phone"]), None],
     FIND_TARGETS),
    ("e-mail + phone + name (a name shared by 10,000 generated guests)",
     lambda g: [f"  {g['email'].upper()} ", phone_as_dictated(g["phone"]),
                " ".join(reversed(g["name"].split())).upper()], {}),
]


def scenario_find(db, n):
    """gdpr.find_guests against bench.floor_find_guests, on the same guests, once per shape of FIND_SHAPES. Both
    must return the same guest ids (the guest asked for among them) for every sample."""
    guests = sample_ids(db, "chat.guests", n, seed=44)
    people = [dict(zip(("id", "email", "phone", "name"), line.split("|")))
              for line in psql(db, f"SELECT id, email, phone, name FROM chat.guests "
                                   f"WHERE id = ANY ({array(guests)}) ORDER BY id").splitlines()]
    random.Random(44).shuffle(people)
    ours = ("SELECT coalesce(jsonb_agg(f.subject_id::bigint ORDER BY f.subject_id::bigint), '[]') "
            "FROM gdpr.find_guests($1, $2, $3) f")
    floor = "SELECT coalesce(jsonb_agg(g ORDER BY g), '[]') FROM bench.floor_find_guests($1, $2, $3) g"
    # The ids themselves stay in the server (a name is shared by thousands of generated guests): their count, a
    # digest, and whether the guest asked for is among them.
    summary = ("jsonb_build_array(jsonb_array_length(result), md5(result::text), "
               "result @> jsonb_build_array((args->>3)::bigint))")
    entries = []
    for label, given_by, targets in FIND_SHAPES:
        # $4, the guest's id, is for the check only: neither statement reads it.
        times, found = compare_read(db, ours, floor, [given_by(p) + [p["id"]] for p in people], summary)
        wrong = {k: v for k, v in found.items() if v["ours"] != v["floor"] or not v["ours"][2]}
        if wrong:
            raise RuntimeError(f"find by {label}: find_guests and the floor disagree (or miss the guest) on "
                               f"{len(wrong)} of {len(found)} samples, e.g. {list(wrong.items())[:3]}")
        counts = sorted(v["ours"][0] for v in found.values())
        entries.append(ratio_entry(
            f"find_guests by {label}", times["ours"], times["floor"], targets,
            note=f"{len(found)} random guests, given as {describe_given(given_by(people[0]))}; floor: "
                 f"bench.floor_find_guests, one indexed lookup per searched column (guests, offline_leads, "
                 f"chatbot_leads) on the same normal forms, UNION; both returned the same guest ids for every "
                 f"sample ({counts[0]}–{counts[-1]} per lookup, median {statistics.median(counts):g})"))
    return entries


def describe_given(given):
    return ", ".join(f"{k} '{v}'" for k, v in zip(("e-mail", "phone", "name"), given) if v is not None)


def scenario_export(db, n):
    """gdpr.export_guest against bench.floor_export_guest on the same guests; both must find the same number of
    rows per table, consents and erasure-log entries for every sample."""
    guests = sample_ids(db, "chat.guests", n, seed=45)
    summary = """CASE side
        WHEN 'ours' THEN jsonb_build_array(
            (SELECT jsonb_object_agg(t->>'table', (t->>'row_count')::int) FROM jsonb_array_elements(result->'tables') t),
            jsonb_array_length(result->'consents'), jsonb_array_length(result->'erasures'), octet_length(result::text))
        ELSE jsonb_build_array(
            (SELECT jsonb_object_agg(k, jsonb_array_length(v)) FROM jsonb_each(result->'tables') e(k, v)
              WHERE jsonb_typeof(v) = 'array'),
            jsonb_array_length(result->'consents'), jsonb_array_length(result->'erasures'), octet_length(result::text))
        END"""
    times, found = compare_read(db, "SELECT gdpr.export_guest($1)", "SELECT bench.floor_export_guest($1::bigint)",
                                [[str(g)] for g in guests], summary)
    # The documents differ in their framing (the export adds each table's categories and path): the last
    # element, the size, is reported, not compared.
    wrong = {k: v for k, v in found.items() if v["ours"][:3] != v["floor"][:3]}
    if wrong:
        raise RuntimeError(f"export: export_guest and the floor read different rows for {len(wrong)} of "
                           f"{len(found)} guests, e.g. {list(wrong.items())[:2]}")
    rows = statistics.median(sum(v["ours"][0].values()) for v in found.values())
    size = statistics.median(v["ours"][3] for v in found.values()) / 1024
    floor_size = statistics.median(v["floor"][3] for v in found.values()) / 1024
    tables = max(len(v["ours"][0]) for v in found.values())
    return ratio_entry(
        "export_guest", times["ours"], times["floor"], {},
        note=f"{len(found)} random guests, a median of {rows:g} rows each in up to {tables} tables "
             f"(document {size:.0f} kB; the floor's {floor_size:.0f} kB); floor: bench.floor_export_guest, one "
             "jsonb_build_object of to_jsonb(rows) per table the erasure reaches, with the consents and the "
             "erasure log; the same rows per table for every sample; no target (reported)")


def pgbench(db, script, clients, seconds, extra=()):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False, dir="/tmp") as f:
        f.write(script)
        path = f.name
    os.chmod(path, 0o644)
    cmd = [str(PGBIN / "pgbench"), "-h", str(SOCKET), "-p", PORT, "-U", "postgres", "-n", "-M", "prepared",
           "-c", str(clients), "-j", str(clients), "-T", str(seconds), "-f", path, *extra, db]
    if os.geteuid() == 0:
        cmd = ["sudo", "-u", "postgres", "--"] + cmd
    out = subprocess.run(cmd, text=True, capture_output=True)
    os.unlink(path)
    text = out.stdout + out.stderr
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", text)
    failed = re.search(r"number of failed transactions: (\d+)", text)
    processed = re.search(r"number of transactions actually processed: (\d+)", text)
    return {"tps": float(tps.group(1)) if tps else 0.0,
            "failed": int(failed.group(1)) if failed else (0 if out.returncode == 0 else -1),
            "transactions": int(processed.group(1)) if processed else 0,
            "exit": out.returncode, "errors": [l for l in text.splitlines() if "ERROR" in l or "error" in l][:5]}


def scenario_consent(db, seconds, runs):
    lo, hi = psql(db, """SELECT min(c.id), max(c.id) FROM gdpr.consent c JOIN gdpr.consent_text t ON t.id = c.text_id
                          WHERE t.purpose = 'chatbot_leads' AND c.withdrawn_at IS NULL""").split("|")
    script = ("\\set c random({lo}, {hi})\n"
              "INSERT INTO bench.{table} (name, email, consent_id) VALUES ('Jana Nová', 'jana@mail.example', :c);\n")
    fk, consent = [], []
    for i in range(runs):
        for table in (["leads_fk", "leads_consent"] if i % 2 == 0 else ["leads_consent", "leads_fk"]):
            r = pgbench(db, script.format(lo=lo, hi=hi, table=table), 2, seconds)
            if r["failed"] or r["exit"]:
                raise RuntimeError(f"pgbench on {table} failed: {r}")
            (fk if table == "leads_fk" else consent).append(r["tps"])
    f, c = statistics.median(fk), statistics.median(consent)
    return {"scenario": "consent trigger: lead inserts (pgbench, 2 clients)", "unit": "tps",
            "floor": {"runs": runs, "median": f, "all": fk}, "ours": {"runs": runs, "median": c, "all": consent},
            "ratio_tps": c / f, "targets": {"ratio_tps": 0.85}, "met": c / f >= 0.85,
            "note": f"INSERT of one lead per transaction, {seconds} s per run, runs alternated; floor: the same "
                    "table with a plain FOREIGN KEY to gdpr.consent; ours: gdpr.require_consent (trigger + FK)"}


def fill_insert_sessions(db, condition):
    """bench.insert_sessions: the chats the inserting clients write to, those of the guests `condition` (SQL on
    s.guest_id) selects that no erasure reached. Returns how many."""
    return int(one(db, f"""TRUNCATE bench.insert_sessions;
        INSERT INTO bench.insert_sessions
        SELECT row_number() OVER (ORDER BY id), id FROM chat.chat_sessions s
         WHERE {condition}
           AND NOT EXISTS (SELECT 1 FROM gdpr.erasure_log l
                            WHERE l.kind IN ('guest', 'session') AND NOT l.dry_run
                              AND l.subject_id = CASE l.kind WHEN 'guest' THEN s.guest_id ELSE s.id END::text);
        SELECT count(*) FROM bench.insert_sessions"""))


def insert_script(count):
    """pgbench: one message per transaction, written by a guest into a random one of `count` chats of
    bench.insert_sessions (through the erased-subject guard)."""
    return (f"\\set n random(1, {count})\n"
            "INSERT INTO chat.messages (session_id, author_kind, body, sent_at)\n"
            "SELECT session_id, 'guest', 'Is my order on its way?', now() FROM bench.insert_sessions WHERE n = :n;\n")


def scenario_concurrency(db, seconds):
    half = int(one(db, "SELECT max(id) / 2 FROM chat.guests"))
    count = fill_insert_sessions(db, f"guest_id > {half}")
    erase = f"\\set g random(1, {half})\nSELECT gdpr.anonymize_guest(:g);\n"
    insert = insert_script(count)
    alone = pgbench(db, insert, 2, seconds)
    log_lines_before = deadlocks_in_log()
    results = {}

    def run(name, script):
        results[name] = pgbench(db, script, 2, seconds)

    threads = [threading.Thread(target=run, args=("erasures", erase)),
               threading.Thread(target=run, args=("inserts", insert))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadlocks = deadlocks_in_log() - log_lines_before
    ok = all(r["exit"] == 0 and r["failed"] == 0 for r in results.values()) and deadlocks == 0
    return {"scenario": "concurrency: 2 clients erasing guests, 2 clients inserting messages for other guests",
            "unit": "tps", "erasures_tps": results["erasures"]["tps"], "inserts_tps": results["inserts"]["tps"],
            "inserts_alone_tps": alone["tps"], "failed": {k: v["failed"] for k, v in results.items()},
            "errors": {k: v["errors"] for k, v in results.items()}, "deadlocks": deadlocks, "met": ok,
            "targets": {"deadlocks": 0, "errors": 0},
            "note": f"{seconds} s; erasures commit one guest each (guests 1..{half}); inserts go to chats of the "
                    f"other guests (not erased earlier), through the erased-subject guard; 'inserts alone' is the "
                    f"same insert load without erasures"}


# Seconds the inserting clients run before a retention run starts: their rate without it, for comparison.
RETENTION_LEAD = 2
# A line psql writes when a retention run's batch ends: the extension's NOTICE per batch, or the floor's.
BATCH_NOTICE = re.compile(r"NOTICE:\s+(gdpr: retention of chat\.guests|bench: floor retention)")


def scenario_retention(db, guests):
    """A nightly retention run under load: CALL gdpr.enforce_retention(batch_size => BATCH) over n expired guests
    (n = min(10,000, a tenth of the guests)) while 2 pgbench clients insert messages into chats of other guests;
    then the floor, bench.floor_retention (bench.floor_guests per BATCH guests, each batch committed), over n other
    expired guests under the same load. Only the chosen guests are expired, and only the guests' period is declared
    during the runs (examples/chat's periods of messages and tracking events are put back after): both runs
    measure guest erasure. The goal: no inserting client fails, nor waits longer than one batch."""
    n = min(10_000, guests // 10)
    keep = one(db, "SELECT keep::text FROM gdpr.retention WHERE tbl = 'chat.guests'::regclass")
    others = [l.split("|") for l in psql(db, """SELECT tbl::text, time_col, keep::text, action FROM gdpr.retention
                                                 WHERE tbl <> 'chat.guests'::regclass ORDER BY 1""").splitlines()]
    # 2n guests no erasure reached, alternately ours and the floor's; drawn in the server with a fixed seed (20,000
    # ids would not fit a command line).
    psql(db, f"""TRUNCATE bench.retention_guests;
        SELECT setseed(0.47);
        INSERT INTO bench.retention_guests (id, side)
        SELECT id, CASE row_number() OVER (ORDER BY r) % 2 WHEN 1 THEN 'ours' ELSE 'floor' END
          FROM (SELECT g.id, random() AS r FROM chat.guests g WHERE {UNERASED_GUEST} ORDER BY g.id) x
         ORDER BY r LIMIT {2 * n}""")
    count = fill_insert_sessions(db, "NOT EXISTS (SELECT 1 FROM bench.retention_guests r WHERE r.id = s.guest_id)")
    # How long each run may take, from one rolled-back batch of BATCH other guests per side (a batch's cost grows
    # faster than its size: a smaller sample would underestimate it): the clients insert for three times that (a
    # run under load is slower), so that they outlast the run.
    sample = array(psql(db, f"""SELECT g.id FROM chat.guests g WHERE {UNERASED_GUEST}
                                   AND NOT EXISTS (SELECT 1 FROM bench.retention_guests r WHERE r.id = g.id)
                                 ORDER BY g.id LIMIT {BATCH}""").splitlines())
    seconds = {}
    for side, sql in (("ours", f"SELECT gdpr.anonymize_subjects('guest', {sample}::text[])"),
                      ("floor", f"SELECT bench.floor_guests({sample})")):
        batch_ms = float(one(db, f"SELECT bench.time_once($q${sql}$q$)"))
        seconds[side] = RETENTION_LEAD + int(3 * -(-n // BATCH) * batch_ms / 1000) + 10
    for tbl, *_ in others:
        psql(db, f"SELECT gdpr.undeclare_retention('{tbl}')")
    sides = {}
    try:
        # Guests that came before the period and are not ours came a year ago for these runs (examples/chat makes
        # every 25th guest that old). Triggers off: earlier scenarios erased some of them, and the erased-subject
        # guard refuses writes to their rows.
        psql(db, f"""SET session_replication_role = replica;
            UPDATE chat.guests g SET created_at = now() - interval '1 year'
             WHERE created_at < now() - interval '{keep}'
               AND NOT EXISTS (SELECT 1 FROM bench.retention_guests r WHERE r.id = g.id AND r.side = 'ours')""")
        for side in ("ours", "floor"):
            expire_retention_guests(db, side, keep)
            psql(db, "VACUUM (ANALYZE)")
            expired = int(one(db, f"SELECT count(*) FROM chat.guests WHERE created_at < now() - interval '{keep}'"))
            if side == "ours":
                due = psql(db, "SELECT table_name, rows_due FROM gdpr.retention_due()")
                if due != f"chat.guests|{n}" or expired != n:
                    raise RuntimeError(f"retention: {n} guests should be due, and nothing else: {due!r}, {expired}")
                sql = f"CALL gdpr.enforce_retention(batch_size => {BATCH})"
            else:
                if expired != n:
                    raise RuntimeError(f"retention floor: {n} guests should be expired, not {expired}")
                sql = f"CALL bench.floor_retention(interval '{keep}', {BATCH})"
            log(f"retention ({side}): {n} expired guests, {count} chats for the inserting clients, "
                f"clients run {seconds[side]} s")
            lines, clients, transactions = under_insert_load(db, sql, insert_script(count), seconds[side])
            sides[side] = retention_side(lines, clients, transactions, n)
            if side == "ours":
                run = json.loads(one(db, "SELECT summary FROM gdpr.retention_run ORDER BY id DESC LIMIT 1"))
                done = sum(t["done"] for t in run["tables"])
                if done != n or run["stopped"] != "done":
                    raise RuntimeError(f"retention: {done} of {n} guests erased, stopped {run['stopped']}: {run}")
                sides[side]["summary"] = run
                # Out of the floor's way: its batches take every guest older than the period.
                psql(db, """SET session_replication_role = replica;
                    UPDATE chat.guests g SET created_at = now() - interval '1 year'
                      FROM bench.retention_guests r WHERE r.id = g.id AND r.side = 'ours'""")
            else:
                done = int(one(db, """SELECT count(*) FROM chat.guests g JOIN bench.retention_guests r
                                        ON r.id = g.id AND r.side = 'floor' WHERE g.name = 'erased'"""))
                if done != n:
                    raise RuntimeError(f"retention floor: {done} of {n} guests erased")
    finally:
        for tbl, col, k, action in others:
            psql(db, f"SELECT gdpr.declare_retention('{tbl}', '{col}', interval '{k}', '{action}')")
    ours, floor = sides["ours"], sides["floor"]
    ins = ours["inserts"]
    errors_none = all(s["inserts"]["exit"] == 0 and s["inserts"]["failed"] == 0 for s in sides.values())
    waits_ok = ins["max_latency_ms"] <= ours["longest_batch_ms"]
    covered = all(s["inserts"]["covered"] for s in sides.values())
    return {"scenario": f"retention under load: enforce_retention over {n:,} expired guests (batches of {BATCH:,}), "
                        "2 clients inserting messages for other guests",
            "unit": "ms", "guests": n, "batch_size": BATCH, "ours": ours, "floor": floor,
            "ratio_duration": ours["duration_ms"] / floor["duration_ms"],
            "targets": {"insert_errors": 0, "max_insert_latency": "≤ longest batch"},
            "met": errors_none and waits_ok and covered,
            "note": f"{n:,} random guests (not erased before) made expired (created_at {keep} + 1 year ago), no "
                    f"other guest expired, only chat.guests' period declared; ours: CALL "
                    f"gdpr.enforce_retention(batch_size => {BATCH}) via psql, {ours['batches']} batches (the last finds "
                    f"nothing left; a NOTICE each: a batch's time is from one NOTICE's arrival to the next), "
                    f"{ours['guests_per_s']:,.0f} guests/s, median batch {fmt(ours['median_batch_ms'], 'ms')}, "
                    f"longest {fmt(ours['longest_batch_ms'], 'ms')}; floor: bench.floor_retention, the expired "
                    f"guests {BATCH:,} at a time (FOR UPDATE SKIP LOCKED), bench.floor_guests, COMMIT — over "
                    f"{n:,} other guests, after ours, {floor['guests_per_s']:,.0f} guests/s, longest batch "
                    f"{fmt(floor['longest_batch_ms'], 'ms')}; inserting clients (pgbench -c 2, a message per "
                    f"transaction into {count:,} chats of other guests, --log): during our run "
                    f"{ins['tps']:,.0f} tps ({ins['tps_before']:,.0f} tps in the {RETENTION_LEAD} s before it), "
                    f"{ins['failed']} failed, exit {ins['exit']}, latency median "
                    f"{fmt(ins['median_latency_ms'], 'ms')}, p99 {fmt(ins['p99_latency_ms'], 'ms')}, max "
                    f"{fmt(ins['max_latency_ms'], 'ms')} (longest batch {fmt(ours['longest_batch_ms'], 'ms')}); "
                    f"during the floor's run {floor['inserts']['tps']:,.0f} tps, max "
                    f"{fmt(floor['inserts']['max_latency_ms'], 'ms')}"
                    + ("" if covered else "; the clients stopped before a run ended: not all of it was under load")}


def expire_retention_guests(db, side, keep):
    """Makes `side`'s guests of bench.retention_guests expired: came a year (and up to 1,000 minutes, by id)
    before the period (triggers off, as above)."""
    psql(db, f"""SET session_replication_role = replica;
        UPDATE chat.guests g
           SET created_at = now() - interval '{keep}' - interval '1 year' - (g.id % 1000) * interval '1 minute'
          FROM bench.retention_guests r WHERE r.id = g.id AND r.side = '{side}'""")


def under_insert_load(db, sql, script, seconds):
    """Runs `sql` (a retention run) through stream_psql RETENTION_LEAD s after 2 pgbench clients start running
    `script` for `seconds` s, each transaction logged. Returns psql's lines with their arrival times, the
    clients' pgbench result and their transactions (end time, latency in s or None if it failed)."""
    logs = Path(tempfile.mkdtemp(prefix="pg_gdpr_bench_pgbench.", dir="/tmp"))
    # pgbench runs as the postgres user and writes its logs here.
    os.chmod(logs, 0o777)
    clients = {}
    thread = threading.Thread(target=lambda: clients.update(
        pgbench(db, script, 2, seconds, extra=["--log", f"--log-prefix={logs}/inserts"])))
    thread.start()
    try:
        time.sleep(RETENTION_LEAD)
        lines = stream_psql(db, sql)
    finally:
        thread.join()
    transactions = []
    for path in sorted(logs.glob("inserts*")):
        # client_id transaction_no time script_no time_epoch time_us: `time` is the latency in µs, or "failed".
        for line in path.read_text().splitlines():
            f = line.split()
            transactions.append((int(f[4]) + int(f[5]) / 1e6, int(f[2]) / 1e6 if f[2].isdigit() else None))
    shutil.rmtree(logs, ignore_errors=True)
    return lines, clients, transactions


def stream_psql(db, sql):
    """Runs one statement with psql between two marker lines ('bench: start', 'bench: end') and returns every line
    it writes (stderr and stdout) with the time it arrived: the server sends a NOTICE as it raises it, so a
    NOTICE's time is when the statement reached it."""
    cmd = psql_cmd(db) + ["-c", "\\warn bench: start", "-c", sql, "-c", "\\warn bench: end"]
    proc = subprocess.Popen(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1)
    lines = [(time.time(), line.rstrip("\n")) for line in proc.stdout]
    if proc.wait() != 0:
        raise RuntimeError(f"psql failed on {db}: {' / '.join(l for _, l in lines[-20:])}")
    return lines


def retention_side(lines, clients, transactions, n):
    """One retention run from stream_psql's lines: its duration and batches (from the start marker to each batch's
    NOTICE, NOTICE to NOTICE), and the inserting clients during it (transactions that overlap the run)."""
    start = next(t for t, l in lines if l == "bench: start")
    end = next(t for t, l in lines if l == "bench: end")
    stamps = [start] + [t for t, l in lines if BATCH_NOTICE.search(l)]
    batches = [(b - a) * 1000 for a, b in zip(stamps, stamps[1:])]
    during = [lat for e, lat in transactions if lat is not None and e >= start and e - lat <= end]
    ended = [e for e, _ in transactions if start <= e <= end]
    first = min((e - (lat or 0) for e, lat in transactions), default=start)
    before = [e for e, _ in transactions if e < start]
    inserts = {"tps": len(ended) / (end - start), "tps_before": len(before) / max(start - first, 1e-9),
               "transactions": len(ended), "failed": clients.get("failed", -1)
               + sum(1 for _, lat in transactions if lat is None),
               "exit": clients.get("exit", -1), "errors": clients.get("errors", []),
               "median_latency_ms": pctl(during, 0.5) * 1000, "p99_latency_ms": pctl(during, 0.99) * 1000,
               "max_latency_ms": max(during, default=float("nan")) * 1000,
               "covered": max((e for e, _ in transactions), default=0) >= end}
    return {"duration_ms": (end - start) * 1000, "guests_per_s": n / (end - start), "batches": len(batches),
            "median_batch_ms": pctl(batches, 0.5), "longest_batch_ms": max(batches, default=float("nan")),
            "batch_ms": batches, "inserts": inserts}


def deadlocks_in_log():
    path = DIR / "data" / "server.log"
    try:
        return path.read_text(errors="replace").count("deadlock detected")
    except OSError:
        return 0


def explain_erasure(db):
    """Scan nodes of every statement an erasure of a guest runs, planned generically."""
    out = psql(db, """
        CREATE OR REPLACE FUNCTION pg_temp.scans() RETURNS TABLE (tbl text, purpose text, node text)
        LANGUAGE plpgsql AS $$
        DECLARE s record; line text; n int := 0;
        BEGIN
            SET LOCAL plan_cache_mode = force_generic_plan;
            FOR s IN SELECT * FROM gdpr.erasure_statements('guest') ORDER BY 1, 2 LOOP
                n := n + 1;
                EXECUTE format('PREPARE bench_stmt_%s(%s) AS %s', n, array_to_string(s.parameter_types, ','), s.statement);
                FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) EXECUTE bench_stmt_%s(%s)', n,
                        array_to_string(array_fill('NULL'::text, ARRAY[cardinality(s.parameter_types)]), ','))
                LOOP
                    IF line ~ 'Scan' THEN
                        tbl := s."table"; purpose := s.purpose;
                        node := regexp_replace(regexp_replace(line, '^\\s*(->\\s*)?', ''), '  +.*$', '');
                        RETURN NEXT;
                    END IF;
                END LOOP;
            END LOOP;
        END $$;
        SELECT tbl, purpose, node FROM pg_temp.scans()""")
    return [dict(zip(("table", "purpose", "node"), l.split("|"))) for l in out.splitlines()]


def explain_analyze_guest(db, guest):
    return psql(db, f"""BEGIN;
        EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF)
        SELECT gdpr.anonymize_guest({guest});
        ROLLBACK;""")


# --- report --------------------------------------------------------------------------------------------------

def machine():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    except (OSError, AttributeError):
        mem_kb = 0
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "os": platform.platform()}


def fmt(x, unit):
    if unit == "tps":
        return f"{x:,.0f} tps"
    return f"{x:,.2f} ms" if x < 1000 else f"{x / 1000:,.2f} s"


def write_report(result, path_md, path_json):
    path_json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    m, s = result["machine"], result["scale"]
    lines = [
        "# pg_gdpr benchmarks",
        "",
        f"Generated by `make bench` (`bench/bench.py --scale {result['scale_name']}"
        + (f" --only {','.join(result['only'])}" if result.get("only") else "") + f"`) on {result['date']}; "
        "machine-readable: `BENCHMARKS.json`. Every scenario is measured against its **floor** — the plain SQL a DBA "
        "would write by hand to change the same rows and columns (`bench/setup.sql`) — in the same run, on the same "
        "data. Ratios are ours / floor (for TPS: ours / floor throughput, higher is better).",
        "",
        f"**Machine**: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}.  ",
        f"**PostgreSQL**: {result['postgres']}; " + ", ".join(f"{k}={v}" for k, v in result["settings"].items()) + ".  ",
        f"**Data** (examples/chat, {SESSIONS_PER_GUEST} chats per guest, {MESSAGES_PER_SESSION} messages per chat): "
        + ", ".join(f"{k} {v}" for k, v in s.items()) + ".",
        "",
        "| scenario | ours median | ours p99 | floor median | floor p99 | ratio (median / p99) | target | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in result["scenarios"]:
        if "ratio_median" in e:
            tgt = ", ".join(target_label(k, v, e["unit"]) for k, v in e["targets"].items()) or "none (reported)"
            met = ("yes" if e["met"] else "**no**") if e["targets"] else "—"
            lines.append(f"| {e['scenario']} | {fmt(e['ours']['median'], e['unit'])} | {fmt(e['ours']['p99'], e['unit'])} "
                         f"| {fmt(e['floor']['median'], e['unit'])} | {fmt(e['floor']['p99'], e['unit'])} "
                         f"| {e['ratio_median']:.2f}× / {e['ratio_p99']:.2f}× | {tgt} | {met} |")
        elif "ratio_tps" in e:
            lines.append(f"| {e['scenario']} | {fmt(e['ours']['median'], 'tps')} | | {fmt(e['floor']['median'], 'tps')} "
                         f"| | {e['ratio_tps']:.2f}× throughput | ≥ 0.85× | {'yes' if e['met'] else '**no**'} |")
        elif "ratio_duration" in e:
            o, f = e["ours"], e["floor"]
            lines.append(f"| {e['scenario']} | run {fmt(o['duration_ms'], 'ms')} ({o['guests_per_s']:,.0f} guests/s), "
                         f"longest batch {fmt(o['longest_batch_ms'], 'ms')} "
                         f"| inserts {fmt(o['inserts']['tps'], 'tps')}, "
                         f"max wait {fmt(o['inserts']['max_latency_ms'], 'ms')}, failed {o['inserts']['failed']} "
                         f"| run {fmt(f['duration_ms'], 'ms')} ({f['guests_per_s']:,.0f} guests/s), longest batch "
                         f"{fmt(f['longest_batch_ms'], 'ms')} | inserts {fmt(f['inserts']['tps'], 'tps')}, max wait "
                         f"{fmt(f['inserts']['max_latency_ms'], 'ms')} | {e['ratio_duration']:.2f}× duration "
                         "| no insert fails, none waits longer than the longest batch "
                         f"| {'yes' if e['met'] else '**no**'} |")
        else:
            lines.append(f"| {e['scenario']} | erasures {fmt(e['erasures_tps'], 'tps')}, inserts {fmt(e['inserts_tps'], 'tps')} "
                         f"| | inserts alone {fmt(e['inserts_alone_tps'], 'tps')} | | deadlocks {e['deadlocks']}, failed "
                         f"{sum(e['failed'].values())} | no deadlock, no error | {'yes' if e['met'] else '**no**'} |")
    lines += ["", "## Notes per scenario", ""]
    for e in result["scenarios"]:
        extra = ""
        if "ours_rows_per_s" in e:
            extra = f" Throughput: ours {e['ours_rows_per_s']:,.0f} rows/s, floor {e['floor_rows_per_s']:,.0f} rows/s."
        if "ours_calls_per_s" in e:
            extra = f" Calls/s: ours {e['ours_calls_per_s']:,.0f}, floor {e['floor_calls_per_s']:,.0f}."
        lines.append(f"* **{e['scenario']}**: {e['note']}.{extra}")
    if result.get("find_indexes"):
        lines += ["", "## Indexes for finding guests (every one gdpr.lint() suggests, created before the find "
                  "scenarios and dropped after the export scenario)", "", "```sql"]
        lines += [f"{x};" for x in result["find_indexes"]] + ["```"]
        if result.get("find_indexes_missed"):
            lines += ["", "Not suggested by `gdpr.lint()` but needed by the same searches (created too, so that "
                      "both sides are measured as index lookups):", "", "```sql"]
            lines += [f"{x};" for x in result["find_indexes_missed"]] + ["```"]
    # A run of some scenarios only (--only) has no size check or erasure plans to show.
    if "size_check" in result:
        lines += ["", "## Size independence", "",
                  f"anonymize_guest median on {s['guests']} guests vs {result['small_scale']['guests']} guests "
                  f"(same per-guest shape): {result['size_check']['large_median']:.2f} ms vs "
                  f"{result['size_check']['small_median']:.2f} ms → the small database is "
                  f"{result['size_check']['speedup']:.2f}× faster (target ≤ 1.2×): "
                  f"{'met' if result['size_check']['met'] else '**not met**'}."]
    if "explain" in result:
        lines += ["", "## Index use (every statement an erasure of a guest runs, planned generically)", "",
                  "| table | statement | scan |", "|---|---|---|"]
        for x in result["explain"]:
            lines.append(f"| {x['table']} | {x['purpose']} | {x['node']} |")
        lines += ["", "`EXPLAIN (ANALYZE, BUFFERS)` of one erasure (the function call; its statements run inside):",
                  "", "```", result["explain_analyze"], "```"]
    lines.append("")
    if result.get("analysis"):
        lines += ["## Analysis", "", result["analysis"], ""]
    path_md.write_text("\n".join(lines))


# Names for --only, in the order they run.
SCENARIOS = ["find", "export", "erasure", "session", "batch", "committed", "pseudonymize", "functions", "cold",
             "consent", "concurrency", "retention"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=sorted(SCALES), default=os.environ.get("BENCH_SCALE", "default"))
    ap.add_argument("--keep", action="store_true", help="leave the cluster running")
    ap.add_argument("--only", help="run only these scenarios (comma-separated: " + ", ".join(SCENARIOS) + "); "
                                   "the report then goes to bench/results/ unless --out says otherwise")
    ap.add_argument("--out", help="the report (default: BENCHMARKS.md; with --only bench/results/only.md)")
    ap.add_argument("--render", action="store_true",
                    help="only rewrite the Markdown from the JSON next to it (after editing bench/ANALYSIS.md)")
    args = ap.parse_args()
    scale = SCALES[args.scale]
    only = set(args.only.split(",")) if args.only else set(SCENARIOS)
    if only - set(SCENARIOS):
        ap.error(f"unknown scenarios {', '.join(sorted(only - set(SCENARIOS)))}; known: {', '.join(SCENARIOS)}")
    # A partial run must not overwrite the full report.
    out = Path(args.out or (ROOT / "bench/results/only.md" if args.only else ROOT / "BENCHMARKS.md"))
    analysis_file = ROOT / "bench" / "ANALYSIS.md"
    if args.render:
        result = json.loads(out.with_suffix(".json").read_text())
        result["analysis"] = analysis_file.read_text().strip() if analysis_file.exists() else ""
        write_report(result, out, out.with_suffix(".json"))
        return 0

    start_cluster()
    try:
        result = {"date": datetime.date.today().isoformat(), "scale_name": args.scale, "machine": machine(),
                  "settings": SERVER_SETTINGS, "scenarios": []}
        if args.only:
            result["only"] = sorted(only, key=SCENARIOS.index)
        result["postgres"] = one("postgres", "SELECT version()").split(" on ")[0]
        log(f"generating {scale['guests']} guests (and {scale['small_guests']} for the size check)")
        result["scale"] = load_chat("bench", scale["guests"])
        if "erasure" in only:
            result["small_scale"] = load_chat("bench_small", scale["small_guests"])
        db, n = "bench", scale["erasures"]

        # Finding and exporting only read: they run first, on the data as loaded (the erasures below change
        # guests for good), and are reported last.
        requests = []
        if {"find", "export"} & only:
            result["find_indexes"], result["find_indexes_missed"] = create_find_indexes(db)
        if "find" in only:
            log("scenario 7: find_guests (the indexes gdpr.lint() suggests created)")
            requests.extend(scenario_find(db, n))
        if "export" in only:
            log("scenario 8: export_guest")
            requests.append(scenario_export(db, n))
        drop_find_indexes(db)

        if "erasure" in only:
            log("scenario 1: anonymize_guest (rolled back, same guests for both)")
            big = scenario_erasure(db, n)
            result["scenarios"].append(big)
            small = scenario_erasure("bench_small", n, label_suffix=f" ({scale['small_guests']} guests)")
            result["scenarios"].append(small)
            speedup = big["ours"]["median"] / small["ours"]["median"]
            result["size_check"] = {"large_median": big["ours"]["median"], "small_median": small["ours"]["median"],
                                    "speedup": speedup, "met": speedup <= 1.2}
            psql(db, "VACUUM")
        # The committed erasures are reported next to the rolled-back ones, before anonymize_session.
        committed_at = len(result["scenarios"])
        if "session" in only:
            log("scenario 2: anonymize_session")
            result["scenarios"].append(scenario_session(db, n))
            psql(db, "VACUUM")
        if "batch" in only:
            log("scenario 2b: anonymize_subjects on many guests against single erasures (rolled back)")
            result["scenarios"].extend(scenario_batch(db, BATCH_RUNS))
            psql(db, "VACUUM")
        # Committed erasures change the data for good (and the guard then refuses the floor's writes to those
        # rows): they come after the rolled-back scenarios.
        if "committed" in only:
            log("scenario 1b: anonymize_guest with a commit per erasure")
            result["scenarios"].insert(committed_at, scenario_erasure_committed(db, n))
            psql(db, "VACUUM")
        if "erasure" in only:
            result["explain"] = explain_erasure(db)
            result["explain_analyze"] = explain_analyze_guest(db, sample_ids(db, "chat.guests", 1, seed=1)[0])

        if "pseudonymize" in only:
            log("scenario 3: pseudonymize_table")
            result["scenarios"].append(scenario_pseudonymize(
                db, "chat.guests", ["name", "email", "phone", "ip", "metadata"], 1.5, 50_000, 3,
                context_sql="UPDATE chat.guests SET name = md5(name), email = md5(email), phone = md5(phone), "
                            "ip = NULL, metadata = jsonb_build_object('browser', metadata->'browser')"))
            result["scenarios"].append(scenario_pseudonymize(db, "chat.messages", ["body"], 3.0, 100_000, 1))
        if "functions" in only:
            log("scenario 4: strategy functions")
            result["scenarios"].extend(scenario_functions(db, 3))
        if "cold" in only:
            log("scenario 4b: cold plan (first erasure in a new connection)")
            result["scenarios"].append(scenario_cold(db, 20))
        if "consent" in only:
            log("scenario 5: consent trigger")
            result["scenarios"].append(scenario_consent(db, scale["pgbench_seconds"], 3))
        if "concurrency" in only:
            log("scenario 6: concurrency")
            result["scenarios"].append(scenario_concurrency(db, scale["pgbench_seconds"] * 2))
        # Retention erases guests for good and changes when guests came: it runs last.
        if "retention" in only:
            log("scenario 6b: retention under load")
            result["scenarios"].append(scenario_retention(db, scale["guests"]))
        result["scenarios"].extend(requests)
        if analysis_file.exists() and not args.only:
            result["analysis"] = analysis_file.read_text().strip()
        out.parent.mkdir(parents=True, exist_ok=True)
        write_report(result, out, out.with_suffix(".json"))
        log(f"wrote {out} and {out.with_suffix('.json')}")
        for e in result["scenarios"]:
            r = e.get("ratio_median", e.get("ratio_tps", e.get("ratio_duration")))
            verdict = ("met" if e["met"] else "NOT met") if e.get("targets") else "reported"
            log(f"  {e['scenario']}: {'' if r is None else f'{r:.2f}x '}{verdict}")
    finally:
        if not args.keep:
            stop_cluster()


if __name__ == "__main__":
    sys.exit(main())
