"""Where the commands that read the marts (``status``, ``preview``, ``approve``, ``report``, and the nightly
job's holds) read them: the Postgres warehouse, or a Spark target (``--target``). Their queries are written
once, in SQL both engines run, with values written in as literals (:func:`literal`)."""

from __future__ import annotations

import contextlib

from sis_sync import spark


class Marts:
    """Queries on the marts of a Postgres connection, or of a Spark target (``spark``, ``spark_thrift``)."""

    def __init__(self, conn=None, target: str | None = None):
        if (conn is None) == (target is None):
            raise ValueError("the marts of a connection or of a Spark target")
        self.conn, self.target = conn, target

    @classmethod
    def of(cls, conn_or_marts) -> Marts:
        """A Marts as given, or the marts of a Postgres connection."""
        return conn_or_marts if isinstance(conn_or_marts, Marts) else cls(conn=conn_or_marts)

    def rows(self, sql: str) -> list[tuple]:
        if self.target is not None:
            return spark.rows(sql, self.target)
        with self.conn.cursor() as cur:
            cur.execute(sql)
            found = [tuple(row) for row in cur.fetchall()]
        self.conn.commit()
        return found

    def exists(self, table: str) -> bool:
        """Whether ``schema.name`` is a table or a view (none before the first build)."""
        if self.target is not None:
            return spark.table_exists(table, self.target)
        return self.rows(f"select to_regclass({literal(table)}) is not null")[0][0]


@contextlib.contextmanager
def marts_of(settings, target: str | None):
    """The marts of the target (None: the Postgres warehouse of ``settings``, on a connection of their own)."""
    if target is not None:
        yield Marts(target=target)
        return
    from sis_sync import db

    with contextlib.closing(db.connect(settings)) as conn:
        yield Marts(conn=conn)


def literal(text: str) -> str:
    """A string literal both engines read alike. Neither a quote nor a backslash is allowed: the engines
    escape them differently (Postgres doubles a quote, Spark reads a backslash as an escape and two quoted
    strings side by side as one). District ids, file names and dates have neither."""
    if "\\" in text or "'" in text:
        raise ValueError(f"not an id: {text!r} (a quote or a backslash)")
    return f"'{text}'"
