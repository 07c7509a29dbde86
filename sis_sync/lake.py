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

from sis_sync.ingestion.ledger import RAW_SCHEMA
from sis_sync.spark import LAKE_VAR, spark_dir

DISTRICT_COLUMNS = ("_district_id", "district_id")  # a table's partition column: the first it has
_NOT_IN_THE_LAKE = {"sync_builds"}  # the build ledger is the command line's, not a source
BATCH_ROWS = 50_000  # rows read from Postgres and written to parquet at a time

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
    """Write the raw layer's rows into the lake, every district's; returns the rows written per table.

    The tables are read in one read-only transaction of their own (repeatable read: every table as of one
    moment; ``conn`` must have none open, and keeps its autocommit setting), each through a server-side cursor
    in district order, and written a batch at a time: memory holds a batch or two, whatever the size of the
    raw layer. A publish that fails part way has replaced the folders it finished and left the others as they
    were; the build does not run, and the next publish writes them all again."""
    from psycopg2.extensions import TRANSACTION_STATUS_IDLE

    if conn.info.transaction_status != TRANSACTION_STATUS_IDLE:
        raise ValueError("lake.publish reads in a transaction of its own: the connection has one open")
    lake = lake_dir()
    written: dict[str, int] = {}
    autocommit, conn.autocommit = conn.autocommit, False
    try:
        with conn.cursor() as cur:
            cur.execute("set transaction isolation level repeatable read, read only")
            tables = [(table, _columns(cur, table)) for table in _raw_tables(cur)
                      if table not in _NOT_IN_THE_LAKE]
        for table, columns in tables:
            written[table] = _publish_table(conn, lake / RAW_SCHEMA / table, table, columns)
    finally:
        conn.rollback()  # it wrote nothing
        conn.autocommit = autocommit
    return written


def _publish_table(conn, folder: Path, table: str, columns: list[tuple[str, str]]) -> int:
    names = [name for name, _ in columns]
    partition = next((c for c in DISTRICT_COLUMNS if c in names), None)
    schema = pa.schema([pa.field(name, _arrow_type(table, name, pg_type))
                        for name, pg_type in columns if name != partition])
    selected = [f"{name}::text" if pg_type == "jsonb" else name for name, pg_type in columns]
    folder.mkdir(parents=True, exist_ok=True)  # a table of no rows yet has its folder
    with conn.cursor(name=f"lake_{table}") as rows:
        rows.execute(f"select {', '.join(selected)} from {RAW_SCHEMA}.{table}"
                     + (f" order by {partition}" if partition else ""))
        return _write_folders(rows, folder, partition, schema, names)


def _write_folders(rows, folder: Path, partition: str | None, schema: pa.Schema, names: list[str]) -> int:
    """The rows (in district order) written as one folder per district (``<partition>=<district>``), or, with
    no partition (the phone map: every district's), as the table's folder itself; returns their number."""
    index = names.index(partition) if partition else None
    out = _StagedFolder(folder.parent, folder.name, schema, names) if partition is None else None
    count = 0
    try:
        while batch := rows.fetchmany(BATCH_ROWS):
            count += len(batch)
            for row in batch:
                if index is not None and (out is None or out.key != row[index]):
                    if out is not None:
                        out.publish()
                    out = _StagedFolder(folder, f"{partition}={row[index]}", schema, names, key=row[index])
                out.add(row)
        if out is not None:
            out.publish()
    except BaseException:
        if out is not None:
            out.discard()
        raise
    return count


class _StagedFolder:
    """The folder ``parent/name``, written beside it as one parquet file a batch of rows at a time (tuples in
    the order of ``names``; the schema's columns are taken from them), then renamed into place whole."""

    def __init__(self, parent: Path, name: str, schema: pa.Schema, names: list[str], key=None):
        self.parent, self.name, self.schema, self.key = parent, name, schema, key
        self.indexes = [names.index(field.name) for field in schema]
        self.staged = parent / f".{name}.{uuid.uuid4().hex}"
        self.staged.mkdir(parents=True)
        self.writer = pq.ParquetWriter(self.staged / "part-0.parquet", schema)
        self.pending: list[tuple] = []

    def add(self, row: tuple) -> None:
        self.pending.append(row)
        if len(self.pending) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            columns = [pa.array([row[i] for row in self.pending], type=field.type)
                       for i, field in zip(self.indexes, self.schema, strict=True)]
            self.writer.write_table(pa.Table.from_arrays(columns, schema=self.schema))
            self.pending = []

    def publish(self) -> None:
        """The folder renamed into place (a reader sees the previous one or this one, whole)."""
        self._flush()
        self.writer.close()
        target = self.parent / self.name
        retired = self.parent / f".{self.name}.{uuid.uuid4().hex}.old"
        if target.exists():
            target.rename(retired)
        self.staged.rename(target)
        shutil.rmtree(retired, ignore_errors=True)

    def discard(self) -> None:
        self.writer.close()
        shutil.rmtree(self.staged, ignore_errors=True)
