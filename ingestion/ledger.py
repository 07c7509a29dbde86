"""The load ledger, ``raw_sis.load_ledger``: one row per delivered file per district and export night.

status:
- ``loaded``: the file was valid and what it changed was landed in ``raw_sis.<file>`` with ``_load_id = load_id``
  (versions: see :mod:`sis_sync.ingestion.versions`); ``added_count``, ``changed_count`` and ``retired_count`` say how
  many records it added, changed and retired;
- ``unchanged``: the same bytes (sha256) as the file's delivery of the night before (the newest earlier night):
  nothing was landed, ``load_id`` is NULL, row_count and min/max school_year are that delivery's;
- ``rejected``: the file breaks the spec; ``message`` names the file, line and column; ``load_id`` is NULL.

Re-running a night with the same bytes adds no row (idempotent). A file re-delivered for a night with other
bytes adds a new row: the latest row (highest ``ledger_id``) per (district_id, export_date, file_name) is that
night's delivery. Raw rows whose ``_load_id`` no ledger row names are orphans of a crashed run and are never
read.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace
from datetime import date, datetime

RAW_SCHEMA = "raw_sis"
LEDGER_TABLE = f"{RAW_SCHEMA}.load_ledger"
STATUSES = ("loaded", "unchanged", "rejected")

LEDGER_DDL = f"""
create table if not exists {LEDGER_TABLE} (
    ledger_id bigserial primary key,
    district_id text not null,
    export_date date not null,
    file_name text not null,
    sha256 text not null,
    row_count bigint,
    status text not null check (status in ('loaded', 'unchanged', 'rejected')),
    message text,
    load_id text,
    min_school_year int,
    max_school_year int,
    recorded_at timestamptz not null default now(),
    added_count bigint,
    changed_count bigint,
    retired_count bigint,
    main_school_year int
);

create index if not exists load_ledger_file_sha_idx on {LEDGER_TABLE} (district_id, file_name, sha256);
create index if not exists load_ledger_night_idx on {LEDGER_TABLE} (district_id, export_date);
"""

_COLUMNS = ("district_id", "export_date", "file_name", "sha256", "row_count", "status", "message", "load_id",
            "min_school_year", "max_school_year", "added_count", "changed_count", "retired_count",
            "main_school_year")


@dataclass(frozen=True)
class LedgerRow:
    district_id: str
    export_date: date
    file_name: str
    sha256: str
    status: str
    row_count: int | None = None
    message: str | None = None
    load_id: str | None = None
    min_school_year: int | None = None
    max_school_year: int | None = None
    added_count: int | None = None
    changed_count: int | None = None
    retired_count: int | None = None
    main_school_year: int | None = None
    ledger_id: int | None = None  # set once recorded
    recorded_at: datetime | None = None


def new_load_id() -> str:
    """A fresh load id, e.g. ``640f3c2a1b9e07c3a``: the microseconds since the epoch in hex, then 4 random hex
    digits. Opaque (the ledger says whose load it is); short, because every landed row carries it (a 33-character
    id made a big COPY ~25% slower than this one); and increasing in the order loads are landed, which keeps the
    BRIN index on ``_load_id`` tight."""
    global _last_micros
    _last_micros = max(time.time_ns() // 1000, _last_micros + 1)
    return f"{_last_micros:013x}{secrets.token_hex(2)}"


_last_micros = 0


# Columns added since the ledger was first created: a ledger of an older warehouse gets them
# (sis_sync.ingestion.raw_layer; an ALTER only when one is missing, since it locks the table).
ADDED_COLUMNS = {"added_count": "bigint", "changed_count": "bigint", "retired_count": "bigint",
                  "main_school_year": "int"}


def recorded_tonight(cur, district_id: str, export_date: date) -> set[tuple[str, str]]:
    """(file_name, sha256) pairs already recorded for this district and night: nothing to do for those."""
    cur.execute(
        f"select file_name, sha256 from {LEDGER_TABLE} where district_id = %s and export_date = %s",
        (district_id, export_date),
    )
    return {(f, s) for f, s in cur.fetchall()}


def insert_rows(cur, rows: list[LedgerRow]) -> list[LedgerRow]:
    """Insert ledger rows (in the caller's transaction); the rows with their ledger_id and recorded_at."""
    recorded = []
    for row in rows:
        assert row.status in STATUSES, row.status
        cur.execute(
            f"insert into {LEDGER_TABLE} ({', '.join(_COLUMNS)})"
            f" values ({', '.join(['%s'] * len(_COLUMNS))}) returning ledger_id, recorded_at",
            tuple(getattr(row, c) for c in _COLUMNS),
        )
        ledger_id, recorded_at = cur.fetchone()
        recorded.append(replace(row, ledger_id=ledger_id, recorded_at=recorded_at))
    return recorded


# --- the nightly attempts: what each run found for each district, delivered or not ------------------------------

ATTEMPTS_TABLE = f"{RAW_SCHEMA}.sync_attempts"
OUTCOMES = ("delivered", "missing", "incomplete", "failed")

ATTEMPTS_DDL = f"""
create table if not exists {ATTEMPTS_TABLE} (
    attempt_id bigserial primary key,
    district_id text not null,
    export_date date not null,
    outcome text not null check (outcome in ({", ".join(f"'{o}'" for o in OUTCOMES)})),
    message text,
    recorded_at timestamptz not null default now()
);
create index if not exists sync_attempts_night_idx on {ATTEMPTS_TABLE} (district_id, export_date);
"""


def record_attempt(conn, district_id: str, export_date: date, outcome: str, message: str | None = None) -> None:
    """Record what a run found for a district's night: a delivery, nothing (missing), an export left
    incomplete, or a failure to fetch or ingest it. A night with no export is thus a row, not a silence."""
    assert outcome in OUTCOMES, outcome
    with conn.cursor() as cur:
        cur.execute(f"insert into {ATTEMPTS_TABLE} (district_id, export_date, outcome, message)"
                    " values (%s, %s, %s, %s)", (district_id, export_date, outcome, message))
    conn.commit()
