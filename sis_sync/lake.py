"""The raw layer as parquet in a lake folder, for the Spark target.

Each table of the raw layer becomes a folder of parquet, one sub-folder per district in Hive's layout
(``<lake>/raw_sis/<table>/_district_id=<district>/part-0.parquet``; ``district_id=`` for the bookkeeping
tables), typed as its column is in the raw layer. The build registers the folders as Spark tables before it
runs (``register_lake`` in ``macros/engines/lake.sql``), with the types of the dbt sources, which are the same
(both come from the export spec).

A district's folder is written whole, to a temporary folder first and then renamed into place, so a reader
sees the district's previous state or its new one, never part of a write.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sis_sync import PROJECT_ROOT
from sis_sync.ingestion.ledger import RAW_SCHEMA
from sis_sync.spark import SPARK_DIR_VAR

LAKE_VAR = "SIS_SYNC_LAKE"  # the lake, when not lake/ in that folder
DISTRICT_COLUMNS = ("_district_id", "district_id")  # a table's partition column: the first it has
_NOT_IN_THE_LAKE = {"sync_builds"}  # the build ledger is the command line's, not a source

# Postgres's type of a raw column -> its parquet type (the same as the Spark type of macros/engines/types.sql)
_ARROW_TYPES = {
    "text": pa.string(),
    "character varying": pa.string(),
    "jsonb": pa.string(),
    "date": pa.date32(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "boolean": pa.bool_(),
    "numeric": pa.decimal128(18, 6),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "ARRAY": pa.list_(pa.string()),
}


def spark_dir() -> Path:
    return Path(os.environ.get(SPARK_DIR_VAR) or PROJECT_ROOT / ".sis-sync" / "spark")


def lake_dir() -> Path:
    return Path(os.environ.get(LAKE_VAR) or spark_dir() / "lake")


def _columns(cur, table: str) -> list[tuple[str, str]]:
    cur.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = %s and table_name = %s order by ordinal_position",
        (RAW_SCHEMA, table),
    )
    return cur.fetchall()


def _raw_tables(cur) -> list[str]:
    cur.execute(
        "select table_name from information_schema.tables where table_schema = %s and table_type = 'BASE TABLE'"
        " and table_name not like '\\_dlt\\_%%' order by 1",
        (RAW_SCHEMA,),
    )
    return [name for (name,) in cur.fetchall()]


def _arrow_type(table: str, column: str, pg_type: str) -> pa.DataType:
    try:
        return _ARROW_TYPES[pg_type]
    except KeyError:
        raise ValueError(f"{RAW_SCHEMA}.{table}.{column}: no parquet type for {pg_type}") from None


def publish(conn) -> dict[str, int]:
    """Write the raw layer's rows into the lake, every district's; returns the rows written per table."""
    lake = lake_dir()
    written: dict[str, int] = {}
    with conn.cursor() as cur:
        for table in _raw_tables(cur):
            if table in _NOT_IN_THE_LAKE:
                continue
            columns = _columns(cur, table)
            names = [name for name, _ in columns]
            partition = next((c for c in DISTRICT_COLUMNS if c in names), None)
            schema = pa.schema([pa.field(name, _arrow_type(table, name, pg_type))
                                for name, pg_type in columns if name != partition])
            selected = [f"{name}::text" if pg_type == "jsonb" else name for name, pg_type in columns]
            cur.execute(f"select {', '.join(selected)} from {RAW_SCHEMA}.{table}")
            rows = cur.fetchall()
            folder = lake / RAW_SCHEMA / table
            if partition is None:  # the phone map: every district's, one folder
                _replace(folder.parent, folder.name, schema, names, rows)
            else:
                folder.mkdir(parents=True, exist_ok=True)  # a table of no rows yet has its folder
                by_district: dict[str, list[tuple]] = {}
                index = names.index(partition)
                for row in rows:
                    by_district.setdefault(row[index], []).append(row)
                for district, district_rows in by_district.items():
                    _replace(folder, f"{partition}={district}", schema, names, district_rows)
            written[table] = len(rows)
    return written


def _replace(parent: Path, name: str, schema: pa.Schema, names: list[str], rows: list[tuple]) -> None:
    """The folder ``parent/name`` replaced whole by one parquet file of ``rows`` (tuples in the order of
    ``names``; the schema's columns are taken from them): written beside it, then renamed into place."""
    target = parent / name
    staged = parent / f".{name}.{uuid.uuid4().hex}"
    staged.mkdir(parents=True)
    try:
        data = {}
        for field in schema:
            index = names.index(field.name)
            data[field.name] = [row[index] for row in rows]
        pq.write_table(pa.table(data, schema=schema), staged / "part-0.parquet")
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    retired = parent / f".{name}.{uuid.uuid4().hex}.old"
    if target.exists():
        target.rename(retired)
    staged.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
