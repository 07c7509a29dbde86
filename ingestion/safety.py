"""Safety thresholds: hold a night that would wipe out a large share of a district's data.

After a night's files are landed, the state of each delivered students, enrollments and contacts file as of
tonight is compared with its state as of the district's previous good night of the same file (the newest
earlier delivery that is not itself held; states: :mod:`ingestion.versions`):

- students: active students of the baseline that are missing or no longer active (deactivated or removed);
- enrollments (roster rows): rows of the baseline's school year that are missing from the new file; when the
  new file carries a newer school year (rollover), the drop in the number of open rows instead, since last
  year's rows legitimately disappear. Rows ending on their term's end are not a loss: every semester ends;
- contacts: contact-student links of the baseline that are missing.

When the share lost exceeds the district's threshold (default 10%; 60% in the two weeks after a rollover,
when a new school year legitimately changes a lot), a row in ``raw_sis.sync_holds`` holds the load: the
season logic (``macros/seasons.sql``) does not let that night refresh the file's model group, so the
marts keep yesterday's state and ``sync_history`` says ``held`` with the counts. ``sis-sync approve``
releases it. A missing file is never compared: it means "no delivery tonight", never "delete everything".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ingestion.ledger import LEDGER_TABLE, RAW_SCHEMA, LedgerRow
from ingestion.spec import load_spec
from ingestion.versions import Delivery, deliveries, effective_load_ids, state_params, state_sql

HOLDS_TABLE = f"{RAW_SCHEMA}.sync_holds"

DEFAULT_THRESHOLDS = {"share": 0.10, "rollover_share": 0.60, "rollover_days": 14}

HOLDS_DDL = f"""
create table if not exists {HOLDS_TABLE} (
    hold_id bigserial primary key,
    district_id text not null,
    export_date date not null,
    file_name text not null,
    load_id text not null,
    baseline_load_id text not null,
    measure text not null,
    baseline_count bigint not null,
    lost_count bigint not null,
    threshold numeric not null,
    status text not null default 'held' check (status in ('held', 'approved')),
    message text not null,
    recorded_at timestamptz not null default now(),
    approved_at timestamptz,
    unique (district_id, export_date, file_name, load_id)
);
"""

CHECKED_FILES = ("students.csv", "enrollments.csv", "contacts.csv")


def _states(file_name: str, columns: str) -> str:
    """CTEs ``baseline`` and ``tonight``: the file's state as of the baseline night and as of tonight."""
    spec = load_spec().file(file_name)
    return (f"baseline as ({state_sql(spec, columns=columns, prefix='b_')}),\n"
            f"tonight as ({state_sql(spec, columns=columns, prefix='t_')})")


_STUDENTS_LOST = f"""
with {_states("students.csv", "student_id, school_year, enrollment_status")},
baseline_active as (
    select student_id from baseline
    where lower(enrollment_status) = 'active' and school_year = (select max(school_year) from baseline)
),
tonight_active as (
    select student_id from tonight where lower(enrollment_status) = 'active'
)
select
    (select count(*) from baseline_active),
    (select count(*) from baseline_active where not exists (
        select 1 from tonight_active where tonight_active.student_id = baseline_active.student_id))
"""

_ROSTER_SAME_YEAR_LOST = f"""
with {_states("enrollments.csv", "student_id, section_id, start_date, school_year")},
baseline_year as (
    select * from baseline where school_year = (select max(school_year) from baseline)
)
select
    (select count(*) from baseline_year),
    (select count(*) from baseline_year where not exists (
        select 1 from tonight
        where tonight.student_id = baseline_year.student_id
          and tonight.section_id = baseline_year.section_id
          and tonight.start_date = baseline_year.start_date
          and tonight.school_year = baseline_year.school_year))
"""

_ROSTER_OPEN_ROWS = f"""
with {_states("enrollments.csv", "end_date, school_year")},
open_rows as (
    select 'baseline' as side, end_date, school_year from baseline
    where school_year = (select max(school_year) from baseline)
    union all
    select 'tonight', end_date, school_year from tonight
    where school_year = (select max(school_year) from tonight)
)
select
    count(*) filter (where side = 'baseline'),
    count(*) filter (where side = 'tonight')
from open_rows
where end_date is null or end_date >= %(t_night)s
"""

_CONTACTS_LOST = f"""
with {_states("contacts.csv", "contact_id, student_id")}
select
    (select count(*) from baseline),
    (select count(*) from baseline where not exists (
        select 1 from tonight
        where tonight.contact_id = baseline.contact_id and tonight.student_id = baseline.student_id))
"""


@dataclass(frozen=True)
class Hold:
    district_id: str
    export_date: dt.date
    file_name: str
    load_id: str
    baseline_load_id: str
    measure: str
    baseline_count: int
    lost_count: int
    threshold: float

    @property
    def share(self) -> float:
        return self.lost_count / self.baseline_count if self.baseline_count else 0.0

    @property
    def message(self) -> str:
        return (f"held: {self.lost_count} of {self.baseline_count} {self.measure} ({self.share:.1%}) would be "
                f"deactivated or removed, over the {self.threshold:.0%} threshold; release with "
                f"`sis-sync approve --district {self.district_id} --date {self.export_date}`")


def ensure_holds(cur) -> None:
    cur.execute(f"create schema if not exists {RAW_SCHEMA}")
    cur.execute(HOLDS_DDL)


def thresholds_for(configured: dict | None) -> dict:
    merged = dict(DEFAULT_THRESHOLDS)
    merged.update({k: v for k, v in (configured or {}).items() if v is not None})
    return merged


def _baseline(cur, row: LedgerRow, history: list[Delivery]) -> Delivery | None:
    """The previous good delivery of the file: the newest earlier night's, not held."""
    cur.execute(
        f"select export_date from {HOLDS_TABLE}"
        " where district_id = %s and file_name = %s and export_date < %s and status = 'held'",
        (row.district_id, row.file_name, row.export_date),
    )
    held = {night for (night,) in cur.fetchall()}
    return next((d for d in history if d.export_date < row.export_date and d.export_date not in held), None)


def _in_rollover_window(cur, district_id: str, night: dt.date, days: int) -> bool:
    """Whether the district's SIS moved to a newer school year within `days` before (or on) the night."""
    cur.execute(
        f"""
        with students as (
            select export_date, max_school_year from {LEDGER_TABLE}
            where district_id = %s and file_name = 'students.csv' and status in ('loaded', 'unchanged')
              and export_date <= %s and max_school_year is not null
        ),
        newest as (select max(max_school_year) as school_year from students)
        select min(students.export_date),
               exists (select 1 from students, newest where students.max_school_year < newest.school_year)
        from students, newest
        where students.max_school_year = newest.school_year
        """,
        (district_id, night),
    )
    first_seen, had_older = cur.fetchone()
    return bool(had_older and first_seen is not None and (night - first_seen).days <= days)


def _measure(cur, row: LedgerRow, history: list[Delivery], baseline: Delivery) -> tuple[str, int, int]:
    """(what is counted, how many the baseline had, how many tonight's state lost) for one checked file."""
    params = {**state_params(row.district_id, history, baseline.export_date, "b_"),
              **state_params(row.district_id, history, row.export_date, "t_")}
    if row.file_name == "students.csv":
        cur.execute(_STUDENTS_LOST, params)
        return ("active students", *cur.fetchone())
    if row.file_name == "contacts.csv":
        cur.execute(_CONTACTS_LOST, params)
        return ("contact links", *cur.fetchone())
    if (baseline.max_school_year is not None and row.max_school_year is not None
            and row.max_school_year > baseline.max_school_year):
        cur.execute(_ROSTER_OPEN_ROWS, params)
        before, after = cur.fetchone()
        return ("open roster rows", before, max(0, before - after))
    cur.execute(_ROSTER_SAME_YEAR_LOST, params)
    return ("roster rows", *cur.fetchone())


def _night_rows(cur, district_id: str, night: dt.date) -> list[LedgerRow]:
    """The night's delivery of each checked file (the newest ledger row per file)."""
    cur.execute(
        f"""
        select distinct on (file_name) file_name, sha256, status, load_id, max_school_year
        from {LEDGER_TABLE}
        where district_id = %s and export_date = %s and file_name = any(%s)
        order by file_name, ledger_id desc
        """,
        (district_id, night, list(CHECKED_FILES)),
    )
    return [LedgerRow(district_id=district_id, export_date=night, file_name=f, sha256=sha, status=status,
                      load_id=load_id, max_school_year=year)
            for f, sha, status, load_id, year in cur.fetchall()]


def check_night(conn, district_id: str, night: dt.date, thresholds: dict | None = None) -> list[Hold]:
    """Compare the night's loaded files with their baselines; record and return the holds.

    Reads the night from the ledger, not from what this run loaded, so a rerun after a crash between the
    ledger write and this check still checks the night. Recording a hold twice is a no-op.
    """
    limits = thresholds_for(thresholds)
    holds: list[Hold] = []
    with conn.cursor() as cur:
        ensure_holds(cur)
        # The states' row counts are estimated at a few (a distinct-on over the versions, then a filter), and
        # Postgres then nested-loops one state over the other: 100k students took minutes, not a second.
        cur.execute("set local enable_nestloop = off")
        for row in _night_rows(cur, district_id, night):
            if row.file_name not in CHECKED_FILES or row.status not in ("loaded", "unchanged"):
                continue
            history = deliveries(cur, district_id, row.file_name)
            baseline = _baseline(cur, row, history)
            if baseline is None:
                continue
            measure, before, lost = _measure(cur, row, history, baseline)
            # the loads whose versions make each state (an unchanged night's is an earlier night's load)
            load_id = effective_load_ids(history, row.export_date)[0]
            baseline_load = effective_load_ids(history, baseline.export_date)[0]
            if load_id == baseline_load:
                continue
            rollover = _in_rollover_window(cur, row.district_id, row.export_date, int(limits["rollover_days"]))
            threshold = float(limits["rollover_share"] if rollover else limits["share"])
            if before and lost / before > threshold:
                hold = Hold(row.district_id, row.export_date, row.file_name, load_id, baseline_load,
                            measure, before, lost, threshold)
                cur.execute(
                    f"""
                    insert into {HOLDS_TABLE} (district_id, export_date, file_name, load_id, baseline_load_id,
                        measure, baseline_count, lost_count, threshold, message)
                    values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                    on conflict (district_id, export_date, file_name, load_id) do nothing
                    """,
                    (hold.district_id, hold.export_date, hold.file_name, hold.load_id, hold.baseline_load_id,
                     hold.measure, hold.baseline_count, hold.lost_count, hold.threshold, hold.message),
                )
                holds.append(hold)
    conn.commit()
    return holds


def held_files(conn, district_id: str, night: dt.date) -> list[tuple[str, str]]:
    """(file_name, message) of the district's night's holds not released yet."""
    with conn.cursor() as cur:
        ensure_holds(cur)
        cur.execute(f"select file_name, message from {HOLDS_TABLE}"
                    " where district_id = %s and export_date = %s and status = 'held' order by file_name",
                    (district_id, night))
        held = cur.fetchall()
    conn.commit()
    return held


def approve(conn, district_id: str, night: dt.date) -> list[tuple[str, str]]:
    """Release the held loads of a district's night; returns (file_name, message) of each released hold."""
    with conn.cursor() as cur:
        ensure_holds(cur)
        cur.execute(
            f"""
            update {HOLDS_TABLE} set status = 'approved', approved_at = now()
            where district_id = %s and export_date = %s and status = 'held'
            returning file_name, message
            """,
            (district_id, night),
        )
        released = cur.fetchall()
    conn.commit()
    return released
