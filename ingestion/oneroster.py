"""What a OneRoster CSV export says about itself: its manifest (the standard's version, and per file ``bulk``,
``delta`` or ``absent``) and its school year (the spec's decisions, ``ingestion/spec/oneroster_v1.yml``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from sis_sync.ingestion.spec import ExportSpec, oneroster_spec
from sis_sync.ingestion.validate.converting import _show
from sis_sync.ingestion.validate.reading import _trailing_fields, _WithoutTrailingFields

BULK, DELTA, ABSENT = "bulk", "delta", "absent"
MODES = (BULK, DELTA, ABSENT)
_HEADER = ("propertyname", "value")


class ManifestError(ValueError):
    """A OneRoster manifest that cannot be read as one (the message names the line)."""


@dataclass(frozen=True)
class Manifest:
    """A OneRoster export's manifest: its version and each file's mode (by the spec's file name)."""

    version: str
    modes: dict[str, str] = field(default_factory=dict)

    def mode(self, file_name: str) -> str:
        """``bulk``, ``delta`` or ``absent`` (a file the manifest does not name is absent)."""
        return self.modes.get(file_name, ABSENT)

    @property
    def spec(self) -> ExportSpec:
        return oneroster_spec().for_version(self.version)


def is_oneroster_manifest(data: bytes) -> bool:
    """Whether a ``manifest.csv``'s header is OneRoster's (``propertyName,value``), not ours."""
    first = data.decode("utf-8-sig", errors="replace").splitlines()[:1]
    return bool(first) and tuple(h.strip().lower() for h in first[0].split(",")) == _HEADER


def read_manifest(data: bytes) -> Manifest:
    """The manifest of a OneRoster export; ManifestError when it is not a usable one."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ManifestError(f"manifest.csv is not UTF-8 (byte offset {e.start})") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    properties: dict[str, tuple[int, str]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise ManifestError(f"manifest.csv line {line} has {len(row)} field, expected propertyName,value")
        properties[row[0].strip().lower()] = (line, row[1].strip())
    versions = oneroster_spec().format_versions
    line, version = properties.get("oneroster.version", (None, ""))
    if version not in versions:
        where = f"line {line}: oneroster.version is {version!r}" if line else "it has no oneroster.version"
        raise ManifestError(f"manifest.csv {where}; this project reads OneRoster {' and '.join(versions)}")
    spec = oneroster_spec().for_version(version)
    modes = {}
    for f in spec.files:
        line, mode = properties.get(f"file.{f.delivered.removesuffix('.csv').lower()}", (None, ABSENT))
        if mode.lower() not in MODES:
            raise ManifestError(f"manifest.csv line {line}: file.{f.delivered.removesuffix('.csv')} is {mode!r},"
                                f" expected one of {', '.join(MODES)}")
        modes[f.file_name] = mode.lower()
    return Manifest(version, modes)


Opener = Callable[[], BinaryIO]


def export_school_year(openers: dict[str, Opener], previous: int | None) -> int | None:
    """The export's school year (spec decision): the newest ``schoolYear`` of the sessions its classes are
    taught in (of the classes with an enrolment, when enrollments.csv is delivered); else the newest of its
    sessions of type schoolYear; else ``previous`` (the district's last OneRoster export's). ``openers``: the
    night's *bulk* files by their delivered name (``classes.csv``): a delta says only what changed, never the
    year. A file that cannot be read here is left to its validation."""
    sessions = _read(openers.get("academicSessions.csv"), ["sourcedId", "type", "schoolYear", "status"])
    if sessions is None:
        return previous
    years = dict(zip(sessions["sourcedId"], sessions["schoolYear"], strict=True))
    classes = _read(openers.get("classes.csv"), ["sourcedId", "termSourcedIds", "status"])
    if classes is not None:
        taught = None
        enrollments = _read(openers.get("enrollments.csv"), ["classSourcedId", "status"])
        if enrollments is not None:
            taught = {c for c, s in zip(enrollments["classSourcedId"], enrollments["status"], strict=True)
                      if s != "tobedeleted"}
        found = [_year(years.get(term.strip()))
                 for class_id, terms, status in zip(classes["sourcedId"], classes["termSourcedIds"],
                                                    classes["status"], strict=True)
                 if status != "tobedeleted" and (taught is None or class_id in taught)
                 for term in (terms or "").split(",")]
        found = [y for y in found if y is not None]
        if found:
            return max(found)
    school_years = [_year(y) for t, y, s in zip(sessions["type"], sessions["schoolYear"], sessions["status"],
                                                strict=True)
                    if (t or "").lower() == "schoolyear" and s != "tobedeleted"]
    school_years = [y for y in school_years if y is not None]
    return max(school_years) if school_years else previous


def _year(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and 1900 <= int(value) <= 2999 else None


def _read(opener: Opener | None, columns: list[str]) -> dict[str, list] | None:
    """The named columns of a delivered file as lists (headers matched case-insensitively; a missing column is
    all empty), or None when it is not delivered or cannot be read."""
    if opener is None:
        return None
    try:
        with opener() as f:
            head = f.read(1 << 16)
        text = head.decode("utf-8-sig", errors="replace")
        names = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
        by_name = {name.strip().lower(): name for name in names}
        wanted = [by_name[c.lower()] for c in columns if c.lower() in by_name]
        padded = _trailing_fields(head[head.find(b"\n") + 1:] if b"\n" in head else b"", len(names))
        with opener() as f:  # every column as text: an id such as 000123 is not a number
            table = pcsv.read_csv(
                _WithoutTrailingFields(f, len(names)) if padded else f,
                convert_options=pcsv.ConvertOptions(strings_can_be_null=True, include_columns=wanted,
                                                    column_types={n: pa.string() for n in wanted}),
                parse_options=pcsv.ParseOptions(newlines_in_values=True))
    except (pa.ArrowInvalid, OSError):
        return None  # not readable as CSV: its validation says why
    out = {}
    for column in columns:
        name = by_name.get(column.lower())
        values = (pc.utf8_trim_whitespace(table.column(name)).to_pylist() if name
                  else [None] * table.num_rows)
        out[column] = [v.lower() if column == "status" and v else v for v in values]
    return out


# The references an enrolment makes, checked when enrollments.csv is loaded (spec decision): column -> (the
# file it names a record of, that file's raw table).
ENROLLMENT_REFERENCES = (("userSourcedId", "users.csv", "oneroster_users"),
                         ("classSourcedId", "classes.csv", "oneroster_classes"))


def unknown_reference(cur, district_id: str, enrollments: Opener, tonight: dict[str, Opener]
                      ) -> tuple[int, str, str] | None:
    """The first enrolment naming a user or a class that is in neither tonight's file of it (``tonight``: the
    delivered files by delivered name) nor the district's earlier loads: (line, column, message); else None.
    Enrolments marked ``tobedeleted`` are not checked."""
    rows = _read(enrollments, ["status", *(column for column, _, _ in ENROLLMENT_REFERENCES)])
    if rows is None:
        return None  # not readable as CSV: its validation says why
    live = [status != "tobedeleted" for status in rows["status"]]
    first: tuple[int, str, str] | None = None
    for column, file_name, table in ENROLLMENT_REFERENCES:
        named = {value for value, keep in zip(rows[column], live, strict=True) if keep and value}
        known = set((_read(tonight.get(file_name), ["sourcedId"]) or {"sourcedId": []})["sourcedId"])
        missing = named - known
        if missing:
            cur.execute(f"select distinct sourced_id from raw_sis.{table}"
                        " where _district_id = %s and sourced_id = any(%s)", (district_id, sorted(missing)))
            missing -= {value for (value,) in cur.fetchall()}
        if missing:
            row = next(i for i, (value, keep) in enumerate(zip(rows[column], live, strict=True))
                       if keep and value in missing)
            if first is None or row < first[0]:
                first = (row, column, f"{column} {_show(rows[column][row])} names no record of {file_name}"
                                      " (neither tonight's nor one the district delivered before)")
    if first is None:
        return None
    row, column, message = first
    return _line_of(enrollments, row), column, message


def _line_of(opener: Opener, row: int) -> int:
    """The line of the file where data row ``row`` (0-based) starts (the header is line 1; a quoted value may
    span lines)."""
    with opener() as f:
        text = io.TextIOWrapper(f, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        next(reader, None)
        start, i = reader.line_num + 1, 0
        for record in reader:
            if record:  # a blank line is no record (nor is it for the reader that numbered the rows)
                if i == row:
                    return start
                i += 1
            start = reader.line_num + 1
    return start
