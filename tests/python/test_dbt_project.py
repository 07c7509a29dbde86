"""The dbt project as a whole: generated files agree with the spec, unit tests pass, docs generate."""

from __future__ import annotations

import datetime as dt

import yaml
from dbt.cli.main import dbtRunner

from ingestion import PROJECT_ROOT
from ingestion.nightly import dbt_build, prepare_warehouse
from ingestion.spec import RAW_META_COLUMNS, load_spec
from ingestion.specdocs import DATA_SPEC_PATH, SOURCES_PATH, check_generated


def test_generated_files_agree_with_the_spec():
    assert check_generated() == [], "run `sis-sync spec --write`"


def test_sources_declare_every_spec_column_with_its_type():
    sources = yaml.safe_load(SOURCES_PATH.read_text())["sources"][0]
    tables = {t["name"]: t for t in sources["tables"]}
    for f in load_spec().files:
        declared = [(c["name"], c["data_type"]) for c in tables[f.name]["columns"]]
        expected = [(c.name, c.pg_type) for c in f.columns] + list(RAW_META_COLUMNS.items())
        assert declared == expected, f.name


def test_data_specification_documents_every_file_and_column():
    text = DATA_SPEC_PATH.read_text()
    for f in load_spec().files:
        section = text.split(f"### {f.file_name}")[1].split("### ")[0]
        for c in f.columns:
            assert f"| `{c.name}` |" in section, f"{f.file_name}: {c.name}"
        assert ",".join(f.column_names) in section, f"{f.file_name}: example header"


def test_dbt_build_with_unit_tests_and_docs(fresh_db):
    prepare_warehouse(fresh_db)
    outcome = dbt_build(dt.date(2026, 3, 16), unit_tests=True)
    assert outcome.ok, outcome.errors
    assert outcome.passed > 100
    res = dbtRunner().invoke(["docs", "generate", "--project-dir", str(PROJECT_ROOT),
                              "--profiles-dir", str(PROJECT_ROOT), "--vars", "{run_date: '2026-03-16'}"])
    assert res.success, res.exception
