#!/usr/bin/env bash
# Retention on a schedule, as the README's pg_cron recipe sets it up: a throwaway cluster with pg_cron preloaded
# runs `CALL gdpr.enforce_retention()` as a cron job scheduled for the next minute; the test waits for the job,
# then checks its effect (expired subjects erased, fresh ones kept, the run logged) and its entry in
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
SQL

# pg_cron 1.4 reads schedules in GMT. The next minute, or the one after if this one is nearly over.
minute=$("${psql[@]}" -d gdpr_cron -c "SELECT extract(minute FROM (now() AT TIME ZONE 'UTC')
    + CASE WHEN extract(second FROM now()) > 50 THEN interval '2 minutes' ELSE interval '1 minute' END)::int")
job=$("${psql[@]}" -d gdpr_cron -c "SELECT cron.schedule('gdpr-retention', '$minute * * * *', 'CALL gdpr.enforce_retention()')")
echo "pg_cron: job $job scheduled at minute $minute (GMT); waiting for it"

status=""
for _ in $(seq 1 100); do
  status=$("${psql[@]}" -d gdpr_cron -c "SELECT status FROM cron.job_run_details WHERE jobid = $job
                                          AND status IN ('succeeded', 'failed') ORDER BY runid DESC LIMIT 1")
  [ -n "$status" ] && break
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
check "fresh members kept" "SELECT count(*) FROM members WHERE email LIKE 'member%@mail.example' AND id > 30" "20"
check "their logins deleted" "SELECT count(*) FROM logins WHERE member_id <= 30" "0"
check "one log entry each" "SELECT count(*) || ' ' || count(DISTINCT subject_id) FROM gdpr.erasure_log
                            WHERE origin = 'retention'" "30 30"
check "the run recorded" "SELECT run_by || ' ' || (summary->>'stopped') || ' ' || (finished_at IS NOT NULL)
                          FROM gdpr.retention_run" "postgres done true"
"${psql[@]}" -d gdpr_cron -c "SELECT cron.unschedule($job)" >/dev/null
echo "test pg_cron                      ... $result"
[ "$result" = ok ]
