"""Queries on what a Spark target of profiles.yml built, from any sis-sync process.

``spark`` (session mode): this process's Spark session, the one a build in it started, or else one started
as profiles.yml says (its metastore and warehouse under ``SIS_SYNC_SPARK_DIR``), so a new process finds the
tables a nightly run built. ``spark_thrift``: the Thrift server profiles.yml names.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from pathlib import Path

from sis_sync import PROJECT_ROOT

SPARK_TARGETS = ("spark", "spark_thrift")  # profiles.yml's Spark targets: in this process, through Thrift
SPARK_DIR_VAR = "SIS_SYNC_SPARK_DIR"  # the spark target's folder (profiles.yml): metastore, warehouse, lake


LAKE_VAR = "SIS_SYNC_LAKE"  # the lake, when not lake/ in that folder


class SparkUnreachable(RuntimeError):
    """The Spark target cannot be reached: no Thrift server answers, or Spark cannot start in this process."""


def spark_dir() -> Path:
    """The ``spark`` target's folder: ``SIS_SYNC_SPARK_DIR``, else ``.sis-sync/spark`` of the project."""
    return Path(os.environ.get(SPARK_DIR_VAR) or PROJECT_ROOT / ".sis-sync" / "spark")


def absolute_spark_dir() -> None:
    """Make ``SIS_SYNC_SPARK_DIR`` (default ``.sis-sync/spark`` of the project) and ``SIS_SYNC_LAKE``, if set,
    absolute, so that profiles.yml, the build and a cluster's processes name the same folders from any working
    directory."""
    os.environ[SPARK_DIR_VAR] = str(spark_dir().absolute())
    if os.environ.get(LAKE_VAR) and "://" not in os.environ[LAKE_VAR]:
        os.environ[LAKE_VAR] = os.path.abspath(os.environ[LAKE_VAR])


def credentials(target: str):
    """The target's credentials as dbt renders them from profiles.yml (its env_var calls included)."""
    from argparse import Namespace

    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    set_from_args(Namespace(), None)
    set_invocation_context(os.environ)
    profiles = read_profile(str(PROJECT_ROOT))
    return Profile.from_raw_profiles(profiles, "sis_sync", ProfileRenderer({}), target_override=target).credentials


def session():
    """This process's Spark session, or one started with the ``spark`` target's settings."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    absolute_spark_dir()
    builder = SparkSession.builder.enableHiveSupport()  # as dbt-spark's session mode starts it
    for name, value in (credentials("spark").server_side_parameters or {}).items():
        builder = builder.config(name, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - pyspark's errors when its JVM does not start
        raise SparkUnreachable(f"Spark did not start in this process (it needs a Java 17 runtime): "
                               f"{_first_line(exc)}") from exc


def thrift_query(sql: str, host: str | None = None, port: int | None = None) -> tuple[list[tuple], list[tuple]]:
    """A query through a Thrift server (default: the ``spark_thrift`` target's): its columns' descriptions
    (name, type, ...) and its rows."""
    from pyhive import hive
    from thrift.transport.TTransport import TTransportException

    if host is None or port is None:
        target = credentials("spark_thrift")
        host, port = host or target.host, port or target.port
    try:
        conn = hive.connect(host=host, port=port)
    except (OSError, TTransportException) as exc:
        raise SparkUnreachable(f"no Spark Thrift server answers at {host}:{port}: {_first_line(exc)}") from exc
    with contextlib.closing(conn):
        cur = conn.cursor()
        cur.execute(sql)
        return list(cur.description), cur.fetchall()


def typed(description: list[tuple], found: list[tuple]) -> list[tuple]:
    """Rows from the Thrift server as a Spark session gives them: a date and an array come as text (JSON for
    an array); a decimal, a timestamp, a number and a boolean come typed already."""
    dates = {i for i, column in enumerate(description) if column[1] == "DATE_TYPE"}
    arrays = {i for i, column in enumerate(description) if column[1] == "ARRAY_TYPE"}

    def value(i, v):
        if v is None:
            return v
        return dt.date.fromisoformat(v) if i in dates else json.loads(v) if i in arrays else v

    return [tuple(value(i, v) for i, v in enumerate(row)) for row in found]


def rows(sql: str, target: str = "spark") -> list[tuple]:
    """The rows of a query on a Spark target, typed alike on both targets."""
    if target == "spark_thrift":
        return typed(*thrift_query(sql))
    return [tuple(row) for row in session().sql(sql).collect()]


def table_names(schema: str, target: str = "spark") -> set[str]:
    """The tables and views of ``schema`` on the target (none before its first build)."""
    try:
        return {row[1] for row in rows(f"show tables in {schema}", target)}
    except Exception as exc:  # noqa: BLE001 - the schema itself is not there yet (no build has run)
        if "SCHEMA_NOT_FOUND" in str(exc) or "not found" in str(exc).lower():
            return set()
        raise


def table_exists(table: str, target: str = "spark") -> bool:
    """Whether ``schema.name`` is a table or view on the target."""
    schema, name = table.split(".")
    return name in table_names(schema, target)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
