"""The nightly job in Dagster (the optional extra ``sis-sync[dagster]``): the ingest of every district as an
asset, the dbt project as dbt assets downstream of it (dagster-dbt), a job and a nightly schedule.

    pip install -e '.[dagster]'
    dbt parse --project-dir . --profiles-dir .          # the manifest the dbt assets are read from
    dagster dev -m sis_sync.orchestration.dagster_defs

Each run takes the night in its config (``run_date``, default today) and, optionally, a drop folder instead
of ``districts.yml``. The warehouse comes from the PG* variables, as for ``sis-sync``. Holds, rejections and
missed nights are in the run's metadata and in ``marts.sync_history``; the season logic, the safety
thresholds and the build are the same as ``sis-sync nightly``'s.
"""

import contextlib
import datetime as dt
import json
import os
import sys
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    Definitions,
    Failure,
    MaterializeResult,
    ScheduleDefinition,
    define_asset_job,
    multi_asset,
)
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from sis_sync import PROJECT_ROOT, db

RAW_NIGHT = "sis_raw_night"  # the ingest: one step that lands every raw table the dbt sources read
DBT_PROJECT = DbtProject(project_dir=PROJECT_ROOT, profiles_dir=PROJECT_ROOT,
                         target_path=Path(os.environ.get("DBT_TARGET_PATH") or PROJECT_ROOT / "target"))


DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))  # the dbt installed beside sis-sync


class NightConfig(Config):
    run_date: str = ""  # YYYY-MM-DD; empty: today
    drop: str = ""  # a drop folder of <district_id>/<date>/ exports instead of districts.yml

    def night(self) -> dt.date:
        return dt.date.fromisoformat(self.run_date) if self.run_date else dt.date.today()


def _raw_tables() -> list[AssetSpec]:
    """The dbt sources (raw_sis tables): what the ingest step writes, keyed as dagster-dbt keys sources."""
    manifest = json.loads(Path(DBT_PROJECT.manifest_path).read_text())
    return [AssetSpec(key=AssetKey([source["source_name"], source["name"]]), group_name="raw_sis",
                      description=source.get("description") or None)
            for source in manifest["sources"].values()]


@multi_asset(name=RAW_NIGHT, specs=_raw_tables(), can_subset=False,
             description="Every district's export of the night, validated and landed in raw_sis as versions.")
def sis_raw_night(context: AssetExecutionContext, config: NightConfig):
    from sis_sync.nightly import ingest_districts

    settings = db.resolve()
    drop = Path(config.drop) if config.drop else None
    config_path = None if drop else PROJECT_ROOT / "districts.yml"
    with db.one_run_at_a_time(settings, "dagster ingest"):
        nights = ingest_districts(settings, config_path, drop, config.night(), ())
    failed = [n.district_id for n in nights if n.failed]
    if failed:
        raise RuntimeError(f"the ingest failed for district(s) {', '.join(failed)}")
    summary = {
        "night": config.night().isoformat(),
        "districts": len(nights),
        "files loaded": sum(n.loaded for n in nights),
        "records added": sum(n.added for n in nights),
        "records changed": sum(n.changed for n in nights),
        "records retired": sum(n.retired for n in nights),
        "problems": "; ".join(p for n in nights for p in n.problems) or "none",
    }
    for spec in context.assets_def.specs:
        yield MaterializeResult(asset_key=spec.key, metadata=summary)


@dbt_assets(manifest=DBT_PROJECT.manifest_path)
def sis_marts(context: AssetExecutionContext, dbt: DbtCliResource, config: NightConfig):
    """`dbt build` for the night: models, seeds and data tests (unit tests are the suite's). A night before the one
    the marts already show fails the step and builds nothing (sis_sync.builds)."""
    from sis_sync import builds
    from sis_sync.nightly import prepare_warehouse

    settings = db.resolve()
    prepare_warehouse(settings)  # the step may run alone: the raw layer (and its record of builds) first
    with contextlib.closing(db.connect(settings)) as conn:
        why = builds.start_build(conn, config.night())
    if why is not None:
        raise Failure(description=why)
    night = json.dumps({"run_date": config.night().isoformat()})
    args = ["build", "--exclude-resource-type", "unit_test", "--vars", night]
    yield from dbt.cli(args, context=context).stream()


nightly_job = define_asset_job("sis_sync_nightly", selection=[sis_raw_night, sis_marts],
                               description="The nightly sync: ingest every district, then build the marts.")

defs = Definitions(
    assets=[sis_raw_night, sis_marts],
    jobs=[nightly_job],
    # every night at 02:30 for that day's exports (the config's default run date: today)
    schedules=[ScheduleDefinition(job=nightly_job, cron_schedule="30 2 * * *", name="sis_sync_nightly_at_0230")],
    resources={"dbt": DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=DBT_EXECUTABLE)},
)
