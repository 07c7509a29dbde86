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

The raw layer's tables belong to ``sis_loader``, so that a login in that role alone runs ``sis-sync ingest``
(its idempotent DDL, the BRIN summaries and ANALYZE need the owner). The warehouse owner, who runs
``sis-sync roles``, ``nightly`` and ``build``, is made a member of ``sis_loader`` (a superuser needs nothing).
"""

from __future__ import annotations

from sis_sync.ingestion.ledger import RAW_SCHEMA

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
alter table {ACCESS_SCHEMA}.district_roles add column if not exists role_oid oid;
update {ACCESS_SCHEMA}.district_roles as mapped set role_oid = pg_roles.oid
from pg_roles where mapped.role_oid is null and pg_roles.rolname = mapped.role_name;
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
    """The role-to-district map the marts' row-level security reads (created with the raw layer; nothing is
    done when it is already there, so a role without DDL rights, the loader, can run it)."""
    cur.execute("select 1 from information_schema.columns where table_schema = %s"
                " and table_name = 'district_roles' and column_name = 'role_oid'", (ACCESS_SCHEMA,))
    if cur.fetchone() is None:
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
        cur.execute("select rolsuper from pg_roles where rolname = current_user")
        if not cur.fetchone()[0]:
            cur.execute(f"grant {LOADER_ROLE} to current_user")
        hand_raw_layer_to_loader(cur)
    conn.commit()


def hand_raw_layer_to_loader(cur) -> None:
    """Make ``sis_loader`` the owner of the raw layer's tables it does not own yet (those created since, by
    the warehouse owner: new raw tables, dlt's own). Nothing when that role does not exist or the current
    role may not hand a table over."""
    cur.execute(
        f"""
        select format('alter table %%I.%%I owner to {LOADER_ROLE}', n.nspname, c.relname)
        from pg_class as c
        inner join pg_namespace as n on c.relnamespace = n.oid
        inner join pg_roles as loader on loader.rolname = %s
        where n.nspname = %s and c.relkind in ('r', 'p') and c.relowner <> loader.oid
            and pg_has_role(current_user, c.relowner, 'member') and pg_has_role(current_user, loader.oid, 'member')
        order by c.relname
        """,
        (LOADER_ROLE, RAW_SCHEMA),
    )
    for (statement,) in cur.fetchall():
        cur.execute(statement)


def map_district(conn, role_name: str, district_id: str) -> None:
    """Restrict a role (and its members) to a district's rows in the marts; call again to add districts."""
    with conn.cursor() as cur:
        ensure_access_table(cur)
        cur.execute(f"insert into {ACCESS_SCHEMA}.district_roles (role_name, district_id, role_oid)"
                    " select %s, %s, oid from pg_roles where rolname = %s"
                    " on conflict (role_name, district_id) do update set role_oid = excluded.role_oid",
                    (role_name, district_id, role_name))
    conn.commit()
