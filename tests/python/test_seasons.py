"""The calendar test: two districts with different calendars, from the last weeks of school through the
summer to the first weeks of the new year, in one warehouse, asserting every season rule on the marts.

Calendars (seeds/seasons.csv, matching the generator's SIS):
- sample: last day 2026-06-05, pause 06-06..07-15, SIS rollover after 07-20, first day 2026-08-19;
- north:  last day 2026-06-19, pause 06-20..08-01, SIS rollover after 08-05, first day 2026-09-08.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sample_truth import truth

from sis_sync.commands import run_build, run_nightly
from sis_sync.project import mart_names
from sis_sync.sample import write_export

D = dt.date
STUDENTS = 250
DISTRICTS = ("sample", "north")
ALL_MARTS = mart_names(history=False)  # what a full refresh rebuilds
FROZEN_MARTS = ("dim_schools", "dim_students", "dim_student_years", "fct_roster", "fct_student_teachers",
                "dim_staff", "fct_attendance", "fct_discipline")


def e164(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    if phone.strip().startswith("+"):
        return "+" + digits
    return "+1" + digits if len(digits) == 10 else "+" + digits


class Warehouse:
    def __init__(self, conn, drop):
        self.conn, self.drop = conn, drop

    def rows(self, sql, params=()):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def scalar(self, sql, params=()):
        return self.rows(sql, params)[0][0]

    def digest(self, mart: str, district_id: str) -> str:
        return self.scalar(f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
                           f"from marts.{mart} as t where t.district_id = %s", (district_id,))

    def digests(self, district_id: str, marts=FROZEN_MARTS) -> dict[str, str]:
        return {m: self.digest(m, district_id) for m in marts}

    def night(self, night: dt.date) -> None:
        for district_id in DISTRICTS:
            write_export(self.drop, district_id=district_id, export_date=night, students=STUDENTS)
        assert run_nightly(None, self.drop, night, ()) == 0, f"nightly failed on {night}"

    def status(self, district_id: str, night: dt.date, file_name: str) -> str:
        return self.scalar("select sync_status from marts.sync_history "
                           "where district_id = %s and export_date = %s and file_name = %s",
                           (district_id, night, file_name))

    def active_associations(self, district_id: str, school_year: int | None = None) -> int:
        sql = "select count(*) from marts.fct_student_teachers where district_id = %s and is_active"
        params: tuple = (district_id,)
        if school_year is not None:
            sql += " and school_year = %s"
            params += (school_year,)
        return self.scalar(sql, params)

    def teachers(self, district_id: str, on: dt.date | None = None) -> set[tuple[str, str]]:
        """(student_id, teacher_id) of the active associations: now, or on a night from the history mart."""
        if on is None:
            return set(self.rows("select student_id, teacher_id from marts.fct_student_teachers"
                                 " where district_id = %s and is_active", (district_id,)))
        return set(self.rows("select student_id, teacher_id from marts.fct_student_teachers_history"
                             " where district_id = %s and is_active and valid_from <= %s"
                             " and (valid_to is null or valid_to > %s)", (district_id, on, on)))

    def assert_full_refresh_matches(self, night: dt.date) -> None:
        before = {d: self.digests(d, ALL_MARTS) for d in DISTRICTS}
        assert run_build(night, full_refresh=True) == 0
        after = {d: self.digests(d, ALL_MARTS) for d in DISTRICTS}
        for d in DISTRICTS:
            changed = [m for m in ALL_MARTS if before[d][m] != after[d][m]]
            assert not changed, f"{d}: full refresh on {night} differs from the nightly runs in {changed}"


@pytest.fixture
def wh(fresh_db, db_conn, tmp_path):
    return Warehouse(db_conn, tmp_path / "drop")


def test_a_summer_and_a_rollover(wh):
    # --- the last days of school -------------------------------------------------------------------------
    wh.night(D(2026, 6, 5))  # sample's last day of school
    spring = wh.digests("sample")
    spring_associations = wh.active_associations("sample", 2026)
    assert spring_associations > 0, "associations active on the last day of school"
    spring_teachers = wh.teachers("sample")

    # --- sample's first pause night: the frozen marts do not change -----------------------------------------
    wh.night(D(2026, 6, 6))
    assert wh.digests("sample") == spring
    assert wh.status("sample", D(2026, 6, 6), "students.csv") == "paused"
    assert wh.status("sample", D(2026, 6, 6), "contacts.csv") in ("loaded", "unchanged")

    wh.night(D(2026, 6, 19))  # north's last day of school
    north_spring = wh.digests("north")
    wh.night(D(2026, 6, 20))  # north's first pause night
    assert wh.digests("north") == north_spring

    # --- July: the SIS changes a schedule and phone numbers; only the phones show -----------------------------
    july = D(2026, 7, 8)
    sis_changes = truth("sample", july, STUDENTS).enrollment_changes_between(D(2026, 6, 20), july)
    assert sis_changes, "the generator changes a schedule on July 8"
    wh.night(july)
    assert wh.digests("sample") == spring, "a July schedule change must not reach the frozen roster"
    assert wh.active_associations("sample", 2026) == spring_associations
    july_truth = truth("sample", july, STUDENTS)
    phone_changes = july_truth.phone_changes_between(D(2026, 6, 20), july)
    assert phone_changes, "the generator changes phone numbers in the summer"
    for contact_id in phone_changes:
        shown = wh.scalar("select mobile_phone_e164 from marts.dim_contacts "
                          "where district_id = 'sample' and contact_id = %s", (contact_id,))
        expected = e164(july_truth.phones_by_contact[contact_id])
        assert shown == expected, f"contact {contact_id}: a phone changed in July must show the next morning"

    # a full refresh in mid-July gives the same marts, spring roster included
    wh.assert_full_refresh_matches(july)
    assert wh.digests("sample") == spring
    assert wh.active_associations("sample", 2026) == spring_associations

    # --- sample: the pause is over but the SIS has not rolled over yet ------------------------------------
    resume = D(2026, 7, 16)
    wh.night(resume)
    assert wh.status("sample", resume, "students.csv") == "awaiting_rollover"
    assert wh.status("sample", resume, "enrollments.csv") == "awaiting_rollover"
    assert wh.status("sample", resume, "contacts.csv") in ("loaded", "unchanged")
    assert wh.digests("sample") == spring

    # --- sample's rollover night: the new year appears, the old one stays as history -----------------------
    rollover = D(2026, 7, 21)
    wh.night(rollover)
    new_year = truth("sample", rollover, STUDENTS)
    assert new_year.school_year == 2027
    assert wh.status("sample", rollover, "students.csv") == "loaded"
    years = dict(wh.rows("select school_year, count(*) from marts.dim_student_years "
                         "where district_id = 'sample' group by school_year"))
    assert years[2027] == new_year.student_count
    assert years[2026] == wh.scalar("select count(*) from marts.dim_student_years "
                                    "where district_id = 'sample' and school_year = 2026")
    promoted = wh.rows("""
        select old.grade_level, new.grade_level from marts.dim_student_years as old
        inner join marts.dim_student_years as new
            on new.district_id = old.district_id and new.student_id = old.student_id
        where old.district_id = 'sample' and old.school_year = 2026 and new.school_year = 2027""")
    assert promoted, "continuing students"
    order = ["PK", "KG", *(f"{g:02d}" for g in range(1, 13))]
    assert all(order.index(new) == order.index(old) + 1 for old, new in promoted)
    assert not [g for g, _ in promoted if g == "12"], "last year's seniors are gone"
    assert wh.scalar("select count(*) from marts.fct_roster where district_id = 'sample' "
                     "and school_year = 2026 and is_active") == 0
    assert wh.active_associations("sample", 2027) > 0, "new associations, before the first day of school"
    # history as of a night: the spring teachers through the summer, the new year's from the rollover
    assert wh.teachers("sample", on=D(2026, 7, 10)) == spring_teachers
    assert wh.teachers("sample", on=rollover) == wh.teachers("sample") != spring_teachers
    student = min(spring_teachers)[0]
    assert {t for (t,) in wh.rows(  # the query of the mart's documentation
        "select teacher_id from marts.fct_student_teachers_history where district_id = 'sample'"
        " and student_id = %s and is_active and valid_from <= date '2026-07-10'"
        " and (valid_to is null or valid_to > date '2026-07-10')", (student,))} == \
        {t for s, t in spring_teachers if s == student}
    assert wh.scalar("select count(*) from marts.fct_roster where district_id = 'sample' "
                     "and school_year = 2027") == new_year.roster_rows
    # display year: no new-year attendance yet, so the student card shows last year's
    assert set(r[0] for r in wh.rows("select distinct attendance_school_year from marts.student_overview "
                                     "where district_id = 'sample' and is_active")) == {2026}
    # north is still in its pause
    assert wh.digests("north") == north_spring

    # --- north: resume before its rollover, then the rollover ----------------------------------------------
    wh.night(D(2026, 8, 3))
    assert wh.status("north", D(2026, 8, 3), "students.csv") == "awaiting_rollover"
    assert wh.digests("north") == north_spring
    wh.night(D(2026, 8, 6))
    assert wh.scalar("select max(school_year) from marts.dim_student_years where district_id = 'north'") == 2027
    assert wh.active_associations("north", 2027) > 0

    # --- sample's first days of school: new-year attendance shows, school by school --------------------------
    first_attendance = D(2026, 8, 21)  # the first day of school was 08-19
    wh.night(first_attendance)
    attended = truth("sample", first_attendance, STUDENTS)
    assert attended.attendance_rows > 0
    schools_2027 = {r[0] for r in wh.rows("select distinct school_id from marts.fct_attendance "
                                          "where district_id = 'sample' and school_year = 2027")}
    assert schools_2027
    for school_id, year in wh.rows("select school_id, attendance_school_year from marts.student_overview "
                                   "where district_id = 'sample' and is_active"):
        assert year == (2027 if school_id in schools_2027 else 2026), school_id
    assert wh.scalar("select count(*) from marts.fct_attendance where district_id = 'sample' "
                     "and school_year = 2026") > 0, "last year's attendance stays as history"

    # and the whole history rebuilds to the same marts
    wh.assert_full_refresh_matches(first_attendance)
