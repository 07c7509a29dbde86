"""What a night did to a district's files (or would do, if it is held): per file, the records it added,
changed and retired, the columns the changed records changed, and a few example keys of each.

Read from the raw layer's versions (:mod:`ingestion.versions`): a night's loaded file holds exactly its
changes, and each changed record is compared, column by column, with its version before that night. Keys
are ids, never personal data; the values of changed columns (old -> new) are shown only when asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ingestion import safety
from ingestion.ledger import LEDGER_TABLE, RAW_SCHEMA
from ingestion.spec import FileSpec, load_spec
from ingestion.versions import ADDED, CHANGED, RETIRED, base_delivery, deliveries, effective_load_ids, identity_columns


@dataclass(frozen=True)
class ColumnChange:
    """One column of a file's changed records: how many changed it, and a few of them."""

    column: str
    records: int
    examples: list[str]  # record keys
    values: list[tuple[str | None, str | None]] = field(default_factory=list)  # (old, new) per example


@dataclass
class FilePreview:
    file_name: str
    status: str  # the night's newest ledger status of the file
    load_id: str | None
    records_before: int | None  # the file's records before the night (its base delivery's rows)
    added: int = 0
    changed: int = 0
    retired: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)  # added / retired -> record keys
    columns: list[ColumnChange] = field(default_factory=list)
    held: bool = False


def record_key(spec: FileSpec, alias: str = "") -> str:
    """SQL for a record's key as text: its identity columns joined by ' / ' (ids only)."""
    prefix = f"{alias}." if alias else ""
    return " || ' / ' || ".join(f"coalesce({prefix}{c}::text, '')" for c in identity_columns(spec))


def _night_rows(cur, district_id: str, night: dt.date) -> dict[str, tuple]:
    """The newest ledger row of each file of the night: file_name -> (status, load_id, counts...)."""
    cur.execute(
        f"""
        select distinct on (file_name) file_name, status, load_id, added_count, changed_count, retired_count
        from {LEDGER_TABLE}
        where district_id = %s and export_date = %s
        order by file_name, ledger_id desc
        """,
        (district_id, night),
    )
    return {row[0]: row[1:] for row in cur.fetchall()}


def _examples(cur, spec: FileSpec, district_id: str, load_id: str, change: str, limit: int) -> list[str]:
    cur.execute(
        f"""
        select {record_key(spec)} from {RAW_SCHEMA}.{spec.name}
        where _district_id = %s and _load_id = %s and _change = %s
        order by _line_number nulls last, 1
        limit %s
        """,
        (district_id, load_id, change, limit),
    )
    return [key for (key,) in cur.fetchall()]


def _column_changes(cur, spec: FileSpec, district_id: str, load_id: str, before_loads: list[str],
                    night: dt.date, limit: int, show_values: bool) -> list[ColumnChange]:
    """Per spec column, the night's changed records whose value differs from their version before it."""
    if not before_loads:
        return []
    columns = [c for c in spec.column_names if c not in identity_columns(spec)]
    measures = []
    for c in columns:
        differs = f"tonight.{c} is distinct from before.{c}"
        measures.append(f"count(*) filter (where {differs})")
        measures.append(f"(array_agg({record_key(spec, 'tonight')} order by tonight._line_number)"
                        f" filter (where {differs}))[1:%(limit)s]")
        if show_values:
            measures.append(f"(array_agg(before.{c}::text order by tonight._line_number)"
                            f" filter (where {differs}))[1:%(limit)s]")
            measures.append(f"(array_agg(tonight.{c}::text order by tonight._line_number)"
                            f" filter (where {differs}))[1:%(limit)s]")
    cur.execute(
        f"""
        with tonight as (
            select * from {RAW_SCHEMA}.{spec.name}
            where _district_id = %(district)s and _load_id = %(load)s and _change = '{CHANGED}'
        ),
        before as (
            select distinct on (_key_hash) *
            from {RAW_SCHEMA}.{spec.name}
            where _district_id = %(district)s and _load_id = any(%(loads)s) and _export_date < %(night)s
              and _key_hash in (select _key_hash from tonight)
            order by _key_hash, _export_date desc
        )
        select {", ".join(measures)}
        from tonight
        inner join before on before._key_hash = tonight._key_hash
        """,
        {"district": district_id, "load": load_id, "loads": before_loads, "night": night, "limit": limit},
    )
    row = cur.fetchone()
    width = 4 if show_values else 2
    out = []
    for i, c in enumerate(columns):
        records, keys, *values = row[i * width:(i + 1) * width]
        if records:
            pairs = list(zip(values[0], values[1], strict=True)) if show_values else []
            out.append(ColumnChange(c, records, list(keys or []), pairs))
    return sorted(out, key=lambda change: (-change.records, change.column))


def preview_night(conn, district_id: str, night: dt.date, *, examples: int = 5,
                  show_values: bool = False) -> list[FilePreview]:
    """The night's files, in spec order: what each added, changed and retired (see the module docstring)."""
    spec = load_spec()
    held = {file_name for file_name, _message in safety.held_files(conn, district_id, night)}
    out = []
    with conn.cursor() as cur:
        rows = _night_rows(cur, district_id, night)
        for file in spec.files:
            if file.file_name not in rows:
                continue
            status, load_id, added, changed, retired = rows[file.file_name]
            history = deliveries(cur, district_id, file.file_name)
            base = base_delivery(history, night)
            preview = FilePreview(file.file_name, status, load_id, base.row_count if base else None,
                                  added or 0, changed or 0, retired or 0, held=file.file_name in held)
            if status == "loaded" and load_id:
                preview.examples[ADDED] = _examples(cur, file, district_id, load_id, ADDED, examples)
                preview.examples[RETIRED] = _examples(cur, file, district_id, load_id, RETIRED, examples)
                if changed:
                    before = effective_load_ids(history, base.export_date) if base else []
                    preview.columns.extend(_column_changes(cur, file, district_id, load_id, before, night,
                                                           examples, show_values))
            out.append(preview)
    return out


def _share(part: int, whole: int | None) -> str:
    return f" ({part / whole:.0%})" if whole else ""


def render(district_id: str, night: dt.date, files: list[FilePreview]) -> list[str]:
    """The preview as text lines (ids and column names; values only if they were read)."""
    if not files:
        return [f"{district_id} {night}: nothing was delivered"]
    lines = [f"{district_id} {night}",
             f"  {'file':<16} {'status':<10} {'before':>9} {'added':>9} {'changed':>9} {'retired':>9}"]
    for f in files:
        status = "held" if f.held else f.status
        before = "" if f.records_before is None else f"{f.records_before:,}"
        lines.append(f"  {f.file_name:<16} {status:<10} {before:>9} {f.added:>9,} {f.changed:>9,} {f.retired:>9,}")
        for change in f.columns:
            lines.append(f"      {change.column}: {change.records:,} records{_share(change.records, f.records_before)},"
                         f" e.g. {', '.join(change.examples)}")
            for key, (old, new) in zip(change.examples, change.values, strict=False):
                lines.append(f"        {key}: {old!r} -> {new!r}")
        for kind in (ADDED, RETIRED):
            if f.examples.get(kind):
                lines.append(f"      {kind}: {', '.join(f.examples[kind])}")
    return lines
