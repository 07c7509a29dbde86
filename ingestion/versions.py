"""The raw layer's versions: what a night's file changed against the state before it.

A raw table holds, per district, one row per *version* of a record: a record (identified by the spec's key,
plus ``school_year`` in files that have one) is stored the night it first appears (``_change = 'added'``),
again each night its content changes (``'changed'``), and once more, as a tombstone holding only its
identity, the night a delivered file no longer has it (``'retired'``). So a night costs what it changed,
not the size of the export. Each version carries two 64-bit hashes (``_key_hash`` of the identity,
``_row_hash`` of the set values with their columns' names: :func:`content_hashes`), which is what the next night
is compared by.

The state of a file *as of* night N is, for each identity, its newest version among the district's
*effective* loads of the nights up to N, unless that version is a tombstone. The effective load of a night is
the newest ``loaded`` or ``unchanged`` ledger row of that night (a corrected re-delivery replaces the night's
earlier one; ``unchanged`` adds nothing). Retirement is scoped: a file retires only records of the school
years it carries (``min_school_year .. max_school_year``; files without a school year: all of the district's
records), and a file that is not delivered retires nothing.

Nights are applied in order. A night older than one already loaded for the same file is refused
(:func:`later_delivery`), since its changes would be computed against a state that is not its own.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from sis_sync.ingestion.hashing import key_hashes
from sis_sync.ingestion.ledger import LEDGER_TABLE, RAW_SCHEMA
from sis_sync.ingestion.spec import ARROW_TYPES, FileSpec

ADDED, CHANGED, RETIRED = "added", "changed", "retired"
_HASH = pa.int64()  # stored as bigint: the uint64 hash's bits


def identity_columns(spec: FileSpec) -> tuple[str, ...]:
    """What identifies a record across nights: the spec's key, and the school year where the file has one."""
    extra = ("school_year",) if "school_year" in spec.column_names and "school_year" not in spec.key else ()
    return (*spec.key, *extra)


def _hashable(column: pa.Array) -> pa.Array:
    """The column as a type :func:`key_hashes` reads (text, date, integer)."""
    if pa.types.is_boolean(column.type):
        return pc.cast(column, pa.int64())
    if pa.types.is_decimal(column.type):
        return pc.cast(column, pa.string())
    if pa.types.is_timestamp(column.type):
        return pc.cast(column, pa.int64())
    return column


def identity_hashes(spec: FileSpec, columns: list[pa.Array]) -> pa.Array:
    """``_key_hash`` per record of typed columns in spec order."""
    at = [spec.column_names.index(c) for c in identity_columns(spec)]
    return pc.cast(key_hashes([_hashable(columns[i]) for i in at]), _HASH, safe=False)


# The version of the content hash a raw table's ``_row_hash`` values were made by, kept as the comment of that
# column (sis_sync.ingestion.raw_layer rehashes a table of another version once).
ROW_HASH_VERSION = "row hash 2: the set values, each with the name of its column"


def _name_salt(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1


def content_hashes(spec: FileSpec, columns: list[pa.Array]) -> pa.Array:
    """``_row_hash`` per record of typed columns in spec order: the sum (modulo 2^64) of one hash per set value,
    of the value with its column's name; an empty value (NULL) adds nothing. So a column added to the spec, or
    sent by a district for the first time, changes the hash of no record that leaves it empty, and the order of
    the spec's columns does not matter. A NULL is still told apart from every value (a value's hash is never 0
    but by chance)."""
    total = None
    for column_spec, column in zip(spec.columns, columns, strict=True):
        salt = pa.repeat(pa.scalar(_name_salt(column_spec.name), pa.int64()), len(column))
        value = key_hashes([salt, _hashable(column)])
        if column.null_count:
            value = pc.if_else(pc.is_null(column), pa.scalar(0, value.type), value)
        total = value if total is None else pc.add(total, value)  # unsigned: wraps around
    return pc.cast(total, _HASH, safe=False)


@dataclass(frozen=True)
class Delivery:
    """A night's effective delivery of one file (see the module docstring)."""

    export_date: date
    sha256: str
    status: str  # loaded | unchanged
    load_id: str | None
    row_count: int | None
    min_school_year: int | None
    max_school_year: int | None
    main_school_year: int | None = None


def deliveries(cur, district_id: str, file_name: str) -> list[Delivery]:
    """The effective delivery of each night of a district's file, newest night first."""
    cur.execute(
        f"""
        select distinct on (export_date)
            export_date, sha256, status, case when status = 'loaded' then load_id end,
            row_count, min_school_year, max_school_year, main_school_year
        from {LEDGER_TABLE}
        where district_id = %s and file_name = %s and status in ('loaded', 'unchanged')
        order by export_date desc, ledger_id desc
        """,
        (district_id, file_name),
    )
    return [Delivery(*row) for row in cur.fetchall()]


def later_delivery(history: list[Delivery], night: date) -> Delivery | None:
    """The newest delivery of a night after ``night``, if any (then ``night`` is out of order)."""
    return history[0] if history and history[0].export_date > night else None


def base_delivery(history: list[Delivery], night: date) -> Delivery | None:
    """The delivery a night's file is compared with: the newest of an earlier night."""
    return next((d for d in history if d.export_date < night), None)


def state_sql(spec: FileSpec, *, columns: str = "*", prefix: str = "", only_keys: bool = False,
              from_year: bool = False) -> str:
    """A query for a file's state as of a night (parameters ``<prefix>district``, ``<prefix>night`` and
    ``<prefix>loads``, the effective load ids: :func:`effective_load_ids`; with ``only_keys``, ``keys``: the
    ``_key_hash`` values to read; with ``from_year``, ``from_year``: only the records of that school year and
    later). Its rows: ``columns`` of the current (not retired) versions."""
    identity = ", ".join(identity_columns(spec))
    district, night, loads = (f"%({prefix}{name})s" for name in ("district", "night", "loads"))
    keys = " and _key_hash = any(%(keys)s)" if only_keys else ""
    keys += " and school_year >= %(from_year)s" if from_year else ""
    return f"""
        select {columns} from (
            select distinct on (_key_hash, {identity}) *
            from {RAW_SCHEMA}.{spec.name}
            where _district_id = {district} and _load_id = any({loads}) and _export_date <= {night}{keys}
            order by _key_hash, {identity}, _export_date desc
        ) as versions
        where _change <> '{RETIRED}'
    """


def state_params(district_id: str, history: list[Delivery], night: date, prefix: str = "") -> dict:
    """The parameters of :func:`state_sql` for the state as of ``night``."""
    return {f"{prefix}district": district_id, f"{prefix}night": night,
            f"{prefix}loads": effective_load_ids(history, night)}


def effective_load_ids(history: list[Delivery], night: date) -> list[str]:
    """The load ids whose versions make up the state as of ``night``."""
    return [d.load_id for d in history if d.load_id is not None and d.export_date <= night]


def _postgres_csv(types: dict[str, pa.DataType]) -> pcsv.ConvertOptions:
    """How Arrow reads Postgres's CSV: NULL is an unquoted empty field and nothing else (a value "NA" or "null"
    stays a value), booleans are t and f."""
    return pcsv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=True,
                               quoted_strings_can_be_null=False, true_values=["t"], false_values=["f"])


def _copy_out(conn, query: str, params: dict, types: dict[str, pa.DataType]) -> pa.Table:
    """A query's rows as an Arrow table, streamed out by COPY through a temporary file (never the whole CSV text
    in memory beside the table)."""
    with conn.cursor() as cur, tempfile.TemporaryFile() as spool:
        cur.copy_expert(f"copy ({cur.mogrify(query, params).decode()}) to stdout with (format csv, header true)",
                        spool)
        spool.seek(0)
        return pcsv.read_csv(spool, parse_options=pcsv.ParseOptions(newlines_in_values=True),
                             convert_options=_postgres_csv(types))


@dataclass(frozen=True)
class BaseState:
    """A file's current versions before tonight: their hashes (and school year), as one Arrow table; the
    identity columns of a few of them are read when needed (:meth:`identities`, for tombstones)."""

    table: pa.Table
    identities: Callable[[pa.Array], pa.Table] | None = None
    from_year: int | None = None  # only the records of this school year and later (None: every record)

    @classmethod
    def empty(cls, spec: FileSpec) -> BaseState:
        fields = [pa.field("_key_hash", _HASH), pa.field("_row_hash", _HASH)]
        if "school_year" in spec.column_names:
            fields.append(pa.field("school_year", pa.int64()))
        return cls(pa.table([pa.array([], f.type) for f in fields], schema=pa.schema(fields)))

    @classmethod
    def read(cls, conn, spec: FileSpec, district_id: str, history: list[Delivery], night: date,
             from_year: int | None = None) -> BaseState:
        """The state as of ``night``, read through COPY (the whole state streams as CSV, typed by Arrow). With
        ``from_year`` (files with a school year), only the records of that school year and later: a file
        compares and retires only records of the school years it carries, so the years kept as history need
        not be read when tonight's file cannot carry them (see :meth:`covers`)."""
        if "school_year" not in spec.column_names:
            from_year = None
        if not effective_load_ids(history, night):
            return cls.empty(spec)
        names = cls.empty(spec).table.column_names
        params = {**state_params(district_id, history, night), "from_year": from_year}
        scoped = from_year is not None
        table = _copy_out(conn, state_sql(spec, columns=", ".join(names), from_year=scoped), params,
                          {name: _HASH if name.startswith("_") else pa.int64() for name in names})
        identity = identity_columns(spec)
        types = {c: ARROW_TYPES[spec.column(c).type] for c in identity}

        def identities(keys: pa.Array) -> pa.Table:
            return _copy_out(conn, state_sql(spec, columns=", ".join([*identity, "_key_hash"]), only_keys=True,
                                             from_year=scoped),
                             {**params, "keys": keys.to_pylist()}, {**types, "_key_hash": _HASH})

        return cls(table.select(names), identities, from_year)

    def covers(self, min_school_year: int | None) -> bool:
        """Whether this state holds every record a file whose oldest school year is ``min_school_year`` can
        match or retire."""
        return self.from_year is None or (min_school_year is not None and min_school_year >= self.from_year)

    def __len__(self) -> int:
        return self.table.num_rows


class Differ:
    """Compares a night's records, batch by batch, with the base state: which to land, as what."""

    def __init__(self, spec: FileSpec, base: BaseState):
        self.spec = spec
        self.base = base
        self._base_keys = base.table.column("_key_hash").combine_chunks()
        self._base_rows = base.table.column("_row_hash").combine_chunks()
        self._seen: list[pa.Array] = []
        self.added = 0
        self.changed = 0
        self.retired = 0

    def batch(self, columns: list[pa.Array]) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
        """(mask of the records to land, their ``_change``, ``_key_hash``, ``_row_hash``) for one batch."""
        keys = identity_hashes(self.spec, columns)
        rows = content_hashes(self.spec, columns)
        self._seen.append(keys)
        at = pc.index_in(keys, value_set=self._base_keys)
        is_new = pc.is_null(at)
        before = pc.take(self._base_rows, pc.fill_null(at, 0)) if len(self._base_rows) else rows
        is_changed = pc.and_(pc.invert(is_new), pc.not_equal(before, rows))
        land = pc.or_(is_new, is_changed)
        change = pc.if_else(is_new, pa.scalar(ADDED), pa.scalar(CHANGED))
        dead = self._marked_deleted(columns)
        if dead is not None:  # a record marked for deletion: retired when it is live, else nothing
            is_retired = pc.and_(dead, pc.invert(is_new))
            is_new, is_changed = pc.and_not(is_new, dead), pc.and_not(is_changed, dead)
            land = pc.or_(pc.or_(is_new, is_changed), is_retired)
            change = pc.if_else(dead, pa.scalar(RETIRED), change)
            self.retired += pc.sum(pc.cast(is_retired, pa.int64())).as_py() or 0
        self.added += pc.sum(pc.cast(is_new, pa.int64())).as_py() or 0
        self.changed += pc.sum(pc.cast(is_changed, pa.int64())).as_py() or 0
        return land, change, keys, rows

    def _marked_deleted(self, columns: list[pa.Array]) -> pa.Array | None:
        """Which records the file marks as deleted (OneRoster's ``status`` of ``tobedeleted``), or None."""
        if self.spec.status_column is None:
            return None
        status = columns[self.spec.column_names.index(self.spec.status_column)]
        return pc.fill_null(pc.equal(pc.utf8_lower(status), "tobedeleted"), False)

    def retirements(self, min_year: int | None, max_year: int | None) -> pa.Table:
        """The base's records in the file's scope that the file does not have: their identity columns and
        ``_key_hash``."""
        base = self.base.table
        if not len(base):
            return base
        seen = pa.chunked_array(self._seen, type=_HASH) if self._seen else pa.chunked_array([], type=_HASH)
        gone = pc.invert(pc.is_in(base.column("_key_hash"), value_set=seen.combine_chunks()))
        if "school_year" in base.column_names:
            if min_year is None:
                return base.slice(0, 0)
            year = base.column("school_year")
            gone = pc.and_(gone, pc.and_(pc.greater_equal(year, min_year), pc.less_equal(year, max_year)))
        retired = base.filter(gone)
        self.retired += retired.num_rows
        if not retired.num_rows:
            return retired
        return self.base.identities(retired.column("_key_hash").combine_chunks())


def rehash_versions(conn, spec: FileSpec) -> int:
    """Give every version of a file's raw table the ``_row_hash`` of :func:`content_hashes` (a table hashed by an
    earlier version of it), in the caller's transaction; the number of versions rehashed. Streamed: the versions
    go out by COPY and their new hashes come back by COPY, a batch at a time."""
    names = list(spec.column_names)
    types = {c.name: ARROW_TYPES[c.type] for c in spec.columns} | {"_load_id": pa.string(), "_key_hash": _HASH}
    table = f"{RAW_SCHEMA}.{spec.name}"
    done = 0
    with conn.cursor() as cur, tempfile.TemporaryFile() as versions, tempfile.TemporaryFile() as hashes:
        cur.execute("set local datestyle = 'ISO, YMD'")  # dates as Arrow reads them
        cur.copy_expert(f"copy (select {', '.join(names)}, _load_id, _key_hash from {table}"
                        f" where _change <> '{RETIRED}') to stdout with (format csv, header true)", versions)
        versions.seek(0)
        reader = pcsv.open_csv(versions, parse_options=pcsv.ParseOptions(newlines_in_values=True),
                               convert_options=_postgres_csv(types))
        for batch in reader:
            rows = content_hashes(spec, [batch.column(name) for name in names])
            pcsv.write_csv(pa.table({"_load_id": batch.column("_load_id"), "_key_hash": batch.column("_key_hash"),
                                     "_row_hash": rows}), hashes,
                           write_options=pcsv.WriteOptions(include_header=False))
            done += batch.num_rows
        hashes.seek(0)
        cur.execute("create temp table rehashed (_load_id text, _key_hash bigint, _row_hash bigint)")
        cur.copy_expert("copy rehashed from stdin with (format csv)", hashes)
        cur.execute(f"update {table} as versions set _row_hash = rehashed._row_hash from rehashed"
                    " where versions._load_id = rehashed._load_id and versions._key_hash = rehashed._key_hash"
                    f" and versions._change <> '{RETIRED}'")
        cur.execute("drop table rehashed")
        cur.execute(f"comment on column {table}._row_hash is '{ROW_HASH_VERSION}'")
    return done
