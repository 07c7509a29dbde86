"""Files generated from the export spec: the dbt sources, the records layer's models and the district data
specification.

All are rendered from ``ingestion/spec/sis_export_v1.yml``; ``sis-sync spec --write`` rewrites them and
``sis-sync spec`` (run by the test suite) fails when a committed copy has drifted from the spec.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import yaml

from sis_sync import PROJECT_ROOT
from sis_sync.ingestion.spec import (
    GRADE_CODES,
    RAW_META_COLUMNS,
    SCHOOL_YEARS,
    SIS_FORMAT,
    ExportSpec,
    FileSpec,
    load_spec,
    oneroster_spec,
)

SOURCES_PATH = PROJECT_ROOT / "models" / "staging" / "sis" / "_sis__sources.yml"
ONEROSTER_SOURCES_PATH = PROJECT_ROOT / "models" / "staging" / "oneroster" / "_oneroster__sources.yml"
DATA_SPEC_PATH = PROJECT_ROOT / "docs" / "data-specification.md"
RECORDS_DIR = PROJECT_ROOT / "models" / "records"
ONEROSTER_RECORDS_DIR = RECORDS_DIR / "oneroster"

GENERATED_NOTE = "Generated from ingestion/spec/sis_export_v1.yml by `sis-sync spec --write`. Do not edit."
ONEROSTER_NOTE = "Generated from ingestion/spec/oneroster_v1.yml by `sis-sync spec --write`. Do not edit."

TYPE_LABELS = {
    "text": "text",
    "grade": "grade level",
    "date": "date (YYYY-MM-DD)",
    "int": "integer",
    "bool": "boolean (Y/N)",
    "decimal": "decimal",
    "timestamp": "date or ISO 8601 timestamp",
}

RAW_META_DESCRIPTIONS = {
    "_district_id": "District that delivered the file.",
    "_export_date": "Export date (the night) the file was delivered for.",
    "_load_id": "The load that landed this row; the load ledger names the loads staging reads.",
    "_line_number": "Line of the delivered file where this record starts (the header is line 1); null for a"
                    " retired record.",
    "_change": "What this version is: added (first seen), changed (content differs from the version before) or"
               " retired (a delivered file no longer has the record: only its identity columns are set).",
    "_key_hash": "64-bit hash of the record's identity (the key, and school_year where the file has one).",
    "_row_hash": "64-bit hash of the version's set values, each with its column's name (null for a retired record).",
}

LEDGER_COLUMNS = [
    ("ledger_id", "bigint", "Surrogate key of the ledger row."),
    ("district_id", "text", "District."),
    ("export_date", "date", "Export date (night) of the delivery."),
    ("file_name", "text", "Delivered file, e.g. students.csv."),
    ("sha256", "text", "Lowercase hex sha256 of the delivered bytes."),
    ("row_count", "bigint", "Data rows in the file (header excluded)."),
    ("status", "text", "loaded, unchanged (same bytes as the night before's delivery) or rejected."),
    ("message", "text", "Why a file was rejected (file, line, column), or what was ignored or flagged."),
    ("load_id", "text", "The load holding the file's changes in the raw table (null when unchanged or"
                        " rejected)."),
    ("min_school_year", "integer", "Lowest school_year in the file, for files with that column."),
    ("max_school_year", "integer", "Highest school_year in the file, for files with that column."),
    ("recorded_at", "timestamp with time zone", "When the ledger row was written."),
    ("added_count", "bigint", "Records the file added (not in the state of the night before)."),
    ("changed_count", "bigint", "Records whose content differs from the night before."),
    ("retired_count", "bigint", "Records of the file's school years that the file no longer has."),
    ("main_school_year", "integer", "The school year most of the file's records carry (ties: the older): the"
                                    " export's school year, which decides a rollover."),
]

CHANGES_COLUMNS = [
    ("load_id", "text", "The load (a loaded file) the row describes."),
    ("district_id", "text", "District."),
    ("export_date", "date", "Export date (night) of the load."),
    ("file_name", "text", "The loaded file."),
    ("change", "text", "added, changed, retired (records, against the night before), filled (records with the"
                       " column set), emptied (fewer records with the column set than before) or dropped (records"
                       " of the night's earlier delivery this one no longer has)."),
    ("column_name", "text", "The column, for changed (per column), filled and emptied; null for whole records."),
    ("records", "bigint", "How many records."),
    ("out_of", "bigint", "Of how many: the records (or, for emptied, the records with the column set) of the"
                         " delivery compared with."),
    ("example_keys", "text[]", "Keys (ids only) of up to five of them."),
    ("recorded_at", "timestamp with time zone", "When the row was written (with the load's ledger row)."),
]

SETTINGS_COLUMNS = [
    ("district_id", "text", "District."),
    ("thresholds", "jsonb", "The district's `thresholds` from districts.yml (keys of the seed safety_thresholds)."),
    ("recorded_at", "timestamp with time zone", "When they last changed."),
    ("no_delivery", "jsonb", "The nights the district sends nothing: {weekdays: [...], dates: [...]}."),
    ("country", "text", "The district's default country for phone numbers (ISO 3166, `country` in districts.yml)."),
]

PHONES_COLUMNS = [
    ("country", "text", "The country the value is read in (a district's default country)."),
    ("phone", "text", "A phone value as delivered."),
    ("e164", "text", "The number in E.164 as libphonenumber reads it, or null when it cannot be one."),
    ("recorded_at", "timestamp with time zone", "When ingestion first read the value."),
]

ATTEMPTS_COLUMNS = [
    ("attempt_id", "bigint", "Surrogate key of the attempt."),
    ("district_id", "text", "District."),
    ("export_date", "date", "The night a run looked for."),
    ("outcome", "text", "delivered, missing (no export), incomplete (left for a later poll) or failed."),
    ("message", "text", "Why, when not delivered."),
    ("recorded_at", "timestamp with time zone", "When the run recorded it."),
]

APPROVALS_COLUMNS = [
    ("approval_id", "bigint", "Surrogate key of the approval."),
    ("district_id", "text", "District."),
    ("export_date", "date", "The night released: its file's held nights up to it are released."),
    ("file_name", "text", "The file released."),
    ("approved_at", "timestamp with time zone", "When `sis-sync approve` released it."),
    ("approved_by", "text", "The database role that released it."),
]


def _column_doc(description: str, allowed: tuple[str, ...]) -> str:
    if allowed:
        return f"{description} One of: {', '.join(allowed)}."
    return description


def render_sources(spec: ExportSpec | None = None) -> str:
    spec = spec or load_spec()
    tables = []
    for f in spec.files:
        columns = []
        for c in f.columns:
            col = {"name": c.name, "data_type": c.pg_type, "description": _column_doc(c.description, c.allowed)}
            if c.pii:
                col["tags"] = ["pii"]
            columns.append(col)
        for name, pg_type in RAW_META_COLUMNS.items():
            columns.append({"name": name, "data_type": pg_type, "description": RAW_META_DESCRIPTIONS[name]})
        tables.append({
            "name": f.name,
            "description": f"{f.file_name}: {f.description} Key: {', '.join(f.key)}. Append-only versions: "
                           "what each loaded file added, changed or retired, tagged with its load.",
            "meta": {"file_name": f.file_name, "key": list(f.key)},
            "columns": columns,
        })
    if spec.export_format == SIS_FORMAT:
        tables += _bookkeeping_tables()
    doc = {
        "version": 2,
        "sources": [{
            "name": spec.export_format,
            "description": f"{spec.name}, version {spec.version}, as landed by ingestion/ (dlt).",
            "schema": "raw_sis",
            "tables": tables,
        }],
    }
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
    note = GENERATED_NOTE if spec.export_format == SIS_FORMAT else ONEROSTER_NOTE
    return f"# {note}\n{body}"


def _bookkeeping_tables() -> list[dict]:
    """The raw layer's tables besides the versions (the ledger and what the commands write): source sis."""
    tables = []
    tables.append({
        "name": "load_ledger",
        "description": "One row per delivered file per night: what ingestion did with it.",
        "columns": [{"name": n, "data_type": t, "description": d} for n, t, d in LEDGER_COLUMNS],
    })
    for name, description, columns in (
        ("load_changes", "What each load changed, per kind and column (ingestion/changes.py): what the safety"
                         " thresholds and previews read.", CHANGES_COLUMNS),
        ("district_settings", "Each district's safety thresholds from districts.yml"
                              " (ingestion/safety.py).", SETTINGS_COLUMNS),
        ("sync_approvals", "Held files released by `sis-sync approve` (ingestion/safety.py).",
         APPROVALS_COLUMNS),
        ("phone_numbers", "Each delivered phone value in E.164, read with a district's country"
                          " (ingestion/phones.py).", PHONES_COLUMNS),
        ("sync_attempts", "What each run found for each district's night, delivered or not"
                          " (ingestion/ledger.py).", ATTEMPTS_COLUMNS),
    ):
        table = {"name": name, "description": description,
                 "columns": [{"name": n, "data_type": t, "description": d} for n, t, d in columns]}
        if name == "sync_attempts":
            # every run records an attempt per district, delivered or not: none for a day means no run
            table["loaded_at_field"] = "recorded_at"
            table["freshness"] = {"warn_after": {"count": 30, "period": "hour"},
                                  "error_after": {"count": 54, "period": "hour"}}
        tables.append(table)
    return tables


def _example_csv(f: FileSpec) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(f.column_names)
    writer.writerow([c.example for c in f.columns])
    return buf.getvalue()


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_data_spec(spec: ExportSpec | None = None) -> str:
    spec = spec or load_spec()
    out = [
        f"<!-- {GENERATED_NOTE} -->",
        f"# {spec.name}, version {spec.version}",
        "",
        "This document is what your student information system (SIS) sends us every night. It is generated",
        "from the same machine-readable specification that validates every file we receive, so it is",
        "always exactly what the validator checks.",
        "",
        "## Delivery",
        "",
        "- One export per district per night: a folder `<district_id>/<YYYY-MM-DD>/` holding the CSV files",
        "  below, or one zip archive `<district_id>/<YYYY-MM-DD>.zip` with the files at its root.",
        "- By shared folder, SFTP or an S3-compatible bucket; the layout under the root is the same.",
        "- Files still being uploaded must end in `.part` or `.tmp`; rename them when complete.",
        "- `manifest.csv` is optional. When present its header is `file_name,row_count,sha256` (row_count",
        "  excludes the header; sha256 is the lowercase hex digest of the file's bytes). An export whose",
        "  files do not match its manifest is incomplete and is not loaded until it is complete.",
        "- A night may carry only some files. A missing file means \"no delivery of that file tonight\",",
        "  never \"delete everything\".",
        "",
        "## Format (every file)",
        "",
        "- CSV per RFC 4180: comma delimiter, double-quote quoting, header row first.",
        "- Encoding UTF-8; a leading byte-order mark is tolerated. Any other encoding is rejected.",
        "- Header names are matched case-insensitively after trimming spaces. Extra columns are ignored",
        "  (and reported). A missing required column rejects the file.",
        "- An empty field is NULL. Values are trimmed.",
        "- Identifiers are text: `000123` and `123` are different ids.",
        "- Dates are `YYYY-MM-DD`. Booleans accept `Y/N`, `YES/NO`, `TRUE/FALSE`, `T/F`, `1/0`",
        "  (case-insensitive).",
        "- `school_year` is the integer spring year: `2026` means the 2025-26 school year"
        f" ({SCHOOL_YEARS[0]} to {SCHOOL_YEARS[1]}).",
        f"- Grade levels: {', '.join(f'`{g}`' for g in GRADE_CODES)}. `1` is read as `01`, `K` as `KG`.",
        "",
        "## Rules we apply where the format leaves a choice",
        "",
        *[f"- {d}" for d in spec.decisions],
        "",
        "## Files",
        "",
        "Required columns are marked **yes**: the column must be in the header and every row must have a",
        "value. Keys are unique within one file of one export. Columns marked *PII* hold personal data.",
        "",
    ]
    for f in spec.files:
        out += [
            f"### {f.file_name}",
            "",
            f.description,
            "",
            f"Key: {', '.join(f'`{k}`' for k in f.key)}",
            "",
            "| column | type | required | description |",
            "|---|---|---|---|",
        ]
        for c in f.columns:
            desc = _column_doc(c.description, c.allowed) + (" *PII*" if c.pii else "")
            out.append(f"| `{c.name}` | {TYPE_LABELS[c.type]} | {'yes' if c.required else ''} | {_md_cell(desc)} |")
        out += ["", "Example:", "", "```csv", _example_csv(f).rstrip("\n"), "```", ""]
    return "\n".join(out + _oneroster_section(spec, oneroster_spec()))


def _oneroster_section(own: ExportSpec, spec: ExportSpec) -> list[str]:
    """The data specification's part on OneRoster: what is read of an export, and where each column of our
    files comes from in it (the spec's ``fills``)."""
    versions = " and ".join(spec.format_versions)
    out = [
        "## OneRoster CSV instead",
        "",
        f"A district may deliver a 1EdTech OneRoster CSV export ({versions}) instead of the files above, as its",
        "SIS or rostering hub writes it, in the same folder, zip and delivery. It is recognised by its",
        "`manifest.csv` (`propertyName,value` with `oneroster.version`); `format: oneroster` in districts.yml pins a",
        "district to it. Our `attendance.csv` and `discipline.csv`, which OneRoster has no file for, may be",
        "delivered beside it. The format rules above apply to its files too; these are OneRoster's own:",
        "",
        *[f"- {d}" for d in spec.decisions],
        "",
        "### OneRoster files read",
        "",
        "Only these columns are read; any other (`metadata.*` extensions among them) is ignored and reported.",
        "",
    ]
    for f in spec.files:
        only = f" (OneRoster {', '.join(f.versions)} only)" if f.versions else ""
        out += [f"#### {f.delivered}{only}", "", f.description, "",
                "| column | type | required | description |", "|---|---|---|---|"]
        for c in f.columns:
            if c.derived:
                continue
            required = "yes" if c.required else f"in {', '.join(c.required_in)}" if c.required_in else ""
            desc = _column_doc(c.description, c.allowed) + (" *PII*" if c.pii else "")
            out.append(f"| `{c.header_name}` | {TYPE_LABELS[c.type]} | {required} | {_md_cell(desc)} |")
        out.append("")
    out += ["### Where our files' columns come from", "",
            "The marts are filled from these columns of our files, whichever format a district delivers; a column",
            "OneRoster has no source for is left empty for a OneRoster district.", ""]
    for file_name, sources in spec.fills.items():
        ours = own.file(file_name)
        unknown = [c for c in sources if c not in ours.column_names]
        if unknown:
            raise ValueError(f"{file_name} has no column {', '.join(unknown)} (oneroster_v1.yml, fills)")
        out += [f"#### {file_name}", "", "| our column | from OneRoster |", "|---|---|"]
        out += [f"| `{c}` | {_md_cell(sources.get(c, '*no OneRoster source*'))} |" for c in ours.column_names]
        out.append("")
    return out


RECORDS_COLUMNS = [
    ("has_attributes", "The attributes are those of a live version (false only for a record retired before it"
                       " ever showed)."),
    ("is_retired", "The file no longer has the record as of the night shown; its last attributes are kept."),
    ("changed_date", "The night of the record's newest version: its last change, or its retirement."),
    ("last_changed_date", "The night of the live version shown; null for a retired record (a mart deletes its"
                          " rows)."),
    ("last_delivered_date", "For a retired record, the last night its file carried it; null while current."),
    ("changed_on", "The night this layer last wrote the row (its changed_date after a full refresh): what the"
                   " marts rebuild from."),
]


def records_model(f: FileSpec) -> str:
    """The records layer's model of one export file (``rec_students``)."""
    return f"rec_{f.name}"


def staging_model(f: FileSpec) -> str:
    """The staging model of one export file (``stg_sis__students``, ``stg_oneroster__users``)."""
    if f.export_format == SIS_FORMAT:
        return f"stg_sis__{f.name}"
    return f"stg_{f.export_format}__{f.name.removeprefix(f.export_format + '_')}"


# The OneRoster mapping into our records models (models/intermediate/oneroster/): what fills each one.
MAPPED_FROM = {"rec_schools": "int_oneroster__schools", "rec_students": "int_oneroster__students",
               "rec_staff": "int_oneroster__staff", "rec_courses": "int_oneroster__courses",
               "rec_sections": "int_oneroster__sections", "rec_enrollments": "int_oneroster__enrollments",
               "rec_contacts": "int_oneroster__contacts"}


# A second records model of a OneRoster file, as of the nights the contacts show (seed oneroster_targets): users
# and roles fill the students and staff (frozen over the summer) and the contacts (synced all year).
CONTACT_VIEWS = {"oneroster_users": "rec_oneroster_contact_users", "oneroster_roles": "rec_oneroster_contact_roles"}


def records_models(f: FileSpec) -> list[str]:
    """The records layer's models of one export file: its own, and its contacts' view (CONTACT_VIEWS)."""
    return [records_model(f), *([CONTACT_VIEWS[f.name]] if f.name in CONTACT_VIEWS else [])]


def render_records_model(f: FileSpec) -> str:
    """One export file's model in the records layer: its key and whether it has school years, from the spec;
    for one of ours that OneRoster files fill, the model mapping them (MAPPED_FROM)."""
    has_school_year = "school_year" in f.column_names
    mapped = MAPPED_FROM.get(records_model(f))
    note = GENERATED_NOTE if f.export_format == SIS_FORMAT else ONEROSTER_NOTE
    return (f"-- {note}\n"
            f"{{{{ records_of(\n    '{staging_model(f)}', '{f.file_name}', key={list(f.key)!r},"
            f" has_school_year={str(has_school_year).lower()}"
            + (f",\n    mapped='{mapped}'" if mapped else "") + "\n) }}\n")


def render_records_yml(spec: ExportSpec) -> str:
    models = []
    for f in spec.files:
        has_school_year = "school_year" in f.column_names
        grain = ["district_id", *f.key, *(["school_year"] if has_school_year and "school_year" not in f.key else [])]
        for name in records_models(f):
            view = " As the contacts see it: as of the nights the contacts show." if name != records_model(f) else ""
            models.append({
                "name": name,
                "description": (
                    f"{f.file_name}: each record's state on the night its district"
                    f"{' and school year show' if has_school_year else ' shows'} (rec_nights), one row per "
                    f"{', '.join(grain)}; a retired record keeps its last attributes with `is_retired`. Incremental"
                    " (macros/records.sql): a night rewrites the records with a version since their partition last"
                    f" changed.{view}"),
                "meta": {"file_name": f.file_name, "key": list(f.key)},
                "data_tests": [{"unique_index": {"arguments": {"columns": grain}}}],
                "columns": [{"name": n, "description": d} for n, d in RECORDS_COLUMNS],
            })
    body = yaml.safe_dump({"version": 2, "models": models}, sort_keys=False, allow_unicode=True, width=110)
    note = GENERATED_NOTE if spec.export_format == SIS_FORMAT else ONEROSTER_NOTE
    return f"# {note}\n{body}"


def generated_files() -> dict[Path, str]:
    spec, oneroster = load_spec(), oneroster_spec()
    files = {SOURCES_PATH: render_sources(spec), DATA_SPEC_PATH: render_data_spec(spec),
             RECORDS_DIR / "_records__models.yml": render_records_yml(spec),
             ONEROSTER_SOURCES_PATH: render_sources(oneroster),
             ONEROSTER_RECORDS_DIR / "_records_oneroster__models.yml": render_records_yml(oneroster)}
    for f in spec.files:
        files[RECORDS_DIR / f"{records_model(f)}.sql"] = render_records_model(f)
    for f in oneroster.files:
        for name in records_models(f):
            files[ONEROSTER_RECORDS_DIR / f"{name}.sql"] = render_records_model(f)
    return files


def write_generated() -> list[Path]:
    written = []
    for path, text in generated_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check_generated() -> list[Path]:
    """The generated files whose committed text differs from what the spec renders."""
    return [p for p, text in generated_files().items()
            if not p.exists() or p.read_text(encoding="utf-8") != text]
