"""The export specifications a district may deliver, as data: our own SIS export (``sis_export_v1.yml``) and
1EdTech OneRoster CSV (``oneroster_v1.yml``). Each is the one source of truth of its format: validation, the
dbt sources and the data specification document are made from it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import pyarrow as pa
import yaml

SPEC_PATH = Path(__file__).with_name("sis_export_v1.yml")
ONEROSTER_SPEC_PATH = Path(__file__).with_name("oneroster_v1.yml")

# The export formats (the ledger's ``export_format``): ours, and OneRoster CSV (1.1 and 1.2).
SIS_FORMAT, ONEROSTER_FORMAT = "sis", "oneroster"
EXPORT_FORMATS = (SIS_FORMAT, ONEROSTER_FORMAT)

# Delivery conventions of the spec: the optional manifest, and the suffixes of files still being uploaded.
MANIFEST = "manifest.csv"
IN_PROGRESS_SUFFIXES = (".part", ".tmp")

COLUMN_TYPES = ("text", "grade", "date", "int", "bool", "decimal", "timestamp")



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
    "timestamp": StoredAs("timestamp with time zone", "timestamp", pa.timestamp("us", tz="UTC")),
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
    header: str = ""  # the name in the delivered header, when it is not ``name`` (OneRoster's camelCase)
    derived: bool = False  # not delivered: the ingest sets it (a OneRoster file's school year: the export's)
    required_in: tuple[str, ...] = ()  # required only in these versions of the format (OneRoster 1.1)

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.type]

    @property
    def header_name(self) -> str:
        """The column's name in a delivered header (matched case-insensitively)."""
        return self.header or self.name


@dataclass(frozen=True)
class FileSpec:
    name: str
    file_name: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...] = field(default_factory=tuple)
    export_format: str = SIS_FORMAT
    delivered_name: str = ""  # the name in the export when it is not ``file_name`` (a OneRoster file's)
    versions: tuple[str, ...] = ()  # the versions of the format that have this file (none: every version)
    status_column: str | None = None  # OneRoster's ``status``: a record marked ``tobedeleted`` is retired

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def delivered(self) -> str:
        """The file's name in a delivered export (``users.csv``); ``file_name`` is its name in the ledger, the
        seeds and the marts, qualified by the format for OneRoster (``oneroster/users.csv``): two formats share
        courses.csv and enrollments.csv."""
        return self.delivered_name or self.file_name

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
    export_format: str = SIS_FORMAT
    format_versions: tuple[str, ...] = ()  # OneRoster: the versions of the standard read (1.1, 1.2)
    # OneRoster: where each column of our files comes from (file -> column -> source), for the documents
    fills: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, hash=False)

    def for_version(self, version: str) -> ExportSpec:
        """The spec of one version of the format: its files, and the columns required in it."""
        files = []
        for f in self.files:
            if f.versions and version not in f.versions:
                continue
            columns = tuple(replace(c, required=c.required or version in c.required_in) for c in f.columns)
            files.append(replace(f, columns=columns))
        return replace(self, files=tuple(files))

    def file(self, name: str) -> FileSpec:
        """Look a file up by entity name (``students``) or file name (``students.csv``)."""
        wanted = name.lower()
        for f in self.files:
            if wanted in (f.name, f.file_name.lower(), f.delivered.lower()):
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
        header=str(raw.get("header", "")),
        derived=bool(raw.get("derived", False)),
        required_in=tuple(str(v) for v in raw.get("required_in", ())),
    )


def load_spec(path: Path | None = None) -> ExportSpec:
    """The export spec: ``path``, else the module's ``SPEC_PATH`` (read once per file)."""
    return _read_spec(Path(path or SPEC_PATH))


def oneroster_spec() -> ExportSpec:
    """The OneRoster CSV spec (1.1 and 1.2; :meth:`ExportSpec.for_version` for one of them)."""
    return _read_spec(ONEROSTER_SPEC_PATH)


def raw_spec() -> ExportSpec:
    """Every file of every format, for what is made per raw table (the tables, their grants, the phone map):
    never to look a file up by its delivered name, which two formats share (courses.csv, enrollments.csv)."""
    own = load_spec()
    return replace(own, files=own.files + oneroster_spec().files)


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
        export_format = data.get("format", SIS_FORMAT)
        qualified = f"{export_format}/{f['file_name'].lower()}" if export_format != SIS_FORMAT else f["file_name"]
        files.append(
            FileSpec(
                name=f["name"],
                file_name=qualified,
                delivered_name=f["file_name"] if qualified != f["file_name"] else "",
                description=" ".join(str(f["description"]).split()),
                key=tuple(f["key"]),
                columns=columns,
                export_format=export_format,
                versions=tuple(str(v) for v in f.get("versions", ())),
                status_column=f.get("status_column"),
            )
        )
    return ExportSpec(
        version=int(data["version"]),
        name=data["name"],
        decisions=tuple(" ".join(d.split()) for d in data.get("decisions", ())),
        files=tuple(files),
        export_format=data.get("format", SIS_FORMAT),
        format_versions=tuple(str(v) for v in data.get("format_versions", ())),
        fills={name: dict(columns) for name, columns in (data.get("fills") or {}).items()},
    )
