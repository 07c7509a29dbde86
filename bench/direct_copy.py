"""What a landing path without dlt, overlapped with validation, would cost (a measurement, not the product's path).

The product lands validated files with dlt: the validator writes each file's rows as csv files ready for
COPY, and dlt imports them into a load package and COPYs them (no extract or normalize of the rows), once
every file is validated. This script measures the design beyond it, on the same export: validate each file
(the same `validate_file`, its typed batches spilled to an Arrow IPC file), and as soon as a file
is valid, COPY its batches (spec columns + the meta columns, as CSV written by pyarrow) into the raw
table from a worker thread with a connection of its own, then ANALYZE it; the next file is validated
meanwhile, so validation (client CPU) and COPY (server CPU) can use the two cores at once.

    .venv/bin/python bench/direct_copy.py --students 100000 [--workers 2] [--repeat 3]

Prints, per run: the raw COPY floor of the same CSV files, the direct path, and their ratio. Uses a
database of its own on the PG* server (default 127.0.0.1:5432), dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import io
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import pyarrow as pa
import pyarrow.csv as pcsv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sis_sync.bench import DEFAULT_DATA, DISTRICT, NIGHT1, export_folder, server_settings  # noqa: E402
from sis_sync.db import ensure_database  # noqa: E402
from sis_sync.ingestion.raw_layer import ensure_raw_layer  # noqa: E402
from sis_sync.ingestion.spec import (
    FileSpec,  # noqa: E402
    load_spec,  # noqa: E402
)
from sis_sync.ingestion.validate import ARROW_TYPES, arrow_schema, raw_batch, validate_file  # noqa: E402


class _Spill:
    """The typed batches of one file, written as the validator hands them out (an uncompressed Arrow IPC file)
    and read back with the meta columns."""

    def __init__(self, spec: FileSpec, path: Path):
        self.spec = spec
        self.path = path
        self.schema = pa.schema([*(pa.field(c.name, ARROW_TYPES[c.type]) for c in spec.columns),
                                 pa.field("_line_number", pa.int64())])
        self.writer = pa.ipc.new_file(str(path), self.schema)

    def __call__(self, columns: list[pa.Array], lines: pa.Array) -> None:
        self.writer.write_batch(pa.RecordBatch.from_arrays([*columns, lines], schema=self.schema))

    def batches(self, **meta):
        with pa.memory_map(str(self.path)) as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                columns = reader.get_batch(i).columns
                yield raw_batch(self.spec, columns[:-1], columns[-1], **meta)


class _CsvStream(io.RawIOBase):
    """A readable stream of CSV text (no header) made from record batches, one batch at a time."""

    def __init__(self, batches):
        self._batches = iter(batches)
        self._view = memoryview(b"")

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if not self._view:
            batch = next(self._batches, None)
            if batch is None:
                return b""
            out = io.BytesIO()
            pcsv.write_csv(batch, out, write_options=pcsv.WriteOptions(include_header=False))
            self._view = out.getbuffer()
        if size < 0:
            size = len(self._view)
        chunk, self._view = self._view[:size], self._view[size:]
        return bytes(chunk)


def copy_floor(settings, spec, folder: Path) -> float:
    conn = psycopg2.connect(settings.dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("drop schema if exists bench_floor cascade; create schema bench_floor")
    files = [(f, folder / f.file_name) for f in spec.files if (folder / f.file_name).exists()]
    for f, _ in files:
        cur.execute(f"create table bench_floor.{f.name} ({', '.join(f'{c.name} {c.pg_type}' for c in f.columns)})")
    cur.execute("checkpoint")
    conn.autocommit = False
    started = time.perf_counter()
    for f, path in files:
        with open(path, "rb") as fh:
            cur.copy_expert(f"copy bench_floor.{f.name} from stdin with (format csv, header true)", fh, size=1 << 20)
    conn.commit()
    seconds = time.perf_counter() - started
    conn.autocommit = True
    cur.execute("drop schema bench_floor cascade")
    conn.close()
    return seconds


def direct(settings, spec, folder: Path, spill_dir: Path, workers: int, analyze: bool) -> dict:
    conn = psycopg2.connect(settings.dsn)
    ensure_raw_layer(conn, spec)
    conn.autocommit = True
    conn.cursor().execute("checkpoint")
    conn.close()
    load_id = f"{time.time_ns() // 1000:013x}beef"
    files = [f for f in spec.files if (folder / f.file_name).exists()]
    # biggest first: its COPY starts early and the small ones fill in behind it
    files.sort(key=lambda f: -(folder / f.file_name).stat().st_size)
    spent = {"validate": 0.0, "copy": 0.0, "analyze": 0.0}

    def land(f, spill: _Spill) -> None:
        c = psycopg2.connect(settings.dsn)
        try:
            t = time.perf_counter()
            columns = ", ".join(arrow_schema(f).names)
            batches = spill.batches(district_id=DISTRICT, export_date=NIGHT1, load_id=load_id)
            with c.cursor() as cur:
                cur.copy_expert(f"copy raw_sis.{f.name} ({columns}) from stdin with (format csv)",
                                _CsvStream(batches), size=8 << 20)
            c.commit()
            spent["copy"] += time.perf_counter() - t
            if analyze:
                t = time.perf_counter()
                c.autocommit = True
                c.cursor().execute(f"analyze raw_sis.{f.name}")
                spent["analyze"] += time.perf_counter() - t
        finally:
            c.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = []
        for f in files:
            spill = _Spill(f, spill_dir / f"{f.name}.arrow")
            t = time.perf_counter()
            validate_file(f, functools.partial(Path.open, folder / f.file_name, "rb"), on_batch=spill)
            spill.writer.close()
            spent["validate"] += time.perf_counter() - t
            futures.append(pool.submit(land, f, spill))
        for fut in futures:
            fut.result()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, **spent}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=100000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-analyze", action="store_true")
    args = ap.parse_args()
    spec = load_spec()
    drop = export_folder(DEFAULT_DATA, args.students, NIGHT1)
    folder = drop / DISTRICT / NIGHT1.isoformat()
    server = server_settings()
    for _ in range(args.repeat):
        name = f"sis_bench_direct_{uuid.uuid4().hex[:6]}"
        settings = server.for_database(name)
        ensure_database(settings)
        spill_dir = Path(f"/tmp/{name}")
        spill_dir.mkdir()
        try:
            floor = copy_floor(settings, spec, folder)
            d = direct(settings, spec, folder, spill_dir, args.workers, not args.no_analyze)
        finally:
            admin = psycopg2.connect(host=server.host, port=server.port, user=server.user,
                                     password=server.password, dbname="postgres")
            admin.autocommit = True
            admin.cursor().execute(f'drop database "{name}" with (force)')
            admin.close()
            for p in spill_dir.iterdir():
                p.unlink()
            spill_dir.rmdir()
        print(f"{dt.datetime.now():%H:%M:%S} students {args.students} workers {args.workers}: copy floor "
              f"{floor:.2f}s, direct {d['seconds']:.2f}s (validate {d['validate']:.2f}, copy {d['copy']:.2f}, "
              f"analyze {d['analyze']:.2f}, summed over threads) = {d['seconds'] / floor:.2f}x; "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
