#!/usr/bin/env bash
# `make bench`: installs what it needs, builds and installs pg_gdpr (release), then runs bench/bench.py, which
# starts its own throwaway cluster, generates the data, runs every scenario against its floor and writes
# BENCHMARKS.md and BENCHMARKS.json. BENCH_SCALE=small (or: make bench SCALE=small) for a quick run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
export PATH="$HOME/.cargo/bin:$PATH"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
echo "== building and installing pg_gdpr (release)"
cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null
exec python3 bench/bench.py --scale "${BENCH_SCALE:-default}" "$@"
