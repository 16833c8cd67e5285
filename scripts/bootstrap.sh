#!/usr/bin/env bash
# Idempotent bootstrap used by every entry point (make demo/test/install, .ci/run):
# Debian build packages, cargo-pgrx 0.18.1, and `cargo pgrx init` against the system PostgreSQL 15.
set -euo pipefail

PGRX_VERSION=0.18.1
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
APT_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-15-dirtyread postgresql-contrib libclang-dev clang sudo make python3)

export PATH="$HOME/.cargo/bin:$PATH"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}"
fi

if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
  echo "bootstrap: installing cargo-pgrx $PGRX_VERSION (takes a few minutes)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

# pgrx keeps its config in ~/.pgrx/config.toml; (re)initialise only when pg15 is not registered.
if ! grep -qs "pg15 *= *\"$PG_CONFIG\"" "$HOME/.pgrx/config.toml"; then
  cargo pgrx init --pg15 "$PG_CONFIG"
fi
