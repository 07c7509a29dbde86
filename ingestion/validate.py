"""Streaming validation of one export file against the spec, and its conversion to typed Arrow batches.

The file is read with pyarrow's streaming CSV reader (every column as a string, in blocks of
``block_size`` bytes), and every rule of the spec (``ingestion/spec/sis_export_v1.yml``, decisions included)
is checked with pyarrow.compute on whole batches: the whole file is never in memory and no Python code runs
per row on the normal path. Only when a file is already known to be bad is it scanned again, in Python, to
find the exact line of a structural problem (a ragged row, an unclosed quote) or the offset of the first byte
that is not UTF-8.

A file is only ever landed when all of it is valid. :func:`validate_file` checks the whole file and returns
its stats (or raises :class:`ValidationError`). To land it, either read it again with :func:`typed_batches`
(a second parse), or let :func:`validate_file` write the rows as it goes: as CSV files ready for the raw
table's COPY, holding only what differs from the state before tonight (:class:`CsvOutput`, what the loader
does: dlt lands those files as they are; :mod:`ingestion.versions`), or as typed
batches in a spill file (Arrow IPC) read back with :func:`spilled_batches`. Either output is removed again
when the file is rejected.

Beyond what pyarrow's reader checks (a row with the wrong number of fields), the double quotes read are
counted: an odd count means an unbalanced quote, which pyarrow would otherwise take as a field running to the
end of the file. The checks apply to every column, extra ones included (UTF-8, quotes, field counts).

Typed batches have exactly the spec's columns, in spec order (a column the file does not have is all NULL),
typed text/grade -> string, date -> date32, int -> int64, bool -> bool, decimal -> decimal128(18, 4), then
the meta columns ``_district_id``, ``_export_date``, ``_load_id``, ``_line_number`` (the 1-based physical
line on which the record starts; the header is line 1), ``_change`` and the two hashes. Values are trimmed;
empty values are NULL. Text and grade values are kept as delivered (trimmed): staging canonicalises them.

Blank lines (records whose fields are all empty) are skipped; they still count as lines.

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

import csv
import dataclasses
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from ingestion.redact import redact
from ingestion.spec import (
    BOOLEAN_FALSE,
    BOOLEAN_TRUE,
    GRADE_CODES,
    META_STORED_AS,
    RAW_META_COLUMNS,
    STORED_AS,
    Column,
    FileSpec,
)

if TYPE_CHECKING:
    from ingestion.versions import BaseState

DEFAULT_BLOCK_SIZE = 8 << 20
MAX_HEADER_BYTES = 1 << 20
MAX_FIELD_BYTES = 64 << 10  # the longest field accepted, in bytes of UTF-8 (a spec decision)
FORMULA_CHARACTERS = ("=", "+", "-", "@")  # a spreadsheet reads a cell starting with one as a formula
MAX_LISTED = 10  # flagged values listed by position in the ledger message (then a count)
ARROW_TYPES = {name: stored.arrow for name, stored in STORED_AS.items()}
DECIMAL_TYPE = ARROW_TYPES["decimal"]
META_TYPES = {name: META_STORED_AS[pg_type].arrow for name, pg_type in RAW_META_COLUMNS.items()}

BOM = b"\xef\xbb\xbf"
_GRADES_ACCEPTED = pa.array(sorted({*GRADE_CODES, "K", *(str(g) for g in range(1, 13))}))
_TRUE = pa.array(BOOLEAN_TRUE)
_FALSE = pa.array(BOOLEAN_FALSE)
_INT_RE = r"^[+-]?[0-9]+$"
_DECIMAL_RE = r"^[0-9]+(\.[0-9]+)?$"
_PHONE_RE = r"^\+[0-9][0-9 ().-]*$"  # +15552017788, +1 (555) 201-7788: not a formula

Opener = Callable[[], BinaryIO]


class ValidationError(Exception):
    """A file breaks the spec. ``str()`` is one line naming the file, the line and the column."""

    def __init__(self, file_name: str, problem: str, line: int | None = None, column: str | None = None):
        self.file_name = file_name
        self.line = line
        self.column = column
        self.problem = problem
        where = file_name
        if line is not None:
            where += f" line {line}"
        if column is not None:
            where += f", column {column}" if line is not None else f" column {column}"
        super().__init__(f"{where}: {problem}")

    @property
    def message(self) -> str:
        return str(self)


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
    ``base`` the file retires (see :mod:`ingestion.versions`), written by pyarrow's CSV writer (text quoted,
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
    spill: Path | None = None,
    schools: KnownSchools | None = None,
    csv: CsvOutput | None = None,
) -> FileStats:
    """Check a whole file against the spec; its stats when valid, else :class:`ValidationError`.

    With ``csv``, the rows are also written as CSV files for the raw table's COPY while the file is checked
    (see :class:`CsvOutput`; listed in :attr:`FileStats.csv_files`). With ``spill``, the typed batches are
    written to that path (an uncompressed Arrow IPC file; :func:`spilled_batches`). Either is removed again
    when the file is rejected. With ``schools``, a file with a ``school_id`` column must name at least one of
    those schools (else it is another district's file).
    """
    name = file_name or spec.file_name
    writer = None
    csv_files = None if csv is None else _CsvFiles(spec, csv)
    try:
        if spill is not None:
            writer = pa.ipc.new_file(str(spill), _spill_schema(spec))
        stats = _validate(spec, opener, name, block_size, writer, schools, csv_files)
        if writer is not None:
            writer.close()
            writer = None
        if csv_files is not None:
            years = (stats.min_school_year, stats.max_school_year)
            if stats.row_count == 0 and csv.empty_year is not None:
                years = (csv.empty_year, csv.empty_year)
            csv_files.retire(*years)
            differ = csv_files.differ
            stats = dataclasses.replace(stats, csv_files=csv_files.close(),
                                        changes=(differ.added, differ.changed, differ.retired))
        return stats
    except BaseException:
        if writer is not None:
            writer.close()
        if spill is not None:
            Path(spill).unlink(missing_ok=True)
        if csv_files is not None:
            csv_files.discard()
        raise


def _validate(spec: FileSpec, opener: Opener, name: str, block_size: int, writer,
              schools: KnownSchools | None, csv_files: _CsvFiles | None) -> FileStats:
    layout = _read_header(spec, opener, name)
    rows = 0
    year_min = year_max = None
    year_counts: dict[int, int] = {}
    hashes: list[pa.Array] = []  # one 64-bit hash of the key per record (see _check_duplicate_keys)
    has_year = "school_year" in spec.column_names
    key_at = [spec.column_names.index(k) for k in spec.key]
    school_at = spec.column_names.index("school_id") if "school_id" in spec.column_names else None
    school_ids: set[str] = set()
    first_school: tuple[int, str] | None = None  # (line, value) of the first record
    formulas = _Formulas(layout)
    counter = _QuoteCounter()
    filled = [0] * len(spec.columns)
    schema = None if writer is None else _spill_schema(spec)
    for raw, lines in _batches(layout, opener, block_size, counter):
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
        formulas.scan(columns, lines)
        _count_filled(columns, filled)
        hidden = _invisible_in_ids(spec, columns)
        if hidden is not None:
            row, column, char = hidden
            raise ValidationError(name, f"the id contains an invisible character (U+{ord(char):04X}); ids must"
                                        " be visible characters only", int(lines[row].as_py()), column)
        if school_at is not None:
            values = columns[school_at]
            if first_school is None:
                first_school = (int(lines[0].as_py()), values[0].as_py())
            school_ids.update(v for v in pc.unique(values).to_pylist() if v is not None)
        rows += raw.num_rows
        if has_year:
            years = columns[spec.column_names.index("school_year")]
            for entry in pc.value_counts(years).to_pylist():
                if entry["values"] is not None:
                    year_counts[entry["values"]] = year_counts.get(entry["values"], 0) + entry["counts"]
            mm = pc.min_max(years).as_py()
            if mm["min"] is not None:
                year_min = mm["min"] if year_min is None else min(year_min, mm["min"])
                year_max = mm["max"] if year_max is None else max(year_max, mm["max"])
        hashes.append(key_hashes([columns[i] for i in key_at]))
        if writer is not None:
            writer.write_batch(pa.RecordBatch.from_arrays([*columns, lines], schema=schema))
        if csv_files is not None:
            csv_files.write(columns, lines)
    if counter.quotes % 2:
        # pyarrow reads an unclosed quote as a field running to the end of the file.
        line, problem = _quote_problem(opener)
        raise ValidationError(name, problem, line)
    _check_duplicate_keys(spec, layout, opener, block_size, hashes)
    if schools is not None and schools.school_ids and first_school is not None \
            and not school_ids & schools.school_ids:
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
    return FileStats(name, rows, year_min, year_max, layout.extras, formulas.count, tuple(formulas.cells),
                     frozenset(school_ids), filled=tuple(zip(spec.column_names, filled, strict=True)),
                     main_school_year=min(year_counts, key=lambda y: (-year_counts[y], y)) if year_counts else None)


def _count_filled(columns: list[pa.Array], filled: list[int]) -> None:
    """Add each column's set values (not empty; for a boolean, true) to ``filled``: what a night that blanks
    a column, or clears a flag, is measured by."""
    for i, column in enumerate(columns):
        if pa.types.is_boolean(column.type):
            filled[i] += pc.sum(pc.cast(column, pa.int64())).as_py() or 0
        else:
            filled[i] += len(column) - column.null_count


def typed_batches(
    spec: FileSpec,
    opener: Opener,
    *,
    district_id: str,
    export_date: date,
    load_id: str,
    file_name: str | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> Iterator[pa.RecordBatch]:
    """The file's records as typed batches (schema :func:`arrow_schema`), parsed again from the CSV. Call
    after :func:`validate_file`: the checks that only reject are skipped here (a value that cannot be
    converted still raises)."""
    name = file_name or spec.file_name
    layout = _read_header(spec, opener, name)
    for raw, lines in _batches(layout, opener, block_size):
        columns, problem = _convert(raw, layout, check=False)
        if problem is not None:  # pragma: no cover - the file changed since it was validated
            row, column, text = problem
            raise ValidationError(name, text, int(lines[row].as_py()), column)
        yield _with_meta(spec, columns, lines, district_id, export_date, load_id)


def spilled_batches(
    spec: FileSpec, spill: Path, *, district_id: str, export_date: date, load_id: str
) -> Iterator[pa.RecordBatch]:
    """The typed batches (schema :func:`arrow_schema`) of a file validated with ``spill``."""
    with pa.memory_map(str(spill)) as source:
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            batch = reader.get_batch(i)
            columns = batch.columns
            yield _with_meta(spec, columns[:-1], columns[-1], district_id, export_date, load_id)


def _spill_schema(spec: FileSpec) -> pa.Schema:
    return pa.schema([*(pa.field(c.name, ARROW_TYPES[c.type]) for c in spec.columns),
                      pa.field("_line_number", pa.int64())])


class _CsvFiles:
    """The CSV files of one validated file (see :class:`CsvOutput`), written one batch at a time: only the
    records that differ from ``out.base`` (every record without one), then the tombstones of the records the
    file no longer has (:mod:`ingestion.versions`)."""

    def __init__(self, spec: FileSpec, out: CsvOutput):
        from ingestion.versions import BaseState, Differ

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
        self._write(_with_meta(self.spec, columns, lines, out.district_id, out.export_date, out.load_id,
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
        from ingestion.versions import RETIRED

        gone = self.differ.retirements(min_year, max_year)
        if not gone.num_rows:
            return
        n = gone.num_rows
        columns = [gone.column(c.name).combine_chunks() if c.name in gone.column_names
                   else pa.nulls(n, ARROW_TYPES[c.type]) for c in self.spec.columns]
        out = self.out
        self._write(_with_meta(self.spec, columns, pa.nulls(n, pa.int64()), out.district_id, out.export_date,
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


def _with_meta(spec, columns, lines, district_id, export_date, load_id, change=None, keys=None,
               rows=None) -> pa.RecordBatch:
    """A batch of the raw table's columns. Without ``change`` and the hashes, every record is ``added``."""
    from ingestion.versions import ADDED, content_hashes, identity_hashes

    n = len(lines)
    meta = [pa.repeat(pa.scalar(district_id, pa.string()), n),
            pa.repeat(pa.scalar(export_date, pa.date32()), n),
            pa.repeat(pa.scalar(load_id, pa.string()), n),
            lines,
            pa.repeat(pa.scalar(ADDED), n) if change is None else change,
            identity_hashes(spec, columns) if keys is None else keys,
            content_hashes(columns) if rows is None else rows]
    return pa.RecordBatch.from_arrays([*columns, *meta], schema=arrow_schema(spec))


# --- header ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    spec: FileSpec
    file_name: str
    names: tuple[str, ...]  # header names exactly as pyarrow sees them (BOM stripped)
    positions: tuple[int | None, ...]  # per spec column: index in the file, or None when absent
    extras: tuple[str, ...]
    header_lines: int  # physical lines the header takes (1 unless a header name has a newline)
    header_only: bool = False  # nothing but blank lines follows the header: a delivery of zero records

    def column_name(self, index: int) -> str | None:
        """The name of the file's ``index``-th column for messages: the spec's name, else as delivered."""
        if index >= len(self.names):
            return None
        normalized = self.names[index].strip().lower()
        if normalized in self.spec.column_names:
            return normalized
        return self.names[index].strip() or f"(unnamed column {index + 1})"


def _read_header(spec: FileSpec, opener: Opener, name: str) -> _Layout:
    with opener() as f:
        head = f.read(64 << 10)
        if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise ValidationError(
                name, f"the file is not UTF-8: it starts with a UTF-16 byte-order mark (0x{head[0]:02x} 0x"
                      f"{head[1]:02x} at byte offset 0): the export must be UTF-8", 1)
        bom = 3 if head[:3] == BOM else 0
        head = head[bom:]
        if not head:
            raise ValidationError(name, "the file is empty (0 bytes)")
        end = _header_end(head)
        while end is None and len(head) < MAX_HEADER_BYTES:
            more = f.read(64 << 10)
            if not more:
                break
            head += more
            end = _header_end(head)
        at_end = not f.read(1)  # the whole file is in ``head``
    if end is None:
        if b"\r" in head and b"\n" not in head:
            raise ValidationError(name, "the lines end in a carriage return alone (CR, the old Mac OS line"
                                        " ending); the export's lines must end in LF or CRLF", 1)
        if len(head) >= MAX_HEADER_BYTES:
            raise ValidationError(name, "the header row is longer than 1 MiB", 1)
        end = len(head)  # a header without a line break: a delivery of zero records
    raw_header = head[:end]
    try:
        text = raw_header.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _not_utf8(name, bom + e.start, 1 + raw_header.count(b"\n", 0, e.start),
                        raw_header[e.start]) from None
    names = next(csv.reader(io.StringIO(text, newline="")), [])
    normalized = [n.strip().lower() for n in names]
    positions: list[int | None] = []
    for column in spec.columns:
        found = [i for i, n in enumerate(normalized) if n == column.name]
        if len(found) > 1:
            raise ValidationError(name, f"the header has the column {column.name} {len(found)} times", 1,
                                  column.name)
        if not found and column.required:
            raise ValidationError(name, "required column is missing from the header", 1, column.name)
        positions.append(found[0] if found else None)
    extras = tuple(n.strip() or f"(unnamed column {i + 1})" for i, n in enumerate(names)
                   if normalized[i] not in spec.column_names)
    header_only = at_end and not head[end:].strip(b"\r\n")
    return _Layout(spec, name, tuple(names), tuple(positions), extras, text.count("\n"), header_only)


def _header_end(head: bytes) -> int | None:
    """Index just past the header record's line break, or None when the header is not complete in ``head``."""
    start = 0
    while True:
        nl = head.find(b"\n", start)
        if nl < 0:
            return None
        if head.count(b'"', 0, nl) % 2 == 0:
            return nl + 1
        start = nl + 1


# --- streaming ------------------------------------------------------------------------------------------


def _batches(
    layout: _Layout, opener: Opener, block_size: int, counter: _QuoteCounter | None = None
) -> Iterator[tuple[pa.RecordBatch, pa.Array]]:
    """Raw (all-string) record batches without blank records, each with the line its records start on."""
    next_line = layout.header_lines + 1
    reader = None
    if layout.header_only:
        return
    with opener() as f:
        try:
            reader = pcsv.open_csv(
                f if counter is None else counter.wrap(f),
                read_options=pcsv.ReadOptions(block_size=block_size, autogenerate_column_names=False),
                parse_options=pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
                convert_options=pcsv.ConvertOptions(
                    column_types={n: pa.string() for n in layout.names}, strings_can_be_null=False
                ),
            )
            if list(reader.schema.names) != list(layout.names):
                raise ValidationError(layout.file_name, "the header row cannot be read", 1)
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                if batch.num_rows == 0:
                    continue
                # Lines each record takes: 1 + the line breaks inside its (quoted) fields.
                span = None
                for column in batch.columns:
                    if _holds_newline(column):
                        breaks = pc.cast(pc.count_substring(column, "\n"), pa.int64())
                        span = breaks if span is None else pc.add(span, breaks)
                if span is None:
                    ones = pa.repeat(pa.scalar(1, pa.int64()), batch.num_rows)
                    lines = pc.add(pc.cumulative_sum(ones), next_line - 1)
                    next_line += batch.num_rows
                else:
                    span = pc.add(span, 1)
                    ends = pc.cumulative_sum(span)
                    lines = pc.add(pc.subtract(ends, span), next_line)
                    next_line += ends[-1].as_py()
                batch, lines = _drop_blank(batch, lines)
                if batch.num_rows:
                    yield batch, lines
        except pa.ArrowInvalid as e:
            raise _parse_error(layout, opener, e, block_size) from None
        finally:
            # Stop the reader's read-ahead before the file closes, however the reading ends (an error, or a
            # caller that stops early): a read-ahead thread still running when the interpreter exits aborts
            # the process ("terminate called without an active exception", exit status 134).
            if reader is not None:
                reader.close()


def _holds_newline(column: pa.Array) -> bool:
    """Whether any value of a string column holds a line break (one memchr over its data buffer)."""
    return _data_bytes(column).find(b"\n") >= 0


def _data_bytes(column: pa.Array) -> bytes:
    """The bytes of all values of a string column, one after the other (a copy of its data buffer)."""
    _, offsets, data = column.buffers()
    if data is None or len(column) == 0:
        return b""
    at = memoryview(offsets).cast("i")
    return memoryview(data)[at[column.offset]:at[column.offset + len(column)]].tobytes()


class _QuoteCounter(io.RawIOBase):
    """A pass-through stream that counts the double quotes read through it."""

    def __init__(self):
        super().__init__()
        self.quotes = 0
        self._f: BinaryIO | None = None

    def wrap(self, f: BinaryIO) -> _QuoteCounter:
        self._f = f
        return self

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        self.quotes += data.count(b'"')
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _drop_blank(batch: pa.RecordBatch, lines: pa.Array) -> tuple[pa.RecordBatch, pa.Array]:
    """Blank lines come out of the reader as records of empty strings: drop them."""
    if not pc.any(pc.equal(pc.binary_length(batch.column(0)), 0)).as_py():
        return batch, lines
    blank = None
    for column in batch.columns:
        empty = pc.equal(pc.binary_length(column), 0)
        blank = empty if blank is None else pc.and_(blank, empty)
    keep = pc.invert(blank)
    return batch.filter(keep), lines.filter(keep)


def _long_field(batch: pa.RecordBatch, layout: _Layout) -> tuple[int, str | None, int] | None:
    """(row, column, bytes) of the first field longer than MAX_FIELD_BYTES in a raw batch, or None."""
    first = None
    for index, column in enumerate(batch.columns):
        data = column.buffers()[2]
        if data is None or data.size <= MAX_FIELD_BYTES:
            continue  # no value of this column can be that long
        lengths = pc.binary_length(column)
        if pc.max(lengths).as_py() <= MAX_FIELD_BYTES:
            continue
        row = pc.index(pc.greater(lengths, MAX_FIELD_BYTES), True).as_py()
        if first is None or row < first[0]:
            first = (row, layout.column_name(index), lengths[row].as_py())
    return first


def _nul_field(batch: pa.RecordBatch, layout: _Layout) -> tuple[int, str | None] | None:
    """(row, column) of the first field holding a NUL byte in a raw batch (Postgres text cannot store one, so
    its COPY would fail the whole load), or None. Only columns whose data holds a zero byte are searched."""
    first = None
    for index, column in enumerate(batch.columns):
        data = column.buffers()[2]
        if data is None or memoryview(data).tobytes().find(b"\x00") < 0:
            continue
        row = pc.index(pc.match_substring(column, "\x00"), True).as_py()
        if row >= 0 and (first is None or row < first[0]):
            first = (row, layout.column_name(index))
    return first


# Characters that show as nothing: the soft hyphen, zero-width spaces and joiners, direction marks and
# embeddings, word joiners and invisible operators, the byte-order mark. An id holding one looks like another
# id and is not equal to it.
INVISIBLE_CHARS = "\u00ad" + "".join(map(chr, range(0x200B, 0x2010))) + "".join(map(chr, range(0x202A, 0x202F))) \
    + "".join(map(chr, range(0x2060, 0x2065))) + "\ufeff"
_INVISIBLE_RE2 = "[" + "".join(f"\\x{{{ord(c):04X}}}" for c in INVISIBLE_CHARS) + "]"
_INVISIBLE_UTF8_LEADS = {c.encode()[:2] for c in INVISIBLE_CHARS}


def _invisible_in_ids(spec: FileSpec, columns: list[pa.Array]) -> tuple[int, str, str] | None:
    """(row, column, the character) of the first id (a column named ``*_id``) holding an invisible character,
    or None."""
    first = None
    for column, values in zip(spec.columns, columns, strict=True):
        if not column.name.endswith("_id") or not pa.types.is_string(values.type):
            continue
        data = values.buffers()[2]
        if data is None or not any(lead in memoryview(data).tobytes() for lead in _INVISIBLE_UTF8_LEADS):
            continue  # none of their UTF-8 encodings starts anywhere in the column
        found = pc.match_substring_regex(values, _INVISIBLE_RE2)
        if not pc.any(found).as_py():
            continue
        row = pc.index(found, True).as_py()
        if first is None or row < first[0]:
            first = (row, column.name, next(c for c in values[row].as_py() if c in INVISIBLE_CHARS))
    return first


class _Formulas:
    """Text values that start with a spreadsheet formula character: counted; the first MAX_LISTED positions
    (line, column) kept. Only the spec's text columns (what is stored); an international phone number
    (``+15552017788``) is not a formula."""

    def __init__(self, layout: _Layout):
        self.at = [(order, c.name) for order, (c, position) in enumerate(zip(layout.spec.columns,
                                                                            layout.positions, strict=True))
                   if c.type == "text" and position is not None]
        self.count = 0
        self.cells: list[tuple[int, str]] = []

    def scan(self, columns: list[pa.Array], lines: pa.Array) -> None:
        found = []
        for order, name in self.at:
            values = columns[order]
            data = _data_bytes(values)
            flagged = None
            for character in FORMULA_CHARACTERS:
                if data.find(character.encode()) < 0:
                    continue  # one memchr spares a pass over the values
                hit = pc.starts_with(values, character)
                flagged = hit if flagged is None else pc.or_(flagged, hit)
            if flagged is None or not pc.any(flagged).as_py():
                continue
            flagged = pc.fill_null(pc.and_not(flagged, pc.match_substring_regex(values, _PHONE_RE)), False)
            at = pc.filter(lines, flagged)
            self.count += len(at)
            if len(self.cells) < MAX_LISTED:
                found += [(line, order, name) for line in at.slice(0, MAX_LISTED).to_pylist()]
        room = MAX_LISTED - len(self.cells)
        if found and room > 0:
            self.cells += [(line, name) for line, _, name in sorted(found)[:room]]


# --- conversion -----------------------------------------------------------------------------------------


def _convert(
    batch: pa.RecordBatch, layout: _Layout, *, check: bool
) -> tuple[list[pa.Array], tuple[int, str, str] | None]:
    """Typed arrays in spec order, and (when ``check``) the first problem as (row, column, message)."""
    n = batch.num_rows
    out: list[pa.Array] = []
    first: tuple[int, int, str, str] | None = None  # (row, spec position, column, message)
    for order, (column, position) in enumerate(zip(layout.spec.columns, layout.positions, strict=True)):
        if position is None:
            out.append(pa.nulls(n, ARROW_TYPES[column.type]))
            continue
        typed, row, why = _convert_column(column, batch.column(position), check)
        out.append(typed)
        if row is not None and (first is None or row < first[0]):
            first = (row, order, column.name, why)
    if first is None:
        return out, None
    row, order, name, why = first
    if layout.spec.columns[order].pii:  # personal data is never repeated: the message says what was expected
        return out, (row, name, why.format(value="the value"))
    value = pc.utf8_trim_whitespace(batch.column(layout.positions[order])[row]).as_py()
    return out, (row, name, why.format(value=_show(value)))


def _convert_column(column: Column, raw: pa.Array, check: bool) -> tuple[pa.Array, int | None, str]:
    """(typed array, row of the first bad value or None, message template) for one column of one batch."""
    trimmed = pc.utf8_trim_whitespace(raw)
    empty = pc.equal(pc.binary_length(trimmed), 0)
    any_empty = pc.any(empty).as_py()
    if any_empty:
        values = pc.if_else(empty, pa.scalar(None, pa.string()), trimmed)
        present = pc.invert(empty)
    else:
        values, present = trimmed, None
    if check and column.required and any_empty:
        return values, pc.index(empty, True).as_py(), "a value is required but the field is empty"

    kind = column.type
    if kind == "text" or (kind == "grade" and not check):
        if check and column.allowed:
            allowed = pa.array([a.lower() for a in column.allowed])
            ok = pc.is_in(pc.utf8_lower(values), value_set=allowed)
            return values, _first_bad(ok, present), "{value} is not one of " + ", ".join(column.allowed)
        return values, None, ""
    if kind == "grade":
        ok = pc.is_in(pc.utf8_upper(values), value_set=_GRADES_ACCEPTED)
        return values, _first_bad(ok, present), "{value} is not a grade level (PK, KG, 01..12, UG)"
    if kind == "bool":
        upper = pc.utf8_upper(values)
        yes = pc.is_in(upper, value_set=_TRUE)
        typed = yes if present is None else pc.if_else(present, yes, pa.scalar(None, pa.bool_()))
        if not check:
            return typed, None, ""
        ok = pc.or_(yes, pc.is_in(upper, value_set=_FALSE))
        return typed, _first_bad(ok, present), "{value} is not a boolean (Y/N, YES/NO, TRUE/FALSE, T/F, 1/0)"
    if kind == "date":
        return _cast(values, pa.date32(), "{value} is not a date (YYYY-MM-DD)")
    if kind == "int":
        if check or pc.any(pc.starts_with(values, "+")).as_py():
            # Arrow's integer parser also takes hex ("0x1F") and no "+": check the rare suspects by regex.
            try:
                typed = pc.cast(values, pa.int64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                typed = None
            if typed is None or pc.any(pc.match_substring(values, "x", ignore_case=True)).as_py():
                row = _first_bad(pc.match_substring_regex(values, _INT_RE), present)
                if row is not None:
                    return pa.nulls(len(values), pa.int64()), row, "{value} is not an integer"
                typed = None
            if typed is not None:
                return typed, None, ""
            values = pc.utf8_ltrim(values, "+")
        return _cast(values, pa.int64(), "{value} is too large for an integer")
    if kind == "decimal":
        if check:
            row = _first_bad(pc.match_substring_regex(values, _DECIMAL_RE), present)
            if row is not None:
                return pa.nulls(len(values), DECIMAL_TYPE), row, "{value} is not a decimal number"
        return _cast(values, DECIMAL_TYPE,
                     "{value} has more than 4 decimal places or more than 14 digits before the point")
    raise AssertionError(kind)


def _first_bad(ok: pa.Array, present: pa.Array | None) -> int | None:
    """The first row where a value is present and not ok (absent values are never bad here), or None."""
    ok = pc.fill_null(ok, False)
    bad = pc.invert(ok) if present is None else pc.and_not(present, ok)
    row = pc.index(bad, True).as_py()
    return None if row < 0 else row


def _cast(values: pa.Array, target: pa.DataType, why: str) -> tuple[pa.Array, int | None, str]:
    try:
        return pc.cast(values, target), None, why
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # Find the first value that does not convert by bisection (only for a file that is already bad).
    lo, hi = 0, len(values)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            pc.cast(values.slice(lo, mid - lo), target)
            lo = mid
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            hi = mid
    return pa.nulls(len(values), target), lo, why


def _show(value: str | None, limit: int = 60) -> str:
    text = "" if value is None else value
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return '"' + text.replace('"', '""') + '"'


# --- keys -----------------------------------------------------------------------------------------------
#
# A file with two records of the same key is rejected. To find them without keeping every key (a big file's
# keys took most of the validator's memory), each record's key is reduced to a 64-bit hash as the file is read
# (8 bytes per record, whatever the key holds); the hashes seen more than once are the candidates, and only
# when there are any is the file read again to compare the candidate records' keys exactly. So a hash
# collision costs a second read, never a wrong rejection, and the error names the same lines as an exact
# comparison of every key would.

_U64 = pa.uint64()
_NO_SEPARATOR = pa.scalar(b"", pa.binary())
_MULTIPLIER = pa.scalar(0x9E3779B97F4A7C15, _U64)  # 2^64 / golden ratio, odd
_FINAL_1 = pa.scalar(0xFF51AFD7ED558CCD, _U64)  # MurmurHash3's 64-bit finaliser
_FINAL_2 = pa.scalar(0xC4CEB9FE1A85EC53, _U64)
_PARTITION_ROWS = 1 << 20  # hashes checked for repeats per pass (the memory of one hash table)


def _mix(h: pa.Array | None, value: pa.Array) -> pa.Array:
    """Fold a uint64 array into the running hash (integer arithmetic wraps around modulo 2^64)."""
    if h is not None:
        value = pc.bit_wise_xor(h, value)
    value = pc.multiply(value, _MULTIPLIER)
    return pc.bit_wise_xor(value, pc.shift_right(value, pa.scalar(29, _U64)))


def _as_u64(array: pa.Array) -> pa.Array:
    """The 8 bytes of each value of a fixed-width array of 8-byte values, read as uint64 (no copy)."""
    return pa.Array.from_buffers(_U64, len(array), [None, array.buffers()[1]], offset=array.offset)


def key_hashes(columns: list[pa.Array]) -> pa.Array:
    """One 64-bit hash (uint64) per record of the typed key columns; equal keys always hash equal.

    A text value is hashed from its length and its UTF-8 bytes, 8 at a time (vectorised over the whole batch:
    one pass per 8 bytes of the column's longest value); a date or integer from its value. NULL hashes as an
    empty text or a zero would (a collision at worst: the exact comparison tells them apart).
    """
    h = None
    for column in columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            raw = pc.cast(column, pa.binary())
            if raw.null_count:
                raw = pc.fill_null(raw, b"")
            lengths = pc.binary_length(raw)
            h = _mix(h, pc.cast(lengths, _U64))
            bounds = pc.min_max(lengths).as_py()
            shortest, longest = bounds["min"] or 0, bounds["max"] or 0
            pieces = max(1, -(-longest // 8))
            # Zeros after every value, so that each 8-byte piece up to the longest value's is whole.
            padded = pc.binary_join_element_wise(raw, pa.scalar(b"\0" * (8 * pieces), pa.binary()), _NO_SEPARATOR)
            for start in range(0, 8 * pieces, 8):
                piece = _as_u64(pc.cast(pc.binary_slice(padded, start, start + 8), pa.binary(8)))
                mixed = _mix(h, piece)
                # Only the pieces a value has: its hash must not depend on the other values of its batch.
                h = mixed if start == 0 or shortest > start else pc.if_else(pc.greater(lengths, start), mixed, h)
        else:
            if pa.types.is_date32(column.type):
                column = pc.cast(column, pa.int32())
            h = _mix(h, pc.fill_null(pc.cast(pc.cast(column, pa.int64()), _U64, safe=False), 0))
    h = pc.bit_wise_xor(h, pc.shift_right(h, pa.scalar(33, _U64)))
    h = pc.multiply(h, _FINAL_1)
    h = pc.bit_wise_xor(h, pc.shift_right(h, pa.scalar(33, _U64)))
    h = pc.multiply(h, _FINAL_2)
    return pc.bit_wise_xor(h, pc.shift_right(h, pa.scalar(33, _U64)))


def _repeated_hashes(hashes: list[pa.Array]) -> pa.Array:
    """The hash values that occur more than once. The hashes are split by their top bits into partitions of
    about _PARTITION_ROWS records, each checked on its own, so the hash table needed stays that size."""
    every = pa.chunked_array(hashes, type=_U64)
    bits = max(0, (len(every) - 1) // _PARTITION_ROWS).bit_length()
    found: list[pa.Array] = []
    top = pc.cast(pc.shift_right(every, pa.scalar(64 - bits, _U64)), pa.uint16()) if bits else None
    for part in range(1 << bits):
        subset = every if top is None else pc.filter(every, pc.equal(top, pa.scalar(part, pa.uint16())))
        if len(pc.unique(subset)) == len(subset):
            continue
        counts = pc.value_counts(subset)
        found.append(pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1)))
    return pa.concat_arrays(found) if found else pa.array([], _U64)


def _check_duplicate_keys(spec: FileSpec, layout: _Layout, opener: Opener, block_size: int,
                          hashes: list[pa.Array]) -> None:
    """Reject the file at the first record whose key an earlier record has (see the section's comment)."""
    candidates = _repeated_hashes(hashes)
    if not len(candidates):
        return
    # Second read: keep the key and line of only the records whose hash is a candidate.
    key_specs = [spec.columns[spec.column_names.index(k)] for k in spec.key]
    parts: list[pa.RecordBatch] = []
    for raw, lines in _batches(layout, opener, block_size):
        keys = [_key_column(layout, column, raw) for column in key_specs]
        keep = pc.is_in(key_hashes(keys), value_set=candidates)
        if pc.any(keep).as_py():
            parts.append(pa.RecordBatch.from_arrays([*(pc.filter(k, keep) for k in keys), pc.filter(lines, keep)],
                                                    names=[*spec.key, "__line"]))
    if parts:
        _first_duplicate(spec, layout.file_name, parts)


def _key_column(layout: _Layout, column: Column, raw: pa.RecordBatch) -> pa.Array:
    """One key column of a raw batch, typed as in the typed batches (the file is known to convert)."""
    position = layout.positions[layout.spec.column_names.index(column.name)]
    if position is None:
        return pa.nulls(raw.num_rows, ARROW_TYPES[column.type])
    return _convert_column(column, raw.column(position), False)[0]


def _first_duplicate(spec: FileSpec, name: str, parts: list[pa.RecordBatch]) -> None:
    """Exact comparison of the (candidate) records' keys: raise at the earliest second occurrence."""
    keys = pa.Table.from_batches(parts)
    if keys.group_by(list(spec.key), use_threads=False).aggregate([]).num_rows == keys.num_rows:
        return
    counts = keys.group_by(list(spec.key), use_threads=False).aggregate([("__line", "count")])
    dups = counts.filter(pc.greater(counts["__line_count"], 1))
    # Error path: find the earliest second occurrence among the duplicated keys.
    rows = keys.join(dups.select(list(spec.key)), keys=list(spec.key), join_type="inner")
    rows = rows.sort_by([("__line", "ascending")])
    seen: dict[tuple, int] = {}
    for row in rows.to_pylist():
        key = tuple(row[k] for k in spec.key)
        if key in seen:
            shown = ", ".join(f"{k}={_plain(v)}" for k, v in zip(spec.key, key, strict=True))
            raise ValidationError(name, f"duplicate key ({shown}), first seen on line {seen[key]}",
                                  row["__line"], ", ".join(spec.key))
        seen[key] = row["__line"]


def _plain(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


# --- error paths ----------------------------------------------------------------------------------------


def _parse_error(layout: _Layout, opener: Opener, error: pa.ArrowInvalid, block_size: int) -> ValidationError:
    text = str(error)
    name = layout.file_name
    if "UTF8" in text or "UTF-8" in text:
        found = _first_bad_utf8(opener)
        if found is not None:
            offset, line, byte = found
            return _not_utf8(name, offset, line, byte, _column_of_bad_byte(layout, opener, line))
    found = _first_bad_record(opener, len(layout.names), block_size)
    if found is not None:
        line, kind, fields = found
        if kind == "unclosed":
            return ValidationError(
                name, "a quoted field starting on this line is never closed (unbalanced quote)", line)
        if kind == "too long":
            return ValidationError(
                name, f"a field of this record is longer than {MAX_FIELD_BYTES:,} bytes (64 KiB), the limit"
                      " per field", line)
        if kind == "too large":
            return ValidationError(name, f"the record is larger than the reader's block size ({block_size:,}"
                                         " bytes)", line)
        return ValidationError(name, f"the row has {fields} fields, the header has {len(layout.names)}", line)
    if "straddling" in text:
        return ValidationError(name, f"a record is larger than the reader's block size ({block_size:,} bytes)")
    return ValidationError(name, "cannot be read as CSV: " + redact(text.splitlines()[0]))


def _not_utf8(name: str, offset: int, line: int, byte: int, column: str | None = None) -> ValidationError:
    where = f" in column {column}" if column else ""
    return ValidationError(
        name, f"the file is not UTF-8: byte 0x{byte:02x} at byte offset {offset}{where} is not valid UTF-8"
              + _encoding_hint(byte), line)


def _encoding_hint(byte: int) -> str:
    """What the byte suggests about the file's real encoding (most often Windows-1252 from Excel)."""
    try:
        character = bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return ""
    if byte < 0x80:
        return ""
    shown = character if character.isprintable() and not character.isspace() else f"U+{ord(character):04X}"
    return (f"; it looks like Windows-1252 or Latin-1 (where 0x{byte:02x} is \"{shown}\"): the export must be"
            " UTF-8")


def _first_bad_utf8(opener: Opener, chunk_size: int = 1 << 20) -> tuple[int, int, int] | None:
    """(byte offset, line, byte) of the first byte that is not valid UTF-8, or None."""
    base, line, carry = 0, 1, b""
    with opener() as f:
        while True:
            chunk = f.read(chunk_size)
            data = carry + chunk
            carry = b""
            if not data:
                return None
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as e:
                if chunk and e.end == len(data) and e.reason == "unexpected end of data":
                    carry, data = data[e.start:], data[: e.start]  # a character split by the chunk
                else:
                    return base + e.start, line + data.count(b"\n", 0, e.start), data[e.start]
            line += data.count(b"\n")
            base += len(data)
            if not chunk:
                return None


def _column_of_bad_byte(layout: _Layout, opener: Opener, line: int) -> str | None:
    """The column holding the first byte that is not UTF-8, known to be on ``line``. Error path: the file is
    read as Latin-1 (one character per byte) by Python's csv module up to that line, and the first field of
    the record there whose bytes are not UTF-8 is the one."""
    if line <= layout.header_lines:
        return None
    try:
        with opener() as f:
            text = io.TextIOWrapper(f, encoding="latin-1", newline="")
            reader = csv.reader(_bounded_lines(text, len(layout.names)), strict=False)
            start = 1
            for record in reader:
                if reader.line_num >= line:
                    if start > line:
                        return None
                    for index, value in enumerate(record):
                        try:
                            value.encode("latin-1").decode("utf-8")
                        except UnicodeDecodeError:
                            return layout.column_name(index)
                    return None
                start = reader.line_num + 1
    except (csv.Error, _LineTooLong):
        pass
    return None


class _LineTooLong(Exception):
    """A physical line longer than any valid record can be."""


def _bounded_lines(text: io.TextIOBase, columns: int) -> Iterator[str]:
    """The lines of ``text`` for Python's csv module, which holds a whole line in memory: a line longer than
    a record of ``columns`` fields of MAX_FIELD_BYTES each raises :class:`_LineTooLong` instead."""
    cap = (MAX_FIELD_BYTES + 3) * max(columns, 1) + 2
    while line := text.readline(cap + 1):
        if len(line) > cap and not line.endswith(("\n", "\r")):
            raise _LineTooLong
        yield line


def _first_bad_record(opener: Opener, expected: int, block_size: int) -> tuple[int, str, int] | None:
    """(line, kind, fields) of the first record pyarrow cannot read: kind is "fields" (a wrong field count),
    "unclosed" (an unclosed quote), "too long" (a field longer than Python's csv field limit, or a line longer
    than any valid record) or "too large" (a record larger than the reader's block size); or None.

    Python's csv module in non-strict mode reads quotes the way pyarrow does; this runs only for a file
    pyarrow could not parse, to say where. Its field size limit and :func:`_bounded_lines` keep the memory it
    needs bounded."""
    with opener() as f:
        text = io.TextIOWrapper(f, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.reader(_bounded_lines(text, expected), strict=False)
        start = 1
        try:
            for record in reader:
                if record and len(record) != expected and any(record):
                    multiline = reader.line_num > start
                    last = next(reader, None) is None
                    # An unclosed quote swallows the rest of the file into one field.
                    return start, "unclosed" if multiline and last else "fields", len(record)
                if sum(len(value) for value in record) + len(record) > block_size:
                    return start, "too large", len(record)
                start = reader.line_num + 1
        except _LineTooLong:
            return start, "too long", 0
        except csv.Error as e:
            if "field limit" in str(e):
                return start, "too long", 0
            raise
    return None


def _quote_problem(opener: Opener) -> tuple[int | None, str]:
    """Where the file's quotes are unbalanced (RFC 4180): (line, message). Error path only: a Python loop
    over the characters of the lines that hold a quote."""
    field_start, unquoted, quoted, quote_in_quoted, after_quote = range(5)
    state, opened, number, line_start = field_start, 0, 0, True
    with opener() as f:
        text = io.TextIOWrapper(f, encoding="utf-8-sig", errors="replace", newline="")
        # Lines are read in pieces of at most 64 Ki characters: a huge line never sits in memory whole.
        while line := text.readline(1 << 16):
            if line_start:
                number += 1
                if state != quoted:
                    state = field_start  # a line break outside quotes ends the record
            line_start = line.endswith(("\n", "\r"))
            if '"' not in line:
                continue
            for ch in line:
                if state == quoted:
                    if ch == '"':
                        state = quote_in_quoted
                    continue
                if state == quote_in_quoted:
                    if ch == '"':
                        state = quoted  # an escaped quote
                        continue
                    state = after_quote
                if ch == ",":
                    state = field_start
                elif state == field_start:
                    if ch == '"':
                        state, opened = quoted, number
                    elif ch not in "\r\n":
                        state = unquoted
                elif state == unquoted and ch == '"':
                    return number, "a double quote inside a field that is not quoted (unbalanced quote)"
    if state == quoted:
        return opened, "a quoted field starting on this line is never closed (unbalanced quote)"
    return None, "the file has an unbalanced quote"
