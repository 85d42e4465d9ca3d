"""Arrivy API sync on the engine's declarative streams, against the stand-in (DESIGN.md §8).

What it tells: whether a full sync of ``--tasks`` tasks (~500 per page) is bound by reading
the API or by our conversion and upsert. The stand-in runs in a subprocess (its JSON work
does not share our GIL). Reported, each in seconds and records/s: reading the pages alone
(the API's pace), the full sync (pages read ahead on a thread while the previous one is
written), a second full sync (every row unchanged: the compare path) and the engine's work
alone (conversion + upsert of the same records already in memory, no HTTP); then, in process,
an incremental sync after ``--touched`` changes (exactly those written) — and the check that
the warehouse equals the stand-in (ids).

    .venv/bin/python benchmarks/arrivy_api_bench.py --tasks 20000            # PostgreSQL (TEST_POSTGRES_URL)
    .venv/bin/python benchmarks/arrivy_api_bench.py --tasks 5000 --sqlite
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("INGEST_STATE_DIR", tempfile.mkdtemp(prefix="arrivy_bench_"))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from ingestion_pipelines.engine.api.incremental import StreamWriter  # noqa: E402
from ingestion_pipelines.engine.api.streams import SyncOptions, _write_page, sync_stream  # noqa: E402
from ingestion_pipelines.engine.profiles import RowConverter  # noqa: E402
from ingestion_pipelines.engine.sync_state import StreamSync, sync_state  # noqa: E402
from ingestion_pipelines.resources.warehouse import WarehouseResource  # noqa: E402
from ingestion_pipelines.sources.crm.arrivy.api_definitions import ArrivyResource  # noqa: E402
from ingestion_pipelines.sources.crm.arrivy.api_streams import STREAMS, metadata  # noqa: E402
from ingestion_pipelines.standins import arrivy as standin  # noqa: E402

TASKS = STREAMS[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _timed(label: str, n: int, fn):
    t = time.perf_counter()
    out = fn()
    secs = time.perf_counter() - t
    print(f"{label:<34} {secs:7.2f} s  {n / secs:8.0f} records/s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--touched", type=int, default=200)
    ap.add_argument("--sqlite", action="store_true")
    a = ap.parse_args()
    pg = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    wh = (WarehouseResource(url=f"sqlite:///{tempfile.mkdtemp()}/wh.db") if a.sqlite
          else WarehouseResource(url=pg, schema_name=schema))
    wh.setup(metadata)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ingestion_pipelines.standins.arrivy", "--port", str(port),
                             "--tasks", str(a.tasks), "--page-size", "500"], stdout=subprocess.PIPE, text=True)
    try:
        proc.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        res = ArrivyResource(base_url=url, auth_key=standin.DEFAULT_AUTH_KEY, api_key=standin.DEFAULT_API_KEY,
                             account=schema, requests_per_interval=100_000)
        client = res.client()
        print(f"{a.tasks} tasks, {'SQLite' if a.sqlite else 'PostgreSQL'}; load {os.getloadavg()[0]:.2f}")
        records = _timed("read the pages only", a.tasks, lambda: [
            r for p in client.pages(TASKS.endpoint, params=dict(TASKS.endpoint.params)) for r in p.records])
        r = _timed("full sync", a.tasks, lambda: sync_stream(wh.engine, client, "arrivy", TASKS, SyncOptions(full=True)))
        assert r.sync.counts["inserted"] == a.tasks, r.sync.counts
        r = _timed("full sync again (all unchanged)", a.tasks,
                   lambda: sync_stream(wh.engine, client, "arrivy", TASKS, SyncOptions(full=True)))
        assert r.sync.counts["unchanged"] == a.tasks, r.sync.counts
        _timed("engine only (convert + upsert)", a.tasks, lambda: _engine_only(wh, records))
    finally:
        proc.terminate()
        proc.wait(10)
    _incremental(wh, a)
    if not a.sqlite:
        with wh.engine.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


def _engine_only(wh: WarehouseResource, records: list[dict]) -> None:
    """The records' conversion and upsert as the runner does them, page by page (unchanged rows)."""
    sync = StreamSync.start(wh.engine, "arrivy_bench", "tasks", mode="full", dry_run=True)
    conv = RowConverter(TASKS.converter_profile(), TASKS.header_map())
    now = dt.datetime.now(dt.timezone.utc)
    with StreamWriter(wh.engine, TASKS.load_spec(), sync, {"_source": "bench"}, dry_run=True) as w:
        line = 0
        for i in range(0, len(records), 500):
            line, _ = _write_page(w, conv, TASKS, records[i:i + 500], line, now, ordered=False, order=sync.order)


def _incremental(wh: WarehouseResource, a) -> None:
    """In process: a fresh account, a full sync, ``--touched`` changes, the incremental sync."""
    acc = standin.Account.seeded(seed=2, tasks=min(a.tasks, 5000), page_size=500)
    with standin.serve(acc) as server:
        res = ArrivyResource(base_url=server.url, auth_key=acc.auth_key, api_key=acc.api_key,
                             account=f"inc-{uuid.uuid4().hex[:6]}", requests_per_interval=100_000)
        client = res.client()
        with wh.engine.begin() as c:  # a fresh start for this account
            c.execute(TASKS.table.delete())
            c.execute(sync_state.delete().where(sync_state.c.source == "arrivy_inc"))
        sync_stream(wh.engine, client, "arrivy_inc", TASKS, SyncOptions())
        acc.touch("tasks", sorted(acc.records["tasks"])[: a.touched])
        r = _timed(f"incremental after {a.touched} changes", a.touched,
                   lambda: sync_stream(wh.engine, client, "arrivy_inc", TASKS, SyncOptions()))
        print(f"  read {r.sync.counts['rows_read']}, updated {r.sync.counts['updated']}, requests {r.details['requests']}")
        assert r.sync.counts["updated"] == a.touched, r.sync.counts
        with wh.engine.connect() as c:
            ids = {i for (i,) in c.execute(sa.select(TASKS.table.c.id))}
        assert ids == set(acc.records["tasks"]), "the warehouse differs from the stand-in"
        print("warehouse equals the stand-in (ids)")


if __name__ == "__main__":
    main()
