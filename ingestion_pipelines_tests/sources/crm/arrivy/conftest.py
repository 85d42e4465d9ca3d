"""Fixtures of the Arrivy API tests: the stand-in on a real loopback port, a resource and
client pointed at it (each test its own rate budget), and "the warehouse equals the stand-in"
(the ``raw`` record of every row against the stand-in's records, id for id)."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from ingestion_pipelines.engine.api.streams import StreamResult, SyncOptions, sync_stream
from ingestion_pipelines.sources.crm.arrivy.api_definitions import ArrivyResource
from ingestion_pipelines.sources.crm.arrivy.api_streams import STREAMS, metadata
from ingestion_pipelines.standins.arrivy import DEFAULT_API_KEY, DEFAULT_AUTH_KEY, Account, serve

BY_NAME = {s.name: s for s in STREAMS}


@pytest.fixture
def served():
    """``served(account)`` -> a running stand-in (stopped after the test)."""
    cms = []

    def start(account: Account):
        cm = serve(account)
        cms.append(cm)
        return cm.__enter__()

    yield start
    for cm in cms:
        cm.__exit__(None, None, None)


def resource(server, **kw) -> ArrivyResource:
    """A resource on ``server`` with its own budget, quick backoff."""
    kw.setdefault("auth_key", DEFAULT_AUTH_KEY)
    kw.setdefault("api_key", DEFAULT_API_KEY)
    kw.setdefault("backoff_seconds", 0.01)
    kw.setdefault("requests_per_interval", 1000)
    return ArrivyResource(base_url=server.url, account=f"t{uuid.uuid4().hex[:10]}", **kw)


class Syncer:
    """Runs Arrivy streams into one warehouse, as the asset does."""

    def __init__(self, warehouse, res: ArrivyResource):
        self.warehouse = warehouse
        warehouse.setup(metadata)
        self.client = res.client()

    def run(self, stream: str, **opts) -> StreamResult:
        opts.setdefault("run_id", uuid.uuid4().hex)
        return sync_stream(self.warehouse.engine, self.client, "arrivy", BY_NAME[stream], SyncOptions(**opts))


def stored(warehouse, stream: str) -> dict[int, dict]:
    """id -> raw record of the stream's rows."""
    t = BY_NAME[stream].table
    with warehouse.engine.connect() as c:
        rows = c.execute(sa.select(t.c.id, t.c.raw)).all()
    return {int(i): (raw if isinstance(raw, dict) else json.loads(raw)) for i, raw in rows}


def assert_equal(account: Account, warehouse, stream: str) -> None:
    """The warehouse holds exactly the stand-in's records of ``stream`` (ids and every value)."""
    got = stored(warehouse, stream)
    want = {int(k): v for k, v in account.records[stream].items()}
    assert set(got) == set(want), (len(got), len(want), sorted(set(want) - set(got))[:5])
    diff = [k for k in want if json.dumps(got[k], sort_keys=True) != json.dumps(want[k], sort_keys=True)]
    assert not diff, diff[:5]
