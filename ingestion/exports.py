"""Find one night's export for a district in a drop folder, and check it against its manifest.

An export is ``ROOT/<district>/<YYYY-MM-DD>/`` (a folder of CSV files) or ``ROOT/<district>/<YYYY-MM-DD>.zip``
(the same files at the zip's root). When both exist the folder wins, file by file (a spec decision). Files
still being uploaded (``.part``, ``.tmp``) are ignored; file names are matched case-insensitively against the
spec's; anything else is reported as unknown and never loaded.

When ``manifest.csv`` is present, every file it lists must exist and match its ``row_count`` (CSV records
after the header) and ``sha256``; otherwise the export is *incomplete* (``ExportSource.incomplete`` says
why) and nothing of it may be loaded: the caller leaves it for a later poll.

Nothing is extracted to memory: each file is opened as a binary stream (``ExportFile.open()``), zip members
through :mod:`zipfile`'s streaming reader.

Some exports are *refused* outright (``ExportSource.refused`` says why; ``incomplete`` too, so nothing of it is
loaded, and the delivered files stay where they are):

- an export dated after today (in the district's time zone when given, else the latest date anywhere on
  Earth, UTC+14): a future date is a clock or naming mistake in the SIS;
- a zip bomb: a zip whose members would expand to more than :data:`MAX_ZIP_BYTES` in all, or a member more
  than :data:`MAX_ZIP_RATIO` times its compressed size. Checked on the sizes the zip declares, before a byte
  is decompressed; :mod:`zipfile` never yields more than a member's declared size (and then checks its CRC).

:class:`DistrictSchools` holds the school ids a district's files may name (the rule against another
district's file, checked by the validator).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.csv as pcsv

from sis_sync.config import is_plain_id
from sis_sync.ingestion import oneroster
from sis_sync.ingestion.ledger import LEDGER_TABLE, RAW_SCHEMA
from sis_sync.ingestion.spec import (
    IN_PROGRESS_SUFFIXES,
    MANIFEST,
    ONEROSTER_FORMAT,
    SIS_FORMAT,
    ExportSpec,
    FileSpec,
    load_spec,
    oneroster_spec,
)
from sis_sync.ingestion.validate import FileStats, KnownSchools

CHUNK = 8 << 20

# Zip bombs (spec decision): limits on what the sizes declared in a zip would expand to.
MAX_ZIP_BYTES = 4 << 30  # all members together
MAX_ZIP_RATIO = 200  # one member, expanded size / compressed size...
ZIP_RATIO_FLOOR = 1 << 20  # ...for members that expand to more than this (a tiny file may compress well)
# A delivered file left unchanged this long (seconds) is complete, unless a manifest vouches for it first.
SETTLE_SECONDS = 2.0
_LATEST_OFFSET = timedelta(hours=14)  # UTC+14 (Kiribati): where a date begins first


@dataclass(frozen=True)
class ExportFile:
    """One delivered file of an export."""

    name: str  # the file's name in the spec, e.g. "students.csv" or "academicSessions.csv"; or "manifest.csv"
    delivered_name: str  # as delivered, e.g. "Students.CSV"
    location: str  # where it came from, for messages: a path, or "<zip>!<member>"
    size: int
    sha256: str
    _opener: Callable[[], BinaryIO] = field(repr=False, compare=False)
    stamp: tuple[int, int, int] | None = None  # a folder file's (size, mtime_ns, inode) when it was hashed

    def open(self) -> BinaryIO:
        """A fresh binary stream over the file's bytes (the caller closes it)."""
        return self._opener()

    def changed(self) -> bool:
        """The file is no longer what was hashed (still being written, or replaced): a folder file only."""
        return self.stamp is not None and _stamp(Path(self.location)) != self.stamp


@dataclass
class ExportSource:
    """One night's export: its files by spec file name (spec order), and what else was found."""

    district_id: str
    export_date: date
    locations: list[Path]  # the folder and/or zip it was read from
    files: dict[str, ExportFile]  # spec file name -> file; only the spec's data files
    manifest: ExportFile | None = None
    unknown_files: list[str] = field(default_factory=list)  # delivered names not in the spec (not loaded)
    ignored_files: list[str] = field(default_factory=list)  # .part/.tmp, still uploading
    incomplete: str | None = None  # why the export must not be loaded yet (manifest mismatch), or None
    refused: str | None = None  # why the export is refused (future date, zip bomb); ``incomplete`` says it too
    oneroster: oneroster.Manifest | None = None  # a OneRoster export's manifest: version, bulk or delta per file
    file_specs: dict[str, FileSpec] = field(default_factory=dict)  # the spec of each of ``files``

    @property
    def export_format(self) -> str:
        """Ours, or OneRoster (its manifest says so)."""
        return ONEROSTER_FORMAT if self.oneroster is not None else SIS_FORMAT

    @property
    def complete(self) -> bool:
        return self.incomplete is None


def today_in(time_zone: str | None = None, now: datetime | None = None) -> date:
    """Today's date in ``time_zone`` (an IANA name); without one, the latest date anywhere on Earth (UTC+14),
    so that no export is ever wrongly taken for a future one."""
    now = now or datetime.now(timezone.utc)
    if time_zone:
        return now.astimezone(ZoneInfo(time_zone)).date()
    return (now.astimezone(timezone.utc) + _LATEST_OFFSET).date()


def settle_seconds() -> float:
    """How long a delivered file must have been left unchanged before it is read (``SIS_SYNC_SETTLE_SECONDS``,
    default :data:`SETTLE_SECONDS`)."""
    return float(os.environ.get("SIS_SYNC_SETTLE_SECONDS", SETTLE_SECONDS))


def find_export(
    drop_root: Path,
    district_id: str,
    export_date: date,
    spec: ExportSpec | None = None,
    *,
    time_zone: str | None = None,
    today: date | None = None,
    settle: float | None = None,
    export_format: str | None = None,
) -> ExportSource | None:
    """The export of ``district_id`` for ``export_date`` under ``drop_root``, or None when nothing is there.

    The returned source carries every file's sha256 and, when a manifest is present, the result of checking
    it (``incomplete``). An export dated after ``today`` (default: :func:`today_in` the district's
    ``time_zone``) or a zip bomb is ``refused`` without reading its files. A file still being written is not
    complete (see :func:`_unsettled`): the export is ``incomplete`` then, and left for a later poll.

    A ``manifest.csv`` with OneRoster's header makes it a OneRoster export (its files then are OneRoster's,
    those the manifest names ``bulk`` or ``delta``, and our companion files beside them); ``export_format``
    (districts.yml's ``format``), when given, refuses an export of the other format.
    """
    spec = spec or load_spec()
    if not is_plain_id(district_id):
        raise ValueError(f"district id {district_id!r} must be a plain name, never a path")
    base = Path(drop_root) / district_id
    folder = base / export_date.isoformat()
    archive = base / f"{export_date.isoformat()}.zip"
    links = [p for p in (base, folder, archive) if p.is_symlink()]
    locations = [p for p in (folder, archive) if (p.is_dir() if p is folder else p.is_file())]
    if not locations and not links:
        return None

    source = ExportSource(district_id, export_date, locations, files={})
    refusal = _refusal(links, export_date, time_zone, today)
    if refusal is not None:
        return _refuse(source, refusal)
    delivered = (*spec.file_names, *(f.delivered for f in oneroster_spec().files), MANIFEST)
    wanted = {name.lower(): name for name in delivered}
    found: dict[str, ExportFile] = {}
    problems: list[str] = []
    # The folder first: it wins over the zip for a file delivered both ways.
    for location in locations:
        bomb = _read_location(location, wanted, source, found, problems)
        if bomb is not None:
            return _refuse(source, bomb)
    source.manifest = found.pop(MANIFEST, None)
    if source.manifest is not None and _is_oneroster(source.manifest):
        return _oneroster_export(source, found, problems, settle, export_format)
    if export_format == ONEROSTER_FORMAT:
        return _refuse(source, "the district's format is oneroster (districts.yml), but the export has no OneRoster"
                               " manifest.csv (propertyName,value with oneroster.version)")
    source.file_specs = {name: spec.file(name) for name in spec.file_names if name in found}
    source.files = {name: found[name] for name in source.file_specs}
    source.unknown_files += [found[name].delivered_name for name in found if name not in source.files]
    source.incomplete = _incompleteness(source, spec, problems, settle)
    return source


def _is_oneroster(manifest: ExportFile) -> bool:
    with manifest.open() as f:
        return oneroster.is_oneroster_manifest(f.read(4096))


def _oneroster_export(source: ExportSource, found: dict[str, ExportFile], problems: list[str],
                      settle: float | None, export_format: str | None) -> ExportSource:
    """A OneRoster export: the files its manifest names bulk or delta (a named file missing leaves it
    incomplete), and our own companion files (attendance, discipline) delivered beside them."""
    if export_format == SIS_FORMAT:
        return _refuse(source, "the district's format is sis (districts.yml), but manifest.csv is a OneRoster"
                               " manifest: set format: oneroster for the district to read its OneRoster export")
    with source.manifest.open() as f:
        data = f.read()
    try:
        manifest = oneroster.read_manifest(data)
    except oneroster.ManifestError as e:
        source.incomplete = str(e)
        return source
    spec, own = manifest.spec, load_spec()
    source.oneroster = manifest
    specs = [f for f in spec.files if manifest.mode(f.file_name) != oneroster.ABSENT]
    specs += [own.file(name) for name in COMPANION_FILES if name in found]
    missing = [f"{f.delivered} is {manifest.mode(f.file_name)} in manifest.csv but was not delivered"
               for f in specs if f.delivered not in found]
    source.file_specs = {f.file_name: f for f in specs if f.delivered in found}
    source.files = {name: found[f.delivered] for name, f in source.file_specs.items()}
    read = {f.delivered for f in source.file_specs.values()}
    source.unknown_files += [found[name].delivered_name for name in found if name not in read]
    if not problems and not missing:
        problems = _unsettled([*source.files.values(), source.manifest], True,
                              settle_seconds() if settle is None else settle)
    problems += missing
    if not source.files and not problems:
        problems = ["the OneRoster export has no file its manifest names bulk or delta"]
    source.incomplete = "; ".join(problems) or None
    return source


# Our own files a OneRoster export may carry beside its own (OneRoster has no attendance or discipline).
COMPANION_FILES = ("attendance.csv", "discipline.csv")


def _refusal(links: list[Path], export_date: date, time_zone: str | None, today: date | None) -> str | None:
    """Why the export is refused before any of it is read (a symbolic link, a future date), or None."""
    if links:
        return (f"{links[0]} is a symbolic link: only the district's own folder and the files in it are read,"
                " never what a link points to")
    where = f" in {time_zone}" if time_zone else " anywhere on Earth" if today is None else ""
    today = today or today_in(time_zone)
    if export_date > today:
        return (f"the export is dated {export_date.isoformat()}, a day that has not begun yet (today is"
                f" {today.isoformat()}{where}): a clock or naming mistake in the SIS? Nothing of it is read")
    return None


def _read_location(location: Path, wanted: dict[str, str], source: ExportSource, found: dict[str, ExportFile],
                   problems: list[str]) -> str | None:
    """Adds the spec's files of one location (the export's folder or its zip) to ``found`` unless an earlier
    location delivered them, what is wrong to ``problems``, and the names it does not load to ``source``.
    Returns why the location is refused (a zip bomb), or None."""
    is_folder = location.is_dir()
    try:
        if not is_folder:
            bomb = _zip_bomb(location)
            if bomb is not None:
                return bomb
        candidates = list(_folder_entries(location) if is_folder else _zip_entries(location))
    except zipfile.BadZipFile as e:
        problems.append(f"{location.name} is not a readable zip archive ({e})")
        return None
    seen_here: dict[str, str] = {}
    for delivered, where, size, opener in candidates:
        name = _recognise(delivered, where, opener, wanted, source, problems)
        if name is None:
            continue
        if name in seen_here:
            problems.append(f"two files are named like {name}: {seen_here[name]} and {delivered}")
            continue
        seen_here[name] = delivered
        if name in found:  # already delivered in the folder
            continue
        try:
            digest = _sha256(opener)
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as e:
            # e.g. a zip member failing its CRC check, or compressed with an unsupported method
            problems.append(f"{where} cannot be read ({e})")
            continue
        stamp = _stamp(Path(where)) if is_folder else None
        found[name] = ExportFile(name, delivered, where, stamp[0] if stamp else size, digest, opener, stamp)
    return None


def _recognise(delivered: str, where: str, opener, wanted: dict[str, str], source: ExportSource,
               problems: list[str]) -> str | None:
    """The spec's name of a delivered file (or the manifest's); None for one that is not loaded: not a regular
    file (a problem), still being written (``source.ignored_files``) or not in the spec
    (``source.unknown_files``)."""
    if opener is None:
        problems.append(f"{where} is not a regular file (a symbolic link or a device): only the district's own"
                        " files are read, never what a link points to")
        return None
    lowered = delivered.lower()
    if lowered.endswith(IN_PROGRESS_SUFFIXES):
        source.ignored_files.append(delivered)
        return None
    name = wanted.get(lowered)
    if name is None and delivered not in source.unknown_files:
        source.unknown_files.append(delivered)
    return name


def _incompleteness(source: ExportSource, spec: ExportSpec, problems: list[str], settle: float | None) -> str | None:
    """Why the gathered export is not a complete delivery (``problems`` found reading it, no file the spec
    names, a file still being written: ``settle`` seconds, default :func:`settle_seconds`; a mismatch with
    its manifest), or None."""
    if not source.files and not problems:
        problems = [_nothing_recognised(spec, source)]
    if not problems:
        delivered = [*source.files.values(), *([source.manifest] if source.manifest else [])]
        problems = _unsettled(delivered, source.manifest is None, settle_seconds() if settle is None else settle)
    if problems:
        return "; ".join(problems)
    return _check_manifest(source) if source.manifest is not None else None


def _nothing_recognised(spec: ExportSpec, source: ExportSource) -> str:
    """Why an export that holds no file the spec names is not a delivery (never a night of zero files)."""
    delivered = source.unknown_files + source.ignored_files
    if not delivered:
        return "the export holds only its manifest" if source.manifest is not None else "the export holds no files"
    listed = ", ".join(delivered[:5]) + (f" and {len(delivered) - 5} more" if len(delivered) > 5 else "")
    hint = ("; a zip inside the export is not opened: deliver the CSV files, or one zip of them"
            if any(name.lower().endswith(".zip") for name in delivered) else "")
    return (f"no file of the export has a name the spec gives ({', '.join(spec.file_names)}); it holds "
            f"{listed}{hint}")


def _refuse(source: ExportSource, reason: str) -> ExportSource:
    source.refused = reason
    source.incomplete = f"refused: {reason}"
    return source


def _zip_bomb(archive: Path) -> str | None:
    """Why the zip would expand too much (from the sizes it declares, nothing decompressed), or None."""
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
    for info in infos:
        if info.file_size > ZIP_RATIO_FLOOR and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            return (f"{archive.name}: {info.filename} would expand from {_size(info.compress_size)} to"
                    f" {_size(info.file_size)}, more than {MAX_ZIP_RATIO} times its compressed size: a zip"
                    " bomb? Nothing of it is read")
    total = sum(info.file_size for info in infos)
    if total > MAX_ZIP_BYTES:
        return (f"{archive.name} would expand to {_size(total)}, more than the limit of {_size(MAX_ZIP_BYTES)}:"
                " a zip bomb? Nothing of it is read (deliver an export that large as a folder)")
    return None


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is written to or replaced: (size, mtime_ns, inode); None when it is gone."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def _unsettled(files: list[ExportFile], wait: bool, settle: float) -> list[str]:
    """Why some folder files are not complete: they changed while they were hashed, or (``wait``: no manifest
    vouches for them) they change within ``settle`` seconds of their last write (a file modified more
    recently is watched until it is that old). A file still being written is never landed half-way."""
    files = [f for f in files if f.stamp is not None]
    changed = [f for f in files if f.changed()]
    if wait and not changed and settle > 0:
        youngest = max((f.stamp[1] for f in files), default=0) / 1e9
        pause = youngest + settle - time.time()
        if pause > 0:
            time.sleep(min(pause, settle))
            changed = [f for f in files if f.changed()]
    return [f"{f.delivered_name} is still being written (it changed while it was read); it is loaded once it"
            " has stopped changing" for f in changed]


def _folder_entries(folder: Path):
    """(name, where, size, opener) of the folder's entries; the opener is None for anything but a regular file
    (a symbolic link, a device, a fifo), and a link is never followed, even when swapped in after listing."""
    for path in sorted(folder.iterdir()):
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            continue
        if not stat.S_ISREG(mode):
            yield path.name, str(path), 0, None
            continue
        yield path.name, str(path), path.lstat().st_size, (lambda p=path: _open_no_follow(p))


def _open_no_follow(path: Path) -> BinaryIO:
    """The file at ``path`` opened for reading, refusing a symbolic link (``O_NOFOLLOW``)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    return os.fdopen(fd, "rb")


def _zip_entries(archive: Path):
    with zipfile.ZipFile(archive) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
    for info in sorted(infos, key=lambda i: i.filename):
        if "/" in info.filename.strip("/"):
            # Not at the zip's root: not part of the export (reported as unknown by the caller).
            yield info.filename, f"{archive}!{info.filename}", info.file_size, _unopenable(info.filename)
            continue
        yield info.filename, f"{archive}!{info.filename}", info.file_size, _zip_opener(archive, info.filename)


def _zip_opener(archive: Path, member: str) -> Callable[[], BinaryIO]:
    def opener() -> BinaryIO:
        zf = zipfile.ZipFile(archive)
        try:
            # The member stream keeps the archive's file open until it is closed itself.
            return zf.open(member)
        finally:
            zf.close()

    return opener


def _unopenable(member: str) -> Callable[[], BinaryIO]:
    def opener() -> BinaryIO:
        raise FileNotFoundError(f"{member} is not at the root of the zip")

    return opener


def _sha256(opener: Callable[[], BinaryIO]) -> str:
    digest = hashlib.sha256()
    with opener() as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def count_records(opener: Callable[[], BinaryIO]) -> int:
    """Number of CSV records after the header (quoted newlines do not start records; blank lines are not
    records). Raises ``pyarrow.ArrowInvalid`` when the file is not parseable CSV."""
    with opener() as f:
        # Autogenerated names: the header is read as a record too; only the first column is converted.
        reader = pcsv.open_csv(
            f,
            read_options=pcsv.ReadOptions(block_size=CHUNK, autogenerate_column_names=True),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                include_columns=["f0"], column_types={"f0": pa.string()}, check_utf8=False
            ),
        )
        records = sum(batch.num_rows for batch in reader)
    return max(records - 1, 0)


def _check_manifest(source: ExportSource) -> str | None:
    """Why the export does not match its manifest, or None when it does."""
    assert source.manifest is not None
    rows = _manifest_rows(source.manifest)
    if isinstance(rows, str):
        return rows
    by_name = {name.lower(): f for name, f in source.files.items()}
    unknown = {name.lower() for name in source.unknown_files}
    problems = [problem for line, row in rows
                if (problem := row if isinstance(row, str) else _manifest_line_problem(line, row, by_name, unknown))]
    if problems:
        return "export does not match manifest.csv: " + "; ".join(problems)
    return None


_MANIFEST_HEADER = ("file_name", "row_count", "sha256")


def _manifest_rows(manifest: ExportFile) -> list[tuple[int, dict[str, str] | str]] | str:
    """The manifest's lines that are not blank, numbered, each as its fields by header name (or, for a line
    short of fields, what is wrong with it); or why the manifest cannot be read."""
    try:
        with manifest.open() as f:
            text = f.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        return "manifest.csv is not UTF-8"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return "manifest.csv is empty"
    header = [h.strip().lower() for h in rows[0]]
    if any(h not in header for h in _MANIFEST_HEADER):
        return f"manifest.csv must have the header {','.join(_MANIFEST_HEADER)} (found {','.join(rows[0])})"
    at = {h: header.index(h) for h in _MANIFEST_HEADER}
    return [
        (line, {h: row[i] for h, i in at.items()} if len(row) >= len(header)
         else f"manifest.csv line {line} has {len(row)} fields, expected {len(header)}")
        for line, row in enumerate(rows[1:], start=2)
        if any(cell.strip() for cell in row)
    ]


def _manifest_line_problem(line: int, row: dict[str, str], by_name: dict[str, ExportFile],
                           unknown: set[str]) -> str | None:
    """What is wrong with one line of the manifest against the delivered files (``by_name``: the spec's files
    by lower-case name; ``unknown``: delivered files outside the spec, not loaded and so not checked)."""
    name = row["file_name"].strip()
    f = by_name.get(name.lower())
    if f is None:
        return None if name.lower() in unknown else f"{name} is listed in manifest.csv but was not delivered"
    sha = row["sha256"].strip().lower()
    if sha != f.sha256:
        return f"{name}: sha256 {f.sha256} does not match the manifest's {sha}"
    try:
        expected = int(row["row_count"].strip())
    except ValueError:
        return f"manifest.csv line {line}: row_count {row['row_count']!r} is not a number"
    try:
        actual = count_records(f.open) if f.size else 0
    except pa.ArrowInvalid:
        return None  # not parseable CSV: the sha256 matched, so the validator rejects it with the detail
    return f"{name}: {actual} rows delivered, the manifest says {expected}" if actual != expected else None


class DistrictSchools:
    """The school ids a district's files may name tonight (spec decision: another district's file).

    ``accepted`` are the school ids of every schools.csv the district has had loaded; ``tonight`` those of
    tonight's schools.csv once it passed. A schools.csv must share a school id with ``accepted`` (when there
    is any); another file with a school_id column must share one with ``accepted`` or ``tonight``. The first
    night of a district (nothing known) is never checked.
    """

    def __init__(self, district_id: str, accepted: frozenset[str] = frozenset()):
        self.district_id = district_id
        self.accepted = frozenset(accepted)
        self.tonight: frozenset[str] = frozenset()

    @classmethod
    def from_warehouse(cls, cur, district_id: str) -> DistrictSchools:
        """The district's accepted school ids, read from the ledger and the raw schools table."""
        cur.execute(
            f"select distinct s.school_id from {RAW_SCHEMA}.schools as s where s._load_id in ("
            f" select l.load_id from {LEDGER_TABLE} as l"
            "  where l.district_id = %s and l.file_name = 'schools.csv' and l.status = 'loaded')",
            (district_id,),
        )
        return cls(district_id, frozenset(r[0] for r in cur.fetchall() if r[0] is not None))

    def for_file(self, file_name: str) -> KnownSchools | None:
        """What to check ``file_name`` against (``validate_file(..., schools=...)``), or None."""
        if file_name == "schools.csv":
            ids, source = self.accepted, "its earlier schools.csv loads"
        else:
            ids = self.accepted | self.tonight
            source = "its schools.csv loads" if self.accepted else "tonight's schools.csv"
        return KnownSchools(self.district_id, ids, source) if ids else None

    def learn(self, file_name: str, stats: FileStats) -> None:
        """Tonight's schools.csv passed: its schools are the district's too."""
        if file_name == "schools.csv":
            self.tonight = stats.school_ids
