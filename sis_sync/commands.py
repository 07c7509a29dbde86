"""The command handlers behind ``sis-sync``'s subcommands (sis_sync/cli.py): each runs one command and returns
the exit code a scheduler acts on; failures become one clear line (the traceback too with --verbose).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import shutil
import textwrap
import traceback
from pathlib import Path

import click
import psycopg2

from sis_sync import db
from sis_sync.config import ConfigError, load_districts
from sis_sync.nightly import (
    BuildOutcome,
    DistrictNight,
    _step,
    build_marts,
    ingest_districts,
    mart_counts,
    prepare_warehouse,
    print_summary,
    read_holds,
)
from sis_sync.redact import redact
from sis_sync.spark import SPARK_TARGETS, SparkUnreachable

# Exit codes (a contract with schedulers: see `sis-sync -h` and the README)
EXIT_OK = 0
EXIT_ATTENTION = 1  # a district's night needs a person: held, rejected, missing or incomplete
EXIT_USAGE = 2  # a usage or configuration error (click's own usage errors are 2 as well)
EXIT_FAILED = 3  # a district's delivery or ingest failed, or the build failed
EXIT_WAREHOUSE = 4  # the warehouse is unreachable or misconfigured
EXIT_BUSY = 75  # another run holds the warehouse (EX_TEMPFAIL: try again later)


def exit_codes(run):
    """A command handler whose failures become one clear line and an exit code a scheduler can act on
    (the traceback too with --verbose)."""

    @functools.wraps(run)
    def handled(*args, **kwargs) -> int:
        try:
            return run(*args, **kwargs)
        except db.WarehouseBusy as exc:
            return _fail(exc, EXIT_BUSY)
        except (ConfigError, ValueError) as exc:
            return _fail(exc, EXIT_USAGE)
        except SparkUnreachable as exc:
            return _fail(f"the Spark warehouse is unreachable: {exc}", EXIT_WAREHOUSE, exc)
        except (psycopg2.OperationalError, psycopg2.InterfaceError, db.EmbeddedPortTaken) as exc:
            # InterfaceError: a connection already lost, used again (its rollback on the way out)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return _fail(f"the warehouse is unreachable or misconfigured: {first}", EXIT_WAREHOUSE, exc)

    return handled


def _fail(message, code: int, exc: BaseException | None = None) -> int:
    click.echo(f"error: {redact(message)}", err=True)
    if logging.getLogger().isEnabledFor(logging.INFO):
        click.echo("".join(traceback.format_exception(exc or message)), err=True)
    return code


def night_code(nights: list[DistrictNight], build: BuildOutcome | None = None) -> int:
    """The exit code of a run's district nights (and build): failed over a district's configuration refused
    over needing a person over ok."""
    if any(n.failed for n in nights) or (build is not None and not build.ok):
        return EXIT_FAILED
    if any(n.refused for n in nights):
        return EXIT_USAGE
    return EXIT_OK if all(n.ok for n in nights) else EXIT_ATTENTION


@exit_codes
def run_ingest(config_path, drop_root, run_date: dt.date, only) -> int:
    settings = db.resolve()
    with db.one_run_at_a_time(settings, "ingest"):
        nights = ingest_districts(settings, config_path, drop_root, run_date, only)
    print_summary(nights, None, {})
    return night_code(nights)


@exit_codes
def run_restore(config_path, archive_root: Path, only: tuple[str, ...]) -> int:
    from sis_sync.ingestion import safety
    from sis_sync.replay import restore

    settings = db.resolve()
    with db.one_run_at_a_time(settings, "restore"):
        prepare_warehouse(settings)
        if config_path and Path(config_path).is_file():
            with db.connect(settings) as conn:
                safety.record_districts(conn, [d for d in load_districts(config_path, None) if not d.refused])
        done = restore(settings, archive_root, only, say=_step)
    for replayed in done:
        click.echo(f"{replayed.district_id}: {replayed.nights} nights, {replayed.deliveries} deliveries restored")
    click.echo("next: sis-sync build --full-refresh (nights held before are held again: approve them again)")
    return EXIT_OK


@exit_codes
def run_upgrade() -> int:
    from sis_sync.replay import upgrade

    settings = db.resolve()
    with db.one_run_at_a_time(settings, "upgrade"):
        done = upgrade(settings, say=_step)
    for replayed in done:
        click.echo(f"{replayed.district_id}: {replayed.nights} nights, {replayed.deliveries} deliveries converted")
    click.echo("the old raw layer is kept as schema raw_sis_snapshots; next: sis-sync build --full-refresh"
               " (and `sis-sync roles` again if the loader role is in use: raw_sis is a new schema)")
    return EXIT_OK


@exit_codes
def run_build(run_date: dt.date, full_refresh: bool = False, roll_back: bool = False,
              target: str | None = None) -> int:
    settings = db.resolve()
    with db.one_run_at_a_time(settings, "build"):
        prepare_warehouse(settings)
        build = build_marts(settings, run_date, full_refresh=full_refresh, roll_back=roll_back, target=target)
    print_summary([], build, _counts(settings, build, target))
    return night_code([], build)


def _counts(settings, build, target: str | None) -> dict[str, dict[str, int]]:
    """The marts' rows per district (on Spark, none after a failed build: Spark may be what failed)."""
    if target in SPARK_TARGETS and not build.ok:
        return {}
    return mart_counts(settings, target)


@exit_codes
def run_nightly(config_path, drop_root, run_date: dt.date, only, target: str | None = None) -> int:
    settings = db.resolve()
    _step(f"warehouse: {settings.describe()}")
    with db.one_run_at_a_time(settings, "nightly"):
        nights = ingest_districts(settings, config_path, drop_root, run_date, only)
        build = build_marts(settings, run_date, target=target)
        if target not in SPARK_TARGETS or build.ok:  # (on Spark, a failed build may mean an unreachable Spark)
            read_holds(settings, nights, run_date, target)
    print_summary(nights, build, _counts(settings, build, target))
    click.echo("")
    if target == "spark":
        from sis_sync import spark

        click.echo(f"Marts are in database `marts` of the Spark warehouse in {spark.spark_dir()}"
                   " (README, \"Running on Spark\").")
    elif target == "spark_thrift":
        click.echo("Marts are in database `marts` of the Spark cluster behind the Thrift server"
                   " (README, \"Running on Spark\").")
    else:
        click.echo(f"Marts are in schema `marts` of {settings.describe()}.")
        click.echo(f"Look at them with: psql '{settings.shown_dsn}'"
                   " -c 'select * from marts.student_overview limit 5'")
    click.echo("Sync history: sis-sync status")
    return night_code(nights, build)


@exit_codes
def run_status(limit: int, target: str | None = None) -> int:
    from sis_sync.marts import marts_of
    from sis_sync.report import recent_history

    settings = db.resolve()
    with marts_of(settings, target) as marts:
        rows = recent_history(marts, limit)
    if not rows:
        click.echo("no sync history yet: run `sis-sync nightly` first")
        return 1
    files = max(18, 2 + max(len(row[2]) for row in rows))  # oneroster/academicsessions.csv is long
    click.echo(f"{'district':<14}{'night':<12}{'file':<{files}}{'status':<19}{'changes':<22}reason")
    indent = 14 + 12 + files + 19 + 22
    width = max(40, shutil.get_terminal_size((160, 24)).columns - indent)
    for district_id, export_date, file_name, status, reason, _season, added, changed, retired in rows:
        changes = "" if added is None else f"+{added} ~{changed} -{retired}"
        lines = textwrap.wrap(reason, width) or [""]  # whole reasons, wrapped: the approve hint is the end
        click.echo(f"{district_id:<14}{export_date!s:<12}{file_name:<{files}}{status:<19}{changes:<22}{lines[0]}")
        for line in lines[1:]:
            click.echo(" " * indent + line)
    return 0


@exit_codes
def run_preview(district_id: str, night: dt.date, examples: int = 5, show_values: bool = False,
                target: str | None = None) -> int:
    from sis_sync.marts import Marts
    from sis_sync.preview import preview_night, render

    settings = db.resolve()
    marts = Marts(target=target) if target else None  # the holds: where the marts are built
    with db.connect(settings) as conn:
        files = preview_night(conn, district_id, night, examples=examples, show_values=show_values, marts=marts)
    for line in render(district_id, night, files):
        click.echo(line)
    return 0 if files else 1


@exit_codes
def run_approve(district_id: str, night: dt.date, yes: bool = False, examples: int = 5,
                target: str | None = None) -> int:
    from sis_sync.ingestion import safety
    from sis_sync.marts import Marts
    from sis_sync.preview import preview_night, render

    settings = db.resolve()
    marts = Marts(target=target) if target else None  # the holds: where the marts are built
    with db.connect(settings) as conn:
        _known_district(conn, district_id)
        held = safety.held_files(marts or conn, district_id, night)
        if not held:
            click.echo(f"nothing is held for {district_id} on {night}")
            return 1
        for file_name, message in held:
            click.echo(f"{file_name} {message.split(';')[0]}")
        for line in render(district_id, night, preview_night(conn, district_id, night, examples=examples,
                                                             marts=marts)):
            click.echo(line)
        if not yes and not click.confirm(f"release {district_id} {night}?", default=False):
            click.echo("not released")
            return 1
        released = safety.approve(conn, district_id, night, marts)
    for file_name, message in released:
        click.echo(f"released {district_id} {night} {file_name}: {message.split(';')[0]}")
    click.echo("the next `sis-sync nightly` applies it; `sis-sync build` applies it now")
    return 0


@exit_codes
def run_report(out_dir: Path, nights: int = 30, target: str | None = None) -> int:
    from sis_sync.marts import marts_of
    from sis_sync.report import write_report

    settings = db.resolve()
    where = settings.describe() if target is None else f"Spark ({target}), ingested in {settings.describe()}"
    with marts_of(settings, target) as marts:
        page = write_report(marts, out_dir, where, nights)
    click.echo(f"wrote {page}")
    return EXIT_OK


def _known_district(conn, district_id: str) -> None:
    """Refuse a district the warehouse has never synced (ConfigError: exit 2)."""
    from sis_sync.ingestion.ledger import LEDGER_TABLE

    with conn.cursor() as cur:
        cur.execute(f"select exists (select 1 from {LEDGER_TABLE} where district_id = %s)", (district_id,))
        known = cur.fetchone()[0]
    conn.commit()
    if not known:
        raise ConfigError(f"unknown district {district_id!r}: the warehouse has no delivery of it")


@exit_codes
def run_env() -> int:
    settings = db.resolve()
    click.echo(f"# {settings.describe()}; PGPASSWORD is never printed (set it yourself, or use ~/.pgpass)")
    for line in settings.exports():
        click.echo(line)
    return 0


def run_stop() -> int:
    if db.settings_from_env() is not None:
        click.echo("PG* variables name a server of your own: sis-sync never stops it", err=True)
    if db.stop_embedded():
        click.echo(f"stopped the embedded Postgres in {db.EMBEDDED_DIR}")
    else:
        click.echo("the embedded Postgres is not running")
    return 0


@exit_codes
def run_roles(mappings: tuple[str, ...]) -> int:
    from sis_sync import access

    settings = db.resolve()
    prepare_warehouse(settings)
    with db.connect(settings) as conn:
        access.ensure_roles(conn)
        for mapping in mappings:
            role, _, district_id = mapping.partition("=")
            if not role or not district_id:
                raise ConfigError(f"--map takes ROLE=DISTRICT, got {mapping!r}")
            _known_district(conn, district_id)
            with conn.cursor() as cur:
                cur.execute("select 1 from pg_roles where rolname = %s", (role,))
                if cur.fetchone() is None:
                    raise ConfigError(f"no role {role!r} in this Postgres server: create it first"
                                      f" (e.g. create role {role} login in role {access.READER_ROLE})")
            access.map_district(conn, role, district_id)
            click.echo(f"{role} now sees district {district_id} in the marts")
    click.echo(f"roles ready: {access.READER_ROLE} (reads marts), {access.LOADER_ROLE} (writes raw_sis); "
               "the next build applies the grants and row-level security to every mart")
    return 0


def run_spark_cluster(folder: Path, workers: int, cores: int, memory: str, port: int) -> int:
    """``sis-sync spark-cluster``: the loopback cluster until SIGINT or SIGTERM."""
    import signal
    import time

    from sis_sync.spark_cluster import ClusterError, LoopbackCluster

    def interrupted(_signum, _frame):
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)
    cluster = LoopbackCluster(folder, workers=workers, cores=cores, memory=memory, thrift_port=port)
    click.echo(f"starting a master, {workers} worker(s) of {cores} core(s) and a Thrift server in {folder}"
               " (about a minute)")
    try:
        with cluster:
            click.echo(f"Thrift server on {cluster.environment()['SPARK_THRIFT_HOST']}:{port}; the master's page:"
                       f" http://127.0.0.1:{cluster.master_ui}/")
            click.echo(" ".join(f"{name}={value}" for name, value in cluster.environment().items())
                       + " sis-sync build --target spark_thrift")
            click.echo("Ctrl-C (or SIGTERM) stops the cluster.")
            while (stopped := cluster.stopped()) is None:
                time.sleep(1)
            click.echo(f"error: the cluster's {stopped} stopped by itself; its log is in {folder / 'logs'}",
                       err=True)
            return EXIT_FAILED
    except (ClusterError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_FAILED
    except KeyboardInterrupt:
        click.echo("cluster stopped")
    return EXIT_OK
