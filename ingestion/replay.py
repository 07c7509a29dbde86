"""Rebuild a warehouse's raw history from the archive of delivered files (``sis-sync restore``).

Every archived delivery is ingested again, night by night and, within a night, in the order it was
delivered (a corrected file after the one it corrects), each through the same ingest as the nightly job, and
each night's safety check runs after it. So the ledger and the versions come out as the nightly runs made
them, and a ``dbt build --full-refresh`` then gives the same marts. Approvals of held nights are decisions,
not deliveries: they are not in the archive and are given again with ``sis-sync approve``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingestion import archive
from ingestion.db import PgSettings


@dataclass
class Replayed:
    district_id: str
    nights: int = 0
    deliveries: int = 0
    held: int = 0


def restore(settings: PgSettings, archive_root: Path, districts: tuple[str, ...] = (),
            thresholds: Callable[[str], dict | None] = lambda _district: None,
            say: Callable[[str], None] = print) -> list[Replayed]:
    """Ingest every archived delivery of each district (all, or ``districts``) into the warehouse."""
    from ingestion import db, safety
    from ingestion.load import ingest_export

    found = archive.district_ids(archive_root)
    unknown = [d for d in districts if d not in found]
    if unknown:
        raise ValueError(f"no archived deliveries for district(s) {', '.join(unknown)} in {archive_root}")
    done = []
    for district_id in districts or found:
        replayed = Replayed(district_id)
        for night in archive.archived_nights(archive_root, district_id):
            for delivered in archive.archived_files(archive_root, district_id, night):
                with tempfile.TemporaryDirectory(prefix="sis-sync-restore-") as tmp:
                    folder = Path(tmp) / district_id / night.isoformat()
                    folder.mkdir(parents=True)
                    with archive.open_archived(delivered.path) as src, \
                            (folder / delivered.file_name).open("wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    ingest_export(settings, Path(tmp), district_id, night)
                replayed.deliveries += 1
            with db.connect(settings) as conn:
                replayed.held += len(safety.check_night(conn, district_id, night, thresholds(district_id)))
            replayed.nights += 1
            say(f"{district_id} {night}: restored")
        done.append(replayed)
    return done
