"""A Genius sync killed mid-table (SIGKILL of the process, on the real MariaDB -> PostgreSQL)
and run again ends exact: every row once, the counts of the source, the watermark where the
committed data is, the killed run's history row left ``running`` with what it committed."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time

import sqlalchemy as sa

from ingestion_pipelines.engine.sql_sync import SyncOptions
from ingestion_pipelines.engine.sync_state import history, read_watermark
from ingestion_pipelines.sources.crm.genius.sample_db import fill

from .helpers import assert_same, exec_, source, sync_all, writer

SCRIPT = textwrap.dedent("""
    import sys, time
    from ingestion_pipelines.resources.warehouse import WarehouseResource
    from ingestion_pipelines.engine.sql_sync import SyncOptions
    from ingestion_pipelines_tests.sources.crm.genius.helpers import source, sync_all
    wh = WarehouseResource(url=sys.argv[2], schema_name=sys.argv[3])
    sync_all(source(sys.argv[1]), wh, SyncOptions(batch_size=50, page_size=200), tables=["prospect"],
             on_batch=lambda _r, _n: time.sleep(0.05))
""")


def _run_and_kill(mysql_url: str, wh, after_rows: int) -> None:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, mysql_url, wh.url, wh.schema_name],
                            cwd=os.getcwd(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 40
    try:
        while time.time() < deadline and proc.poll() is None:
            try:
                with wh.engine.connect() as c:
                    rows = history(c, "genius", "prospect", limit=1)
            except sa.exc.DBAPIError:
                rows = []
            if rows and rows[0]["status"] == "running" and rows[0]["rows_read"] >= after_rows:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the sync ended before it was killed: {proc.stderr.read().decode()[-2000:]}"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def test_killed_mid_table_then_rerun_is_exact(mysql_url, pg_warehouse):
    w = writer(mysql_url)
    fill(w, counts={"prospect": 2000}, seed=2)
    wh = pg_warehouse
    wh.setup()
    # 1. a full sync killed mid-table: the rerun scans again, and nothing is there twice
    _run_and_kill(mysql_url, wh, after_rows=300)
    with wh.engine.connect() as c:
        killed = history(c, "genius", "prospect", limit=1)[0]
        assert read_watermark(c, "genius", "prospect") is None  # a cut full scan stores none
    assert killed["status"] == "running" and 300 <= killed["rows_read"] < 2000
    src = source(mysql_url)
    again = sync_all(src, wh, tables=["prospect"])["prospect"]
    assert (again.mode, again.status, again.report.counts["unchanged"]) == ("full", "succeeded", killed["rows_read"])
    assert_same(w, wh, tables=["prospect"])
    # 2. an incremental sync killed mid-table resumes from its last committed batch
    base = dt.datetime(2031, 1, 1)
    exec_(w, "UPDATE prospect SET city = 'moved', updated_at = DATE_ADD(:t, INTERVAL id SECOND)", t=base)
    _run_and_kill(mysql_url, wh, after_rows=300)
    with wh.engine.connect() as c:
        done = history(c, "genius", "prospect", limit=1)[0]
        mark = read_watermark(c, "genius", "prospect").cursor_datetime()
    assert done["mode"] == "incremental" and base < mark < base + dt.timedelta(seconds=2000)
    assert mark == base + dt.timedelta(seconds=done["updated"])  # the watermark is where the committed data is
    resumed = sync_all(src, wh, SyncOptions(lookback=dt.timedelta(0)), tables=["prospect"])["prospect"]
    assert resumed.report.counts["updated"] == 2000 - done["updated"]
    assert resumed.report.total == 2000 - done["updated"] + 1  # re-reads only the watermark's own row
    assert_same(w, wh, tables=["prospect"])
    src.dispose()
    w.dispose()
