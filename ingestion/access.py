"""Who may read what: roles for the loader, the BI readers, and optional one-district readers.

- ``sis_loader``  lands raw data: uses and writes schema ``raw_sis``; cannot read ``marts`` (nor staging).
- ``sis_reader``  is what BI tools and the communication product use: reads ``marts`` only, nothing raw.
- ``access.district_roles`` maps a role to the district(s) it may see. A mart row is visible to a role
  mapped there only when its district is one of the role's; roles not mapped see every district
  (row-level security, applied to every mart by the ``secure_mart`` post-hook on each build).

All roles are NOLOGIN group roles: grant them to the login roles people and tools use, e.g.
``create role tableau login password '...' in role sis_reader``. ``sis-sync roles`` creates them; it needs a
role allowed to create roles (``CREATEROLE``) and is safe to run again.
"""

from __future__ import annotations

from ingestion.ledger import RAW_SCHEMA

READER_ROLE = "sis_reader"
LOADER_ROLE = "sis_loader"
ACCESS_SCHEMA = "access"

ACCESS_DDL = f"""
create schema if not exists {ACCESS_SCHEMA};
create table if not exists {ACCESS_SCHEMA}.district_roles (
    role_name text not null,
    district_id text not null,
    primary key (role_name, district_id)
);
grant usage on schema {ACCESS_SCHEMA} to public;
grant select on {ACCESS_SCHEMA}.district_roles to public;
"""


def _create_role_sql(name: str) -> str:
    return f"""
        do $$ begin
            if not exists (select 1 from pg_roles where rolname = '{name}') then
                create role {name} nologin;
            end if;
        end $$;
    """


def ensure_access_table(cur) -> None:
    """The role-to-district map the marts' row-level security reads (created with the raw layer)."""
    cur.execute(ACCESS_DDL)


def ensure_roles(conn) -> None:
    """Create the loader and reader roles and grant them their schemas (idempotent)."""
    with conn.cursor() as cur:
        for role in (READER_ROLE, LOADER_ROLE):
            cur.execute(_create_role_sql(role))
        ensure_access_table(cur)
        cur.execute(f"create schema if not exists {RAW_SCHEMA}")
        cur.execute("create schema if not exists marts")
        cur.execute(f"grant usage, create on schema {RAW_SCHEMA} to {LOADER_ROLE}")
        cur.execute(f"grant select, insert on all tables in schema {RAW_SCHEMA} to {LOADER_ROLE}")
        cur.execute(f"grant usage, select on all sequences in schema {RAW_SCHEMA} to {LOADER_ROLE}")
        cur.execute(f"alter default privileges in schema {RAW_SCHEMA} grant select, insert on tables to {LOADER_ROLE}")
        cur.execute(f"alter default privileges in schema {RAW_SCHEMA} grant usage, select on sequences "
                    f"to {LOADER_ROLE}")
        cur.execute(f"revoke all on schema marts from {LOADER_ROLE}")
        cur.execute(f"grant usage on schema marts to {READER_ROLE}")
        cur.execute(f"grant select on all tables in schema marts to {READER_ROLE}")
    conn.commit()


def map_district(conn, role_name: str, district_id: str) -> None:
    """Restrict a role (and its members) to a district's rows in the marts; call again to add districts."""
    with conn.cursor() as cur:
        ensure_access_table(cur)
        cur.execute(f"insert into {ACCESS_SCHEMA}.district_roles (role_name, district_id) values (%s, %s) "
                    "on conflict do nothing", (role_name, district_id))
    conn.commit()
