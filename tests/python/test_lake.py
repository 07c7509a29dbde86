"""The lake kept in step with the raw layer (:mod:`sis_sync.lake`): a file per recorded load, written once;
the bookkeeping written whole per district; nothing a ledger row does not name."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from export_files import rewrite_csv

from sis_sync import lake
from sis_sync.commands import run_ingest
from sis_sync.ingestion.ledger import LEDGER_TABLE, RAW_SCHEMA
from sis_sync.sample import write_export
from sis_sync.spark import LAKE_VAR

NIGHTS = (dt.date(2026, 3, 16), dt.date(2026, 3, 17))


def _ingest(drop, night: dt.date, change=None) -> None:
    folder = write_export(drop, district_id="sample", export_date=night, students=60, seed=5)
    if change:
        rewrite_csv(folder / "contacts.csv", change)
    assert run_ingest(None, drop, night, ("sample",)) == 0


def _read(folder) -> list[dict]:
    """Every row of a table's folder, its district folders' too (the partition column from the folder's name,
    as Spark reads it), each as a dict."""
    rows = []
    for path in sorted(folder.rglob("*.parquet")):
        partition = dict([path.parent.name.split("=", 1)]) if path.parent != folder else {}
        rows += [{**row, **partition} for row in pq.read_table(path).to_pylist()]
    return rows


def _lake_rows(folder) -> list[tuple]:
    return sorted(tuple(sorted(row.items())) for row in _read(folder))


def _loads(db_conn, file_name: str) -> set[str]:
    with db_conn.cursor() as cur:
        cur.execute(f"select load_id from {LEDGER_TABLE} where file_name = %s and status = 'loaded'", (file_name,))
        return {load_id for (load_id,) in cur.fetchall()}


def _count(db_conn, table: str) -> int:
    with db_conn.cursor() as cur:
        cur.execute(f"select count(*) from {RAW_SCHEMA}.{table}")
        return cur.fetchone()[0]


def _inodes(folder) -> dict:
    return {path: path.stat().st_ino for path in folder.rglob("*.parquet")}


def _files(folder) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


@pytest.fixture
def lake_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(LAKE_VAR, str(tmp_path / "lake"))
    return tmp_path / "lake" / RAW_SCHEMA


def test_a_publish_writes_each_recorded_load_once(fresh_db, db_conn, tmp_path, lake_folder):
    _ingest(tmp_path / "drop", NIGHTS[0])
    first = lake.publish(db_conn)
    students = lake_folder / "students"
    night_one = _loads(db_conn, "students.csv")
    assert _files(students) == {lake.MARKER, *(f"_district_id=sample/{load}.parquet" for load in night_one)}
    assert first["students"] == _count(db_conn, "students") > 0

    # nothing new: nothing written, nothing rewritten (a file written again is a new inode: renamed into place)
    inodes = _inodes(students)
    assert lake.publish(db_conn)["students"] == 0
    assert _inodes(students) == inodes

    def one_phone(header, rows):
        rows[0][header.index("mobile_phone")] = "555-201-7788"
        return header, rows

    _ingest(tmp_path / "drop", NIGHTS[1], one_phone)
    second = lake.publish(db_conn)
    assert second["contacts"] == 1, "only the night's changed version is written"
    assert second["students"] == 0, "an unchanged file adds no load"
    assert _inodes(students) == inodes
    contacts = lake_folder / "contacts"
    assert len(list(contacts.rglob("*.parquet"))) == len(_loads(db_conn, "contacts.csv")) == 2

    # the lake's rows are the raw layer's, typed alike (the partition column comes from the folder's name)
    with db_conn.cursor() as cur:
        cur.execute(f"select * from {RAW_SCHEMA}.contacts")
        names = [d.name for d in cur.description]
        postgres = sorted(tuple(row) for row in cur.fetchall())
    assert sorted(tuple(row[name] for name in names) for row in _read(contacts)) == postgres

    # the bookkeeping is each district's whole: the ledger has both nights
    assert len(_lake_rows(lake_folder / "load_ledger")) == _count(db_conn, "load_ledger") > 0
    assert second["load_ledger"] == _count(db_conn, "load_ledger"), "the district's ledger grew: written again"
    # a table that did not grow is left as it is (the phone map: every district's, one file)
    phones = lake_folder / "phone_numbers"
    written = _inodes(phones)
    assert len(_read(phones)) == _count(db_conn, "phone_numbers") > 0
    third = lake.publish(db_conn)
    assert third["phone_numbers"] == third["load_ledger"] == 0
    assert _inodes(phones) == written
    assert third["district_settings"] == _count(db_conn, "district_settings"), "updated in place: written again"


def test_the_lake_holds_only_what_the_ledger_names(fresh_db, db_conn, tmp_path, lake_folder):
    _ingest(tmp_path / "drop", NIGHTS[0])
    lake.publish(db_conn)
    students = lake_folder / "students"
    (load,) = _loads(db_conn, "students.csv")
    kept = students / "_district_id=sample" / f"{load}.parquet"
    expected = _lake_rows(students)

    # a crashed run's rows (a load no ledger row names), a stray file, a half-written one, another warehouse's
    # district: none of them is read, and the publish removes them
    with db_conn.cursor() as cur:
        cur.execute(f"create temp table crashed as select * from {RAW_SCHEMA}.students limit 3")
        cur.execute("update crashed set _load_id = 'orphan'")
        cur.execute(f"insert into {RAW_SCHEMA}.students select * from crashed")
    (kept.parent / "orphan.parquet").write_bytes(kept.read_bytes())
    (kept.parent / f".{load}.parquet.0123").write_bytes(b"half")
    (students / "_district_id=gone").mkdir()
    (students / "_district_id=gone" / f"{load}.parquet").write_bytes(kept.read_bytes())
    assert lake.publish(db_conn)["students"] == 0
    assert _files(students) == {lake.MARKER, f"_district_id=sample/{load}.parquet"}
    assert _lake_rows(students) == expected

    # a lost file is written again
    kept.unlink()
    assert lake.publish(db_conn)["students"] == len(expected)
    assert _lake_rows(students) == expected


def test_a_table_written_with_another_schema_is_written_again(fresh_db, db_conn, tmp_path, lake_folder):
    """A folder from before (the files written with another schema or content hash, or in the layout of a
    folder per district) is replaced whole: its files would not read as tonight's."""
    _ingest(tmp_path / "drop", NIGHTS[0])
    lake.publish(db_conn)
    students = lake_folder / "students"
    expected = _lake_rows(students)
    marker = json.loads((students / lake.MARKER).read_text())
    (students / lake.MARKER).write_text(json.dumps({**marker, "row_hash": "row hash 1"}))
    (students / "_district_id=sample" / "part-0.parquet").write_bytes(b"not parquet")
    assert lake.publish(db_conn)["students"] == len(expected)
    assert json.loads((students / lake.MARKER).read_text()) == marker
    assert "_district_id=sample/part-0.parquet" not in _files(students)
    assert _lake_rows(students) == expected

    # the files of a table made anew (a restore, another warehouse's) are not taken for its own, even where
    # a district's file has as many rows as the new table has for it
    ledger = lake_folder / "load_ledger"
    stale = _read(ledger)
    ledger_marker = json.loads((ledger / lake.MARKER).read_text())
    (ledger / lake.MARKER).write_text(json.dumps({**ledger_marker, "table": "another/1"}))
    pq.write_table(pq.read_table(ledger / "district_id=sample" / "part-0.parquet").drop_columns(["load_id"])
                   .append_column("load_id", pa.array(["elsewhere"] * len(stale))),
                   ledger / "district_id=sample" / "part-0.parquet")
    assert lake.publish(db_conn)["load_ledger"] == len(stale)
    assert "elsewhere" not in {row["load_id"] for row in _read(ledger)}
