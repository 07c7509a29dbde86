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

Order of work (:func:`ingest_export`), which makes a crash at any point harmless: keep every delivered file in
the archive (:mod:`.archive`, in a thread beside the validation); validate every file (:mod:`.planning`;
``_load_id`` = a fresh load id per file; as it is read, so it is parsed once, what it changed against the state
before tonight is written to local csv files in the format dlt's postgres loader COPYs, meta columns included);
land the valid ones with one dlt run (:mod:`.landing`), which imports those csv files into its load package as
they are (``dlt.mark.with_file_import``: no extract or normalize of the rows) and COPYs them, several files at a
time; check that every file landed in full; then write all ledger rows in one transaction. Rows landed by a run
that crashed before its ledger rows were written carry load ids no ledger row names: they are never read, and
the rerun loads the files again under new load ids. dlt's pending packages are dropped at the start of a run.

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
from sis_sync.ingestion.landing import check_landed, land, refresh_statistics
from sis_sync.ingestion.ledger import LedgerRow, insert_rows
from sis_sync.ingestion.phones import read_new_numbers
from sis_sync.ingestion.planning import ExportChanged, plan
from sis_sync.ingestion.raw_layer import ensure_raw_layer
from sis_sync.ingestion.spec import load_spec
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
    spill: Path | None = None
    umask = os.umask(0o077)  # every working file (student data) is the owner's alone
    private_dir(pipelines_dir)
    private_dir(archive_dir, recursive=False)  # the delivered files: nobody else gets past the archive's root
    conn = connect(settings)
    clock = _Clock(result.seconds)
    try:
        ensure_raw_layer(conn, spec)
        with clock("find"):
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
        spill = spill_dir(pipelines_dir, district_id)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive") as archiver:
            # compressed beside the validation (zlib releases the GIL); every file is kept, rejected ones too
            archived = [archiver.submit(archive_file, archive_dir, district_id, export_date, name, f.sha256, f.open)
                        for name, f in source.files.items()]
            try:
                with clock("validate"):
                    rows, loaded, result.already_recorded = plan(conn, spec, source, block_size, spill)
            except ExportChanged as changed:
                conn.rollback()
                result.incomplete = str(changed)
                log.warning("%s %s: export left for a later poll: %s", district_id, export_date, changed)
                return result
            landings = [landing for landing in loaded if landing.stats.landed_rows]
            conn.commit()
            with clock("archive"):  # what the archive's compression takes beyond the validation
                for future in archived:
                    future.result()
        if landings:
            with clock("land"):
                result.dlt_seconds = land(settings, district_id, landings, pipelines_dir)
            with clock("statistics"):
                refresh_statistics(conn, landings)
            with clock("check"):
                check_landed(conn, landings)
        with clock("record"), conn.cursor() as cur:
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
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)
        os.umask(umask)


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
