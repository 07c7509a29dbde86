"""Reading a file: its header against the spec, then record batches streamed by pyarrow, with the checks made on
the raw text (field length, NUL bytes, blank records, quote counting) and the flagging of formula values."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from sis_sync.ingestion.spec import Column, FileSpec
from sis_sync.ingestion.validate.common import (
    _PHONE_RE,
    BOM,
    FORMULA_CHARACTERS,
    MAX_FIELD_BYTES,
    MAX_HEADER_BYTES,
    MAX_LISTED,
    Opener,
    ValidationError,
)
from sis_sync.ingestion.validate.diagnostics import _not_utf8, _parse_error

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
    trailing_fields: bool = False  # the records end in empty fields past the header's columns (read without them)

    def column_name(self, index: int) -> str | None:
        """The name of the file's ``index``-th column for messages: the spec's name, else as delivered."""
        if index >= len(self.names):
            return None
        normalized = self.names[index].strip().lower()
        if normalized in self.spec.column_names:
            return normalized
        return self.names[index].strip() or f"(unnamed column {index + 1})"


def _read_header(spec: FileSpec, opener: Opener, name: str) -> _Layout:
    """The file's header, matched against the spec's columns."""
    bom, head, end, at_end = _read_head(opener, name)
    raw_header = head[:end]
    try:
        text = raw_header.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _not_utf8(name, bom + e.start, 1 + raw_header.count(b"\n", 0, e.start),
                        raw_header[e.start]) from None
    names = next(csv.reader(io.StringIO(text, newline="")), [])
    normalized = [n.strip().lower() for n in names]
    positions = [_column_position(name, column, normalized) for column in spec.columns]
    known = {column.header_name.lower() for column in spec.columns if not column.derived}
    extras = tuple(n.strip() or f"(unnamed column {i + 1})" for i, n in enumerate(names)
                   if normalized[i] not in known)
    header_only = at_end and not head[end:].strip(b"\r\n")
    return _Layout(spec, name, tuple(names), tuple(positions), extras, text.count("\n"), header_only,
                   _trailing_fields(head[end:], len(names)))


def _trailing_fields(after_header: bytes, columns: int) -> bool:
    """Whether the first record has more fields than the header and the extra ones are empty (an exporter that
    pads its rows): then every record is read without its empty fields past the header's columns."""
    try:
        first = next(csv.reader(io.StringIO(after_header.decode("utf-8", errors="replace"), newline="")), [])
    except csv.Error:
        return False
    return len(first) > columns and not any(field.strip() for field in first[columns:])


def _read_head(opener: Opener, name: str) -> tuple[int, bytes, int, bool]:
    """(bytes of the byte-order mark, the file's first bytes after it, where the header record ends in them,
    whether they are the whole file). Reads at most MAX_HEADER_BYTES, in 64 KiB pieces."""
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
    return bom, head, end, at_end


def _column_position(name: str, column: Column, normalized: list[str]) -> int | None:
    """Where the spec's column is in the header (names trimmed and lowercased), or None when it may be absent."""
    if column.derived:  # set by the ingest, never read from the file
        return None
    header = column.header_name
    found = [i for i, n in enumerate(normalized) if n == header.lower()]
    if len(found) > 1:
        raise ValidationError(name, f"the header has the column {header} {len(found)} times", 1, header)
    if not found and column.required:
        raise ValidationError(name, "required column is missing from the header", 1, header)
    return found[0] if found else None


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
        if layout.trailing_fields:
            f = _WithoutTrailingFields(f, len(layout.names))
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
                lines, next_line = _record_lines(batch, next_line)
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


def _record_lines(batch: pa.RecordBatch, next_line: int) -> tuple[pa.Array, int]:
    """The line each record of the batch starts on (records take 1 + the line breaks inside their quoted
    fields), and the line the next batch starts on."""
    span = None
    for column in batch.columns:
        if _holds_newline(column):
            breaks = pc.cast(pc.count_substring(column, "\n"), pa.int64())
            span = breaks if span is None else pc.add(span, breaks)
    if span is None:
        ones = pa.repeat(pa.scalar(1, pa.int64()), batch.num_rows)
        return pc.add(pc.cumulative_sum(ones), next_line - 1), next_line + batch.num_rows
    span = pc.add(span, 1)
    ends = pc.cumulative_sum(span)
    return pc.add(pc.subtract(ends, span), next_line), next_line + ends[-1].as_py()


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


class _WithoutTrailingFields(io.RawIOBase):
    """A stream of a CSV file's bytes without the empty fields past ``columns`` at the end of each record (the
    commas that end it; a record whose extra fields hold anything is left as it is, and the reader rejects it).
    Line breaks are kept, so the lines counted stay the file's. Quoted fields may span lines."""

    def __init__(self, f: BinaryIO, columns: int):
        super().__init__()
        self._f = f
        self._columns = columns
        self._quoted = False  # inside a quoted field at the end of the last line
        self._commas = 0  # commas outside quotes in the record so far
        self._pending = b""

    def readable(self) -> bool:
        return True

    def _line(self, line: bytes) -> bytes:
        parts = line.split(b'"')
        for i, part in enumerate(parts):
            if not self._quoted:
                self._commas += part.count(b",")
            if i < len(parts) - 1:
                self._quoted = not self._quoted
        if self._quoted:
            return line
        body = line.rstrip(b"\r\n")
        excess = self._commas - (self._columns - 1)
        self._commas = 0
        if excess > 0 and body.endswith(b"," * excess) and len(parts[-1].rstrip(b"\r\n")) >= excess:
            return body[:-excess] + line[len(body):]
        return line

    def read(self, size: int = -1) -> bytes:
        out = [self._pending]
        length = len(self._pending)
        while size < 0 or length < size:
            line = self._f.readline()
            if not line:
                break
            line = self._line(line)
            out.append(line)
            length += len(line)
        data = b"".join(out)
        if size < 0:
            self._pending = b""
            return data
        self._pending = data[size:]
        return data[:size]

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


def _stored_columns(batch: pa.RecordBatch, layout: _Layout):
    """(index, column) of each column of a raw batch that the spec stores (extra columns are never read)."""
    stored = {position for position in layout.positions if position is not None}
    return ((index, column) for index, column in enumerate(batch.columns) if index in stored)


def _long_field(batch: pa.RecordBatch, layout: _Layout) -> tuple[int, str | None, int] | None:
    """(row, column, bytes) of the first field longer than MAX_FIELD_BYTES in a raw batch, or None: in any
    column, extra ones too (the limit bounds what a file may make the reader hold)."""
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
    its COPY would fail the whole load), or None. Only the columns the spec stores, and of those only the ones
    whose data holds a zero byte, are searched: an extra column is never stored, so a NUL there is ignored
    like the rest of it."""
    first = None
    for index, column in _stored_columns(batch, layout):
        data = column.buffers()[2]
        if data is None or memoryview(data).tobytes().find(b"\x00") < 0:
            continue
        row = pc.index(pc.match_substring(column, "\x00"), True).as_py()
        if row >= 0 and (first is None or row < first[0]):
            first = (row, layout.column_name(index))
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
