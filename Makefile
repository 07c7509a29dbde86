# The README's commands. `make run` syncs one night of a sample district; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATE ?= 2026-03-16
DROP ?= sample_drop

.PHONY: install run test lint pytest docs clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(BIN)/sis-sync sample --out $(DROP) --students 400 --date $(DATE)
	$(BIN)/sis-sync nightly --drop $(DROP) --date $(DATE)

lint: install
	$(BIN)/ruff check ingestion tests bench
	$(BIN)/sqlfluff lint models macros tests seeds --processes 1

pytest: install
	$(BIN)/pytest

test: lint pytest

docs: install
	$(BIN)/sis-sync spec --write

clean:
	rm -rf $(VENV) target logs .sis-sync $(DROP)
