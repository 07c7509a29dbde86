"""The ``sis-sync`` command line (a contract: see the README)."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path

import click

from sis_sync import PROJECT_ROOT

DATE = click.DateTime(formats=["%Y-%m-%d"])
# where the marts are built: the Postgres warehouse, or Spark (README, "Running on Spark")
TARGETS = ["postgres", "spark", "spark_thrift"]  # Postgres, and profiles.yml's Spark targets (sis_sync/spark.py)
TARGET = click.option("--target", type=click.Choice(TARGETS), default="postgres",
                      show_default=True, help="Build the marts in Postgres, or on Spark in this process or through"
                      " a cluster's Thrift server (the raw layer written to the lake first).")


# where the commands that read the marts (status, preview, approve, report) read them
READ_TARGET = click.option("--target", type=click.Choice(TARGETS), default="postgres",
                           show_default=True, help="Read the marts (their sync history and holds) where they are"
                           " built: Postgres, or a Spark target.")


def _date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _common(f):
    f = click.option("--config", "config_path", type=click.Path(path_type=Path),
                     default=PROJECT_ROOT / "districts.yml", show_default="districts.yml",
                     help="The districts file.")(f)
    f = click.option("--drop", "drop_root", type=click.Path(path_type=Path, file_okay=False),
                     help="A local drop folder of <district_id>/<date>/ exports, instead of the configured "
                          "delivery.")(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sis-sync", prog_name="sis-sync")
@click.option("-v", "--verbose", is_flag=True, help="Log more (and show tracebacks).")
def main(verbose: bool) -> None:
    """Nightly SIS export sync: ingest district exports and build year-scoped marts in Postgres.

    Exit codes: 0 all ok; 1 a district's night needs a person (held, rejected, missing or incomplete);
    2 a usage or configuration error; 3 a district or the build failed; 4 the warehouse is unreachable or
    misconfigured; 75 another run holds the warehouse (try again later)."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Drop folder to write <district_id>/<date>/ into.")
@click.option("--students", default=400, show_default=True, type=click.IntRange(1), help="District size.")
@click.option("--date", "export_date", required=True, type=DATE, help="Export date (YYYY-MM-DD).")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed: same seed, same district.")
@click.option("--district", "district_id", default="sample", show_default=True, help="District id.")
@click.option("--format", "export_format", type=click.Choice(["sis", "oneroster"]), default="sis",
              show_default=True, help="Our export, or OneRoster CSV as a SIS or rostering hub writes it.")
@click.option("--oneroster-version", type=click.Choice(["1.1", "1.2"]), default="1.1", show_default=True,
              help="With --format oneroster: the OneRoster version.")
@click.option("--delta-since", type=DATE, default=None,
              help="With --format oneroster: a delta export, of what changed since this night's export.")
def sample(out_dir: Path, students: int, export_date, seed: int, district_id: str, export_format: str,
           oneroster_version: str, delta_since) -> None:
    """Write the export a real SIS would deliver on DATE for a synthetic district."""
    from sis_sync.sample import write_export
    from sis_sync.sample.oneroster import write_oneroster_export

    if export_format == "oneroster":
        folder = write_oneroster_export(out_dir, district_id, _date(export_date), students, seed,
                                        version=oneroster_version,
                                        since=_date(delta_since) if delta_since else None)
    else:
        if delta_since:
            raise click.UsageError("--delta-since is for --format oneroster")
        folder = write_export(out_dir, district_id=district_id, export_date=_date(export_date),
                              students=students, seed=seed)
    click.echo(f"wrote {folder}")


@main.command()
@_common
@click.option("--date", "export_date", type=DATE, default=None, help="Export date (default: today).")
@click.option("--district", "districts", multiple=True, help="District id (repeatable; default: all).")
def ingest(config_path: Path, drop_root: Path | None, export_date, districts: tuple[str, ...]) -> None:
    """Validate and land one night's export files in the raw schema, with the load ledger."""
    from sis_sync.commands import run_ingest

    sys.exit(run_ingest(config_path, drop_root, _run_date(export_date), districts))


@main.command()
@click.option("--date", "run_date", type=DATE, default=None, help="Run date (default: today).")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental marts from the raw history.")
@click.option("--roll-back", is_flag=True,
              help="Build the marts as of the run date although a later night was built (a full refresh).")
@TARGET
def build(run_date, full_refresh: bool, roll_back: bool, target: str) -> None:
    """Run `dbt build` for the run date (the dbt half of the nightly job). A date before the night the marts
    already show builds nothing (exit 0) unless --roll-back."""
    from sis_sync.commands import run_build

    sys.exit(run_build(_run_date(run_date), full_refresh=full_refresh, roll_back=roll_back,
                       target=_target(target)))


@main.command()
@_common
@click.option("--date", "run_date", type=DATE, default=None, help="Run date (default: today).")
@click.option("--district", "districts", multiple=True, help="District id (repeatable; default: all).")
@TARGET
def nightly(config_path: Path, drop_root: Path | None, run_date, districts: tuple[str, ...], target: str) -> None:
    """Ingest every district's export for the date, then build the marts; print a summary."""
    from sis_sync.commands import run_nightly

    sys.exit(run_nightly(config_path, drop_root, _run_date(run_date), districts, target=_target(target)))


@main.command()
@click.option("--limit", default=20, show_default=True, help="Nights to show per district.")
@READ_TARGET
def status(limit: int, target: str) -> None:
    """Show the recent sync history per district."""
    from sis_sync.commands import run_status

    sys.exit(run_status(limit, target=_target(target)))


@main.command()
@click.option("--district", "district_id", required=True, help="District id.")
@click.option("--date", "export_date", required=True, type=DATE, help="The held night (YYYY-MM-DD).")
@click.option("--yes", is_flag=True, help="Release without asking (for schedulers).")
@READ_TARGET
def approve(district_id: str, export_date, yes: bool, target: str) -> None:
    """Show what a night held by a safety threshold would change, and release it; the next build applies it."""
    from sis_sync.commands import run_approve

    sys.exit(run_approve(district_id, _date(export_date), yes=yes, target=_target(target)))


@main.command()
@click.option("--district", "district_id", required=True, help="District id.")
@click.option("--date", "export_date", required=True, type=DATE, help="The night (YYYY-MM-DD).")
@click.option("--examples", default=5, show_default=True, type=click.IntRange(0, 100),
              help="Example keys per kind of change and per changed column.")
@click.option("--show-values", is_flag=True,
              help="Also print the old and new values of the example records' changed columns (personal data).")
@READ_TARGET
def preview(district_id: str, export_date, examples: int, show_values: bool, target: str) -> None:
    """What a night did to each file (or would do, if it is held): records added, changed and retired, the
    columns that changed, and example keys. Ids and column names only, unless --show-values."""
    from sis_sync.commands import run_preview

    sys.exit(run_preview(district_id, _date(export_date), examples=examples, show_values=show_values,
                         target=_target(target)))


@main.command()
@click.option("--map", "mappings", multiple=True, metavar="ROLE=DISTRICT",
              help="Restrict a role to a district's rows in the marts (repeatable).")
def roles(mappings: tuple[str, ...]) -> None:
    """Create the read-only BI role and the loader role; optionally restrict roles to districts."""
    from sis_sync.commands import run_roles

    sys.exit(run_roles(mappings))


@main.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=PROJECT_ROOT / "districts.yml",
              show_default="districts.yml", help="The districts file (their safety settings).")
@click.option("--archive", "archive_root", required=True,
              type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="The archive of delivered files (.sis-sync/archive/<warehouse>, or SIS_SYNC_ARCHIVE).")
@click.option("--district", "districts", multiple=True, help="District id (repeatable; default: all archived).")
def restore(config_path: Path, archive_root: Path, districts: tuple[str, ...]) -> None:
    """Rebuild the raw history of an empty warehouse from the archive of delivered files, then run
    `sis-sync build --full-refresh` to rebuild the marts."""
    from sis_sync.commands import run_restore

    sys.exit(run_restore(config_path, archive_root, districts))


@main.command()
def upgrade() -> None:
    """Convert a warehouse whose raw tables hold a full copy of every night into versions (the old raw schema
    is kept as raw_sis_snapshots), then run `sis-sync build --full-refresh`."""
    from sis_sync.commands import run_upgrade

    sys.exit(run_upgrade())


@main.command()
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder to write index.html into.")
@click.option("--nights", default=30, show_default=True, type=click.IntRange(1, 366), help="Nights per district.")
@READ_TARGET
def report(out_dir: Path, nights: int, target: str) -> None:
    """Write the sync-health page: per district, the last nights' statuses, records changed per file, holds
    waiting for approval and rejected files. A static HTML file: open it in a browser, no server needed."""
    from sis_sync.commands import run_report

    sys.exit(run_report(out_dir, nights, target=_target(target)))


@main.command()
def env() -> None:
    """Print the warehouse's PG* settings as shell exports, for a hand-run dbt, psql or BI tool:
    eval "$(sis-sync env)". Starts the embedded Postgres when none is configured. Never prints a password."""
    from sis_sync.commands import run_env

    sys.exit(run_env())


@main.command("spark-cluster")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Workers to start.")
@click.option("--cores", default=1, show_default=True, type=click.IntRange(1, 256), help="Cores per worker.")
@click.option("--memory", default="2g", show_default=True, help="Memory per worker (its executor's).")
@click.option("--port", default=10000, show_default=True, type=click.IntRange(1, 65535),
              help="The Thrift server's port (the spark_thrift target's default).")
@click.option("--dir", "folder", type=click.Path(path_type=Path, file_okay=False),
              default=PROJECT_ROOT / ".sis-sync" / "spark-cluster", show_default=".sis-sync/spark-cluster",
              help="The cluster's metastore, warehouse, logs and workers' folders.")
def spark_cluster(workers: int, cores: int, memory: str, port: int, folder: Path) -> None:
    """Run a standalone Spark cluster on 127.0.0.1 (a master, its workers, a Thrift server) until interrupted,
    for the spark_thrift target: sis-sync build --target spark_thrift."""
    from sis_sync.commands import run_spark_cluster

    sys.exit(run_spark_cluster(folder, workers, cores, memory, port))


@main.command()
def stop() -> None:
    """Stop this project's embedded Postgres (a configured server is never touched)."""
    from sis_sync.commands import run_stop

    sys.exit(run_stop())


@main.command()
@click.option("--write", is_flag=True, help="Rewrite the generated files instead of checking them.")
def spec(write: bool) -> None:
    """Check (or --write) the files generated from the export spec."""
    from sis_sync.specdocs import check_generated, write_generated

    if write:
        for path in write_generated():
            click.echo(f"wrote {path.relative_to(PROJECT_ROOT)}")
        return
    stale = check_generated()
    for path in stale:
        click.echo(f"out of date: {path.relative_to(PROJECT_ROOT)} (run `sis-sync spec --write`)", err=True)
    sys.exit(1 if stale else 0)


@main.command()
@click.option("--sizes", default="1000,10000,100000", show_default=True,
              help="District sizes (students), comma-separated.")
@click.option("--out", "out_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where to write the JSON results [default: bench/results/<stamp>.json].")
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(1),
              help="Runs per size (the table shows medians).")
@click.option("--data", "data_root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where the generated exports are written and reused [default: .sis-sync/bench].")
@click.option("--prior-years", default=0, show_default=True, type=click.IntRange(0, 3),
              help="School years of raw history to load first (each year's last school day; not timed).")
@click.option("--history-nights", default=0, show_default=True, type=click.IntRange(0, 60),
              help="School nights just before the first measured one to load first (not timed): raw history.")
@click.option("--nights", default=0, show_default=True, type=click.IntRange(0, 120),
              help="School nights to run after the second one, each a nightly job (raw size, ingest, dbt per"
                   " night), then a full refresh of the last.")
@click.option("--districts", default=1, show_default=True, type=click.IntRange(1, 999),
              help="Split each size into this many districts of the same size (d01, d02, ...), synced together:"
                   " the cost of many districts against one of the same size.")
@click.option("--target", type=click.Choice(["postgres", "spark"]), default="postgres", show_default=True,
              help="spark: also build night 2 on Spark, on a loopback cluster of each --workers number of workers.")
@click.option("--workers", default="1,2", show_default=True,
              help="With --target spark: the loopback clusters' numbers of workers (one core each), comma-separated.")
@click.option("--keep", is_flag=True, help="Keep the benchmark databases (sis_bench_<size>) afterwards.")
def bench(sizes: str, out_path: Path | None, repeat: int, data_root: Path | None, prior_years: int,
          history_nights: int, nights: int, districts: int, target: str, workers: str, keep: bool) -> None:
    """Benchmark ingest and dbt at district scale against a raw COPY of the same files (PG* server)."""
    from sis_sync.bench import DEFAULT_DATA, run_bench

    try:
        students = tuple(int(s) for s in sizes.split(",") if s.strip())
    except ValueError as exc:
        raise click.BadParameter(f"not a list of integers: {sizes}", param_hint="--sizes") from exc
    try:
        spark_workers = tuple(int(w) for w in workers.split(",") if w.strip()) if target == "spark" else ()
    except ValueError as exc:
        raise click.BadParameter(f"not a list of integers: {workers}", param_hint="--workers") from exc
    if any(w < 1 for w in spark_workers) or len(set(spark_workers)) != len(spark_workers):
        raise click.BadParameter(f"numbers of workers of 1 or more, each once: {workers}", param_hint="--workers")
    if out_path is None:
        out_path = PROJECT_ROOT / "bench" / "results" / f"{dt.datetime.now():%Y%m%dT%H%M%S}.json"
    run_bench(students, out_path, repeat=repeat, data_root=data_root or DEFAULT_DATA, keep=keep,
              prior_years=prior_years, history_nights=history_nights, nights=nights, districts=districts,
              spark_workers=spark_workers)


def _target(value: str) -> str | None:
    """The profiles.yml target of a --target choice (None: the default, the Postgres warehouse)."""
    return None if value == "postgres" else value


def _run_date(value) -> dt.date:
    return _date(value) if value else dt.date.today()


if __name__ == "__main__":
    main()
