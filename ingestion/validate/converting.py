"""Converting a batch's text to the spec's types, finding the first value that cannot be converted."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from sis_sync.ingestion.spec import COLUMN_TYPES, SCHOOL_YEARS, Column
from sis_sync.ingestion.validate.common import (
    _DECIMAL_RE,
    _FALSE,
    _GRADES_ACCEPTED,
    _INT_RE,
    _TRUE,
    ARROW_TYPES,
    DECIMAL_TYPE,
)

if TYPE_CHECKING:
    from sis_sync.ingestion.validate.reading import _Layout

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
            first = (row, order, column.header_name, why)
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
    typed, row, why = _CONVERTERS[column.type](column, values, present, check)
    if check and row is None and column.name == "school_year":
        row = _first_bad(pc.and_(pc.greater_equal(typed, SCHOOL_YEARS[0]), pc.less_equal(typed, SCHOOL_YEARS[1])),
                         present)
        why = (f"{{value}} is not a school year: the spring year, {SCHOOL_YEARS[0]} to {SCHOOL_YEARS[1]}"
               " (2026 = 2025-26)")
    return typed, row, why


# One converter per spec type: (column, trimmed values with empty ones NULL, which are present or None when all
# are, check) -> (typed array, row of the first bad value or None, message template).


def _text(column: Column, values: pa.Array, present: pa.Array | None, check: bool):
    if check and column.allowed:
        allowed = pa.array([a.lower() for a in column.allowed])
        ok = pc.is_in(pc.utf8_lower(values), value_set=allowed)
        return values, _first_bad(ok, present), "{value} is not one of " + ", ".join(column.allowed)
    return values, None, ""


def _grade(column: Column, values: pa.Array, present: pa.Array | None, check: bool):
    if not check:
        return values, None, ""
    ok = pc.is_in(pc.utf8_upper(values), value_set=_GRADES_ACCEPTED)
    return values, _first_bad(ok, present), "{value} is not a grade level (PK, KG, 01..12, UG)"


def _bool(column: Column, values: pa.Array, present: pa.Array | None, check: bool):
    upper = pc.utf8_upper(values)
    yes = pc.is_in(upper, value_set=_TRUE)
    typed = yes if present is None else pc.if_else(present, yes, pa.scalar(None, pa.bool_()))
    if not check:
        return typed, None, ""
    ok = pc.or_(yes, pc.is_in(upper, value_set=_FALSE))
    return typed, _first_bad(ok, present), "{value} is not a boolean (Y/N, YES/NO, TRUE/FALSE, T/F, 1/0)"


def _date(column: Column, values: pa.Array, present: pa.Array | None, check: bool):
    return _cast(values, pa.date32(), "{value} is not a date (YYYY-MM-DD)")


def _timestamp(column: Column, values: pa.Array, present: pa.Array | None, check: bool):
    """A date, or an ISO 8601 date and time (``T`` or a space between, fractional seconds, ``Z`` or an offset;
    none: UTC)."""
    if pc.all(pc.match_substring_regex(values, _DATE_ONLY)).as_py():
        days, row, why = _cast(values, pa.date32(), _TIMESTAMP_WHY)
        return pc.cast(pc.cast(days, pa.timestamp("s")), _TIMESTAMP_TYPE), row, why
    if check:
        row = _first_bad(pc.match_substring_regex(values, _TIMESTAMP), present)
        if row is not None:
            return pa.nulls(len(values), _TIMESTAMP_TYPE), row, _TIMESTAMP_WHY
    text = pc.replace_substring_regex(values, r"^(\d{4}-\d{2}-\d{2})$", r"\1T00:00:00")
    text = pc.replace_substring_regex(text, r"^(\d{4}-\d{2}-\d{2}) ", r"\1T")
    text = pc.replace_substring_regex(text, r"([+-]\d{2})(\d{2})$", r"\1:\2")
    offset = pc.match_substring_regex(text, r"(Z|[+-]\d{2}:\d{2})$")
    text = pc.if_else(pc.fill_null(offset, True), text, pc.binary_join_element_wise(text, "Z", ""))
    return _cast(text, _TIMESTAMP_TYPE, _TIMESTAMP_WHY)


_DATE_ONLY = r"^\d{4}-\d{2}-\d{2}$"
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$"
_TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
_TIMESTAMP_WHY = "{value} is not a date (YYYY-MM-DD) or an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ)"


def _int(column: Column, values: pa.Array, present: pa.Array | None, check: bool):
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


def _decimal(column: Column, values: pa.Array, present: pa.Array | None, check: bool):
    if check:
        row = _first_bad(pc.match_substring_regex(values, _DECIMAL_RE), present)
        if row is not None:
            return pa.nulls(len(values), DECIMAL_TYPE), row, "{value} is not a decimal number"
    return _cast(values, DECIMAL_TYPE, "{value} has more than 4 decimal places or more than 14 digits before the point")


_CONVERTERS = {"text": _text, "grade": _grade, "bool": _bool, "date": _date, "int": _int, "decimal": _decimal,
               "timestamp": _timestamp}
assert set(_CONVERTERS) == set(COLUMN_TYPES)


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
