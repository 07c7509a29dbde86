"""Planning a night's ingest: for each delivered file, what to record (loaded, unchanged, rejected) and, for a
valid file, its versions against the state before tonight (validated and diffed as it is read, written as csv
files to land: :mod:`sis_sync.ingestion.versions`).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import logging
from datetime import date
from pathlib import Path

from sis_sync import PROJECT_ROOT
from sis_sync.ingestion import oneroster
from sis_sync.ingestion.exports import DistrictSchools, ExportSource
from sis_sync.ingestion.landing import Landing
from sis_sync.ingestion.ledger import LEDGER_TABLE, LedgerRow, new_load_id, recorded_tonight
from sis_sync.ingestion.spec import ONEROSTER_FORMAT, FileSpec
from sis_sync.ingestion.validate import CsvOutput, FileStats, ValidationError, validate_file
from sis_sync.ingestion.versions import BaseState, base_delivery, deliveries, later_delivery

log = logging.getLogger(__name__)

# The seed that says which file's main school year is the district's (dbt reads the same seed).
FILE_GROUPS_SEED = PROJECT_ROOT / "seeds" / "export_file_groups.csv"

# Rows per csv file: a big table is split into several files, which the loader COPYs in parallel (one
# connection per file).
CSV_FILE_MAX_ROWS = 250_000


class ExportChanged(Exception):
    """A delivered file changed between the moment it was hashed and the end of its validation."""


@functools.cache
def school_year_file() -> str:
    """The file whose school years are the district's (its newest is the current one): the row of the seed
    ``export_file_groups`` with ``decides_school_year``, the one definition the season decision reads too."""
    with FILE_GROUPS_SEED.open(newline="", encoding="utf-8") as f:
        deciding = [row["file_name"] for row in csv.DictReader(f)  # of our format: its names are unqualified
                    if row["decides_school_year"] == "true" and "/" not in row["file_name"]]
    if len(deciding) != 1:
        raise ValueError(f"{FILE_GROUPS_SEED}: exactly one file must decide the school year, found {deciding}")
    return deciding[0]


def _empty_year(spec: FileSpec, history: list, night: date, current: tuple[int, int] | None) -> int | None:
    """The school year a file of zero records retires (spec decision; a file without a school year retires
    everything): the newest year its last delivery carried, when that year is still the district's current one
    (its students are of it; for the file that decides the school year, always). So a header-only students file
    removes everyone, and is held by the thresholds; a header-only attendance file of a new school year that has
    not started retires nothing of the year before."""
    if "school_year" not in spec.column_names:
        return None
    last = next((d.max_school_year for d in history if d.export_date < night and d.max_school_year is not None),
                None)
    if last is None or spec.file_name == school_year_file():
        return last
    return last if current is not None and current[0] <= last <= current[1] else None


def _oneroster_year(cur, source: ExportSource) -> int | None:
    """The school year of a OneRoster export (:func:`oneroster.export_school_year`), the district's previous
    OneRoster export's when the night cannot say (that night's too: a file delivered again alone)."""
    cur.execute(f"""
        select main_school_year from {LEDGER_TABLE}
        where district_id = %s and file_name like %s and export_date <= %s and main_school_year is not null
            and status in ('loaded', 'unchanged')
        order by export_date desc, ledger_id desc
        limit 1
    """, (source.district_id, f"{ONEROSTER_FORMAT}/%", source.export_date))
    previous = cur.fetchone()
    bulk = {source.file_specs[name].delivered: f.open for name, f in source.files.items()
            if source.oneroster.mode(name) == oneroster.BULK}
    return oneroster.export_school_year(bulk, previous[0] if previous else None)


ENROLLMENTS = "oneroster/enrollments.csv"  # checked against the users and classes it names


def _unknown_reference(conn, source: ExportSource, f) -> ValidationError | None:
    """A OneRoster enrollments.csv naming a user or a class the district never delivered (spec decision)."""
    tonight = {source.file_specs[name].delivered: other.open for name, other in source.files.items()}
    with conn.cursor() as cur:
        found = oneroster.unknown_reference(cur, source.district_id, f.open, tonight)
    conn.commit()
    if found is None:
        return None
    line, column, message = found
    return ValidationError(ENROLLMENTS, message, line, column)


def plan(conn, source: ExportSource, block_size: int,
         spill_dir: Path) -> tuple[list[LedgerRow], list[Landing], list[str]]:
    """The ledger rows to record, the files loaded (in spec order; each valid file's changes written as csv
    files to land: see :mod:`sis_sync.ingestion.versions`) and the files this night already has recorded."""
    district_id, export_date = source.district_id, source.export_date
    with conn.cursor() as cur:
        done = recorded_tonight(cur, district_id, export_date)
        todo = [(name, f) for name, f in source.files.items() if (name, f.sha256) not in done]
        history = {name: deliveries(cur, district_id, name) for name, _ in todo}
        schools = DistrictSchools.from_warehouse(cur, district_id)
        year_file = school_year_file()
        students = history.get(year_file) or deliveries(cur, district_id, year_file)
        current = next(((d.min_school_year, d.max_school_year) for d in students
                        if d.export_date <= export_date and d.max_school_year is not None), None)
        export_year = _oneroster_year(cur, source) if source.oneroster is not None else None
    conn.commit()  # no transaction stays open while the files are validated
    already_recorded = [name for name in source.files if name not in history]

    rows: list[LedgerRow] = []
    loaded: list[Landing] = []
    for name, f in todo:
        file_spec = source.file_specs[name]
        derived_year = export_year if any(c.derived for c in file_spec.columns) else None
        delta = source.oneroster is not None and source.oneroster.mode(name) == oneroster.DELTA
        later = later_delivery(history[name], export_date)
        if later is not None:
            message = (f"{name}: refused, the night of {later.export_date.isoformat()} was already loaded; nights"
                       " are applied in order, so an earlier night's file can no longer be")
            log.warning("%s %s: %s", district_id, export_date, message)
            rows.append(LedgerRow(district_id, export_date, name, f.sha256, status="rejected", message=message))
            continue
        before = base_delivery(history[name], export_date)
        if (before is not None and before.sha256 == f.sha256
                and (derived_year is None or before.main_school_year == derived_year)):
            rows.append(LedgerRow(
                district_id, export_date, name, f.sha256, status="unchanged", row_count=before.row_count,
                message=f"same bytes as delivered for {before.export_date.isoformat()}",
                min_school_year=before.min_school_year, max_school_year=before.max_school_year,
                main_school_year=before.main_school_year,
                added_count=0, changed_count=0, retired_count=0))
            continue
        if delta and derived_year is not None and before is not None and before.main_school_year is not None \
                and derived_year > before.main_school_year:
            message = (f"{name}: refused, a delta of school year {derived_year} against a file of"
                       f" {before.main_school_year}: the first night of a school year is delivered in bulk (a"
                       " delta names only what changed, the new year needs every record)")
            rows.append(LedgerRow(district_id, export_date, name, f.sha256, status="rejected", message=message))
            continue
        load_id = new_load_id()  # written into every row: a rejected file's id is never used

        empty_year = (derived_year if derived_year is not None
                      else _empty_year(file_spec, history[name], export_date, current))

        def validate(base: BaseState | None, f=f, name=name, file_spec=file_spec, load_id=load_id,
                     empty_year=empty_year, delta=delta, derived_year=derived_year) -> FileStats:
            csv = CsvOutput(spill_dir, district_id, export_date, load_id, max_rows=CSV_FILE_MAX_ROWS, base=base,
                            empty_year=empty_year, delta=delta)
            return validate_file(file_spec, f.open, file_name=name, block_size=block_size, csv=csv,
                                 schools=schools.for_file(name), export_year=derived_year)

        rejected: ValidationError | None = None
        base = None
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
            if file_spec.file_name == ENROLLMENTS:
                rejected = _unknown_reference(conn, source, f)
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
        if derived_year is not None:  # every record of the file is of the export's year, a file of none too
            stats = dataclasses.replace(stats, min_school_year=derived_year, max_school_year=derived_year,
                                        main_school_year=derived_year)
        schools.learn(name, stats)
        if name == year_file and stats.max_school_year is not None:
            current = (stats.min_school_year, stats.max_school_year)
        added, changed, retired = stats.changes
        rows.append(LedgerRow(
            district_id, export_date, name, f.sha256, status="loaded", row_count=stats.row_count,
            message=stats.notes, load_id=load_id, min_school_year=stats.min_school_year,
            max_school_year=stats.max_school_year, main_school_year=stats.main_school_year,
            added_count=added, changed_count=changed,
            retired_count=retired))
        base_records = len(base) if base is not None and file_spec.export_format == ONEROSTER_FORMAT else None
        loaded.append(Landing(file_spec, f, load_id, stats, base_records, delta))
    return rows, loaded, already_recorded
