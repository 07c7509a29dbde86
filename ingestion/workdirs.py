"""The ingest's working folders: dlt's (one per warehouse), the archive of delivered files, and a run's own
spill folder for the csv files its validation writes. Student data: readable by the owner only.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from sis_sync import PROJECT_ROOT
from sis_sync.db import PgSettings
from sis_sync.ingestion.landing import pipeline_name

log = logging.getLogger(__name__)

DEFAULT_PIPELINES_DIR = PROJECT_ROOT / ".sis-sync" / "pipelines"
DEFAULT_ARCHIVE_DIR = PROJECT_ROOT / ".sis-sync" / "archive"


def private_dir(path: Path, *, recursive: bool = True) -> None:
    """``path`` made, readable by the owner only (it and, ``recursive``, the folders it holds). A folder this
    process does not own (an archive the operator shares) is left as it is, with a warning."""
    path.mkdir(parents=True, exist_ok=True)
    folders = [path, *(p for p in path.rglob("*") if p.is_dir() and not p.is_symlink())] if recursive else [path]
    for folder in folders:
        if folder.stat().st_mode & 0o077:
            try:
                folder.chmod(0o700)
            except PermissionError:
                log.warning("%s is readable by others and not ours to change: it holds student data", folder)


def default_pipelines_dir(settings: PgSettings) -> Path:
    """dlt's working folder for a warehouse: one per database, so that runs against different warehouses (a
    test database, the real one) never share dlt state."""
    where = re.sub(r"[^0-9A-Za-z_.-]", "_", f"{settings.host}_{settings.port}_{settings.database}")
    return DEFAULT_PIPELINES_DIR / where


def default_archive_dir(settings: PgSettings) -> Path:
    """Where a warehouse keeps the delivered files: ``SIS_SYNC_ARCHIVE`` when set, else a folder per database
    beside dlt's (``.sis-sync/archive/<host>_<port>_<database>``)."""
    configured = os.environ.get("SIS_SYNC_ARCHIVE")
    if configured:
        return Path(configured)
    return DEFAULT_ARCHIVE_DIR / default_pipelines_dir(settings).name


def spill_dir(pipelines_dir: Path, district_id: str) -> Path:
    """A folder of this run's own for the csv files of validated files (student data: removed at the end of
    the run). Leftovers of crashed runs are removed once they are a day old. It is inside dlt's folder, on the
    same file system, so that dlt imports the files as hard links (no copy)."""
    root = pipelines_dir / "_spill"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        try:
            if time.time() - old.stat().st_mtime > 86400:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:
            pass
    return Path(tempfile.mkdtemp(prefix=pipeline_name(district_id) + "-", dir=root))
