"""The raw tables' BRIN index on _load_id is summarised as soon as a load lands, so that the queries of the same
night (the safety check, the marts, the staging tests) read only the block ranges of the loads they name.
A range left unsummarised is read by every such query, whatever load it asks for."""

from __future__ import annotations

from datetime import date

import psycopg2

from sis_sync.ingestion.load import ingest_export
from sis_sync.sample import write_export

BRIN_RANGE_BYTES = 128 * 8192  # pages_per_range (the default) x the page size


def test_landing_leaves_no_block_range_unsummarised(fresh_db, tmp_path):
    drop = tmp_path / "drop"
    night = date(2026, 3, 16)
    write_export(drop, district_id="sample", export_date=night, students=3000)
    result = ingest_export(fresh_db, drop, "sample", night, tmp_path / "pipelines")
    assert result.loaded > 0 and result.rejected == 0
    with psycopg2.connect(fresh_db.dsn) as conn, conn.cursor() as cur:
        cur.execute("select pg_relation_size('raw_sis.attendance')")
        assert cur.fetchone()[0] > 2 * BRIN_RANGE_BYTES, "the sample must fill more than one block range"
        for table in ("attendance", "enrollments", "contacts", "students"):
            cur.execute("select brin_summarize_new_values(%s::regclass)", (f"raw_sis.{table}__load_id_idx",))
            assert cur.fetchone()[0] == 0, f"raw_sis.{table}: ranges left unsummarised by the landing"
