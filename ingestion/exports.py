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
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pcsv

from ingestion.spec import ExportSpec, load_spec

MANIFEST = "manifest.csv"
IGNORED_SUFFIXES = (".part", ".tmp")
CHUNK = 8 << 20


@dataclass(frozen=True)
class ExportFile:
    """One delivered file of an export."""

    name: str  # the spec's file name (lowercase), e.g. "students.csv"; "manifest.csv" for the manifest
    delivered_name: str  # as delivered, e.g. "Students.CSV"
    location: str  # where it came from, for messages: a path, or "<zip>!<member>"
    size: int
    sha256: str
    _opener: Callable[[], BinaryIO] = field(repr=False, compare=False)

    def open(self) -> BinaryIO:
        """A fresh binary stream over the file's bytes (the caller closes it)."""
        return self._opener()


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

    @property
    def complete(self) -> bool:
        return self.incomplete is None


def find_export(
    drop_root: Path, district_id: str, export_date: date, spec: ExportSpec | None = None
) -> ExportSource | None:
    """The export of ``district_id`` for ``export_date`` under ``drop_root``, or None when nothing is there.

    The returned source carries every file's sha256 and, when a manifest is present, the result of checking
    it (``incomplete``).
    """
    spec = spec or load_spec()
    base = Path(drop_root) / district_id
    folder = base / export_date.isoformat()
    archive = base / f"{export_date.isoformat()}.zip"
    locations = [p for p in (folder, archive) if (p.is_dir() if p is folder else p.is_file())]
    if not locations:
        return None

    wanted = {name.lower(): name for name in (*spec.file_names, MANIFEST)}
    source = ExportSource(district_id, export_date, locations, files={})
    found: dict[str, ExportFile] = {}
    problems: list[str] = []
    # The folder first: it wins over the zip for a file delivered both ways.
    for location in locations:
        try:
            candidates = list(_folder_entries(location) if location.is_dir() else _zip_entries(location))
        except zipfile.BadZipFile as e:
            problems.append(f"{location.name} is not a readable zip archive ({e})")
            continue
        seen_here: dict[str, str] = {}
        for delivered, where, size, opener in candidates:
            lowered = delivered.lower()
            if lowered.endswith(IGNORED_SUFFIXES):
                source.ignored_files.append(delivered)
                continue
            name = wanted.get(lowered)
            if name is None:
                if delivered not in source.unknown_files:
                    source.unknown_files.append(delivered)
                continue
            if name in seen_here:
                problems.append(f"two files are named like {name}: {seen_here[name]} and {delivered}")
                continue
            seen_here[name] = delivered
            if name in found:  # already delivered in the folder
                continue
            found[name] = ExportFile(name, delivered, where, size, _sha256(opener), opener)

    source.manifest = found.pop(MANIFEST, None)
    source.files = {name: found[name] for name in spec.file_names if name in found}
    if problems:
        source.incomplete = "; ".join(problems)
    elif source.manifest is not None:
        source.incomplete = _check_manifest(source)
    return source


def _folder_entries(folder: Path):
    for path in sorted(folder.iterdir()):
        if path.is_file():
            yield path.name, str(path), path.stat().st_size, (lambda p=path: open(p, "rb"))  # noqa: SIM115


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
    manifest = source.manifest
    assert manifest is not None
    try:
        with manifest.open() as f:
            text = f.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        return "manifest.csv is not UTF-8"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return "manifest.csv is empty"
    header = [h.strip().lower() for h in rows[0]]
    needed = ("file_name", "row_count", "sha256")
    if any(h not in header for h in needed):
        return f"manifest.csv must have the header {','.join(needed)} (found {','.join(rows[0])})"
    at = {h: header.index(h) for h in needed}
    by_name = {name.lower(): f for name, f in source.files.items()}
    unknown = {name.lower() for name in source.unknown_files}
    problems = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            problems.append(f"manifest.csv line {line} has {len(row)} fields, expected {len(header)}")
            continue
        name = row[at["file_name"]].strip()
        f = by_name.get(name.lower())
        if f is None:
            if name.lower() not in unknown:  # delivered files outside the spec are not loaded: not checked
                problems.append(f"{name} is listed in manifest.csv but was not delivered")
            continue
        sha = row[at["sha256"]].strip().lower()
        if sha != f.sha256:
            problems.append(f"{name}: sha256 {f.sha256} does not match the manifest's {sha}")
            continue
        try:
            expected = int(row[at["row_count"]].strip())
        except ValueError:
            problems.append(f"manifest.csv line {line}: row_count {row[at['row_count']]!r} is not a number")
            continue
        try:
            actual = count_records(f.open) if f.size else 0
        except pa.ArrowInvalid:
            continue  # not parseable CSV: the sha256 matched, so the validator rejects it with the detail
        if actual != expected:
            problems.append(f"{name}: {actual} rows delivered, the manifest says {expected}")
    if problems:
        return "export does not match manifest.csv: " + "; ".join(problems)
    return None
