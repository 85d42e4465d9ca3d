"""The HubSpot sync against the stand-in (a real local HTTP server), into SQLite and the real
PostgreSQL: a full sync equals the portal exactly, archived and merged records are marked, an
incremental sync writes exactly the changes (touches in one millisecond, archives, merges,
new records), and a window of changes past the search cap loses nothing.

The search cap is lowered on both sides (1,000 instead of 10,000, 1,200 changes instead of
12,000) so the window test runs in seconds; the logic is the same at any cap."""

from __future__ import annotations

import sqlalchemy as sa

from ingestion_pipelines.sources.crm.hubspot.schema import TABLES, hubspot_associations
from ingestion_pipelines.standins.hubspot import TYPES, Limits, Portal

from .conftest import Syncer, assert_equal, column, resource

OBJECT_STREAMS = ("contacts", "companies", "deals", "appointments")


def test_full_sync_equals_the_portal(warehouse, served):
    # 450 custom properties: the list URL would be ~17k characters, so the properties go in chunks
    portal = Portal.seeded(3, contacts=260, companies=30, deals=40, appointments=50, extra_properties=450)
    server = served(portal)
    s = Syncer(warehouse, resource(server))
    for stream in OBJECT_STREAMS:
        r = s.run(stream)
        assert r.status == "succeeded", r.error
        assert r.sync.mode == "full" and r.sync.counts["inserted"] == len(portal.live[TYPES[stream]])
        assert_equal(portal, warehouse, stream)
    assert r.details["property_chunks"] >= 2 and portal.stats.get("fault_414", 0) == 0
    # typed columns: E.164 phones, timestamps, owner ids as integers
    phones = {p for p in column(warehouse, "contacts", "phone").values() if p}
    assert phones and all(p.startswith("+1") and p[1:].isdigit() for p in phones)
    amounts = column(warehouse, "deals", "amount", TABLES["deals"].c.amount.is_not(None))
    assert amounts and all(float(a) > 0 for a in amounts.values())
    a = s.run("associations")
    assert a.status == "succeeded"
    with warehouse.engine.connect() as c:
        pairs = set(c.execute(sa.select(hubspot_associations.c.from_id, hubspot_associations.c.to_id).where(
            hubspot_associations.c.from_object == "deals", hubspot_associations.c.to_object == "contacts")).all())
    want = {(f, t) for f, ts in portal.assoc[("deals", "contacts")].items() for t in ts}
    assert pairs == want and a.details["inputs_without_complete_answer"] > 0  # deals without contacts: a 207


def test_full_resync_marks_archived_and_merged(warehouse, served):
    portal = Portal.seeded(4, contacts=150, companies=10, deals=10, appointments=10)
    server = served(portal)
    s = Syncer(warehouse, resource(server))
    s.run("contacts")
    ids = sorted(portal.live["contacts"])
    portal.archive("contacts", ids[:4])
    portal.merge("contacts", ids[10], ids[11])
    portal.merge("contacts", ids[10], ids[12])
    r = s.run("contacts", full=True)
    assert r.status == "succeeded" and r.details["archived"] == 4 and r.details["merged"] == 2
    assert set(column(warehouse, "contacts", "_deleted_at", TABLES["contacts"].c._deleted_at.is_not(None))) == \
        set(ids[:4]) | {ids[11], ids[12]}
    assert column(warehouse, "contacts", "merged_into", TABLES["contacts"].c.merged_into.is_not(None)) == \
        {ids[11]: ids[10], ids[12]: ids[10]}
    assert column(warehouse, "contacts", "merged_object_ids")[ids[10]] == f"{ids[11]};{ids[12]}"
    assert_equal(portal, warehouse, "contacts")
    assert r.sync.counts["deleted"] == 6
    # nothing is ever deleted: every id read once is still a row
    assert len(column(warehouse, "contacts", "id")) == 150


def test_incremental_writes_exactly_the_changes(warehouse, served):
    portal = Portal.seeded(5, contacts=300, companies=20, deals=20, appointments=20)
    server = served(portal)
    s = Syncer(warehouse, resource(server))
    for stream in OBJECT_STREAMS:
        s.run(stream)
    ids = sorted(portal.live["contacts"])
    portal.touch("contacts", ids[:40], same_ms=True)       # 40 records in one millisecond
    portal.touch("contacts", ids[40:60])
    portal.archive("contacts", ids[60:63])
    portal.merge("contacts", ids[70], ids[71])
    new = portal.create("contacts", 5)
    deals = sorted(portal.live["deals"])
    portal.touch("deals", deals[:3])
    r = s.run("contacts", run_id="incr")
    assert r.status == "succeeded" and r.sync.mode == "incremental"
    changed = set(ids[:60]) | {ids[70]} | set(new)
    written = set(column(warehouse, "contacts", "_run_id", TABLES["contacts"].c._run_id == "incr"))
    # rewritten by this run: the changed and the archived records (the merged-away one is marked in place)
    assert written == changed | set(ids[60:63])
    assert column(warehouse, "contacts", "merged_into")[ids[71]] == ids[70]
    assert r.sync.counts["inserted"] == 5 and r.sync.counts["updated"] == 61 + 3 and r.sync.counts["deleted"] == 4
    assert_equal(portal, warehouse, "contacts")
    assert r.sync.after.id is not None and r.sync.after.sort_key() > r.sync.before.sort_key()
    d = s.run("deals", run_id="incr-deals")
    assert d.sync.counts["updated"] == 3 and d.sync.counts["inserted"] == 0
    assert_equal(portal, warehouse, "deals")
    # an immediate rerun re-reads the lookback overlap and writes nothing
    again = s.run("contacts", run_id="again")
    assert again.sync.counts["inserted"] == again.sync.counts["updated"] == again.sync.counts["deleted"] == 0


def test_a_window_past_the_search_cap_loses_nothing(warehouse, served):
    portal = Portal.seeded(6, contacts=1500, companies=1, deals=1, appointments=1,
                           limits=Limits(search_cap=1000, search_per_second=50))
    server = served(portal)
    s = Syncer(warehouse, resource(server, search_cap=1000))
    s.run("contacts")
    ids = sorted(portal.live["contacts"])
    portal.touch("contacts", ids[:1050], same_ms=True)     # one millisecond holds more than the cap
    portal.touch("contacts", ids[1050:1200])
    r = s.run("contacts", run_id="window")
    assert r.status == "succeeded", r.error
    assert r.sync.counts["updated"] == 1200
    assert r.details["window_splits"] > 0 and r.details["windows_by_id"] == 1
    assert set(column(warehouse, "contacts", "_run_id", TABLES["contacts"].c._run_id == "window")) == set(ids[:1200])
    assert_equal(portal, warehouse, "contacts")
    assert portal.stats.get("429", 0) == 0


def test_since_and_a_chosen_property_list(sqlite_warehouse, served):
    import datetime as dt

    portal = Portal.seeded(16, contacts=200, companies=1, deals=1, appointments=1)
    server = served(portal)
    s = Syncer(sqlite_warehouse, resource(server))
    since = dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)
    r = s.run("contacts", since=since, properties={"contacts": ["email", "city"]})
    assert r.status == "succeeded" and r.sync.mode == "incremental"
    want = {rid for rid, rec in portal.live["contacts"].items() if rec.updated_ms >= since.timestamp() * 1000}
    assert set(column(sqlite_warehouse, "contacts", "id")) == want and 0 < len(want) < 200
    raw = column(sqlite_warehouse, "contacts", "raw")
    props = set(next(iter(raw.values()))["properties"])
    assert {"email", "city", "lastmodifieddate", "phone"} <= props and "division" not in props
    assert r.details["properties"] < 20
