"""Landing: the csv files the validator writes are COPYed by dlt into the raw tables exactly as validated.

Every value lands as the typed batches say it is (``typed.typed_batches``): NULLs, text with
commas, quotes, line breaks, backslashes, the words NULL and \\N, non-ASCII characters; dates, booleans,
decimals and integers at their edges. Then: a table split into several csv files lands in full, a file missing
from the landing fails the run before the ledger is written, and no csv file of student data stays behind.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg2
import pyarrow as pa
import pytest
from typed import typed_batches

from sis_sync.ingestion import landing, planning
from sis_sync.ingestion.load import ingest_export
from sis_sync.ingestion.spec import load_spec
from sis_sync.ingestion.validate import arrow_schema

SPEC = load_spec()
DISTRICT = "d042"
NIGHT = date(2025, 10, 14)

STUDENT_HEADER = ["student_id", "state_student_id", "first_name", "middle_name", "last_name", "preferred_name",
                  "birth_date", "gender", "grade_level", "school_id", "school_year", "enrollment_status",
                  "entry_date", "exit_date", "home_language"]
AWKWARD_NAMES = [
    "O'Neil, Jr.",  # a comma
    'Say "hi"',  # double quotes
    "Nguyen\nTran",  # a line break (LF)
    "two\r\nlines",  # CRLF inside a quoted field
    "back\\slash\\N",  # backslashes, as COPY's text format would read them
    "\\N",  # COPY's text-format NULL marker, as a value
    "NULL",  # the word
    "Zoë Ångström 李",  # non-ASCII
    '","',  # a quoted comma between quotes
    "=1+1",  # a formula (stored as text, flagged)
    "a\tb",  # a tab
]


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def students() -> bytes:
    rows = []
    for i, name in enumerate(AWKWARD_NAMES):
        rows.append([f"{i:06d}", "", name, "" if i % 2 else "  padded  ", name[::-1], "", "2016-02-29",
                     "F", "KG", "0101", "2026", "Active" if i % 3 else "inactive", "1999-12-31",
                     "" if i % 2 else "2100-01-01", ""])
    return csv_bytes(STUDENT_HEADER, rows)


def staff() -> bytes:
    flags = ["Y", "n", "TRUE", "false", "T", "f", "1", "0", "yes", "NO"]
    rows = [[f"S{i:03d}", "First", "Last", "" if i % 2 else f"s{i}@x.example", "0101", "teacher", flag]
            for i, flag in enumerate(flags)]
    return csv_bytes(["staff_id", "first_name", "last_name", "email", "school_id", "role", "is_active"], rows)


def discipline() -> bytes:
    amounts = ["0", "0.5", "3", "0.0001", "12345678901234.9999", "", "007.2500"]
    rows = [[f"I{i}", "000001", "0101", "2025-11-03", "Fighting", "", "", "", amount, "2026"]
            for i, amount in enumerate(amounts)]
    return csv_bytes(["incident_id", "student_id", "school_id", "incident_date", "incident_type", "action_taken",
                      "action_start_date", "action_end_date", "days_removed", "school_year"], rows)


def attendance() -> bytes:
    minutes = ["0", "-5", "+30", "9223372036854775807", "", "390"]
    rows = [["000001", "0101", f"2025-10-{i + 1:02d}", "UA", m, "2026"] for i, m in enumerate(minutes)]
    return csv_bytes(["student_id", "school_id", "attendance_date", "attendance_code", "minutes_absent",
                      "school_year"], rows)


FILES = {"students.csv": students, "staff.csv": staff, "discipline.csv": discipline, "attendance.csv": attendance}


@pytest.fixture
def night(tmp_path) -> Path:
    folder = tmp_path / "drop" / DISTRICT / NIGHT.isoformat()
    folder.mkdir(parents=True)
    for name, make in FILES.items():
        (folder / name).write_bytes(make())
    return folder


def run(settings, tmp_path):
    return ingest_export(settings, tmp_path / "drop", DISTRICT, NIGHT, tmp_path / "pipelines")


def raw_rows(settings, table: str, columns: list[str]) -> list[tuple]:
    conn = psycopg2.connect(settings.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(f"select {', '.join(columns)} from raw_sis.{table} order by _line_number")
            return cur.fetchall()
    finally:
        conn.close()


def scalar(settings, sql: str):
    conn = psycopg2.connect(settings.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()


def expected_rows(name: str, data: bytes, load_id: str) -> list[tuple]:
    spec = SPEC.file(name)
    batches = typed_batches(spec, lambda: io.BytesIO(data), district_id=DISTRICT, export_date=NIGHT,
                            load_id=load_id)
    table = pa.Table.from_batches(batches, schema=arrow_schema(spec))
    return [tuple(row.values()) for row in table.to_pylist()]


def test_awkward_values_land_exactly_as_validated(fresh_db, tmp_path, night):
    result = run(fresh_db, tmp_path)
    assert result.loaded == len(FILES) and result.rejected == 0
    load_ids = {r.file_name: r.load_id for r in result.rows}
    for name, make in FILES.items():
        spec = SPEC.file(name)
        columns = arrow_schema(spec).names
        landed = raw_rows(fresh_db, spec.name, columns)
        assert landed == expected_rows(name, make(), load_ids[name]), name

    # The same, spelled out for the awkward ones.
    names = raw_rows(fresh_db, "students", ["first_name", "middle_name", "exit_date", "state_student_id",
                                            "_line_number"])
    assert [n[0] for n in names] == [name.strip() for name in AWKWARD_NAMES]
    assert names[0][1] == "padded" and names[1][1] is None  # trimmed; empty is NULL (never "")
    assert names[0][2] == date(2100, 1, 1) and names[1][2] is None
    assert {n[3] for n in names} == {None}
    assert [n[4] for n in names][:5] == [2, 3, 4, 7, 10]  # a line break in two fields: the record spans 3 lines
    staff_flags = [f for (f,) in raw_rows(fresh_db, "staff", ["is_active"])]
    assert staff_flags == [True, False] * 5
    amounts = [a for (a,) in raw_rows(fresh_db, "discipline", ["days_removed"])]
    assert amounts == [Decimal("0"), Decimal("0.5"), Decimal("3"), Decimal("0.0001"),
                       Decimal("12345678901234.9999"), None, Decimal("7.25")]
    minutes = [m for (m,) in raw_rows(fresh_db, "attendance", ["minutes_absent"])]
    assert minutes == [0, -5, 30, 9223372036854775807, None, 390]
    assert scalar(fresh_db, "select count(*) from raw_sis.students where first_name = '' or middle_name = ''") == 0


def test_a_table_in_several_csv_files_lands_in_full(fresh_db, tmp_path, night, monkeypatch):
    monkeypatch.setattr(planning, "CSV_FILE_MAX_ROWS", 4)  # 11 students: three files, COPYed by parallel jobs
    written = []
    real = landing._csv_files

    def recording(file):
        written.extend((file.spec.name, rows) for _, rows in file.stats.csv_files)
        return real(file)

    monkeypatch.setattr(landing, "_csv_files", recording)
    result = run(fresh_db, tmp_path)
    assert result.loaded == len(FILES)
    assert [rows for table, rows in written if table == "students"] == [4, 4, 3]
    landed = raw_rows(fresh_db, "students", ["student_id", "first_name"])
    assert landed == [(f"{i:06d}", name.strip()) for i, name in enumerate(AWKWARD_NAMES)]


def test_a_file_not_landed_in_full_fails_before_the_ledger(fresh_db, tmp_path, night, monkeypatch):
    monkeypatch.setattr(planning, "CSV_FILE_MAX_ROWS", 4)
    real = landing._csv_files

    def losing_the_last_file(file):
        imported = list(real(file))
        return imported[:-1] if file.spec.name == "students" else imported

    monkeypatch.setattr(landing, "_csv_files", losing_the_last_file)
    with pytest.raises(RuntimeError, match="students.csv: 8 rows landed, 11 written"):
        run(fresh_db, tmp_path)
    assert scalar(fresh_db, "select count(*) from raw_sis.load_ledger") == 0


def test_no_csv_file_of_student_data_stays_behind(fresh_db, tmp_path, night):
    run(fresh_db, tmp_path)
    assert scalar(fresh_db, "select count(*) from raw_sis.students") == len(AWKWARD_NAMES)
    left = [p for p in (tmp_path / "pipelines").rglob("*") if p.is_file() and ".csv" in p.name]
    assert left == []
