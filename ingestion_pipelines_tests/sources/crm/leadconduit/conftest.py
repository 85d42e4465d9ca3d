"""Fixtures of the LeadConduit API tests: the stand-in on a real loopback port, a resource
pointed at it, a syncer that runs streams like the asset does (the factory's runner), and the
comparisons "the warehouse equals the stand-in" (events by id and content; leads by id,
outcome, reason and source event)."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest
import sqlalchemy as sa

from ingestion_pipelines.engine.api import Endpoint
from ingestion_pipelines.engine.api.streams import SyncOptions
from ingestion_pipelines.engine.sync_state import read_watermark
from ingestion_pipelines.sources.crm.leadconduit import api_streams
from ingestion_pipelines.sources.crm.leadconduit.api_sync import LeadConduitResource, run
from ingestion_pipelines.sources.crm.leadconduit.schema import METADATAS, leadconduit_events, leadconduit_leads
from ingestion_pipelines.standins.leadconduit import Account, serve


@pytest.fixture
def served():
    """``served(account)`` -> a running stand-in (stopped after the test)."""
    servers = []

    def start(account: Account):
        cm = serve(account)
        servers.append(cm)
        return cm.__enter__()

    yield start
    for cm in servers:
        cm.__exit__(None, None, None)


def resource(server, **kw) -> LeadConduitResource:
    """A resource on ``server`` with its own budget (a fresh account name), fast retries."""
    kw.setdefault("requests_per_interval", 1000)
    kw.setdefault("interval_seconds", 1.0)
    kw.setdefault("backoff_seconds", 0.01)
    kw.setdefault("api_key", server.account.api_key)
    return LeadConduitResource(base_url=server.url, account=f"t{uuid.uuid4().hex[:10]}", **kw)


def events_stream(page: int):
    """``api_streams.EVENTS`` with ``page`` events per request (small data, several pages)."""
    ep = dataclasses.replace(api_streams.EVENTS_ENDPOINT, params={"sort": "asc", "limit": page})
    assert isinstance(ep, Endpoint)
    return dataclasses.replace(api_streams.EVENTS, endpoint=ep)


class Syncer:
    """Runs the streams of one account into one warehouse through the factory's runner."""

    def __init__(self, warehouse, res: LeadConduitResource, page: int = 50):
        self.warehouse, self.res = warehouse, res
        warehouse.setup(*METADATAS)
        self.client = res.client()
        self.streams = {"events": events_stream(page), "leads": api_streams.LEADS_STREAM}

    def run(self, stream: str, **opts):
        o = SyncOptions(run_id=opts.pop("run_id", None) or uuid.uuid4().hex, **opts)
        return run(self.warehouse.engine, self.client, "leadconduit", self.streams[stream], o)

    def all(self, **opts):
        """``leadconduit_all``: events, then leads; both must succeed."""
        ev = self.run("events", **opts)
        assert ev.status == "succeeded", ev.error
        leads = self.run("leads", **opts)
        assert leads.status == "succeeded", leads.error
        return ev, leads

    def watermark(self, stream: str):
        with self.warehouse.engine.connect() as c:
            return read_watermark(c, "leadconduit", stream)


def _json(v):
    return v if isinstance(v, (dict, list)) or v is None else json.loads(v)


def stored_events(warehouse) -> dict[str, dict]:
    t = leadconduit_events
    with warehouse.engine.connect() as c:
        return {i: _json(raw) for i, raw in c.execute(sa.select(t.c.id, t.c.raw))}


def stored_leads(warehouse) -> dict[str, dict]:
    """lead id -> {outcome, reason, source_event_id, ...every column}."""
    t = leadconduit_leads
    with warehouse.engine.connect() as c:
        rows = c.execute(sa.select(t)).mappings().all()
    out = {}
    for r in rows:
        raw = _json(r["raw"]) or {}
        out[r["id"]] = {**dict(r), "source_event_id": raw.get("id")}
    return out


def assert_equal(account: Account, warehouse) -> None:
    """Events: the same ids and every event as sent; leads: the same ids, outcome, reason and
    source event as the stand-in's derivation."""
    got = stored_events(warehouse)
    want = {e["id"]: e for e in account.events}
    assert set(got) == set(want), (len(got), len(want))
    assert all(got[i] == want[i] for i in want)
    leads = stored_leads(warehouse)
    expected = account.expected_leads()
    assert set(leads) == set(expected), (len(leads), len(expected))
    assert {k: (v["outcome"], v["reason"], v["source_event_id"]) for k, v in leads.items()} == \
        {k: (v["outcome"], v["reason"], v["source_event_id"]) for k, v in expected.items()}
