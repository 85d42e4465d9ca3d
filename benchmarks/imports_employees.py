"""Benchmark of the `employees` importer (issue 4, item 8) on PostgreSQL.

Measures, on one generated CSV (name, email [, padding]) and the same machine:

* the default batch-aware handler (engine BatchLoader: COPY + one INSERT .. ON CONFLICT per
  batch), with result files, progress logged every batch and flushed to import_jobs every N
  batches — rows/s;
* the same with progress off (no log lines, import_jobs flushed once) — the progress
  overhead is the difference;
* the seed's one-row-at-a-time ``update_or_create`` shape (``employees.handle_row``: SELECT
  then UPDATE or INSERT, a savepoint per row) on the first ``--row-rows`` rows — rows/s;
* peak RSS of a fresh process importing ``--sizes`` rows each (flat = bounded memory).

Usage::

    .venv/bin/python benchmarks/imports_employees.py --rows 1000000 --row-rows 50000 \
        --sizes 100000,1000000 [--pad 0] [--pg postgresql://postgres@127.0.0.1:5432/test]

``--pad N`` adds an N-character column to every row (``--pad 480 --rows 2000000`` makes a
~1 GB file). Prints a Markdown table for BENCHMARKS.md. Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_csv(path: Path, n: int, pad: int = 0, bad_every: int = 1000) -> Path:
    """``n`` data rows; every ``bad_every``-th row has an invalid email (a failed row)."""
    filler = "x" * pad
    with open(path, "w", buffering=1 << 20) as f:
        f.write("name,email" + (",padding" if pad else "") + "\n")
        for i in range(n):
            email = f"user{i}@example.com" if i % bad_every else f"user{i}-at-example.com"
            f.write(f"Person {i},{email}" + (f",{filler}" if pad else "") + "\n")
    return path


class _Null:
    def info(self, *a, **k): pass
    def warning(self, *a, **k): pass
    def error(self, *a, **k): pass


def one_import(pg: str, schema: str, csv_path: str, handler: str, progress: bool, batch_size: int) -> dict:
    """Run one import in this process; returns its numbers."""
    from ingestion_pipelines.resources.storage import LocalBlobStore
    from ingestion_pipelines.resources.warehouse import WarehouseResource
    from ingestion_pipelines.sources.imports.runner import ImportOptions, run_import

    if not progress:
        os.environ["IMPORT_PROGRESS_DB_FLUSH_EVERY_N_BATCHES"] = str(10**9)
    wh = WarehouseResource(url=pg, schema_name=schema)
    store = LocalBlobStore(root=tempfile.mkdtemp(prefix="bench-store-"))
    log = logging.getLogger("bench") if progress else _Null()
    opts = ImportOptions(batch_size=batch_size, handler_path=handler, count_total_first=True)
    t0 = time.perf_counter()
    try:
        o = run_import(wh, store, "employees", csv_path, opts, log=log)
        dt_ = time.perf_counter() - t0
    finally:
        shutil.rmtree(store.root, ignore_errors=True)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": o.processed_rows, "ok": o.success_count, "failed": o.failure_count, "seconds": round(dt_, 2),
            "rows_per_s": round(o.processed_rows / dt_),
            "progress_s": round(o.progress_seconds, 2), "progress_pct": round(100 * o.progress_seconds / dt_, 2),
            "peak_rss_mb": round(rss_mb, 1), "status": o.status,
            "files": bool(o.success_file and o.failed_file)}


def in_subprocess(pg, schema, csv_path, handler, progress, batch_size) -> dict:
    code = (f"import json,sys; sys.path.insert(0, {str(ROOT)!r}); import logging; "
            f"logging.basicConfig(level=logging.INFO, stream=open('/dev/null','w')); "
            f"from benchmarks.imports_employees import one_import; "
            f"print(json.dumps(one_import({pg!r}, {schema!r}, {csv_path!r}, {handler!r}, {progress!r}, {batch_size!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def fresh_schema(pg: str) -> str:
    return f"bench_{uuid.uuid4().hex[:10]}"


def drop_schema(pg: str, schema: str) -> None:
    eng = sa.create_engine(pg.replace("postgresql://", "postgresql+psycopg2://", 1))
    with eng.begin() as c:
        c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    eng.dispose()


def raw_copy(pg: str, path: Path) -> dict:
    """The floor: PostgreSQL COPY of the same CSV into an unindexed text table."""
    schema = fresh_schema(pg)
    eng = sa.create_engine(pg.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        with eng.begin() as c:
            c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            with open(path) as f:
                cols = f.readline().strip().split(",")
            c.exec_driver_sql(f'CREATE TABLE "{schema}".raw ({", ".join(f"{x} text" for x in cols)})')
        raw = eng.raw_connection()
        t0 = time.perf_counter()
        with raw.cursor() as cur, open(path) as f:
            cur.copy_expert(f'COPY "{schema}".raw FROM STDIN WITH (FORMAT csv, HEADER true)', f)
        raw.commit()
        dt_ = time.perf_counter() - t0
        raw.close()
        with eng.connect() as c:
            n = c.exec_driver_sql(f'SELECT count(*) FROM "{schema}".raw').scalar()
    finally:
        eng.dispose()
        drop_schema(pg, schema)
    return {"rows": n, "ok": n, "failed": 0, "seconds": round(dt_, 2), "rows_per_s": round(n / dt_),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "status": "succeeded", "files": False}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default=os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--row-rows", type=int, default=50_000, help="rows for the one-row update_or_create shape")
    ap.add_argument("--sizes", default="100000,1000000", help="row counts for the peak-RSS comparison")
    ap.add_argument("--pad", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: copy,batch,noprogress,row,rss")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    tmp = Path(tempfile.mkdtemp(prefix="bench-imports-"))
    fast = "ingestion_pipelines.sources.imports.employees.handle_batch"
    slow = "ingestion_pipelines.sources.imports.employees.handle_row"
    results = {}
    t = time.perf_counter()
    big = make_csv(tmp / "employees.csv", a.rows, a.pad)
    print(f"generated {a.rows:,} rows ({big.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t:.1f}s",
          file=sys.stderr)

    def run(label, path, handler, progress, **kw):
        schema = fresh_schema(a.pg)
        try:
            r = in_subprocess(a.pg, schema, str(path), handler, progress, a.batch_size)
        finally:
            drop_schema(a.pg, schema)
        results[label] = r
        print(label, r, file=sys.stderr)
        return r

    if "copy" not in skip:
        results["raw COPY (reference)"] = raw_copy(a.pg, big)
        print("raw COPY", results["raw COPY (reference)"], file=sys.stderr)
    if "batch" not in skip:
        run("batch handler, progress on", big, fast, True)
    if "noprogress" not in skip:
        run("batch handler, progress off", big, fast, False)
    if "row" not in skip:
        small = make_csv(tmp / "row.csv", a.row_rows, a.pad)
        run(f"row handler (seed update_or_create), {a.row_rows:,} rows", small, slow, True)
    if "rss" not in skip:
        for n in [int(x) for x in a.sizes.split(",") if x]:
            p = big if n == a.rows else make_csv(tmp / f"rss_{n}.csv", n, a.pad)
            run(f"rss {n:,} rows", p, fast, True)
    print("\n| run | rows | seconds | rows/s | progress time | peak RSS (MB) |\n|---|---:|---:|---:|---:|---:|")
    for k, r in results.items():
        prog = f"{r['progress_s']} s ({r['progress_pct']} %)" if "progress_s" in r else ""
        print(f"| {k} | {r['rows']:,} | {r['seconds']} | {r['rows_per_s']:,} | {prog} | {r['peak_rss_mb']} |")
    print(json.dumps(results))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
