"""The same project on Apache Spark: a sample district synced for three nights (the first, one with changes, one
in the summer pause) gives every mart on Spark the rows it gives on Postgres.

Each night is ingested into the Postgres warehouse, its raw layer written to the lake as parquet
(:mod:`sis_sync.lake`), and the models built twice (their data tests are the nightly's, tested elsewhere): on
Postgres, and on Spark. Every mart is compared row for row, as a count and a checksum of its rows, on each
night. Spark runs twice: in this process (dbt-spark's session mode, the ``spark`` target of profiles.yml), and
as a standalone cluster on loopback, a master and a worker in processes of their own with the Thrift server in
front (:mod:`sis_sync.spark_cluster`, the ``spark_thrift`` target).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import os
import shutil

import pytest
from export_files import rewrite_csv

from sis_sync import lake, spark
from sis_sync.commands import run_ingest
from sis_sync.marts import Marts
from sis_sync.nightly import DistrictNight, dbt_build, read_holds
from sis_sync.project import mart_names
from sis_sync.report import recent_history
from sis_sync.sample import write_export
from sis_sync.spark import LAKE_VAR, SPARK_DIR_VAR
from sis_sync.spark_cluster import LoopbackCluster

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


def _session_marts() -> dict[str, tuple[int, str]]:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()  # the session dbt-spark started
    digests = {}
    for mart in MARTS:
        frame = spark.table(f"marts.{mart}")
        columns = sorted(frame.columns)
        digests[mart] = _digest(columns, [[row[c] for c in columns] for row in frame.collect()])
    return digests


def _thrift_marts(cluster: LoopbackCluster) -> dict[str, tuple[int, str]]:
    """The marts as the cluster's Thrift server gives them, typed as a session gives them."""
    digests = {}
    for mart in MARTS:
        description, rows = cluster.query(f"select * from marts.{mart}")
        names = [d[0] for d in description]
        rows = spark.typed(description, rows)
        columns = sorted(names)
        digests[mart] = _digest(columns, [[row[names.index(c)] for c in columns] for row in rows])
    return digests


def _change_the_second_night(folder) -> None:
    """Night 2 changes a contact's phone, ends a student's enrolments, removes a contact, and loses half the
    courses: courses.csv is held (records removed), and stays held."""
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
    rewrite_csv(folder / "courses.csv", lambda header, rows: (header, rows[: len(rows) // 2]))


def _holds(settings, night: dt.date, target: str | None) -> list[str]:
    """What the nightly job says the night holds, read on the engine that built it."""
    district = DistrictNight("sample")
    read_holds(settings, [district], night, target)
    assert district.held == len(district.problems)
    return district.problems


def _three_nights(settings, db_conn, drop, target: str, spark_marts) -> dict[str, tuple[int, str]]:
    """Sync the sample district for the three nights, each built on Postgres and on ``target``; every mart is
    the same on both, each night, and so are the holds the nightly job reads. Returns the last night's marts
    on Spark."""
    for number, night in enumerate(NIGHTS, start=1):
        folder = write_export(drop, district_id="sample", export_date=night, students=120, seed=3)
        if number == 2:
            _change_the_second_night(folder)
        assert run_ingest(None, drop, night, ("sample",)) == 0, night
        built = ("resource_type:model",) if number > 1 else ("resource_type:seed", "resource_type:model")
        outcome = dbt_build(night, select=built, data_tests=False)
        assert outcome.ok, outcome.errors
        postgres = _postgres_marts(db_conn)
        held = _holds(settings, night, None)

        lake.publish(db_conn)
        outcome = dbt_build(night, target=target, select=built, data_tests=False)
        assert outcome.ok, outcome.errors
        spark = spark_marts()

        differ = {mart: (postgres[mart], spark[mart]) for mart in MARTS if postgres[mart] != spark[mart]}
        assert not differ, f"night {night}: marts differ (rows, checksum) Postgres vs {target}: {differ}"
        assert postgres["fct_roster"][0] > 0 and postgres["dim_contacts"][0] > 0
        assert _holds(settings, night, target) == held
        # what `status` and `report --target` read there
        assert recent_history(Marts(target=target), 5) == recent_history(Marts(conn=db_conn), 5)
        assert [problem.split()[0] for problem in held] == ([] if number == 1 else ["courses.csv"]), held
    # the night with changes shows in the history marts
    assert spark["dim_contacts_history"][0] > spark["dim_contacts"][0]
    return spark


def test_three_nights_give_the_same_marts_on_spark_as_on_postgres(fresh_db, db_conn, tmp_path, monkeypatch):
    # Spark in this process for the test's three nights: its tables' names in memory, its queries interpreted
    # (profiles.yml: the metastore and compiled queries cost more than they save on a small district)
    monkeypatch.setenv(SPARK_DIR_VAR, str(tmp_path / "spark"))
    monkeypatch.setenv("SIS_SYNC_SPARK_CATALOG", "in-memory")
    monkeypatch.setenv("SIS_SYNC_SPARK_CODEGEN", "false")
    monkeypatch.delenv(LAKE_VAR, raising=False)
    try:
        _three_nights(fresh_db, db_conn, tmp_path / "drop", "spark", _session_marts)
    finally:
        shutil.rmtree(os.environ.get(SPARK_DIR_VAR, tmp_path / "spark"), ignore_errors=True)


@pytest.mark.spark_cluster
def test_three_nights_give_the_same_marts_on_a_loopback_cluster(fresh_db, db_conn, tmp_path, monkeypatch):
    """The same on a standalone cluster: a master and a worker in processes of their own, the Thrift server in
    front (the ``spark_thrift`` target); the queries run in the worker's executor."""
    with LoopbackCluster(tmp_path / "cluster", workers=1) as cluster:
        for name, value in cluster.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv(LAKE_VAR, str(tmp_path / "cluster" / "lake"))
        _three_nights(fresh_db, db_conn, tmp_path / "drop", "spark_thrift", lambda: _thrift_marts(cluster))
        assert any((tmp_path / "cluster" / "worker-1").glob("app-*/*/stderr")), "no executor ran on the worker"
