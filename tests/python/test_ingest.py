"""Ingestion into a real Postgres: the raw layer, the ledger, idempotency, rejections, crashes."""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from sis_sync.commands import run_nightly
from sis_sync.db import connect
from sis_sync.ingestion import landing, workdirs
from sis_sync.ingestion import load as ingest_module
from sis_sync.ingestion.exports import find_export
from sis_sync.ingestion.load import ingest_export
from sis_sync.ingestion.raw_layer import ensure_raw_layer
from sis_sync.ingestion.spec import load_spec
from sis_sync.ingestion.validate import arrow_schema

FIXTURE = Path(__file__).parent / "fixtures" / "export_small"
SPEC = load_spec()
NIGHT1 = date(2025, 10, 14)
NIGHT2 = date(2025, 10, 15)
DISTRICT = "d042"
FIXTURE_ROWS = {"schools": 3, "students": 3, "staff": 3, "courses": 3, "sections": 3, "enrollments": 3,
                "contacts": 3, "attendance": 3, "discipline": 2}


@pytest.fixture
def drop(tmp_path) -> Path:
    return tmp_path / "drop"


@pytest.fixture
def ingest(fresh_db, drop, tmp_path):
    """ingest(night) -> IngestResult, against the test's database, drop folder and dlt folder."""

    def run(night: date, pipelines_dir: Path | None = None):
        return ingest_export(fresh_db, drop, DISTRICT, night, pipelines_dir or tmp_path / "pipelines")

    return run


def write_night(drop: Path, night: date, files: dict[str, bytes] | None = None, *, fixture: bool = True) -> Path:
    """An export folder: the fixture files (unless fixture=False), then ``files`` added or replaced."""
    folder = drop / DISTRICT / night.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    if fixture:
        for path in FIXTURE.glob("*.csv"):
            shutil.copy(path, folder / path.name)
    for name, data in (files or {}).items():
        (folder / name).write_bytes(data)
    return folder


def fixture_bytes(name: str) -> bytes:
    return (FIXTURE / name).read_bytes()


def query(conn, sql: str, *args):
    with conn.cursor() as cur:
        cur.execute(sql, args or None)
        return cur.fetchall()


def ledger(conn) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute("select * from raw_sis.load_ledger order by ledger_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def raw_count(conn, table: str, load_id: str | None = None) -> int:
    if load_id is None:
        return query(conn, f"select count(*) from raw_sis.{table}")[0][0]
    return query(conn, f"select count(*) from raw_sis.{table} where _load_id = %s", load_id)[0][0]


# --- a night ---------------------------------------------------------------------------------------------


def test_valid_export_lands_every_file(ingest, drop, db_conn):
    write_night(drop, NIGHT1)
    result = ingest(NIGHT1)

    assert (result.loaded, result.unchanged, result.rejected) == (9, 0, 0)
    rows = ledger(db_conn)
    assert [r["file_name"] for r in rows] == list(SPEC.file_names)
    for row in rows:
        entity = row["file_name"].removesuffix(".csv")
        assert row["status"] == "loaded"
        assert row["district_id"] == DISTRICT and row["export_date"] == NIGHT1
        assert row["row_count"] == FIXTURE_ROWS[entity]
        assert row["sha256"] == hashlib.sha256(fixture_bytes(row["file_name"])).hexdigest()
        assert len(row["load_id"]) == 17
        # Every landed row carries the ledger's load id, and nothing else is in the table.
        assert raw_count(db_conn, entity, row["load_id"]) == FIXTURE_ROWS[entity] == raw_count(db_conn, entity)
    load_ids = [r["load_id"] for r in rows]
    assert len(set(load_ids)) == 9 and load_ids == sorted(load_ids)  # unique, in the order landed
    students = next(r for r in rows if r["file_name"] == "students.csv")
    assert (students["min_school_year"], students["max_school_year"]) == (2026, 2026)
    schools = next(r for r in rows if r["file_name"] == "schools.csv")
    assert schools["min_school_year"] is None


def test_raw_values_and_meta_columns(ingest, drop, db_conn):
    write_night(drop, NIGHT1)
    ingest(NIGHT1)
    students = query(db_conn, "select student_id, last_name, birth_date, school_year, enrollment_status,"
                              " exit_date, _district_id, _export_date, _line_number"
                              " from raw_sis.students order by _line_number")
    assert students[0] == ("000123", "Garcia", date(2016, 4, 9), 2026, "active", None, DISTRICT, NIGHT1, 2)
    assert students[1][0] == "123" and students[1][4] == "Active"  # leading zeros kept; value as delivered
    assert students[2][1] == "Nguyen\nTran" and students[2][8] == 4  # the quoted newline is on line 4
    staff = query(db_conn, "select staff_id, is_active from raw_sis.staff order by staff_id")
    assert staff == [("A0001", False), ("T0042", True), ("T0043", True)]
    discipline = query(db_conn, "select days_removed from raw_sis.discipline order by incident_id")
    assert [float(d) for (d,) in discipline] == [0.5, 3.0]
    minutes = query(db_conn, "select minutes_absent from raw_sis.attendance order by _line_number")
    assert [m for (m,) in minutes] == [390, 15, None]


def test_raw_column_types(ingest, drop, db_conn):
    write_night(drop, NIGHT1)
    ingest(NIGHT1)
    types = dict(((t, c), d) for t, c, d in query(
        db_conn, "select table_name, column_name, data_type from information_schema.columns"
                 " where table_schema = 'raw_sis'"))
    for f in SPEC.files:
        for c in f.columns:
            expected = {"text": "text", "date": "date", "bigint": "bigint", "boolean": "boolean",
                        "numeric": "numeric"}[c.pg_type]
            assert types[(f.name, c.name)] == expected, (f.name, c.name)
        for meta, pg_type in {"_district_id": "text", "_export_date": "date", "_load_id": "text",
                              "_line_number": "bigint", "_change": "text", "_key_hash": "bigint",
                              "_row_hash": "bigint"}.items():
            assert types[(f.name, meta)] == pg_type
        # Exactly the contract's columns, in order: dlt added nothing.
        order = query(db_conn, "select column_name from information_schema.columns where table_schema = "
                               "'raw_sis' and table_name = %s order by ordinal_position", f.name)
        assert [c for (c,) in order] == [*f.column_names, "_district_id", "_export_date", "_load_id",
                                         "_line_number", "_change", "_key_hash", "_row_hash"]
    assert types[("students", "student_id")] == "text"
    assert types[("load_ledger", "ledger_id")] == "bigint"


def test_all_raw_tables_exist_even_for_files_never_delivered(ingest, drop, db_conn):
    write_night(drop, NIGHT1, {"contacts.csv": fixture_bytes("contacts.csv")}, fixture=False)
    result = ingest(NIGHT1)
    assert result.loaded == 1
    tables = {t for (t,) in query(db_conn, "select table_name from information_schema.tables"
                                           " where table_schema = 'raw_sis'")}
    assert {f.name for f in SPEC.files} | {"load_ledger"} <= tables
    indexes = {i for (i,) in query(db_conn, "select indexname from pg_indexes where schemaname = 'raw_sis'")}
    assert {f"{f.name}__load_id_idx" for f in SPEC.files} <= indexes
    assert raw_count(db_conn, "students") == 0


def test_no_export(ingest, db_conn):
    result = ingest(NIGHT1)
    assert result.missing and not result.found and result.rows == []
    assert ledger(db_conn) == []


# --- idempotency and unchanged files ---------------------------------------------------------------------


def test_same_night_again_adds_nothing(ingest, drop, db_conn):
    write_night(drop, NIGHT1)
    ingest(NIGHT1)
    before = ledger(db_conn)
    again = ingest(NIGHT1)
    assert again.rows == [] and sorted(again.already_recorded) == sorted(SPEC.file_names)
    assert ledger(db_conn) == before
    assert raw_count(db_conn, "students") == 3


def test_next_night_same_bytes_is_unchanged(ingest, drop, db_conn):
    write_night(drop, NIGHT1)
    ingest(NIGHT1)
    first = {r["file_name"]: r for r in ledger(db_conn)}

    students = fixture_bytes("students.csv") + (
        b"000125,9000012348,Leo,,Smith,,2017-02-02,M,03,0101,2026,active,2025-10-15,,English\n")
    write_night(drop, NIGHT2, {"students.csv": students})
    result = ingest(NIGHT2)

    assert (result.loaded, result.unchanged) == (1, 8)
    night2 = {r["file_name"]: r for r in ledger(db_conn) if r["export_date"] == NIGHT2}
    schools = night2["schools.csv"]
    assert schools["status"] == "unchanged"
    assert schools["load_id"] is None and first["schools.csv"]["load_id"] is not None  # nothing landed
    assert schools["row_count"] == 3
    # the students file landed only the student it added
    assert (night2["students.csv"]["added_count"], night2["students.csv"]["changed_count"],
            night2["students.csv"]["retired_count"]) == (1, 0, 0)
    assert query(db_conn, "select student_id, _change from raw_sis.students where _load_id = %s",
                 night2["students.csv"]["load_id"]) == [("000125", "added")]
    assert night2["attendance.csv"]["min_school_year"] == 2026
    assert raw_count(db_conn, "schools") == 3  # not landed twice
    assert night2["students.csv"]["status"] == "loaded"
    assert night2["students.csv"]["load_id"] != first["students.csv"]["load_id"]
    assert raw_count(db_conn, "students", night2["students.csv"]["load_id"]) == 1
    assert raw_count(db_conn, "students") == 3 + 1  # versions: the history of what changed


def test_redelivery_with_other_bytes_adds_a_row(ingest, drop, db_conn):
    folder = write_night(drop, NIGHT1)
    ingest(NIGHT1)
    (folder / "schools.csv").write_bytes(fixture_bytes("schools.csv") + b"0104,Roosevelt Elementary,KG,05,\n")
    result = ingest(NIGHT1)
    assert result.loaded == 1 and len(result.already_recorded) == 8
    schools = [r for r in ledger(db_conn) if r["file_name"] == "schools.csv"]
    assert [r["row_count"] for r in schools] == [3, 4]


# --- rejections ------------------------------------------------------------------------------------------


def test_bad_file_rejected_others_loaded(ingest, drop, db_conn):
    students = fixture_bytes("students.csv").replace(b"2013-01-15", b"2013-02-30")
    write_night(drop, NIGHT1, {"students.csv": students})
    result = ingest(NIGHT1)

    assert (result.loaded, result.rejected) == (8, 1)
    row = next(r for r in ledger(db_conn) if r["file_name"] == "students.csv")
    assert row["status"] == "rejected" and row["load_id"] is None
    assert row["message"] == 'students.csv line 3, column birth_date: the value is not a date (YYYY-MM-DD)'
    assert raw_count(db_conn, "students") == 0
    assert raw_count(db_conn, "schools") == 3

    # The same bad bytes again: nothing new. Fixed bytes: loaded.
    assert ingest(NIGHT1).rows == []
    write_night(drop, NIGHT1, {"students.csv": fixture_bytes("students.csv")}, fixture=False)
    assert ingest(NIGHT1).loaded == 1
    assert raw_count(db_conn, "students") == 3


def test_every_file_rejected(ingest, drop, db_conn):
    write_night(drop, NIGHT1, {"schools.csv": b"", "staff.csv": b"staff_id\n"}, fixture=False)
    result = ingest(NIGHT1)
    assert result.rejected == 2 and result.loaded == 0
    messages = {r["file_name"]: r["message"] for r in ledger(db_conn)}
    assert messages["schools.csv"] == "schools.csv: the file is empty (0 bytes)"
    assert messages["staff.csv"].startswith("staff.csv line 1, column first_name: required column is missing")


def test_extra_columns_are_ignored_and_reported(ingest, drop, db_conn):
    schools = b"school_id,school_name,Principal,low_grade\n0101,Lincoln,Ms. Ray,KG\n"
    write_night(drop, NIGHT1, {"schools.csv": schools}, fixture=False)
    ingest(NIGHT1)
    (row,) = ledger(db_conn)
    assert row["status"] == "loaded"
    assert row["message"] == "ignored extra columns: Principal"
    assert query(db_conn, "select school_id, low_grade, high_grade from raw_sis.schools") == [("0101", "KG", None)]


# --- delivery --------------------------------------------------------------------------------------------


def test_zip_export(ingest, drop, db_conn):
    archive = drop / DISTRICT / f"{NIGHT1.isoformat()}.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in FIXTURE.glob("*.csv"):
            zf.write(path, path.name.upper() if path.name == "schools.csv" else path.name)
        zf.writestr("readme.txt", "hello")
    result = ingest(NIGHT1)
    assert result.loaded == 9
    assert result.unknown_files == ["readme.txt"]
    assert raw_count(db_conn, "students") == 3
    assert query(db_conn, "select file_name from raw_sis.load_ledger where file_name like 'schools%'") == [
        ("schools.csv",)]


def test_unreadable_zip_is_incomplete(ingest, drop, db_conn):
    archive = drop / DISTRICT / f"{NIGHT1.isoformat()}.zip"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"PK\x03\x04 not really a zip")
    result = ingest(NIGHT1)
    assert "not a readable zip archive" in result.incomplete
    assert ledger(db_conn) == []


def test_an_export_with_no_file_the_spec_names_is_incomplete(ingest, drop, db_conn, capsys):
    folder = write_night(drop, NIGHT1, fixture=False)
    for path in FIXTURE.glob("*.csv"):  # every file misnamed
        (folder / f"{path.stem}_20260316.csv").write_bytes(path.read_bytes())
    result = ingest(NIGHT1)
    assert result.incomplete.startswith("no file of the export has a name the spec gives (schools.csv, students.csv")
    assert "it holds attendance_20260316.csv, contacts_20260316.csv" in result.incomplete
    assert ledger(db_conn) == []

    nested = drop / DISTRICT / f"{NIGHT2.isoformat()}.zip"  # a zip inside the zip
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("students.csv", fixture_bytes("students.csv"))
    with zipfile.ZipFile(nested, "w") as zf:
        zf.writestr("export.zip", inner.getvalue())
    result = ingest(NIGHT2)
    assert "it holds export.zip; a zip inside the export is not opened" in result.incomplete

    assert run_nightly(None, drop, NIGHT2, ()) == 1
    assert "export incomplete: no file of the export has a name the spec gives" in capsys.readouterr().out


def test_folder_wins_over_zip(drop):
    folder = write_night(drop, NIGHT1, {"schools.csv": fixture_bytes("schools.csv")}, fixture=False)
    with zipfile.ZipFile(folder.with_suffix(".zip"), "w") as zf:
        zf.writestr("schools.csv", b"school_id,school_name\n9,Zip\n")
        zf.writestr("staff.csv", fixture_bytes("staff.csv"))
    source = find_export(drop, DISTRICT, NIGHT1)
    assert set(source.files) == {"schools.csv", "staff.csv"}
    assert source.files["schools.csv"].sha256 == hashlib.sha256(fixture_bytes("schools.csv")).hexdigest()
    with source.files["staff.csv"].open() as f:
        assert f.read() == fixture_bytes("staff.csv")


def test_part_and_unknown_files(ingest, drop, db_conn):
    folder = write_night(drop, NIGHT1)
    (folder / "students.csv").rename(folder / "students.csv.part")
    (folder / "Contacts.CSV.tmp").write_bytes(b"partial")
    (folder / "grades.csv").write_bytes(b"student_id,grade\n1,A\n")
    result = ingest(NIGHT1)
    assert result.loaded == 8
    assert sorted(result.ignored_files) == ["Contacts.CSV.tmp", "students.csv.part"]
    assert result.unknown_files == ["grades.csv"]
    assert "students.csv" not in {r["file_name"] for r in ledger(db_conn)}
    assert raw_count(db_conn, "students") == 0


def write_manifest(folder: Path, overrides: dict[str, tuple[int, str]] | None = None) -> None:
    lines = ["file_name,row_count,sha256"]
    for path in sorted(folder.glob("*.csv")):
        if path.name == "manifest.csv":
            continue
        count = FIXTURE_ROWS[path.stem]
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        count, sha = (overrides or {}).get(path.name, (count, sha))
        lines.append(f"{path.name},{count},{sha}")
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")


def test_manifest_that_matches_loads(ingest, drop, db_conn):
    folder = write_night(drop, NIGHT1)
    write_manifest(folder)
    result = ingest(NIGHT1)
    assert result.incomplete is None and result.loaded == 9


def test_manifest_row_count_mismatch_is_incomplete(ingest, drop, db_conn):
    folder = write_night(drop, NIGHT1)
    sha = hashlib.sha256(fixture_bytes("students.csv")).hexdigest()
    write_manifest(folder, {"students.csv": (4, sha)})  # 3 records, one of them over two lines
    result = ingest(NIGHT1)
    assert result.incomplete and "students.csv: 3 rows delivered, the manifest says 4" in result.incomplete
    assert result.rows == [] and ledger(db_conn) == []
    assert raw_count(db_conn, "schools") == 0


def test_manifest_sha_mismatch_or_missing_file_is_incomplete(ingest, drop, db_conn):
    folder = write_night(drop, NIGHT1)
    write_manifest(folder, {"schools.csv": (3, "0" * 64)})
    assert "schools.csv: sha256" in ingest(NIGHT1).incomplete
    write_manifest(folder)
    (folder / "discipline.csv").rename(folder / "discipline.csv.part")  # still uploading
    with (folder / "manifest.csv").open("a") as f:
        f.write(f"discipline.csv,2,{hashlib.sha256(fixture_bytes('discipline.csv')).hexdigest()}\n")
    result = ingest(NIGHT1)
    assert "discipline.csv is listed in manifest.csv but was not delivered" in result.incomplete
    assert ledger(db_conn) == []
    # Once the upload finishes, the export loads.
    (folder / "discipline.csv.part").rename(folder / "discipline.csv")
    assert ingest(NIGHT1).loaded == 9


# --- existing tables, crashes ----------------------------------------------------------------------------


def test_load_into_tables_from_a_previous_run(ingest, drop, db_conn, fresh_db, tmp_path):
    conn = connect(fresh_db)
    ensure_raw_layer(conn)  # created by an earlier run's DDL...
    ensure_raw_layer(conn)  # ...idempotently
    conn.close()
    write_night(drop, NIGHT1)
    assert ingest(NIGHT1, tmp_path / "dlt-a").loaded == 9
    # A new machine / wiped dlt folder: dlt meets tables it did not create in this folder.
    students = fixture_bytes("students.csv").replace(b"Malu", b"Lulu")
    write_night(drop, NIGHT2, {"students.csv": students})
    result = ingest(NIGHT2, tmp_path / "dlt-b")
    assert (result.loaded, result.unchanged) == (1, 8)
    assert raw_count(db_conn, "students") == 4  # three added, then one changed
    columns = query(db_conn, "select count(*) from information_schema.columns where table_schema = 'raw_sis'"
                             " and table_name = 'students'")[0][0]
    assert columns == len(SPEC.file("students").columns) + 7


def test_crash_after_landing_before_ledger(ingest, drop, db_conn, monkeypatch):
    write_night(drop, NIGHT1)

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(ingest_module, "insert_rows", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        ingest(NIGHT1)
    monkeypatch.undo()
    assert ledger(db_conn) == []
    orphans = {i for (i,) in query(db_conn, "select distinct _load_id from raw_sis.students")}
    assert raw_count(db_conn, "students") == 3 and len(orphans) == 1

    result = ingest(NIGHT1)
    assert result.loaded == 9
    row = next(r for r in ledger(db_conn) if r["file_name"] == "students.csv")
    assert row["load_id"] not in orphans
    # What staging reads (rows a ledger row names) is exactly the file, once.
    named = query(db_conn, "select count(*) from raw_sis.students s join raw_sis.load_ledger l"
                           " on l.load_id = s._load_id")[0][0]
    assert named == 3


def test_pending_dlt_package_is_dropped(ingest, drop, db_conn, fresh_db, tmp_path):
    # A run that died after dlt extracted and normalized a package, before loading it.
    pipeline = landing._pipeline(fresh_db, DISTRICT, tmp_path / "pipelines")
    schema = arrow_schema(SPEC.file("schools"))
    stale = pa.table([pa.array(["stale"] if f.name == "_load_id" else [None], f.type) for f in schema],
                     schema=schema)
    pipeline.extract(landing.dlt.resource(stale, name="schools", table_name="schools"))
    pipeline.normalize()
    assert pipeline.has_pending_data

    write_night(drop, NIGHT1)
    assert ingest(NIGHT1).loaded == 9
    assert raw_count(db_conn, "schools", "stale") == 0
    assert raw_count(db_conn, "schools") == 3


def test_runs_share_no_working_files(ingest, drop, fresh_db, tmp_path):
    # Each warehouse has its own dlt folder by default; each run its own spill folder, removed afterwards.
    assert workdirs.default_pipelines_dir(fresh_db) != workdirs.default_pipelines_dir(fresh_db.for_database("other"))
    write_night(drop, NIGHT1)
    ingest(NIGHT1)
    assert list((tmp_path / "pipelines" / "_spill").iterdir()) == []
    first = workdirs.spill_dir(tmp_path / "pipelines", DISTRICT)
    assert workdirs.spill_dir(tmp_path / "pipelines", DISTRICT) != first


def test_a_night_of_several_districts_lands_in_one_dlt_run(fresh_db, db_conn, tmp_path):
    """The nightly ingests its districts together: each validated and recorded on its own, their valid files
    landed by one dlt load; a district with no export, or with a rejected file, changes nothing for the others."""
    drop = tmp_path / "drop"
    for district_id in ("d1", "d3"):
        folder = drop / district_id / NIGHT1.isoformat()
        folder.mkdir(parents=True)
        for path in FIXTURE.glob("*.csv"):
            shutil.copy(path, folder / path.name)
    (drop / "d3" / NIGHT1.isoformat() / "staff.csv").write_bytes(b"staff_id\n")  # rejected: a required column
    exports = [ingest_module.ExportToIngest(drop, district_id, NIGHT1) for district_id in ("d1", "d2", "d3")]
    d1, d2, d3 = ingest_module.ingest_exports(fresh_db, exports, tmp_path / "pipelines")
    assert (d1.loaded, d1.rejected) == (9, 0)
    assert d2.missing and d2.rows == []
    assert (d3.loaded, d3.rejected) == (8, 1)
    assert query(db_conn, "select count(*) from raw_sis._dlt_loads")[0][0] == 1
    assert query(db_conn, "select _district_id, count(*) from raw_sis.students group by 1 order by 1") == [
        ("d1", FIXTURE_ROWS["students"]), ("d3", FIXTURE_ROWS["students"])]
    assert query(db_conn, "select district_id, count(*) from raw_sis.load_ledger where status = 'loaded'"
                          " group by 1 order by 1") == [("d1", 9), ("d3", 8)]
