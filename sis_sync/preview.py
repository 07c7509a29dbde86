"""What a night did to a district's files (or would do, if it is held): per file, the records it added,
changed and retired, the columns the changed records changed, and a few example keys of each.

Read from what ingestion recorded of each load (:mod:`sis_sync.ingestion.changes`, also the mart ``sync_changes``):
counts per kind and per column, with a few keys of each. Keys are ids, never personal data; the values of
changed columns (old -> new) are read from the versions (:mod:`sis_sync.ingestion.versions`) only when asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sis_sync.ingestion import safety
from sis_sync.ingestion.changes import CHANGES_TABLE, DROPPED, EMPTIED, FILLED, column_changes_sql
from sis_sync.ingestion.ledger import LEDGER_TABLE
from sis_sync.ingestion.spec import FileSpec, raw_spec
from sis_sync.ingestion.versions import ADDED, CHANGED, RETIRED, base_delivery, deliveries, effective_load_ids


@dataclass(frozen=True)
class ColumnChange:
    """One column of a file's changed records: how many changed it, and a few of them."""

    column: str
    records: int
    examples: list[str]  # record keys (none for emptied)
    change: str = CHANGED  # or emptied: how many fewer records have it set than before
    out_of: int | None = None
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
    dropped: int = 0  # a corrected re-delivery: records of the night's earlier delivery it no longer has
    held: bool = False


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


def _recorded(cur, load_id: str, limit: int) -> list[tuple]:
    """What ingestion recorded of the load (ingestion/changes.py): (change, column, records, out_of, keys)."""
    cur.execute(f"select change, column_name, records, out_of, example_keys[1:%s] from {CHANGES_TABLE}"
                " where load_id = %s and change <> %s order by records desc, column_name",
                (limit, load_id, FILLED))
    return cur.fetchall()


def _values(cur, spec: FileSpec, district_id: str, load_id: str, before_loads: list[str], night: dt.date,
            limit: int) -> dict[str, list[tuple[str | None, str | None]]]:
    """Per changed column, (old, new) of its first example records: read only when asked for."""
    if not before_loads:
        return {}
    columns, sql = column_changes_sql(spec, values=True)
    cur.execute(sql, {"district": district_id, "load": load_id, "loads": before_loads, "night": night,
                      "limit": limit})
    row = cur.fetchone()
    out = {}
    for i, c in enumerate(columns):
        _records, _keys, old, new = row[i * 4:(i + 1) * 4]
        if old is not None:
            out[c] = list(zip(old, new, strict=True))
    return out


def preview_night(conn, district_id: str, night: dt.date, *, examples: int = 5,
                  show_values: bool = False, marts=None) -> list[FilePreview]:
    """The night's files, in spec order (ours, then OneRoster's): what each added, changed and retired (see the
    module docstring); held as the marts of ``marts`` say (default: those of ``conn``)."""
    spec = raw_spec()
    held = {file_name for file_name, _message in safety.held_files(marts or conn, district_id, night)}
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
                values = {}
                if show_values and changed and base is not None:
                    values = _values(cur, file, district_id, load_id,
                                     effective_load_ids(history, base.export_date), night, examples)
                for change, column, records, out_of, keys in _recorded(cur, load_id, examples):
                    if column is None:
                        if change != CHANGED:
                            preview.examples[change] = list(keys)
                            if change == DROPPED:
                                preview.dropped = records
                    else:
                        preview.columns.append(ColumnChange(column, records, list(keys), change, out_of,
                                                            values.get(column, []) if change == CHANGED else []))
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
        if f.dropped:
            lines.append(f"      dropped: {f.dropped:,} records of the night's earlier delivery are not in this one")
        for change in f.columns:
            if change.change == EMPTIED:
                lines.append(f"      {change.column} (emptied): {change.records:,} fewer records have it"
                             f"{_share(change.records, change.out_of)} of those that had it)")
                continue
            lines.append(f"      {change.column}: {change.records:,} records{_share(change.records, f.records_before)},"
                         f" e.g. {', '.join(change.examples)}")
            for key, (old, new) in zip(change.examples, change.values, strict=False):
                lines.append(f"        {key}: {old!r} -> {new!r}")
        for kind in (ADDED, RETIRED, DROPPED):
            if f.examples.get(kind):
                lines.append(f"      {kind}: {', '.join(f.examples[kind])}")
    return lines
