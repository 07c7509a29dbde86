"""The raw layer as versions: a night lands what it changed, the state as of any night is what was delivered,
nights are applied in order, and the marts of many nights equal a full refresh and a restore from the archive."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg2
import pytest

from sis_sync.commands import run_build, run_nightly
from sis_sync.db import ensure_database
from sis_sync.ingestion import archive
from sis_sync.ingestion.load import ingest_export
from sis_sync.ingestion.spec import load_spec
from sis_sync.ingestion.versions import deliveries, state_params, state_sql
from sis_sync.ingestion.workdirs import default_archive_dir, default_pipelines_dir
from sis_sync.project import mart_names
from sis_sync.replay import restore
from sis_sync.sample import write_export

SPEC = load_spec()
DISTRICT = "d042"
HEADER = ("student_id,state_student_id,first_name,middle_name,last_name,preferred_name,birth_date,gender,"
          "grade_level,school_id,school_year,enrollment_status,entry_date,exit_date,home_language\n")
N1, N2, N3 = dt.date(2025, 10, 14), dt.date(2025, 10, 15), dt.date(2025, 10, 16)


def students(*rows: tuple[str, str, int]) -> bytes:
    """A students.csv of (student_id, last_name, school_year) rows."""
    return (HEADER + "".join(f"{sid},,Ann,,{last},,,,05,0101,{year},active,,,\n" for sid, last, year in rows)).encode()


def deliver(drop: Path, night: dt.date, data: bytes, name: str = "students.csv") -> None:
    folder = drop / DISTRICT / night.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def rows(conn, sql: str, *args):
    with conn.cursor() as cur:
        cur.execute(sql, args or None)
        return cur.fetchall()


def state(conn, night: dt.date) -> set[tuple[str, str, int]]:
    """students.csv as of ``night``, read from the versions."""
    with conn.cursor() as cur:
        history = deliveries(cur, DISTRICT, "students.csv")
        cur.execute(state_sql(SPEC.file("students"), columns="student_id, last_name, school_year"),
                    state_params(DISTRICT, history, night))
        return set(cur.fetchall())


@pytest.fixture
def ingest(fresh_db, tmp_path):
    drop = tmp_path / "drop"

    def run(night: dt.date, data: bytes, name: str = "students.csv"):
        deliver(drop, night, data, name)
        return ingest_export(fresh_db, drop, DISTRICT, night, tmp_path / "pipelines")

    return run


def test_a_night_lands_only_what_it_added_changed_or_retired(ingest, db_conn):
    first = ingest(N1, students(("001", "Ames", 2026), ("002", "Baker", 2026), ("003", "Cole", 2026)))
    assert [(r.status, r.added_count, r.changed_count, r.retired_count) for r in first.rows] == [
        ("loaded", 3, 0, 0)]
    second = ingest(N2, students(("001", "Ames", 2026), ("002", "Brown", 2026), ("004", "Diaz", 2026)))
    assert [(r.status, r.added_count, r.changed_count, r.retired_count) for r in second.rows] == [
        ("loaded", 1, 1, 1)]
    landed = rows(db_conn, "select student_id, _change, last_name from raw_sis.students where _load_id = %s"
                           " order by student_id", second.rows[0].load_id)
    assert landed == [("002", "changed", "Brown"), ("003", "retired", None), ("004", "added", "Diaz")]
    assert state(db_conn, N1) == {("001", "Ames", 2026), ("002", "Baker", 2026), ("003", "Cole", 2026)}
    assert state(db_conn, N2) == {("001", "Ames", 2026), ("002", "Brown", 2026), ("004", "Diaz", 2026)}

    # the same bytes on the next night: unchanged, nothing landed; a student back again is added again
    third = ingest(N3, students(("001", "Ames", 2026), ("002", "Brown", 2026), ("004", "Diaz", 2026)))
    assert [(r.status, r.load_id, r.row_count) for r in third.rows] == [("unchanged", None, 3)]
    assert rows(db_conn, "select count(*) from raw_sis.students")[0][0] == 6
    fourth = ingest(dt.date(2025, 10, 17), students(("001", "Ames", 2026), ("003", "Cole", 2026)))
    assert [(r.added_count, r.changed_count, r.retired_count) for r in fourth.rows] == [(1, 0, 2)]
    assert state(db_conn, dt.date(2025, 10, 17)) == {("001", "Ames", 2026), ("003", "Cole", 2026)}


def test_a_file_retires_only_the_school_years_it_carries(ingest, db_conn):
    ingest(N1, students(("001", "Ames", 2025), ("002", "Baker", 2026), ("003", "Cole", 2026)))
    result = ingest(N2, students(("002", "Baker", 2026)))  # carries 2026 only: 2025 stays as it was
    assert [(r.added_count, r.changed_count, r.retired_count) for r in result.rows] == [(0, 0, 1)]
    assert state(db_conn, N2) == {("001", "Ames", 2025), ("002", "Baker", 2026)}


def test_a_file_that_carries_an_older_year_again_is_compared_with_that_year(ingest, db_conn):
    """Tonight's file is compared with the school years the night before's file carried (older years are
    history, not read); one that carries an older year again is compared with that year too."""
    ingest(N1, students(("001", "Ames", 2025), ("002", "Baker", 2026)))
    ingest(N2, students(("002", "Baker", 2026)))  # 2026 only: Ames (2025) stays
    result = ingest(N3, students(("001", "Amesley", 2025), ("002", "Baker", 2026), ("003", "Cole", 2026)))
    assert [(r.added_count, r.changed_count, r.retired_count) for r in result.rows] == [(1, 1, 0)]
    assert state(db_conn, N3) == {("001", "Amesley", 2025), ("002", "Baker", 2026), ("003", "Cole", 2026)}
    assert rows(db_conn, "select count(*) from raw_sis.students where student_id = '001'")[0][0] == 2


def test_a_missing_file_retires_nothing(ingest, db_conn):
    ingest(N1, students(("001", "Ames", 2026)))
    ingest(N2, b"contact_id,student_id,first_name,last_name,relationship,is_primary\nc1,001,Bo,Ames,mother,Y\n",
           "contacts.csv")
    assert state(db_conn, N2) == {("001", "Ames", 2026)}


def test_a_corrected_redelivery_replaces_only_that_nights_changes(ingest, db_conn):
    ingest(N1, students(("001", "Ames", 2026), ("002", "Baker", 2026)))
    ingest(N2, students(("001", "Ames", 2026)))  # a mistake: Baker is gone
    corrected = ingest(N2, students(("001", "Ames", 2026), ("002", "Baker", 2026), ("003", "Cole", 2026)))
    assert [(r.added_count, r.changed_count, r.retired_count) for r in corrected.rows] == [(1, 0, 0)]
    assert state(db_conn, N2) == {("001", "Ames", 2026), ("002", "Baker", 2026), ("003", "Cole", 2026)}
    assert state(db_conn, N1) == {("001", "Ames", 2026), ("002", "Baker", 2026)}
    # corrected back to the night before's bytes: unchanged, and the night's earlier changes no longer count
    ingest(N2, students(("001", "Ames", 2026), ("002", "Baker", 2026)))
    assert state(db_conn, N2) == {("001", "Ames", 2026), ("002", "Baker", 2026)}


def test_an_earlier_night_after_a_later_one_is_refused(ingest, db_conn):
    ingest(N2, students(("001", "Ames", 2026)))
    late = ingest(N1, students(("001", "Ames", 2026), ("002", "Baker", 2026)))
    [row] = late.rows
    assert row.status == "rejected"
    assert "2025-10-15 was already loaded" in row.message and "in order" in row.message
    assert state(db_conn, N2) == {("001", "Ames", 2026)}
    assert rows(db_conn, "select count(*) from raw_sis.students")[0][0] == 1


# --- many nights: nightly, full refresh and a restore from the archive give the same marts -------------------

STUDENTS = 150
NIGHTS = [dt.date(2026, 3, 2) + dt.timedelta(days=d) for d in range(12) if (dt.date(2026, 3, 2)
                                                                          + dt.timedelta(days=d)).weekday() < 5]


# sync_history also says when each file was recorded and under which load id: a restore records anew
SYNC_HISTORY_FACTS = ("district_id, export_date, file_name, sync_status, reason, ingest_status, season, row_count,"
                      " rows_added, rows_changed, rows_retired, sha256")


def digests(settings) -> dict[str, tuple[int, str]]:
    """Per mart, its rows and their md5: the facts, not the load ids a restore records anew."""
    def facts(mart: str) -> str:
        if mart == "sync_history":
            return f"select {SYNC_HISTORY_FACTS} from marts.{mart}"
        return f"select to_jsonb(m) - 'load_id' as facts from marts.{mart} as m"

    with closing(psycopg2.connect(settings.dsn)) as conn:
        return {mart: tuple(rows(
            conn, f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from"
                  f" ({facts(mart)}) as t")[0])
            for mart in mart_names(history=False)}


@contextmanager
def another_warehouse(pg_server, back_to):
    """A second, empty warehouse database, exported to the environment (PG*) meanwhile; then dropped."""
    other = pg_server.for_database(f"sis_test_{uuid.uuid4().hex[:10]}")
    ensure_database(other)
    try:
        other.export()
        yield other
    finally:
        back_to.export()
        with closing(psycopg2.connect(pg_server.dsn)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"drop database if exists {other.database} with (force)")
        shutil.rmtree(default_archive_dir(other), ignore_errors=True)
        shutil.rmtree(default_pipelines_dir(other), ignore_errors=True)


def test_ten_nights_of_changes_equal_a_full_refresh_and_a_restore(fresh_db, db_conn, tmp_path, pg_server):
    assert len(NIGHTS) == 10
    drop = tmp_path / "drop"
    for night in NIGHTS:
        write_export(drop, district_id="sample", export_date=night, students=STUDENTS)
        assert run_nightly(None, drop, night, ()) == 0, night
    changes = dict(rows(db_conn, "select export_date, sum(coalesce(added_count, 0) + coalesce(changed_count, 0)"
                                 " + coalesce(retired_count, 0)) from raw_sis.load_ledger group by 1"))
    assert all(changes[night] > 0 for night in NIGHTS), changes  # every night changed something
    first_night = rows(db_conn, "select sum(row_count)::bigint from raw_sis.load_ledger where export_date = %s",
                       NIGHTS[0])[0][0]
    stored = sum(rows(db_conn, f"select count(*) from raw_sis.{f.name}")[0][0] for f in SPEC.files)
    assert stored < 1.5 * first_night, (stored, first_night)  # versions, not a copy of every night

    nightly = digests(fresh_db)
    assert nightly["fct_attendance"][0] > 0 and nightly["dim_students"][0] > 0
    assert run_build(NIGHTS[-1], full_refresh=True) == 0
    assert digests(fresh_db) == nightly

    # an empty warehouse rebuilt from the archive alone
    with another_warehouse(pg_server, fresh_db) as other:
        restored = restore(other, default_archive_dir(fresh_db), say=lambda _message: None)
        assert [(r.district_id, r.nights) for r in restored] == [("sample", 10)]
        assert archive.archived_nights(default_archive_dir(fresh_db), "sample") == NIGHTS
        assert run_build(NIGHTS[-1], full_refresh=True) == 0
        assert digests(other) == nightly
        with pytest.raises(ValueError, match="already has loads of district.s. sample"):
            restore(other, default_archive_dir(fresh_db), say=lambda _message: None)  # not twice


# --- upgrade: a raw layer of full copies per night becomes versions ------------------------------------------

OLD_NIGHTS = (dt.date(2026, 3, 16), dt.date(2026, 3, 17))


def _old_raw_layer(conn, drop: Path) -> None:
    """The raw layer as it was before versions: every loaded file's rows, tagged with their load."""
    from sis_sync.ingestion.ledger import LEDGER_DDL

    with conn.cursor() as cur:
        cur.execute("create schema if not exists raw_sis")
        cur.execute(LEDGER_DDL)
        for f in SPEC.files:
            columns = ", ".join(f"{c.name} {c.pg_type}" for c in f.columns)
            cur.execute(f"create table raw_sis.{f.name} ({columns}, _district_id text, _export_date date,"
                        " _load_id text, _line_number bigint)")
        for n, night in enumerate(OLD_NIGHTS):
            for f in SPEC.files:
                path = drop / "sample" / night.isoformat() / f.file_name
                if not path.exists():
                    continue
                load_id = f"old{n}{f.name}"
                names = ", ".join(f.column_names)
                cur.execute(f"create temp table delivered as select {names} from raw_sis.{f.name} limit 0")
                with path.open("rb") as data:
                    cur.copy_expert("copy delivered from stdin with (format csv, header true)", data)
                cur.execute(f"insert into raw_sis.{f.name} select {names}, 'sample', %s, %s,"
                            " 1 + row_number() over () from delivered", (night, load_id))
                years = "min(school_year), max(school_year)" if "school_year" in f.column_names else "null, null"
                cur.execute(f"insert into raw_sis.load_ledger (district_id, export_date, file_name, sha256,"
                            f" row_count, status, load_id, min_school_year, max_school_year) select 'sample', %s,"
                            f" %s, md5(%s), count(*), 'loaded', %s, {years} from delivered",
                            (night, f.file_name, load_id, load_id))
                cur.execute("drop table delivered")
    conn.commit()


def test_a_raw_layer_of_full_copies_is_refused_until_upgraded(fresh_db, tmp_path, capsys):
    drop = tmp_path / "drop"
    write_export(drop, district_id="sample", export_date=OLD_NIGHTS[0], students=STUDENTS)
    with closing(psycopg2.connect(fresh_db.dsn)) as conn:
        _old_raw_layer(conn, drop)
    assert run_nightly(None, drop, OLD_NIGHTS[1], ()) == 2
    assert run_build(OLD_NIGHTS[0]) == 2
    assert "run `sis-sync upgrade` first" in capsys.readouterr().err
    with closing(psycopg2.connect(fresh_db.dsn)) as conn:  # nothing was written
        assert rows(conn, "select count(*) from raw_sis.load_ledger where export_date = %s", OLD_NIGHTS[1]) \
            == [(0,)]


def test_upgrade_converts_full_copies_into_versions(fresh_db, tmp_path, pg_server):
    from sis_sync.replay import OLD_SCHEMA, upgrade

    drop = tmp_path / "drop"
    for night in OLD_NIGHTS:
        write_export(drop, district_id="sample", export_date=night, students=STUDENTS)
    # the reference: the same nights synced by the versions from the start
    for night in OLD_NIGHTS:
        assert run_nightly(None, drop, night, ()) == 0
    expected = {m: d for m, d in digests(fresh_db).items() if m != "sync_history"}

    with another_warehouse(pg_server, fresh_db) as old:
        with closing(psycopg2.connect(old.dsn)) as conn:
            _old_raw_layer(conn, drop)
            before = rows(conn, "select count(*) from raw_sis.attendance")[0][0]
        converted = upgrade(old, say=lambda _message: None)
        assert [(r.district_id, r.nights) for r in converted] == [("sample", 2)]
        with closing(psycopg2.connect(old.dsn)) as conn:
            assert rows(conn, f"select count(*) from {OLD_SCHEMA}.attendance")[0][0] == before  # kept
            assert rows(conn, "select count(*) from raw_sis.attendance")[0][0] < before  # versions
        assert run_build(OLD_NIGHTS[-1], full_refresh=True) == 0
        assert {m: d for m, d in digests(old).items() if m != "sync_history"} == expected


def same_deliveries_in_python_and_dbt(conn) -> None:
    """What the ingest compares a night with (versions.deliveries) is dbt's night delivery (int_night_deliveries,
    delivery_rank 1), for every file and night."""
    dbt = rows(conn, "select file_name, export_date, status, load_id, row_count"
                     " from intermediate.int_night_deliveries where delivery_rank = 1")
    with conn.cursor() as cur:
        python = [(name, d.export_date, d.status, d.load_id, d.row_count)
                  for name in SPEC.file_names for d in deliveries(cur, "sample", name)]
    conn.commit()
    assert len(python) > len(SPEC.file_names)
    assert sorted(python) == sorted(dbt)


def test_a_corrected_night_after_its_build_reaches_the_marts(fresh_db, db_conn, tmp_path):
    """A night rebuilt after its file was re-delivered with other bytes (and once more with the bytes of the
    night before) gives the marts a full refresh gives; Python and dbt agree on each night's delivery."""
    drop, later = tmp_path / "drop", tmp_path / "later"
    first, second, third = dt.date(2026, 3, 16), dt.date(2026, 3, 17), dt.date(2026, 3, 18)
    for night in (first, second):
        write_export(drop, district_id="sample", export_date=night, students=STUDENTS)
        assert run_nightly(None, drop, night, ()) == 0
    folder = drop / "sample" / second.isoformat()
    (folder / "manifest.csv").unlink()
    corrections = write_export(later, district_id="sample", export_date=third, students=STUDENTS)
    for name in ("attendance.csv", "students.csv", "contacts.csv"):
        shutil.copy(corrections / name, folder / name)  # tomorrow's files, delivered as tonight's correction
    assert run_nightly(None, drop, second, ()) == 0
    same_deliveries_in_python_and_dbt(db_conn)
    incremental = digests(fresh_db)
    assert run_build(second, full_refresh=True) == 0
    assert digests(fresh_db) == incremental

    # corrected back to the first night's attendance: that night's changes no longer count
    shutil.copy(drop / "sample" / first.isoformat() / "attendance.csv", folder / "attendance.csv")
    assert run_nightly(None, drop, second, ()) == 0
    incremental = digests(fresh_db)
    assert run_build(second, full_refresh=True) == 0
    assert digests(fresh_db) == incremental


def test_roster_rows_follow_their_section_and_the_night_without_a_new_enrollment(fresh_db, db_conn, tmp_path):
    """fct_roster rebuilds by record, and also the rows whose enrollment did not change: a section's new
    teacher reaches its rows and fct_student_teachers, and second-semester schedules become active on the
    night after they start, with enrollments.csv the same bytes every night; the nightly marts equal a full
    refresh."""
    drop = tmp_path / "drop"
    first, second, third = dt.date(2026, 1, 12), dt.date(2026, 1, 13), dt.date(2026, 1, 27)
    source = write_export(drop, district_id="sample", export_date=first, students=STUDENTS)
    assert run_nightly(None, drop, first, ()) == 0

    sections = (source / "sections.csv").read_text().splitlines(keepends=True)
    header = sections[0].rstrip("\n").split(",")
    moved = sections[1].rstrip("\n").split(",")
    section_id, old_teacher = moved[header.index("section_id")], moved[header.index("teacher_id")]
    new_teacher = next(line.split(",")[header.index("teacher_id")] for line in sections[2:]
                       if line.split(",")[header.index("teacher_id")] not in ("", old_teacher))
    moved[header.index("teacher_id")] = new_teacher
    for night, lines in ((second, [sections[0], ",".join(moved) + "\n", *sections[2:]]), (third, None)):
        folder = drop / "sample" / night.isoformat()
        shutil.copytree(drop / "sample" / (second if lines is None else first).isoformat(), folder)
        (folder / "manifest.csv").unlink(missing_ok=True)
        if lines is not None:
            (folder / "sections.csv").write_text("".join(lines))
        assert run_nightly(None, drop, night, ()) == 0, night
        if night == second:
            assert rows(db_conn, "select distinct teacher_id from marts.fct_roster where section_id = %s",
                        section_id) == [(new_teacher,)]
            assert rows(db_conn, "select count(*) from marts.fct_student_teachers where teacher_id = %s and"
                                 " student_id in (select student_id from marts.fct_roster where section_id = %s)",
                        new_teacher, section_id)[0][0] > 0
            active_before = rows(db_conn, "select count(*) from marts.fct_roster where is_active")[0][0]
    statuses = rows(db_conn, "select export_date, status from raw_sis.load_ledger"
                             " where file_name = 'enrollments.csv' order by export_date")
    assert statuses == [(first, "loaded"), (second, "unchanged"), (third, "unchanged")]
    starting = rows(db_conn, "select count(*) from marts.fct_roster where start_date > %s and start_date <= %s",
                    second, third)[0][0]
    assert starting > 0
    assert rows(db_conn, "select count(*) from marts.fct_roster where is_active")[0][0] > active_before
    assert rows(db_conn, "select count(*) from marts.fct_roster where start_date > %s and start_date <= %s"
                         " and not is_active", second, third)[0][0] == 0

    nightly = digests(fresh_db)
    assert run_build(third, full_refresh=True) == 0
    assert digests(fresh_db) == nightly
