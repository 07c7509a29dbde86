"""Folder delivery: a local or mounted folder (a shared drive) holding ``<district_id>/<YYYY-MM-DD>...``.

``delivery: {method: folder, path: /mnt/sis-drop}`` (a relative path is relative to the districts file).

The export is *copied* into the destination like the other methods' downloads rather than read in place:
every method then yields the same thing (a local snapshot under the project's archive), the files are read
from local disk while the district may be rewriting its share, ``.part``/``.tmp`` files never enter the
archive, and a share that is later cleaned up does not take the night's files with it. A file already
copied with the same bytes (size + sha256) is not copied again. When the destination *is* the delivery
folder, nothing is copied and the export is read in place.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sis_sync.config import District
from sis_sync.ingestion.delivery.common import (
    CHUNK,
    Fetcher,
    FetchResult,
    Listing,
    classify,
    file_digests,
    refuse_inline_secrets,
    resolve_path,
)


def fetch(district: District, export_date: date, dest_root: Path, config_dir: Path) -> FetchResult:
    delivery = district.delivery
    refuse_inline_secrets(district.id, delivery)
    root = resolve_path(config_dir, delivery.get("path", "."))
    fetcher = Fetcher(district.id, export_date, dest_root, source=f"folder {root}")
    if not root.is_dir():
        raise fetcher.error(f"the delivery folder {root} does not exist or is not a folder")

    source_base = root / district.id
    listing = _list(fetcher, source_base)
    if source_base.resolve() == fetcher.base.resolve():  # reading the delivery folder in place
        for rf in listing.files:
            fetcher.unchanged.append(rf.rel)
        return fetcher.result(listing, cleanup=False)

    for rf in fetcher.to_fetch(listing):
        temp = fetcher.temp_path(rf)
        try:
            with open(rf.ref, "rb") as src, open(temp, "wb") as dst:
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
        except OSError as exc:
            raise fetcher.error(f"cannot copy {rf.ref}: {exc}") from exc
        fetcher.commit(rf, temp)
    return fetcher.result(listing)


def _list(fetcher: Fetcher, source_base: Path) -> Listing:
    listing = Listing()
    if not source_base.is_dir():
        return listing
    night = fetcher.night
    try:
        entries = [p for p in source_base.iterdir() if p.name.startswith(night)]
        for entry in sorted(entries):
            if entry.name == night and entry.is_dir():
                listing.found = True
                for path in sorted(entry.iterdir()):
                    if path.is_file():
                        _add(fetcher, listing, f"{night}/{path.name}", path)
            elif entry.is_file():
                _add(fetcher, listing, entry.name, entry)
    except OSError as exc:
        raise fetcher.error(f"cannot read {source_base}: {exc}") from exc
    return listing


def _add(fetcher: Fetcher, listing: Listing, rel: str, path: Path) -> None:
    before = len(listing.files)
    classify(fetcher, listing, rel, path.stat().st_size, path)
    if len(listing.files) > before:  # a file of the export: its digest decides whether to copy it again
        rf = listing.files[-1]
        final = fetcher.local_path(rf)
        if final.is_file() and final.stat().st_size == rf.size:
            rf.sha256 = file_digests(path)[0]
