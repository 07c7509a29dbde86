"""One run at a time per warehouse: a run that finds another one holding the warehouse refuses at once, names
that run, and writes nothing; the lock goes with the run's connection, so a killed run leaves none behind."""

from __future__ import annotations

import datetime as dt
import threading
import time
from contextlib import closing

import psycopg2

from sis_sync import db
from sis_sync.commands import EXIT_BUSY, run_build, run_ingest, run_nightly
from sis_sync.sample import write_export

NIGHT = dt.date(2026, 3, 16)


def test_a_second_run_refuses_while_another_holds_the_warehouse(fresh_db, tmp_path, capsys):
    drop = tmp_path / "drop"
    write_export(drop, district_id="sample", export_date=NIGHT, students=150)
    with closing(psycopg2.connect(fresh_db.dsn)) as holder:
        holder.autocommit = True
        with holder.cursor() as cur:
            cur.execute("set application_name = 'sis-sync nightly'")
            cur.execute("select pg_advisory_lock(%s)", (db.RUN_LOCK,))
        for run in (lambda: run_nightly(None, drop, NIGHT, ()), lambda: run_ingest(None, drop, NIGHT, ()),
                    lambda: run_build(NIGHT)):
            assert run() == EXIT_BUSY
            err = capsys.readouterr().err
            assert "`sis-sync nightly`" in err and "one run at a time per warehouse" in err, err
        with holder.cursor() as cur:
            cur.execute("select to_regclass('raw_sis.load_ledger')")
            assert cur.fetchone()[0] is None, "the refused runs wrote nothing, not even the raw layer"
    # the holder's connection is gone, and its lock with it
    assert run_nightly(None, drop, NIGHT, ()) == 0


def test_the_run_lock_is_released_when_the_run_ends(fresh_db):
    with (db.one_run_at_a_time(fresh_db, "build"), closing(psycopg2.connect(fresh_db.dsn)) as other,
          other.cursor() as cur):
        cur.execute("select pg_try_advisory_lock(%s)", (db.RUN_LOCK,))
        assert cur.fetchone()[0] is False
    with db.one_run_at_a_time(fresh_db, "build"):
        pass


def test_the_nightly_summary_never_prints_the_warehouse_password(fresh_db, tmp_path, capsys, monkeypatch):
    drop = tmp_path / "drop"
    write_export(drop, district_id="sample", export_date=NIGHT, students=150)
    monkeypatch.setenv("PGPASSWORD", "Sekr1t-pw")  # trust auth here: the password is sent and ignored
    assert run_nightly(None, drop, NIGHT, ()) == 0
    out = capsys.readouterr()
    assert "psql 'postgresql://postgres@" in out.out  # the command to look at the marts is still there
    assert "Sekr1t" not in out.out + out.err


def test_a_connection_lost_while_the_raw_layer_is_prepared_exits_4_with_one_line(fresh_db, tmp_path, capsys):
    """The run's connection is killed while it waits to create the raw layer (before any district): the
    warehouse code and one line, no traceback; and a warehouse that has its raw layer takes no lock at all."""
    from sis_sync.ingestion import raw_layer

    drop = tmp_path / "drop"
    write_export(drop, district_id="sample", export_date=NIGHT, students=150)
    outcome: list[int] = []
    with closing(psycopg2.connect(fresh_db.dsn)) as holder:
        holder.autocommit = True
        with holder.cursor() as cur:
            cur.execute("select pg_advisory_lock(%s)", (raw_layer._DDL_LOCK,))  # the run waits here
            run = threading.Thread(target=lambda: outcome.append(run_nightly(None, drop, NIGHT, ())))
            run.start()
            waiting = None
            for _ in range(300):
                cur.execute("select pid from pg_stat_activity where datname = current_database()"
                            " and wait_event_type = 'Lock' and wait_event = 'advisory'")
                waiting = cur.fetchone()
                if waiting:
                    break
                time.sleep(0.05)
            assert waiting, "the run waits for the DDL lock"
            cur.execute("select pg_terminate_backend(%s)", waiting)
            run.join(60)
    assert outcome == [4]
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if not line.startswith("[")]  # the progress lines: [HH:MM:SS]
    assert errors == ["error: the warehouse is unreachable or misconfigured: server closed the connection"
                      " unexpectedly"], err

    assert run_nightly(None, drop, NIGHT, ()) == 0
    # the raw layer is whole: preparing it again touches no table (another run may hold one locked)
    with closing(psycopg2.connect(fresh_db.dsn)) as other, closing(psycopg2.connect(fresh_db.dsn)) as conn:
        with other.cursor() as cur:
            cur.execute("lock table raw_sis.students, raw_sis.load_ledger in access exclusive mode")
        with conn.cursor() as cur:
            cur.execute("set lock_timeout = '2s'")
        assert raw_layer.ensure_raw_layer(conn) is False
