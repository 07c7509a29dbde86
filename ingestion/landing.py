"""Landing with dlt: the valid files' versions, already written as csv files by the validator, imported into a
load package as they are and COPYed into the raw tables (one dlt run per batch of districts, or for the one
district of ``sis-sync ingest``); then the planner statistics of the tables landed in, and the check that every
file landed in full.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import dlt
from dlt.common.destination.configuration import CsvFormatConfiguration

from sis_sync.db import PgSettings
from sis_sync.ingestion.exports import ExportFile
from sis_sync.ingestion.ledger import RAW_SCHEMA
from sis_sync.ingestion.raw_layer import STATISTICS_FUNCTION
from sis_sync.ingestion.spec import (
    DECIMAL_PRECISION,
    DECIMAL_SCALE,
    META_STORED_AS,
    RAW_META_COLUMNS,
    STORED_AS,
    FileSpec,
)
from sis_sync.ingestion.validate import FileStats

log = logging.getLogger(__name__)

SOURCE_NAME = "sis_export"

# How dlt is run. Environment variables, so a user's own dlt config (or environment) still wins.
DLT_DEFAULTS = {
    # Load through COPY from csv files.
    "NORMALIZE__LOADER_FILE_FORMAT": "csv",
    # The landed csv files hold student data: delete them once loaded.
    "LOAD__DELETE_COMPLETED_JOBS": "true",
    # Student data never leaves the machine, not even as anonymous usage statistics.
    "RUNTIME__DLTHUB_TELEMETRY": "false",
}
# The csv files the validator writes are COPYed as they are: the format is fixed here, not configurable.
CSV_FORMAT = CsvFormatConfiguration(delimiter=",", include_header=True, quoting="quote_needed", encoding="utf-8")


def dlt_columns(spec: FileSpec) -> dict[str, dict]:
    """dlt column hints for one raw table (the same types as :func:`sis_sync.ingestion.raw_layer.raw_table_ddl`)."""
    hints: dict[str, dict] = {}
    for c in spec.columns:
        hint = {"name": c.name, "data_type": STORED_AS[c.type].dlt, "nullable": True}
        if c.type == "decimal":
            hint.update(precision=DECIMAL_PRECISION, scale=DECIMAL_SCALE)
        hints[c.name] = hint
    for name, pg_type in RAW_META_COLUMNS.items():
        hints[name] = {"name": name, "data_type": META_STORED_AS[pg_type].dlt, "nullable": True}
    return hints


# --- dlt ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Landing:
    spec: FileSpec
    file: ExportFile
    load_id: str
    stats: FileStats  # with the csv files written while validating (stats.csv_files)
    # the records of the file before tonight, when its rows are not that (a OneRoster file: a delta's rows are
    # only the changes): what the night's changes are a share of; None: the rows of its last delivery
    base_records: int | None = None
    delta: bool = False  # a OneRoster delta file: its rows are changes, not the file's records


def _csv_files(landing: Landing):
    for path, rows in landing.stats.csv_files:
        yield dlt.mark.with_file_import(str(path), "csv", rows)


def _tables_files(landings: list[Landing]):
    for landing in landings:
        yield from _csv_files(landing)


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def sis_export(landings: list[Landing]):
    """One append resource per raw table, importing the csv files the validation of its files wrote (every
    column, meta columns included, already in them), of every district landed."""
    tables: dict[str, list[Landing]] = {}
    for landing in landings:
        tables.setdefault(landing.spec.name, []).append(landing)
    for name, of_table in tables.items():
        yield dlt.resource(_tables_files(of_table), name=name, table_name=name, write_disposition="append",
                           columns=dlt_columns(of_table[0].spec))


# The pipeline of a run that lands several districts at once (the nightly's batches: ingestion/load.py).
BATCH_PIPELINE = "sis__districts"  # no district id makes it (ids start with a letter or digit)


def pipeline_name(district_id: str | None) -> str:
    """A district's own pipeline (``sis-sync ingest`` of one district), or the batches' (None)."""
    if district_id is None:
        return BATCH_PIPELINE
    return "sis_" + re.sub(r"[^0-9A-Za-z_]", "_", district_id)


def _destination(settings: PgSettings):
    # Fields rather than settings.dsn: dlt treats a DSN without a password as incomplete, while an explicit
    # empty password lets libpq fall back to PGPASSWORD/.pgpass or trust authentication.
    credentials = {"host": settings.host, "port": settings.port, "username": settings.user,
                   "password": settings.password or "", "database": settings.database}
    return dlt.destinations.postgres(credentials=credentials, csv_format=CSV_FORMAT)


def _pipeline(settings: PgSettings, district_id: str | None, pipelines_dir: Path):
    for key, value in DLT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name(district_id),
        pipelines_dir=str(pipelines_dir),
        destination=_destination(settings),
        dataset_name=RAW_SCHEMA,
    )
    if pipeline.has_pending_data:
        # Left by a run that crashed. Whatever of it was landed is orphaned (no ledger row names it).
        log.warning("%s: dropping dlt packages left by an interrupted run", pipeline.pipeline_name)
        try:
            pipeline.abort_packages()
        except Exception:  # noqa: BLE001 - fall back to wiping the local working folder
            log.warning("%s: could not abort the pending packages, resetting the pipeline folder",
                        pipeline.pipeline_name, exc_info=True)
            pipeline.drop()
            pipeline = dlt.pipeline(
                pipeline_name=pipeline_name(district_id),
                pipelines_dir=str(pipelines_dir),
                destination=_destination(settings),
                dataset_name=RAW_SCHEMA,
            )
    return pipeline


def land(settings: PgSettings, district_id: str | None, landings: list[Landing],
         pipelines_dir: Path) -> dict[str, float]:
    """Land the files' csv files with one dlt run, of the district's pipeline (None: the batches', landing
    several districts' files); the seconds of each of dlt's steps (its trace)."""
    pipeline = _pipeline(settings, district_id, pipelines_dir)
    try:
        info = pipeline.run(sis_export(landings), loader_file_format="csv")
        info.raise_on_failed_jobs()
        trace = pipeline.last_trace
        return {step.step: (step.finished_at - step.started_at).total_seconds()
                for step in (trace.steps if trace is not None else []) if step.started_at and step.finished_at}
    finally:
        _remove_working_files(Path(pipeline.working_dir))


# What dlt keeps of a run in its working folder that may hold rows (load packages, failed jobs, extracted
# files) or messages quoting them (the trace): removed after every run, landed or failed. Its state and
# schemas stay.
_WORKING_FILES = ("load", "normalize", "trace.pickle")


def _remove_working_files(working_dir: Path) -> None:
    for name in _WORKING_FILES:
        path = working_dir / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def check_landed(conn, landings: list[Landing]) -> None:
    """Each file landed in full, or the run fails (the ledger is not written): the rows its load id has in the
    raw table (found through the ``_load_id`` index) are the rows validated."""
    with conn.cursor() as cur:
        for landing in landings:
            cur.execute(f"select count(*) from {RAW_SCHEMA}.{landing.spec.name} where _load_id = %s",
                        (landing.load_id,))
            landed = cur.fetchone()[0]
            if landed != landing.stats.landed_rows:
                raise RuntimeError(
                    f"{landing.file.name}: {landed} rows landed, {landing.stats.landed_rows} written")
    conn.commit()


def refresh_statistics(conn, landings: list[Landing]) -> None:
    """Summarise the new block ranges of the ``_load_id`` BRIN index, then ANALYZE, each raw table landed in
    (through :data:`sis_sync.ingestion.raw_layer.STATISTICS_FUNCTION`, so that the loader role, which may only
    append, gets them too).

    A range BRIN has not summarised yet matches every query, and autovacuum's ``autosummarize`` comes a minute
    or more later (or never while the night's job keeps the table busy): until then every read of a load by id
    reads all unsummarised ranges too. Only the new ranges are read, about a tenth of the landing's COPY. And
    autovacuum analyzes a table a minute or more after a big append, while the safety check and ``dbt build``
    read tonight's load seconds after it landed: without statistics that know tonight's ``_load_id`` the
    planner picks nested loops that grow with the square of the district's size. Only the columns a load is
    selected or joined by are analyzed; ANALYZE reads a sample of fixed size. (The figures: bench/README.md.)
    """
    with conn.cursor() as cur:
        for spec in sorted({landing.spec.name: landing.spec for landing in landings}.values(),
                           key=lambda spec: spec.name):
            keys = [c for c in ("school_year", *spec.key) if c in spec.column_names]
            columns = list(dict.fromkeys(["_load_id", "_export_date", "_district_id", *keys]))
            cur.execute(f"select {STATISTICS_FUNCTION}(%s, %s)", (spec.name, columns))
    conn.commit()
