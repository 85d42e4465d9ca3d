"""Benchmark: the campaigns CSV sync (parse + normalise + clients/vendors/groups/campaigns) on a
scaled-up copy of the sample, against references on the same rows and machine.

References (DESIGN.md §8): ``pandas.read_csv`` + ``DataFrame.to_sql`` (chunks of 1000) of the raw
25 text columns, and (PostgreSQL) a raw ``COPY`` of the same CSV into a text table. Ours does
much more per row (25 normalisers, name/email merging, match by name OR track id, upsert with
outcome per row), so the ratio says what that costs. Also: a second sync of the same file (every
row unchanged), rows/s and peak RSS.

    .venv/bin/python benchmarks/campaigns_sync.py --copies 30 [--pg postgresql://postgres@127.0.0.1:5432/test]

Prints a Markdown table (paste into BENCHMARKS.md under ``## campaigns``).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from ingestion_pipelines.resources.warehouse import WarehouseResource  # noqa: E402
from ingestion_pipelines.sources.campaigns import schema  # noqa: E402
from ingestion_pipelines.sources.campaigns.normalise import _MEMO, track_ids  # noqa: E402
from ingestion_pipelines.sources.campaigns.sync import parse_csv, sync_campaign_tables  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "campaigns" / "Spotify Playlisting-All Campaigns.csv"


def scaled_csv(copies: int, path: Path) -> int:
    """Write ``copies`` copies of the sample, each with its own campaign names and track ids."""
    with open(SAMPLE, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for k in range(copies):
            for r in rows:
                r2 = list(r)
                if r2[0].strip():
                    r2[0] = r2[0].replace(" - ", f" {k} - ", 1) if k else r2[0]
                if k:  # every copy has its own clients' emails (no free cache hits across copies)
                    r2[16] = r2[16].replace("@", f"+{k}@")
                try:
                    ids = track_ids(r2[8])
                except ValueError:
                    ids = []
                for t in ids:
                    new = hashlib.sha1(f"{t}{k}".encode()).hexdigest()[:22] if k else t
                    r2[8] = r2[8].replace(t, new)
                w.writerow(r2)
                n += 1
    return n


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def bench(url: str, schema_name: str | None, path: Path, rows: int) -> list[str]:
    wh = WarehouseResource(url=url, schema_name=schema_name)
    wh.setup(schema.metadata)
    _MEMO.clear()  # a cold start for each warehouse
    parsed, t_parse = timed(lambda: parse_csv(path))

    def sync():
        with wh.connect() as conn:
            return sync_campaign_tables(conn, parsed, batch_size=1000)

    r1, t1 = timed(sync)
    r2, t2 = timed(sync)
    assert r2.reports["spotify_campaigns"].counts["inserted"] == 0
    import pandas as pd

    def ref_pandas():
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        with wh.engine.begin() as conn:
            df.to_sql(f"ref_{uuid.uuid4().hex[:8]}", conn, index=False, chunksize=1000, method="multi")
    _, t_pd = timed(ref_pandas)
    out = []
    name = wh.dialect
    ours = t_parse + t1
    out.append(f"| {name} | full sync (parse + 4 tables), {rows:,} rows | {ours:.2f} s | {rows / ours:,.0f} rows/s | "
               f"pandas read_csv+to_sql {t_pd:.2f} s → ×{ours / t_pd:.1f} |")
    out.append(f"| {name} | second sync, all unchanged | {t_parse + t2:.2f} s | {rows / (t_parse + t2):,.0f} rows/s | "
               f"×{(t_parse + t2) / t_pd:.1f} of pandas |")
    if name == "postgresql":
        def ref_copy():
            raw = wh.engine.raw_connection()
            try:
                with raw.cursor() as cur:
                    tbl = f"ref_copy_{uuid.uuid4().hex[:8]}"
                    cols = ", ".join(f"c{i} text" for i in range(25))
                    cur.execute(f'CREATE TABLE "{schema_name}"."{tbl}" ({cols})')
                    with open(path, encoding="utf-8") as f:
                        cur.copy_expert(f'COPY "{schema_name}"."{tbl}" FROM STDIN WITH (FORMAT csv, HEADER true)', f)
                raw.commit()
            finally:
                raw.close()
        _, t_copy = timed(ref_copy)
        out.append(f"| {name} | raw COPY of the CSV into a text table | {t_copy:.2f} s | {rows / t_copy:,.0f} rows/s | "
                   f"ours ×{ours / t_copy:.1f} of COPY |")
    out.append(f"| {name} | (parse + normalise alone) | {t_parse:.2f} s | {rows / t_parse:,.0f} rows/s | |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=30)
    ap.add_argument("--pg", default=os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "campaigns.csv"
        rows = scaled_csv(args.copies, path)
        lines = ["| warehouse | what | time | rate | reference |", "|---|---|---:|---:|---|"]
        lines += bench(f"sqlite:///{d}/bench.db", None, path, rows)
        sch = f"bench_{uuid.uuid4().hex[:8]}"
        try:
            lines += bench(args.pg, sch, path, rows)
        finally:
            eng = sa.create_engine(args.pg.replace("postgresql://", "postgresql+psycopg2://", 1))
            with eng.begin() as c:
                c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{sch}" CASCADE')
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("\n".join(lines))
    print(f"\npeak RSS of the whole benchmark process: {rss:,.0f} MiB; {sys.platform}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
