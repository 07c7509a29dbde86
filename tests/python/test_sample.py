"""The sample district generator (``sis-sync sample``): spec-conformant, deterministic, and a district that
evolves like a real one (mid-year churn, phone changes, last day of school, summer, rollover).

No database needed. Sizes stay small (a few hundred students) so the whole file runs in seconds.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from sample_truth import truth, truth_of

from sis_sync.cli import main
from sis_sync.ingestion.spec import BOOLEAN_FALSE, BOOLEAN_TRUE, GRADE_CODES, load_spec
from sis_sync.sample import build_export, sample_calendar, write_export
from sis_sync.sample.calendars import sis_school_year

N = 500
DISTRICT = "sample"
Y = 2026
CAL = sample_calendar(DISTRICT, Y)
NEXT = sample_calendar(DISTRICT, Y + 1)
MID_YEAR = dt.date(2026, 3, 16)
DATES = {
    "in_session": MID_YEAR,
    "fall": dt.date(2025, 10, 1),
    "last_day": CAL.last_day,
    "summer": CAL.summer_change_date,
    "after_rollover": CAL.rollover_date + dt.timedelta(days=1),
    "second_day_next_year": NEXT.school_days[1],
}
SPEC = load_spec()
DECIMAL = re.compile(r"^\d+(\.\d+)?$")
INTEGER = re.compile(r"^[+-]?\d+$")


def _read(data: bytes) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    return rows[0], rows[1:]


def _folder_digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _check_value(file_name: str, col, value: str) -> None:
    where = f"{file_name}.{col.name}={value!r}"
    if value == "":
        assert not col.required, f"{where}: required value missing"
        return
    assert value == value.strip(), f"{where}: untrimmed"
    if col.type == "date":
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), where
        dt.date.fromisoformat(value)
    elif col.type == "int":
        assert INTEGER.match(value), where
    elif col.type == "decimal":
        assert DECIMAL.match(value), where
    elif col.type == "bool":
        assert value in ("Y", "N"), where  # the generator always writes Y/N
        assert value.upper() in BOOLEAN_TRUE + BOOLEAN_FALSE
    elif col.type == "grade":
        assert value in GRADE_CODES, where
    if col.allowed:
        assert value in col.allowed, where


# ------------------------------------------------------------------------------------------ determinism


def test_same_arguments_give_byte_identical_files(tmp_path):
    a = write_export(tmp_path / "a", DISTRICT, MID_YEAR, N, seed=7)
    b = write_export(tmp_path / "b", DISTRICT, MID_YEAR, N, seed=7)
    assert a == tmp_path / "a" / DISTRICT / "2026-03-16"
    assert _folder_digest(a) == _folder_digest(b)
    za = write_export(tmp_path / "a", DISTRICT, MID_YEAR, N, seed=7, zip=True)
    zb = write_export(tmp_path / "b", DISTRICT, MID_YEAR, N, seed=7, zip=True)
    assert za.name == "2026-03-16.zip"
    assert za.read_bytes() == zb.read_bytes()
    # the zip holds the folder's files at its root, byte for byte
    with zipfile.ZipFile(za) as zf:
        assert sorted(zf.namelist()) == sorted(p.name for p in a.iterdir())
        for p in a.iterdir():
            assert zf.read(p.name) == p.read_bytes()


def test_different_seed_gives_a_different_district(tmp_path):
    a = _folder_digest(write_export(tmp_path / "a", DISTRICT, MID_YEAR, N, seed=1))
    b = _folder_digest(write_export(tmp_path / "b", DISTRICT, MID_YEAR, N, seed=2))
    assert a.keys() == b.keys()
    assert all(a[name] != b[name] for name in ("students.csv", "contacts.csv", "enrollments.csv"))


def test_rewriting_replaces_an_older_export(tmp_path):
    folder = tmp_path / DISTRICT / "2026-03-16"
    folder.mkdir(parents=True)
    (folder / "stale.csv").write_text("x\n1\n")
    write_export(tmp_path, DISTRICT, MID_YEAR, N)
    assert not (folder / "stale.csv").exists()
    assert (folder / "students.csv").exists()
    assert not any(p.name.startswith(".") for p in (tmp_path / DISTRICT).iterdir())


def test_cli_writes_the_export(tmp_path):
    result = CliRunner().invoke(main, ["sample", "--out", str(tmp_path), "--students", "300",
                                       "--date", "2026-03-16", "--seed", "3", "--district", "d1"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "d1" / "2026-03-16"
    assert (folder / "manifest.csv").exists()
    assert _folder_digest(folder) == _folder_digest(write_export(tmp_path / "api", "d1", MID_YEAR, 300, seed=3))


# --------------------------------------------------------------------------------------- spec conformance


@pytest.mark.parametrize("label", sorted(DATES))
def test_every_file_follows_the_spec(tmp_path, label):
    folder = write_export(tmp_path, DISTRICT, DATES[label], N)
    delivered = {p.name for p in folder.iterdir()}
    assert delivered <= {*SPEC.file_names, "manifest.csv"}
    for name in delivered - {"manifest.csv"}:
        data = (folder / name).read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf"), f"{name}: BOM"
        assert b"\r" not in data, f"{name}: line ends must be \\n"
        header, rows = _read(data)
        fspec = SPEC.file(name)
        assert tuple(header) == fspec.column_names, name
        assert rows, f"{name}: header-only files must be left out"
        keys = Counter()
        for row in rows:
            assert len(row) == len(fspec.columns), name
            for col, value in zip(fspec.columns, row, strict=True):
                _check_value(name, col, value)
            keys[tuple(row[fspec.column_names.index(k)] for k in fspec.key)] += 1
        duplicates = [k for k, n in keys.items() if n > 1]
        assert not duplicates, f"{name}: duplicate keys {duplicates[:3]}"


@pytest.mark.parametrize("label", ["in_session", "summer", "after_rollover"])
def test_manifest_matches_the_files(tmp_path, label):
    folder = write_export(tmp_path, DISTRICT, DATES[label], N)
    header, rows = _read((folder / "manifest.csv").read_bytes())
    assert header == ["file_name", "row_count", "sha256"]
    listed = {r[0]: (int(r[1]), r[2]) for r in rows}
    assert set(listed) == {p.name for p in folder.iterdir()} - {"manifest.csv"}
    t = truth(DISTRICT, DATES[label], N)
    for name, (count, sha) in listed.items():
        data = (folder / name).read_bytes()
        assert re.fullmatch(r"[0-9a-f]{64}", sha)
        assert hashlib.sha256(data).hexdigest() == sha
        assert len(_read(data)[1]) == count == t.files[name]


def test_references_between_files_hold():
    for day in (MID_YEAR, CAL.last_day, DATES["after_rollover"]):
        files = build_export(DISTRICT, day, N).files
        students = {r[0] for r in files["students.csv"]}
        schools = {r[0] for r in files["schools.csv"]}
        staff = {r[0] for r in files["staff.csv"]}
        sections = {r[0] for r in files["sections.csv"]}
        courses = {r[0] for r in files["courses.csv"]}
        assert {r[9] for r in files["students.csv"]} <= schools
        assert {r[4] for r in files["staff.csv"]} <= schools
        assert {r[1] for r in files["sections.csv"]} <= courses
        assert {r[3] for r in files["sections.csv"]} <= staff, "teacher of record missing from staff.csv"
        assert {r[0] for r in files["enrollments.csv"]} <= students
        assert {r[1] for r in files["enrollments.csv"]} <= sections
        assert {r[1] for r in files["contacts.csv"]} == students, "every student has a contact"
        for name in ("attendance.csv", "discipline.csv"):
            for r in files.get(name, []):
                assert r[0 if name == "attendance.csv" else 1] in students


def test_every_year_scoped_row_carries_the_sis_year():
    e = build_export(DISTRICT, MID_YEAR, N)
    assert e.school_year == Y
    for name in ("students.csv", "courses.csv", "sections.csv", "enrollments.csv", "attendance.csv",
                 "discipline.csv"):
        column = SPEC.file(name).column_names.index("school_year")
        assert {r[column] for r in e.files[name]} == {str(Y)}, name


def test_awkward_values_exercise_quoting_and_ids():
    e = build_export(DISTRICT, MID_YEAR, N)
    student_ids = [r[0] for r in e.files["students.csv"]]
    assert all(re.fullmatch(r"0\d{5,}", s) for s in student_ids), "student ids are zero-padded text"
    assert any(r[0].startswith("0") for r in e.files["schools.csv"])
    names = [v for r in e.files["students.csv"] + e.files["contacts.csv"] for v in r[2:5]]
    assert any("'" in v for v in names), "an apostrophe (O'Brien)"
    assert any(", " in v for v in names), "a comma (Smith, Jr.)"
    assert any(any(ord(ch) > 127 for ch in v) for v in names), "an accented letter (García)"
    raw = e.csv_bytes("students.csv").decode("utf-8")
    assert re.search(r'"[^"\n]*, Jr\.[^"\n]*"', raw), "a value with a comma is quoted"
    # phones in mixed formats
    phones = [r[8] for r in e.files["contacts.csv"]]
    patterns = [r"\(\d{3}\) \d{3}-\d{4}", r"\d{3}-\d{3}-\d{4}", r"\d{10}", r"\+1\d{10}", r"\d{3}\.\d{3}\.\d{4}"]
    for pattern in patterns:
        assert any(re.fullmatch(pattern, p) for p in phones), pattern


def test_size_schools_and_staff_scale_with_students():
    for n in (400, 3000):
        t = truth(DISTRICT, MID_YEAR, n)
        assert 0.85 * n <= len(t.active_student_ids) <= 1.15 * n, (n, len(t.active_student_ids))
        files = build_export(DISTRICT, MID_YEAR, n).files
        levels = Counter((r[2], r[3]) for r in files["schools.csv"])
        assert set(levels) == {("KG", "05"), ("06", "08"), ("09", "12")}
        assert len(files["schools.csv"]) >= max(3, n // 700)
        roles = Counter(r[5] for r in files["staff.csv"])
        assert set(roles) == {"teacher", "administrator", "counselor", "staff"}
        assert n / 25 <= roles["teacher"] <= n / 12
    grades = Counter(t.grade_by_student.values())
    assert set(grades) == set(GRADE_CODES) - {"PK", "UG"}


def test_schedules_contacts_attendance_and_discipline_look_real():
    e = build_export(DISTRICT, MID_YEAR, N)
    t = truth_of(e)
    # schedules: one homeroom in elementary, 6-8 courses in secondary
    per_student = Counter(r[0] for r in e.files["enrollments.csv"] if not r[4])
    for sid in t.active_student_ids:
        grade = t.grade_by_student[sid]
        count = per_student[sid]
        if grade in ("KG", "01", "02", "03", "04", "05"):
            assert count == 1, (sid, grade, count)
        else:
            assert 4 <= count <= 8, (sid, grade, count)  # S1 rows have ended by March
    terms = Counter(r[4] for r in e.files["sections.csv"])
    assert set(terms) == {"YR", "S1", "S2"}
    # contacts: 1-3 per student, siblings share a contact
    assert set(t.contacts_per_student.values()) == {1, 2, 3}
    students_per_contact = Counter(r[0] for r in e.files["contacts.csv"])
    assert any(n > 1 for n in students_per_contact.values()), "siblings share contacts"
    assert t.contact_count == len(students_per_contact) == len(t.phones_by_contact)
    primaries = Counter(r[1] for r in e.files["contacts.csv"] if r[5] == "Y")
    assert all(n == 1 for n in primaries.values()) and len(primaries) == t.student_count
    # attendance: about 5-7% of student-days are exceptions
    student_days = 0
    for r in e.files["students.csv"]:
        start = dt.date.fromisoformat(r[12])
        end = dt.date.fromisoformat(r[13]) if r[13] else MID_YEAR
        student_days += sum(1 for d in CAL.school_days if start <= d <= min(end, MID_YEAR))
    assert 0.045 <= t.attendance_rows / student_days <= 0.08
    codes = Counter(r[3] for r in e.files["attendance.csv"])
    assert {"A", "AE", "T", "ED"} <= set(codes)
    # discipline: a few incidents per 100 students per year (here ~7 months in)
    assert 0.5 <= 100 * t.discipline_rows / t.student_count <= 6


# ------------------------------------------------------------------------------------------ the calendar


def test_calendars_follow_their_rules():
    for year in range(2020, 2032):
        cal = sample_calendar("sample", year)
        assert cal.first_day.weekday() == 2 and cal.first_day.month == 8 and 15 <= cal.first_day.day <= 21
        assert cal.last_day.weekday() == 4 and cal.last_day.month == 6 and cal.last_day.day <= 7
        assert cal.rollover_date == dt.date(year, 7, 20)
        north = sample_calendar("north", year)
        assert north.first_day.weekday() == 1 and north.first_day.month == 9 and 2 <= north.first_day.day <= 8
        assert north.last_day.weekday() == 4 and north.last_day.month == 6 and 15 <= north.last_day.day <= 21
        assert north.rollover_date == dt.date(year, 8, 5)
        d1 = sample_calendar("d1", year)
        assert (d1.first_day, d1.last_day, d1.rollover_date) == (cal.first_day, cal.last_day, cal.rollover_date)
        for c in (cal, north):
            assert 170 <= len(c.school_days) <= 195
            assert c.first_day < c.s1_end < c.s2_start < c.last_day < c.summer_change_date <= c.rollover_date
            assert c.school_days[0] == c.first_day and c.school_days[-1] == c.last_day
    assert CAL.first_day == dt.date(2025, 8, 20) and CAL.last_day == dt.date(2026, 6, 5)


def test_the_sis_year_changes_the_day_after_rollover():
    assert sis_school_year("sample", dt.date(2026, 7, 20)) == 2026
    assert sis_school_year("sample", dt.date(2026, 7, 21)) == 2027
    assert sis_school_year("north", dt.date(2026, 7, 21)) == 2026
    assert sis_school_year("north", dt.date(2026, 8, 6)) == 2027
    assert sis_school_year("sample", dt.date(2026, 1, 5)) == 2026


def test_north_follows_its_own_calendar():
    day = dt.date(2026, 8, 25)  # school has started in the default calendar, not in north's
    north = build_export("north", day, N)
    default = build_export(DISTRICT, day, N)
    assert north.school_year == default.school_year == 2027
    assert "attendance.csv" in default.files
    assert "attendance.csv" not in north.files
    assert north.calendar.first_day > day > default.calendar.first_day
    # July 25: default has rolled over, north has not
    assert build_export("north", dt.date(2026, 7, 25), N).school_year == 2026
    assert build_export(DISTRICT, dt.date(2026, 7, 25), N).school_year == 2027


# -------------------------------------------------------------------------------------------- evolution


def test_the_district_changes_from_night_to_night_in_session():
    d1, d2 = dt.date(2026, 2, 2), dt.date(2026, 3, 4)
    a, b = build_export(DISTRICT, d1, N), build_export(DISTRICT, d2, N)
    rows_a = {r[0]: r for r in a.files["students.csv"]}
    rows_b = {r[0]: r for r in b.files["students.csv"]}
    entered = set(rows_b) - set(rows_a)
    withdrew = [s for s in rows_a if s in rows_b and rows_a[s][11] == "active" and rows_b[s][11] == "inactive"]
    assert entered and withdrew
    for s in entered:
        assert d1 < dt.date.fromisoformat(rows_b[s][12]) <= d2
    for s in withdrew:
        assert d1 <= dt.date.fromisoformat(rows_b[s][13]) < d2
        # the withdrawn student's schedule ends on the exit date
        ends = {r[4] for r in b.files["enrollments.csv"] if r[0] == s and r[3] <= rows_b[s][13]}
        assert ends and all(e and e <= rows_b[s][13] for e in ends)
    assert truth_of(a).phone_changes_between(d1, d2)
    assert truth_of(a).enrollment_changes_between(d1, d2)


def test_mid_year_schedule_changes_close_the_old_row():
    e = build_export(DISTRICT, MID_YEAR, N)
    course_of = {r[0]: r[1] for r in e.files["sections.csv"]}
    inactive = {r[0] for r in e.files["students.csv"] if r[11] == "inactive"}
    by_course = {}
    for r in e.files["enrollments.csv"]:
        by_course.setdefault((r[0], course_of[r[1]]), []).append(r)
    switches = [rows for rows in by_course.values() if len(rows) > 1]
    assert switches, "some students switched sections mid-year"
    for rows in switches:
        rows.sort(key=lambda r: r[3])
        for old, new in zip(rows, rows[1:], strict=False):
            assert old[1] != new[1] and old[4] and old[4] < new[3]
    # before the last day, an end date means: a withdrawal, a switch, or a semester-1 section that is over
    switched = {rows[0][0] for rows in switches}
    for r in e.files["enrollments.csv"]:
        if r[4]:
            assert r[0] in inactive or r[0] in switched or r[4] == CAL.s1_end.isoformat(), r


def test_last_day_of_school_ends_every_schedule():
    e = build_export(DISTRICT, CAL.last_day, N)
    last = CAL.last_day.isoformat()
    for r in e.files["enrollments.csv"]:
        assert r[4], r
        assert r[3] <= r[4] <= last
    ends = Counter(r[4] for r in e.files["enrollments.csv"])
    assert ends.most_common(1)[0][0] == last
    assert truth_of(e).active_roster_rows == ends[last]  # end_date >= export date
    before = build_export(DISTRICT, CAL.last_day - dt.timedelta(days=1), N)
    assert sum(1 for r in before.files["enrollments.csv"] if not r[4]) > len(before.files["enrollments.csv"]) / 2


def test_summer_keeps_the_old_year_until_rollover():
    last_day = build_export(DISTRICT, CAL.last_day, N)
    summer = build_export(DISTRICT, CAL.rollover_date, N)
    assert summer.school_year == Y
    for name in ("students.csv", "attendance.csv", "discipline.csv", "courses.csv", "sections.csv"):
        assert last_day.csv_bytes(name) == summer.csv_bytes(name), name
    assert truth_of(summer).active_student_ids == truth_of(last_day).active_student_ids
    # ... but a clerk corrected some old-year schedules in July (the summer freeze must ignore it)
    changed = truth_of(last_day).enrollment_changes_between(CAL.summer_change_date - dt.timedelta(days=1),
                                                        CAL.summer_change_date)
    assert changed
    assert all(section.startswith("S26-") for _, section, _ in changed)
    assert truth_of(last_day).enrollment_changes_between(CAL.last_day, CAL.summer_change_date - dt.timedelta(1)) == []


def test_a_phone_changes_in_july_and_shows_the_same_night():
    t = truth(DISTRICT, dt.date(2026, 7, 1), N)
    changes = t.phone_change_events(dt.date(2026, 7, 1), dt.date(2026, 7, 31))
    assert changes
    change = changes[0]
    assert change.change_date.month == 7 and change.old_phone != change.new_phone
    before = truth(DISTRICT, change.change_date - dt.timedelta(days=1), N)
    after = truth(DISTRICT, change.change_date, N)
    assert before.phones_by_contact[change.contact_id] == change.old_phone
    assert after.phones_by_contact[change.contact_id] == change.new_phone
    assert change.contact_id in t.phone_changes_between(change.change_date - dt.timedelta(days=1),
                                                        change.change_date)
    assert after.school_year == before.school_year == Y
    assert after.student_count == before.student_count


def test_rollover_promotes_graduates_and_enrols_a_new_kindergarten():
    old = build_export(DISTRICT, CAL.rollover_date, N)
    new = build_export(DISTRICT, CAL.rollover_date + dt.timedelta(days=1), N)
    assert (old.school_year, new.school_year) == (Y, Y + 1)
    old_grades, new_grades = truth_of(old).grade_by_student, truth_of(new).grade_by_student
    continuing = set(old_grades) & set(new_grades)
    assert len(continuing) > 0.8 * len(new_grades)
    for sid in continuing:
        assert GRADE_CODES.index(new_grades[sid]) == GRADE_CODES.index(old_grades[sid]) + 1, sid
    seniors = {s for s, g in old_grades.items() if g == "12"}
    assert seniors and not seniors & set(new_grades)
    new_kg = {s for s, g in new_grades.items() if g == "KG"}
    assert new_kg and not new_kg & set(old_grades)
    arrivals = set(new_grades) - set(old_grades) - new_kg
    assert arrivals, "families who moved in over the summer"
    # the new year is registered and scheduled, but has no attendance or discipline yet
    assert set(truth_of(new).active_student_ids) == set(new_grades)
    assert {r[12] for r in new.files["students.csv"]} == {NEXT.first_day.isoformat()}
    assert "attendance.csv" not in new.files and "discipline.csv" not in new.files
    assert all(r[0].startswith("S27-") for r in new.files["sections.csv"])
    assert all(r[2] == "2027" and r[3] >= NEXT.first_day.isoformat() and not r[4]
               for r in new.files["enrollments.csv"])
    day_before = build_export(DISTRICT, NEXT.first_day - dt.timedelta(days=1), N)
    assert "attendance.csv" not in day_before.files
    assert "attendance.csv" in build_export(DISTRICT, NEXT.school_days[4], N).files


def test_staff_come_and_go():
    years = [truth(DISTRICT, dt.date(y, 3, 16), 3000) for y in (2026, 2027)]
    a, b = years
    assert a.staff_count > len(a.active_staff_ids)  # who left this year or last summer is inactive
    assert a.active_staff_ids - b.active_staff_ids, "some staff left"
    assert b.active_staff_ids - a.active_staff_ids, "some staff joined"
