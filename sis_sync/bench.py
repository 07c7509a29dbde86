"""``sis-sync bench``: the nightly sync at district scale, side by side with a raw ``COPY`` of the same files.

Per district size (students), in a database of its own on the Postgres given by the PG* variables (default
127.0.0.1:5432 as postgres; never the embedded one), the benchmark:

1. writes (or reuses) the sample district's exports for two consecutive school nights (``night1``, and
   ``night2`` with the ~1% change a real next night has);
2. **copy**: COPYs night1's CSV files, one typed unindexed table per file (the spec's columns and types),
   with psycopg2 ``copy_expert``: the floor. ``copy_meta`` does the same into tables that also carry the meta
   columns every raw row has (filled by column defaults): the floor for the raw layer's contract;
3. **ingest**: :func:`sis_sync.ingestion.load.ingest_export` of night1 (validate, land through dlt, ledger);
4. **full**: ``dbt build --full-refresh`` for night1 (:func:`sis_sync.nightly.dbt_build`);
5. **nightly**: night2's nightly job: the ingest of every district (:func:`sis_sync.nightly.ingest_districts`,
   the record of its changes included) and the incremental ``dbt build``;
6. **full2**: ``dbt build --full-refresh`` for night2: the full refresh the incremental night is compared with;
   the marts it gives are compared with the incremental night's (a product contract: they must be equal).

Every stage runs in a child process of its own, so its peak memory (the child's ``VmHWM``; the Postgres
server's memory is not in it) is its own. Times are wall-clock seconds of the stage's work (the child's
interpreter start and imports are not in them: ``process_seconds`` in the JSON has them). The load average is
recorded around every stage. dbt's per-node times (``run_results.json``) split every build into models, tests
and seeds. dbt parses the project once per size, before the timed stages, as a scheduler's nightly runs find
it parsed. ``history_nights`` / ``prior_years`` load earlier nights first (not timed): the raw history a
district has after some time.

The results (every run of every stage) go to a JSON file; a table of the medians is printed, with the ratios
ingest/COPY and incremental/full, and a least-squares line of time against size per stage: its intercept is
the fixed cost of the stage, its slope the cost per 1000 students.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sis_sync import PROJECT_ROOT
from sis_sync.project import mart_names

DISTRICT = "sample"  # a district with a calendar in seeds/seasons.csv
NIGHT1 = dt.date(2026, 3, 16)
NIGHT2 = dt.date(2026, 3, 17)
DEFAULT_SIZES = (1000, 10000, 100000)
DEFAULT_DATA = PROJECT_ROOT / ".sis-sync" / "bench"
MARTS = mart_names(history=False)  # compared with a full refresh
STAGES = ("copy", "copy_meta", "ingest", "full", "nightly", "full2")
SPARK_WORKER_MEMORY = "4g"  # each loopback worker's, for its one executor


def spark_stage(workers: int) -> str:
    return f"spark_{workers}w"


# --- the parent: orchestration, table, JSON -------------------------------------------------------------


def server_settings():
    from sis_sync.db import PgSettings

    env = os.environ
    return PgSettings(host=env.get("PGHOST") or "127.0.0.1", port=int(env.get("PGPORT") or 5432),
                      user=env.get("PGUSER") or "postgres", password=env.get("PGPASSWORD") or "",
                      database="postgres")


def district_ids(districts: int) -> list[str]:
    """The districts a size is split into: the sample district alone, or ``d01`` .. ``dNN`` (no calendar row:
    always in session)."""
    if districts == 1:
        return [DISTRICT]
    width = max(2, len(str(districts)))
    return [f"d{i:0{width}d}" for i in range(1, districts + 1)]


def export_folder(data_root: Path, students: int, night: dt.date, districts: int = 1) -> Path:
    """The drop root holding the export of ``night`` of ``students`` in ``districts`` districts of the same size
    (written once, then reused: the generator is deterministic; each district has a seed of its own). Written by
    a child process, so that this one stays small (a child's peak memory is measured from its own start, but a
    lean parent keeps the machine's memory for the stages)."""
    drop = data_root / (f"s{students}" if districts == 1 else f"s{students}x{districts}")
    for seed, district_id in enumerate(district_ids(districts), start=1):
        folder = drop / district_id / night.isoformat()
        if (folder / "manifest.csv").exists():
            continue
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "import sys, datetime as dt; from pathlib import Path; "
                        "from sis_sync.sample import write_export; write_export(Path(sys.argv[1]), "
                        "district_id=sys.argv[2], export_date=dt.date.fromisoformat(sys.argv[3]), "
                        "students=int(sys.argv[4]), seed=int(sys.argv[5]))", str(drop), district_id,
                        night.isoformat(), str(students // districts), str(seed)],
                       check=True, cwd=PROJECT_ROOT)
        _say(f"wrote {district_id}'s {students // districts}-student export of {night}"
             f" in {time.monotonic() - started:.1f}s")
    return drop


def prior_nights(years: int, nights: int = 0) -> list[dt.date]:
    """A district's history before NIGHT1, oldest first: the last school day of each of the ``years`` school
    years before NIGHT1's, then the ``nights`` school nights (weekdays) just before NIGHT1."""
    from sis_sync.sample import sample_calendar

    first = NIGHT1.year if NIGHT1.month < 7 else NIGHT1.year + 1
    out = [sample_calendar(DISTRICT, first - k).last_day for k in range(years, 0, -1)]
    recent: list[dt.date] = []
    day = NIGHT1
    while len(recent) < nights:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5:
            recent.append(day)
    return out + sorted(recent)


def _say(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _drop_database(server, name: str) -> None:
    import psycopg2

    admin = psycopg2.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                             dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'drop database if exists "{name}" with (force)')
    admin.close()


def run_stage(stage: str, args: dict) -> dict:
    """Run one stage in a child process; its result, with the child's peak memory and the load average."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", delete=False) as out:
        out_path = Path(out.name)
    load_before = os.getloadavg()
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "sis_sync.bench", stage, json.dumps(args), str(out_path)],
                            cwd=PROJECT_ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    try:
        result = json.loads(out_path.read_text() or "{}")
    finally:
        out_path.unlink(missing_ok=True)
    if proc.returncode != 0 or not result.get("ok", False):
        raise RuntimeError(f"stage {stage} failed (exit {proc.returncode}): {result.get('error', '')}")
    result.update(
        stage=stage,
        process_seconds=round(wall, 3),
        # the child's own high-water mark (VmHWM); ru_maxrss would also count the parent it was forked from
        peak_rss_mib=result.get("vm_hwm_mib") or round(usage.ru_maxrss / 1024, 1),
        load_before=[round(x, 2) for x in load_before],
        load_after=[round(x, 2) for x in os.getloadavg()],
    )
    return result


def later_nights(nights: int) -> list[dt.date]:
    """The ``nights`` weekdays after NIGHT2: the nights of ``--nights``."""
    out: list[dt.date] = []
    day = NIGHT2
    while len(out) < nights:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            out.append(day)
    return out


def bench_size(students: int, data_root: Path, server, keep: bool, prior_years: int = 0,
               history_nights: int = 0, nights: int = 0, districts: int = 1,
               spark_workers: tuple[int, ...] = ()) -> dict:
    """Every stage once for one size (``students`` in ``districts`` districts), in a fresh database; with
    ``nights``, that many more nightly runs after NIGHT2 (stage ``nights``: one entry per night) and a full
    refresh of the last one; with ``spark_workers``, night 2's build on Spark on a loopback cluster of each
    of those numbers of workers (stage ``spark_<n>w``)."""
    from sis_sync.ingestion.workdirs import default_archive_dir, default_pipelines_dir

    history = prior_nights(prior_years, history_nights)
    drop1 = export_folder(data_root, students, NIGHT1, districts)
    drop2 = export_folder(data_root, students, NIGHT2, districts)
    for night in [*history, *later_nights(nights)]:
        export_folder(data_root, students, night, districts)
    assert drop1 == drop2
    name = f"sis_bench_{students}" if districts == 1 else f"sis_bench_{students}x{districts}"
    settings = server.for_database(name)
    _drop_database(server, name)
    pipelines, archived = default_pipelines_dir(settings), default_archive_dir(settings)
    shutil.rmtree(pipelines, ignore_errors=True)
    shutil.rmtree(archived, ignore_errors=True)
    from sis_sync.db import ensure_database

    ensure_database(settings)
    base = {"database": name, "drop": str(drop1), "students": students, "districts": district_ids(districts)}
    stages: dict[str, dict] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="sis-bench-dbt-") as dbt_dir:
            base["dbt_dir"] = dbt_dir
            run_stage("parse", base)
            for night in history:  # not timed: the raw history of earlier school years
                run_stage("ingest", {**base, "night": night.isoformat()})
            plan = [
                ("copy", {"night": NIGHT1.isoformat(), "meta": False}),
                ("copy_meta", {"night": NIGHT1.isoformat(), "meta": True}),
                ("ingest", {"night": NIGHT1.isoformat()}),
                ("full", {"night": NIGHT1.isoformat(), "full_refresh": True}),
                ("nightly", {"night": NIGHT2.isoformat()}),
                ("full2", {"night": NIGHT2.isoformat(), "full_refresh": True, "compare": True}),
            ]
            for stage, extra in plan:
                kind = {"copy_meta": "copy", "full2": "full"}.get(stage, stage)
                result = run_stage(kind, {**base, **extra})
                result["stage"] = stage
                stages[stage] = result
                _say(f"{students:>8} {stage:<10} {result['seconds']:8.2f}s  peak {result['peak_rss_mib']:7.0f} MiB"
                     f"  load {result['load_before'][0]:.2f}")
            for workers in spark_workers:
                result = run_stage("spark", {**base, "night": NIGHT2.isoformat(), "workers": workers,
                                             "memory": SPARK_WORKER_MEMORY})
                result["stage"] = stage = spark_stage(workers)
                stages[stage] = result
                _say(f"{students:>8} {stage:<10} {result['seconds']:8.2f}s  (lake {result['lake_seconds']:.2f}s,"
                     f" its night {result['lake_night_seconds']:.2f}s)"
                     f"  mart rows equal Postgres's: {result['mart_rows_equal']}")
            if nights:
                stages["nights"] = [stages["nightly"]]
                for night in later_nights(nights):
                    result = run_stage("nightly", {**base, "night": night.isoformat()})
                    stages["nights"].append(result)
                    _say(f"{students:>8} {night} {result['seconds']:8.2f}s (ingest {result['ingest_seconds']:.2f}s,"
                         f" dbt {result['dbt_seconds']:.2f}s)  raw {result['raw_mib']:.1f} MiB"
                         f"  peak {result['peak_rss_mib']:7.0f} MiB")
                result = run_stage("full", {**base, "night": later_nights(nights)[-1].isoformat(),
                                            "full_refresh": True, "compare": True})
                result["stage"] = "full_last"
                stages["full_last"] = result
                _say(f"{students:>8} full_last  {result['seconds']:8.2f}s  marts equal: {result['marts_equal']}")
    finally:
        if not keep:
            _drop_database(server, name)
            shutil.rmtree(archived, ignore_errors=True)  # the delivered files it archived, with the database
        shutil.rmtree(pipelines, ignore_errors=True)
    return stages


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fit_line(points: list[tuple[float, float]]) -> dict | None:
    """Least squares ``seconds = fixed + per_1k * students / 1000``, with R^2."""
    if len(points) < 2:
        return None
    xs = [x / 1000 for x, _ in points]
    ys = [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    fixed = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (fixed + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    return {"fixed_seconds": round(fixed, 3), "seconds_per_1k_students": round(slope, 5),
            "r2": round(1 - ss_res / ss_tot, 5) if ss_tot else 1.0}


def summarise(runs: dict[int, list[dict]], spark_workers: tuple[int, ...] = ()) -> dict:
    """Medians per size and stage, the ratios, and the line of time against size per stage."""
    stages = (*STAGES, *(spark_stage(w) for w in spark_workers))
    sizes = {}
    for students, reps in sorted(runs.items()):
        med = {}
        for stage in stages:
            rs = [r[stage] for r in reps if stage in r]
            if not rs:
                continue
            entry = {
                "seconds": _median([r["seconds"] for r in rs]),
                "seconds_all": [r["seconds"] for r in rs],
                "peak_rss_mib": max(r["peak_rss_mib"] for r in rs),
                "load_1min": [r["load_before"][0] for r in rs],
            }
            for part in ("ingest_seconds", "safety_seconds", "dbt_seconds", "models_seconds", "tests_seconds",
                         "models_wall_seconds", "tests_wall_seconds", "seeds_seconds", "validate_seconds",
                         "find_seconds", "archive_seconds", "land_seconds", "statistics_seconds",
                         "check_seconds", "record_seconds", "rest_seconds", "lake_seconds", "lake_night_seconds",
                         "lake_night_rows"):
                if any(part in r for r in rs):
                    entry[part] = _median([r.get(part) for r in rs])
            med[stage] = entry
        ratios = {}
        if "copy" in med and "ingest" in med:
            ratios["ingest_over_copy"] = round(med["ingest"]["seconds"] / med["copy"]["seconds"], 3)
            if "copy_meta" in med:
                ratios["ingest_over_copy_meta"] = round(med["ingest"]["seconds"] / med["copy_meta"]["seconds"], 3)
                ratios["copy_meta_over_copy"] = round(med["copy_meta"]["seconds"] / med["copy"]["seconds"], 3)
        if "nightly" in med and "full2" in med:
            n, f = med["nightly"], med["full2"]
            ratios["incremental_dbt_over_full_dbt"] = round(n["dbt_seconds"] / f["seconds"], 3)
            if n.get("models_wall_seconds") and f.get("models_wall_seconds"):
                ratios["incremental_models_over_full_models"] = round(
                    n["models_wall_seconds"] / f["models_wall_seconds"], 3)
            ratios["nightly_over_ingest_plus_full"] = round(
                n["seconds"] / (n["ingest_seconds"] + n.get("safety_seconds", 0) + f["seconds"]), 3)
            if "ingest" in med:
                ratios["night2_ingest_over_night1_ingest"] = round(n["ingest_seconds"] / med["ingest"]["seconds"], 3)
        for workers in spark_workers:
            spark = med.get(spark_stage(workers))
            if spark and "full2" in med:
                ratios[f"{spark_stage(workers)}_over_full2"] = round(spark["seconds"] / med["full2"]["seconds"], 3)
            if spark and workers != spark_workers[0] and spark_stage(spark_workers[0]) in med:
                ratios[f"{spark_stage(workers)}_over_{spark_stage(spark_workers[0])}"] = round(
                    spark["seconds"] / med[spark_stage(spark_workers[0])]["seconds"], 3)
            spark_equal = [r[spark_stage(workers)]["mart_rows_equal"] for r in reps if spark_stage(workers) in r]
            med.get(spark_stage(workers), {})["mart_rows_equal"] = all(spark_equal) if spark_equal else None
        equal = [r["full2"].get("marts_equal") for r in reps if "full2" in r]
        sizes[students] = {"stages": med, "ratios": ratios,
                           "marts_equal_after_full_refresh": all(equal) if equal else None}
    lines = {}
    for stage in stages:
        pts = [(s, v["stages"][stage]["seconds"]) for s, v in sizes.items() if stage in v["stages"]]
        line = fit_line(pts)
        if line:
            lines[stage] = line
    for part, stage in (("dbt_seconds", "nightly"), ("ingest_seconds", "nightly")):
        pts = [(s, v["stages"][stage][part]) for s, v in sizes.items() if part in v["stages"].get(stage, {})]
        line = fit_line(pts)
        if line:
            lines[f"{stage}.{part.removesuffix('_seconds')}"] = line
    return {"sizes": sizes, "lines": lines}


def print_nights(runs: dict[int, list[dict]], echo=print) -> None:
    """Per size, the first run's nights: raw size, raw MiB added, and the nightly job's parts."""
    for students, reps in sorted(runs.items()):
        rep = reps[0]
        if "nights" not in rep:
            continue
        first = rep["ingest"]["raw_mib"]
        echo(f"\n{students} students, {len(rep['nights'])} nights after the first (raw after night 1:"
             f" {first:.1f} MiB; COPY of night 1 with meta columns: {rep['copy_meta']['seconds']:.2f}s)")
        echo(f"{'night':<11} {'raw MiB':>8} {'added':>7} {'x first':>7} {'ingest':>7} {'safety':>7} {'dbt':>7}"
             f" {'nightly':>8} {'peak MiB':>8}")
        before = first
        for r in rep["nights"]:
            echo(f"{r['night']:<11} {r['raw_mib']:8.1f} {r['raw_mib'] - before:7.2f} {r['raw_mib'] / first:7.2f}"
                 f" {r['ingest_seconds']:7.2f} {r['safety_seconds']:7.2f} {r['dbt_seconds']:7.2f}"
                 f" {r['seconds']:8.2f} {r['peak_rss_mib']:8.0f}")
            before = r["raw_mib"]
        last = rep["full_last"]
        echo(f"full refresh of the last night: {last['seconds']:.2f}s; marts equal to the nightly runs':"
             f" {last['marts_equal']}")


def print_table(summary: dict, echo=print) -> None:
    echo("")
    echo("seconds: median of the runs; models/tests: wall-clock seconds during which dbt ran a model/a test")
    echo(f"{'students':>9} {'stage':<10} {'seconds':>9} {'models':>8} {'tests':>8} {'peak MiB':>9}"
         f"  {'load(1m)':<16} runs")
    for students, v in summary["sizes"].items():
        for stage, e in v["stages"].items():
            loads = ",".join(f"{x:.1f}" for x in e["load_1min"])
            runs = ",".join(f"{x:.2f}" for x in e["seconds_all"])
            models = f"{e['models_wall_seconds']:8.2f}" if e.get("models_wall_seconds") is not None else f"{'':8}"
            tests = f"{e['tests_wall_seconds']:8.2f}" if e.get("tests_wall_seconds") is not None else f"{'':8}"
            echo(f"{students:>9} {stage:<10} {e['seconds']:>9.2f} {models} {tests} {e['peak_rss_mib']:>9.0f}"
                 f"  {loads:<16} {runs}")
            if stage == "ingest":
                echo(f"{'':>9} {'':<10}   = find (hash) {e.get('find_seconds') or 0:.2f}s"
                     f" + validate {e['validate_seconds']:.2f}s"
                     f" + archive (beyond validate) {e.get('archive_seconds') or 0:.2f}s"
                     f" + land (dlt) {e['land_seconds']:.2f}s"
                     f" + statistics {e.get('statistics_seconds') or 0:.2f}s + check {e.get('check_seconds') or 0:.2f}s"
                     f" + record {e.get('record_seconds') or 0:.2f}s + the rest {e['rest_seconds']:.2f}s")
            if stage.startswith("spark_"):
                echo(f"{'':>9} {'':<10}   = dbt build on the loopback cluster; the lake written whole before it in"
                     f" {e['lake_seconds']:.2f}s, kept in step for the night in {e['lake_night_seconds']:.2f}s"
                     f" ({e['lake_night_rows']} rows); every mart's row count equals Postgres's:"
                     f" {e['mart_rows_equal']}")
            if stage == "nightly":
                echo(f"{'':>9} {'':<10}   = ingest {e['ingest_seconds']:.2f}s + safety {e['safety_seconds']:.2f}s"
                     f" + dbt {e['dbt_seconds']:.2f}s")
        r = v["ratios"]
        echo(f"{'':>9} ratios: " + ", ".join(f"{k} {x:.2f}" for k, x in r.items()))
        echo(f"{'':>9} marts after the incremental night equal a full refresh: {v['marts_equal_after_full_refresh']}")
    echo("")
    echo("time = fixed + slope * students (least squares over the sizes):")
    for stage, line in summary["lines"].items():
        echo(f"  {stage:<16} fixed {line['fixed_seconds']:7.2f}s  {line['seconds_per_1k_students']:7.4f}s per 1k"
             f" students  R^2 {line['r2']:.4f}")


def machine() -> dict:
    import platform

    info = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        import psycopg2

        s = server_settings()
        conn = psycopg2.connect(host=s.host, port=s.port, user=s.user, password=s.password, dbname="postgres")
        with conn.cursor() as cur:
            cur.execute("select version()")
            info["postgres"] = cur.fetchone()[0]
            for name in ("shared_buffers", "work_mem", "maintenance_work_mem", "max_wal_size",
                         "synchronous_commit", "wal_level"):
                cur.execute(f"show {name}")
                info[name] = cur.fetchone()[0]
        conn.close()
    except Exception as exc:  # noqa: BLE001 - informative only
        info["postgres"] = f"unknown ({exc})"
    try:
        import dlt

        info["dlt"] = dlt.__version__
    except Exception:  # noqa: BLE001
        pass
    return info


def run_bench(sizes: tuple[int, ...], out: Path | None, repeat: int = 1, data_root: Path = DEFAULT_DATA,
              keep: bool = False, prior_years: int = 0, history_nights: int = 0, nights: int = 0,
              districts: int = 1, spark_workers: tuple[int, ...] = ()) -> dict:
    server = server_settings()
    started = dt.datetime.now().astimezone()
    runs: dict[int, list[dict]] = {s: [] for s in sizes}
    for i in range(repeat):
        for students in sizes:
            _say(f"run {i + 1}/{repeat}: {students} students")
            runs[students].append(bench_size(students, data_root, server, keep, prior_years, history_nights,
                                             nights, districts, spark_workers))
    summary = summarise(runs, spark_workers)
    report = {
        "command": " ".join(["sis-sync", "bench", *sys.argv[2:]]) if len(sys.argv) > 1 else "sis-sync bench",
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nights": [NIGHT1.isoformat(), NIGHT2.isoformat()],
        "prior_nights": [d.isoformat() for d in prior_nights(prior_years, history_nights)],
        "districts": district_ids(districts),
        "machine": machine(),
        "summary": summary,
        "runs": {str(k): v for k, v in runs.items()},
    }
    print_table(summary)
    if nights:
        print_nights(runs)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        _say(f"wrote {out}")
    return report


# --- the child: one stage -------------------------------------------------------------------------------


def _settings(args: dict):
    settings = server_settings().for_database(args["database"])
    settings.export()
    return settings


def _checkpoint(settings) -> None:
    """Start every timed stage from a clean WAL, so one stage does not pay for the previous one's writes."""
    import psycopg2

    conn = psycopg2.connect(host=settings.host, port=settings.port, user=settings.user,
                            password=settings.password, dbname=settings.database)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("checkpoint")
    conn.close()


def stage_copy(args: dict) -> dict:
    """The floor: COPY every CSV file of the night into a typed, unindexed table of its own."""
    from sis_sync.db import connect
    from sis_sync.ingestion.spec import RAW_META_COLUMNS, load_spec

    settings = _settings(args)
    spec = load_spec()
    folders = [Path(args["drop"]) / district_id / args["night"] for district_id in args["districts"]]
    schema = "bench_copy_meta" if args["meta"] else "bench_copy"
    conn = connect(settings)
    tables = [f for f in spec.files if (folders[0] / f.file_name).exists()]
    files = [(f, folder / f.file_name) for folder in folders for f in tables]
    with conn.cursor() as cur:
        cur.execute(f"drop schema if exists {schema} cascade; create schema {schema}")
        for f in tables:
            cols = [f"{c.name} {c.pg_type}" for c in f.columns]
            if args["meta"]:
                defaults = {"_district_id": f"'{DISTRICT}'", "_export_date": f"'{args['night']}'",
                            "_load_id": "'19a8c0b4e2f1a3b7c'", "_line_number": f"nextval('{schema}.{f.name}_line')",
                            "_change": "'added'", "_key_hash": "0", "_row_hash": "0"}
                cur.execute(f"create sequence {schema}.{f.name}_line start 2")
                cols += [f"{n} {t} default {defaults[n]}" for n, t in RAW_META_COLUMNS.items()]
            cur.execute(f"create table {schema}.{f.name} ({', '.join(cols)})")
    conn.commit()
    _checkpoint(settings)
    per_file = {}
    rows = 0
    started = time.perf_counter()
    with conn.cursor() as cur:
        for f, path in files:
            t = time.perf_counter()
            columns = ", ".join(c.name for c in f.columns)
            with open(path, "rb") as fh:
                cur.copy_expert(f"copy {schema}.{f.name} ({columns}) from stdin with (format csv, header true)",
                                fh, size=1 << 20)
            rows += cur.rowcount
            per_file[f.file_name] = round(per_file.get(f.file_name, 0) + time.perf_counter() - t, 3)
    conn.commit()
    seconds = time.perf_counter() - started
    with conn.cursor() as cur:
        cur.execute(f"drop schema {schema} cascade")
    conn.commit()
    conn.close()
    return {"seconds": round(seconds, 3), "rows": rows, "per_file": per_file,
            "bytes": sum(p.stat().st_size for _, p in files)}


def stage_ingest(args: dict) -> dict:
    """Our ingest of one night of every district (ingest_exports), timed by phase (summed over the districts):
    validate, land (dlt), ledger."""
    from sis_sync.ingestion import load
    from sis_sync.nightly import prepare_warehouse

    settings = _settings(args)
    prepare_warehouse(settings)
    _checkpoint(settings)
    started = time.perf_counter()
    night = dt.date.fromisoformat(args["night"])
    results = load.ingest_exports(settings, [load.ExportToIngest(Path(args["drop"]), district_id, night)
                                             for district_id in args["districts"]])
    seconds = time.perf_counter() - started
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        raise failed[0]
    phases = _summed(result.seconds for result in results)  # where the ingest's time went, as it measures it
    out = {"seconds": round(seconds, 3), "summary": "; ".join(r.summary() for r in results[:3])}
    for phase in ("find", "validate", "archive", "land", "statistics", "check", "record"):
        out[f"{phase}_seconds"] = round(phases.get(phase, 0), 3)
    out["rest_seconds"] = round(seconds - sum(phases.values()), 3)  # what no phase holds: the raw layer's check
    out["rows"] = sum(r.row_count or 0 for result in results for r in result.rows if r.status == "loaded")
    out["raw_mib"] = raw_mib(settings)
    out["dlt_steps"] = {step: round(spent, 3)
                        for step, spent in _summed(result.dlt_seconds for result in results).items()}
    return out


def _summed(parts) -> dict[str, float]:
    """The seconds of each named part, added up over the districts' dicts."""
    total: dict[str, float] = {}
    for seconds in parts:
        for name, spent in seconds.items():
            total[name] = total.get(name, 0.0) + spent
    return total


def _dbt_nodes(target: Path) -> dict:
    """Seconds per resource type and the slowest nodes, from dbt's run_results.json."""
    path = target / "run_results.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    per_type: dict[str, float] = {}
    counts: dict[str, int] = {}
    nodes = []
    for r in data.get("results", []):
        kind = r["unique_id"].split(".")[0]
        per_type[kind] = per_type.get(kind, 0.0) + (r.get("execution_time") or 0.0)
        counts[kind] = counts.get(kind, 0) + 1
        nodes.append((r.get("execution_time") or 0.0, r["unique_id"], r.get("status")))
    nodes.sort(reverse=True)
    walls = {kind: round(_union_seconds(spans), 3) for kind, spans in _spans(data).items()}
    return {
        "models_wall_seconds": walls.get("model", 0.0),
        "tests_wall_seconds": walls.get("test", 0.0),
        "models_seconds": round(per_type.get("model", 0.0), 3),
        "tests_seconds": round(per_type.get("test", 0.0), 3),
        "seeds_seconds": round(per_type.get("seed", 0.0), 3),
        "node_counts": counts,
        "slowest": [{"node": n, "seconds": round(t, 3), "status": s} for t, n, s in nodes[:15]],
        "models": {n.split(".")[-1]: round(t, 3) for t, n, _ in nodes if n.startswith("model.")},
    }


def _spans(run_results: dict) -> dict[str, list[tuple[float, float]]]:
    """(start, end) of each node's execution, per resource type."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for r in run_results.get("results", []):
        for t in r.get("timing", []):
            if t.get("name") == "execute" and t.get("started_at") and t.get("completed_at"):
                start = dt.datetime.fromisoformat(t["started_at"].replace("Z", "+00:00")).timestamp()
                end = dt.datetime.fromisoformat(t["completed_at"].replace("Z", "+00:00")).timestamp()
                spans.setdefault(r["unique_id"].split(".")[0], []).append((start, end))
    return spans


def _union_seconds(spans: list[tuple[float, float]]) -> float:
    """Wall-clock time during which at least one of the spans ran."""
    total, end = 0.0, None
    for a, b in sorted(spans):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def _dbt_env(args: dict) -> Path:
    """dbt's target and log folders: the benchmark's own (one target per database, kept between stages so
    that dbt parses the project once, as a scheduler's nightly runs do), never the project's target/."""
    target = Path(args["dbt_dir"]) / "target"
    os.environ.update(DBT_TARGET_PATH=str(target), DBT_LOG_PATH=str(Path(args["dbt_dir"]) / "logs"),
                      DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_LOG_LEVEL_FILE="none", DBT_WRITE_JSON="true",
                      DBT_QUIET="true", DBT_PRINTER_WIDTH="120")
    os.environ.pop("DBT_PARTIAL_PARSE", None)
    (target / "run_results.json").unlink(missing_ok=True)
    return target


def stage_parse(args: dict) -> dict:
    """Not timed: parse the project once, so that the timed builds start from dbt's partial parse."""
    from dbt.cli.main import dbtRunner

    _settings(args)
    _dbt_env(args)
    res = dbtRunner().invoke(["parse", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT)])
    if not res.success:
        raise RuntimeError(f"dbt parse failed: {res.exception}")
    return {"seconds": 0.0}


def mart_digests(settings) -> dict[str, list]:
    """Per mart: row count and an order-free checksum of its rows."""
    from sis_sync.db import connect

    out = {}
    with connect(settings) as conn, conn.cursor() as cur:
        for mart in MARTS:
            cur.execute(f"select count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)"
                        f"::text from marts.{mart} as t")
            out[mart] = list(cur.fetchone())
    return out


def raw_mib(settings) -> float:
    """The raw layer's size on disk (every table of the raw schema, indexes and TOAST included), in MiB."""
    from sis_sync.db import connect

    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("select coalesce(sum(pg_total_relation_size(c.oid)), 0) from pg_class as c"
                    " join pg_namespace as n on n.oid = c.relnamespace where n.nspname = 'raw_sis'"
                    " and c.relkind = 'r'")
        return round(float(cur.fetchone()[0]) / (1 << 20), 2)


def stage_full(args: dict) -> dict:
    """``dbt build --full-refresh`` for the night (the nightly's dbt build, unit tests excluded)."""
    from sis_sync.nightly import dbt_build

    settings = _settings(args)
    before = mart_digests(settings) if args.get("compare") else None
    target = _dbt_env(args)
    _checkpoint(settings)
    outcome = dbt_build(dt.date.fromisoformat(args["night"]), full_refresh=args.get("full_refresh", False))
    out = {"seconds": round(outcome.seconds, 3), "dbt_ok": outcome.ok, "passed": outcome.passed,
           "failed": outcome.failed, "warned": outcome.warned, "errors": outcome.errors[:5],
           **_dbt_nodes(target)}
    if before is not None:
        after = mart_digests(settings)
        out["marts_equal"] = before == after
        out["marts_differing"] = [m for m in MARTS if before[m] != after[m]]
        out["mart_rows"] = {m: int(after[m][0]) for m in MARTS}
    if not outcome.ok:
        raise RuntimeError(f"dbt build failed: {outcome.errors[:3]}")
    return out


def stage_nightly(args: dict) -> dict:
    """The next night's nightly job: ingest every district (with the record of each load's changes that the
    safety thresholds read: ``safety_seconds``), incremental dbt build (the thresholds applied)."""
    import sis_sync.ingestion.load  # noqa: F401 - imported before the clock starts, as in a scheduler's process
    from sis_sync.nightly import dbt_build, ingest_districts, read_holds

    settings = _settings(args)
    target = _dbt_env(args)
    night = dt.date.fromisoformat(args["night"])
    _checkpoint(settings)
    started = time.perf_counter()
    nights = ingest_districts(settings, None, Path(args["drop"]), night, tuple(args["districts"]))
    ingested = time.perf_counter()
    outcome = dbt_build(night)
    finished = time.perf_counter()
    read_holds(settings, nights, night)
    problems = [p for n in nights for p in n.problems]
    if problems or not outcome.ok:
        raise RuntimeError(f"nightly failed: {problems[:3]} {outcome.errors[:3]}")
    safety = sum(night.seconds.get("record", 0.0) for night in nights)  # the change record, with the ledger
    return {"seconds": round(finished - started, 3), "night": args["night"], "raw_mib": raw_mib(settings),
            "ingest_seconds": round(ingested - started - safety, 3),
            "safety_seconds": round(safety, 3),
            "dbt_seconds": round(finished - ingested, 3),
            "loaded": sum(n.loaded for n in nights), "unchanged": sum(n.unchanged for n in nights),
            "passed": outcome.passed, "warned": outcome.warned,
            **_dbt_nodes(target)}


def stage_spark(args: dict) -> dict:
    """Night 2's marts built on Spark (``--target spark``), beside ``full2`` on Postgres: the raw layer written
    to the lake (``lake_seconds``), then a full ``dbt build`` (seeds, models, tests) through the Thrift server
    of a loopback cluster of ``workers`` workers of one core each (:mod:`sis_sync.spark_cluster`; its start is
    not timed, nor dbt's parse); every mart's rows counted on both engines (counts,
    not checksums: the suite's Spark test compares the rows themselves)."""
    from dbt.cli.main import dbtRunner

    from sis_sync import lake
    from sis_sync.db import connect
    from sis_sync.nightly import dbt_build
    from sis_sync.spark_cluster import LoopbackCluster

    settings = _settings(args)
    folder = Path(args["dbt_dir"]) / f"spark-{args['workers']}"
    args = {**args, "dbt_dir": str(folder)}  # a target folder of its own: a new target parses anew
    target = _dbt_env(args)
    os.environ[lake.LAKE_VAR] = str(folder / "lake")
    with connect(settings) as conn:
        started = time.perf_counter()
        lake.publish(conn)
        lake_seconds = time.perf_counter() - started
        night_seconds, night_rows = _lake_night(conn, dt.date.fromisoformat(args["night"]))
    with LoopbackCluster(folder / "cluster", workers=args["workers"], cores=1, memory=args["memory"]) as cluster:
        os.environ.update(cluster.environment())
        dbtRunner().invoke(["parse", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT),
                            "--target", "spark_thrift"])
        outcome = dbt_build(dt.date.fromisoformat(args["night"]), full_refresh=True, target="spark_thrift")
        spark_rows = {mart: int(cluster.query(f"select count(*) from marts.{mart}")[1][0][0]) for mart in MARTS}
    postgres_rows = {mart: int(rows) for mart, (rows, _checksum) in mart_digests(settings).items()}
    if not outcome.ok:
        raise RuntimeError(f"dbt build on Spark failed: {outcome.errors[:3]}")
    return {"seconds": round(outcome.seconds, 3), "workers": args["workers"], "lake_seconds": round(lake_seconds, 3),
            "lake_night_seconds": round(night_seconds, 3), "lake_night_rows": night_rows,
            "passed": outcome.passed, "warned": outcome.warned, "mart_rows": spark_rows,
            "mart_rows_equal": spark_rows == postgres_rows,
            "marts_differing": [m for m in MARTS if spark_rows[m] != postgres_rows[m]], **_dbt_nodes(target)}


def _lake_night(conn, night: dt.date) -> tuple[float, int]:
    """What keeping the lake in step costs for one night: the night's load files taken out of the lake, and
    the bookkeeping files and the phone map, which a night with loads writes again, then the lake published
    again (the seconds, the rows written)."""
    from sis_sync import lake
    from sis_sync.ingestion.ledger import LEDGER_TABLE

    with conn.cursor() as cur:
        cur.execute(f"select load_id from {LEDGER_TABLE} where export_date = %s and status = 'loaded'", (night,))
        loads = {f"{load_id}.parquet" for (load_id,) in cur.fetchall()}
    conn.commit()
    for path in lake.lake_dir().rglob("*.parquet"):
        if path.name in loads or path.name == "part-0.parquet":
            path.unlink()
    started = time.perf_counter()
    written = lake.publish(conn)
    return time.perf_counter() - started, sum(written.values())


STAGE_FUNCTIONS = {"parse": stage_parse, "copy": stage_copy, "ingest": stage_ingest, "full": stage_full,
                   "nightly": stage_nightly, "spark": stage_spark}


def _child(argv: list[str]) -> int:
    stage, args, out_path = argv[0], json.loads(argv[1]), Path(argv[2])
    try:
        result = STAGE_FUNCTIONS[stage](args)
        result["ok"] = True
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        import traceback

        traceback.print_exc()
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["vm_hwm_mib"] = _vm_hwm_mib()
    out_path.write_text(json.dumps(result, default=str))
    return 0 if result["ok"] else 1


def _vm_hwm_mib() -> float | None:
    """This process's peak resident memory (Linux), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
