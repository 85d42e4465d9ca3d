"""The engine's declarative API streams (engine/api/streams.py, names.py) against a small
local HTTP API (Starlette on 127.0.0.1, port 0) and a real warehouse: an ordered stream commits
each page with its watermark and a stopped read resumes exactly; positive evidence of deletion
marks ``_deleted_at`` (and clears it when the record is back); an id cursor resumes after the
largest committed id, compared as text for fixed-width hex ids; the ``records`` hook and
whole-record fields; a cross-origin next link and an answer without a record list fail the
stream (never an empty page); the names of :class:`ApiNames`; spec validation."""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ingestion_pipelines.engine.api import AfterId, ApiClient, Endpoint, NextLink, PageNumber, default_retry
from ingestion_pipelines.engine.api.names import ApiNames
from ingestion_pipelines.engine.api.streams import RestStream, SyncOptions, stream_table, sync_stream
from ingestion_pipelines.engine.profiles import Field
from ingestion_pipelines.engine.sync_state import read_watermark
from ingestion_pipelines.standins.serving import start_app

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
PAGE = 10


class Api:
    """The data of the test API: ``items`` (id, updated, name, active), ``events`` (hex id)."""

    def __init__(self, n_items: int = 35, n_events: int = 25):
        self.items = {i: {"id": i, "updated": (T0 + dt.timedelta(minutes=i % 7, seconds=i)).isoformat(),
                          "name": f"item {i}", "active": True} for i in range(1, n_items + 1)}
        # fixed-width hex ids across the 5e.. / 5f.. / all-digit 60.. boundary (float() reads "5e.." as a number)
        self.events = [{"id": f"{0x5E0000000000000000000000 + i * 0x3000000000000000000000:024x}", "kind": "source",
                        "lead": {"id": f"L{i % 9}"}} for i in range(n_events)]
        self.next_origin = ""

    def touch(self, ids, **changes) -> None:
        for i in ids:
            self.items[i].update(changes, updated=(dt.datetime.now(dt.timezone.utc)).isoformat())


def _app(api: Api) -> Starlette:
    def ordered(request: Request):
        q = request.query_params
        rows = sorted(api.items.values(), key=lambda r: (r["updated"], r["id"]))
        if q.get("updated_since"):
            rows = [r for r in rows if dt.datetime.fromisoformat(r["updated"]) >= dt.datetime.fromisoformat(q["updated_since"])]
        page = int(q.get("page", 1))
        return JSONResponse({"data": rows[(page - 1) * PAGE: page * PAGE]})

    def events(request: Request):
        after = request.query_params.get("after_id", "")
        return JSONResponse([e for e in api.events if e["id"] > after][:PAGE])

    def linked(request: Request):
        page = int(request.query_params.get("p", 1))
        rows = sorted(api.items.values(), key=lambda r: r["id"])[(page - 1) * PAGE: page * PAGE]
        base = api.next_origin or f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse({"results": rows, "next": f"{base}/linked?p={page + 1}" if rows else None})

    def broken(request: Request):
        return JSONResponse({"message": "maintenance", "items": None})

    return Starlette(routes=[Route("/ordered", ordered), Route("/events", events), Route("/linked", linked),
                             Route("/broken", broken)])


@contextmanager
def served(api: Api):
    """The test API on a free loopback port: yields its base URL."""
    server = start_app(_app(api), name="test-api")
    try:
        yield server.url
    finally:
        server.stop()


md = sa.MetaData()
ITEM_FIELDS = (Field("id", "integer", required=True), Field("name"), Field("updated_at", "datetime", aliases=("updated",)))
items = stream_table("t_items", md, ITEM_FIELDS, comment="test items")
EVENT_FIELDS = (Field("id", required=True), Field("kind"), Field("lead_id", aliases=("lead.id",)),
                Field("summary", aliases=("",), parse=lambda rec, name: f"{rec['kind']}:{rec['lead']['id']}"))
events = stream_table("t_events", md, EVENT_FIELDS)
LEAD_FIELDS = (Field("id", required=True, aliases=("lead.id",)), Field("last_event", aliases=("id",)))
leads = stream_table("t_leads", md, LEAD_FIELDS)

ORDERED = RestStream("items", Endpoint("/ordered", records="data", paginator=PageNumber()), items, ITEM_FIELDS,
                     cursor="updated", ordered=True, since=lambda t: {"updated_since": t.isoformat()},
                     lookback=dt.timedelta(0))
EVENTS = RestStream("events", Endpoint("/events", records="", paginator=AfterId()), events, EVENT_FIELDS,
                    cursor="id", cursor_type="id", cursor_order="text", ordered=True, after=lambda c: {"after_id": c})


def _client(url: str) -> ApiClient:
    return ApiClient(url, retry=default_retry(1, 0.01))


def _run(warehouse, url, stream, source="t", **opts):
    opts.setdefault("run_id", uuid.uuid4().hex)
    return sync_stream(warehouse.engine, _client(url), source, stream, SyncOptions(**opts))


def _wm(warehouse, stream, source="t"):
    with warehouse.engine.connect() as c:
        return read_watermark(c, source, stream)


def _rows(warehouse, table) -> dict:
    with warehouse.engine.connect() as c:
        return {r.id: r for r in c.execute(sa.select(table))}


def test_an_ordered_stream_commits_each_page_and_resumes_exactly(warehouse):
    api = Api(35)
    with served(api) as url:
        stops = iter([False, True])
        r = _run(warehouse, url, ORDERED, should_stop=lambda: next(stops))
        assert (r.status, r.sync.counts["inserted"]) == ("partial", 20)
        wm = _wm(warehouse, "items")
        second_page_last = sorted(api.items.values(), key=lambda x: (x["updated"], x["id"]))[19]
        assert (wm.cursor_datetime(), wm.id) == (dt.datetime.fromisoformat(second_page_last["updated"]), str(second_page_last["id"]))
        r = _run(warehouse, url, ORDERED)
        assert (r.status, r.sync.mode, r.sync.counts["inserted"]) == ("succeeded", "incremental", 15)
        got = _rows(warehouse, items)
        assert {i: (g.name, g.updated_at.replace(tzinfo=dt.timezone.utc)) for i, g in got.items()} == {
            i: (x["name"], dt.datetime.fromisoformat(x["updated"])) for i, x in api.items.items()}


def test_deleted_evidence_marks_and_a_live_record_clears_it(sqlite_warehouse):
    api = Api(12)
    spec = RestStream("items", ORDERED.endpoint, items, ITEM_FIELDS, cursor="updated", ordered=True,
                      since=ORDERED.since, deleted=lambda rec: rec.get("active") is False)
    api.items[3]["active"] = False
    with served(api) as url:
        r = _run(sqlite_warehouse, url, spec, full=True)
        assert r.sync.counts["deleted"] == 1
        gone = _rows(sqlite_warehouse, items)[3]._deleted_at
        assert gone.replace(tzinfo=dt.timezone.utc) == dt.datetime.fromisoformat(api.items[3]["updated"])
        again = _run(sqlite_warehouse, url, spec, full=True)
        assert (again.sync.counts["deleted"], again.sync.counts["unchanged"]) == (0, 12)  # same mark: unchanged
        api.touch([3], active=True)
        _run(sqlite_warehouse, url, spec)
        assert _rows(sqlite_warehouse, items)[3]._deleted_at is None
        assert len(_rows(sqlite_warehouse, items)) == 12  # nothing deleted, ever


def test_an_id_cursor_resumes_after_the_largest_committed_id_as_text(pg_warehouse):
    api = Api(0, 25)
    ids = [e["id"] for e in api.events]
    assert ids[0].startswith("5e") and any(i.isdigit() for i in ids) and ids == sorted(ids)
    with served(api) as url:
        r = _run(pg_warehouse, url, EVENTS)
        assert (r.status, r.sync.mode, r.sync.counts["inserted"], r.details["pages"]) == ("succeeded", "full", 25, 4)
        assert _wm(pg_warehouse, "events").cursor == ids[-1]
        api.events += [{"id": f"{int(ids[-1], 16) + k:024x}", "kind": "retry", "lead": {"id": "L1"}} for k in (1, 2)]
        r = _run(pg_warehouse, url, EVENTS)
        assert (r.sync.mode, r.sync.counts["rows_read"], r.sync.counts["inserted"]) == ("incremental", 2, 2)
        assert _wm(pg_warehouse, "events").cursor == api.events[-1]["id"]
        got = _rows(pg_warehouse, events)
        assert got[api.events[-1]["id"]].summary == "retry:L1" and got[ids[0]].lead_id == "L0"


def test_the_records_hook_derives_rows(sqlite_warehouse):
    api = Api(0, 20)
    derived = RestStream("leads", EVENTS.endpoint, leads, LEAD_FIELDS,
                         records=lambda page: [r for r in page.records if r["kind"] == "source"])
    with served(api) as url:
        r = _run(sqlite_warehouse, url, derived)
    assert r.status == "succeeded" and r.sync.counts["rows_read"] == 20
    got = _rows(sqlite_warehouse, leads)
    assert set(got) == {f"L{i}" for i in range(9)}
    assert got["L1"].last_event == api.events[19]["id"]  # the latest event of a lead wins (L1: events 1, 10, 19)


def test_a_cross_origin_next_link_fails_the_stream(sqlite_warehouse):
    api = Api(25)
    spec = RestStream("linked", Endpoint("/linked", paginator=NextLink("next")), items, ITEM_FIELDS, cursor="updated")
    with served(api) as url:
        r = _run(sqlite_warehouse, url, spec)
        assert (r.status, r.sync.counts["inserted"]) == ("succeeded", 25)
        api.next_origin = "http://127.0.0.2:9"
        r = _run(sqlite_warehouse, url, spec, source="t2")
    assert r.status == "failed" and "another origin refused" in r.error
    assert r.sync.counts["rows_read"] == 10 and _wm(sqlite_warehouse, "linked", "t2") is None


def test_an_answer_without_records_fails_it_is_never_empty(sqlite_warehouse):
    spec = RestStream("broken", Endpoint("/broken", records="items"), items, ITEM_FIELDS)
    with served(Api(1)) as url:
        r = _run(sqlite_warehouse, url, spec)
    assert r.status == "failed" and "no record list" in r.error


def test_names():
    n = ApiNames("genius", ("users", "marketing-sources"), asset_prefix="api_", prefix="genius_api", sync_source="genius_api")
    assert n.asset_path("marketing-sources") == ("genius", "api_marketing_sources")
    assert (n.job("marketing-sources"), n.all_job, n.job("all")) == ("genius_api_marketing_sources", "genius_api_all", "genius_api_all")
    assert (n.command("marketing-sources"), n.command("all")) == ("sync-genius-marketing-sources", "sync-genius-all")
    assert (n.incremental_schedule, n.full_schedule, n.asset_name) == (
        "genius_api_incremental_schedule", "genius_api_full_schedule", "genius_api_sync")
    assert (n.source, n.resource, n.group, n.account_tag, n.budget) == (
        "genius_api", "genius_api", "genius", "genius/account", "genius-default")
    a = ApiNames("arrivy", ("tasks",))
    assert (a.job("tasks"), a.source, a.resource, a.asset_path("tasks")) == ("arrivy_tasks", "arrivy", "arrivy", ("arrivy", "tasks"))
    with pytest.raises(ValueError):
        ApiNames("x", ("all",))


def test_spec_validation():
    assert [c.name for c in items.c] == ["id", "name", "updated_at", "raw", "_ingested_at", "_source", "_run_id", "_deleted_at"]
    with pytest.raises(ValueError, match="key field"):
        RestStream("x", ORDERED.endpoint, items, ITEM_FIELDS, key=("nope",))
    with pytest.raises(ValueError, match="after="):
        RestStream("x", ORDERED.endpoint, items, ITEM_FIELDS, cursor="id", cursor_type="id")
    with pytest.raises(ValueError, match="no column"):
        RestStream("x", ORDERED.endpoint, items, (*ITEM_FIELDS, Field("extra")))
