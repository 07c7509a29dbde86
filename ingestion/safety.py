"""Safety holds: what Python keeps for the thresholds that dbt applies.

The rules live in dbt, beside the season decision: ``int_load_measures`` and ``int_night_measures`` measure
every loaded file of every night against the delivery before it (records removed, records changed per
column family, values emptied; the seed ``safety_measures`` says which), over the district's thresholds,
and over the nights since the last approval (the cumulative rule); ``int_night_checks`` adds the holds by
rule, and an unreleased failing night holds its model group (``int_sync_nights``) until ``sis-sync
approve`` releases it (``macros/holds.sql``, the one definition of the release). The mart ``sync_holds``
lists them; the view ``int_open_holds`` those still held, approvals since the last build included.

Python only feeds and reads it:

- ``raw_sis.district_settings``: each district's thresholds from ``districts.yml``, written by every ingest
  (the defaults are dbt's: the ``safety_thresholds`` var in ``dbt_project.yml``);
- ``raw_sis.sync_approvals``: one row per file a person released with ``sis-sync approve``; releasing a night
  releases that file's earlier held nights too;
- :func:`held_files` reads the holds of a night from dbt's ``int_open_holds`` (those not approved since).
"""

from __future__ import annotations

import datetime as dt
import json

from sis_sync.config import District
from sis_sync.ingestion.ledger import RAW_SCHEMA

SETTINGS_TABLE = f"{RAW_SCHEMA}.district_settings"
APPROVALS_TABLE = f"{RAW_SCHEMA}.sync_approvals"
LEGACY_HOLDS_TABLE = f"{RAW_SCHEMA}.sync_holds"  # before the rules moved to dbt: holds and approvals
OPEN_HOLDS = "intermediate.int_open_holds"
HOLDS_MART = "marts.sync_holds"
CALENDAR_CONFLICTS = "intermediate.int_calendar_conflicts"

SETTINGS_DDL = f"""
create table if not exists {SETTINGS_TABLE} (
    district_id text primary key,
    thresholds jsonb not null default '{{}}',
    recorded_at timestamptz not null default now(),
    no_delivery jsonb not null default '{{}}',
    country text not null default 'US'
);
"""
APPROVALS_DDL = f"""
create table if not exists {APPROVALS_TABLE} (
    approval_id bigserial primary key,
    district_id text not null,
    export_date date not null,
    file_name text not null,
    approved_at timestamptz not null default now(),
    approved_by text not null default current_user
);
"""

# Columns the settings table gained after it was first created (added by sis_sync.ingestion.raw_layer).
ADDED_SETTINGS = {"no_delivery": "jsonb not null default '{}'", "country": "text not null default 'US'"}


def carry_over_legacy_holds(cur) -> None:
    """Approvals recorded before the rules moved to dbt (``raw_sis.sync_holds``) become approvals; that table
    goes. Only a plain table the raw schema's owner owns is read (never one another role made)."""
    cur.execute(
        """
        select 1 from pg_class as c
        inner join pg_namespace as n on c.relnamespace = n.oid
        where n.nspname = %s and c.relname = %s and c.relkind = 'r' and c.relowner = n.nspowner
        """,
        tuple(LEGACY_HOLDS_TABLE.split(".")),
    )
    if cur.fetchone() is None:
        return
    cur.execute(
        f"""
        insert into {APPROVALS_TABLE} (district_id, export_date, file_name, approved_at)
        select district_id, export_date, file_name, coalesce(approved_at, recorded_at)
        from {LEGACY_HOLDS_TABLE}
        where status = 'approved'
        """
    )
    cur.execute(f"drop table {LEGACY_HOLDS_TABLE}")


def record_districts(conn, districts: list[District]) -> None:
    """Write the districts' settings where dbt reads them: the thresholds (what is not set takes dbt's
    defaults), the nights nothing is expected (no_delivery) and the country phone numbers are read in. Every
    district of a run gets a row, so dbt knows which districts to expect a night from. A district whose
    country changed has its landed phone values read again in the new one."""
    from sis_sync.ingestion.phones import read_new_numbers

    with conn.cursor() as cur:
        for district in districts:
            cur.execute(f"select country from {SETTINGS_TABLE} where district_id = %s", (district.id,))
            before = cur.fetchone()
            cur.execute(
                f"""
                insert into {SETTINGS_TABLE} (district_id, thresholds, no_delivery, country) values (%s, %s, %s, %s)
                on conflict (district_id) do update
                set thresholds = excluded.thresholds, no_delivery = excluded.no_delivery,
                    country = excluded.country, recorded_at = now()
                where ({SETTINGS_TABLE}.thresholds, {SETTINGS_TABLE}.no_delivery, {SETTINGS_TABLE}.country)
                    is distinct from (excluded.thresholds, excluded.no_delivery, excluded.country)
                """,
                (district.id, json.dumps(district.thresholds or {}, sort_keys=True),
                 json.dumps(district.no_delivery or {}, sort_keys=True), district.country),
            )
            if before is not None and before[0] != district.country:
                read_new_numbers(cur, district_id=district.id)
    conn.commit()


def held_files(marts, district_id: str, night: dt.date) -> list[tuple[str, str]]:
    """(file_name, message) of each file the district's night holds: dbt's open holds up to the night
    (``intermediate.int_open_holds``: the last build's holds less what has been approved since), the first
    failing night of each file with its first check. A warehouse last built before that view existed has only
    the mart's holds as of its build (``marts.sync_holds``), until its next build. ``marts``: a Postgres
    connection, or the marts of a Spark target (:class:`sis_sync.marts.Marts`)."""
    from sis_sync.marts import Marts, literal

    marts = Marts.of(marts)
    if marts.exists(OPEN_HOLDS):
        holds = f"select district_id, night_date, file_name, hold_rank, message from {OPEN_HOLDS}"
    elif marts.exists(HOLDS_MART):
        holds = (f"select district_id, export_date as night_date, file_name, hold_rank, message from {HOLDS_MART}"
                 " where is_held")
    else:
        return []
    return marts.rows(f"""
        select file_name, message from (
            select
                holds.file_name,
                holds.message,
                row_number() over (
                    partition by holds.file_name order by holds.night_date, holds.hold_rank
                ) as nth
            from ({holds}) as holds
            where holds.district_id = {literal(district_id)} and holds.night_date <= date '{night.isoformat()}'
        ) as first_holds
        where nth = 1
        order by file_name
    """)


def calendar_problem(marts, district_id: str) -> str | None:
    """Why the district's calendar (the seasons seed) is invalid, as the last build found, or None."""
    from sis_sync.marts import Marts, literal

    marts = Marts.of(marts)
    if not marts.exists(CALENDAR_CONFLICTS):
        return None
    found = marts.rows(f"select message from {CALENDAR_CONFLICTS} where district_id = {literal(district_id)}")
    return found[0][0] if found else None


def approve(conn, district_id: str, night: dt.date, marts=None) -> list[tuple[str, str]]:
    """Release the files the district's night holds (and their earlier held nights; as the marts of ``marts``
    hold them, default those of ``conn``); returns (file_name, message) of each. The approvals are written on
    ``conn``, the warehouse's; the next build applies them."""
    held = held_files(marts or conn, district_id, night)
    with conn.cursor() as cur:
        for file_name, _message in held:
            cur.execute(f"insert into {APPROVALS_TABLE} (district_id, export_date, file_name) values (%s, %s, %s)",
                        (district_id, night, file_name))
    conn.commit()
    return held
