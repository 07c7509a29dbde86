"""The raw layer's tables, created and migrated in one place: what the dbt sources read and what ingestion and
the commands write.

Every run prepares the raw layer (:func:`ensure_raw_layer`), so the sources exist even for files never
delivered. The catalog is read once and a statement runs only for what is missing: a table (with its indexes),
a column added since the table was made (the ledger's, the settings', a spec file's), the statistics
function. A warehouse that has everything runs no DDL and takes no lock on its tables.

Who may do what (the roles: :mod:`sis_sync.access`): the warehouse owner, who prepares the layer, owns every
table. The loader role (``sis_loader``) appends: it may read and insert into the versions, the ledger, the
change records, the attempts and the phone map, and write the districts' settings; it may not update or
delete any of them, and may only read the approvals (releasing a held night is a person's act, through the
owner's ``sis-sync approve``). The planner statistics a landed load needs (the BRIN summary and ANALYZE, an
owner's right) come from :data:`STATISTICS_FUNCTION`, which runs them on the raw tables alone with the owner's
rights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sis_sync import builds
from sis_sync.config import ConfigError
from sis_sync.ingestion import changes, ledger, phones, safety
from sis_sync.ingestion.ledger import RAW_SCHEMA
from sis_sync.ingestion.spec import RAW_META_COLUMNS, ExportSpec, FileSpec, raw_spec
from sis_sync.ingestion.versions import ROW_HASH_VERSION, rehash_versions

# The advisory lock that keeps two runs' DDL from racing (taken only when something is missing).
_DDL_LOCK = 0x5155_0001

LOADER_ROLE = "sis_loader"  # the role that lands raw data (sis_sync.access)
ACCESS_SCHEMA = "access"
STATISTICS_FUNCTION = f"{RAW_SCHEMA}.refresh_load_statistics"

# The role-to-district map the marts' row-level security reads (sis_sync.access), made with the raw layer.
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


@dataclass(frozen=True)
class Table:
    """A table of the raw layer: its DDL (``create ... if not exists``, indexes included), the indexes that DDL
    makes, and the columns added since it was first made (name -> definition), added when missing."""

    name: str  # schema-qualified
    ddl: str
    indexes: tuple[str, ...] = ()
    added_columns: dict[str, str] = field(default_factory=dict)
    loader: str = "select, insert"  # the loader role's rights


def raw_table_ddl(spec: FileSpec) -> str:
    """``create table if not exists`` for one file's table of versions, with its ``_load_id`` index."""
    columns = [f"    {c.name} {c.pg_type}" for c in spec.columns]
    columns += [f"    {name} {pg_type}" for name, pg_type in RAW_META_COLUMNS.items()]
    table = f"{RAW_SCHEMA}.{spec.name}"
    return (
        f"create table if not exists {table} (\n" + ",\n".join(columns) + "\n);\n"
        # BRIN: rows of one load are appended together, so a block-range index finds them; unlike a btree
        # it costs (almost) nothing per landed row (a btree made a big COPY ~50% slower).
        f"create index if not exists {spec.name}__load_id_idx on {table}"
        " using brin (_load_id) with (autosummarize = on);\n"
        f"comment on column {table}._row_hash is '{ROW_HASH_VERSION}';\n"
    )


def tables(spec: ExportSpec) -> list[Table]:
    """Every table of the raw layer, in the order they are made."""
    bookkeeping = [
        Table(ledger.LEDGER_TABLE, ledger.LEDGER_DDL, ("load_ledger_file_sha_idx", "load_ledger_night_idx"),
              ledger.ADDED_COLUMNS),
        Table(changes.CHANGES_TABLE, changes.CHANGES_DDL, ("load_changes_night_idx",)),
        Table(ledger.ATTEMPTS_TABLE, ledger.ATTEMPTS_DDL, ("sync_attempts_night_idx",)),
        Table(safety.SETTINGS_TABLE, safety.SETTINGS_DDL, (), safety.ADDED_SETTINGS,
              loader="select, insert, update"),
        Table(safety.APPROVALS_TABLE, safety.APPROVALS_DDL, loader="select"),
        Table(phones.PHONES_TABLE, phones.PHONES_DDL),
        Table(builds.BUILDS_TABLE, builds.BUILDS_DDL, loader="select"),
    ]
    versions = [
        Table(f"{RAW_SCHEMA}.{f.name}", raw_table_ddl(f), (f"{f.name}__load_id_idx",),
              {c.name: c.pg_type for c in f.columns})
        for f in spec.files
    ]
    return bookkeeping + versions


STATISTICS_DDL = f"""
create or replace function {STATISTICS_FUNCTION}(table_name text, column_names text[])
returns void language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
begin
    -- only a plain table of versions with its _load_id BRIN index, only its own columns: nothing else runs
    if not exists (
        select 1
        from pg_catalog.pg_class as t
        inner join pg_catalog.pg_namespace as n on t.relnamespace = n.oid
        inner join pg_catalog.pg_index as i on i.indrelid = t.oid
        inner join pg_catalog.pg_class as ix on i.indexrelid = ix.oid
        inner join pg_catalog.pg_am as am on ix.relam = am.oid
        where n.nspname = '{RAW_SCHEMA}' and t.relname = table_name and t.relkind = 'r'
            and ix.relname = table_name || '__load_id_idx' and am.amname = 'brin'
    ) or exists (
        select 1 from pg_catalog.unnest(column_names) as c
        where not exists (
            select 1 from pg_catalog.pg_attribute as a
            where a.attrelid = pg_catalog.format('%I.%I', '{RAW_SCHEMA}', table_name)::pg_catalog.regclass
                and a.attname = c and a.attnum > 0 and not a.attisdropped)
    ) then
        raise exception 'not a table of versions and its columns: %', table_name;
    end if;
    perform pg_catalog.brin_summarize_new_values(
        pg_catalog.format('%I.%I', '{RAW_SCHEMA}', table_name || '__load_id_idx')::pg_catalog.regclass);
    if pg_catalog.cardinality(column_names) > 0 then
        execute pg_catalog.format('analyze %I.%I (%s)', '{RAW_SCHEMA}', table_name,
            (select pg_catalog.string_agg(pg_catalog.format('%I', c), ', ') from pg_catalog.unnest(column_names) as c));
    end if;
end $$;
revoke all on function {STATISTICS_FUNCTION}(text, text[]) from public;
"""


def _catalog(cur) -> dict[str, set[str]]:
    """The raw layer as it is: each relation of the raw and access schemas (tables, indexes, functions) with its
    columns."""
    cur.execute(
        """
        select n.nspname || '.' || c.relname,
            coalesce(array_agg(a.attname::text) filter (where a.attname is not null), '{}'::text[])
        from pg_class as c
        inner join pg_namespace as n on c.relnamespace = n.oid
        left join pg_attribute as a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname in (%(raw)s, %(access)s)
        group by 1
        union all
        select n.nspname || '.' || p.proname, '{}'::text[]
        from pg_proc as p
        inner join pg_namespace as n on p.pronamespace = n.oid
        where n.nspname = %(raw)s
        union all
        select nspname::text, '{}'::text[] from pg_namespace where nspname in (%(raw)s, %(access)s)
        """,
        {"raw": RAW_SCHEMA, "access": ACCESS_SCHEMA},
    )
    return {name: set(columns) for name, columns in cur.fetchall()}


def _missing(present: dict[str, set[str]], spec: ExportSpec) -> list[str]:
    """The statements that make the raw layer whole: none when it is."""
    statements = []
    if RAW_SCHEMA not in present:
        statements.append(f"create schema {RAW_SCHEMA}")
    for table in tables(spec):
        schema = table.name.split(".")[0]
        if table.name not in present or any(f"{schema}.{index}" not in present for index in table.indexes):
            statements.append(table.ddl)  # idempotent: makes the table, or only the index it lacks
        if table.name in present:
            statements += _added_columns(table, present[table.name])
    if "role_oid" not in present.get(f"{ACCESS_SCHEMA}.district_roles", set()):
        statements.append(ACCESS_DDL)
    if STATISTICS_FUNCTION not in present:
        statements.append(STATISTICS_DDL)
    return statements


def _added_columns(table: Table, columns: set[str]) -> list[str]:
    return [f"alter table {table.name} add column {name} {definition}"
            for name, definition in table.added_columns.items() if name not in columns]


def ensure_raw_layer(conn, spec: ExportSpec | None = None) -> bool:
    """Create what the raw layer lacks, give its owner back the tables the loader owns, and rehash the versions of
    a table hashed by an earlier content hash (one transaction); True when something was done. Nothing runs, and
    no lock is taken, when the layer is whole. Only the warehouse owner changes the raw layer: another role (the
    loader) that finds work to do is refused (ConfigError), naming what to run."""
    spec = spec or raw_spec()
    with conn.cursor() as cur:
        if not _missing(_catalog(cur), spec) and not _reclaims(cur, spec) and not _stale_hashes(cur, spec):
            conn.commit()
            return False
        _refuse_unless_owner(cur)
        cur.execute("select pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
        present = _catalog(cur)  # again, under the lock: another run may have made it meanwhile
        stale = _stale_hashes(cur, spec)  # before the DDL, which marks the tables it makes as hashed anew
        statements = _missing(present, spec) + _reclaims(cur, spec)
        for statement in statements:
            cur.execute(statement)
        if statements:
            _grant_to_loader(cur, spec)
        if phones.PHONES_TABLE not in present:
            phones.read_new_numbers(cur, spec=spec)  # a warehouse from before the map: the values already landed
        safety.carry_over_legacy_holds(cur)
    for file_spec in stale:
        rehash_versions(conn, file_spec)
    conn.commit()
    return bool(statements or stale)


def _stale_hashes(cur, spec: ExportSpec) -> list[FileSpec]:
    """The files whose table of versions was hashed by an earlier content hash (its ``_row_hash`` comment)."""
    cur.execute(
        """
        select c.relname
        from pg_class as c
        inner join pg_namespace as n on c.relnamespace = n.oid
        inner join pg_attribute as a on a.attrelid = c.oid and a.attname = '_row_hash'
        where n.nspname = %s and c.relname = any(%s) and col_description(c.oid, a.attnum) is distinct from %s
        """,
        (RAW_SCHEMA, [f.name for f in spec.files], ROW_HASH_VERSION),
    )
    stale = {name for (name,) in cur.fetchall()}
    return [f for f in spec.files if f.name in stale]


def _refuse_unless_owner(cur) -> None:
    """Raise ConfigError unless the current role may act as the owner of the raw layer (or there is none yet and
    it may create it)."""
    cur.execute(
        """
        select coalesce(
            (select pg_has_role(current_user, nspowner, 'usage') from pg_namespace where nspname = %s),
            has_database_privilege(current_database(), 'create'))
        """,
        (RAW_SCHEMA,),
    )
    if not cur.fetchone()[0]:
        raise ConfigError(f"the raw layer needs changes only the warehouse owner may make (new tables or columns,"
                          f" or its first preparation): run `sis-sync nightly`, `build` or `roles` as the owner"
                          f" first; {LOADER_ROLE} only appends")


def _grant_to_loader(cur, spec: ExportSpec) -> None:
    """The loader role's rights on the raw layer (when that role exists: ``sis-sync roles`` makes it)."""
    cur.execute("select 1 from pg_roles where rolname = %s", (LOADER_ROLE,))
    if cur.fetchone() is None:
        return
    grant_loader_rights(cur, spec)


def grant_loader_rights(cur, spec: ExportSpec | None = None) -> None:
    """Grant ``sis_loader`` exactly its rights on every raw table (and take back any other): appending, never
    changing or deleting what is recorded; the approvals and the builds it may only read. The tables of dlt's
    own state (``_dlt_*``) it reads and appends to as well."""
    spec = spec or raw_spec()
    cur.execute(f"revoke create on schema {RAW_SCHEMA} from {LOADER_ROLE}")  # it creates no table of its own
    cur.execute(f"grant usage on schema {RAW_SCHEMA} to {LOADER_ROLE}")
    cur.execute(f"grant select, insert on all tables in schema {RAW_SCHEMA} to {LOADER_ROLE}")
    for table in tables(spec):
        cur.execute(f"revoke all on {table.name} from {LOADER_ROLE}")
        cur.execute(f"grant {table.loader} on {table.name} to {LOADER_ROLE}")
    cur.execute(f"grant usage, select on all sequences in schema {RAW_SCHEMA} to {LOADER_ROLE}")
    cur.execute(f"grant execute on function {STATISTICS_FUNCTION}(text, text[]) to {LOADER_ROLE}")


DLT_TABLES = ("_dlt_loads", "_dlt_version", "_dlt_pipeline_state")  # dlt's own state, in the raw schema


def _reclaims(cur, spec: ExportSpec) -> list[str]:
    """The statements that give the owner of the raw schema back the tables of the raw layer ``sis_loader`` owns
    (the loader owned the whole raw layer before it was held to appending): only the layer's own tables by name,
    and none unless the current role may act as that owner. A table the loader fitted with a trigger, a rule, a
    policy or an index on an expression is not taken over (the owner would run the loader's code): a person
    looks first (ConfigError)."""
    names = [table.name.split(".", 1)[1] for table in tables(spec) if table.name.startswith(f"{RAW_SCHEMA}.")]
    cur.execute(
        """
        select c.relname, c.relhastriggers or c.relhasrules or c.relrowsecurity or exists (
                select 1 from pg_index as i where i.indrelid = c.oid and (i.indexprs is not null
                    or i.indpred is not null)),
            format('alter table %%I.%%I owner to %%I', n.nspname, c.relname, schema_owner.rolname)
        from pg_class as c
        inner join pg_namespace as n on c.relnamespace = n.oid
        inner join pg_roles as schema_owner on n.nspowner = schema_owner.oid
        inner join pg_roles as loader on c.relowner = loader.oid
        where n.nspname = %s and c.relkind = 'r' and loader.rolname = %s and c.relname = any(%s)
            and schema_owner.oid <> loader.oid and pg_has_role(current_user, schema_owner.oid, 'member')
            and pg_has_role(current_user, loader.oid, 'member')
        order by c.relname
        """,
        (RAW_SCHEMA, LOADER_ROLE, [*names, *DLT_TABLES]),
    )
    rows = cur.fetchall()
    fitted = [name for name, suspicious, _ in rows if suspicious]
    if fitted:
        raise ConfigError(f"{RAW_SCHEMA}.{', '.join(fitted)}: owned by {LOADER_ROLE} and fitted with a trigger, rule,"
                          " policy or expression index: look at it, then give it to the owner by hand")
    return [statement for _, _, statement in rows]
