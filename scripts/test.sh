#!/usr/bin/env bash
# `make test`: the whole test suite — Rust unit tests and in-database #[pg_test]s (cargo pgrx test), then the
# SQL regression suite (pg_regress) against a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
export PATH="$HOME/.cargo/bin:$PATH"

PGRX_TEST_DATA=${PGRX_TEST_DATA:-/tmp/pg_gdpr_pgrx_test}
mkdir -p "$PGRX_TEST_DATA"
chown postgres:postgres "$PGRX_TEST_DATA"

echo "== cargo pgrx test (unit tests and #[pg_test]s)"
if [ "$(id -u)" -eq 0 ]; then
  cargo pgrx test pg15 --runas postgres --pgdata "$PGRX_TEST_DATA"
else
  cargo pgrx test pg15
fi

echo "== pg_regress (SQL contract, security suite)"
scripts/regress.sh
