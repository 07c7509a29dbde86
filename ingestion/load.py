"""Land one night's export in the raw layer with dlt, and record it in the load ledger.

Raw layer contract (the dbt sources read exactly this):

- schema ``raw_sis``; one append-only table of versions per spec file (:mod:`sis_sync.ingestion.versions`), named by the
  spec ``name`` (``raw_sis.students``, ...), with every spec column typed ``PG_TYPES[type]`` (text, date, bigint,
  boolean, numeric) in spec order, then ``_district_id text, _export_date date, _load_id text, _line_number
  bigint, _change text, _key_hash bigint, _row_hash bigint``, and a BRIN index on ``_load_id``. All nine tables
  and the ledger are created up front on every ingest (idempotently), so the dbt sources exist even for files
  never delivered. dlt appends into them (it adds its own bookkeeping tables ``_dlt_loads``, ``_dlt_version`` and
  ``_dlt_pipeline_state`` to the schema, and no columns).
- ``raw_sis.load_ledger`` (see :mod:`.ledger`): staging reads only raw rows whose ``_load_id`` a ledger row
  names.

Order of work, which makes a crash at any point harmless: keep every delivered file in the archive
(:mod:`.archive`, in a thread beside the validation); validate every file (``_load_id`` = a fresh load id
per file; as it is read, so it is parsed once, what it changed against the state before tonight is written to
local csv files in the format dlt's postgres loader COPYs, meta columns included); land the valid ones with one
dlt run, which imports those csv files into its load package as they are (``dlt.mark.with_file_import``: no
extract or normalize of the rows) and COPYs them, several files at a time; check that every file landed in full;
then write all ledger rows in one transaction. Rows landed by a run that crashed before its ledger rows were
written carry load ids no ledger row names: they are never read, and the rerun loads the files again under new
load ids. dlt's pending packages are dropped at the start of a run.

A file that breaks the spec is recorded ``rejected`` and the night's other files still load; only infrastructure
errors (database down, dlt failing) raise.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dlt
from dlt.common.destination.configuration import CsvFormatConfiguration

from sis_sync import PROJECT_ROOT
from sis_sync.db import PgSettings, connect
from sis_sync.ingestion.archive import archive_file
from sis_sync.ingestion.changes import record_load_changes
from sis_sync.ingestion.exports import DistrictSchools, ExportFile, ExportSource, find_export
from sis_sync.ingestion.ledger import RAW_SCHEMA, LedgerRow, insert_rows, new_load_id, recorded_tonight
from sis_sync.ingestion.phones import read_new_numbers
from sis_sync.ingestion.raw_layer import STATISTICS_FUNCTION, ensure_raw_layer
from sis_sync.ingestion.spec import (
    DECIMAL_PRECISION,
    DECIMAL_SCALE,
    META_STORED_AS,
    RAW_META_COLUMNS,
    STORED_AS,
    ExportSpec,
    FileSpec,
    load_spec,
)
from sis_sync.ingestion.validate import DEFAULT_BLOCK_SIZE, CsvOutput, FileStats, ValidationError, validate_file
from sis_sync.ingestion.versions import BaseState, base_delivery, deliveries, later_delivery

log = logging.getLogger(__name__)

DEFAULT_PIPELINES_DIR = PROJECT_ROOT / ".sis-sync" / "pipelines"
DEFAULT_ARCHIVE_DIR = PROJECT_ROOT / ".sis-sync" / "archive"
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
# Rows per csv file: a big table is split into several files, which the loader COPYs in parallel (one
# connection per file).
CSV_FILE_MAX_ROWS = 250_000


@dataclass
class IngestResult:
    district_id: str
    export_date: date
    missing: bool = False  # there is no export for this district and night (nothing was done)
    incomplete: str | None = None  # the export does not match its manifest: nothing was loaded
    rows: list[LedgerRow] = field(default_factory=list)  # the ledger rows this run recorded
    already_recorded: list[str] = field(default_factory=list)  # files this night already has (same bytes)
    unknown_files: list[str] = field(default_factory=list)  # delivered but not in the spec: not loaded
    ignored_files: list[str] = field(default_factory=list)  # .part/.tmp: still uploading

    @property
    def found(self) -> bool:
        return not self.missing

    def _count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def loaded(self) -> int:
        return self._count("loaded")

    @property
    def unchanged(self) -> int:
        return self._count("unchanged")

    @property
    def rejected(self) -> int:
        return self._count("rejected")

    def summary(self) -> str:
        if self.missing:
            return f"{self.district_id} {self.export_date}: no export"
        if self.incomplete:
            return f"{self.district_id} {self.export_date}: incomplete ({self.incomplete})"
        return (f"{self.district_id} {self.export_date}: {self.loaded} loaded, {self.unchanged} unchanged,"
                f" {self.rejected} rejected, {len(self.already_recorded)} already recorded")


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
class _Landing:
    spec: FileSpec
    file: ExportFile
    load_id: str
    stats: FileStats  # with the csv files written while validating (stats.csv_files)


def _csv_files(landing: _Landing):
    for path, rows in landing.stats.csv_files:
        yield dlt.mark.with_file_import(str(path), "csv", rows)


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def sis_export(landings: list[_Landing]):
    """One append resource per valid file, importing the csv files its validation wrote (every column, meta
    columns included, already in them)."""
    for landing in landings:
        yield dlt.resource(_csv_files(landing), name=landing.spec.name, table_name=landing.spec.name,
                           write_disposition="append", columns=dlt_columns(landing.spec))


def pipeline_name(district_id: str) -> str:
    return "sis_" + re.sub(r"[^0-9A-Za-z_]", "_", district_id)


def _destination(settings: PgSettings):
    # Fields rather than settings.dsn: dlt treats a DSN without a password as incomplete, while an explicit
    # empty password lets libpq fall back to PGPASSWORD/.pgpass or trust authentication.
    credentials = {"host": settings.host, "port": settings.port, "username": settings.user,
                   "password": settings.password or "", "database": settings.database}
    return dlt.destinations.postgres(credentials=credentials, csv_format=CSV_FORMAT)


def _pipeline(settings: PgSettings, district_id: str, pipelines_dir: Path):
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


def _land(settings, district_id, landings, pipelines_dir) -> None:
    pipeline = _pipeline(settings, district_id, pipelines_dir)
    try:
        info = pipeline.run(sis_export(landings), loader_file_format="csv")
        info.raise_on_failed_jobs()
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


def _check_landed(conn, landings: list[_Landing]) -> None:
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


def _refresh_statistics(conn, landings: list[_Landing]) -> None:
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


# --- ingest ---------------------------------------------------------------------------------------------


def ingest_export(
    settings: PgSettings,
    drop_root: Path,
    district_id: str,
    export_date: date,
    pipelines_dir: Path | None = None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    time_zone: str | None = None,
    archive_dir: Path | None = None,
    settle: float | None = None,
) -> IngestResult:
    """Validate and land one night's export of one district; record every delivered file in the ledger and keep
    it in the archive (``archive_dir``, default :func:`default_archive_dir`).

    ``time_zone`` is the district's: an export dated after today there is refused. ``settle``: how long a file
    must have been left unchanged before it is read (default :func:`sis_sync.ingestion.exports.settle_seconds`)."""
    spec = load_spec()
    result = IngestResult(district_id, export_date)
    pipelines_dir = Path(pipelines_dir or default_pipelines_dir(settings))
    archive_dir = Path(archive_dir or default_archive_dir(settings))
    spill_dir: Path | None = None
    umask = os.umask(0o077)  # every working file (student data) is the owner's alone
    _private_dir(pipelines_dir)
    _private_dir(archive_dir, recursive=False)  # the delivered files: nobody else gets past the archive's root
    conn = connect(settings)
    try:
        ensure_raw_layer(conn, spec)
        source = find_export(drop_root, district_id, export_date, spec, time_zone=time_zone, settle=settle)
        if source is None:
            result.missing = True
            return result
        result.unknown_files = list(source.unknown_files)
        result.ignored_files = list(source.ignored_files)
        if source.incomplete:
            result.incomplete = source.incomplete
            log.warning("%s %s: export left for a later poll: %s", district_id, export_date,
                        source.incomplete)
            return result
        with conn.cursor() as cur:
            # One ingest per district at a time (session lock, released when the connection closes).
            cur.execute("select pg_advisory_lock(hashtext(%s))", (f"sis-sync ingest {district_id}",))
        spill_dir = _spill_dir(pipelines_dir, district_id)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive") as archiver:
            # compressed beside the validation (zlib releases the GIL); every file is kept, rejected ones too
            archived = [archiver.submit(archive_file, archive_dir, district_id, export_date, name, f.sha256, f.open)
                        for name, f in source.files.items()]
            try:
                rows, loaded = _plan(conn, spec, source, result, block_size, spill_dir)
            except ExportChanged as changed:
                conn.rollback()
                result.incomplete = str(changed)
                log.warning("%s %s: export left for a later poll: %s", district_id, export_date, changed)
                return result
            landings = [landing for landing in loaded if landing.stats.landed_rows]
            conn.commit()
            for future in archived:
                future.result()
        if landings:
            _land(settings, district_id, landings, pipelines_dir)
            _refresh_statistics(conn, landings)
            _check_landed(conn, landings)
        with conn.cursor() as cur:
            for landing in loaded:  # with the ledger rows, in one transaction
                record_load_changes(cur, landing.spec, district_id, export_date, landing.load_id,
                                    landing.stats.filled, landing.stats.changes[1])
            phones = [landing.load_id for landing in landings if landing.spec.phone_columns]
            if phones:
                read_new_numbers(cur, district_id=district_id, load_ids=phones, spec=spec)
            result.rows = insert_rows(cur, rows)
        conn.commit()
        return result
    finally:
        conn.close()
        if spill_dir is not None:
            shutil.rmtree(spill_dir, ignore_errors=True)
        os.umask(umask)


def _private_dir(path: Path, *, recursive: bool = True) -> None:
    """``path`` made, readable by the owner only (it and, ``recursive``, the folders it holds). A folder this
    process does not own (an archive the operator shares) is left as it is, with a warning."""
    path.mkdir(parents=True, exist_ok=True)
    folders = [path, *(p for p in path.rglob("*") if p.is_dir() and not p.is_symlink())] if recursive else [path]
    for folder in folders:
        if folder.stat().st_mode & 0o077:
            try:
                folder.chmod(0o700)
            except PermissionError:
                log.warning("%s is readable by others and not ours to change: it holds student data", folder)


def default_pipelines_dir(settings: PgSettings) -> Path:
    """dlt's working folder for a warehouse: one per database, so that runs against different warehouses (a
    test database, the real one) never share dlt state."""
    where = re.sub(r"[^0-9A-Za-z_.-]", "_", f"{settings.host}_{settings.port}_{settings.database}")
    return DEFAULT_PIPELINES_DIR / where


def default_archive_dir(settings: PgSettings) -> Path:
    """Where a warehouse keeps the delivered files: ``SIS_SYNC_ARCHIVE`` when set, else a folder per database
    beside dlt's (``.sis-sync/archive/<host>_<port>_<database>``)."""
    configured = os.environ.get("SIS_SYNC_ARCHIVE")
    if configured:
        return Path(configured)
    return DEFAULT_ARCHIVE_DIR / default_pipelines_dir(settings).name


def _spill_dir(pipelines_dir: Path, district_id: str) -> Path:
    """A folder of this run's own for the csv files of validated files (student data: removed at the end of
    the run). Leftovers of crashed runs are removed once they are a day old. It is inside dlt's folder, on the
    same file system, so that dlt imports the files as hard links (no copy)."""
    root = pipelines_dir / "_spill"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        try:
            if time.time() - old.stat().st_mtime > 86400:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:
            pass
    return Path(tempfile.mkdtemp(prefix=pipeline_name(district_id) + "-", dir=root))


class ExportChanged(Exception):
    """A delivered file changed between the moment it was hashed and the end of its validation."""


def _empty_year(spec: FileSpec, history: list, night: date, current: tuple[int, int] | None) -> int | None:
    """The school year a file of zero records retires (spec decision; a file without a school year retires
    everything): the newest year its last delivery carried, when that year is still the district's current one
    (its students are of it; for students.csv, always). So a header-only students file removes everyone, and
    is held by the thresholds; a header-only attendance file of a new school year that has not started
    retires nothing of the year before."""
    if "school_year" not in spec.column_names:
        return None
    last = next((d.max_school_year for d in history if d.export_date < night and d.max_school_year is not None),
                None)
    if last is None or spec.file_name == "students.csv":
        return last
    return last if current is not None and current[0] <= last <= current[1] else None


def _plan(conn, spec: ExportSpec, source: ExportSource, result: IngestResult, block_size: int,
          spill_dir: Path):
    """The ledger rows to record and the files loaded, in spec order (each valid file's changes written as csv
    files to land: see :mod:`sis_sync.ingestion.versions`)."""
    district_id, export_date = source.district_id, source.export_date
    with conn.cursor() as cur:
        done = recorded_tonight(cur, district_id, export_date)
        todo = [(name, f) for name, f in source.files.items() if (name, f.sha256) not in done]
        history = {name: deliveries(cur, district_id, name) for name, _ in todo}
        schools = DistrictSchools.from_warehouse(cur, district_id)
        students = history.get("students.csv") or deliveries(cur, district_id, "students.csv")
        current = next(((d.min_school_year, d.max_school_year) for d in students
                        if d.export_date <= export_date and d.max_school_year is not None), None)
    conn.commit()  # no transaction stays open while the files are validated
    result.already_recorded = [name for name in source.files if name not in history]

    rows: list[LedgerRow] = []
    loaded: list[_Landing] = []
    for name, f in todo:
        file_spec = spec.file(name)
        later = later_delivery(history[name], export_date)
        if later is not None:
            message = (f"{name}: refused, the night of {later.export_date.isoformat()} was already loaded; nights"
                       " are applied in order, so an earlier night's file can no longer be")
            log.warning("%s %s: %s", district_id, export_date, message)
            rows.append(LedgerRow(district_id, export_date, name, f.sha256, status="rejected", message=message))
            continue
        before = base_delivery(history[name], export_date)
        if before is not None and before.sha256 == f.sha256:
            rows.append(LedgerRow(
                district_id, export_date, name, f.sha256, status="unchanged", row_count=before.row_count,
                message=f"same bytes as delivered for {before.export_date.isoformat()}",
                min_school_year=before.min_school_year, max_school_year=before.max_school_year,
                main_school_year=before.main_school_year,
                added_count=0, changed_count=0, retired_count=0))
            continue
        load_id = new_load_id()  # written into every row: a rejected file's id is never used

        empty_year = _empty_year(file_spec, history[name], export_date, current)

        def validate(base: BaseState | None, f=f, name=name, file_spec=file_spec, load_id=load_id,
                     empty_year=empty_year) -> FileStats:
            csv = CsvOutput(spill_dir, district_id, export_date, load_id, max_rows=CSV_FILE_MAX_ROWS, base=base,
                            empty_year=empty_year)
            return validate_file(file_spec, f.open, file_name=name, block_size=block_size, csv=csv,
                                 schools=schools.for_file(name))

        rejected: ValidationError | None = None
        try:
            # the state of the school years the night before's file carried, and later (the years kept as
            # history are not read); a file that carries an older year is compared again with every year
            base = (BaseState.read(conn, file_spec, district_id, history[name], before.export_date,
                                   from_year=before.min_school_year) if before else None)
            conn.commit()
            stats = validate(base)
            if base is not None and not base.covers(stats.min_school_year):
                for path, _rows in stats.csv_files:
                    path.unlink(missing_ok=True)
                stats = validate(BaseState.read(conn, file_spec, district_id, history[name], before.export_date))
                conn.commit()
        except ValidationError as e:
            rejected = e
        if f.changed():  # the bytes read are not the bytes hashed: neither a load nor a rejection stands
            raise ExportChanged(f"{f.delivered_name} changed while it was read (still being written?);"
                                " nothing of the export was loaded: it is loaded once it has stopped changing")
        if rejected is not None:
            log.warning("%s %s: rejected %s", district_id, export_date, rejected)
            rows.append(LedgerRow(district_id, export_date, name, f.sha256, status="rejected",
                                  message=rejected.message))
            continue
        schools.learn(name, stats)
        if name == "students.csv" and stats.max_school_year is not None:
            current = (stats.min_school_year, stats.max_school_year)
        added, changed, retired = stats.changes
        rows.append(LedgerRow(
            district_id, export_date, name, f.sha256, status="loaded", row_count=stats.row_count,
            message=stats.notes, load_id=load_id, min_school_year=stats.min_school_year,
            max_school_year=stats.max_school_year, main_school_year=stats.main_school_year,
            added_count=added, changed_count=changed,
            retired_count=retired))
        loaded.append(_Landing(file_spec, f, load_id, stats))
    return rows, loaded
