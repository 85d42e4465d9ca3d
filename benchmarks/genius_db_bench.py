"""Benchmark: the Genius database sync (prospects + appointments, MariaDB -> PostgreSQL), against
references on the same rows, machine and run (DESIGN.md §8):

* ``pipe``: ``mysql --batch --quick -e "SELECT ..." | psql -c "COPY ... FROM STDIN"`` into the
  same warehouse tables (data columns only: no ``raw``, no change detection, no outcomes);
* ``pipe_raw``: the same pipe with ``raw`` too (a JSON object of every source column, built by
  the same ``CONCAT`` expression the sync sends, ~35 % cheaper than ``JSON_OBJECT``; COPY casts
  it into the ``raw`` JSONB column): what landing these rows as DESIGN.md §10 asks costs with
  no engine at all;
* ``pandas``: ``pandas.read_sql(chunksize=50,000)`` + ``DataFrame.to_sql`` (its own tables);
* ``ours``: :func:`ingestion_pipelines.engine.sql_sync.sync_stream` (full mode, a fresh
  schema): keyset pages, typed values, ``raw`` JSONB, per-row outcomes, watermark and history
  per batch; also ``ours-again`` (the same sync again: every row read and compared, none written).

Each method runs in its own process (peak RSS = that process and its children, ``ru_maxrss``).

    .venv/bin/python benchmarks/genius_db_bench.py --rows 2000000 [--batch-size 5000] \
        [--mysql mysql+pymysql://root@127.0.0.1:3306/test] [--pg postgresql://postgres@127.0.0.1:5432/test]

The MariaDB database ``genius_bench_<rows>`` is generated once (``sample_db.fill``) and kept
for later runs (``--drop`` removes it at the end). Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

TABLES = ("prospect", "appointment")


def _maxrss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def ensure_source(mysql: str, rows: int) -> str:
    """The URL of ``genius_bench_<rows>`` on the server of ``mysql``, generated when missing."""
    from ingestion_pipelines.sources.crm.genius.sample_db import fill

    name = f"genius_bench_{rows}"
    root = sa.create_engine(mysql)
    url = sa.engine.make_url(mysql).set(database=name).render_as_string(hide_password=False)
    with root.begin() as c:
        exists = c.exec_driver_sql(f"SHOW DATABASES LIKE '{name}'").first()
    if exists:
        with sa.create_engine(url).connect() as c:
            have = sum(c.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar() for t in TABLES)
        if have == rows:
            return url
        with root.begin() as c:
            c.exec_driver_sql(f"DROP DATABASE `{name}`")
    with root.begin() as c:
        c.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    t0 = time.perf_counter()
    fill(sa.create_engine(url, connect_args={"charset": "utf8mb4"}),
         counts={"prospect": rows // 2, "appointment": rows - rows // 2}, seed=7)
    print(f"generated {rows:,} rows in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return url


def _schema(pg: str):
    from ingestion_pipelines.resources.warehouse import WarehouseResource
    from ingestion_pipelines.sources.crm.genius.schema import metadata

    wh = WarehouseResource(url=pg, schema_name=f"bench_{uuid.uuid4().hex[:8]}")
    wh.setup(metadata)
    return wh


def _drop(wh) -> None:
    with wh.engine.begin() as c:
        c.exec_driver_sql(f'DROP SCHEMA "{wh.schema_name}" CASCADE')


def run_ours(src_url: str, pg: str, batch_size: int) -> dict:
    from ingestion_pipelines.engine.sql_sync import SyncOptions, sync_stream
    from ingestion_pipelines.resources.mysql import source_engine
    from ingestion_pipelines.sources.crm.genius.db_streams import BY_TABLE

    wh, src = _schema(pg), source_engine(src_url)
    out = {}
    try:
        for label in ("ours", "ours-again"):
            t0, n = time.perf_counter(), 0
            for t in TABLES:
                r = sync_stream(src, wh.engine, BY_TABLE[t], SyncOptions(full=True, batch_size=batch_size),
                                source_name="genius", source_uri="mysql://bench", run_id="bench")
                n += r.report.total
            out[label] = {"seconds": time.perf_counter() - t0, "rows": n}
    finally:
        _drop(wh)
    return {**out, "maxrss_mb": _maxrss_mb()}


def _select(t: str, raw_of: dict | None = None) -> tuple[list[str], str]:
    """The data columns of ``t``'s warehouse table and the MySQL SELECT of them (zero dates
    NULL, as the pipe's COPY could not parse them; renamed keys as ``id``); with ``raw_of``
    (source column name -> reflected type) also ``raw``, a JSON object of those columns."""
    from ingestion_pipelines.engine.sql_sync import _mysql_json
    from ingestion_pipelines.sources.crm.genius.db_streams import BY_TABLE

    st = BY_TABLE[t]
    exprs = []
    for c in st.columns:
        s = st.source_column(c)
        typ = st.table.c[c].type
        if isinstance(typ, (sa.DateTime, sa.Date)):
            exprs.append(f"NULLIF(CAST(`{s}` AS CHAR), '0000-00-00 00:00:00')")
        else:
            exprs.append(f"`{s}`")
    cols = list(st.columns)
    if raw_of:
        src = sa.table(t, *[sa.column(c) for c in raw_of])
        src.info = {"types": raw_of}
        exprs.append(_mysql_json(src, lambda n: f"`{n}`"))
        cols.append("raw")
    return cols, f"SELECT {', '.join(exprs)} FROM {t}"


def run_pipe(src_url: str, pg: str, with_raw: bool = False) -> dict:
    from ingestion_pipelines.sources.crm.genius.db_streams import BY_TABLE

    wh = _schema(pg)
    u = sa.engine.make_url(src_url)
    try:
        t0, n = time.perf_counter(), 0
        for t in TABLES:
            raw_of = None
            if with_raw:
                from ingestion_pipelines.engine.sql_sync import source_columns

                with sa.create_engine(src_url).connect() as c:
                    raw_of = source_columns(c, t)
            cols, select = _select(t, raw_of)
            target = f'"{wh.schema_name}"."{BY_TABLE[t].table.name}"'
            copy = f"COPY {target} ({', '.join(cols)}) FROM STDIN WITH (NULL 'NULL')"
            mysql = ["mysql", "--batch", "--quick", "--skip-column-names", f"-h{u.host}", f"-P{u.port or 3306}",
                     f"-u{u.username}", u.database, "-e", select]
            p1 = subprocess.Popen(mysql, stdout=subprocess.PIPE)
            p2 = subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", pg, "-c", copy], stdin=p1.stdout,
                                capture_output=True, text=True)
            p1.stdout.close()
            if p1.wait() or p2.returncode:
                raise RuntimeError(f"pipe failed: {p2.stderr[-500:]}")
            with wh.engine.connect() as c:
                n += c.exec_driver_sql(f"SELECT COUNT(*) FROM {target}").scalar()
        return {"pipe_raw" if with_raw else "pipe": {"seconds": time.perf_counter() - t0, "rows": n}, "maxrss_mb": _maxrss_mb()}
    finally:
        _drop(wh)


def run_pandas(src_url: str, pg: str) -> dict:
    import pandas as pd

    wh = _schema(pg)
    src = sa.create_engine(src_url, connect_args={"charset": "utf8mb4"})
    try:
        t0, n = time.perf_counter(), 0
        for t in TABLES:
            with src.connect().execution_options(stream_results=True) as conn:
                for chunk in pd.read_sql(sa.text(f"SELECT * FROM {t}"), conn, chunksize=50_000):
                    chunk.to_sql(f"pandas_{t}", wh.engine, schema=wh.schema_name, if_exists="append", index=False)
                    n += len(chunk)
        return {"pandas": {"seconds": time.perf_counter() - t0, "rows": n}, "maxrss_mb": _maxrss_mb()}
    finally:
        _drop(wh)


def _child(method: str, args) -> dict:
    cmd = [sys.executable, __file__, "--child", method, "--rows", str(args.rows), "--mysql", args.mysql,
           "--pg", args.pg, "--batch-size", str(args.batch_size)]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "INGEST_LOG_LEVEL": "WARNING"})
    if out.returncode:
        raise RuntimeError(f"{method} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000, help="prospects + appointments (half each)")
    ap.add_argument("--batch-size", type=int, default=5000, help="rows per warehouse transaction (ours)")
    ap.add_argument("--mysql", default=os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"))
    ap.add_argument("--pg", default=os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--methods", default="pipe,ours,pandas")
    ap.add_argument("--drop", action="store_true", help="drop the generated MariaDB database at the end")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    src_url = ensure_source(args.mysql, args.rows)
    if args.child:
        res = {"ours": lambda: run_ours(src_url, args.pg, args.batch_size), "pipe": lambda: run_pipe(src_url, args.pg),
               "pipe_raw": lambda: run_pipe(src_url, args.pg, with_raw=True),
               "pandas": lambda: run_pandas(src_url, args.pg)}[args.child]()
        print(json.dumps(res))
        return
    results: dict[str, dict] = {}
    for m in args.methods.split(","):
        r = _child(m, args)
        rss = r.pop("maxrss_mb")
        for label, v in r.items():
            results[label] = {**v, "maxrss_mb": rss}
            print(f"{label}: {v['rows']:,} rows in {v['seconds']:.1f} s", file=sys.stderr)
    refs = [r for r in ("pipe", "pipe_raw") if r in results]
    print(f"\n{args.rows:,} rows (prospects + appointments), MariaDB -> PostgreSQL, batch size {args.batch_size}\n")
    print("| method | rows | seconds | rows/s | " + " | ".join(f"vs {r}" for r in refs) + " | peak RSS (MB) |")
    print("|---|---:|---:|---:|" + "---:|" * len(refs) + "---:|")
    for label, v in results.items():
        rate = v["rows"] / v["seconds"]
        ratios = [f"{rate / (results[r]['rows'] / results[r]['seconds']):.2f}x" for r in refs]
        print(f"| {label} | {v['rows']:,} | {v['seconds']:.1f} | {rate:,.0f} | " + " | ".join(ratios)
              + f" | {v['maxrss_mb']:.0f} |")
    if args.drop:
        with sa.create_engine(args.mysql).begin() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS `genius_bench_{args.rows}`")


if __name__ == "__main__":
    main()
