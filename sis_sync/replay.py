"""Rebuild a warehouse's raw history from the archive of delivered files (``sis-sync restore``).

Every archived delivery is ingested again, night by night and, within a night, in the order it was
delivered (a corrected file after the one it corrects), each through the same ingest as the nightly job. So
the ledger, the versions and the record of each load's changes come out as the nightly runs made them, and a
``dbt build --full-refresh`` then gives the same marts and holds. Approvals of held nights are decisions, not
deliveries: they are not in the archive and are given again with ``sis-sync approve``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sis_sync.db import PgSettings
from sis_sync.ingestion import archive
from sis_sync.ingestion.ledger import LEDGER_TABLE
from sis_sync.ingestion.spec import MANIFEST


@contextmanager
def _drop_folder(district_id: str, night) -> Iterator[Path]:
    """A temporary drop folder's ``<district_id>/<night>/``, to put the files ingested as that night's delivery
    in (its drop root is two levels up); removed afterwards (student data)."""
    with tempfile.TemporaryDirectory(prefix="sis-sync-replay-") as tmp:
        folder = Path(tmp) / district_id / night.isoformat()
        folder.mkdir(parents=True)
        yield folder


@dataclass
class Replayed:
    district_id: str
    nights: int = 0
    deliveries: int = 0


def restore(settings: PgSettings, archive_root: Path, districts: tuple[str, ...] = (),
            say: Callable[[str], None] = print) -> list[Replayed]:
    """Ingest every archived delivery of each district (all, or ``districts``) into the warehouse."""
    from sis_sync import db
    from sis_sync.ingestion.load import ingest_export
    from sis_sync.ingestion.raw_layer import ensure_raw_layer

    found = archive.district_ids(archive_root)
    unknown = [d for d in districts if d not in found]
    if unknown:
        raise ValueError(f"no archived deliveries for district(s) {', '.join(unknown)} in {archive_root}")
    with db.connect(settings) as conn, conn.cursor() as cur:
        ensure_raw_layer(conn)
        cur.execute(f"select distinct district_id from {LEDGER_TABLE} where district_id = any(%s)",
                    (list(districts or found),))
        present = sorted(d for (d,) in cur.fetchall())
    if present:
        raise ValueError(f"the warehouse already has loads of district(s) {', '.join(present)}: restore into an"
                         " empty warehouse")
    done = []
    for district_id in districts or found:
        replayed = Replayed(district_id)
        for night in archive.archived_nights(archive_root, district_id):
            files = archive.archived_files(archive_root, district_id, night)
            if any(f.file_name == MANIFEST and _is_oneroster(f) for f in files):
                # a OneRoster night is read as a whole (its school year is its files' together): its newest
                # delivery of each file, with its manifest
                with tempfile.TemporaryDirectory(prefix="sis-sync-restore-") as tmp:
                    archive.restore_night(archive_root, district_id, night, Path(tmp))
                    ingest_export(settings, Path(tmp), district_id, night)
                replayed.deliveries += len({f.file_name for f in files} - {MANIFEST})
                replayed.nights += 1
                say(f"{district_id} {night}: restored")
                continue
            for delivered in files:
                with _drop_folder(district_id, night) as folder:
                    with archive.open_archived(delivered.path) as src, \
                            (folder / delivered.file_name).open("wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    ingest_export(settings, folder.parent.parent, district_id, night)
                replayed.deliveries += 1
            replayed.nights += 1
            say(f"{district_id} {night}: restored")
        done.append(replayed)
    return done


def _is_oneroster(archived) -> bool:
    """Whether an archived manifest.csv is a OneRoster export's."""
    from sis_sync.ingestion import oneroster

    with archive.open_archived(archived.path) as src:
        return oneroster.is_oneroster_manifest(src.read(4096))


# --- upgrade: a raw layer of full copies per night, converted to versions ------------------------------------

OLD_SCHEMA = "raw_sis_snapshots"


def needs_upgrade(conn) -> bool:
    """Whether the raw layer is the one before versions: raw tables without the ``_change`` column."""
    with conn.cursor() as cur:
        cur.execute("select exists (select 1 from information_schema.tables where table_schema = 'raw_sis'"
                    " and table_name = 'students') and not exists (select 1 from information_schema.columns"
                    " where table_schema = 'raw_sis' and table_name = 'students' and column_name = '_change')")
        return bool(cur.fetchone()[0])


def upgrade(settings: PgSettings, say: Callable[[str], None] = print) -> list[Replayed]:
    """Convert a raw layer of full copies into versions.

    The old schema is kept, renamed ``raw_sis_snapshots``. For every district, night and file, in the order
    the ledger recorded them, the loaded rows of each night's delivery are written back as a CSV file and
    ingested into a new ``raw_sis`` (the ledger gets new load ids and the sha256 of those files), and the
    approvals of held nights are carried over.
    """
    from sis_sync import db
    from sis_sync.ingestion import safety
    from sis_sync.ingestion.load import ingest_export
    from sis_sync.ingestion.raw_layer import ensure_raw_layer
    from sis_sync.ingestion.spec import load_spec

    spec = load_spec()
    with db.connect(settings) as conn:
        if not needs_upgrade(conn):
            raise ValueError("the raw layer already holds versions: nothing to upgrade")
        with conn.cursor() as cur:
            cur.execute(f"alter schema raw_sis rename to {OLD_SCHEMA}")
        conn.commit()
        ensure_raw_layer(conn, spec)
        with conn.cursor() as cur:
            # each night's delivery of each file that counted (the newest loaded or unchanged one)
            cur.execute(f"""
                select distinct on (district_id, export_date, file_name) district_id, export_date, file_name, load_id
                from {OLD_SCHEMA}.load_ledger where status in ('loaded', 'unchanged')
                order by district_id, export_date, file_name, ledger_id desc""")
            deliveries = cur.fetchall()
            cur.execute(f"select to_regclass('{OLD_SCHEMA}.sync_holds') is not null")
            if cur.fetchone()[0]:
                cur.execute(f"""
                    insert into {safety.APPROVALS_TABLE} (district_id, export_date, file_name, approved_at)
                    select district_id, export_date, file_name, coalesce(approved_at, recorded_at)
                    from {OLD_SCHEMA}.sync_holds where status = 'approved'""")
        conn.commit()
        done: dict[str, Replayed] = {}
        nights: dict[tuple[str, object], list[tuple[str, str]]] = {}
        for district_id, night, file_name, load_id in deliveries:
            nights.setdefault((district_id, night), []).append((file_name, load_id))
        for (district_id, night), files in sorted(nights.items()):
            replayed = done.setdefault(district_id, Replayed(district_id))
            with _drop_folder(district_id, night) as folder:
                for file_name, load_id in files:
                    file_spec = spec.file(file_name)
                    columns = ", ".join(file_spec.column_names)
                    with (folder / file_name).open("wb") as out, conn.cursor() as cur:
                        cur.copy_expert(
                            cur.mogrify(f"copy (select {columns} from {OLD_SCHEMA}.{file_spec.name} where _load_id"
                                        " = %s order by _line_number) to stdout with (format csv, header true)",
                                        (load_id,)).decode(), out)
                    conn.commit()
                    replayed.deliveries += 1
                ingest_export(settings, folder.parent.parent, district_id, night)
            replayed.nights += 1
            say(f"{district_id} {night}: converted")
    return list(done.values())
