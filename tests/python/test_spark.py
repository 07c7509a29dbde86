"""The same project on Apache Spark: a sample district synced for three nights (the first, one with changes, one
in the summer pause) gives every mart on Spark the rows it gives on Postgres.

Each night is ingested into the Postgres warehouse, its raw layer written to the lake as parquet
(:mod:`sis_sync.lake`), and the models built twice (their data tests are the nightly's, tested elsewhere): on
Postgres, and on Spark in this process (dbt-spark's session mode, the `spark` target of profiles.yml). Every
mart is compared row for row, as a count and a checksum of its rows, on each night.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import os
import shutil

import pytest
from export_files import rewrite_csv

from sis_sync.commands import run_ingest
from sis_sync.lake import SPARK_DIR_VAR
from sis_sync.nightly import dbt_build
from sis_sync.project import mart_names
from sis_sync.sample import write_export

pyspark = pytest.importorskip("pyspark", reason="the spark extra: pip install -e '.[spark]'")

NIGHTS = (dt.date(2026, 3, 16), dt.date(2026, 3, 17), dt.date(2026, 7, 1))
MARTS = mart_names()


def _value(value) -> str:
    """One value as both engines' rows are compared: decimals to six places (a numeric on Postgres is a
    decimal(18, 6) on Spark), timestamps in UTC."""
    if isinstance(value, (decimal.Decimal, float)):
        return f"{decimal.Decimal(value):.6f}"
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo is None else value.astimezone(dt.timezone.utc).replace(tzinfo=None)).isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_value(v) for v in value) + "]"
    return "\\N" if value is None else str(value)


def _digest(columns: list[str], rows) -> tuple[int, str]:
    """The rows' count and a checksum of them, whatever their order."""
    lines = sorted("\x1f".join(_value(row[i]) for i in range(len(columns))) for row in rows)
    return len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _postgres_marts(conn) -> dict[str, tuple[int, str]]:
    digests = {}
    with conn.cursor() as cur:
        for mart in MARTS:
            cur.execute(f"select * from marts.{mart}")
            columns = [d.name for d in cur.description]
            digests[mart] = _digest(sorted(columns), [[row[columns.index(c)] for c in sorted(columns)]
                                                      for row in cur.fetchall()])
    return digests


def _spark_marts() -> dict[str, tuple[int, str]]:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()  # the session dbt-spark started
    digests = {}
    for mart in MARTS:
        frame = spark.table(f"marts.{mart}")
        columns = sorted(frame.columns)
        digests[mart] = _digest(columns, [[row[c] for c in columns] for row in frame.collect()])
    return digests


def _change_the_second_night(folder) -> None:
    """Night 2 changes a contact's phone, ends a student's enrolments and removes a contact."""
    def phone(header, rows):
        rows[0][header.index("mobile_phone")] = "555-201-7788"
        return header, rows[:-1]

    def ended(header, rows):
        student = rows[0][header.index("student_id")]
        for row in rows:
            if row[header.index("student_id")] == student:
                row[header.index("end_date")] = "2026-03-17"
        return header, rows

    rewrite_csv(folder / "contacts.csv", phone)
    rewrite_csv(folder / "enrollments.csv", ended)


def test_three_nights_give_the_same_marts_on_spark_as_on_postgres(fresh_db, db_conn, tmp_path, monkeypatch):
    # Spark in this process for the test's three nights: its tables' names in memory, its queries interpreted
    # (profiles.yml: the metastore and compiled queries cost more than they save on a small district)
    monkeypatch.setenv(SPARK_DIR_VAR, str(tmp_path / "spark"))
    monkeypatch.setenv("SIS_SYNC_SPARK_CATALOG", "in-memory")
    monkeypatch.setenv("SIS_SYNC_SPARK_CODEGEN", "false")
    monkeypatch.delenv("SIS_SYNC_LAKE", raising=False)
    drop = tmp_path / "drop"
    try:
        for number, night in enumerate(NIGHTS, start=1):
            folder = write_export(drop, district_id="sample", export_date=night, students=120, seed=3)
            if number == 2:
                _change_the_second_night(folder)
            assert run_ingest(None, drop, night, ("sample",)) == 0, night
            built = ("resource_type:model",) if number > 1 else ("resource_type:seed", "resource_type:model")
            outcome = dbt_build(night, select=built, data_tests=False)
            assert outcome.ok, outcome.errors
            postgres = _postgres_marts(db_conn)

            from sis_sync import lake

            lake.publish(db_conn)
            outcome = dbt_build(night, target="spark", select=built, data_tests=False)
            assert outcome.ok, outcome.errors
            spark = _spark_marts()

            differ = {mart: (postgres[mart], spark[mart]) for mart in MARTS if postgres[mart] != spark[mart]}
            assert not differ, f"night {night}: marts differ (rows, checksum) Postgres vs Spark: {differ}"
            assert postgres["fct_roster"][0] > 0 and postgres["dim_contacts"][0] > 0

        # the night with changes shows in the history marts of both engines
        assert spark["dim_contacts_history"][0] > spark["dim_contacts"][0]
    finally:
        shutil.rmtree(os.environ.get(SPARK_DIR_VAR, tmp_path / "spark"), ignore_errors=True)
