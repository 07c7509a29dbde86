"""The archive of delivered files: round trips, checks, the night's index, permissions and crash safety."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from sis_sync import PROJECT_ROOT
from sis_sync.ingestion import archive
from sis_sync.ingestion.archive import (
    ArchivedFile,
    archive_file,
    archived_files,
    archived_nights,
    district_ids,
    open_archived,
    restore_night,
)
from sis_sync.ingestion.exports import find_export

NIGHT = date(2025, 10, 14)
STUDENTS = b"student_id,first_name\n000123,Maria\n000124,Jamal\n"
SCHOOLS = b"school_id,school_name\n0101,Lincoln Elementary\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class CountingOpener:
    """An opener over fixed bytes that remembers how often it was opened and the sizes asked for."""

    def __init__(self, data: bytes):
        self.data = data
        self.opened = 0
        self.reads: list[int] = []

    def __call__(self):
        self.opened += 1
        stream = io.BytesIO(self.data)
        read = stream.read

        def recording_read(size=-1):
            self.reads.append(size)
            return read(size)

        stream.read = recording_read
        return stream


def put(root: Path, data: bytes, file_name: str = "students.csv", night: date = NIGHT, district: str = "d1"):
    return archive_file(root, district, night, file_name, sha(data), lambda: io.BytesIO(data))


def read_archived(path: Path) -> bytes:
    with open_archived(path) as f:
        return f.read()


def index_lines(root: Path, district: str = "d1", night: date = NIGHT) -> list[str]:
    return (root / district / night.isoformat() / "index.csv").read_text().splitlines()


def csv_like(size: int, seed: int = 7) -> bytes:
    """About ``size`` bytes of CSV-like records with a UTF-8 BOM."""
    rng = random.Random(seed)
    lines = [b"\xef\xbb\xbfstudent_id,first_name,last_name,grade_level,note"]
    total = len(lines[0])
    while total < size:
        note = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(0, 40))).replace(b",", b";")
        line = b"%06d,%s,%s,%02d,%s" % (rng.randrange(10**6), rng.choice([b"Maria", b"Jos\xc3\xa9", b"Li"]),
                                         rng.choice([b"Garcia", b"O'Neil", b"Nguy\xe1\xbb\x85n"]),
                                         rng.randrange(13), note)
        lines.append(line)
        total += len(line) + 2
    return b"\r\n".join(lines) + b"\r\n"


# --- round trips ------------------------------------------------------------------------------------------


def test_round_trip_and_layout(tmp_path):
    path = put(tmp_path, STUDENTS)
    digest = sha(STUDENTS)
    assert path == tmp_path / "d1" / "2025-10-14" / f"students.{digest[:16]}.csv.gz"
    assert read_archived(path) == STUDENTS
    assert gzip.decompress(path.read_bytes()) == STUDENTS  # a plain gzip file
    assert index_lines(tmp_path) == ["seq,file_name,sha256,archived_name", f"1,students.csv,{digest},{path.name}"]
    assert archived_files(tmp_path, "d1", NIGHT) == [ArchivedFile(1, "students.csv", digest, path)]


def test_round_trip_of_a_few_megabytes_with_bom_read_in_chunks(tmp_path):
    data = csv_like(5 << 20)
    assert data.startswith(b"\xef\xbb\xbf") and len(data) > 5 << 20
    opener = CountingOpener(data)
    path = archive_file(tmp_path, "d1", NIGHT, "students.csv", sha(data), opener)
    assert opener.opened == 1
    assert all(0 < size <= archive.CHUNK for size in opener.reads)  # never the whole file at once
    assert len(opener.reads) > len(data) // archive.CHUNK
    assert path.stat().st_size < len(data)
    assert read_archived(path) == data
    restored = restore_night(tmp_path, "d1", NIGHT, tmp_path / "restored")
    assert (restored / "students.csv").read_bytes() == data


def test_empty_file_round_trip(tmp_path):
    path = put(tmp_path, b"")
    assert read_archived(path) == b""
    assert archived_files(tmp_path, "d1", NIGHT)[0].sha256 == sha(b"")


def test_uppercase_sha256_is_accepted_and_stored_lowercase(tmp_path):
    path = archive_file(tmp_path, "d1", NIGHT, "students.csv", sha(STUDENTS).upper(), lambda: io.BytesIO(STUDENTS))
    assert path.name == f"students.{sha(STUDENTS)[:16]}.csv.gz"
    assert archived_files(tmp_path, "d1", NIGHT)[0].sha256 == sha(STUDENTS)


# --- checks -----------------------------------------------------------------------------------------------


def test_sha256_mismatch_raises_and_leaves_no_file(tmp_path):
    secret = b"student_id,first_name\n999999,Confidential\n"
    with pytest.raises(ValueError) as info:
        archive_file(tmp_path, "d1", NIGHT, "students.csv", sha(STUDENTS), lambda: io.BytesIO(secret))
    message = str(info.value)
    assert "students.csv" in message
    assert "Confidential" not in message and "999999" not in message
    folder = tmp_path / "d1" / "2025-10-14"
    assert list(folder.iterdir()) == []  # neither the archive, nor its temporary file, nor an index
    assert archived_nights(tmp_path, "d1") == []
    assert archived_files(tmp_path, "d1", NIGHT) == []


def test_failing_opener_leaves_no_file(tmp_path):
    class Broken(io.BytesIO):
        def read(self, size=-1):
            if self.tell() >= 1 << 20:
                raise OSError("connection reset")
            return super().read(size)

    data = csv_like(3 << 20)
    with pytest.raises(OSError, match="connection reset"):
        archive_file(tmp_path, "d1", NIGHT, "students.csv", sha(data), lambda: Broken(data))
    assert list((tmp_path / "d1" / "2025-10-14").iterdir()) == []


def test_malformed_sha256_rejected(tmp_path):
    for bad in ("", "abc", "g" * 64, sha(STUDENTS) + "0", "../" + sha(STUDENTS)[3:]):
        with pytest.raises(ValueError, match="sha256"):
            archive_file(tmp_path, "d1", NIGHT, "students.csv", bad, lambda: io.BytesIO(STUDENTS))
    assert not (tmp_path / "d1" / "2025-10-14").exists() or not any((tmp_path / "d1" / "2025-10-14").iterdir())


@pytest.mark.parametrize("bad", ["", "a/b", "a\\b", "..", "a..b", "../d1", ".hidden", ".", "d1\n", "d\x00"])
def test_bad_district_ids_rejected(tmp_path, bad):
    root = tmp_path / "archive"
    with pytest.raises(ValueError, match="district id"):
        archive_file(root, bad, NIGHT, "students.csv", sha(STUDENTS), lambda: io.BytesIO(STUDENTS))
    with pytest.raises(ValueError, match="district id"):
        archived_nights(root, bad)
    with pytest.raises(ValueError, match="district id"):
        archived_files(root, bad, NIGHT)
    with pytest.raises(ValueError, match="district id"):
        restore_night(root, bad, NIGHT, tmp_path / "restored")
    assert not root.exists()


@pytest.mark.parametrize("bad", ["", "../students.csv", "x/students.csv", "x\\students.csv", ".students.csv",
                                 "stu..dents.csv", "students.txt", "students", ".csv"])
def test_bad_file_names_rejected(tmp_path, bad):
    root = tmp_path / "archive"
    with pytest.raises(ValueError, match="file name"):
        archive_file(root, "d1", NIGHT, bad, sha(STUDENTS), lambda: io.BytesIO(STUDENTS))
    assert not root.exists()


# --- the night's index ------------------------------------------------------------------------------------


def test_archiving_twice_writes_one_file_and_one_index_line(tmp_path):
    first = put(tmp_path, STUDENTS)
    before = first.stat()
    opener = CountingOpener(STUDENTS)
    second = archive_file(tmp_path, "d1", NIGHT, "students.csv", sha(STUDENTS), opener)
    assert second == first
    assert opener.opened == 0  # not read, not written again
    assert (first.stat().st_ino, first.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(p.name for p in first.parent.iterdir()) == sorted([first.name, "index.csv"])
    assert len(index_lines(tmp_path)) == 2


def test_redeliveries_keep_their_order_and_restore_takes_the_newest(tmp_path):
    v1, v2 = STUDENTS, STUDENTS + b"000125,Ana\n"
    p1 = put(tmp_path, v1)
    ps = put(tmp_path, SCHOOLS, "schools.csv")
    p2 = put(tmp_path, v2)
    assert p1 != p2
    assert archived_files(tmp_path, "d1", NIGHT) == [
        ArchivedFile(1, "students.csv", sha(v1), p1),
        ArchivedFile(2, "schools.csv", sha(SCHOOLS), ps),
        ArchivedFile(3, "students.csv", sha(v2), p2),
    ]
    put(tmp_path, v1)  # bytes already listed for the night: no new line (as in the load ledger)
    assert [f.seq for f in archived_files(tmp_path, "d1", NIGHT)] == [1, 2, 3]
    assert read_archived(p1) == v1 and read_archived(p2) == v2

    dest = tmp_path / "restored"
    folder = restore_night(tmp_path, "d1", NIGHT, dest)
    assert folder == dest / "d1" / "2025-10-14"
    assert sorted(p.name for p in folder.iterdir()) == ["schools.csv", "students.csv"]
    assert (folder / "students.csv").read_bytes() == v2
    assert (folder / "schools.csv").read_bytes() == SCHOOLS


def test_seq_is_per_night(tmp_path):
    put(tmp_path, STUDENTS)
    put(tmp_path, SCHOOLS, "schools.csv", night=date(2025, 10, 15))
    assert [f.seq for f in archived_files(tmp_path, "d1", date(2025, 10, 15))] == [1]
    assert [f.file_name for f in archived_files(tmp_path, "d1", NIGHT)] == ["students.csv"]


def test_restored_night_is_a_drop_folder_for_the_ingest(tmp_path):
    put(tmp_path, STUDENTS)
    put(tmp_path, SCHOOLS, "schools.csv")
    dest = tmp_path / "drop"
    restore_night(tmp_path, "d1", NIGHT, dest)
    source = find_export(dest, "d1", NIGHT, today=date(2025, 10, 15))
    assert source is not None and source.complete
    assert {name: f.sha256 for name, f in source.files.items()} == {
        "schools.csv": sha(SCHOOLS), "students.csv": sha(STUDENTS)}


def test_restore_of_an_empty_night_raises(tmp_path):
    put(tmp_path, STUDENTS)
    with pytest.raises(FileNotFoundError, match="2025-10-15"):
        restore_night(tmp_path, "d1", date(2025, 10, 15), tmp_path / "restored")
    with pytest.raises(FileNotFoundError):
        restore_night(tmp_path, "d2", NIGHT, tmp_path / "restored")


def test_restore_detects_a_damaged_archive(tmp_path):
    path = put(tmp_path, STUDENTS)
    path.write_bytes(gzip.compress(b"student_id,first_name\n000123,Mario\n"))
    dest = tmp_path / "restored"
    with pytest.raises(ValueError, match="students.csv"):
        restore_night(tmp_path, "d1", NIGHT, dest)
    assert list((dest / "d1" / "2025-10-14").iterdir()) == []


# --- listings ---------------------------------------------------------------------------------------------


def test_nights_and_districts_listed_sorted(tmp_path):
    for night in (date(2025, 10, 14), date(2024, 12, 31), date(2026, 1, 2), date(2025, 9, 1)):
        put(tmp_path, STUDENTS, night=night)
    put(tmp_path, STUDENTS, district="alpha")
    put(tmp_path, STUDENTS, district="zeta-9")
    (tmp_path / "d1" / "notes").mkdir()  # not a night
    (tmp_path / "d1" / "2027-01-01").mkdir()  # no index: nothing archived
    (tmp_path / ".trash").mkdir()
    (tmp_path / "README").write_text("not a district")
    assert archived_nights(tmp_path, "d1") == [date(2024, 12, 31), date(2025, 9, 1), date(2025, 10, 14),
                                               date(2026, 1, 2)]
    assert archived_nights(tmp_path, "alpha") == [NIGHT]
    assert archived_nights(tmp_path, "unknown") == []
    assert district_ids(tmp_path) == ["alpha", "d1", "zeta-9"]
    assert district_ids(tmp_path / "missing") == []


# --- permissions ------------------------------------------------------------------------------------------


@pytest.fixture
def open_umask():
    old = os.umask(0)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_and_folders_are_owner_only(tmp_path, open_umask):
    root = tmp_path / "archive"
    path = put(root, STUDENTS)
    for folder in (root, root / "d1", root / "d1" / "2025-10-14"):
        assert mode(folder) == 0o700, folder
    assert mode(path) == 0o600
    assert mode(path.parent / "index.csv") == 0o600
    dest = tmp_path / "restored"
    folder = restore_night(root, "d1", NIGHT, dest)
    for d in (dest, dest / "d1", folder):
        assert mode(d) == 0o700, d
    assert mode(folder / "students.csv") == 0o600


# --- crashes ----------------------------------------------------------------------------------------------

_KILLED_MID_WRITE = """
import io, os, signal, sys
from datetime import date
from sis_sync.ingestion.archive import archive_file

class Dying(io.BytesIO):
    def read(self, size=-1):
        if self.tell() >= 2 << 20:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().read(size)

data = open(sys.argv[2], "rb").read()
archive_file(sys.argv[1], "d1", date(2025, 10, 14), "students.csv", sys.argv[3], lambda: Dying(data))
"""


def test_kill_mid_write_leaves_no_archive_and_the_next_run_works(tmp_path):
    root = tmp_path / "archive"
    put(root, SCHOOLS, "schools.csv")
    data = csv_like(4 << 20)
    source = tmp_path / "students.csv"
    source.write_bytes(data)
    proc = subprocess.run([sys.executable, "-c", _KILLED_MID_WRITE, str(root), str(source), sha(data)],
                          cwd=PROJECT_ROOT, capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    folder = root / "d1" / "2025-10-14"
    final = folder / f"students.{sha(data)[:16]}.csv.gz"
    leftovers = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].stat().st_size > 0  # the interrupted write
    assert not final.exists()
    assert [f.file_name for f in archived_files(root, "d1", NIGHT)] == ["schools.csv"]

    assert archive_file(root, "d1", NIGHT, "students.csv", sha(data), lambda: io.BytesIO(data)) == final
    assert [(f.seq, f.file_name) for f in archived_files(root, "d1", NIGHT)] == [(1, "schools.csv"),
                                                                                  (2, "students.csv")]
    assert read_archived(final) == data
    restored = restore_night(root, "d1", NIGHT, tmp_path / "restored")
    assert sorted(p.name for p in restored.iterdir()) == ["schools.csv", "students.csv"]


def test_crash_between_rename_and_index_is_indexed_by_the_next_run(tmp_path):
    path = put(tmp_path, STUDENTS)
    index = path.parent / "index.csv"
    index.unlink()  # as if killed right after the rename
    assert archived_files(tmp_path, "d1", NIGHT) == []
    opener = CountingOpener(STUDENTS)
    assert archive_file(tmp_path, "d1", NIGHT, "students.csv", sha(STUDENTS), opener) == path
    assert opener.opened == 0
    assert archived_files(tmp_path, "d1", NIGHT) == [ArchivedFile(1, "students.csv", sha(STUDENTS), path)]


def test_index_line_cut_short_by_a_crash_is_repaired(tmp_path):
    put(tmp_path, STUDENTS)
    index = tmp_path / "d1" / "2025-10-14" / "index.csv"
    with open(index, "ab") as f:
        f.write(b"2,schools.csv,3f2a")  # killed mid-append
    assert [f.file_name for f in archived_files(tmp_path, "d1", NIGHT)] == ["students.csv"]
    ps = put(tmp_path, SCHOOLS, "schools.csv")
    assert archived_files(tmp_path, "d1", NIGHT)[1:] == [ArchivedFile(2, "schools.csv", sha(SCHOOLS), ps)]
    assert index.read_text().count("\n") == 3
    assert index.read_text().endswith(f"{ps.name}\n")
