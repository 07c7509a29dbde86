"""What each load changed: the raw layer's record of a night's changes, per file and per column.

Written with the load's ledger row (in the same transaction), for every loaded file:

- ``added``, ``changed``, ``retired``: the records of each kind (as the ledger counts them) and the keys of a
  few of them, out of the records of the delivery of the night before;
- ``changed`` per column: of the changed records, how many differ from their version before in that column;
- ``filled`` per column: the records of the whole file whose value is set (for a boolean: true);
- ``emptied`` per column: how many fewer records have the column set than in the delivery the marts showed
  before (the night's earlier delivery, when this one replaces it; else the night before's), out of those:
  a night that blanks phone numbers or clears a flag;
- ``dropped``: for a corrected re-delivery of a night, the records the delivery it replaced had and it does
  not (what the marts lose, when they showed the first one), out of its records.

Keys are ids, never personal data. The safety thresholds (dbt: ``int_night_checks``), ``sis-sync preview``
and the mart ``sync_changes`` read it.
"""

from __future__ import annotations

from datetime import date

from sis_sync.ingestion.ledger import RAW_SCHEMA
from sis_sync.ingestion.spec import FileSpec
from sis_sync.ingestion.versions import (
    ADDED,
    CHANGED,
    RETIRED,
    Delivery,
    base_delivery,
    deliveries,
    effective_load_ids,
    identity_columns,
)

CHANGES_TABLE = f"{RAW_SCHEMA}.load_changes"
FILLED, EMPTIED, DROPPED = "filled", "emptied", "dropped"
KINDS = (ADDED, CHANGED, RETIRED, FILLED, EMPTIED, DROPPED)
EXAMPLES = 5  # keys kept per kind and column

CHANGES_DDL = f"""
create table if not exists {CHANGES_TABLE} (
    load_id text not null,
    district_id text not null,
    export_date date not null,
    file_name text not null,
    change text not null check (change in ({", ".join(f"'{k}'" for k in KINDS)})),
    column_name text,
    records bigint not null,
    out_of bigint,
    example_keys text[] not null default '{{}}',
    recorded_at timestamptz not null default now()
);
create index if not exists load_changes_night_idx on {CHANGES_TABLE} (district_id, export_date);
"""


def record_key(spec: FileSpec, alias: str = "") -> str:
    """SQL for a record's key as text: its identity columns joined by ' / ' (ids only)."""
    prefix = f"{alias}." if alias else ""
    return " || ' / ' || ".join(f"coalesce({prefix}{c}::text, '')" for c in identity_columns(spec))


def replaced_delivery(history: list[Delivery], night: date) -> Delivery | None:
    """The night's earlier loaded delivery that a new delivery of the same night replaces, if any."""
    if history and history[0].export_date == night and history[0].load_id is not None:
        return history[0]
    return None


def column_changes_sql(spec: FileSpec, *, values: bool = False) -> tuple[list[str], str]:
    """(the columns compared, a query of one row): per non-identity column of the file, how many of a load's
    changed records differ from their version before the night, the keys of the first ``%(limit)s`` of them
    and, with ``values``, their old and new values. Parameters: ``district``, ``load``, ``loads`` (the
    effective loads of the state before the night), ``night``, ``limit``."""
    columns = [c for c in spec.column_names if c not in identity_columns(spec)]
    measures = []
    for c in columns:
        differs = f"tonight.{c} is distinct from before.{c}"
        measures.append(f"count(*) filter (where {differs})")
        measures.append(f"(array_agg({record_key(spec, 'tonight')} order by tonight._line_number)"
                        f" filter (where {differs}))[1:%(limit)s]")
        if values:
            for side in ("before", "tonight"):
                measures.append(f"(array_agg({side}.{c}::text order by tonight._line_number)"
                                f" filter (where {differs}))[1:%(limit)s]")
    return columns, f"""
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
    """


def _kinds(cur, spec: FileSpec, district_id: str, load_id: str, out_of: int | None) -> list[tuple]:
    cur.execute(
        f"""
        select _change, count(*), (array_agg({record_key(spec)} order by _line_number nulls last, 1))[1:%s]
        from {RAW_SCHEMA}.{spec.name}
        where _district_id = %s and _load_id = %s
        group by _change
        """,
        (EXAMPLES, district_id, load_id),
    )
    return [(change, None, records, out_of, keys) for change, records, keys in cur.fetchall()]


def _columns(cur, spec: FileSpec, district_id: str, load_id: str, before_loads: list[str],
             night: date, out_of: int | None) -> list[tuple]:
    columns, sql = column_changes_sql(spec)
    cur.execute(sql, {"district": district_id, "load": load_id, "loads": before_loads, "night": night,
                      "limit": EXAMPLES})
    row = cur.fetchone()
    out = []
    for i, column in enumerate(columns):
        records, keys = row[2 * i:2 * i + 2]
        if records:
            out.append((CHANGED, column, records, out_of, keys or []))
    return out


def _dropped(cur, spec: FileSpec, district_id: str, load_id: str, replaced: Delivery) -> tuple:
    """The records of the replaced load's state that the new load's state does not have: those the new load
    retires and the replaced one did not, and those the replaced one added and the new one does not have."""
    table = f"{RAW_SCHEMA}.{spec.name}"
    cur.execute(
        f"""
        with new as (
            select * from {table} where _district_id = %(district)s and _load_id = %(new)s
        ),
        old as (
            select * from {table} where _district_id = %(district)s and _load_id = %(old)s
        ),
        dropped as (
            select {record_key(spec, 'new')} as record_key from new
            where new._change = '{RETIRED}' and not exists (
                select 1 from old where old._key_hash = new._key_hash and old._change = '{RETIRED}')
            union all
            select {record_key(spec, 'old')} from old
            where old._change = '{ADDED}' and not exists (select 1 from new where new._key_hash = old._key_hash)
        )
        select count(*), (array_agg(record_key order by record_key))[1:%(limit)s] from dropped
        """,
        {"district": district_id, "new": load_id, "old": replaced.load_id, "limit": EXAMPLES},
    )
    records, keys = cur.fetchone()
    return (DROPPED, None, records, replaced.row_count, keys or [])


def _emptied(cur, district_id: str, history: list[Delivery], file_name: str,
             filled: tuple[tuple[str, int], ...]) -> list[tuple]:
    """Per column set in fewer records than in the newest delivery so far that counted them (its content's
    load: an unchanged delivery has the bytes of the one before it; a OneRoster delta counts none), how many
    fewer, out of how many."""
    loads = [d.load_id for d in history if d.load_id is not None]
    if not loads:
        return []
    cur.execute(f"select load_id, column_name, records from {CHANGES_TABLE}"
                " where district_id = %s and file_name = %s and load_id = any(%s) and change = %s",
                (district_id, file_name, loads, FILLED))
    counted: dict[str, dict[str, int]] = {}
    for load_id, column, records in cur.fetchall():
        counted.setdefault(load_id, {})[column] = records
    before = next((counted[load_id] for load_id in loads if load_id in counted), {})
    return [(EMPTIED, column, before[column] - records, before[column], [])
            for column, records in filled if before.get(column, 0) > records]


def record_load_changes(cur, spec: FileSpec, district_id: str, night: date, load_id: str,
                        filled: tuple[tuple[str, int], ...], changed: int, base_records: int | None = None,
                        delta: bool = False) -> None:
    """Record what a landed load changed (see the module docstring). Call it before the load's ledger row is
    written: the ledger's deliveries are then those before it. The changes are out of the rows of the delivery
    compared with, or ``base_records``, the records before tonight, when given (a OneRoster delta's rows are
    only the changes). A delta's rows say nothing of how many records have a column set: it records no
    ``filled`` and is never measured ``emptied`` (a blanked value it sends is a change)."""
    history = deliveries(cur, district_id, spec.file_name)
    base = base_delivery(history, night)
    out_of = base_records if base_records is not None else base.row_count if base is not None else None
    rows = _kinds(cur, spec, district_id, load_id, out_of)
    if changed and base is not None:
        rows += _columns(cur, spec, district_id, load_id, effective_load_ids(history, base.export_date), night,
                         out_of)
    if delta:  # every kind, zero too: the change record of a delta that changed nothing still exists
        rows += [(kind, None, 0, out_of, []) for kind in (ADDED, CHANGED, RETIRED)
                 if not any(row[0] == kind and row[1] is None for row in rows)]
    else:
        rows += [(FILLED, column, records, None, []) for column, records in filled]
        rows += _emptied(cur, district_id, history, spec.file_name, filled)
    replaced = replaced_delivery(history, night)
    if replaced is not None:
        rows.append(_dropped(cur, spec, district_id, load_id, replaced))
    for change, column, records, of, keys in rows:
        cur.execute(
            f"insert into {CHANGES_TABLE} (load_id, district_id, export_date, file_name, change, column_name,"
            " records, out_of, example_keys) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (load_id, district_id, night, spec.file_name, change, column, records, of, list(keys or [])),
        )
