# The README's commands. `make run` syncs one night of a sample district; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATE ?= 2026-03-16
DROP ?= sample_drop

.PHONY: install prereqs run test test-fast test-spark-cluster lint pytest docs score evaluate stop clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "installing the pinned dependencies into $(VENV) (a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: install
	@echo "writing a sample district's export for $(DATE) into $(DROP)/"
	$(BIN)/sis-sync sample --out $(DROP) --students 400 --date $(DATE)
	$(BIN)/sis-sync nightly --drop $(DROP) --date $(DATE)

# Chromium and a Postgres server for the suite: found, installed or started, or a stop naming the command to run
prereqs:
	@scripts/test-prereqs.sh

lint: install
	$(BIN)/ruff check sis_sync ingestion tests bench
	$(BIN)/sqlfluff lint models macros tests seeds --processes 1

# two workers (each test has a database of its own); the tests that create and drop the cluster-wide roles
# run after them, alone, since every mart's build grants to those roles
pytest: install prereqs
	$(BIN)/pytest -n 2 -m "not cluster_roles and not spark_cluster"
	$(BIN)/pytest -m cluster_roles

test: prereqs lint pytest

# a quick subset (under 3 minutes): the linters and every test that does not build the marts with dbt
test-fast: prereqs lint
	$(BIN)/pytest -q -n 2 -m "not slow and not cluster_roles and not spark_cluster"

# the Spark test on a standalone cluster on loopback (a master, a worker and a Thrift server; about 7 minutes
# on 2 cores): the same three nights as the suite's Spark test in session mode
test-spark-cluster: install prereqs
	$(BIN)/pytest -m spark_cluster

docs: install
	$(BIN)/sis-sync spec --write

# dbt-score over the project's metadata (descriptions, owners, tests); dbt parse needs a profile, not a server
score: install
	PGHOST=$${PGHOST:-127.0.0.1} PGPORT=$${PGPORT:-5432} PGUSER=$${PGUSER:-postgres} PGDATABASE=$${PGDATABASE:-postgres} \
		$(BIN)/dbt parse --project-dir . --profiles-dir . --target-path target/score --quiet
	$(BIN)/dbt-score lint --manifest target/score/manifest.json

# dbt-project-evaluator from local checkouts (README, "Project checks"):
# make evaluate EVALUATOR=../dbt-project-evaluator DBT_UTILS=../dbt-utils
evaluate: install
	scripts/evaluate.sh "$(EVALUATOR)" "$(DBT_UTILS)"

stop:
	@if [ -x $(BIN)/sis-sync ]; then $(BIN)/sis-sync stop; fi

# stops the embedded Postgres servers first (make run's, the suite's): their data folders are under .sis-sync
clean: stop
	@if [ -x $(BIN)/python ]; then $(BIN)/python -c 'from pathlib import Path; from sis_sync import db; \
		db.stop_embedded(Path(".sis-sync/test-pg"))'; fi
	rm -rf $(VENV) target logs .sis-sync $(DROP)
