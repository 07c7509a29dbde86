"""The builds of the marts, ``raw_sis.sync_builds``: one row per `dbt build` a command started, with its run
date. The marts show the night of the newest row, so a build for an earlier date (a scheduler's retry, a late
export's backfill) would roll them back: :func:`rolls_back` says so, and the commands then build nothing
unless asked to roll back (``sis-sync build --date D --roll-back``, a full refresh as of D).
"""

from __future__ import annotations

import datetime as dt

from sis_sync.config import ConfigError
from sis_sync.ingestion.ledger import RAW_SCHEMA

BUILDS_TABLE = f"{RAW_SCHEMA}.sync_builds"

BUILDS_DDL = f"""
create table if not exists {BUILDS_TABLE} (
    build_id bigserial primary key,
    run_date date not null,
    full_refresh boolean not null,
    started_at timestamptz not null default now(),
    started_by text not null default current_user
);
"""


def last_build(cur) -> dt.date | None:
    """The run date of the newest build started (what the marts show), or None before the first."""
    cur.execute(f"select to_regclass('{BUILDS_TABLE}') is not null")
    if not cur.fetchone()[0]:
        return None
    cur.execute(f"select run_date from {BUILDS_TABLE} order by build_id desc limit 1")
    row = cur.fetchone()
    return row[0] if row else None


def refuse_future(run_date: dt.date, today: dt.date | None = None) -> None:
    """A build for a night that has not come yet (after tomorrow, in any time zone) is refused (ConfigError):
    once recorded, it would make every nightly build until then a build that rolls the marts back."""
    today = today or dt.date.today()
    if run_date > today + dt.timedelta(days=1):
        raise ConfigError(f"a build for {run_date} is for a night that has not come yet (today is {today})")


def rolls_back(cur, run_date: dt.date) -> str | None:
    """Why a build for ``run_date`` would roll the marts back (one line), or None when it goes forward."""
    shown = last_build(cur)
    if shown is None or run_date >= shown:
        return None
    return (f"the marts already show the night of {shown}: a build for {run_date} would roll them back, so"
            f" nothing was built (to show {run_date} again: sis-sync build --date {run_date} --roll-back)")


def start_build(conn, run_date: dt.date, *, full_refresh: bool = False, roll_back: bool = False) -> str | None:
    """Record a build for ``run_date`` (a full refresh or not) as it starts (a build that fails half-way has
    changed some marts already) and return None; or, when it would roll the marts back and ``roll_back`` is not
    asked for, record nothing and return why (one line). A night that has not come yet is refused
    (:func:`refuse_future`)."""
    refuse_future(run_date)
    with conn.cursor() as cur:
        why = None if roll_back else rolls_back(cur, run_date)
        if why is None:
            cur.execute(f"insert into {BUILDS_TABLE} (run_date, full_refresh) values (%s, %s)",
                        (run_date, full_refresh))
    conn.commit()
    return why
