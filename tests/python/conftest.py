"""Shared fixtures: a real Postgres database per test, and the project's paths.

Tests talk to the PostgreSQL server the PG* variables name, else the machine's on 127.0.0.1:5432 (user
postgres); when neither answers, the suite starts a server of its own, the embedded Postgres, in
``.sis-sync/test-pg`` (apart from the one ``make run`` uses), and leaves it running for the next run (``sis-sync
stop`` does not touch it; ``make clean`` removes it). Each test works in a database of its own, created here
and dropped at the end, so parallel runs and a developer's warehouse never meet.
"""

from __future__ import annotations

import inspect
import os
import shutil

import psycopg2
import pytest

from sis_sync import PROJECT_ROOT
from sis_sync.db import PgSettings, ensure_database, start_embedded
from sis_sync.ingestion.workdirs import default_archive_dir, default_pipelines_dir

# The tests write each export themselves just before ingesting it: they do not wait for the files to settle
# (the rule is tested in test_hostile_deliveries.py with a writer still at work).
os.environ.setdefault("SIS_SYNC_SETTLE_SECONDS", "0")


TEST_SERVER_DIR = PROJECT_ROOT / ".sis-sync" / "test-pg"


def _machine_server_lets_us_in() -> bool:
    """The machine's server on 127.0.0.1:5432 answers and takes user postgres without a password (a Debian
    cluster asks for one over TCP unless told otherwise: then the suite runs its own)."""
    try:
        psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=5).close()
    except psycopg2.OperationalError:
        return False
    return True


def pytest_configure(config):
    """With no server named and none on 127.0.0.1:5432 that lets user postgres in, start the suite's own, and
    name it in PG* for every worker (xdist's workers start after this, with this environment)."""
    if os.environ.get("PGHOST") or os.environ.get("PGPORT") or hasattr(config, "workerinput"):
        return  # a server named, or a worker of a controller that named one in PG*
    if _machine_server_lets_us_in():
        return
    server = start_embedded(TEST_SERVER_DIR)
    os.environ.update(PGHOST=server.host, PGPORT=str(server.port), PGUSER=server.user)


def _server_settings() -> PgSettings:
    return PgSettings(
        host=os.environ.get("PGHOST") or "127.0.0.1",
        port=int(os.environ.get("PGPORT") or 5432),
        user=os.environ.get("PGUSER") or "postgres",
        password=os.environ.get("PGPASSWORD") or "",
        database="postgres",
    )


def _drop_database(server: PgSettings, name: str) -> None:
    admin = psycopg2.connect(host=server.host, port=server.port, user=server.user,
                             password=server.password, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'drop database if exists "{name}" with (force)')
    admin.close()


@pytest.fixture(scope="session")
def project_root():
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def pg_server() -> PgSettings:
    return _server_settings()


def _remove_warehouse(server: PgSettings, settings: PgSettings) -> None:
    """Drop the database, with the delivered files it archived and dlt's working folder of it."""
    _drop_database(server, settings.database)
    shutil.rmtree(default_archive_dir(settings), ignore_errors=True)
    shutil.rmtree(default_pipelines_dir(settings), ignore_errors=True)


def _worker_database() -> str:
    """The database name of this test process (an xdist worker runs its tests one after another), made anew
    for each test. One name, because dbt parses the whole project again whenever its connection changes (the
    database name is part of its parse state): with a name per test, every test's first build paid that
    parse (6 s) again."""
    return f"sis_test_{os.getpid()}"


@pytest.fixture
def fresh_db(pg_server):
    """A new, empty warehouse database for one test; exported to the environment (PG*, dlt) meanwhile."""
    name = _worker_database()
    settings = pg_server.for_database(name)
    _remove_warehouse(pg_server, settings)  # left by an interrupted run
    ensure_database(settings)
    saved = {k: os.environ.get(k) for k in (
        "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "DESTINATION__POSTGRES__CREDENTIALS")}
    settings.export()
    try:
        yield settings
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _remove_warehouse(pg_server, settings)


@pytest.fixture
def db_conn(fresh_db):
    conn = psycopg2.connect(fresh_db.dsn)
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture(scope="session", autouse=True)
def _dbt_paths(tmp_path_factory):
    """dbt writes its target and logs into a folder of the test session, not the developer's target/."""
    base = tmp_path_factory.mktemp("dbt")
    names = ("DBT_TARGET_PATH", "DBT_LOG_PATH", "DBT_SEND_ANONYMOUS_USAGE_STATS", "DBT_WRITE_JSON",
             "DBT_LOG_LEVEL_FILE")
    saved = {k: os.environ.get(k) for k in names}
    # no run_results/manifest json and no file log: a quarter of a small build's time, and nobody reads them
    os.environ.update(DBT_TARGET_PATH=str(base / "target"), DBT_LOG_PATH=str(base / "logs"),
                      DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_WRITE_JSON="false", DBT_LOG_LEVEL_FILE="none")
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


# Tests that run dbt (a build takes 10-20 s) are `slow`; `make test-fast` leaves them out.
_BUILDS_THE_MARTS = ("run_nightly(", "dbt_build(", "run_build(", '"nightly"', '"build"', "run_bench(",
                     "dbtRunner(", "wh.night(")


# The longest tests (3 to 4 minutes each) start first: xdist hands the tests out in order, and one of them
# started last would keep a worker busy while the other has nothing left to do.
_LONGEST_FIRST = (
    "test_seasons.py::test_a_summer_and_a_rollover",
    "test_spark.py::test_three_nights_give_the_same_marts_on_spark_as_on_postgres",
    "test_versions.py::test_ten_nights_of_changes_equal_a_full_refresh_and_a_restore",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        try:
            source = inspect.getsource(item.function)
        except (OSError, TypeError):
            continue
        if any(marker in source for marker in _BUILDS_THE_MARTS):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: not item.nodeid.endswith(_LONGEST_FIRST))  # stable: the rest keep their order
