"""Streaming validation of one export file against the spec, and its conversion to typed Arrow batches.

The file is read with pyarrow's streaming CSV reader (every column as a string, in blocks of
``block_size`` bytes), and every rule of the spec (``ingestion/spec/sis_export_v1.yml``, decisions included)
is checked with pyarrow.compute on whole batches: the whole file is never in memory and no Python code runs
per row on the normal path. Only when a file is already known to be bad is it scanned again, in Python, to
find the exact line of a structural problem (a ragged row, an unclosed quote) or the offset of the first byte
that is not UTF-8.

A file is only ever landed when all of it is valid. :func:`validate_file` checks the whole file and returns
its stats (or raises :class:`ValidationError`). While it checks, it can write the rows as CSV files ready for
the raw table's COPY, holding only what differs from the state before tonight (:class:`CsvOutput`, what the
loader does: dlt lands those files as they are; :mod:`sis_sync.ingestion.versions`; removed again when the
file is rejected), and hand each batch of typed values to a caller's ``on_batch`` (:func:`raw_batch` adds
the meta columns).

Beyond what pyarrow's reader checks (a row with the wrong number of fields), the double quotes read are
counted: an odd count means an unbalanced quote, which pyarrow would otherwise take as a field running to the
end of the file. The checks apply to every column, extra ones included (UTF-8, quotes, field counts).

Typed batches have exactly the spec's columns, in spec order (a column the file does not have is all NULL),
typed text/grade -> string, date -> date32, int -> int64, bool -> bool, decimal -> decimal128(18, 4), then
the meta columns ``_district_id``, ``_export_date``, ``_load_id``, ``_line_number`` (the 1-based physical
line on which the record starts; the header is line 1), ``_change`` and the two hashes. Values are trimmed;
empty values are NULL. Text and grade values are kept as delivered (trimmed): staging canonicalises them.

Blank lines (records whose fields are all empty) are skipped; they still count as lines.

The parts: :mod:`.reading` (the header, the streamed batches and the checks on raw text), :mod:`.converting`
(text to the spec's types), :mod:`.keys` (key hashes, duplicate keys, invisible characters in ids),
:mod:`.diagnostics` (the error paths, only for a file known to be bad) and :mod:`.common`; this module puts
them together (:func:`validate_file`) and writes the outputs.

Beyond the types, three rules of the spec's decisions are checked here (see ``decisions:`` in the spec):

- no field may be longer than :data:`MAX_FIELD_BYTES` (64 KiB), in any column; memory stays bounded by the
  reader's block size whatever the file holds (a record larger than the block is rejected with its line);
- a text value starting with a spreadsheet formula character (``=``, ``+``, ``-``, ``@``; an international
  phone number like ``+1 555 201 7788`` excepted) is stored as delivered, never evaluated, and *flagged*: the
  file loads and :attr:`FileStats.notes` (the ledger message) lists where such values are;
- with ``schools`` (the district's known school ids, :class:`KnownSchools`), a file whose ``school_id`` values
  are none of them is another district's file and is rejected.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from sis_sync.ingestion.hashing import key_hashes
from sis_sync.ingestion.spec import FileSpec
from sis_sync.ingestion.validate.common import (
    ARROW_TYPES,
    DEFAULT_BLOCK_SIZE,
    FORMULA_CHARACTERS,
    MAX_FIELD_BYTES,
    META_TYPES,
    Opener,
    ValidationError,
)
from sis_sync.ingestion.validate.converting import _convert, _show
from sis_sync.ingestion.validate.diagnostics import _quote_problem
from sis_sync.ingestion.validate.keys import _check_duplicate_keys, _invisible_in_ids
from sis_sync.ingestion.validate.reading import (
    _batches,
    _Formulas,
    _Layout,
    _long_field,
    _nul_field,
    _QuoteCounter,
    _read_header,
)
from sis_sync.ingestion.versions import ADDED, RETIRED, BaseState, Differ, content_hashes, identity_hashes

BatchSink = Callable[[list[pa.Array], pa.Array], None]  # a batch's typed columns (spec order), its line numbers

__all__ = [  # what the rest of the project uses
    "ARROW_TYPES", "DEFAULT_BLOCK_SIZE", "MAX_FIELD_BYTES", "CsvOutput", "FileStats", "KnownSchools",
    "BatchSink", "ValidationError", "arrow_schema", "raw_batch", "validate_file",
]


@dataclass(frozen=True)
class FileStats:
    """What validation learned about a valid file."""

    file_name: str
    row_count: int
    min_school_year: int | None
    max_school_year: int | None
    extra_columns: tuple[str, ...]  # header names not in the spec (ignored), as delivered (trimmed)
    formula_count: int = 0  # text values that start with a formula character (stored as text, flagged)
    formula_cells: tuple[tuple[int, str], ...] = ()  # (line, column) of the first MAX_LISTED of them
    school_ids: frozenset[str] = frozenset()  # the distinct school_id values, for files with that column
    csv_files: tuple[tuple[Path, int], ...] = ()  # with a CsvOutput: the files written and the rows in each
    changes: tuple[int, int, int] | None = None  # with a CsvOutput: records (added, changed, retired)
    filled: tuple[tuple[str, int], ...] = ()  # per spec column, the records whose value is set (bool: true)
    main_school_year: int | None = None  # the school year most records carry (ties: the older), the export's

    @property
    def landed_rows(self) -> int:
        """The rows written for the raw table: the changes and the tombstones."""
        return sum(rows for _, rows in self.csv_files)

    @property
    def notes(self) -> str | None:
        """What the ledger says about a loaded file: ignored columns and flagged values, or None."""
        notes = []
        if self.extra_columns:
            notes.append("ignored extra columns: " + ", ".join(self.extra_columns))
        if self.formula_count:
            where = "; ".join(f"line {line}, column {column}" for line, column in self.formula_cells)
            more = self.formula_count - len(self.formula_cells)
            if more:
                where += f"; and {more} more"
            what = "value starts" if self.formula_count == 1 else "values start"
            notes.append(f"{self.formula_count} {what} with a spreadsheet formula character"
                         f" ({' '.join(FORMULA_CHARACTERS)}), stored as text and never evaluated: {where}")
        return "; ".join(notes) or None


@dataclass(frozen=True)
class KnownSchools:
    """The school ids a district's file may name: a file whose school ids are none of them is refused as
    another district's file."""

    district_id: str
    school_ids: frozenset[str]
    source: str  # where they come from, for the message, e.g. "its earlier schools.csv loads"


@dataclass(frozen=True)
class CsvOutput:
    """Where and for which load :func:`validate_file` writes a file's rows as CSV, for a COPY into its raw table.

    The files are what dlt's postgres loader COPYs (``COPY ... (header's columns) FROM STDIN WITH (FORMAT CSV,
    DELIMITER ',', NULL '', FORCE_NULL(every column))``): a header line naming the raw table's columns (the
    spec's, then the meta columns), then one line per record that differs from ``base`` and one per record of
    ``base`` the file retires (see :mod:`sis_sync.ingestion.versions`), written by pyarrow's CSV writer (text quoted,
    NULL as an empty field, dates ``YYYY-MM-DD``, booleans ``true``/``false``, decimals with 4 places). Text is
    never empty (an empty value is NULL), so the loader's FORCE_NULL, which reads ``""`` as NULL too, loses
    nothing. The writing streams: one batch at a time.
    """

    folder: Path
    district_id: str
    export_date: date
    load_id: str
    max_rows: int | None = None  # a new file after this many rows (the loader COPYs files in parallel)
    base: BaseState | None = None  # the state before tonight: only what differs from it is written
    # A file of zero records (a header only) with a school_year column retires the records of this school year
    # (None: none); a file without that column retires every record of the base.
    empty_year: int | None = None
    delta: bool = False  # a OneRoster delta file: it retires only the records it marks, never the absent ones


def arrow_schema(spec: FileSpec) -> pa.Schema:
    """The schema of the typed batches for one spec file: spec columns, then the meta columns."""
    fields = [pa.field(c.name, ARROW_TYPES[c.type]) for c in spec.columns]
    fields += [pa.field(name, t) for name, t in META_TYPES.items()]
    return pa.schema(fields)


def validate_file(
    spec: FileSpec,
    opener: Opener,
    *,
    file_name: str | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    on_batch: BatchSink | None = None,
    schools: KnownSchools | None = None,
    csv: CsvOutput | None = None,
    export_year: int | None = None,
) -> FileStats:
    """Check a whole file against the spec; its stats when valid, else :class:`ValidationError`.

    With ``csv``, the rows are also written as CSV files for the raw table's COPY while the file is checked
    (see :class:`CsvOutput`; listed in :attr:`FileStats.csv_files`; removed again when the file is rejected).
    ``on_batch`` is called with each batch's typed columns and line numbers once the batch passed its checks
    (a later batch may still reject the file). With ``schools``, a file with a ``school_id`` column must name
    at least one of those schools (else it is another district's file). ``export_year`` is the value of the
    spec's derived columns (a OneRoster file's school year: the export's).
    """
    name = file_name or spec.file_name
    csv_files = None if csv is None else _CsvFiles(spec, csv)
    try:
        stats = _validate(spec, opener, name, block_size, on_batch, schools, csv_files, export_year)
        if csv_files is not None and not csv.delta:
            years = (stats.min_school_year, stats.max_school_year)
            if stats.row_count == 0 and csv.empty_year is not None:
                years = (csv.empty_year, csv.empty_year)
            csv_files.retire(*years)
        if csv_files is not None:
            differ = csv_files.differ
            stats = dataclasses.replace(stats, csv_files=csv_files.close(),
                                        changes=(differ.added, differ.changed, differ.retired))
        return stats
    except BaseException:
        if csv_files is not None:
            csv_files.discard()
        raise


def _validate(spec: FileSpec, opener: Opener, name: str, block_size: int, on_batch: BatchSink | None,
              schools: KnownSchools | None, csv_files: _CsvFiles | None, export_year: int | None) -> FileStats:
    layout = _read_header(spec, opener, name)
    derived = [i for i, c in enumerate(spec.columns) if c.derived]
    if derived and export_year is None:
        raise ValidationError(name, "the export's school year is unknown (no academic session of the export or of"
                                    " an earlier one says it), so its records cannot be stored under a year")
    rows = 0
    years = _Years()
    hashes: list[pa.Array] = []  # one 64-bit hash of the key per record (see _check_duplicate_keys)
    key_at = [spec.column_names.index(k) for k in spec.key]
    school_at = spec.column_names.index("school_id") if "school_id" in spec.column_names else None
    year_at = spec.column_names.index("school_year") if "school_year" in spec.column_names else None
    school_ids: set[str] = set()
    first_school: tuple[int, str] | None = None  # (line, value) of the first record
    formulas = _Formulas(layout)
    counter = _QuoteCounter()
    filled = [0] * len(spec.columns)
    for raw, lines in _batches(layout, opener, block_size, counter):
        columns = _checked_columns(spec, layout, raw, lines)
        for i in derived:
            columns[i] = pa.repeat(pa.scalar(export_year, ARROW_TYPES[spec.columns[i].type]), raw.num_rows)
        formulas.scan(columns, lines)
        _count_filled(columns, filled)
        if school_at is not None:
            values = columns[school_at]
            if first_school is None:
                first_school = (int(lines[0].as_py()), values[0].as_py())
            school_ids.update(v for v in pc.unique(values).to_pylist() if v is not None)
        rows += raw.num_rows
        if year_at is not None:
            years.add(columns[year_at])
        hashes.append(key_hashes([columns[i] for i in key_at]))
        if on_batch is not None:
            on_batch(columns, lines)
        if csv_files is not None:
            csv_files.write(columns, lines)
    if counter.quotes % 2:
        # pyarrow reads an unclosed quote as a field running to the end of the file.
        line, problem = _quote_problem(opener)
        raise ValidationError(name, problem, line)
    _check_duplicate_keys(spec, layout, opener, block_size, hashes)
    if schools is not None and first_school is not None:
        _check_schools(name, schools, school_ids, first_school)
    return FileStats(name, rows, years.min, years.max, layout.extras, formulas.count, tuple(formulas.cells),
                     frozenset(school_ids), filled=tuple(zip(spec.column_names, filled, strict=True)),
                     main_school_year=years.main)


def _checked_columns(spec: FileSpec, layout: _Layout, raw: pa.RecordBatch, lines: pa.Array) -> list[pa.Array]:
    """A batch's typed columns, once its raw text and its values passed every rule; else ValidationError."""
    name = layout.file_name
    too_long = _long_field(raw, layout)
    if too_long is not None:
        row, column, size = too_long
        raise ValidationError(name, f"the value is {size:,} bytes long; the limit is {MAX_FIELD_BYTES:,}"
                                    " bytes (64 KiB) per field", int(lines[row].as_py()), column)
    nul = _nul_field(raw, layout)
    if nul is not None:
        row, column = nul
        raise ValidationError(name, "the value contains a NUL character (byte 0), which no text value may"
                                    " hold", int(lines[row].as_py()), column)
    columns, problem = _convert(raw, layout, check=True)
    if problem is not None:
        row, column, text = problem
        raise ValidationError(name, text, int(lines[row].as_py()), column)
    hidden = _invisible_in_ids(spec, columns)
    if hidden is not None:
        row, column, char = hidden
        raise ValidationError(name, f"the id contains an invisible character (U+{ord(char):04X}); ids must"
                                    " be visible characters only", int(lines[row].as_py()), column)
    return columns


class _Years:
    """The school years of a file's records: the oldest, the newest, and the one most records carry (ties: the
    older), the export's."""

    def __init__(self):
        self.counts: dict[int, int] = {}

    def add(self, years: pa.Array) -> None:
        for entry in pc.value_counts(years).to_pylist():
            if entry["values"] is not None:
                self.counts[entry["values"]] = self.counts.get(entry["values"], 0) + entry["counts"]

    @property
    def min(self) -> int | None:
        return min(self.counts, default=None)

    @property
    def max(self) -> int | None:
        return max(self.counts, default=None)

    @property
    def main(self) -> int | None:
        return min(self.counts, key=lambda y: (-self.counts[y], y)) if self.counts else None


def _check_schools(name: str, schools: KnownSchools, school_ids: set[str], first_school: tuple[int, str]) -> None:
    """A file none of whose school ids is one of the district's is another district's file."""
    if not schools.school_ids or school_ids & schools.school_ids:
        return
    line, value = first_school
    known = sorted(schools.school_ids)
    shown = ", ".join(known[:8]) + (f" and {len(known) - 8} more" if len(known) > 8 else "")
    others = len(school_ids) - 1
    raise ValidationError(
        name,
        f"school {_show(value)} is not a school of district {schools.district_id}"
        + (", and neither is the file's other school id" if others == 1 else
           f", and neither are the file's {others} other school ids" if others else "")
        + f": is this another district's file? (district {schools.district_id} has schools {shown},"
        f" from {schools.source})",
        line, "school_id")


def _count_filled(columns: list[pa.Array], filled: list[int]) -> None:
    """Add each column's set values (not empty; for a boolean, true) to ``filled``: what a night that blanks
    a column, or clears a flag, is measured by."""
    for i, column in enumerate(columns):
        if pa.types.is_boolean(column.type):
            filled[i] += pc.sum(pc.cast(column, pa.int64())).as_py() or 0
        else:
            filled[i] += len(column) - column.null_count


class _CsvFiles:
    """The CSV files of one validated file (see :class:`CsvOutput`), written one batch at a time: only the
    records that differ from ``out.base`` (every record without one), then the tombstones of the records the
    file no longer has (:mod:`sis_sync.ingestion.versions`)."""

    def __init__(self, spec: FileSpec, out: CsvOutput):
        self.spec = spec
        self.out = out
        self.differ = Differ(spec, out.base if out.base is not None else BaseState.empty(spec))
        self.schema = arrow_schema(spec)
        self.header = (",".join(self.schema.names) + "\n").encode()
        self.files: list[tuple[Path, int]] = []
        self._sink = None
        self._writer = None

    def write(self, columns: list[pa.Array], lines: pa.Array) -> None:
        land, change, keys, rows = self.differ.batch(columns)
        if not pc.all(land).as_py():
            columns = [pc.filter(c, land) for c in columns]
            lines, change, keys, rows = (pc.filter(a, land) for a in (lines, change, keys, rows))
        out = self.out
        self._write(raw_batch(self.spec, columns, lines, out.district_id, out.export_date, out.load_id,
                               change, keys, rows))

    def _write(self, batch: pa.RecordBatch) -> None:
        out = self.out
        while batch.num_rows:
            if self._writer is None:
                self._open()
            path, rows = self.files[-1]
            room = batch.num_rows if out.max_rows is None else min(batch.num_rows, out.max_rows - rows)
            self._writer.write_batch(batch.slice(0, room))
            self.files[-1] = (path, rows + room)
            batch = batch.slice(room)
            if out.max_rows is not None and rows + room >= out.max_rows:
                self._close_file()

    def retire(self, min_year: int | None, max_year: int | None) -> None:
        """Write the tombstones: the base's records of the file's school years that the file does not have."""
        gone = self.differ.retirements(min_year, max_year)
        if not gone.num_rows:
            return
        n = gone.num_rows
        columns = [gone.column(c.name).combine_chunks() if c.name in gone.column_names
                   else pa.nulls(n, ARROW_TYPES[c.type]) for c in self.spec.columns]
        out = self.out
        self._write(raw_batch(self.spec, columns, pa.nulls(n, pa.int64()), out.district_id, out.export_date,
                               out.load_id, pa.repeat(pa.scalar(RETIRED), n),
                               gone.column("_key_hash").combine_chunks(), pa.nulls(n, pa.int64())))

    def _open(self) -> None:
        path = Path(self.out.folder) / f"{self.spec.name}.{len(self.files) + 1:04d}.csv"
        self.files.append((path, 0))
        self._sink = pa.OSFile(str(path), "wb")
        self._sink.write(self.header)
        self._writer = pcsv.CSVWriter(self._sink, self.schema, write_options=pcsv.WriteOptions(
            include_header=False, delimiter=",", quoting_style="needed"))

    def _close_file(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    def close(self) -> tuple[tuple[Path, int], ...]:
        self._close_file()
        return tuple(self.files)

    def discard(self) -> None:
        try:
            self._close_file()
        finally:
            for path, _ in self.files:
                path.unlink(missing_ok=True)


def raw_batch(spec, columns, lines, district_id, export_date, load_id, change=None, keys=None,
              rows=None) -> pa.RecordBatch:
    """A batch of the raw table's columns (schema :func:`arrow_schema`) from a batch's typed columns and line
    numbers. Without ``change`` and the hashes, every record is ``added``."""
    n = len(lines)
    meta = [pa.repeat(pa.scalar(district_id, pa.string()), n),
            pa.repeat(pa.scalar(export_date, pa.date32()), n),
            pa.repeat(pa.scalar(load_id, pa.string()), n),
            lines,
            pa.repeat(pa.scalar(ADDED), n) if change is None else change,
            identity_hashes(spec, columns) if keys is None else keys,
            content_hashes(spec, columns) if rows is None else rows]
    return pa.RecordBatch.from_arrays([*columns, *meta], schema=arrow_schema(spec))
