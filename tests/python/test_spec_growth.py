"""The export spec can grow: a column added to a file changes no record that leaves it empty, an existing
warehouse's raw table gains the column on the next ingest, and the night after is not held; a warehouse whose
versions were hashed by the earlier content hash is rehashed once, and finds the same hashes a fresh ingest does."""

from __future__ import annotations

import datetime as dt
from contextlib import closing

import psycopg2
import yaml
from export_files import rewrite_csv

from sis_sync.commands import run_nightly
from sis_sync.ingestion import spec as spec_module
from sis_sync.ingestion.raw_layer import ensure_raw_layer
from sis_sync.preview import preview_night, render
from sis_sync.sample import write_export

DISTRICT = "grow"
NIGHTS = [dt.date(2026, 3, 16) + dt.timedelta(days=i) for i in range(3)]


def _rows(conn, sql, params=()):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _grown_spec(tmp_path):
    data = yaml.safe_load(spec_module.SPEC_PATH.read_text(encoding="utf-8"))
    students = next(f for f in data["files"] if f["name"] == "students")
    students["columns"].insert(5, {"name": "pronouns", "type": "text", "description": "Pronouns.",
                                   "example": "she/her"})
    path = tmp_path / "grown_spec.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _students_file(conn, night):
    return _rows(conn, "select status, changed_count, added_count, retired_count from raw_sis.load_ledger"
                       " where district_id = %s and export_date = %s and file_name = 'students.csv'",
                 (DISTRICT, night))


def test_an_optional_column_added_to_the_spec_holds_nothing_and_counts_only_real_changes(
        fresh_db, db_conn, tmp_path, monkeypatch):
    drop = tmp_path / "drop"
    first = write_export(drop, district_id=DISTRICT, export_date=NIGHTS[0], students=120)
    assert run_nightly(None, drop, NIGHTS[0], ()) == 0

    monkeypatch.setattr(spec_module, "SPEC_PATH", _grown_spec(tmp_path))  # the spec gains students.pronouns
    second = drop / DISTRICT / NIGHTS[1].isoformat()
    second.mkdir(parents=True)
    for source in first.iterdir():
        (second / source.name).write_bytes(source.read_bytes())  # the same export, but for one last name
    rewrite_csv(second / "students.csv", lambda header, rows: (header, [
        [*r[:header.index("last_name")], "Renamed", *r[header.index("last_name") + 1:]] if i == 0 else r
        for i, r in enumerate(rows)]))
    assert run_nightly(None, drop, NIGHTS[1], ()) == 0, "not held: one record changed"
    assert _students_file(db_conn, NIGHTS[1]) == [("loaded", 1, 0, 0)]
    assert _rows(db_conn, "select count(*) from information_schema.columns where table_schema = 'raw_sis'"
                          " and table_name = 'students' and column_name = 'pronouns'") == [(1,)]

    third = drop / DISTRICT / NIGHTS[2].isoformat()
    third.mkdir(parents=True)
    for source in second.iterdir():
        (third / source.name).write_bytes(source.read_bytes())
    rewrite_csv(third / "students.csv", lambda header, rows: (
        [*header, "pronouns"], [[*r, "they/them" if i < 5 else ""] for i, r in enumerate(rows)]))
    assert run_nightly(None, drop, NIGHTS[2], ()) == 0
    assert _students_file(db_conn, NIGHTS[2]) == [("loaded", 5, 0, 0)]
    with closing(psycopg2.connect(fresh_db.dsn)) as conn:
        lines = render(DISTRICT, NIGHTS[2], preview_night(conn, DISTRICT, NIGHTS[2]))
    assert any(line.strip().startswith("pronouns: 5 records") for line in lines), lines
    assert not any(line.strip().startswith("last_name:") for line in lines), lines


def test_versions_hashed_by_the_earlier_content_hash_are_rehashed_once(fresh_db, db_conn, tmp_path):
    drop = tmp_path / "drop"
    folder = write_export(drop, district_id=DISTRICT, export_date=NIGHTS[0], students=120)

    def awkward(header, rows):  # values a CSV reader could take for NULL, and a value over two lines
        middle, last = header.index("middle_name"), header.index("last_name")
        rows[0][middle], rows[1][middle], rows[2][middle], rows[3][last] = "NA", "null", "N/A", "Two\nLines"
        return header, rows

    rewrite_csv(folder / "students.csv", awkward)
    assert run_nightly(None, drop, NIGHTS[0], ()) == 0
    tables = [f.name for f in spec_module.load_spec().files]
    hashed = {t: _rows(db_conn, f"select _load_id, _key_hash, _row_hash from raw_sis.{t} order by 1, 2")
              for t in tables}
    assert sum(len(rows) for rows in hashed.values()) > 500
    for table in tables:  # a warehouse from before: other hashes, and no mark of the hash's version
        db_conn.cursor().execute(f"update raw_sis.{table} set _row_hash = _row_hash # 12345")
        db_conn.cursor().execute(f"comment on column raw_sis.{table}._row_hash is null")
    with closing(psycopg2.connect(fresh_db.dsn)) as conn:
        assert ensure_raw_layer(conn) is True
        assert ensure_raw_layer(conn) is False, "once"
    assert {t: _rows(db_conn, f"select _load_id, _key_hash, _row_hash from raw_sis.{t} order by 1, 2")
            for t in tables} == hashed
