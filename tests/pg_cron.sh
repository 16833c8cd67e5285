#!/usr/bin/env bash
# Retention and the residue VACUUM on a schedule, as the README's pg_cron recipes set them up: a throwaway cluster
# with pg_cron preloaded runs `CALL gdpr.enforce_retention()` and the VACUUM that gdpr.erasure_residue asks for as
# cron jobs scheduled for the next minute; the test waits for them, then checks their effect (expired subjects
# erased, fresh ones kept, the run logged; an earlier erasure no longer in the residue) and their entries in
# cron.job_run_details. Starts and stops its own cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${CRON_DIR:-/tmp/pg_gdpr_cron}
PORT=${CRON_PORT:-55435}

scripts/cluster.sh stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"
# pg_cron runs each job through libpq: over the cluster's own socket directory (it listens on no TCP address).
CLUSTER_OPTS="-c shared_preload_libraries=pg_cron -c cron.database_name=gdpr_cron -c cron.host=$DIR/socket" \
  scripts/cluster.sh start "$DIR" "$PORT"
trap 'scripts/cluster.sh stop "$DIR"' EXIT
psql=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$DIR/socket" -p "$PORT" -U postgres)

"${psql[@]}" -c "CREATE DATABASE gdpr_cron"
"${psql[@]}" -d gdpr_cron >/dev/null <<'SQL'
CREATE EXTENSION pg_cron;
CREATE EXTENSION pg_gdpr;
CREATE TABLE members (id int PRIMARY KEY, email text, last_seen timestamptz NOT NULL);
CREATE INDEX ON members (last_seen);
CREATE TABLE logins (id int PRIMARY KEY, member_id int NOT NULL REFERENCES members, ip inet);
CREATE INDEX ON logins (member_id);
INSERT INTO members SELECT i, 'member' || i || '@mail.example',
                           CASE WHEN i <= 30 THEN now() - interval '4 years' ELSE now() END
  FROM generate_series(1, 50) i;
INSERT INTO logins SELECT i, i, '10.0.0.1' FROM generate_series(1, 50) i;
SELECT gdpr.declare_subject('member', 'members');
SELECT gdpr.declare_pii('members', 'email', 'fake_email');
SELECT gdpr.declare_erase_action('logins', 'delete');
SELECT gdpr.declare_retention('members', 'last_seen', interval '3 years');
-- The residue recipe: every VACUUM of these tables cleans their indexes (so gdpr.erasure_residue counts it).
ALTER TABLE members SET (vacuum_index_cleanup = on);
ALTER TABLE logins SET (vacuum_index_cleanup = on);
SQL
# A person's request before the jobs run: its old row versions are the residue the nightly VACUUM clears.
erasure=$("${psql[@]}" -d gdpr_cron -c "SELECT gdpr.anonymize_subject('member', '45')->>'erasure_id'")
[ "$("${psql[@]}" -d gdpr_cron -c "SELECT count(*) FROM gdpr.erasure_residue WHERE '$erasure' = ANY (erasure_ids)")" = 2 ] ||
  { echo "pg_cron: the erasure is not in gdpr.erasure_residue"; exit 1; }

# pg_cron 1.4 reads schedules in GMT. The next minute, or the one after if this one is nearly over.
minute=$("${psql[@]}" -d gdpr_cron -c "SELECT extract(minute FROM (now() AT TIME ZONE 'UTC')
    + CASE WHEN extract(second FROM now()) > 50 THEN interval '2 minutes' ELSE interval '1 minute' END)::int")
job=$("${psql[@]}" -d gdpr_cron -c "SELECT cron.schedule('gdpr-retention', '$minute * * * *', 'CALL gdpr.enforce_retention()')")
vacuum_job=$("${psql[@]}" -d gdpr_cron -c "SELECT cron.schedule('gdpr-residue', '$minute * * * *',
                                             'VACUUM (INDEX_CLEANUP ON, PROCESS_TOAST ON) members, logins')")
echo "pg_cron: jobs $job and $vacuum_job scheduled at minute $minute (GMT); waiting for them"

for _ in $(seq 1 100); do
  done_jobs=$("${psql[@]}" -d gdpr_cron -c "SELECT count(DISTINCT jobid) FROM cron.job_run_details
                                             WHERE jobid IN ($job, $vacuum_job) AND status IN ('succeeded', 'failed')")
  [ "$done_jobs" = 2 ] && break
  sleep 2
done

result=ok
check() { # check NAME SQL EXPECTED
  local got
  got=$("${psql[@]}" -d gdpr_cron -c "$2")
  if [ "$got" != "$3" ]; then
    echo "pg_cron: $1: expected '$3', got '$got'"
    result=FAILED
  fi
}
check "job run" "SELECT status || ' ' || return_message FROM cron.job_run_details WHERE jobid = $job
                 ORDER BY runid DESC LIMIT 1" "succeeded 1 row"
check "expired members erased" "SELECT count(*) FROM members WHERE email LIKE 'member%@mail.example' AND id <= 30" "0"
check "fresh members kept" "SELECT count(*) FROM members WHERE email LIKE 'member%@mail.example' AND id > 30" "19"
check "their logins deleted" "SELECT count(*) FROM logins WHERE member_id <= 30" "0"
check "one log entry each" "SELECT count(*) || ' ' || count(DISTINCT subject_id) FROM gdpr.erasure_log
                            WHERE origin = 'retention'" "30 30"
check "the chain verifies" "SELECT count(*) FROM gdpr.verify_audit_chain()" "0"
check "residue job run" "SELECT status || ' ' || return_message FROM cron.job_run_details WHERE jobid = $vacuum_job
                        ORDER BY runid DESC LIMIT 1" "succeeded VACUUM"
check "the erasure's residue cleared" "SELECT count(*) FROM gdpr.erasure_residue WHERE '$erasure' = ANY (erasure_ids)" "0"
check "the run recorded" "SELECT run_by || ' ' || (summary->>'stopped') || ' ' || (finished_at IS NOT NULL)
                          FROM gdpr.retention_run" "postgres done true"
"${psql[@]}" -d gdpr_cron -c "SELECT cron.unschedule($job), cron.unschedule($vacuum_job)" >/dev/null
echo "test pg_cron                      ... $result"
[ "$result" = ok ]
