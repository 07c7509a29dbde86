"""The error paths: only for a file already known to be bad, find and name its first problem (line, column,
byte offset), in Python, with bounded memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa

from sis_sync.ingestion.validate.common import MAX_FIELD_BYTES, Opener, ValidationError
from sis_sync.redact import redact

if TYPE_CHECKING:
    from sis_sync.ingestion.validate.reading import _Layout

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


# Where a character of a CSV line stands, for _quote_problem.
_FIELD_START, _UNQUOTED, _QUOTED, _QUOTE_IN_QUOTED, _AFTER_QUOTE = range(5)


def _quote_problem(opener: Opener) -> tuple[int | None, str]:
    """Where the file's quotes are unbalanced (RFC 4180): (line, message). Error path only: a Python loop
    over the characters of the lines that hold a quote."""
    state, opened, number, line_start = _FIELD_START, 0, 0, True
    with opener() as f:
        text = io.TextIOWrapper(f, encoding="utf-8-sig", errors="replace", newline="")
        # Lines are read in pieces of at most 64 Ki characters: a huge line never sits in memory whole.
        while line := text.readline(1 << 16):
            if line_start:
                number += 1
                if state != _QUOTED:
                    state = _FIELD_START  # a line break outside quotes ends the record
            line_start = line.endswith(("\n", "\r"))
            if '"' not in line:
                continue
            state, opens_quote = _after_quotes(line, state)
            if state is None:
                return number, "a double quote inside a field that is not quoted (unbalanced quote)"
            if opens_quote:
                opened = number
    if state == _QUOTED:
        return opened, "a quoted field starting on this line is never closed (unbalanced quote)"
    return None, "the file has an unbalanced quote"


def _after_quotes(piece: str, state: int) -> tuple[int | None, bool]:
    """The quote state after a piece of a line, from ``state`` before it, and whether the piece opened a
    quoted field; the state is None at a double quote inside a field that is not quoted."""
    opens_quote = False
    for ch in piece:
        if state in (_QUOTED, _QUOTE_IN_QUOTED) and ch == '"':
            state = _QUOTE_IN_QUOTED if state == _QUOTED else _QUOTED  # a closing or an escaped quote
            continue
        if state == _QUOTED:
            continue
        if state == _QUOTE_IN_QUOTED:
            state = _AFTER_QUOTE
        if ch == ",":
            state = _FIELD_START
        elif state == _FIELD_START and ch == '"':
            state, opens_quote = _QUOTED, True
        elif state == _FIELD_START and ch not in "\r\n":
            state = _UNQUOTED
        elif state == _UNQUOTED and ch == '"':
            return None, opens_quote
    return state, opens_quote
