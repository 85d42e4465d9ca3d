"""Fixtures of the MarketSharp tests: the stand-in on a real loopback port, a resource pointed
at it, a runner of the engine's ``sync_stream`` with small pages, and the comparison "the
warehouse equals the stand-in" (every id, every property as the reader lands it, the
``_deleted_at`` marks)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from ingestion_pipelines.engine.api.odata import json_ready
from ingestion_pipelines.engine.api.streams import StreamResult, SyncOptions, sync_stream
from ingestion_pipelines.sources.crm.marketsharp import api_streams
from ingestion_pipelines.sources.crm.marketsharp.api_definitions import MarketSharpResource
from ingestion_pipelines.sources.crm.marketsharp.api_names import SETS
from ingestion_pipelines.sources.crm.marketsharp.schema import TABLES, metadata
from ingestion_pipelines.standins.marketsharp import serve


@pytest.fixture
def served():
    """``served(company)`` -> a running stand-in (stopped after the test)."""
    servers = []

    def start(company):
        cm = serve(company)
        servers.append(cm)
        return cm.__enter__()

    yield start
    for cm in servers:
        cm.__exit__(None, None, None)


def resource(server, signed: bool = False, **kw) -> MarketSharpResource:
    """A resource on ``server`` (Basic, or the signed header) with its own budget, fast retries."""
    creds = {k.removeprefix("MARKETSHARP_").lower(): v for k, v in server.env(signed).items()}
    kw.setdefault("backoff_seconds", 0.01)
    kw.setdefault("requests_per_interval", 1000)
    return MarketSharpResource(**{**creds, **kw}, account=f"t{uuid.uuid4().hex[:10]}")


class Syncer:
    """Runs streams of one stand-in into one warehouse through the engine's runner, like the asset."""

    def __init__(self, warehouse, res: MarketSharpResource, page_size: int = 7):
        self.warehouse, self.res, self.page_size = warehouse, res, page_size
        warehouse.setup(metadata)
        self.client = res.client()

    def run(self, stream: str, run_id: str = "", **opts) -> StreamResult:
        o = SyncOptions(run_id=run_id or uuid.uuid4().hex, **opts)
        return sync_stream(self.warehouse.engine, self.client, "marketsharp", api_streams.stream(stream, self.page_size), o)


def stored(warehouse, stream: str) -> dict:
    """id -> (raw, _deleted_at is set) of every row of the stream's table."""
    t = TABLES[stream]
    with warehouse.engine.connect() as c:
        return {r.id: (r.raw, r._deleted_at is not None) for r in c.execute(sa.select(t.c.id, t.c.raw, t.c._deleted_at))}


def expected(company, stream: str) -> dict:
    """The same view of the stand-in: every record as the reader lands it, inactive ones marked."""
    return {k: (json_ready(v), v.get("isActive") is False) for k, v in company.expected(SETS[stream]).items()}


def assert_equal(company, warehouse, stream: str) -> None:
    got, want = stored(warehouse, stream), expected(company, stream)
    assert set(got) == set(want), f"{stream}: {len(set(want) - set(got))} missing, {len(set(got) - set(want))} extra"
    diff = [k for k in want if got[k] != want[k]]
    assert not diff, f"{stream}: {len(diff)} rows differ, e.g. {got[diff[0]]} != {want[diff[0]]}"
