"""The LeadConduit sync under the faults of ``crm/APIS.md`` §8, against the stand-in: 429s
(with and without ``Retry-After``) and 5xx are retried; short pages, a record repeated across
pages and events appended while the sync runs still land exactly; a request that keeps failing
fails the stream with its committed pages kept and the cursor on the last of them (never past,
never an empty page); a killed sync (SIGKILL) and a terminated one resume exactly; wrong or
missing credentials fail naming the variable, and the key is in no log, history row or repr."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import sqlalchemy as sa
from dagster import Failure

from ingestion_pipelines.engine.sync_state import history
from ingestion_pipelines.sources.crm.leadconduit.api_sync import LeadConduitResource
from ingestion_pipelines.standins.leadconduit import Account, Fault

from .conftest import Syncer, assert_equal, resource, stored_events


def test_retried_faults_and_odd_pages_still_land_exactly(pg_warehouse, served):
    account = Account.seeded(7, leads=50, retries=4)
    server = served(account)
    account.inject(Fault(429), Fault(429, retry_after="0"), Fault(503, skip=1), Fault(502),
                   Fault(kind="short", skip=1), Fault(kind="duplicate"), Fault(kind="append", append_leads=6, skip=1))
    s = Syncer(pg_warehouse, resource(server), page=20)
    ev, _ = s.all()
    assert_equal(account, pg_warehouse)
    st = account.stats
    assert st["fault_429"] == 2 and st["fault_503"] == 1 and st["fault_502"] == 1
    assert st["fault_short"] == st["fault_duplicate"] == st["fault_append"] == 1
    assert ev.sync.counts["inserted"] == len(account.events) and ev.sync.counts["unchanged"] == 1  # the repeated one
    assert s.client.stats["retries"] == 4


def test_a_request_that_keeps_failing_keeps_the_cursor_on_committed_data(pg_warehouse, served):
    account = Account.seeded(8, leads=40)
    server = served(account)
    account.inject(Fault(500, count=50, skip=2))  # pages 1-2 answer, page 3 never does
    s = Syncer(pg_warehouse, resource(server, max_retries=2), page=20)
    ev = s.run("events")
    assert ev.status == "failed" and "HTTP 500" in ev.error
    assert len(stored_events(pg_warehouse)) == 40
    assert s.watermark("events").cursor == account.events[39]["id"]
    leads = s.run("leads")
    assert leads.status == "succeeded" and s.watermark("leads").cursor == account.events[39]["id"]
    with pg_warehouse.engine.connect() as c:
        h = [r for r in history(c, "leadconduit", "events")][0]
    assert h["status"] == "failed" and h["rows_read"] == 40 and h["watermark_after"] == account.events[39]["id"]
    account.faults.clear()
    s.all()
    assert_equal(account, pg_warehouse)


def test_a_terminated_sync_resumes_exactly(warehouse, served):
    account = Account.seeded(9, leads=40)
    s = Syncer(warehouse, resource(served(account)), page=15)
    pages = {"n": 0}

    def stop() -> bool:
        pages["n"] += 1
        return pages["n"] >= 2

    ev = s.run("events", should_stop=stop)
    assert ev.status == "partial" and ev.sync.counts["inserted"] == 30
    assert s.watermark("events").cursor == account.events[29]["id"]
    s.all()
    assert_equal(account, warehouse)


_CHILD = """
import sys, uuid
from ingestion_pipelines.engine.api.streams import SyncOptions
from ingestion_pipelines.resources.warehouse import WarehouseResource
from ingestion_pipelines_tests.sources.crm.leadconduit.conftest import Syncer
from ingestion_pipelines.sources.crm.leadconduit.api_sync import LeadConduitResource
url, schema, base, key = sys.argv[1:5]
res = LeadConduitResource(base_url=base, api_key=key, account=uuid.uuid4().hex[:8], timeout_seconds=60)
Syncer(WarehouseResource(url=url, schema_name=schema), res, page=10).run("events")
"""


def test_a_killed_sync_resumes_exactly(pg_url, pg_schema, pg_warehouse, served):
    account = Account.seeded(10, leads=30)
    server = served(account)
    account.inject(Fault(kind="status", status=200, skip=3, delay_s=30))  # the 4th page hangs
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_CHILD), pg_url, pg_schema, server.url,
                              account.api_key], cwd=os.getcwd(), stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(_events_or_none(pg_warehouse)) < 30 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.1)
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    account.faults.clear()
    s = Syncer(pg_warehouse, resource(server), page=10)
    assert s.watermark("events").cursor == account.events[29]["id"]  # the 3 committed pages
    ev, _ = s.all()
    assert ev.sync.counts["inserted"] == len(account.events) - 30 and ev.sync.counts["unchanged"] == 0
    assert_equal(account, pg_warehouse)
    with pg_warehouse.engine.connect() as c:
        statuses = [r["status"] for r in history(c, "leadconduit", "events")]
    assert statuses == ["succeeded", "running"]  # the killed run's row says what landed


def _events_or_none(warehouse) -> dict:
    try:
        return stored_events(warehouse)
    except sa.exc.ProgrammingError:
        return {}


def test_missing_or_wrong_credentials_fail_naming_the_variable(pg_warehouse, served, monkeypatch, caplog):
    for var in ("ACTIVEPROSPECT_API_KEY", "ACTIVEPROSPECT_API_TOKEN", "LEADCONDUIT_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(Failure, match="ACTIVEPROSPECT_API_KEY"):
        LeadConduitResource(base_url="http://127.0.0.1:9").client()
    account = Account.seeded(11, leads=5, api_key="the-real-key-4b1d")
    server = served(account)
    monkeypatch.setenv("ACTIVEPROSPECT_API_KEY", "a-wrong-key-77aa")
    res = LeadConduitResource(base_url=server.url, backoff_seconds=0.01)
    log = logging.getLogger("leadconduit-test")
    caplog.set_level(logging.DEBUG)
    s = Syncer(pg_warehouse, res)
    s.client.log = log
    ev = s.run("events")
    assert ev.status == "failed" and "HTTP 401" in ev.error and "ACTIVEPROSPECT_API_KEY" in ev.error
    assert account.stats["401"] == 1  # refused at once, not retried
    assert stored_events(pg_warehouse) == {} and s.watermark("events") is None
    # the right key, with retries logged: no key anywhere
    monkeypatch.setenv("ACTIVEPROSPECT_API_KEY", account.api_key)
    account.inject(Fault(503))
    s2 = Syncer(pg_warehouse, LeadConduitResource(base_url=server.url, backoff_seconds=0.01))
    s2.client.log = log
    assert s2.run("events").status == "succeeded" and "retry 1" in caplog.text
    with pg_warehouse.engine.connect() as c:
        rows = json.dumps([dict(r) for r in history(c, "leadconduit")], default=str)
    for secret in (account.api_key, "a-wrong-key-77aa"):
        for text in (caplog.text, rows, ev.error, repr(res), repr(s2.res), str(s2.res), repr(s2.client)):
            assert secret not in text
