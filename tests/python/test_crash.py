"""Crash safety (issue 5, point 4): the process is killed for real (SIGKILL) in the middle of its work, then
run again: nothing is lost, nothing is duplicated, the ledger and the marts are consistent.

- during download: tests/python/test_delivery.py::test_sftp_kill_9_mid_download_leaves_no_truncated_file;
- during load: `sis-sync ingest` killed while it COPYs a raw table, and killed after every raw table landed but
  before the ledger rows were committed. To kill it at exactly that point every time, the test holds a lock on
  the table the process is about to write (a COPY or the ledger INSERT then waits on it), kills the process
  while it waits, and only then releases the lock;
- during `dbt build`: `sis-sync nightly` killed while dbt writes the marts; the rerun's marts are compared row
  for row with those of an uninterrupted run on a copy of the same warehouse.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import psycopg2
import pytest
from dbt.cli.main import dbtRunner
from sample_truth import truth

from sis_sync import PROJECT_ROOT
from sis_sync.ingestion import workdirs
from sis_sync.ingestion.raw_layer import ensure_raw_layer
from sis_sync.ingestion.spec import load_spec
from sis_sync.nightly import ingest_districts
from sis_sync.project import mart_names
from sis_sync.sample import write_export

SPEC = load_spec()
NIGHT1 = dt.date(2026, 3, 16)
NIGHT2 = dt.date(2026, 3, 17)


def _env(settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PGHOST=settings.host, PGPORT=str(settings.port), PGUSER=settings.user,
               PGPASSWORD=settings.password, PGDATABASE=settings.database,
               DESTINATION__POSTGRES__CREDENTIALS=settings.dsn)
    return env


def _start(tmp_path: Path, name: str, settings, *args) -> subprocess.Popen:
    """`sis-sync ARGS` against ``settings``' database, its output in tmp_path/<name>.{out,err}."""
    return subprocess.Popen(
        [sys.executable, "-m", "sis_sync.cli", *map(str, args)], cwd=PROJECT_ROOT, env=_env(settings),
        stdout=(tmp_path / f"{name}.out").open("wb"), stderr=(tmp_path / f"{name}.err").open("wb"))


def _finish(proc: subprocess.Popen, tmp_path: Path, name: str, timeout: float = 120) -> None:
    code = proc.wait(timeout)
    assert code == 0, (f"{name} exited {code}:\n" + (tmp_path / f"{name}.out").read_text()
                       + (tmp_path / f"{name}.err").read_text()[-3000:])


def _autocommit(settings):
    conn = psycopg2.connect(settings.dsn)
    conn.autocommit = True
    return conn


def _rows(conn, sql: str, *args):
    with conn.cursor() as cur:
        cur.execute(sql, args or None)
        return cur.fetchall()


def _scalar(conn, sql: str, *args):
    return _rows(conn, sql, *args)[0][0]


def _kill_when(proc: subprocess.Popen, monitor, database: str, condition: str, ready=None,
               timeout: float = 300) -> str:
    """SIGKILL ``proc`` as soon as a backend of its database matches ``condition`` (SQL over
    pg_stat_activity) and ``ready()`` (if given) is true; the statement that backend was running. The
    timeout only bounds a run that never gets there: a nightly reaches a mart's statement after its ingest,
    seeds and upstream models, which on a loaded two-core machine took over a minute."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"the process ended (status {proc.returncode}) before it could be killed"
        assert time.monotonic() < deadline, f"no backend matched {condition} in {timeout}s"
        seen = _rows(monitor, "select query from pg_stat_activity where datname = %s"
                              f" and pid <> pg_backend_pid() and ({condition})", database)
        if seen and (ready is None or ready()):
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    return seen[0][0]


def _wait_until_alone(monitor, database: str, spare: tuple[int, ...] = (), timeout: float = 30) -> None:
    """Wait until the killed process's backends have noticed it is gone (and rolled back what was open)."""
    deadline = time.monotonic() + timeout
    while _scalar(monitor, "select count(*) from pg_stat_activity where datname = %s"
                           " and pid <> pg_backend_pid() and not (pid = any(%s))", database, list(spare)):
        assert time.monotonic() < deadline, "the killed process's backends are still there"
        time.sleep(0.05)


# --- during load ---------------------------------------------------------------------------------------------


LOAD_STUDENTS = 1000


@pytest.mark.parametrize(
    ("blocked", "waiting"),
    [("students", "query ilike 'copy %%students%%'"),
     ("load_ledger", "query ilike 'insert into raw_sis.load_ledger%%'")],
    ids=["mid-copy", "landed-before-ledger"])
def test_kill_during_load_then_rerun(fresh_db, tmp_path, blocked, waiting):
    district = "lincoln"
    drop = tmp_path / "drop"
    folder = write_export(drop, district_id=district, export_date=NIGHT1, students=LOAD_STUDENTS)
    t = truth(district, NIGHT1, LOAD_STUDENTS)
    expected = t.files  # rows per delivered file
    assert set(expected) == {p.name for p in folder.glob("*.csv")} - {"manifest.csv"}
    tables = {name: SPEC.file(name).name for name in expected}

    try:
        conn = psycopg2.connect(fresh_db.dsn)
        ensure_raw_layer(conn)  # the tables exist before the run, so that the test can lock one
        conn.close()
        monitor = _autocommit(fresh_db)
        locker = psycopg2.connect(fresh_db.dsn)  # a transaction: the lock is held until the rollback below
        try:
            with locker.cursor() as cur:
                # SHARE: the run's `create index if not exists` and its reads pass; its COPY / INSERT waits.
                cur.execute(f"lock table raw_sis.{blocked} in share mode")

            def others_landed() -> bool:
                # Kill only once every other file's rows are committed: the crash leaves orphan rows behind.
                return all(_scalar(monitor, f"select count(*) from raw_sis.{table}") == expected[name]
                           for name, table in tables.items() if table != blocked)

            proc = _start(tmp_path, "killed", fresh_db, "ingest", "--drop", drop, "--date", NIGHT1)
            _kill_when(proc, monitor, fresh_db.database, f"wait_event_type = 'Lock' and {waiting}",
                       ready=others_landed)
        finally:
            locker.rollback()
            locker.close()
        _wait_until_alone(monitor, fresh_db.database, (monitor.get_backend_pid(),))

        # What the crash left: no ledger row; the rows it committed carry load ids no ledger row names.
        assert _scalar(monitor, "select count(*) from raw_sis.load_ledger") == 0
        landed = {name: _scalar(monitor, f"select count(*) from raw_sis.{table}") for name, table in tables.items()}
        if blocked == "students":
            assert landed == {**expected, "students.csv": 0}
        else:
            assert landed == expected
        assert (folder / "students.csv").is_file()  # nothing delivered is touched

        rerun = _start(tmp_path, "rerun", fresh_db, "ingest", "--drop", drop, "--date", NIGHT1)
        _finish(rerun, tmp_path, "rerun")

        # Exactly one ledger row per delivered file, each naming exactly its file's rows.
        ledger = _rows(monitor, "select file_name, status, load_id, row_count from raw_sis.load_ledger")
        assert sorted(r[0] for r in ledger) == sorted(expected)
        for file_name, status, load_id, row_count in ledger:
            assert status == "loaded" and row_count == expected[file_name]
            named = _scalar(monitor, f"select count(*) from raw_sis.{tables[file_name]} where _load_id = %s", load_id)
            assert named == row_count, file_name
            orphans = _scalar(monitor, f"select count(*) from raw_sis.{tables[file_name]} where _load_id <> %s",
                              load_id)
            assert orphans == landed[file_name], file_name  # the crashed run's rows, never named by the ledger

        # The marts read only what the ledger names: they hold the export once, as the generator says.
        _finish(_start(tmp_path, "build", fresh_db, "build", "--date", NIGHT1), tmp_path, "build")
        active = {r[0] for r in _rows(monitor, "select student_id from marts.dim_students where is_active")}
        assert active == set(t.active_student_ids)
        assert _scalar(monitor, "select count(*) from marts.fct_roster where school_year = %s",
                       t.school_year) == t.roster_rows
        assert dict(_rows(monitor, "select student_id, count(*) from marts.fct_student_contacts group by 1")) \
            == t.contacts_per_student
        assert _scalar(monitor, "select count(*) from marts.dim_contacts") == t.contact_count
        assert _scalar(monitor, "select count(*) from marts.fct_attendance") == t.attendance_rows
        assert _scalar(monitor, "select count(*) from marts.dim_staff") == t.staff_count
        monitor.close()
    finally:
        shutil.rmtree(workdirs.default_pipelines_dir(fresh_db), ignore_errors=True)


# --- during dbt build ----------------------------------------------------------------------------------------


BUILD_STUDENTS = 200
BUILD_DISTRICTS = ("lincoln", "adams")


def _mart_digests(settings) -> dict[tuple[str, str], tuple[int, str]]:
    """(mart, district) -> (rows, md5 of the rows in order): equal digests, equal marts."""
    digests = {}
    with closing(_autocommit(settings)) as conn:
        for table in mart_names():
            for district_id, rows, md5 in _rows(
                    conn, f"select t.district_id, count(*), md5(string_agg(t::text, E'\\n' order by t::text))"
                          f" from marts.{table} as t group by t.district_id"):
                digests[(table, district_id)] = (rows, md5)
    return digests


def _relations(settings, schema: str) -> set[str]:
    with closing(_autocommit(settings)) as conn:
        return {r[0] for r in _rows(conn, "select c.relname from pg_class as c join pg_namespace as n"
                                          " on n.oid = c.relnamespace where n.nspname = %s and c.relkind"
                                          " in ('r', 'v', 'm', 'p')", schema)}


def _build_marts(night: dt.date) -> None:
    """`dbt build` for the night in this process, against the database in PG*, without dbt's tests (they
    change no mart; leaving them out saves a third of the time)."""
    result = dbtRunner().invoke([
        "build", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT), "--quiet",
        "--vars", f"{{run_date: '{night}'}}", "--exclude-resource-type", "test",
        "--exclude-resource-type", "unit_test"])
    assert result.success, result.exception


def _copy_database(server, source: str, target: str) -> None:
    admin = psycopg2.connect(server.dsn)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            # The runs above are over; connections they left for the garbage collector would block the copy.
            cur.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (source,))
            cur.execute(f'create database "{target}" template "{source}"')
    finally:
        admin.close()


@pytest.mark.parametrize("blocked", [None, "fct_attendance"], ids=["first-mart-statement", "mid-incremental-mart"])
def test_kill_during_dbt_build_then_rerun(fresh_db, pg_server, tmp_path, blocked):
    drop = tmp_path / "drop"
    for night in (NIGHT1, NIGHT2):
        for district_id in BUILD_DISTRICTS:
            write_export(drop, district_id=district_id, export_date=night, students=BUILD_STUDENTS)
    # Night 1, uninterrupted.
    assert all(n.ok for n in ingest_districts(fresh_db, None, drop, NIGHT1, ()))
    _build_marts(NIGHT1)
    # Night 2's files are ingested here, so that the copy below holds the very same raw rows and ledger.
    assert all(n.ok for n in ingest_districts(fresh_db, None, drop, NIGHT2, ()))

    reference = pg_server.for_database(fresh_db.database + "_ref")
    _copy_database(pg_server, fresh_db.database, reference.database)
    monitor = _autocommit(fresh_db)
    ledger_rows = _scalar(monitor, "select count(*) from raw_sis.load_ledger")
    locker = psycopg2.connect(fresh_db.dsn)
    try:
        # Night 2: killed while dbt writes the marts, then run again. Either at the first statement that
        # writes or reads a mart, or in the middle of an incremental mart's transaction: its new rows built
        # into a temporary table, its `delete` of the records they replace waiting on the test's lock (the
        # strategy's statement, which Postgres shows by its start, after dbt's comment).
        if blocked:
            with locker.cursor() as cur:
                cur.execute(f"lock table marts.{blocked} in share mode")
            # (reading the mart passes the SHARE lock: what waits is the delete)
            condition = f"wait_event_type = 'Lock' and query ilike '%%delete from %%.\"{blocked}\"%%'"
        else:
            condition = ("state = 'active' and query ilike '%%\"marts\".%%'"
                         " and query not ilike '%%pg_stat_activity%%'")
        killed = _start(tmp_path, "killed", fresh_db, "nightly", "--drop", drop, "--date", NIGHT2)
        try:
            statement = _kill_when(killed, monitor, fresh_db.database, condition)
        finally:
            locker.rollback()
        assert "dbt build for run date 2026-03-17" in (tmp_path / "killed.err").read_text()
        _wait_until_alone(monitor, fresh_db.database, (monitor.get_backend_pid(), locker.get_backend_pid()))
        after_kill = _mart_digests(fresh_db)
        _finish(_start(tmp_path, "rerun", fresh_db, "nightly", "--drop", drop, "--date", NIGHT2), tmp_path,
                "rerun")
        # Night 2 on the copy, uninterrupted.
        reference.export()
        _build_marts(NIGHT2)
        fresh_db.export()

        after_rerun = _mart_digests(fresh_db)
        assert {district for _, district in after_rerun} == set(BUILD_DISTRICTS)
        assert after_kill != after_rerun, f"the kill (during: {statement[:300]}) left nothing to redo"
        assert after_rerun == _mart_digests(reference)
        # Nothing left over from the killed build (a __dbt_tmp or __dbt_backup table) either.
        assert _relations(fresh_db, "marts") == _relations(reference, "marts")
        # The reruns added no ledger row: still one per district, night and delivered file.
        assert _rows(monitor, "select count(*), count(distinct (district_id, export_date, file_name))"
                              " from raw_sis.load_ledger")[0] == (ledger_rows, ledger_rows)
    finally:
        locker.close()
        monitor.close()
        admin = psycopg2.connect(pg_server.dsn)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{reference.database}" with (force)')
        admin.close()
        for settings in (fresh_db, reference):
            shutil.rmtree(workdirs.default_pipelines_dir(settings), ignore_errors=True)
