"""What every delivery method shares: the result, the error, a night's listing, and atomic local writes."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sis_sync.config import is_plain_id, is_secret_key
from sis_sync.ingestion.spec import IN_PROGRESS_SUFFIXES, MANIFEST

DOWNLOAD_SUFFIX = ".download"
CHUNK = 1 << 20

# The ``*_env`` key to name instead of a secret key that has a different one.
SECRET_KEYS = {
    "password": "password_env", "passphrase": "key_passphrase_env", "key_passphrase": "key_passphrase_env",
    "private_key": "key_file_env", "key": "key_file_env", "secret": "secret_access_key_env",
    "token": "session_token_env", "access_key_id": "access_key_id_env",
    "aws_access_key_id": "access_key_id_env",
    "secret_access_key": "secret_access_key_env", "aws_secret_access_key": "secret_access_key_env",
    "session_token": "session_token_env", "aws_session_token": "session_token_env",
}


class DeliveryError(RuntimeError):
    """A district's export could not be fetched. The message names the district."""

    def __init__(self, district_id: str, message: str):
        super().__init__(f"district {district_id}: {message}")
        self.district_id = district_id


@dataclass
class FetchResult:
    """What :func:`sis_sync.ingestion.delivery.fetch_export` did."""

    district_id: str
    export_date: date
    drop_root: Path  # the local root to ingest from: drop_root/<district_id>/<YYYY-MM-DD>[/ | .zip]
    path: Path | None  # the local export (the folder, else the zip), or None when there is no export
    source: str = ""  # where it came from, for messages (never holds a secret)
    files: list[str] = field(default_factory=list)  # the export's files now in place locally (see below)
    downloaded: list[str] = field(default_factory=list)  # those written this time (new or changed)
    unchanged: list[str] = field(default_factory=list)  # those already present with the same bytes
    skipped_in_progress: list[str] = field(default_factory=list)  # *.part / *.tmp, never fetched
    remote_found: bool = False  # the delivery had something for the date (maybe only files in progress)
    message: str = ""
    # Names are relative to the district's folder: "2026-03-02/students.csv", "2026-03-02.zip".

    @property
    def in_progress(self) -> bool:
        """Some files of the night are still being uploaded."""
        return bool(self.skipped_in_progress)


@dataclass
class RemoteFile:
    """One file of a night's export as the delivery lists it."""

    rel: str  # relative to the district's folder: "<date>/<name>" or "<date>.zip"
    size: int
    ref: Any  # the method's handle: a Path, a remote path, an S3 key
    md5: str | None = None  # the content's MD5 when the delivery tells it cheaply (an S3 single-part ETag)
    sha256: str | None = None  # the content's sha256 when known without downloading (the folder method)


@dataclass
class Listing:
    """A night's export as found in the delivery."""

    found: bool = False  # the night's folder or zip (or an in-progress zip) exists
    files: list[RemoteFile] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # symbolic links in the district's folder: never followed


def is_in_progress(name: str) -> bool:
    lowered = name.lower()
    return lowered.endswith(IN_PROGRESS_SUFFIXES) or lowered.endswith(DOWNLOAD_SUFFIX)


def safe_name(name: str) -> bool:
    """A plain file name that cannot escape its folder."""
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\\x00")


def check_district_id(district_id: str) -> None:
    if not is_plain_id(district_id):
        raise DeliveryError(district_id, "the district id must be a plain folder name (letters, digits, ._-)")


def refuse_inline_secrets(district_id: str, delivery: dict) -> None:
    """A delivery built in code gets the districts file's rule (:func:`sis_sync.config.is_secret_key`), with
    the ``*_env`` key to use instead."""
    for key in delivery:
        if is_secret_key(key):
            instead = SECRET_KEYS.get(str(key).lower(), f"{key}_env")
            raise DeliveryError(
                district_id,
                f"delivery.{key} is set in the districts file: credentials never go there; put the value "
                f"in an environment variable and name that variable with delivery.{instead}",
            )


def env_value(district_id: str, delivery: dict, key: str, *, required: bool = False) -> str | None:
    """The value of the environment variable that ``delivery[key]`` names (``key`` ends in ``_env``)."""
    var = delivery.get(key)
    if not var:
        if required:
            raise DeliveryError(district_id, f"delivery.{key} is missing: name the environment variable")
        return None
    value = os.environ.get(str(var))
    if not value:
        raise DeliveryError(district_id, f"environment variable {var} (delivery.{key}) is not set")
    return value


def resolve_path(config_dir: Path, value: str | os.PathLike) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(config_dir) / path


def file_digests(path: Path) -> tuple[str, str]:
    """(sha256, md5) of a local file's bytes."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def sha256_of(path: Path) -> str:
    return file_digests(path)[0]


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a rename into it) durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


class Fetcher:
    """Copies the files of a :class:`Listing` into ``dest_root/<district_id>/`` atomically.

    A method lists the night, then for each file in :meth:`to_fetch` writes the bytes to :meth:`temp_path`
    and calls :meth:`commit`; finally :meth:`result` cleans leftovers and reports.
    """

    def __init__(self, district_id: str, export_date: date, dest_root: Path, source: str):
        check_district_id(district_id)
        self.district_id = district_id
        self.export_date = export_date
        self.dest_root = Path(dest_root)
        self.source = source
        self.base = self.dest_root / district_id
        self.night = export_date.isoformat()
        self.downloaded: list[str] = []
        self.unchanged: list[str] = []

    def error(self, message: str) -> DeliveryError:
        return DeliveryError(self.district_id, message)

    def local_path(self, rf: RemoteFile) -> Path:
        parts = rf.rel.split("/")
        if not all(safe_name(p) for p in parts) or len(parts) > 2:
            raise self.error(f"refusing the unsafe file name {rf.rel!r} from {self.source}")
        return self.base.joinpath(*parts)

    def temp_path(self, rf: RemoteFile) -> Path:
        final = self.local_path(rf)
        final.parent.mkdir(parents=True, exist_ok=True)
        return final.with_name(final.name + DOWNLOAD_SUFFIX)

    def to_fetch(self, listing: Listing) -> Iterable[RemoteFile]:
        """The files still to download (the manifest last); those already in place are recorded unchanged."""
        ordered = sorted(listing.files, key=lambda f: (f.rel.rsplit("/", 1)[-1].lower() == MANIFEST, f.rel))
        for rf in ordered:
            if self._is_current(rf):
                self.unchanged.append(rf.rel)
            else:
                yield rf

    def _is_current(self, rf: RemoteFile) -> bool:
        final = self.local_path(rf)
        if not final.is_file() or final.stat().st_size != rf.size:
            return False
        if rf.sha256 is None and rf.md5 is None:
            return False  # nothing to compare without downloading: fetch it and compare after
        sha, md5 = file_digests(final)
        return sha == rf.sha256 if rf.sha256 is not None else md5 == rf.md5

    def commit(self, rf: RemoteFile, temp: Path) -> None:
        """Put a complete download in place (rename over the real name), unless the same bytes are there."""
        final = self.local_path(rf)
        size = temp.stat().st_size
        if size != rf.size:
            raise self.error(
                f"{rf.rel} changed during the download from {self.source} (listed {rf.size} bytes, "
                f"got {size}); try again later")
        with open(temp, "rb+") as fh:
            os.fsync(fh.fileno())
        if final.is_file() and final.stat().st_size == size and sha256_of(final) == sha256_of(temp):
            temp.unlink()
            self.unchanged.append(rf.rel)
            return
        os.replace(temp, final)
        fsync_dir(final.parent)
        self.downloaded.append(rf.rel)

    def result(self, listing: Listing, *, cleanup: bool = True) -> FetchResult:
        """Remove leftover temporary files (from an interrupted earlier fetch) and describe the outcome."""
        folder = self.base / self.night
        archive = self.base / f"{self.night}.zip"
        if cleanup:
            zip_leftover = archive.with_name(archive.name + DOWNLOAD_SUFFIX)
            for leftover in [*folder.glob(f"*{DOWNLOAD_SUFFIX}"), zip_leftover]:
                if leftover.is_file():
                    leftover.unlink()
        files = sorted({*self.downloaded, *self.unchanged})
        has_folder = folder.is_dir() and any(p.is_file() for p in folder.iterdir())
        path = folder if has_folder else archive if archive.is_file() else None

        where = f"{self.district_id}'s export of {self.night} from {self.source}"
        if listing.files:
            message = (f"fetched {where}: {len(files)} file(s), {len(self.downloaded)} new or changed, "
                       f"{len(self.unchanged)} unchanged")
        elif path is not None:
            message = (f"{self.source} has no complete file of {self.district_id}'s export of {self.night}; "
                       f"using the copy fetched earlier at {path}")
        elif listing.found:
            message = f"{where}: nothing complete yet"
        else:
            message = f"no export of {self.night} for {self.district_id} at {self.source}"
        if listing.in_progress:
            message += (f"; {len(listing.in_progress)} file(s) still uploading, not fetched: "
                        f"{', '.join(sorted(listing.in_progress))}")
        if listing.links:
            message += (f"; {len(listing.links)} symbolic link(s) not followed (only the district's own files are"
                        f" read): {', '.join(sorted(listing.links))}")
        return FetchResult(
            district_id=self.district_id, export_date=self.export_date, drop_root=self.dest_root, path=path,
            source=self.source, files=files, downloaded=sorted(self.downloaded),
            unchanged=sorted(self.unchanged), skipped_in_progress=sorted(listing.in_progress),
            remote_found=listing.found, message=message,
        )


def classify(fetcher: Fetcher, listing: Listing, rel: str, size: int, ref: Any, **extra: Any) -> None:
    """Add one entry found under the district's folder to ``listing`` (a folder file or the zip)."""
    night = fetcher.night
    if rel == f"{night}.zip":
        listing.found = True
        listing.files.append(RemoteFile(rel, size, ref, **extra))
    elif rel.startswith(f"{night}.zip") and is_in_progress(rel):
        listing.found = True
        listing.in_progress.append(rel)
    elif rel.startswith(f"{night}/"):
        listing.found = True
        name = rel[len(night) + 1:]
        if not safe_name(name):  # a sub-folder's file (or a folder marker): not part of the export
            return
        if is_in_progress(name):
            listing.in_progress.append(rel)
        else:
            listing.files.append(RemoteFile(rel, size, ref, **extra))
