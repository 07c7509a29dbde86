"""One run at a time per warehouse: a run that finds another one holding the warehouse refuses at once, names
that run, and writes nothing; the lock goes with the run's connection, so a killed run leaves none behind."""

from __future__ import annotations

import datetime as dt
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
