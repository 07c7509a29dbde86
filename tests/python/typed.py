"""The typed batches of a valid file, as the validator hands them out (``on_batch``) with the meta columns: what
the raw table should hold for it (every record ``added``)."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from sis_sync.ingestion.spec import FileSpec
from sis_sync.ingestion.validate import DEFAULT_BLOCK_SIZE, raw_batch, validate_file
from sis_sync.ingestion.validate.common import Opener


def typed_batches(spec: FileSpec, opener: Opener, *, district_id: str, export_date: date, load_id: str,
                  block_size: int = DEFAULT_BLOCK_SIZE) -> list[pa.RecordBatch]:
    """Validate the file and keep every batch (schema ``arrow_schema(spec)``)."""
    batches: list[pa.RecordBatch] = []

    def keep(columns: list[pa.Array], lines: pa.Array) -> None:
        batches.append(raw_batch(spec, columns, lines, district_id, export_date, load_id))

    validate_file(spec, opener, block_size=block_size, on_batch=keep)
    return batches
