"""Hostile deliveries: nothing outside a district's own folder is read. Symbolic links (to a system file, to
another district's file, a linked night folder or district folder) are refused, never followed; district ids
are plain names."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from sis_sync.config import load_districts
from sis_sync.ingestion.exports import find_export
from sis_sync.ingestion.load import ingest_export

FIXTURE = Path(__file__).parent / "fixtures" / "export_small"
NIGHT = dt.date(2025, 10, 14)


def night_folder(drop: Path, district: str) -> Path:
    folder = drop / district / NIGHT.isoformat()
    folder.mkdir(parents=True)
    for path in FIXTURE.glob("*.csv"):
        shutil.copy(path, folder / path.name)
    return folder


def ledger_shas(conn) -> list[str]:
    with conn.cursor() as cur:
        cur.execute("select sha256 from raw_sis.load_ledger")
        return [r[0] for r in cur.fetchall()]


def test_a_file_linking_outside_is_not_read(fresh_db, db_conn, tmp_path):
    drop = tmp_path / "drop"
    folder = night_folder(drop, "north")
    (folder / "students.csv").unlink()
    (folder / "students.csv").symlink_to("/etc/passwd")
    result = ingest_export(fresh_db, drop, "north", NIGHT, tmp_path / "pipelines")
    assert "students.csv is not a regular file (a symbolic link" in result.incomplete
    assert ledger_shas(db_conn) == []  # nothing of the night was loaded or recorded


def test_a_link_to_another_districts_file_is_not_read(tmp_path):
    drop = tmp_path / "drop"
    night_folder(drop, "south")
    folder = night_folder(drop, "north")
    (folder / "contacts.csv").unlink()
    (folder / "contacts.csv").symlink_to(drop / "south" / NIGHT.isoformat() / "contacts.csv")
    source = find_export(drop, "north", NIGHT, today=NIGHT)
    assert "contacts.csv" not in source.files
    assert "is not a regular file" in source.incomplete


@pytest.mark.parametrize("linked", ["night", "district"])
def test_a_linked_night_or_district_folder_is_refused(tmp_path, linked):
    drop = tmp_path / "drop"
    night_folder(drop, "south")
    if linked == "night":
        (drop / "north").mkdir()
        os.symlink(drop / "south" / NIGHT.isoformat(), drop / "north" / NIGHT.isoformat())
    else:
        os.symlink(drop / "south", drop / "north")
    source = find_export(drop, "north", NIGHT, today=NIGHT)
    assert source.refused and "is a symbolic link" in source.refused
    assert source.files == {}


def test_a_linked_district_folder_is_not_a_district_of_the_drop(tmp_path):
    drop = tmp_path / "drop"
    night_folder(drop, "south")
    os.symlink(drop / "south", drop / "north")
    assert [d.id for d in load_districts(None, drop)] == ["south"]


@pytest.mark.parametrize("district_id", ["../outside/x", "/etc", "a/b", "..", ".hidden", "north east"])
def test_district_ids_are_plain_names(tmp_path, district_id):
    path = tmp_path / "districts.yml"
    path.write_text(f"districts:\n  - id: '{district_id}'\n    delivery: {{method: folder, path: drop}}\n")
    [district] = load_districts(path, None)
    assert "must be a plain name" in district.refused
    with pytest.raises(ValueError, match="plain name"):
        find_export(tmp_path, district_id if "/" in district_id else f"{district_id}/x", NIGHT, today=NIGHT)


def test_a_file_still_being_written_is_not_landed(fresh_db, db_conn, tmp_path):
    """A writer appends to students.csv while the night is ingested: the export is incomplete (nothing of it is
    recorded); once the writer is done and the file has settled, it loads."""
    drop = tmp_path / "drop"
    folder = night_folder(drop, "north")
    (folder / "manifest.csv").unlink(missing_ok=True)
    data = (FIXTURE / "students.csv").read_bytes()
    cut = len(data) // 2 + 7  # mid-record
    (folder / "students.csv").write_bytes(data[:cut])
    done = threading.Event()

    def writer():
        rest = data[cut:]
        for i in range(0, len(rest), max(1, len(rest) // 8)):
            time.sleep(0.15)
            with open(folder / "students.csv", "ab") as f:
                f.write(rest[i:i + max(1, len(rest) // 8)])
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = ingest_export(fresh_db, drop, "north", NIGHT, tmp_path / "pipelines", settle=0.5)
    finally:
        thread.join()
    assert result.incomplete and "students.csv is still being written" in result.incomplete
    assert ledger_shas(db_conn) == []
    assert done.is_set() and (folder / "students.csv").read_bytes() == data

    os.utime(folder / "students.csv", (time.time() - 5, time.time() - 5))  # written a while ago
    result = ingest_export(fresh_db, drop, "north", NIGHT, tmp_path / "pipelines", settle=0.5)
    assert not result.incomplete and result.loaded >= 1


def test_a_recent_file_that_stays_still_is_waited_for_and_loaded(fresh_db, tmp_path):
    drop = tmp_path / "drop"
    night_folder(drop, "north")
    started = time.monotonic()
    result = ingest_export(fresh_db, drop, "north", NIGHT, tmp_path / "pipelines", settle=0.6)
    assert not result.incomplete and result.loaded >= 1
    assert time.monotonic() - started >= 0.3, "the fresh files were watched before they were read"
