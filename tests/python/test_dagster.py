"""The nightly job through Dagster (the optional extra): one night, ingest then the dbt assets."""

from __future__ import annotations

import datetime as dt
import importlib

from dbt.cli.main import dbtRunner

from sis_sync import PROJECT_ROOT
from sis_sync.sample import write_export

NIGHT = dt.date(2026, 3, 16)


def test_one_night_through_the_dagster_job(fresh_db, db_conn, tmp_path, monkeypatch):
    monkeypatch.setenv("DBT_WRITE_JSON", "true")  # dagster-dbt reads the manifest and the run results
    parsed = dbtRunner().invoke(["parse", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT)])
    assert parsed.success, "the manifest the dbt assets are read from"
    from dagster import RunConfig, materialize
    from dagster_dbt import DbtCliResource

    from sis_sync.orchestration import dagster_defs

    importlib.reload(dagster_defs)  # read the manifest just parsed
    drop = tmp_path / "drop"
    write_export(drop, district_id="dg", export_date=NIGHT, students=60)
    night = dagster_defs.NightConfig(run_date=NIGHT.isoformat(), drop=str(drop))
    result = materialize(
        [dagster_defs.sis_raw_night, dagster_defs.sis_marts],
        resources={"dbt": DbtCliResource(project_dir=dagster_defs.DBT_PROJECT,
                                         dbt_executable=dagster_defs.DBT_EXECUTABLE)},
        run_config=RunConfig(ops={"sis_raw_night": night, "sis_marts": night}),
    )
    assert result.success
    ingested = result.asset_materializations_for_node("sis_raw_night")
    assert {m.asset_key.path[-1] for m in ingested} >= {"students", "contacts", "load_ledger"}
    with db_conn.cursor() as cur:
        cur.execute("select count(*) from raw_sis.load_ledger where district_id = 'dg' and status = 'loaded'")
        loaded = cur.fetchone()[0]
    assert ingested[0].metadata["files loaded"].value == loaded >= 8
    built = {m.asset_key.path[-1] for m in result.asset_materializations_for_node("sis_marts")}
    assert {"student_overview", "sync_history", "fct_student_teachers_history"} <= built
    with db_conn.cursor() as cur:
        cur.execute("select sync_status, count(*) from marts.sync_history where district_id = 'dg' group by 1")
        assert dict(cur.fetchall()) == {"loaded": loaded}
        cur.execute("select count(*) from marts.dim_students where district_id = 'dg'")
        assert cur.fetchone()[0] > 0
