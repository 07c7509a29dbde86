"""The raw layer as parquet in a lake folder, for the Spark target, kept in step with the warehouse's raw layer.

Layout (Hive's, one folder per district; the build registers each table over its folder, ``register_lake`` in
``macros/engines/lake.sql``, with the types of the dbt sources, which are the same: both come from the export
spec):

- a table of versions has one parquet file per load the ledger names:
  ``<lake>/raw_sis/<table>/_district_id=<district>/<load_id>.parquet``. A load's rows never change once it
  is recorded, so a publish writes only the loads recorded since the last one: a night costs what it changed,
  not the size of the raw layer. A load no ledger row names (a crashed run's, or a district no longer in the
  warehouse) has no file: one left from before is deleted.
- a bookkeeping table (ledger, change records, attempts, settings, approvals) has a file per district,
  ``<table>/district_id=<district>/part-0.parquet``, and the phone map, which is every district's, one
  file, ``<table>/part-0.parquet``; a file is written again, whole, when its district's rows grew (the
  settings, the one table updated in place: every time).

Every file is written beside its name and renamed into place, so a reader sees the previous file or the new
one, whole. A table whose parquet schema or content hash (``_row_hash``) changed since its files were written
(a column added to the spec, a rehash) is written again whole; ``_sis_sync.json`` in its folder says what its
files were written with (Spark skips names that start with ``_`` or ``.``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from pathlib import Path

import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq

from sis_sync.ingestion.ledger import LEDGER_TABLE, RAW_SCHEMA
from sis_sync.ingestion.safety import SETTINGS_TABLE
from sis_sync.ingestion.spec import raw_spec
from sis_sync.ingestion.versions import ROW_HASH_VERSION
from sis_sync.spark import LAKE_VAR, spark_dir

DISTRICT_COLUMNS = ("_district_id", "district_id")  # a table's partition column: the first it has
_NOT_IN_THE_LAKE = {"sync_builds"}  # the build ledger is the command line's, not a source
BATCH_ROWS = 50_000  # rows read from Postgres and written to parquet at a time
MARKER = "_sis_sync.json"  # in a table's folder: what its files were written with
_UPDATED_IN_PLACE = {SETTINGS_TABLE.split(".", 1)[1]}  # every other raw table only grows
_LOCK = "sis-sync lake"  # one publish at a time per warehouse (an advisory lock)

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


def _recorded_loads(cur) -> dict[str, dict[str, set[str]]]:
    """The loads the ledger names: file name -> district -> load ids."""
    cur.execute(f"select file_name, district_id, load_id from {LEDGER_TABLE}"
                " where status = 'loaded' and load_id is not null")
    loads: dict[str, dict[str, set[str]]] = {}
    for file_name, district_id, load_id in cur.fetchall():
        loads.setdefault(file_name, {}).setdefault(district_id, set()).add(load_id)
    return loads


def _arrow_type(table: str, column: str, pg_type: str) -> pa.DataType:
    try:
        return _ARROW_TYPES[pg_type]
    except KeyError:
        raise ValueError(f"{RAW_SCHEMA}.{table}.{column}: no parquet type for {pg_type}") from None


class _Table:
    """One raw table as it goes to the lake: its columns, its partition column, its parquet schema (without
    the partition column, which is the folder's name) and its folder."""

    def __init__(self, lake: Path, name: str, columns: list[tuple[str, str]], identity: str):
        self.name, self.identity = name, identity
        self.names = [column for column, _ in columns]
        self.partition = next((c for c in DISTRICT_COLUMNS if c in self.names), None)
        self.schema = pa.schema([pa.field(column, _arrow_type(name, column, pg_type))
                                 for column, pg_type in columns if column != self.partition])
        self.selected = ", ".join(f"{column}::text" if pg_type == "jsonb" else column
                                  for column, pg_type in columns)
        self.folder = lake / RAW_SCHEMA / name

    def district_folder(self, district_id: str) -> Path:
        return self.folder / f"{self.partition}={district_id}"

    def districts(self) -> dict[str, Path]:
        """The district folders in the lake (none for a table without a partition)."""
        if self.partition is None or not self.folder.is_dir():
            return {}
        prefix = f"{self.partition}="
        return {path.name[len(prefix):]: path for path in self.folder.iterdir()
                if path.is_dir() and path.name.startswith(prefix)}

    def fresh(self) -> bool:
        """Whether the files in the folder were written from this table (a table made anew, by a restore or in
        another warehouse, is another), with this schema and content hash; else the folder starts anew."""
        marker = self.folder / MARKER
        fingerprint = {"table": self.identity, "schema": self.schema.to_string(), "row_hash": ROW_HASH_VERSION}
        try:
            if json.loads(marker.read_text()) == fingerprint:
                return True
        except (OSError, ValueError):
            pass
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        _replace(marker, json.dumps(fingerprint).encode())
        return False


def publish(conn) -> dict[str, int]:
    """Bring the lake in step with the raw layer; returns the rows written per table (a table of versions:
    only its loads not yet in the lake).

    The tables are read in one read-only transaction of their own (repeatable read: every table and the ledger
    as of one moment; ``conn`` must have none open, and keeps its autocommit setting), through server-side
    cursors, and written a batch at a time: memory holds a batch or two, whatever the size of the raw layer. A
    publish that fails part way has written some files whole and not the others; the next one writes what is
    missing. Publishes of one warehouse take turns."""
    from psycopg2.extensions import TRANSACTION_STATUS_IDLE

    if conn.info.transaction_status != TRANSACTION_STATUS_IDLE:
        raise ValueError("lake.publish reads in a transaction of its own: the connection has one open")
    lake = lake_dir()
    versions = {f.name: f.file_name for f in raw_spec().files}
    written: dict[str, int] = {}
    autocommit = conn.autocommit
    with _turn(conn):
        conn.autocommit = False
        try:
            with conn.cursor() as cur:
                cur.execute("set transaction isolation level repeatable read, read only")
                tables = [_Table(lake, table, _columns(cur, table), _identity(cur, table))
                          for table in _raw_tables(cur) if table not in _NOT_IN_THE_LAKE]
                loads = _recorded_loads(cur)
            for table in tables:
                if table.name in versions and table.partition is not None:
                    written[table.name] = _publish_loads(conn, table, loads.get(versions[table.name], {}))
                else:
                    written[table.name] = _publish_whole(conn, table)
        finally:
            with contextlib.suppress(psycopg2.Error):  # a lost connection: its own error is already raised
                conn.rollback()  # it wrote nothing
                conn.autocommit = autocommit
    return written


def _identity(cur, table: str) -> str:
    """The table as the warehouse knows it: its database and its oid (a table made anew has another)."""
    cur.execute("select current_database(), %s::regclass::oid", (f"{RAW_SCHEMA}.{table}",))
    database, oid = cur.fetchone()
    return f"{database}/{oid}"


@contextlib.contextmanager
def _turn(conn):
    """The lake's lock (a file lock on ``<lake>/.lock``) and the warehouse's (an advisory lock), both held
    around the publish's snapshot, which is taken after them: a publish that waited reads what the one before
    it wrote from."""
    lake = lake_dir()
    lake.mkdir(parents=True, exist_ok=True)
    with open(lake / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with conn.cursor() as cur:
            cur.execute("select pg_advisory_lock(hashtext(%s))", (_LOCK,))
        conn.commit()
        try:
            yield
        finally:
            with contextlib.suppress(psycopg2.Error), conn.cursor() as cur:  # else it ends with the session
                cur.execute("select pg_advisory_unlock(hashtext(%s))", (_LOCK,))
                conn.commit()


def _publish_loads(conn, table: _Table, recorded: dict[str, set[str]]) -> int:
    """A table of versions: a file per recorded load. Writes the loads the lake lacks (a load of no row gets a
    file of none, so it is not looked for again), deletes the files and district folders of loads no ledger row
    names, and any file a publish left half written."""
    if table.fresh():
        _sweep(table.folder)
    present = table.districts()
    for district_id, folder in present.items():
        if district_id not in recorded:
            shutil.rmtree(folder, ignore_errors=True)
            continue
        for path in folder.iterdir():
            if path.name.startswith(".") or path.suffix != ".parquet" or path.stem not in recorded[district_id]:
                _remove(path)
    count = 0
    for district_id, load_ids in sorted(recorded.items()):
        folder = table.district_folder(district_id)
        missing = sorted(load_id for load_id in load_ids if not (folder / f"{load_id}.parquet").exists())
        if missing:
            folder.mkdir(parents=True, exist_ok=True)
            count += _write_loads(conn, table, folder, district_id, missing)
    return count


def _write_loads(conn, table: _Table, folder: Path, district_id: str, load_ids: list[str]) -> int:
    """The rows of a district's loads, one file per load, written one after another (in load order); a load
    of no rows gets a file of none."""
    def path(load_id: str) -> Path:
        return folder / f"{load_id}.parquet"

    count = _write_files(conn, table, f"select {table.selected} from {RAW_SCHEMA}.{table.name}"
                         f" where {table.partition} = %s and _load_id = any(%s) order by _load_id",
                         (district_id, load_ids), "_load_id", path)
    for load_id in load_ids:
        if not path(load_id).exists():
            _StagedFile(path(load_id), table).publish()
    return count


def _publish_whole(conn, table: _Table) -> int:
    """A bookkeeping table: each district's rows written whole, or, with no partition (the phone map), the
    table's rows as one file. Only the raw layer's settings change in place; every other table only grows
    (its loader may only insert), so a district whose file has as many rows as the table has for it is left as
    it is. The folders of districts the table no longer has are deleted."""
    fresh = table.fresh()
    counts = _row_counts(conn, table)
    if fresh:  # else the folder was emptied first
        _sweep(table.folder, keep={MARKER, "part-0.parquet"} if table.partition is None else None)
        for district_id, folder in table.districts().items():
            if district_id not in counts:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                _sweep(folder, keep={"part-0.parquet"})
    stale = [key for key, rows in counts.items()
             if not fresh or table.name in _UPDATED_IN_PLACE or _rows_in_lake(table, key) != rows]
    if not stale:
        return 0
    def path(district_id: str | None) -> Path:
        return _whole_file(table, district_id)

    if table.partition is None:
        return _write_files(conn, table, f"select {table.selected} from {RAW_SCHEMA}.{table.name}", (), None,
                            path)
    return _write_files(conn, table, f"select {table.selected} from {RAW_SCHEMA}.{table.name}"
                        f" where {table.partition} = any(%s) order by {table.partition}", (stale,),
                        table.partition, path)


def _row_counts(conn, table: _Table) -> dict[str | None, int]:
    """The table's rows per district (``None``: the whole table, for one without a partition)."""
    with conn.cursor() as cur:
        if table.partition is None:
            cur.execute(f"select count(*) from {RAW_SCHEMA}.{table.name}")
            return {None: cur.fetchone()[0]}
        cur.execute(f"select {table.partition}, count(*) from {RAW_SCHEMA}.{table.name} group by 1")
        return dict(cur.fetchall())


def _whole_file(table: _Table, key: str | None) -> Path:
    return (table.folder if key is None else table.district_folder(key)) / "part-0.parquet"


def _rows_in_lake(table: _Table, key: str | None) -> int | None:
    try:
        return pq.read_metadata(_whole_file(table, key)).num_rows
    except (OSError, pa.ArrowInvalid):
        return None


def _write_files(conn, table: _Table, query: str, params: tuple, by: str | None, path) -> int:
    """The rows of ``query`` (ordered by the column ``by``) written a file per value of ``by``, at
    ``path(value)``, one file after another; with no ``by``, all of them as the one file ``path(None)``.
    Returns the rows written."""
    at = table.names.index(by) if by else None
    staged = _StagedFile(path(None), table) if at is None else None
    count = 0
    try:
        with conn.cursor(name=f"lake_{table.name}") as rows:
            rows.execute(query, params)
            while batch := rows.fetchmany(BATCH_ROWS):
                count += len(batch)
                for row in batch:
                    if at is not None and (staged is None or staged.key != row[at]):
                        if staged is not None:
                            staged.publish()
                        staged = _StagedFile(path(row[at]), table, row[at])
                    staged.add(row)
        if staged is not None:
            staged.publish()
    finally:
        if staged is not None:
            staged.discard()
    return count


def _sweep(folder: Path, keep: set[str] | None = None) -> None:
    """The files a publish left half written in ``folder`` deleted (the lock is held: no publish is writing),
    and, with ``keep``, every file but those."""
    for path in folder.iterdir():
        if path.name.startswith(".") or (keep is not None and path.name not in keep):
            _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class _StagedFile:
    """The parquet file ``path``, written beside it a batch of rows at a time (tuples of all the table's
    columns, in order; the partition column is left out), then renamed into place whole."""

    def __init__(self, path: Path, table: _Table, key=None):
        self.path, self.schema, self.key = path, table.schema, key
        self.indexes = [table.names.index(field.name) for field in table.schema]
        path.parent.mkdir(parents=True, exist_ok=True)
        self.staged = _beside(path)
        self.writer: pq.ParquetWriter | None = pq.ParquetWriter(self.staged, table.schema)
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
        """The file renamed into place (a reader sees the previous one or this one, whole)."""
        self._flush()
        self.writer.close()
        self.writer = None
        _durable(self.staged, self.path)

    def discard(self) -> None:
        """Nothing left behind unless published."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            self.staged.unlink(missing_ok=True)


def _beside(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place: hidden (Spark and a publish's sweep skip or
    delete it) and unique."""
    return path.parent / f".{path.name}.{uuid.uuid4().hex}"


def _replace(path: Path, content: bytes) -> None:
    staged = _beside(path)
    staged.write_bytes(content)
    _durable(staged, path)


def _durable(staged: Path, path: Path) -> None:
    """``staged`` on disk, then renamed to ``path``, and the rename on disk: after a crash the lake has the
    file whole or not at all (a load's file, once there, is never written again)."""
    with open(staged, "rb") as f:
        os.fsync(f.fileno())
    os.replace(staged, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
