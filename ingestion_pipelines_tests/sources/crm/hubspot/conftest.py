"""Fixtures of the HubSpot tests: the stand-in on a real loopback port, a resource pointed at
it, and the comparisons "the warehouse equals the stand-in" (id sets, counts, a checksum of
every property)."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
import sqlalchemy as sa

from ingestion_pipelines.engine.api import ApiClient
from ingestion_pipelines.sources.crm.hubspot.api_streams import OBJECTS
from ingestion_pipelines.sources.crm.hubspot.api_sync import (
    HubspotResource, StreamResult, SyncOptions, sync_associations, sync_object,
)
from ingestion_pipelines.sources.crm.hubspot.schema import TABLES, metadata
from ingestion_pipelines.standins.hubspot import DEFAULT_TOKEN, TYPES, Portal, property_definitions, serve


@pytest.fixture
def served():
    """``served(portal)`` -> a running stand-in (stopped after the test)."""
    servers = []

    def start(portal: Portal):
        cm = serve(portal)
        servers.append(cm)
        return cm.__enter__()

    yield start
    for cm in servers:
        cm.__exit__(None, None, None)


def resource(server, **kw) -> HubspotResource:
    """A resource on ``server`` with its own budget (a fresh portal name), generous unless told."""
    kw.setdefault("requests_per_interval", 1000)
    kw.setdefault("search_per_second", server.portal.limits.search_per_second)
    kw.setdefault("backoff_seconds", 0.02)
    kw.setdefault("access_token", DEFAULT_TOKEN)
    return HubspotResource(base_url=server.url, portal=f"t{uuid.uuid4().hex[:10]}", **kw)


class Syncer:
    """Runs streams of one portal into one warehouse, like the asset does."""

    def __init__(self, warehouse, res: HubspotResource):
        self.warehouse, self.res = warehouse, res
        warehouse.setup(metadata)
        self.client: ApiClient = res.client()

    def run(self, stream: str, run_id: str = "", **opts) -> StreamResult:
        o = SyncOptions(run_id=run_id or uuid.uuid4().hex, **opts)
        if stream == "associations":
            return sync_associations(self.warehouse.engine, self.res, self.client, o)
        return sync_object(self.warehouse.engine, self.res, self.client, OBJECTS[stream], o)


def checksum(items: dict[int, dict]) -> str:
    """sha256 over ``id -> properties`` (sorted), the same on both sides."""
    h = hashlib.sha256()
    for k in sorted(items):
        h.update(f"{k}:{json.dumps(items[k], sort_keys=True)}\n".encode())
    return h.hexdigest()


def standin_live(portal: Portal, stream: str) -> dict[int, dict]:
    """The stand-in's live records of ``stream``: id -> every defined property (None when unset)."""
    obj = TYPES[OBJECTS[stream].object_type]
    names = [d["name"] for d in property_definitions(obj, portal.extra_properties)]
    return {rid: {n: rec.properties.get(n) for n in names} for rid, rec in portal.live[obj].items()}


def warehouse_live(warehouse, stream: str) -> dict[int, dict]:
    t = TABLES[stream]
    with warehouse.engine.connect() as c:
        rows = c.execute(sa.select(t.c.id, t.c.raw).where(t.c._deleted_at.is_(None))).all()
    return {int(i): dict((raw if isinstance(raw, dict) else json.loads(raw))["properties"]) for i, raw in rows}


def column(warehouse, stream: str, name: str, *where) -> dict[int, object]:
    t = TABLES[stream]
    with warehouse.engine.connect() as c:
        return dict(c.execute(sa.select(t.c.id, t.c[name]).where(*where)).all())


def assert_equal(portal: Portal, warehouse, stream: str) -> None:
    """The warehouse's live rows equal the stand-in's live records: ids, count, checksum."""
    want, got = standin_live(portal, stream), warehouse_live(warehouse, stream)
    assert set(got) == set(want), (len(got), len(want))
    assert checksum(got) == checksum(want)
