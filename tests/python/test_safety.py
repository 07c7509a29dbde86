"""Safety thresholds: a night that would wipe out a large share of a district's data is held.

Uses a district with no calendar row ("south": always in session) so that seasons do not interfere.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from export_files import rewrite_csv

from sis_sync.cli import main
from sis_sync.commands import run_build, run_nightly
from sis_sync.ingestion import safety
from sis_sync.sample import write_export

STUDENTS = 300
DISTRICT = "south"


def keep_rows(path: Path, keep) -> tuple[int, int]:
    """Rewrite a CSV keeping the data rows for which keep(index, row) is true; drop the manifest."""
    counts = []

    def kept(header, rows):
        out = [r for i, r in enumerate(rows) if keep(i, dict(zip(header, r, strict=True)))]
        counts.extend((len(rows), len(out)))
        return header, out

    rewrite_csv(path, kept)
    return counts[0], counts[1]


class Night:
    def __init__(self, conn, drop):
        self.conn, self.drop = conn, drop

    def scalar(self, sql, params=()):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()[0]

    def export(self, night: dt.date) -> Path:
        return write_export(self.drop, district_id=DISTRICT, export_date=night, students=STUDENTS)

    def digest(self, mart: str) -> str:
        return self.scalar(f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
                           f"from marts.{mart} as t where t.district_id = %s", (DISTRICT,))

    def history(self, night: dt.date, file_name: str) -> tuple[str, str]:
        with self.conn.cursor() as cur:
            cur.execute("select sync_status, reason from marts.sync_history "
                        "where district_id = %s and export_date = %s and file_name = %s",
                        (DISTRICT, night, file_name))
            return cur.fetchone()


@pytest.fixture
def night(fresh_db, db_conn, tmp_path):
    return Night(db_conn, tmp_path / "drop")


def test_a_truncated_students_file_is_held_until_approved(night):
    first, second = dt.date(2026, 3, 16), dt.date(2026, 3, 17)
    night.export(first)
    assert run_nightly(None, night.drop, first, ()) == 0
    yesterday = {m: night.digest(m) for m in ("dim_students", "dim_student_years", "dim_schools")}
    active_before = night.scalar("select count(*) from marts.dim_students where district_id = %s and is_active",
                                 (DISTRICT,))

    folder = night.export(second)
    total, kept = keep_rows(folder / "students.csv", lambda i, _row: i < 200)
    assert kept < total * 0.8
    assert run_nightly(None, night.drop, second, ()) == 1, "a held night makes the nightly job fail"

    status, reason = night.history(second, "students.csv")
    assert status == "held"
    assert "records removed" in reason and "sis-sync approve" in reason
    assert night.history(second, "contacts.csv")[0] in ("loaded", "unchanged"), "other groups still sync"
    assert {m: night.digest(m) for m in yesterday} == yesterday, "the marts keep yesterday's students"

    # what the command line reads is dbt's view of the open holds; a warehouse last built before that view
    # existed reads the mart's holds as of its build
    held = safety.held_files(night.conn, DISTRICT, second)
    assert [name for name, _message in held] == ["students.csv"], held
    view = night.scalar("select pg_get_viewdef('intermediate.int_open_holds')")
    with night.conn.cursor() as cur:
        cur.execute("drop view intermediate.int_open_holds")
    assert safety.held_files(night.conn, DISTRICT, second) == held
    with night.conn.cursor() as cur:
        cur.execute(f"create view intermediate.int_open_holds as {view}")

    retired = night.scalar("select retired_count from raw_sis.load_ledger where district_id = %s and export_date"
                           " = %s and file_name = 'students.csv' and status = 'loaded'", (DISTRICT, second))
    approve = ["approve", "--district", DISTRICT, "--date", second.isoformat()]
    asked = CliRunner().invoke(main, approve, input="n\n")
    assert asked.exit_code == 1 and "not released" in asked.output, asked.output
    students_row = next(row for row in (line.split() for line in asked.output.splitlines())
                        if row[:2] == ["students.csv", "held"])
    assert students_row[-1] == f"{retired:,}", asked.output  # the preview, before the question
    assert night.scalar("select count(*) from raw_sis.sync_approvals where district_id = %s",
                        (DISTRICT,)) == 0, "answering no releases nothing"
    released = CliRunner().invoke(main, [*approve, "--yes"])
    assert released.exit_code == 0 and "released" in released.output, released.output
    assert CliRunner().invoke(main, [*approve, "--yes"]).exit_code == 1, "nothing left to approve"
    assert run_build(second) == 0
    active_after = night.scalar("select count(*) from marts.dim_students where district_id = %s and is_active",
                                (DISTRICT,))
    assert active_after < active_before
    assert night.history(second, "students.csv")[0] == "loaded"


def test_a_contacts_file_cut_in_half_is_held(night):
    first, second = dt.date(2026, 3, 16), dt.date(2026, 3, 17)
    night.export(first)
    assert run_nightly(None, night.drop, first, ()) == 0
    contacts = night.digest("dim_contacts")
    links = night.digest("fct_student_contacts")

    folder = night.export(second)
    total, kept = keep_rows(folder / "contacts.csv", lambda i, _row: i % 2 == 0)
    assert run_nightly(None, night.drop, second, ()) == 1
    status, reason = night.history(second, "contacts.csv")
    assert status == "held" and "records removed" in reason
    assert str(total - kept) in reason, "the reason gives the counts"
    assert night.digest("dim_contacts") == contacts
    assert night.digest("fct_student_contacts") == links
    assert night.history(second, "students.csv")[0] in ("loaded", "unchanged")


def test_a_missing_file_deletes_nothing(night):
    first, second = dt.date(2026, 3, 16), dt.date(2026, 3, 17)
    night.export(first)
    assert run_nightly(None, night.drop, first, ()) == 0
    contacts = night.digest("dim_contacts")
    folder = night.export(second)
    (folder / "contacts.csv").unlink()
    (folder / "manifest.csv").unlink()
    assert run_nightly(None, night.drop, second, ()) == 0
    assert night.digest("dim_contacts") == contacts
    assert night.scalar("select count(*) from marts.dim_contacts where district_id = %s", (DISTRICT,)) > 0


def test_a_large_legitimate_change_after_rollover_is_not_held(night):
    """Back to school: the new year drops a whole school (it left the district) on the rollover night.

    The same loss in the middle of the year would be held (10%); in the two weeks after a rollover the
    threshold is 60%, so it goes through.
    """
    summer, rollover = dt.date(2026, 7, 20), dt.date(2026, 7, 21)
    night.export(summer)
    assert run_nightly(None, night.drop, summer, ()) == 0
    active_summer = night.scalar("select count(*) from marts.dim_students where district_id = %s and is_active",
                                 (DISTRICT,))

    folder = night.export(rollover)
    with (folder / "students.csv").open(newline="", encoding="utf-8") as f:
        by_school: dict[str, int] = {}
        for row in csv.DictReader(f):
            by_school[row["school_id"]] = by_school.get(row["school_id"], 0) + 1
    largest = max(by_school, key=by_school.get)
    total, kept = keep_rows(folder / "students.csv", lambda _i, row: row["school_id"] != largest)
    assert (total - kept) / active_summer > 0.10, "the change is larger than the in-session threshold"

    assert run_nightly(None, night.drop, rollover, ()) == 0
    assert night.history(rollover, "students.csv")[0] == "loaded"
    assert night.scalar("select max(school_year) from marts.dim_student_years where district_id = %s",
                        (DISTRICT,)) == 2027


def test_a_night_that_blanks_most_phone_numbers_is_held_and_preview_names_the_phone_columns(night):
    """80% of the mobile and home phones blanked: held by "phones emptied"; the preview names the columns,
    and shows the values only when asked."""
    first, second = dt.date(2026, 3, 16), dt.date(2026, 3, 17)
    night.export(first)
    assert run_nightly(None, night.drop, first, ()) == 0
    folder = night.export(second)
    blanked, contacts = [], []

    def blank(header, rows):
        at, home = header.index("mobile_phone"), header.index("home_phone")
        contacts.extend(rows)
        blanked.extend(row[at] for i, row in enumerate(rows) if i % 5 != 0 and row[at])
        for i, row in enumerate(rows):
            if i % 5 != 0:
                row[at] = row[home] = ""
        return header, rows

    rewrite_csv(folder / "contacts.csv", blank)
    assert run_nightly(None, night.drop, second, ()) == 1
    assert "phones emptied" in holds(night, second)["contacts.csv"]

    args = ["preview", "--district", DISTRICT, "--date", second.isoformat()]
    shown = CliRunner().invoke(main, args)
    assert shown.exit_code == 0, shown.output
    assert "contacts.csv     held" in shown.output, shown.output
    for column in ("mobile_phone", "home_phone"):
        assert f"{column} (emptied):" in shown.output and f"{column}:" in shown.output, shown.output
    line = next(line for line in shown.output.splitlines() if line.strip().startswith("mobile_phone:"))
    assert int(line.split(":")[1].split()[0].replace(",", "")) >= len(blanked) > len(contacts) / 2
    assert not any(phone in shown.output for phone in blanked), "no personal data without --show-values"
    assert "contacts.csv" in shown.output and "students.csv" in shown.output

    with_values = CliRunner().invoke(main, [*args, "--show-values"])
    assert with_values.exit_code == 0, with_values.output
    assert any(f"{phone!r} -> None" in with_values.output for phone in blanked), with_values.output
    assert CliRunner().invoke(main, ["preview", "--district", DISTRICT, "--date", "2026-03-18"]).exit_code == 1


def rewrite(path: Path, change) -> int:
    """Rewrite a CSV with change(row) applied to every data row (a dict, changed in place); drop the manifest.
    Returns the number of data rows."""
    counted = []

    def each(header, rows):
        records = [dict(zip(header, row, strict=True)) for row in rows]
        for record in records:
            change(record)
        counted.append(len(records))
        return header, [[record[column] for column in header] for record in records]

    rewrite_csv(path, each)
    return counted[0]


def holds(night: Night, export_date: dt.date) -> dict[str, set[str]]:
    """file_name -> the measures that hold it, from marts.sync_holds."""
    with night.conn.cursor() as cur:
        cur.execute("select file_name, measure from marts.sync_holds where district_id = %s and export_date = %s"
                    " and is_held", (DISTRICT, export_date))
        out: dict[str, set[str]] = {}
        for file_name, measure in cur.fetchall():
            out.setdefault(file_name, set()).add(measure)
        return out


def test_every_kind_of_destructive_night_is_held_by_its_own_measure_and_released_by_approve(night):
    """One night that wipes contacts' phones and emails and clears their do-not-contact flags, moves every
    student to one school under another district's names and birth dates, and cuts the staff, sections and
    attendance files to one row: each file is held, by the measure that names what happened."""
    first, second = dt.date(2026, 3, 16), dt.date(2026, 3, 17)
    night.export(first)
    assert run_nightly(None, night.drop, first, ()) == 0
    marts = ("dim_contacts", "dim_students", "dim_staff", "fct_roster", "fct_attendance")
    yesterday = {m: night.digest(m) for m in marts}

    folder = night.export(second)

    def wipe_contact(row):
        row.update(mobile_phone="", home_phone="", work_phone="", email="", do_not_contact="N")

    rewrite(folder / "contacts.csv", wipe_contact)
    school = night.scalar("select school_id from marts.dim_students where district_id = %s"
                          " group by school_id order by count(*), school_id limit 1", (DISTRICT,))
    names = iter(range(10**6))

    def another_districts_student(row):
        n = next(names)
        row.update(school_id=school, first_name=f"Other{n}", last_name=f"Person{n}",
                   birth_date=f"20{10 + n % 8:02d}-0{1 + n % 9}-1{n % 10}")

    rewrite(folder / "students.csv", another_districts_student)
    for name in ("staff.csv", "sections.csv", "attendance.csv"):
        keep_rows(folder / name, lambda i, _row: i == 0)
    assert run_nightly(None, night.drop, second, ()) == 1

    held = holds(night, second)
    assert {"phones emptied", "emails emptied", "do-not-contact flags cleared"} <= held["contacts.csv"], held
    assert {"school changed", "name or birth date changed"} <= held["students.csv"], held
    for name in ("staff.csv", "sections.csv", "attendance.csv"):
        assert "records removed" in held[name], held
    for name in ("contacts.csv", "students.csv", "staff.csv", "sections.csv", "attendance.csv"):
        assert night.history(second, name)[0] == "held", name
    assert {m: night.digest(m) for m in marts} == yesterday, "every group keeps yesterday's marts"

    released = CliRunner().invoke(main, ["approve", "--district", DISTRICT, "--date", second.isoformat(), "--yes"])
    assert released.exit_code == 0, released.output
    assert run_build(second) == 0
    assert holds(night, second) == {}
    assert night.history(second, "contacts.csv")[0] == "loaded"
    assert {m: night.digest(m) for m in marts}["dim_contacts"] != yesterday["dim_contacts"], "the night applies"


def test_a_corrected_delivery_of_a_night_with_half_its_students_is_held(night):
    first = dt.date(2026, 3, 16)
    folder = night.export(first)
    assert run_nightly(None, night.drop, first, ()) == 0
    total, kept = keep_rows(folder / "students.csv", lambda i, _row: i % 2 == 0)
    assert run_nightly(None, night.drop, first, ()) == 1
    status, reason = night.history(first, "students.csv")
    assert status == "held" and "records removed" in reason, reason
    assert night.scalar("select count(*) from marts.dim_students where district_id = %s", (DISTRICT,)) == total, \
        "the marts keep the delivery they showed"
    released = CliRunner().invoke(main, ["approve", "--district", DISTRICT, "--date", first.isoformat(), "--yes"])
    assert released.exit_code == 0, released.output
    assert run_build(first) == 0
    assert night.scalar("select count(*) from marts.dim_students where district_id = %s", (DISTRICT,)) == kept


def test_small_removals_that_add_up_over_a_week_are_held_by_the_cumulative_rule(night):
    """Seven nights each remove 3% of the students: no night alone is over 10%, the week is over 15%. Built once
    after the seventh night, the marts show the last night before the removals added up over the threshold (the
    nights from then on are held), as a full refresh does."""
    first = dt.date(2026, 3, 16)
    night.export(first)
    assert run_nightly(None, night.drop, first, ()) == 0
    students = night.scalar("select count(*) from marts.dim_students where district_id = %s", (DISTRICT,))
    removed: set[str] = set()
    ordered: list[str] = []
    for day in range(1, 8):
        export_date = first + dt.timedelta(days=day)
        folder = night.export(export_date)
        with (folder / "students.csv").open(newline="", encoding="utf-8") as f:
            ids = [row["student_id"] for row in csv.DictReader(f)]
        ordered += [i for i in ids if i not in ordered]
        removed |= set([i for i in ordered if i not in removed][:round(students * 0.03)])
        keep_rows(folder / "students.csv", lambda _i, row, gone=frozenset(removed): row["student_id"] not in gone)
        result = CliRunner().invoke(main, ["ingest", "--drop", str(night.drop), "--date", export_date.isoformat()])
        assert result.exit_code == 0, result.output
    last = first + dt.timedelta(days=7)
    assert run_build(last) == 0
    with night.conn.cursor() as cur:
        cur.execute("select night_date, affected_share, is_over_threshold, is_over_cumulative_threshold"
                    " from intermediate.int_night_checks where district_id = %s and file_name = 'students.csv'"
                    " and measure = 'records removed' order by night_date", (DISTRICT,))
        checks = cur.fetchall()
    assert len(checks) == 7 and all(share < 0.10 for _night, share, _over, _cumulative in checks), checks
    assert not any(over for _night, _share, over, _cumulative in checks)
    assert [cumulative for *_rest, cumulative in checks][:4] == [False] * 4, checks
    assert checks[-1][3], "the week's removals add up over the cumulative threshold"
    assert night.history(last, "students.csv")[0] == "held"
    applied = [cumulative for *_rest, cumulative in checks].index(True)  # the nights before the first held one
    shown = night.scalar("select count(*) from marts.dim_students where district_id = %s", (DISTRICT,))
    assert shown == students - applied * round(students * 0.03)
    assert run_build(last, full_refresh=True) == 0
    assert night.scalar("select count(*) from marts.dim_students where district_id = %s", (DISTRICT,)) == shown


def header_only(path: Path) -> None:
    """Keep the header row of a CSV file, nothing else."""
    keep_rows(path, lambda _i, _row: False)


def test_a_header_only_students_file_removes_everyone_and_is_held(night):
    first, second = dt.date(2026, 3, 16), dt.date(2026, 3, 17)
    night.export(first)
    assert run_nightly(None, night.drop, first, ()) == 0
    active = night.scalar("select count(*) from marts.dim_students where district_id = %s and is_active",
                          (DISTRICT,))
    header_only(night.export(second) / "students.csv")
    assert run_nightly(None, night.drop, second, ()) == 1
    assert night.history(second, "students.csv")[0] == "held"
    assert night.scalar("select retired_count from raw_sis.load_ledger where export_date = %s"
                        " and file_name = 'students.csv'", (second,)) == night.scalar(
        "select row_count from raw_sis.load_ledger where export_date = %s and file_name = 'students.csv'", (first,))
    assert night.scalar("select count(*) from marts.dim_students where district_id = %s and is_active",
                        (DISTRICT,)) == active


def test_header_only_attendance_and_discipline_of_a_new_year_are_normal(night):
    """After the rollover the SIS exports the new year's attendance and discipline files with no rows yet: a
    delivery of zero records, the night is ok, and the marts keep showing the year before."""
    spring, rollover = dt.date(2026, 6, 1), dt.date(2026, 8, 3)
    night.export(spring)
    assert run_nightly(None, night.drop, spring, ()) == 0
    days = night.scalar("select count(*) from marts.fct_attendance where district_id = %s", (DISTRICT,))
    incidents = night.scalar("select count(*) from marts.fct_discipline where district_id = %s", (DISTRICT,))
    assert days and incidents

    folder = night.export(rollover)
    for name in ("attendance.csv", "discipline.csv"):  # the generator leaves such files out: written here
        header = (night.drop / DISTRICT / spring.isoformat() / name).read_text(encoding="utf-8").splitlines()[0]
        (folder / name).write_text(header + "\n", encoding="utf-8")
    assert run_nightly(None, night.drop, rollover, ()) == 0
    assert night.history(rollover, "attendance.csv")[0] == "loaded"
    assert night.scalar("select max(school_year) from marts.dim_student_years where district_id = %s",
                        (DISTRICT,)) == 2027
    assert night.scalar("select count(*) from marts.fct_attendance where district_id = %s", (DISTRICT,)) == days
    assert night.scalar("select count(*) from marts.fct_discipline where district_id = %s",
                        (DISTRICT,)) == incidents


def test_a_stray_next_year_student_neither_rolls_the_district_over_nor_passes_unseen(night):
    """One students row of next year's school year in March: the export as a whole is still of this year.
    The night is held (a person looks), and even approved it deactivates nobody."""
    first, second = dt.date(2026, 3, 16), dt.date(2026, 3, 17)
    night.export(first)
    assert run_nightly(None, night.drop, first, ()) == 0
    active = night.scalar("select count(*) from marts.dim_students where district_id = %s and is_active",
                          (DISTRICT,))
    assert active > 0

    folder = night.export(second)
    strays = iter([True])
    rewrite(folder / "students.csv",
            lambda row: row.update(school_year="2027") if next(strays, False) else None)
    assert run_nightly(None, night.drop, second, ()) == 1
    status, reason = night.history(second, "students.csv")
    assert status == "held" and "records of school year 2027 in an export of school year 2026" in reason
    assert night.scalar("select count(*) from marts.dim_students where district_id = %s and is_active",
                        (DISTRICT,)) == active

    assert CliRunner().invoke(main, ["approve", "--district", DISTRICT, "--date", second.isoformat(),
                                     "--yes"]).exit_code == 0
    assert run_build(second) == 0
    assert night.scalar("select count(*) from marts.dim_students where district_id = %s and is_active",
                        (DISTRICT,)) >= active - 1, "the district did not roll over"
    assert night.scalar("select current_school_year from intermediate.int_district_school_years"
                        " where district_id = %s", (DISTRICT,)) == 2026


def test_a_mid_year_move_of_many_students_to_one_school_is_held(night):
    """Two thirds of the students move to one school in March: 66% changed is under the 75% any-column share,
    but over the 20% of the "school changed" measure (seed safety_measures)."""
    first, second = dt.date(2026, 3, 16), dt.date(2026, 3, 17)
    night.export(first)
    assert run_nightly(None, night.drop, first, ()) == 0
    schools = night.scalar("select count(*) from marts.dim_student_years where district_id = %s"
                           " and school_id = '0301'", (DISTRICT,))

    folder = night.export(second)
    def move(header, rows):
        school = header.index("school_id")
        return header, [[*r[:school], "0301", *r[school + 1:]] if i % 3 else r for i, r in enumerate(rows)]

    rewrite_csv(folder / "students.csv", move)
    assert run_nightly(None, night.drop, second, ()) == 1
    status, reason = night.history(second, "students.csv")
    assert status == "held" and "school changed" in reason and "over the 20% threshold" in reason, reason
    assert night.scalar("select count(*) from marts.dim_student_years where district_id = %s"
                        " and school_id = '0301'", (DISTRICT,)) == schools, "the marts keep yesterday's schools"
