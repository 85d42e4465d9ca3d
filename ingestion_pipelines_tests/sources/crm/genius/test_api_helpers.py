"""Helpers of the Genius API sync tests (no tests here): the stand-in on a real loopback port,
a resource and runner pointed at it, and "the warehouse equals the stand-in" — every live
record once, each typed column equal to the stand-in's own value (its Python objects, not the
text it serves), ``raw`` equal to the record as served."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from ingestion_pipelines.engine.api.streams import StreamResult, SyncOptions, sync_stream
from ingestion_pipelines.sources.crm.genius.api_definitions import GeniusResource
from ingestion_pipelines.sources.crm.genius.api_names import SOURCE
from ingestion_pipelines.sources.crm.genius.api_streams import BY_NAME
from ingestion_pipelines.sources.crm.genius.schema import metadata
from ingestion_pipelines.standins.genius import DEFAULT_TOKEN, Genius, serve


@pytest.fixture
def served():
    """``served(genius)`` -> a running stand-in (stopped after the test)."""
    servers = []

    def start(g: Genius):
        cm = serve(g)
        servers.append(cm)
        return cm.__enter__()

    yield start
    for cm in servers:
        cm.__exit__(None, None, None)


def resource(server, **kw) -> GeniusResource:
    """A resource on ``server`` with its own rate budget (a fresh account name); the static
    token unless credentials are given."""
    if "username" not in kw and "password" not in kw:
        kw.setdefault("api_token", DEFAULT_TOKEN)
    kw.setdefault("requests_per_interval", 1000)
    kw.setdefault("interval_seconds", 0.5)  # a 429 without Retry-After waits out one window
    kw.setdefault("backoff_seconds", 0.02)
    return GeniusResource(base_url=server.url, account=f"t{uuid.uuid4().hex[:10]}", **kw)


class Syncer:
    """Runs Genius API streams of one account into one warehouse, as the asset does."""

    def __init__(self, warehouse, res: GeniusResource):
        self.warehouse, self.res = warehouse, res
        warehouse.setup(metadata)
        self.client = res.client()

    def run(self, stream: str, run_id: str = "", **opts) -> StreamResult:
        return sync_stream(self.warehouse.engine, self.client, SOURCE, BY_NAME[stream],
                           SyncOptions(run_id=run_id or uuid.uuid4().hex, **opts))

    def all(self, **opts) -> dict[str, StreamResult]:
        return {s: self.run(s, **opts) for s in BY_NAME}


def _at(record: dict, path: str):
    """The value at a dotted path; KeyError when a step is missing (a misspelt mapping fails)."""
    cur = record
    for part in path.split("."):
        cur = cur[part]
    return cur


def _norm(v):
    return None if v is None else str(v)


def expected(g: Genius, stream: str) -> dict[int, tuple]:
    """id -> the typed columns of ``stream`` as the stand-in holds them (its Python objects)."""
    spec = BY_NAME[stream]
    return {rid: tuple(_norm(_at(rec, (f.aliases or (f.name,))[0])) for f in spec.fields)
            for rid, rec in g.records[stream].items()}


def landed(warehouse, stream: str, *where) -> dict[int, tuple]:
    """id -> the typed columns of the live warehouse rows of ``stream``."""
    spec = BY_NAME[stream]
    t = spec.table
    with warehouse.engine.connect() as c:
        rows = c.execute(sa.select(*[t.c[f.name] for f in spec.fields]).where(t.c._deleted_at.is_(None), *where)).all()
    return {int(r[0]): tuple(_norm(v) for v in r) for r in rows}


def raws(warehouse, stream: str) -> dict[int, dict]:
    import json

    t = BY_NAME[stream].table
    with warehouse.engine.connect() as c:
        return {int(i): (r if isinstance(r, dict) else json.loads(r)) for i, r in c.execute(sa.select(t.c.id, t.c.raw))}


def assert_equal(g: Genius, warehouse, stream: str) -> None:
    """The warehouse's rows of ``stream`` equal the stand-in's records: ids, every typed
    column, ``raw``; and no id twice."""
    want, got = expected(g, stream), landed(warehouse, stream)
    assert set(got) == set(want), (stream, len(got), len(want), sorted(set(got) ^ set(want))[:5])
    diff = [(k, want[k], got[k]) for k in want if want[k] != got[k]][:2]
    assert not diff, (stream, diff)
    assert raws(warehouse, stream) == {rid: g.as_json(stream, rid) for rid in g.records[stream]}
    t = BY_NAME[stream].table
    with warehouse.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(t)).scalar() == len(want)
