"""The archive: every delivered export file kept as a file, gzip-compressed, per district and night.

Layout, under an archive root::

    <root>/<district_id>/<YYYY-MM-DD>/<stem>.<sha256[:16]>.csv.gz   # the delivered bytes, compressed
    <root>/<district_id>/<YYYY-MM-DD>/index.csv                     # seq,file_name,sha256,archived_name

``stem`` is the file name without ``.csv``. ``index.csv`` lists the night's deliveries in the order they were
archived (``seq`` 1, 2, ...); a file delivered again with other bytes gets a new line, the same bytes again do
not (as in the load ledger, which records the same sha256). The newest delivery of a file for a night is its
line with the highest ``seq``. Any night can be audited from the index and the raw history rebuilt from the
archive alone (:func:`restore_night` writes a night back as a drop folder).

Crash safety: bytes are written to a temporary file (a hidden name ending in ``.tmp``) in the night's folder,
fsynced, then renamed to the final name, so an archive under its final name is always complete. The index line
is appended after the rename; a crash in between leaves an archive not yet indexed, which the next
:func:`archive_file` of the same bytes indexes. Temporary files left by a crash are never listed.

The files are student data: folders are created ``0700`` and files ``0600`` (owner only).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO, cast

from sis_sync.ingestion.delivery.common import fsync_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - platforms without fcntl: a single writer per night is assumed
    fcntl = None  # type: ignore[assignment]

INDEX = "index.csv"
INDEX_HEADER = ("seq", "file_name", "sha256", "archived_name")
ARCHIVE_SUFFIX = ".csv.gz"
TEMP_SUFFIX = ".tmp"
CHUNK = 1 << 20
COMPRESS_LEVEL = 1
DIR_MODE = 0o700
FILE_MODE = 0o600

_SHA256 = re.compile(r"[0-9a-f]{64}")
_NIGHT = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class ArchivedFile:
    """One archived delivery of a night."""

    seq: int  # order of archiving within the night, from 1
    file_name: str  # the spec's file name, e.g. "students.csv"
    sha256: str  # of the delivered (uncompressed) bytes
    path: Path  # the compressed archive


def archive_file(
    root: Path,
    district_id: str,
    export_date: date,
    file_name: str,
    sha256: str,
    opener: Callable[[], BinaryIO],
) -> Path:
    """Archive one delivered file (bytes read in chunks from ``opener()``) and list it in the night's index.

    Returns the archive's path. The same bytes already archived for the night are not written again. Raises
    ValueError when the bytes' sha256 is not ``sha256`` (nothing is archived then).
    """
    _check_name(district_id, "district id")
    _check_file_name(file_name)
    sha256 = _check_sha256(sha256)
    folder = _night_folder(Path(root), district_id, export_date)
    _make_dirs(Path(root), district_id, folder.name)
    final = folder / _archived_name(file_name, sha256)
    if not final.is_file():
        _write_compressed(folder, final, file_name, sha256, opener)
    _index(folder, file_name, sha256, final.name)
    return final


def district_ids(root: Path) -> list[str]:
    """The districts with a folder in the archive, sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _is_plain(p.name))


def archived_nights(root: Path, district_id: str) -> list[date]:
    """The nights archived for a district (those with an index), sorted."""
    _check_name(district_id, "district id")
    base = Path(root) / district_id
    if not base.is_dir():
        return []
    nights = []
    for p in base.iterdir():
        if _NIGHT.fullmatch(p.name) and (p / INDEX).is_file():
            try:
                nights.append(date.fromisoformat(p.name))
            except ValueError:
                continue
    return sorted(nights)


def archived_files(root: Path, district_id: str, night: date) -> list[ArchivedFile]:
    """The night's archived deliveries, in the order they were archived (``seq``)."""
    _check_name(district_id, "district id")
    folder = _night_folder(Path(root), district_id, night)
    index = folder / INDEX
    if not index.is_file():
        return []
    with open(index, "rb") as f:
        rows = _parse_index(f.read(), index)
    return [ArchivedFile(seq, name, sha, folder / archived) for seq, name, sha, archived in rows]


def open_archived(path: Path) -> BinaryIO:
    """A binary stream of an archived file's original bytes (the caller closes it)."""
    return cast(BinaryIO, gzip.open(path, "rb"))


def restore_night(root: Path, district_id: str, night: date, dest_root: Path) -> Path:
    """Write the night's files to ``dest_root/<district_id>/<YYYY-MM-DD>/<file_name>`` and return that folder.

    Each file is its newest delivery of the night (highest ``seq``), decompressed and checked against its
    sha256. Other files already in the folder are left as they are. ``dest_root`` is then a drop folder for
    the ingest. Raises FileNotFoundError when nothing is archived for the night.
    """
    newest: dict[str, ArchivedFile] = {}
    for archived in archived_files(root, district_id, night):
        newest[archived.file_name] = archived  # seq order: the last one wins
    if not newest:
        raise FileNotFoundError(f"nothing is archived for district {district_id} on {night.isoformat()}")
    dest_root = Path(dest_root)
    folder = _night_folder(dest_root, district_id, night)
    _make_dirs(dest_root, district_id, folder.name)
    for name, archived in newest.items():
        _write_restored(folder, name, archived)
    return folder


# --- names ------------------------------------------------------------------------------------------------


def _is_plain(name: str) -> bool:
    return (bool(name) and not name.startswith(".") and ".." not in name
            and not any(c in name for c in "/\\") and not any(ord(c) < 32 or ord(c) == 127 for c in name))


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not _is_plain(name):
        raise ValueError(f"the {what} {name!r} must be a plain name (no '/', '\\', '..', leading '.' or"
                         " control characters)")


def _check_file_name(file_name: str) -> None:
    _check_name(file_name, "file name")
    if not file_name.endswith(".csv") or file_name == ".csv":
        raise ValueError(f"the file name {file_name!r} must end in .csv")


def _check_sha256(sha256: str) -> str:
    sha = sha256.lower() if isinstance(sha256, str) else ""
    if not _SHA256.fullmatch(sha):
        raise ValueError(f"{sha256!r} is not a sha256 (64 hex digits)")
    return sha


def _archived_name(file_name: str, sha256: str) -> str:
    return f"{file_name[: -len('.csv')]}.{sha256[:16]}{ARCHIVE_SUFFIX}"


def _night_folder(root: Path, district_id: str, night: date) -> Path:
    return root / district_id / night.isoformat()


# --- files ------------------------------------------------------------------------------------------------


def _make_dirs(root: Path, district_id: str, night: str) -> None:
    """Create the root, district and night folders that are missing, owner only."""
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        _make_dir(root)
    _make_dir(root / district_id)
    _make_dir(root / district_id / night)


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        return
    os.chmod(path, DIR_MODE)  # whatever the umask
    fsync_dir(path.parent)


def _temp_file(folder: Path, name: str) -> tuple[int, Path]:
    """A new hidden temporary file beside ``name`` (mode 0600), ending in .tmp (ignored by the ingest)."""
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=TEMP_SUFFIX)
    os.fchmod(fd, FILE_MODE)
    return fd, Path(temp)


def _write_compressed(folder: Path, final: Path, file_name: str, sha256: str,
                      opener: Callable[[], BinaryIO]) -> None:
    fd, temp = _temp_file(folder, final.name)
    try:
        digest = hashlib.sha256()
        with open(fd, "wb") as out:
            # No name or time in the gzip header: the same bytes always compress to the same archive.
            with (
                gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=COMPRESS_LEVEL, mtime=0) as gz,
                opener() as src,
            ):
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    gz.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise ValueError(f"{file_name}: the delivered bytes have sha256 {digest.hexdigest()}, not the expected"
                             f" {sha256}; not archived")
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(folder)


def _write_restored(folder: Path, name: str, archived: ArchivedFile) -> None:
    fd, temp = _temp_file(folder, name)
    try:
        digest = hashlib.sha256()
        with open(fd, "wb") as out, open_archived(archived.path) as src:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != archived.sha256:
            raise ValueError(f"{name}: the archive {archived.path.name} holds bytes with sha256"
                             f" {digest.hexdigest()}, not the indexed {archived.sha256}: a damaged archive?")
        os.replace(temp, folder / name)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(folder)


# --- the index --------------------------------------------------------------------------------------------


def _parse_index(data: bytes, index: Path) -> list[tuple[int, str, str, str]]:
    """The index's rows in seq order. A last line without its newline (a crash mid-append) is not a row."""
    complete = data[: data.rfind(b"\n") + 1].decode("utf-8")
    lines = list(csv.reader(io.StringIO(complete, newline="")))
    if not lines:
        return []
    if tuple(lines[0]) != INDEX_HEADER:
        raise ValueError(f"{index} does not start with the header {','.join(INDEX_HEADER)}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            seq, name, sha, archived = line
            row = (int(seq), name, _check_sha256(sha), archived)
            _check_file_name(name)
            _check_name(archived, "archived name")
        except ValueError as e:
            raise ValueError(f"{index} line {number} is not a valid index line ({e})") from None
        rows.append(row)
    return sorted(rows)


def _index(folder: Path, file_name: str, sha256: str, archived_name: str) -> None:
    """Append the delivery to the night's index unless that file with that sha256 is listed already."""
    index = folder / INDEX
    fd = os.open(index, os.O_RDWR | os.O_CREAT | os.O_APPEND, FILE_MODE)
    with open(fd, "r+b") as f:
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # released when the file is closed
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a line cut short by a crash: dropped, it is written again below if needed
            f.truncate(end)
            data = data[:end]
        rows = _parse_index(data, index)
        if any(name == file_name and sha == sha256 for _, name, sha, _ in rows):
            return
        text = io.StringIO(newline="")
        writer = csv.writer(text, lineterminator="\n")
        if not data:
            writer.writerow(INDEX_HEADER)
        writer.writerow((max((r[0] for r in rows), default=0) + 1, file_name, sha256, archived_name))
        f.write(text.getvalue().encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())
    if not data:
        fsync_dir(folder)
