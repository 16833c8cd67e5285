#!/usr/bin/env bash
# SQL regression suite: installs the extension into the system PostgreSQL 15, starts a throwaway cluster
# (postgres user, private port and socket dir), runs pg_regress and the isolation specs (pg_isolation_regress),
# then the dump/restore and backup-replay checks; stops the cluster. Then the cluster-level tests, each on
# clusters of its own (pg_cron, crash recovery, dead tuples, replication).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGXS=$("$PG_CONFIG" --pkglibdir)/pgxs
PORT=${REGRESS_PORT:-55432}
DIR=${REGRESS_DIR:-/tmp/pg_gdpr_regress}
export PATH="$HOME/.cargo/bin:$PATH"

cargo pgrx install --pg-config "$PG_CONFIG" >/dev/null

scripts/cluster.sh stop "$DIR" || true
rm -rf "$DIR"
# RUST_BACKTRACE=1 in the server's environment: the suite shows that no Rust backtrace reaches an error's DETAIL.
CLUSTER_ENV="RUST_BACKTRACE=1" scripts/cluster.sh start "$DIR" "$PORT"
trap 'scripts/cluster.sh stop "$DIR"' EXIT

status=0
"$PGXS/src/test/regress/pg_regress" \
  --host="$DIR/socket" --port="$PORT" --user=postgres \
  --inputdir=tests/pg_regress --outputdir=tests/pg_regress \
  --schedule=tests/pg_regress/schedule --dbname=gdpr_regression || status=$?
if [ "$status" -ne 0 ] && [ -f tests/pg_regress/regression.diffs ]; then
  cat tests/pg_regress/regression.diffs
fi
# Concurrency specs: erasure vs late writes, withdrawal vs inserts.
iso_status=0
"$PGXS/src/test/isolation/pg_isolation_regress" \
  --host="$DIR/socket" --port="$PORT" --user=postgres \
  --inputdir=tests/isolation --outputdir=tests/isolation \
  --schedule=tests/isolation/isolation_schedule --dbname=gdpr_isolation --load-extension=pg_gdpr || iso_status=$?
if [ "$iso_status" -ne 0 ] && [ -f tests/isolation/regression.diffs ]; then
  cat tests/isolation/regression.diffs
fi
[ "$iso_status" -eq 0 ] || status=$iso_status
tests/dump_restore.sh "$DIR/socket" "$PORT" || status=1
# A backup restored after erasures, and the ledger's replay.
tests/backup_replay.sh "$DIR/socket" "$PORT" || status=1
# Retention scheduled with pg_cron, on a cluster of its own (pg_cron must be preloaded).
tests/pg_cron.sh || status=1
# Proofs beyond the transaction, each on clusters of its own: crashes mid-erasure, what VACUUM has to clear, a
# streaming standby and a logical subscriber.
tests/crash.sh || status=1
tests/residue.sh || status=1
tests/replication.sh || status=1
exit "$status"
