"""The Genius REST API sync under the stand-in's faults (APIS.md §8): 429 with and without
``Retry-After`` and 5xx are retried and lose nothing; a request that keeps failing fails the
stream with its watermark kept, and the next run is exact; an expired access token is
exchanged again; refused credentials fail at once naming the variable; a next link to another
origin is refused (never followed with our token); a sync SIGKILLed mid-way and run again is
exact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import sqlalchemy as sa
from dagster import Failure

from ingestion_pipelines.engine.sync_state import history, read_watermark
from ingestion_pipelines.sources.crm.genius.api_definitions import GeniusResource
from ingestion_pipelines.sources.crm.genius.api_names import SOURCE
from ingestion_pipelines.sources.crm.genius.api_streams import BY_NAME
from ingestion_pipelines.standins.genius import DEFAULT_PASSWORD, DEFAULT_USERNAME, Fault, Genius, Limits

from ingestion_pipelines_tests.conftest import patched_env

from .test_api_helpers import Syncer, assert_equal, landed, resource, served  # noqa: F401 - fixture


def test_429_and_5xx_are_retried_and_lose_nothing(warehouse, served):
    g = Genius.seeded(11, prospects=90, limits=Limits(max_limit=20))
    g.inject(Fault(429, retry_after="0", skip=1), Fault(429, count=2, skip=1), Fault(503, skip=1), Fault(502),
             Fault(500, path_contains="/appointment/"))
    s = Syncer(warehouse, resource(served(g)))
    for name in ("prospects", "appointments"):
        r = s.run(name)
        assert r.status == "succeeded", r.error
        assert_equal(g, warehouse, name)
    assert {k: g.stats.get(k) for k in ("fault_429", "fault_503", "fault_502", "fault_500")} == {
        "fault_429": 3, "fault_503": 1, "fault_502": 1, "fault_500": 1}
    assert s.client.stats["retries"] == 6


def test_a_request_that_keeps_failing_fails_the_stream_and_keeps_the_watermark(warehouse, served):
    g = Genius.seeded(12, prospects=90, limits=Limits(max_limit=20))
    s = Syncer(warehouse, resource(served(g), max_retries=2))
    s.run("prospects")
    with warehouse.engine.connect() as c:
        before = read_watermark(c, SOURCE, "prospects")
    g.touch("prospects", list(range(1, 60)))
    g.inject(Fault(503, count=10, skip=1))  # the second page never comes
    r = s.run("prospects")
    assert r.status == "failed" and "HTTP 503" in r.error
    assert r.sync.counts["rows_read"] == 20  # what landed is counted, not called a success
    with warehouse.engine.connect() as c:
        assert read_watermark(c, SOURCE, "prospects") == before  # the cursor did not move past missing data
        assert history(c, SOURCE, "prospects", limit=1)[0]["status"] == "failed"
    g.faults.clear()
    again = s.run("prospects")
    assert again.status == "succeeded" and again.sync.counts["updated"] == 59 - 20
    assert_equal(g, warehouse, "prospects")


def test_an_expired_token_is_exchanged_again(pg_warehouse, served):
    g = Genius.seeded(13, prospects=60, limits=Limits(max_limit=20, token_ttl_s=0.3))
    g.on_page.append(lambda genius, stream, offset: time.sleep(0.35) if offset == 20 else None)
    s = Syncer(pg_warehouse, resource(served(g), username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD))
    r = s.run("prospects")
    assert r.status == "succeeded", r.error
    assert g.stats["tokens_issued"] == 2 and g.stats["401_expired"] == 1
    assert_equal(g, pg_warehouse, "prospects")


@pytest.mark.parametrize("creds, variable", [
    ({"username": DEFAULT_USERNAME, "password": "wrong"}, "GENIUS_USERNAME, GENIUS_PASSWORD"),
    ({"api_token": "not-a-token"}, "GENIUS_API_TOKEN"),
])
def test_refused_credentials_fail_fast_naming_the_variable(sqlite_warehouse, served, creds, variable):
    g = Genius.seeded(14, prospects=5)
    s = Syncer(sqlite_warehouse, resource(served(g), **creds))
    t0 = time.monotonic()
    r = s.run("prospects")
    assert r.status == "failed" and variable in r.error and "wrong" not in r.error and "not-a-token" not in r.error
    assert time.monotonic() - t0 < 2 and g.stats.get("requests", 0) + g.stats.get("token_requests", 0) <= 2  # no retries
    assert not landed(sqlite_warehouse, "prospects")


def test_missing_credentials_name_the_variables():
    with patched_env({}, unset=("GENIUS_BASE_URL", "GENIUS_API_URL", "GENIUS_API_TOKEN", "GENIUS_USERNAME",
                                "GENIUS_PASSWORD")):
        with pytest.raises(Failure, match="GENIUS_BASE_URL or GENIUS_API_URL"):
            GeniusResource().client()
        with pytest.raises(Failure, match="GENIUS_API_TOKEN, or GENIUS_USERNAME and GENIUS_PASSWORD"):
            GeniusResource(base_url="http://127.0.0.1:9").client()
        with pytest.raises(Failure, match="GENIUS_PASSWORD") as e:
            GeniusResource(base_url="http://127.0.0.1:9", username="someone").client()
        assert "someone" not in str(e.value)
    with patched_env({"GENIUS_API_URL": "http://127.0.0.1:9/", "GENIUS_API_TOKEN": "tok-123"}):
        res = GeniusResource()  # unset fields read their variables when a run needs them
        assert res.url == "http://127.0.0.1:9" and res.auth().token == "tok-123" and "tok-123" not in repr(res.auth())


def test_a_next_link_to_another_origin_is_refused(sqlite_warehouse, served):
    g = Genius.seeded(15, prospects=50, limits=Limits(max_limit=20))
    other = Genius.seeded(15, prospects=50)  # a server that would answer (and see our token)
    elsewhere = served(other)
    g.limits.next_origin = elsewhere.url
    s = Syncer(sqlite_warehouse, resource(served(g)))
    r = s.run("prospects")
    assert r.status == "failed" and "origin" in r.error
    assert other.stats.get("requests", 0) == 0
    assert len(landed(sqlite_warehouse, "prospects")) == 20


_CHILD = textwrap.dedent("""
    import json, sys
    from ingestion_pipelines.resources.warehouse import WarehouseResource
    from ingestion_pipelines.sources.crm.genius.api_definitions import GeniusResource
    from ingestion_pipelines_tests.sources.crm.genius.test_api_helpers import Syncer
    a = json.loads(sys.argv[1])
    wh = WarehouseResource(url=a["url"], schema_name=a["schema"])
    Syncer(wh, GeniusResource(**a["res"])).run("prospects", run_id="killed")
""")


def test_killed_mid_way_and_run_again_is_exact(pg_warehouse, served):
    g = Genius.seeded(16, prospects=300, limits=Limits(max_limit=25))
    slow = {"on": True}
    g.on_page.append(lambda genius, stream, offset: time.sleep(0.15) if slow["on"] and offset >= 75 else None)
    server = served(g)
    res = resource(server)
    wh = pg_warehouse
    args = {"url": wh.url, "schema": wh.schema_name,
            "res": {k: getattr(res, k) for k in ("base_url", "api_token", "account", "requests_per_interval")}}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(args)], env={**os.environ, "PYTHONPATH": os.getcwd()})
    t = BY_NAME["prospects"].table
    n = 0
    try:
        deadline = time.time() + 60
        while time.time() < deadline and child.poll() is None:
            with wh.engine.connect() as c:
                try:
                    n = c.execute(sa.select(sa.func.count()).select_from(t).where(t.c._run_id == "killed")).scalar()
                except sa.exc.ProgrammingError:  # the table is not there yet
                    c.rollback()
            if n >= 100:
                break
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
    assert 100 <= n < 300
    slow["on"] = False
    s = Syncer(wh, res)
    r = s.run("prospects", run_id="again")
    # the killed full read committed no watermark: the rerun reads everything again, and what
    # the killed run committed comes back unchanged
    assert r.status == "succeeded" and r.sync.mode == "full"
    assert (r.sync.counts["inserted"], r.sync.counts["unchanged"]) == (300 - n, n)
    assert_equal(g, wh, "prospects")
    with wh.engine.connect() as c:
        statuses = [h["status"] for h in history(c, SOURCE, "prospects", limit=2)]
    assert statuses == ["succeeded", "running"]  # the killed run's row says it never finished
