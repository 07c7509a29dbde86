"""The streaming validator: one test per way a file can break the spec, and the typed output."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest
from typed import typed_batches

from sis_sync.ingestion import validate
from sis_sync.ingestion.hashing import key_hashes
from sis_sync.ingestion.spec import load_spec
from sis_sync.ingestion.validate import (
    CsvOutput,
    ValidationError,
    arrow_schema,
    keys,
    validate_file,
)

SPEC = load_spec()
SCHOOLS = SPEC.file("schools")
STUDENTS = SPEC.file("students")
STAFF = SPEC.file("staff")
ATTENDANCE = SPEC.file("attendance")
DISCIPLINE = SPEC.file("discipline")

STUDENT_HEADER = ("student_id,state_student_id,first_name,middle_name,last_name,preferred_name,birth_date,"
                  "gender,grade_level,school_id,school_year,enrollment_status,entry_date,exit_date,home_language")


def student(student_id="000123", birth_date="2016-04-09", grade="04", school_year="2026", status="active",
            first_name="Maria") -> str:
    return (f"{student_id},9000012345,{first_name},Luisa,Garcia,Malu,{birth_date},F,{grade},0101,"
            f"{school_year},{status},2025-08-20,,Spanish")


def opener(data: bytes | str):
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return lambda: io.BytesIO(raw)


def students_file(*rows: str, header: str = STUDENT_HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


def rejected(spec, data, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        validate_file(spec, opener(data), **kwargs)
    return info.value


def rows(spec, data, **kwargs) -> list[dict]:
    batches = typed_batches(spec, opener(data), district_id="d1", export_date=date(2025, 10, 14), load_id="L1",
                            **kwargs)
    return pa.Table.from_batches(batches, schema=arrow_schema(spec)).to_pylist()


# --- rejections -----------------------------------------------------------------------------------------


def test_missing_required_column():
    header = STUDENT_HEADER.replace(",grade_level", "")
    row = "000123,9000012345,Maria,Luisa,Garcia,Malu,2016-04-09,F,0101,2026,active,2025-08-20,,Sp"
    data = students_file(row, header=header)
    e = rejected(STUDENTS, data)
    assert (e.file_name, e.line, e.column) == ("students.csv", 1, "grade_level")
    assert str(e) == "students.csv line 1, column grade_level: required column is missing from the header"


def test_missing_optional_column_is_null():
    header = STUDENT_HEADER.replace(",home_language", "")
    out = rows(STUDENTS, students_file(student().rsplit(",", 1)[0], header=header))
    assert out[0]["home_language"] is None
    assert out[0]["student_id"] == "000123"


def test_unparseable_date():
    data = students_file(student("1"), student("2"), student("3", birth_date="2016-13-40"))
    e = rejected(STUDENTS, data)
    assert (e.line, e.column) == (4, "birth_date")
    assert str(e) == 'students.csv line 4, column birth_date: the value is not a date (YYYY-MM-DD)'


@pytest.mark.parametrize("value", ["2016-4-9", "04/09/2016", "2016-02-30", "20160409"])
def test_dates_are_strictly_iso(value):
    e = rejected(STUDENTS, students_file(student(birth_date=value)))
    assert (e.line, e.column) == (2, "birth_date")


@pytest.mark.parametrize(
    "value", ["2026.0", "2,026", "0x7EA", "1e3", "twenty", "+-2026", "99999999999999999999"])
def test_unparseable_integer(value):
    e = rejected(STUDENTS, students_file(student("1"), student("2", school_year=f'"{value}"')))
    assert (e.line, e.column) == (3, "school_year")
    assert f'"{value}"' in str(e)


@pytest.mark.parametrize("value", ["26", "20252026", "2147483648", "0"])
def test_a_school_year_is_a_spring_year(value):
    e = rejected(STUDENTS, students_file(student("1"), student("2", school_year=value)))
    assert (e.line, e.column) == (3, "school_year")
    assert str(e).endswith(f'"{value}" is not a school year: the spring year, 1900 to 2999 (2026 = 2025-26)')


def test_signed_integers_are_integers():
    data = "student_id,school_id,attendance_date,attendance_code,minutes_absent,school_year\n" \
           "1,0101,2025-10-14,UA,+30,2026\n2,0101,2025-10-14,UA,-5,+2026\n3,0101,2025-10-14,UA,007,2026\n"
    out = rows(ATTENDANCE, data)
    assert [r["minutes_absent"] for r in out] == [30, -5, 7]
    assert [r["school_year"] for r in out] == [2026, 2026, 2026]


def test_unparseable_boolean():
    data = "staff_id,first_name,last_name,email,school_id,role,is_active\n" \
           "T1,Dana,W,,0101,teacher,Y\nT2,Sam,O,,0101,teacher,maybe\n"
    e = rejected(STAFF, data)
    assert (e.line, e.column) == (3, "is_active")
    assert '"maybe" is not a boolean' in str(e)


def test_boolean_spellings():
    values = ["Y", "n", "Yes", "NO", "true", "False", "t", "F", "1", "0"]
    data = "staff_id,first_name,last_name,email,school_id,role,is_active\n" + "".join(
        f"T{i},Dana,W,,0101,teacher,{v}\n" for i, v in enumerate(values))
    out = rows(STAFF, data)
    assert [r["is_active"] for r in out] == [True, False, True, False, True, False, True, False, True, False]


def test_bad_grade():
    e = rejected(STUDENTS, students_file(student("1", grade="KG"), student("2", grade="13")))
    assert (e.line, e.column) == (3, "grade_level")
    assert '"13" is not a grade level' in str(e)


def test_grades_are_kept_as_delivered():
    grades = ["PK", "kg", "K", "01", "1", "12", "ug"]
    out = rows(STUDENTS, students_file(*(student(str(i), grade=g) for i, g in enumerate(grades))))
    assert [r["grade_level"] for r in out] == grades


def test_value_not_in_allowed_list():
    e = rejected(STUDENTS, students_file(student("1", status="Active"), student("2", status="graduated")))
    assert (e.line, e.column) == (3, "enrollment_status")
    assert str(e) == ('students.csv line 3, column enrollment_status: "graduated" is not one of active, '
                      'inactive')


def test_required_value_empty():
    e = rejected(STUDENTS, students_file(student("1"), student("2", first_name="   ")))
    assert (e.line, e.column) == (3, "first_name")
    assert "required" in str(e)


def test_duplicate_key():
    e = rejected(STUDENTS, students_file(student("000123"), student("123"), student("000123")))
    assert (e.line, e.column) == (4, "student_id")
    assert "duplicate key (student_id=000123), first seen on line 2" in str(e)


def test_duplicate_key_across_batches():
    # A tiny block size makes every few records a batch of their own.
    body = [f"{i:06d},0101,2025-10-{1 + i % 28:02d},UA,10,2026" for i in range(400)]
    body.insert(350, "000007,0101,2025-10-08,T,5,2026")  # the same (student, date) as record 8
    header = "student_id,school_id,attendance_date,attendance_code,minutes_absent,school_year\n"
    data = header + "\n".join(body)
    e = rejected(ATTENDANCE, data, block_size=1024)
    assert (e.line, e.column) == (352, "student_id, attendance_date")
    assert "first seen on line 9" in str(e)


def test_composite_key_allows_same_student_on_other_days():
    data = "student_id,school_id,attendance_date,attendance_code,minutes_absent,school_year\n" \
           "1,0101,2025-10-14,UA,,2026\n1,0101,2025-10-15,UA,,2026\n"
    assert validate_file(ATTENDANCE, opener(data)).row_count == 2


def test_non_utf8_bytes_report_offset():
    head = b"school_id,school_name\n0101,Lincoln\n"
    data = head + b"0102,Jos\xe9 Mart\xed School\n"  # Latin-1
    e = rejected(SCHOOLS, data)
    assert e.line == 3
    assert f"byte 0xe9 at byte offset {len(head) + 8}" in str(e)
    assert str(e).startswith("schools.csv line 3: the file is not UTF-8")


def test_non_utf8_in_header():
    e = rejected(SCHOOLS, b"school_id,school_n\xa0me\n1,A\n")
    assert e.line == 1 and "byte offset 18" in str(e)


def test_bom_tolerated():
    data = b"\xef\xbb\xbfschool_id,school_name\n0101,Lincoln\n"
    out = rows(SCHOOLS, data)
    assert out[0]["school_id"] == "0101"
    assert out[0]["_line_number"] == 2


def test_empty_file():
    e = rejected(SCHOOLS, b"")
    assert str(e) == "schools.csv: the file is empty (0 bytes)"


@pytest.mark.parametrize(
    "data", [b"school_id,school_name\n", b"school_id,school_name", b"school_id,school_name\n\n"])
def test_header_only_file_is_a_delivery_of_zero_records(data):
    stats = validate_file(SCHOOLS, opener(data))
    assert stats.row_count == 0


def test_ragged_row():
    e = rejected(SCHOOLS, b"school_id,school_name\n1,A\n2,B,extra\n3,C\n")
    assert e.line == 3
    assert "the row has 3 fields, the header has 2" in str(e)


def test_short_row():
    e = rejected(SCHOOLS, b"school_id,school_name,phone\n1,A,5\n2,B\n")
    assert e.line == 3 and "2 fields" in str(e)


def test_unbalanced_quote_at_end():
    # pyarrow alone would read this as a valid file whose last name runs to the end of the file.
    e = rejected(SCHOOLS, b'school_id,school_name\n1,A\n2,"B\n3,C\n')
    assert e.line == 3
    assert "never closed" in str(e)


def test_unbalanced_quote_in_the_middle():
    e = rejected(SCHOOLS, b'school_id,school_name,phone\n1,"A,5\n2,B,6\n3,C,7\n')
    assert e.line == 2


def test_stray_quote_in_unquoted_field():
    e = rejected(SCHOOLS, b'school_id,school_name\n1,A\n2,O"Neil\n')
    assert e.line == 3 and "unbalanced quote" in str(e)


def test_escaped_quotes_are_fine():
    out = rows(SCHOOLS, b'school_id,school_name\n1,"The ""Best"" School"\n')
    assert out[0]["school_name"] == 'The "Best" School'


# --- reading --------------------------------------------------------------------------------------------


def test_header_case_and_spaces_insensitive():
    data = b" School_ID ,SCHOOL_NAME,  Low_Grade\n0101,Lincoln,KG\n"
    out = rows(SCHOOLS, data)
    assert out[0]["school_id"] == "0101" and out[0]["low_grade"] == "KG"


def test_columns_in_any_order():
    data = b"school_name,phone,school_id\nLincoln,555,0101\n"
    out = rows(SCHOOLS, data)
    assert (out[0]["school_id"], out[0]["school_name"], out[0]["phone"]) == ("0101", "Lincoln", "555")


def test_leading_zeros_kept():
    out = rows(STUDENTS, students_file(student("000123"), student("123")))
    assert [r["student_id"] for r in out] == ["000123", "123"]


def test_values_trimmed_and_empty_is_null():
    out = rows(SCHOOLS, b"school_id,school_name,phone\n  0101 , Lincoln ,   \n")
    assert (out[0]["school_id"], out[0]["school_name"], out[0]["phone"]) == ("0101", "Lincoln", None)


def test_exact_line_numbers_with_quoted_newlines():
    data = (b'school_id,school_name,phone\n'
            b'1,"Two\nline name",5\n'        # line 2 (takes lines 2-3)
            b'2,B,"a\r\nb\nc"\n'             # line 4 (takes 4-6)
            b'\n'                            # line 7: blank, skipped
            b'3,C,7\n')                      # line 8
    out = rows(SCHOOLS, data)
    assert [r["_line_number"] for r in out] == [2, 4, 8]
    assert out[0]["school_name"] == "Two\nline name"


def test_line_numbers_across_batches_with_newlines():
    body = "".join(f'{i},"name\n{i}",x\n' for i in range(300))
    data = ("school_id,school_name,phone\n" + body + "bad,,x\n").encode()
    e = rejected(SCHOOLS, data, block_size=1024)
    assert (e.line, e.column) == (2 + 2 * 300, "school_name")


def test_crlf_line_endings():
    out = rows(SCHOOLS, b"school_id,school_name\r\n1,A\r\n2,B\r\n")
    assert [(r["school_id"], r["_line_number"]) for r in out] == [("1", 2), ("2", 3)]


def test_extra_column_reported():
    stats = validate_file(SCHOOLS, opener(b"school_id,Nickname,school_name, notes \n1,x,A,y\n"))
    assert stats.extra_columns == ("Nickname", "notes")
    assert stats.row_count == 1


def test_duplicate_header_column_rejects():
    e = rejected(SCHOOLS, b"school_id,school_name,School_Id\n1,A,2\n")
    assert (e.line, e.column) == (1, "school_id")


def test_typed_output():
    data = ("incident_id,student_id,school_id,incident_date,incident_type,action_taken,action_start_date,"
            "action_end_date,days_removed,school_year\n"
            "I1,000123,0101,2025-11-03,Disruption,,2025-11-04,,0.5,2026\n"
            "I2,000124,0101,2025-11-05,Fighting,OSS,,,3,2025\n")
    stats = validate_file(DISCIPLINE, opener(data))
    assert (stats.row_count, stats.min_school_year, stats.max_school_year) == (2, 2025, 2026)
    out = rows(DISCIPLINE, data)
    assert out[0]["incident_date"] == date(2025, 11, 3)
    assert out[0]["days_removed"] == Decimal("0.5")
    assert out[1]["days_removed"] == Decimal("3")
    assert out[0]["action_taken"] is None and out[1]["action_start_date"] is None
    meta = (out[0]["_district_id"], out[0]["_export_date"], out[0]["_load_id"])
    assert meta == ("d1", date(2025, 10, 14), "L1")
    schema = arrow_schema(DISCIPLINE)
    meta_names = ["_district_id", "_export_date", "_load_id", "_line_number", "_change", "_key_hash", "_row_hash"]
    assert schema.names == [*DISCIPLINE.column_names, *meta_names]
    assert schema.field("days_removed").type == pa.decimal128(18, 4)


@pytest.mark.parametrize("value", ["-1", ".5", "1,5", "1e2", "0.12345"])
def test_bad_decimal(value):
    data = ("incident_id,student_id,school_id,incident_date,incident_type,days_removed,school_year\n"
            f'I1,1,0101,2025-11-03,Disruption,"{value}",2026\n')
    e = rejected(DISCIPLINE, data)
    assert (e.line, e.column) == (2, "days_removed")


def test_batches_in_blocks_are_the_file():
    data = students_file(*(student(f"{i:06d}") for i in range(50)))
    kwargs = dict(district_id="d1", export_date=date(2025, 10, 14), load_id="L1")
    small = typed_batches(STUDENTS, opener(data), block_size=1024, **kwargs)
    whole = typed_batches(STUDENTS, opener(data), **kwargs)
    assert len(small) > 1 and len(whole) == 1
    table = pa.Table.from_batches(small)
    assert table.num_rows == 50
    assert table.equals(pa.Table.from_batches(whole))
    assert table.column("_line_number").to_pylist() == list(range(2, 52))


def test_no_batch_handed_out_past_a_rejection():
    seen = []
    with pytest.raises(ValidationError):
        validate_file(STUDENTS, opener(students_file(student("1"), "x,y")), on_batch=lambda c, n: seen.append(n))
    assert seen == []


# --- duplicate keys by hash ---------------------------------------------------------------------------------


def attendance_file(*records: str) -> str:
    header = "student_id,school_id,attendance_date,attendance_code,minutes_absent,school_year\n"
    return header + "".join(r + "\n" for r in records)


def test_key_hash_depends_only_on_the_key():
    # The same key in batches whose other values are shorter or longer (fewer or more 8-byte pieces to hash).
    alone = key_hashes([pa.array(["abc"]), pa.array([date(2025, 10, 14)], pa.date32())])
    among_longer = key_hashes([pa.array(["abcdefghijklmnopq", "abc"]),
                               pa.array([date(2025, 10, 14)] * 2, pa.date32())])
    among_longer_only = key_hashes([pa.array(["abcdefghijklmnopq", "abcdefghi"]), pa.array([1, 1])])
    assert alone[0] == among_longer[1]
    assert key_hashes([pa.array(["abcdefghi"]), pa.array([1])])[0] == among_longer_only[1]
    # Different keys: different hashes (column boundaries and trailing zero bytes count).
    split = key_hashes([pa.array(["ab", "a", "ab", "ab\0"]), pa.array(["c", "bc", "c\0", "c"])])
    assert len(set(split.to_pylist())) == 4
    assert key_hashes([pa.array([1, -1, 2**40], pa.int64())]).to_pylist() != [0, 0, 0]


def test_duplicate_key_found_among_long_keys_in_many_batches():
    # Keys of 20 to 69 bytes (several pieces each), the duplicate 400 records after its first occurrence.
    ids = [f"{'x' * (i % 50)}{i:020d}" for i in range(500)]
    records = [f"{s},0101,2025-10-14,UA,,2026" for s in ids]
    records.insert(450, f"{ids[37]},0101,2025-10-14,T,5,2026")
    e = rejected(ATTENDANCE, attendance_file(*records), block_size=4096)
    assert (e.line, e.column) == (452, "student_id, attendance_date")
    assert str(e).endswith(f"duplicate key (student_id={ids[37]}, attendance_date=2025-10-14), first seen on line 39")


def test_hash_collisions_never_reject_a_valid_file(monkeypatch):
    # Every record's key hashes alike: each is a candidate, and the exact comparison of the candidates decides.
    colliding = lambda columns: pa.array([7] * len(columns[0]), pa.uint64())  # noqa: E731
    monkeypatch.setattr(validate, "key_hashes", colliding)  # as the file is read
    monkeypatch.setattr(keys, "key_hashes", colliding)  # as the candidates are read again
    records = [f"{i:06d},0101,2025-10-{1 + i % 28:02d},UA,10,2026" for i in range(300)]
    stats = validate_file(ATTENDANCE, opener(attendance_file(*records)), block_size=1024)
    assert stats.row_count == 300
    # ... and a duplicate is still named exactly as without collisions.
    records.insert(250, "000007,0101,2025-10-08,T,5,2026")
    e = rejected(ATTENDANCE, attendance_file(*records), block_size=1024)
    assert (e.line, e.column) == (252, "student_id, attendance_date")
    assert "duplicate key (student_id=000007, attendance_date=2025-10-08), first seen on line 9" in str(e)


def test_duplicate_check_reads_the_file_again_only_for_candidates():
    reads = []

    def counting(data: str):
        def open_file():
            reads.append(1)
            return io.BytesIO(data.encode())
        return open_file

    clean = attendance_file(*(f"{i:06d},0101,2025-10-14,UA,,2026" for i in range(100)))
    validate_file(ATTENDANCE, counting(clean))
    reads_clean = len(reads)
    reads.clear()
    with pytest.raises(ValidationError):
        validate_file(ATTENDANCE, counting(clean + "000042,0101,2025-10-14,T,,2026\n"))
    assert len(reads) == reads_clean + 1  # one more read, for the candidates' keys


def test_memory_kept_for_the_key_check_does_not_grow_with_the_keys(monkeypatch):
    # 20,000 records with 512-byte keys (10 MB of keys): once the file is read, what is still allocated for the
    # duplicate check is 8 bytes a record, whatever the keys hold.
    held = []
    real = keys._repeated_hashes

    def measuring(hashes):
        held.append(pa.total_allocated_bytes() - before)
        return real(hashes)

    monkeypatch.setattr(keys, "_repeated_hashes", measuring)
    data = ("school_id,school_name\n" + "".join(f"{i:0512d},School\n" for i in range(20_000))).encode()
    before = pa.total_allocated_bytes()
    assert validate_file(SCHOOLS, opener(data), block_size=1 << 16).row_count == 20_000
    assert 8 * 20_000 <= held[0] < 1 << 20


def test_repeated_hashes_in_partitions(monkeypatch):
    monkeypatch.setattr(keys, "_PARTITION_ROWS", 16)  # 300 hashes: 32 partitions of about 10
    values = list(range(1, 2**64, 2**64 // 300))[:300]
    chunks = [pa.array(values[:150], pa.uint64()), pa.array(values[150:] + [values[3], values[299]], pa.uint64())]
    assert sorted(keys._repeated_hashes(chunks).to_pylist()) == sorted([values[3], values[299]])
    assert keys._repeated_hashes([pa.array(values, pa.uint64())]).to_pylist() == []


# --- csv output for the loader ------------------------------------------------------------------------------


CSV_OUT = dict(district_id="d1", export_date=date(2025, 10, 14), load_id="19a8c0b4e2f1a3b7c")


def test_csv_output_has_the_raw_columns_and_splits_by_rows(tmp_path):
    data = students_file(*(student(f"{i:06d}") for i in range(7)))
    stats = validate_file(STUDENTS, opener(data), block_size=1024, csv=CsvOutput(tmp_path, **CSV_OUT, max_rows=3))
    assert [(p.name, n) for p, n in stats.csv_files] == [
        ("students.0001.csv", 3), ("students.0002.csv", 3), ("students.0003.csv", 1)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p, _ in stats.csv_files]
    lines = []
    for path, _ in stats.csv_files:
        header, *records = path.read_text().splitlines()
        assert header.split(",") == arrow_schema(STUDENTS).names
        lines += records
    first = next(csv.reader([lines[0]]))
    assert first[:3] == ["000000", "9000012345", "Maria"]
    assert first[-7:-2] == ["d1", "2025-10-14", "19a8c0b4e2f1a3b7c", "2", "added"]  # no base: all added
    assert first[STUDENTS.column_names.index("exit_date")] == ""  # NULL
    assert [next(csv.reader([line]))[-4] for line in lines] == [str(n) for n in range(2, 9)]
    hashes = [next(csv.reader([line]))[-2:] for line in lines]
    assert len({key for key, _ in hashes}) == 7 and len({row for _, row in hashes}) == 7


def test_csv_output_removed_when_rejected(tmp_path):
    data = students_file(*(student(f"{i:06d}") for i in range(7)), student("000002"))
    with pytest.raises(ValidationError):
        validate_file(STUDENTS, opener(data), block_size=1024, csv=CsvOutput(tmp_path, **CSV_OUT, max_rows=3))
    assert list(tmp_path.iterdir()) == []
