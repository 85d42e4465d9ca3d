"""The HubSpot sync under faults, against the stand-in: 429s, 5xx, 423 and timeouts are
retried and lose nothing; an expired OAuth token is refreshed mid-sync; a request that keeps
failing fails the stream without moving its watermark (an error is never an empty page); a
207 association answer is partial, never "missing"; a sync killed mid-way (SIGKILL of its
process) and run again is exact; the daily quota ends a stream ``partial`` with its state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import sqlalchemy as sa

from ingestion_pipelines.engine.sync_state import history, read_watermark
from ingestion_pipelines.sources.crm.hubspot.schema import TABLES, hubspot_associations
from ingestion_pipelines.standins.hubspot import Fault, Limits, Portal

from .conftest import Syncer, assert_equal, column, resource


def test_faults_are_retried_and_lose_nothing(warehouse, served):
    portal = Portal.seeded(7, contacts=900, limits=Limits(per_interval=40, interval_ms=1000, search_per_second=5))
    server = served(portal)
    # faults take turns (the first queued one that matches is next): every other request fails
    portal.inject(*[Fault(st, skip=1, delay_s=1.2 if st == 0 else 0.0, retry_after=ra)
                    for st, ra in ((503, None), (502, None), (504, None), (423, None), (524, None), (0, None),
                                   (429, None), (429, "1"))])
    # the budget starts wider than the portal allows: the headers teach it the portal's 40 per second
    s = Syncer(warehouse, resource(server, requests_per_interval=200, interval_seconds=1.0, timeout_seconds=0.6))
    r = s.run("contacts")
    assert r.status == "succeeded", r.error
    assert_equal(portal, warehouse, "contacts")
    assert s.client.stats["retries"] == 8 and not portal.faults
    assert s.client.budgets["default"].limit == 40
    ids = sorted(portal.live["contacts"])
    portal.touch("contacts", ids[:300], same_ms=True)
    portal.inject(Fault(503, path_contains="/search"), Fault(0, delay_s=1.2, path_contains="/search", skip=1))
    r = s.run("contacts")
    assert r.status == "succeeded" and r.sync.counts["updated"] == 300
    assert_equal(portal, warehouse, "contacts")


def test_oauth_token_expires_mid_sync(warehouse, served):
    portal = Portal.seeded(8, contacts=500, limits=Limits(token_ttl_s=0.4))
    server = served(portal)
    res = resource(server, access_token=None, client_id=portal.client_id, client_secret=portal.client_secret,
                   refresh_token="standin-refresh-token")
    s = Syncer(warehouse, res)
    s.client.auth.refresh_margin_s = 0.0  # let the token really expire: the 401 path refreshes it
    portal.inject(Fault(0, delay_s=0.5, skip=2))  # one slow answer: the next request meets an expired token
    s.client.timeout_s = 5
    r = s.run("contacts")
    assert r.status == "succeeded", r.error
    assert s.client.auth.refreshes >= 2 and portal.stats["tokens_issued"] >= 2
    assert_equal(portal, warehouse, "contacts")
    bad = Syncer(warehouse, resource(server, access_token=None, client_id=portal.client_id,
                                     client_secret=portal.client_secret, refresh_token="revoked"))
    r = bad.run("companies")
    assert r.status == "failed" and "HUBSPOT_REFRESH_TOKEN" in r.error and "revoked" not in r.error


def test_a_failing_request_fails_the_stream_and_keeps_the_watermark(warehouse, served):
    portal = Portal.seeded(9, contacts=400)
    server = served(portal)
    s = Syncer(warehouse, resource(server, max_retries=2))
    s.run("contacts")
    with warehouse.engine.connect() as c:
        before = read_watermark(c, "hubspot", "contacts")
    ids = sorted(portal.live["contacts"])
    portal.touch("contacts", ids[:250])
    portal.inject(Fault(500, count=100, path_contains="/search", skip=1))  # page 2 of the search keeps failing
    r = s.run("contacts")
    assert r.status == "failed" and "HTTP 500" in r.error
    assert r.sync.counts["updated"] == 200  # page 1 landed, with its watermark
    with warehouse.engine.connect() as c:
        h = history(c, "hubspot", "contacts", limit=1)[0]
        mid = read_watermark(c, "hubspot", "contacts")
    assert h["status"] == "failed" and "HTTP 500" in h["error"]
    assert before.sort_key() < mid.sort_key()
    portal.faults.clear()
    r = s.run("contacts")
    assert r.status == "succeeded"
    assert_equal(portal, warehouse, "contacts")
    # a full listing that fails half-way commits no watermark at all
    portal.inject(Fault(503, count=100, path_contains="/objects/contacts", skip=3))
    r = s.run("contacts", full=True)
    assert r.status == "failed" and r.sync.after == r.sync.before


def test_207_keeps_the_pairs_it_could_not_read(warehouse, served):
    portal = Portal.seeded(10, contacts=80, companies=10, deals=30, appointments=5)
    links = portal.assoc[("deals", "contacts")]
    gone, trimmed = [d for d, ts in links.items() if ts][:2]
    extra = next(c for c in portal.live["contacts"] if c not in links[trimmed])
    portal._link("deals", trimmed, "contacts", extra)  # two contacts on this deal
    server = served(portal)
    s = Syncer(warehouse, resource(server))
    for stream in ("contacts", "companies", "deals", "appointments", "associations"):
        s.run(stream)
    portal.live["deals"].pop(gone)  # the API no longer finds this deal: an error entry of a 207
    links[trimmed].remove(extra)    # a complete answer without this pair: positive evidence
    r = s.run("associations")
    assert r.status == "succeeded" and r.details["inputs_without_complete_answer"] > 0
    t = hubspot_associations
    with warehouse.engine.connect() as c:
        def live(fid):
            return {x for x, in c.execute(sa.select(t.c.to_id).where(
                t.c.from_object == "deals", t.c.to_object == "contacts", t.c.from_id == fid, t.c._deleted_at.is_(None)))}
        assert live(gone) == set(links[gone])  # partial: kept as it was
        assert live(trimmed) == set(links[trimmed]) and extra not in live(trimmed)
    assert r.sync.counts["deleted"] == 1


def test_daily_quota_ends_the_stream_partial_with_its_state(warehouse, served):
    portal = Portal.seeded(11, contacts=450, limits=Limits(daily=4))
    server = served(portal)
    s = Syncer(warehouse, resource(server))
    r = s.run("contacts")
    assert r.status == "partial" and "daily quota" in r.error
    assert 0 < len(column(warehouse, "contacts", "id")) < 450
    with warehouse.engine.connect() as c:
        assert history(c, "hubspot", "contacts", limit=1)[0]["status"] == "partial"


_CHILD = r"""
import json, sys
from ingestion_pipelines.resources.warehouse import WarehouseResource
from ingestion_pipelines.sources.crm.hubspot.api_streams import OBJECTS
from ingestion_pipelines.sources.crm.hubspot.api_sync import HubspotResource, SyncOptions, sync_object
a = json.loads(sys.argv[1])
wh = WarehouseResource(url=a["url"], schema_name=a["schema"])
res = HubspotResource(**a["res"])
sync_object(wh.engine, res, res.client(), OBJECTS["contacts"], SyncOptions(run_id="killed"))
"""


def test_killed_mid_way_and_run_again_is_exact(warehouse, served):
    portal = Portal.seeded(12, contacts=900, limits=Limits(search_per_second=3))
    server = served(portal)
    res = resource(server)
    s = Syncer(warehouse, res)
    s.run("contacts")
    ids = sorted(portal.live["contacts"])
    portal.touch("contacts", ids[:800])
    # the child's second search hangs (longer than the test): it is killed with one page committed
    portal.inject(Fault(0, delay_s=40.0, skip=1, path_contains="/search"))
    args = {"url": warehouse.url, "schema": warehouse.schema_name,
            "res": {k: getattr(res, k) for k in ("base_url", "access_token", "portal", "requests_per_interval",
                                                 "search_per_second")}}
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(args)], env=env)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:  # wait until the child committed its first pages
            with warehouse.engine.connect() as c:
                n = c.execute(sa.select(sa.func.count()).select_from(TABLES["contacts"]).where(
                    TABLES["contacts"].c._run_id == "killed")).scalar()
            if n and n >= 200:
                break
            time.sleep(0.1)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
    assert 200 <= n < 800
    r = s.run("contacts", run_id="resumed")
    # it resumes from the killed run's last committed page (minus the lookback, which here
    # covers every touch: the committed rows come back unchanged)
    assert r.status == "succeeded" and r.sync.counts["updated"] == 800 - n and r.sync.counts["unchanged"] >= n
    assert_equal(portal, warehouse, "contacts")
    with warehouse.engine.connect() as c:
        statuses = [h["status"] for h in history(c, "hubspot", "contacts", limit=3)]
    assert statuses[0] == "succeeded" and statuses[1] == "running"  # the killed run's row says so
