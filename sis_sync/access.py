"""Who may read what: roles for the loader, the BI readers, and optional one-district readers.

- ``sis_loader``  lands raw data: uses and writes schema ``raw_sis``; cannot read ``marts`` (nor staging).
- ``sis_reader``  is what BI tools and the communication product use: reads ``marts`` only, nothing raw.
- ``access.district_roles`` maps a role to the district(s) it may see, by the role's identity (its oid: the
  mapping survives a rename). A mart row is visible to a role mapped there only when its district is one of
  the role's; roles not mapped see every district (row-level security, applied to every mart by the
  ``secure_mart`` post-hook on each build). The login role counts as well as the current one: a mapped
  login that switches to a role it holds (``set role sis_reader``) still sees only its districts.

All roles are NOLOGIN group roles: grant them to the login roles people and tools use, e.g.
``create role tableau login password '...' in role sis_reader``. ``sis-sync roles`` creates them; it needs a
role allowed to create roles (``CREATEROLE``) and is safe to run again.

The raw layer's tables belong to the warehouse owner, who runs ``sis-sync roles``, ``nightly``, ``build`` and
``approve``. A login in ``sis_loader`` runs ``sis-sync ingest`` alone: it appends versions, ledger rows and
change records and nothing more (no update or delete of what is recorded, no approval); the rights are
:func:`sis_sync.ingestion.raw_layer.grant_loader_rights`.
"""

from __future__ import annotations

from sis_sync.ingestion import raw_layer
from sis_sync.ingestion.ledger import RAW_SCHEMA
from sis_sync.ingestion.raw_layer import ACCESS_SCHEMA, LOADER_ROLE

READER_ROLE = "sis_reader"
__all__ = ["ACCESS_SCHEMA", "LOADER_ROLE", "READER_ROLE", "ensure_roles", "map_district"]


def _create_role_sql(name: str) -> str:
    return f"""
        do $$ begin
            if not exists (select 1 from pg_roles where rolname = '{name}') then
                create role {name} nologin;
            end if;
        end $$;
    """


def ensure_roles(conn) -> None:
    """Create the loader and reader roles and grant them their schemas (idempotent)."""
    with conn.cursor() as cur:
        for role in (READER_ROLE, LOADER_ROLE):
            cur.execute(_create_role_sql(role))
        cur.execute("select rolsuper from pg_roles where rolname = current_user")
        if not cur.fetchone()[0]:  # so that the owner takes back the raw tables an older loader owned
            cur.execute(f"grant {LOADER_ROLE} to current_user")
    conn.commit()
    raw_layer.ensure_raw_layer(conn)
    with conn.cursor() as cur:
        cur.execute("create schema if not exists marts")
        raw_layer.grant_loader_rights(cur)
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
        cur.execute(f"insert into {ACCESS_SCHEMA}.district_roles (role_name, district_id, role_oid)"
                    " select %s, %s, oid from pg_roles where rolname = %s"
                    " on conflict (role_name, district_id) do update set role_oid = excluded.role_oid",
                    (role_name, district_id, role_name))
    conn.commit()
