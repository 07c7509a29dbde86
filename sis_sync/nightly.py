"""The nightly job's steps: ingest every district's export for a date, then `dbt build` with run_date = that
date, then the summary. One bad district never stops the others. The commands that run them, and their exit
codes, are in :mod:`sis_sync.commands`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

from sis_sync import PROJECT_ROOT, db
from sis_sync.config import ConfigError, District, drop_root_for, is_plain_id, load_districts
from sis_sync.project import mart_names
from sis_sync.redact import redact
from sis_sync.spark import SPARK_TARGETS

MART_TABLES = mart_names()


@dataclass
class DistrictNight:
    district_id: str
    loaded: int = 0
    unchanged: int = 0
    rejected: int = 0
    held: int = 0
    added: int = 0  # records the night's files added, changed and retired (ingestion/versions.py)
    changed: int = 0
    retired: int = 0
    problems: list[str] = field(default_factory=list)
    failed: bool = False  # the delivery or the ingest failed (not a problem of the data)
    refused: bool = False  # its entry in districts.yml (or its drop folder) cannot be used: not synced
    seconds: dict[str, float] = field(default_factory=dict)  # where its ingest's time went (IngestResult.seconds)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.rejected and not self.held and not self.failed and not self.refused


@dataclass
class BuildOutcome:
    ok: bool
    passed: int = 0
    failed: int = 0
    warned: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # each warned test, with what it means
    seconds: float = 0.0
    skipped: str | None = None  # why nothing was built (the build would have rolled the marts back)


# What a warning of the build means, for the summary (the tests' own files say how to fix it).
WARNING_MEANINGS = {
    "districts_without_a_calendar": "expected for a district with no row in seeds/seasons.csv: it is always"
                                    " in session (tests/integrity/districts_without_a_calendar.sql)",
    "districts_late_by_their_calendar": "a district's calendar expected files tonight that did not arrive:"
                                        " see `sis-sync status` (tests/integrity/districts_late_by_their_calendar.sql)",
    "seasons": "a row of seeds/seasons.csv is invalid: its district does not sync until it is mended"
               " (int_calendar_conflicts says how; sis-sync status)",
}


def _step(message: str) -> None:
    click.echo(f"[{dt.datetime.now():%H:%M:%S}] {message}", err=True)


def _districts(config_path: Path | None, drop_root: Path | None, only: tuple[str, ...]) -> list[District]:
    districts = load_districts(config_path, drop_root)
    if only:
        known = {d.id for d in districts}
        unknown = [d for d in only if d not in known]
        if unknown:
            raise ConfigError(f"unknown district(s): {', '.join(unknown)}")
        districts = [d for d in districts if d.id in only]
    return districts


def ingest_districts(settings: db.PgSettings, config_path: Path | None, drop_root: Path | None,
                     run_date: dt.date, only: tuple[str, ...]) -> list[DistrictNight]:
    """Fetch every district's export, then ingest them together (:func:`sis_sync.ingestion.load.ingest_exports`:
    one landing per batch of districts); each district's attempt is recorded, whatever happened to the others."""
    from sis_sync.ingestion import safety
    from sis_sync.ingestion.ledger import record_attempt
    from sis_sync.ingestion.load import ingest_exports

    prepare_warehouse(settings)
    districts = _districts(config_path, drop_root, only)
    with db.connect(settings) as conn:
        safety.record_districts(conn, [d for d in districts if not d.refused])
    nights = [DistrictNight(district.id) for district in districts]
    attempts: dict[str, tuple[str, str | None]] = {}
    exports, fetched = [], []
    for district, night in zip(districts, nights, strict=True):
        if district.refused:  # one district's configuration never stops the others
            night.problems.append(f"refused: {district.refused}")
            night.refused = True
            _step(f"{district.id}: refused: {district.refused}")
            if is_plain_id(district.id):  # else not a name the warehouse may record
                attempts[district.id] = "failed", f"refused: {district.refused}"
            continue
        _step(f"{district.id}: fetching the export of {run_date}")
        try:
            exports.append(_export_to_ingest(district, config_path, drop_root, run_date))
            fetched.append((district, night))
        except Exception as exc:  # one district's failure never stops the others
            attempts[district.id] = _district_failed(district, night, f"delivery failed: {redact(exc)}")
    if exports:
        _step(f"ingesting {len(exports)} district(s)")
    for (district, night), outcome in zip(fetched, ingest_exports(settings, exports), strict=True):
        if isinstance(outcome, Exception):
            attempts[district.id] = _district_failed(district, night, f"ingest failed: {redact(outcome)}")
        else:
            attempts[district.id] = _ingested(district, night, outcome, run_date)
    with db.connect(settings) as conn:
        for district in districts:
            if district.id in attempts:
                record_attempt(conn, district.id, run_date, *attempts[district.id])
    return nights


def _export_to_ingest(district: District, config_path: Path | None, drop_root: Path | None, run_date: dt.date):
    """Fetch the district's export (SFTP, S3; a folder is read where it is): what to ingest."""
    from sis_sync.ingestion.load import ExportToIngest

    root = _fetch(district, config_path, drop_root, run_date)
    # a fetched copy (SFTP, S3) is complete when it is in place (the download checked its size): no wait
    fetched = drop_root is None and district.delivery.get("method", "folder") != "folder"
    return ExportToIngest(root, district.id, run_date, time_zone=district.time_zone, settle=0 if fetched else None,
                          export_format=district.export_format)


def _ingested(district: District, night: DistrictNight, result, run_date: dt.date) -> tuple[str, str | None]:
    """Fill ``night`` from the district's ingest; (the attempt's outcome, its message)."""
    outcome, message = "delivered", None
    if result.incomplete:
        refused = result.incomplete.startswith("refused: ")
        message = result.incomplete if refused else f"export incomplete: {result.incomplete}"
        night.problems.append(message)
        outcome = "incomplete"
    elif result.missing:
        message = f"no export for {run_date}"
        night.problems.append(message)
        outcome = "missing"
    night.loaded, night.unchanged, night.rejected = result.loaded, result.unchanged, result.rejected
    night.seconds = dict(result.seconds)
    night.added = sum(row.added_count or 0 for row in result.rows)
    night.changed = sum(row.changed_count or 0 for row in result.rows)
    night.retired = sum(row.retired_count or 0 for row in result.rows)
    for row in result.rows:
        if row.status == "rejected":
            night.problems.append(row.message)
    _step(f"{district.id}: {night.loaded} loaded, {night.unchanged} unchanged, {night.rejected} rejected"
          f" in {sum(night.seconds.values()):.1f}s; records {night.added} added, {night.changed} changed,"
          f" {night.retired} retired")
    return outcome, message


def read_holds(settings: db.PgSettings, nights: list[DistrictNight], run_date: dt.date,
               target: str | None = None) -> None:
    """Add to each district's night the files the build held (the safety thresholds are dbt's), as the build
    on the target found them."""
    from sis_sync.ingestion import safety
    from sis_sync.marts import marts_of

    with marts_of(settings, target) as marts:
        for night in nights:
            held = safety.held_files(marts, night.district_id, run_date)
            night.held = len(held)
            night.problems += [f"{file_name} {message}" for file_name, message in held]
            calendar = safety.calendar_problem(marts, night.district_id)
            if calendar:  # the district alone stops syncing: a person mends seeds/seasons.csv
                night.problems.append(calendar)


def prepare_warehouse(settings: db.PgSettings) -> None:
    """Create what the raw layer lacks (:mod:`sis_sync.ingestion.raw_layer`: nothing when it is whole), so dbt's
    sources exist. A raw layer of full copies (before versions) is refused: `sis-sync upgrade` converts it."""
    from sis_sync.ingestion.raw_layer import ensure_raw_layer
    from sis_sync.replay import needs_upgrade

    with contextlib.closing(db.connect(settings)) as conn:
        if needs_upgrade(conn):
            raise ConfigError("the raw layer holds a full copy of every night (it predates versions): run"
                              " `sis-sync upgrade` first (see the README, \"Upgrading a warehouse\")")
        ensure_raw_layer(conn)


def _district_failed(district: District, night: DistrictNight, message: str) -> tuple[str, str]:
    """A district's night that failed (the others go on): the message contains no secret and no row value."""
    night.problems.append(message)
    night.failed = True
    _step(f"{district.id}: {message}")
    return "failed", message


def _fetch(district: District, config_path: Path | None, drop_root: Path | None, run_date: dt.date) -> Path:
    """The local drop folder to ingest the district's night from, fetching it first for SFTP and S3."""
    if drop_root is not None:
        return drop_root
    if district.delivery.get("method", "folder") == "folder":
        return drop_root_for(district, config_path)
    from sis_sync.ingestion.delivery import DEFAULT_DEST_ROOT, fetch_export

    config_dir = (config_path or PROJECT_ROOT / "districts.yml").parent
    fetched = fetch_export(district, run_date, DEFAULT_DEST_ROOT, config_dir)
    _step(f"{district.id}: {fetched.message}")
    return fetched.drop_root


# Settings of dbt's Postgres sessions (PGOPTIONS, read by libpq), unless PGOPTIONS already sets them: no JIT
# compilation (it cost more than it saved) and 64 MB for a sort or hash before it spills; parallel workers stay
# on. The figures: bench/README.md, "What changed" (14) and "No parallel workers in dbt's sessions".
DBT_SESSION_SETTINGS = {"jit": "off", "work_mem": "64MB"}


@contextlib.contextmanager
def _session_settings():
    """PGOPTIONS with DBT_SESSION_SETTINGS added for the duration of the block (dbt's build), then as it was."""
    before = os.environ.get("PGOPTIONS")
    options = before or ""
    for name, value in DBT_SESSION_SETTINGS.items():
        if not re.search(rf"(^|\s)(-c\s*|--){name}=", options):
            options = f"{options} -c {name}={value}".strip()
    os.environ["PGOPTIONS"] = options
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PGOPTIONS", None)
        else:
            os.environ["PGOPTIONS"] = before


def dbt_build(run_date: dt.date, full_refresh: bool = False, select: tuple[str, ...] = (),
              unit_tests: bool = False, target: str | None = None, data_tests: bool = True) -> BuildOutcome:
    """`dbt build --vars '{run_date: D}'` in this process, against the warehouse in the environment (``target``:
    a target of profiles.yml other than the default, the Postgres warehouse; without ``data_tests``, the seeds
    and models alone).

    The nightly job leaves dbt's unit tests out (they test the SQL, not the night's data; `make test` and a
    hand-run `dbt build` run them).
    """
    from dbt.cli.main import dbtRunner

    # The run date goes in as SIS_SYNC_RUN_DATE, which macros/run_date.sql reads like the `run_date` var:
    # a changed var makes dbt parse the whole project again (3-4 s), a changed environment variable not.
    os.environ["SIS_SYNC_RUN_DATE"] = run_date.isoformat()
    args = ["build", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT)]
    if target:
        args += ["--target", target]
    excluded = ([] if unit_tests else ["unit_test"]) + ([] if data_tests else ["test"])
    if excluded:
        args += ["--exclude-resource-type", *excluded]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", *select]
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    started = time.monotonic()
    _step(f"dbt build for run date {run_date}{' (full refresh)' if full_refresh else ''}"
          f"{f' on {target}' if target else ''}")
    with _session_settings():
        res = dbtRunner().invoke(args)
    outcome = BuildOutcome(ok=bool(res.success), seconds=time.monotonic() - started)
    if res.exception is not None:
        outcome.errors.append(str(res.exception))
    for r in getattr(res.result, "results", None) or []:
        status = str(r.status)
        if status in ("pass", "success"):
            outcome.passed += 1
        elif status == "warn":
            outcome.warned += 1
            outcome.warnings.append(f"{r.node.name}: {r.message}; {WARNING_MEANINGS.get(r.node.name, '')}".rstrip("; "))
        elif status in ("fail", "error"):
            outcome.failed += 1
            outcome.errors.append(f"{r.node.name}: {r.message}")
    return outcome


def build_marts(settings: db.PgSettings, run_date: dt.date, *, full_refresh: bool = False,
                roll_back: bool = False, target: str | None = None) -> BuildOutcome:
    """The marts built for ``run_date`` (:func:`dbt_build`), unless a build for a later night has already run:
    then nothing is built, and the outcome says why (``roll_back``: build them as of ``run_date`` all the
    same, as a full refresh). Every build is recorded (:mod:`sis_sync.builds`). On the ``spark`` target the
    raw layer is written to the lake first (:mod:`sis_sync.lake`), and the marts are built there."""
    from sis_sync import builds

    full_refresh = full_refresh or roll_back
    with contextlib.closing(db.connect(settings)) as conn:
        why = builds.start_build(conn, run_date, full_refresh=full_refresh, roll_back=roll_back)
    if why is not None:
        _step(f"dbt build: skipped: {why}")
        return BuildOutcome(ok=True, skipped=why)
    if target in SPARK_TARGETS:
        from sis_sync import lake, spark

        spark.absolute_spark_dir()  # profiles.yml's folders, from any working directory
        with contextlib.closing(db.connect(settings)) as conn:
            written = lake.publish(conn)
        _step(f"raw layer written to the lake {lake.lake_dir()}: {sum(written.values())} rows")
    return dbt_build(run_date, full_refresh=full_refresh, target=target)


def mart_counts(settings: db.PgSettings, target: str | None = None) -> dict[str, dict[str, int]]:
    """Rows per mart per district (on the ``spark`` target: in this process's Spark session; on ``spark_thrift``:
    through the Thrift server)."""
    counts: dict[str, dict[str, int]] = {}
    if target in SPARK_TARGETS:
        from sis_sync import spark

        built = spark.table_names("marts", target)
        for table in MART_TABLES:
            if table not in built:
                continue
            for district_id, n in spark.rows(f"select district_id, count(*) from marts.{table}"
                                             " group by district_id", target):
                counts.setdefault(district_id, {})[table] = n
        return counts
    with db.connect(settings) as conn, conn.cursor() as cur:
        for table in MART_TABLES:
            cur.execute("select to_regclass(%s)", (f"marts.{table}",))
            if cur.fetchone()[0] is None:
                continue
            cur.execute(f"select district_id, count(*) from marts.{table} group by district_id")
            for district_id, n in cur.fetchall():
                counts.setdefault(district_id, {})[table] = n
    return counts


def print_summary(nights: list[DistrictNight], build: BuildOutcome | None,
                  counts: dict[str, dict[str, int]]) -> None:
    click.echo("")
    click.echo(f"{'district':<16}{'loaded':>8}{'unchanged':>11}{'rejected':>10}{'held':>6}"
               f"{'added':>9}{'changed':>9}{'retired':>9}  status")
    for n in nights:
        status = ("ok" if n.ok else "REFUSED" if n.refused
                  else "HELD" if n.held and n.held == len(n.problems) else "FAILED")
        click.echo(f"{n.district_id:<16}{n.loaded:>8}{n.unchanged:>11}{n.rejected:>10}{n.held:>6}"
                   f"{n.added:>9}{n.changed:>9}{n.retired:>9}  {status}")
        for problem in n.problems:
            click.echo(f"    - {problem}")
    if build is not None and build.skipped:
        click.echo("")
        click.echo(f"dbt build: skipped: {build.skipped}")
    elif build is not None:
        click.echo("")
        verdict = "ok" if build.ok else "FAILED"
        click.echo(f"dbt build: {verdict} in {build.seconds:.0f}s, {build.passed} passed, "
                   f"{build.failed} failed, {build.warned} warned")
        for error in build.errors[:20]:
            click.echo(f"    - {error}")
        for warning in build.warnings:
            click.echo(f"    - warning: {warning}")
    for district_id, tables in sorted(counts.items()):
        click.echo("")
        click.echo(f"rows in marts for {district_id}:")
        width = max(map(len, MART_TABLES)) + 2
        for table in MART_TABLES:
            if table in tables:
                click.echo(f"    {table:<{width}}{tables[table]:>10}")
