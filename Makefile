# pg_gdpr — the README's commands. Each target bootstraps what it needs (apt packages, cargo-pgrx).
PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config

.PHONY: demo test regress install lint bootstrap bench

# make bench SCALE=small for a quick run (default: 100k guests, 10M messages)
SCALE ?= default

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

regress:
	bash scripts/bootstrap.sh
	bash scripts/regress.sh

install:
	bash scripts/bootstrap.sh
	PATH="$$HOME/.cargo/bin:$$PATH" cargo pgrx install --release --pg-config $(PG_CONFIG)

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

bootstrap:
	bash scripts/bootstrap.sh

bench:
	BENCH_SCALE=$(SCALE) bash bench/run.sh
