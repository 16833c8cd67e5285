#!/usr/bin/env bash
# `make test`: the whole test suite — Rust unit tests and in-database #[pg_test]s (cargo pgrx test), then the
# SQL regression suite (pg_regress) against a throwaway cluster. Ends with one "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
export PATH="$HOME/.cargo/bin:$PATH"

PGRX_TEST_DATA=${PGRX_TEST_DATA:-/tmp/pg_gdpr_pgrx_test}
mkdir -p "$PGRX_TEST_DATA"
chown postgres:postgres "$PGRX_TEST_DATA"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== cargo pgrx test (unit tests and #[pg_test]s)"
pgrx_status=0
if [ "$(id -u)" -eq 0 ]; then
  cargo pgrx test pg15 --runas postgres --pgdata "$PGRX_TEST_DATA" 2>&1 | tee "$log" || pgrx_status=$?
else
  cargo pgrx test pg15 2>&1 | tee "$log" || pgrx_status=$?
fi
rust_passed=$(sed -n 's/.*test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
rust_failed=$(sed -n 's/.*test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' "$log" | awk '{s += $1} END {print s + 0}')

echo "== pg_regress (SQL contract, security suite)"
regress_status=0
scripts/regress.sh 2>&1 | tee "$log" || regress_status=$?
regress_passed=$(grep -cE '^(ok|test) .* \.\.\. ok' "$log" || true)
regress_failed=$(grep -cE '\.\.\. FAILED' "$log" || true)

passed=$(( ${rust_passed:-0} + regress_passed ))
failed=$(( ${rust_failed:-0} + regress_failed ))
if [ "$pgrx_status" -ne 0 ] || [ "$regress_status" -ne 0 ]; then
  [ "$failed" -gt 0 ] || failed=1
fi
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
