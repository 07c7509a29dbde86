"""Land one night's export in the raw layer with dlt, and record it in the load ledger.

Raw layer contract (the dbt sources read exactly this):

- schema ``raw_sis``; one append-only table of versions per spec file (:mod:`sis_sync.ingestion.versions`), named
  by the spec ``name`` (``raw_sis.students``, ...), with every spec column typed ``PG_TYPES[type]`` (text, date,
  bigint, boolean, numeric) in spec order, then ``_district_id text, _export_date date, _load_id text,
  _line_number bigint, _change text, _key_hash bigint, _row_hash bigint``, and a BRIN index on ``_load_id``.
  Every table is made (or gains a spec column) before the first file is read, when it lacks one
  (:mod:`.raw_layer`), so the dbt sources exist even for files never delivered. dlt appends into them (it adds
  its own bookkeeping tables ``_dlt_loads``, ``_dlt_version`` and ``_dlt_pipeline_state`` to the schema, and no
  columns).
- ``raw_sis.load_ledger`` (see :mod:`.ledger`): staging reads only raw rows whose ``_load_id`` a ledger row
  names.

Order of work (:func:`ingest_exports`: a night's districts in batches; :func:`ingest_export`: one district),
which makes a crash at any point harmless: keep every delivered file in the archive (:mod:`.archive`, in a
thread beside the validation); validate every file (:mod:`.planning`; ``_load_id`` = a fresh load id per file;
as it is read, so it is parsed once, what it changed against the state before tonight is written to local csv
files in the format dlt's postgres loader COPYs, meta columns included); land the valid ones, of every district
of the batch, with one dlt run (:mod:`.landing`), which imports those csv files into its load package as they
are (``dlt.mark.with_file_import``: no extract or normalize of the rows) and COPYs them, several files at a
time; check that every file of a district landed in full; then write the district's ledger rows in one
transaction. Rows landed by a run that crashed before its ledger rows were written carry load ids no ledger row
names: they are never read, and the rerun loads the files again under new load ids. dlt's pending packages are
dropped at the start of a run.

A file that breaks the spec is recorded ``rejected`` and the night's other files still load; only infrastructure
errors (database down, dlt failing) raise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sis_sync.db import PgSettings, connect
from sis_sync.ingestion.archive import archive_file
from sis_sync.ingestion.changes import record_load_changes
from sis_sync.ingestion.exports import find_export
from sis_sync.ingestion.landing import Landing, check_landed, land, refresh_statistics
from sis_sync.ingestion.ledger import LedgerRow, insert_rows
from sis_sync.ingestion.phones import read_new_numbers
from sis_sync.ingestion.planning import ExportChanged, plan
from sis_sync.ingestion.raw_layer import ensure_raw_layer
from sis_sync.ingestion.spec import MANIFEST, raw_spec
from sis_sync.ingestion.validate import DEFAULT_BLOCK_SIZE
from sis_sync.ingestion.workdirs import default_archive_dir, default_pipelines_dir, private_dir, spill_dir

log = logging.getLogger(__name__)


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
    # where the time went: find (the export's files hashed), validate (and diff), archive (the compression's
    # wait beyond the validation), land (dlt), statistics, check, record (change record, phone map, ledger);
    # and dlt's own steps (extract, normalize, load)
    seconds: dict[str, float] = field(default_factory=dict)
    dlt_seconds: dict[str, float] = field(default_factory=dict)

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


# --- ingest ---------------------------------------------------------------------------------------------


# Districts landed by one dlt run: a night of many districts pays dlt's fixed cost (its configuration, the
# destination's schema and state) and the statistics once per batch, not once per district; the batch also
# bounds what waits between validation and landing (the csv files, one connection holding the locks).
BATCH_SIZE = 25


@dataclass(frozen=True)
class ExportToIngest:
    """One district's night to ingest: where its export is, and how to read it."""

    drop_root: Path
    district_id: str
    export_date: date
    time_zone: str | None = None  # the district's: an export dated after today there is refused
    settle: float | None = None  # how long a file must have been left unchanged before it is read
    export_format: str | None = None  # the district's format when pinned (districts.yml): the other is refused


@dataclass
class _Night:
    """A district's night between its validation and its ledger rows."""

    export: ExportToIngest
    result: IngestResult
    rows: list[LedgerRow] = field(default_factory=list)
    loaded: list[Landing] = field(default_factory=list)
    spill: Path | None = None

    @property
    def landings(self) -> list[Landing]:
        return [landing for landing in self.loaded if landing.stats.landed_rows]


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
    it in the archive (``archive_dir``, default :func:`default_archive_dir`). See :func:`ingest_exports`."""
    export = ExportToIngest(drop_root, district_id, export_date, time_zone, settle)
    (outcome,) = ingest_exports(settings, [export], pipelines_dir, block_size=block_size, archive_dir=archive_dir)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def ingest_exports(
    settings: PgSettings,
    exports: list[ExportToIngest],
    pipelines_dir: Path | None = None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    archive_dir: Path | None = None,
) -> list[IngestResult | Exception]:
    """Ingest the nights of several districts, :data:`BATCH_SIZE` at a time: each one validated and archived,
    the batch's valid files landed by one dlt run, the statistics refreshed once, then each district's landing
    checked and its ledger rows written. One entry per export, in order: its result, or the exception that
    stopped it. A district's failure is its own (its files, its ledger rows); a failure of the batch's landing
    fails the districts it was landing (their ledger rows are not written: a rerun loads them again)."""
    outcomes: list[IngestResult | Exception] = []
    for first in range(0, len(exports), BATCH_SIZE):
        outcomes += _ingest_batch(settings, exports[first:first + BATCH_SIZE], pipelines_dir,
                                  block_size=block_size, archive_dir=archive_dir)
    return outcomes


def _ingest_batch(settings: PgSettings, exports: list[ExportToIngest], pipelines_dir: Path | None, *,
                  block_size: int, archive_dir: Path | None) -> list[IngestResult | Exception]:
    spec = raw_spec()
    pipelines_dir = Path(pipelines_dir or default_pipelines_dir(settings))
    archive_dir = Path(archive_dir or default_archive_dir(settings))
    outcomes: list[IngestResult | Exception | None] = [None] * len(exports)
    nights: dict[int, _Night] = {}
    umask = os.umask(0o077)  # every working file (student data) is the owner's alone
    locks = None
    try:
        private_dir(pipelines_dir)
        private_dir(archive_dir, recursive=False)  # the delivered files: nobody else gets past the archive's root
        locks = connect(settings)  # holds each district's ingest lock until its ledger rows are written
        ensure_raw_layer(locks, spec)
        for i, export in enumerate(exports):
            night = _Night(export, IngestResult(export.district_id, export.export_date))
            try:
                if _prepare(settings, locks, spec, night, pipelines_dir, archive_dir, block_size):
                    nights[i] = night
                    continue
                outcomes[i] = night.result
            except Exception as exc:  # noqa: BLE001 - one district's failure is its own
                outcomes[i] = exc
            _remove_spill(night)
        landing = {i: night for i, night in nights.items() if night.landings}
        if landing:
            try:
                _land(settings, locks, list(landing.values()), pipelines_dir)
            except Exception as exc:  # noqa: BLE001 - the districts landing in this run failed
                for i in landing:
                    outcomes[i] = exc
                    _remove_spill(nights.pop(i))
        for i, night in nights.items():
            try:
                outcomes[i] = _record(settings, spec, night)
            except Exception as exc:  # noqa: BLE001
                outcomes[i] = exc
    except Exception as exc:  # noqa: BLE001 - the warehouse itself failed: every district of the batch
        outcomes = [exc if outcome is None else outcome for outcome in outcomes]
    finally:
        if locks is not None:
            locks.close()
        for night in nights.values():
            _remove_spill(night)
        os.umask(umask)
    return outcomes


def _prepare(settings: PgSettings, locks, spec, night: _Night, pipelines_dir: Path, archive_dir: Path,
             block_size: int) -> bool:
    """Find, lock, archive and validate a district's night; whether it has ledger rows to write."""
    export, result = night.export, night.result
    clock = _Clock(result.seconds)
    with clock("find"):
        source = find_export(export.drop_root, export.district_id, export.export_date,
                             time_zone=export.time_zone, settle=export.settle, export_format=export.export_format)
    if source is None:
        result.missing = True
        return False
    result.unknown_files = list(source.unknown_files)
    result.ignored_files = list(source.ignored_files)
    if source.incomplete:
        result.incomplete = source.incomplete
        log.warning("%s %s: export left for a later poll: %s", export.district_id, export.export_date,
                    source.incomplete)
        return False
    with locks.cursor() as cur:
        # One ingest per district at a time (session lock, released when the connection closes).
        cur.execute("select pg_advisory_lock(hashtext(%s))", (f"sis-sync ingest {export.district_id}",))
    night.spill = spill_dir(pipelines_dir, export.district_id)
    conn = connect(settings)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive") as archiver:
            # compressed beside the validation (zlib releases the GIL); every file is kept, rejected ones too
            # by the name it was delivered as; a OneRoster export's manifest too (it says bulk or delta)
            delivered = [(source.file_specs[name].delivered, f) for name, f in source.files.items()]
            if source.oneroster is not None:
                delivered.append((MANIFEST, source.manifest))
            archived = [archiver.submit(archive_file, archive_dir, export.district_id, export.export_date, name,
                                        f.sha256, f.open)
                        for name, f in delivered]
            try:
                with clock("validate"):
                    night.rows, night.loaded, result.already_recorded = plan(conn, source, block_size,
                                                                             night.spill)
            except ExportChanged as changed:
                conn.rollback()
                result.incomplete = str(changed)
                log.warning("%s %s: export left for a later poll: %s", export.district_id, export.export_date,
                            changed)
                return False
            conn.commit()
            with clock("archive"):  # what the archive's compression takes beyond the validation
                for future in archived:
                    future.result()
    finally:
        conn.close()
    return True


def _land(settings: PgSettings, conn, nights: list[_Night], pipelines_dir: Path) -> None:
    """Land the nights' valid files with one dlt run (the district's own pipeline when there is one), then
    refresh the statistics of the tables landed in; each night is charged its share of the time."""
    landings = [landing for night in nights for landing in night.landings]
    name = nights[0].export.district_id if len(nights) == 1 else None
    started = time.perf_counter()
    dlt_seconds = land(settings, name, landings, pipelines_dir)
    landed = time.perf_counter()
    refresh_statistics(conn, landings)
    done = time.perf_counter()
    for night in nights:
        share = len(night.landings) / len(landings)
        night.result.seconds["land"] = (landed - started) * share
        night.result.seconds["statistics"] = (done - landed) * share
        night.result.dlt_seconds = {step: seconds * share for step, seconds in dlt_seconds.items()}


def _record(settings: PgSettings, spec, night: _Night) -> IngestResult:
    """Check that the night's files landed in full, then write its change records, phone map and ledger rows
    in one transaction: the commit point of the district's night."""
    export, result = night.export, night.result
    clock = _Clock(result.seconds)
    conn = connect(settings)
    try:
        if night.landings:
            with clock("check"):
                check_landed(conn, night.landings)
        with clock("record"), conn.cursor() as cur:
            for landing in night.loaded:  # with the ledger rows, in one transaction
                record_load_changes(cur, landing.spec, export.district_id, export.export_date, landing.load_id,
                                    landing.stats.filled, landing.stats.changes[1], landing.base_records,
                                    landing.delta)
            phones = [landing.load_id for landing in night.landings if landing.spec.phone_columns]
            if phones:
                read_new_numbers(cur, district_id=export.district_id, load_ids=phones, spec=spec)
            result.rows = insert_rows(cur, night.rows)
            conn.commit()
        return result
    finally:
        conn.close()
        _remove_spill(night)


def _remove_spill(night: _Night) -> None:
    if night.spill is not None:
        shutil.rmtree(night.spill, ignore_errors=True)
        night.spill = None


class _Clock:
    """Adds the seconds each named block takes to ``seconds``."""

    def __init__(self, seconds: dict[str, float]):
        self.seconds = seconds

    @contextlib.contextmanager
    def __call__(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
