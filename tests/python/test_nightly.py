"""End to end: sample exports for several nights, `sis-sync nightly` for each, marts against the truth."""

from __future__ import annotations

import datetime as dt

import pytest
from sample_truth import truth
from test_versions import digests

from sis_sync.commands import run_build, run_nightly
from sis_sync.sample import write_export

STUDENTS = 300
DISTRICTS = ("sample", "north")


def _rows(conn, sql, params=()):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _scalar(conn, sql, params=()):
    return _rows(conn, sql, params)[0][0]


@pytest.fixture
def drop(tmp_path):
    return tmp_path / "drop"


def _sync(drop, night: dt.date, districts=DISTRICTS, seed=1) -> int:
    for district_id in districts:
        write_export(drop, district_id=district_id, export_date=night, students=STUDENTS, seed=seed)
    return run_nightly(None, drop, night, ())


def test_three_nights_match_the_generator(fresh_db, db_conn, drop):
    nights = [dt.date(2026, 3, 16) + dt.timedelta(days=i) for i in range(3)]
    for night in nights:
        assert _sync(drop, night) == 0

    last = nights[-1]
    for district_id in DISTRICTS:
        t = truth(district_id, last, STUDENTS)
        active = {r[0] for r in _rows(db_conn, "select student_id from marts.dim_students "
                                                "where district_id = %s and is_active", (district_id,))}
        assert active == set(t.active_student_ids)
        roster_rows = _scalar(db_conn, "select count(*) from marts.fct_roster "
                                       "where district_id = %s and school_year = %s", (district_id, t.school_year))
        assert roster_rows == t.roster_rows
        contacts = dict(_rows(db_conn, "select student_id, count(*) from marts.fct_student_contacts "
                                       "where district_id = %s group by student_id", (district_id,)))
        assert contacts == t.contacts_per_student
        assert _scalar(db_conn, "select count(*) from marts.dim_contacts where district_id = %s",
                       (district_id,)) == t.contact_count
        grades = dict(_rows(db_conn, "select student_id, grade_level from marts.dim_student_years "
                                     "where district_id = %s and school_year = %s", (district_id, t.school_year)))
        assert grades == t.grade_by_student
        assert _scalar(db_conn, "select count(*) from marts.fct_attendance where district_id = %s",
                       (district_id,)) == t.attendance_rows

    # the ledger: every file of every night, each loaded once or recorded as unchanged
    ledger = _rows(db_conn, "select district_id, export_date, file_name, status from raw_sis.load_ledger")
    assert len(ledger) == len({(d, e, f) for d, e, f, _ in ledger})
    assert {s for *_, s in ledger} <= {"loaded", "unchanged"}
    for district_id in DISTRICTS:
        for night in nights:
            files = {f for d, e, f, _ in ledger if d == district_id and e == night}
            assert files == set(truth(district_id, night, STUDENTS).files)


def test_districts_never_mix(fresh_db, db_conn, drop):
    night = dt.date(2026, 3, 16)
    assert _sync(drop, night) == 0
    # the same student ids exist in both districts (same generator), so a join that forgot district_id
    # would multiply rows: every mart's rows per district must equal that district's own truth
    for district_id in DISTRICTS:
        t = truth(district_id, night, STUDENTS)
        assert _scalar(db_conn, "select count(*) from marts.dim_student_years where district_id = %s",
                       (district_id,)) == t.student_count
        assert _scalar(db_conn, "select count(*) from marts.student_overview where district_id = %s",
                       (district_id,)) == t.student_count
    overlap = _scalar(db_conn, """
        select count(*) from (
            select student_id from marts.dim_students where district_id = 'sample'
            intersect
            select student_id from marts.dim_students where district_id = 'north'
        ) as shared""")
    assert overlap > 0, "the test needs overlapping ids to prove anything"
    cross = _scalar(db_conn, """
        select count(*)
        from marts.fct_roster as r
        left join marts.dim_staff as s on s.district_id = r.district_id and s.staff_id = r.teacher_id
        where s.staff_id is null""")
    assert cross == 0


def test_a_late_older_night_after_a_newer_one_leaves_every_mart_as_it_was(fresh_db, db_conn, drop, capsys):
    """A scheduler's retry or backfill of an earlier night, after a later one was synced: its files are refused
    (nights are applied in order) and nothing is built; a build for that date builds nothing either, unless
    asked to roll back."""
    first, late, newer = dt.date(2026, 3, 16), dt.date(2026, 3, 17), dt.date(2026, 3, 18)
    assert _sync(drop, first, ("sample",)) == 0
    assert _sync(drop, newer, ("sample",)) == 0
    before = digests(fresh_db)
    capsys.readouterr()

    write_export(drop, district_id="sample", export_date=late, students=STUDENTS)
    assert run_nightly(None, drop, late, ()) == 1  # its files were refused: a person looks
    out = capsys.readouterr().out
    assert (f"dbt build: skipped: the marts already show the night of {newer}: a build for {late} would roll"
            " them back") in out
    assert digests(fresh_db) == before
    assert run_build(late) == 0
    assert digests(fresh_db) == before

    assert run_build(late, roll_back=True) == 0  # asked for: the marts as of that night
    assert _scalar(db_conn, "select max(export_date) from marts.sync_history") == late
    assert run_build(newer) == 0  # and forward again
    after = digests(fresh_db)
    assert {m: d for m, d in after.items() if m != "sync_history"} == \
        {m: d for m, d in before.items() if m != "sync_history"}


def test_a_build_for_a_night_that_has_not_come_yet_is_refused():
    from sis_sync.builds import refuse_future
    from sis_sync.config import ConfigError

    today = dt.date(2026, 3, 16)
    refuse_future(today + dt.timedelta(days=1), today)  # tomorrow somewhere already
    with pytest.raises(ConfigError, match="has not come yet"):
        refuse_future(today + dt.timedelta(days=2), today)
