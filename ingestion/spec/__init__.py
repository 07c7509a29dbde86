"""The SIS export specification, loaded from ``sis_export_v1.yml`` (the one source of truth)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pyarrow as pa
import yaml

SPEC_PATH = Path(__file__).with_name("sis_export_v1.yml")

# Delivery conventions of the spec: the optional manifest, and the suffixes of files still being uploaded.
MANIFEST = "manifest.csv"
IN_PROGRESS_SUFFIXES = (".part", ".tmp")

COLUMN_TYPES = ("text", "grade", "date", "int", "bool", "decimal")



@dataclass(frozen=True)
class StoredAs:
    """How the values of a type are stored: in the raw tables (Postgres, and the dbt sources), in dlt's column
    hints, and in the validator's Arrow batches. The one table of types."""

    pg: str
    dlt: str
    arrow: pa.DataType


DECIMAL_PRECISION, DECIMAL_SCALE = 18, 4
STORED_AS = {
    "text": StoredAs("text", "text", pa.string()),
    "grade": StoredAs("text", "text", pa.string()),
    "date": StoredAs("date", "date", pa.date32()),
    "int": StoredAs("bigint", "bigint", pa.int64()),
    "bool": StoredAs("boolean", "bool", pa.bool_()),
    "decimal": StoredAs("numeric", "decimal", pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)),
}
PG_TYPES = {name: stored.pg for name, stored in STORED_AS.items()}
ARROW_TYPES = {name: stored.arrow for name, stored in STORED_AS.items()}  # the validator's typed batches

# The school years a file may carry: spring years of four digits (a two-digit year, or two years run together,
# is a mistake of the export; the marts store the year as an integer).
SCHOOL_YEARS = (1900, 2999)
GRADE_CODES = ("PK", "KG", *(f"{g:02d}" for g in range(1, 13)), "UG")
BOOLEAN_TRUE = ("Y", "YES", "TRUE", "T", "1")
BOOLEAN_FALSE = ("N", "NO", "FALSE", "F", "0")

# Columns every raw table carries besides the spec's columns.
RAW_META_COLUMNS = {
    "_district_id": "text",
    "_export_date": "date",
    "_load_id": "text",
    "_line_number": "bigint",
    "_change": "text",  # added | changed | retired (ingestion/versions.py)
    "_key_hash": "bigint",
    "_row_hash": "bigint",
}
# the meta columns' Postgres types, stored as the spec type that is stored so
META_STORED_AS = {"text": STORED_AS["text"], "date": STORED_AS["date"], "bigint": STORED_AS["int"]}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    required: bool = False
    allowed: tuple[str, ...] = ()
    pii: bool = False
    example: str = ""
    phone: bool = False  # a phone number: staging reads it in E.164 (ingestion/phones.py)

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.type]


@dataclass(frozen=True)
class FileSpec:
    name: str
    file_name: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def phone_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.phone)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.file_name} has no column {name!r}")


@dataclass(frozen=True)
class ExportSpec:
    version: int
    name: str
    decisions: tuple[str, ...]
    files: tuple[FileSpec, ...]

    def file(self, name: str) -> FileSpec:
        """Look a file up by entity name (``students``) or file name (``students.csv``)."""
        wanted = name.lower()
        for f in self.files:
            if wanted in (f.name, f.file_name):
                return f
        raise KeyError(f"the export spec has no file {name!r}")

    @property
    def file_names(self) -> tuple[str, ...]:
        return tuple(f.file_name for f in self.files)


def _column(raw: dict) -> Column:
    ctype = raw["type"]
    if ctype not in COLUMN_TYPES:
        raise ValueError(f"column {raw['name']!r}: unknown type {ctype!r}")
    return Column(
        name=raw["name"],
        type=ctype,
        description=str(raw.get("description", "")).strip(),
        required=bool(raw.get("required", False)),
        allowed=tuple(raw.get("allowed", ())),
        pii=bool(raw.get("pii", False)),
        example=str(raw.get("example", "")),
        phone=bool(raw.get("phone", False)),
    )


def load_spec(path: Path | None = None) -> ExportSpec:
    """The export spec: ``path``, else the module's ``SPEC_PATH`` (read once per file)."""
    return _read_spec(Path(path or SPEC_PATH))


@cache
def _read_spec(path: Path) -> ExportSpec:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    files = []
    for f in data["files"]:
        columns = tuple(_column(c) for c in f["columns"])
        names = [c.name for c in columns]
        missing_key = [k for k in f["key"] if k not in names]
        if missing_key:
            raise ValueError(f"{f['file_name']}: key columns {missing_key} are not columns")
        files.append(
            FileSpec(
                name=f["name"],
                file_name=f["file_name"],
                description=" ".join(str(f["description"]).split()),
                key=tuple(f["key"]),
                columns=columns,
            )
        )
    return ExportSpec(
        version=int(data["version"]),
        name=data["name"],
        decisions=tuple(" ".join(d.split()) for d in data.get("decisions", ())),
        files=tuple(files),
    )
