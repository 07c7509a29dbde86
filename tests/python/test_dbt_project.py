"""The dbt project as a whole: generated files agree with the spec, unit tests pass, docs generate."""

from __future__ import annotations

import datetime as dt
import os

import psycopg2
import yaml
from dbt.cli.main import dbtRunner

from sis_sync import PROJECT_ROOT
from sis_sync.ingestion.load import ingest_export
from sis_sync.ingestion.spec import RAW_META_COLUMNS, load_spec, raw_spec
from sis_sync.nightly import dbt_build, prepare_warehouse
from sis_sync.project import mart_names
from sis_sync.sample import write_export
from sis_sync.specdocs import DATA_SPEC_PATH, SOURCES_PATH, check_generated, records_models


def test_generated_files_agree_with_the_spec():
    assert check_generated() == [], "run `sis-sync spec --write`"


def test_a_mart_rebuilt_whole_every_night_says_why():
    """A mart that is not incremental (by record, by partition, or a history) is a table rebuilt every night:
    its YAML gives the reason (`meta.rebuilt_whole`), and an incremental one gives none."""
    incremental = ("records_mart_config(", "year_partitioned_config(", "history_config(")
    for name in mart_names():
        sql = (PROJECT_ROOT / "models" / "marts" / f"{name}.sql").read_text(encoding="utf-8")
        doc = yaml.safe_load((PROJECT_ROOT / "models" / "marts" / f"{name}.yml").read_text(encoding="utf-8"))
        reason = doc["models"][0].get("config", {}).get("meta", {}).get("rebuilt_whole")
        if any(call in sql for call in incremental):
            assert reason is None, name
        else:
            assert reason and len(reason) > 20, f"{name} is rebuilt whole every night: say why in its YAML"


def test_sources_declare_every_spec_column_with_its_type():
    sources = yaml.safe_load(SOURCES_PATH.read_text())["sources"][0]
    tables = {t["name"]: t for t in sources["tables"]}
    for f in load_spec().files:
        declared = [(c["name"], c["data_type"]) for c in tables[f.name]["columns"]]
        expected = [(c.name, c.pg_type) for c in f.columns] + list(RAW_META_COLUMNS.items())
        assert declared == expected, f.name


def test_a_bad_calendar_row_never_fails_the_build_of_every_district():
    """The tests of the seasons seed warn (its district alone stops, through int_calendar_conflicts): a failing
    seed test would skip every model downstream of the seed, for every district."""
    seeds = {s["name"]: s for s in yaml.safe_load((PROJECT_ROOT / "seeds" / "_seeds.yml").read_text())["seeds"]}
    seasons = seeds["seasons"]
    tests = list(seasons["data_tests"]) + [t for c in seasons["columns"] for t in c.get("data_tests", [])]
    assert tests
    for test in tests:
        assert isinstance(test, dict), f"{test}: give it severity warn"
        [(name, body)] = test.items()
        config = (body or {}).get("config", {})
        assert config.get("severity") == "warn", name


def test_the_raw_layer_is_as_its_sources_declare(fresh_db, db_conn):
    """Every table the warehouse preparation creates in raw_sis has the columns, in order and type, that the
    generated dbt sources (sis_sync/specdocs.py) declare: the DDL and the documentation cannot drift."""
    prepare_warehouse(fresh_db)
    sources = yaml.safe_load(SOURCES_PATH.read_text())["sources"][0]
    with db_conn.cursor() as cur:
        for table in sources["tables"]:
            cur.execute("select attname, format_type(atttypid, atttypmod) from pg_attribute where attrelid ="
                        " to_regclass(%s) and attnum > 0 and not attisdropped order by attnum",
                        (f"raw_sis.{table['name']}",))
            actual = cur.fetchall()
            declared = [(c["name"], c["data_type"]) for c in table["columns"]]
            assert actual == declared, table["name"]


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
    # the marts' not-null columns are declared NOT NULL in Postgres (contract constraints), not tested after
    declared = set()
    for path in (PROJECT_ROOT / "models" / "marts").glob("*.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            for column in model["columns"]:
                if {"type": "not_null"} in column.get("constraints", []):
                    declared.add((model["name"], column["name"]))
    with psycopg2.connect(fresh_db.dsn) as conn, conn.cursor() as cur:
        cur.execute("select table_name, column_name from information_schema.columns "
                    "where table_schema = 'marts' and is_nullable = 'NO'")
        assert set(cur.fetchall()) == declared
    assert ("fct_attendance", "student_id") in declared and len(declared) > 60
    res = dbtRunner().invoke(["docs", "generate", "--project-dir", str(PROJECT_ROOT),
                              "--profiles-dir", str(PROJECT_ROOT), "--vars", "{run_date: '2026-03-16'}"])
    assert res.success, res.exception

    # the grains of the record-level marts, the history marts and the records models are unique indexes, read
    # from the catalog: without one the test fails
    results = _dbt_test(dt.date(2026, 3, 16), "test_name:unique_index")
    records = sum(len(records_models(f)) for f in raw_spec().files)
    assert len(results) == 6 + 3 + records and all(str(r.status) == "pass" for r in results.values())
    with psycopg2.connect(fresh_db.dsn) as conn, conn.cursor() as cur:
        cur.execute("select indexrelid::regclass::text from pg_index "
                    "where indrelid = 'marts.fct_roster'::regclass and indisunique")
        (grain_index,) = cur.fetchone()
        cur.execute(f"drop index {grain_index}")
    results = _dbt_test(dt.date(2026, 3, 16), "test_name:unique_index")
    failed = [name for name, r in results.items() if str(r.status) == "fail"]
    assert len(failed) == 1 and "fct_roster" in failed[0]


def _dbt_test(run_date: dt.date, select: str):
    os.environ["SIS_SYNC_RUN_DATE"] = run_date.isoformat()
    res = dbtRunner().invoke(["test", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT),
                              "--select", select, "--exclude-resource-type", "unit_test"])
    assert res.result is not None, res.exception
    return {r.node.name: r for r in res.result.results if r.node.resource_type == "test"}


def test_staging_tests_check_the_loads_landed_on_the_run_date(fresh_db, db_conn, tmp_path):
    """Each load is tested the night it lands, and read by its load id (a literal the BRIN index can use)."""
    drop = tmp_path / "drop"
    nights = dt.date(2026, 3, 16), dt.date(2026, 3, 17)
    for night in nights:
        write_export(drop, district_id="sample", export_date=night, students=40)
    first = ingest_export(fresh_db, drop, "sample", nights[0])
    assert first.loaded > 0 and first.rejected == 0
    prepare_warehouse(fresh_db)
    with db_conn.cursor() as cur:
        cur.execute("select load_id from raw_sis.load_ledger where file_name = 'students.csv'")
        (first_load,) = cur.fetchone()
        # a row the validator would have rejected, as if it had slipped through
        cur.execute("update raw_sis.students set student_id = null where _load_id = %s and _line_number = 2",
                    (first_load,))
    dbt_build(nights[0], select=("stg_sis__students",))

    results = _dbt_test(nights[0], "stg_sis__students")
    (not_null,) = [r for name, r in results.items() if name.startswith("not_null_columns_stg_sis__students")]
    assert str(not_null.status) == "fail" and not_null.failures == 1
    assert f"'{first_load}'" in not_null.node.compiled_code

    # the next night tests its own load only: the first load is not read again
    assert ingest_export(fresh_db, drop, "sample", nights[1]).loaded > 0
    results = _dbt_test(nights[1], "stg_sis__students")
    (not_null,) = [r for name, r in results.items() if name.startswith("not_null_columns_stg_sis__students")]
    assert str(not_null.status) == "pass"
    assert f"'{first_load}'" not in not_null.node.compiled_code


def test_dbt_sessions_get_their_settings_unless_pgoptions_sets_them(fresh_db, monkeypatch):
    from sis_sync.nightly import _session_settings

    def settings():
        with psycopg2.connect(fresh_db.dsn) as conn, conn.cursor() as cur:  # libpq reads PGOPTIONS
            cur.execute("select current_setting('jit'), current_setting('work_mem')")
            return cur.fetchone()

    monkeypatch.setenv("PGOPTIONS", "-c work_mem=8MB")
    with _session_settings():
        assert settings() == ("off", "8MB")  # the user's work_mem wins, jit is added
    assert os.environ["PGOPTIONS"] == "-c work_mem=8MB"  # as it was after the build
    monkeypatch.delenv("PGOPTIONS")
    with _session_settings():
        assert settings() == ("off", "64MB")
    assert "PGOPTIONS" not in os.environ
