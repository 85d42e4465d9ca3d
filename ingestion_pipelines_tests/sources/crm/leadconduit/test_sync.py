"""The LeadConduit API sync against the stand-in (a real local HTTP server), into SQLite and
the real PostgreSQL: a full sync equals the account's events and derived leads exactly; an
incremental sync after new events writes exactly those and updates the lead outcomes; a
re-read never regresses an outcome; a CSV-imported lead updated by the API lands once."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ingestion_pipelines.engine.sync_state import history
from ingestion_pipelines.sources.crm.leadconduit.schema import leadconduit_events
from ingestion_pipelines.standins.leadconduit import Account

from .conftest import Syncer, assert_equal, resource, stored_leads


def test_full_sync_equals_the_account(warehouse, served):
    account = Account.seeded(3, leads=120, retries=15, feedback=5)
    server = served(account)
    s = Syncer(warehouse, resource(server), page=40)
    ev, leads = s.all()
    n = len(account.events)
    assert ev.sync.mode == "full" and ev.sync.counts["inserted"] == n and ev.details["pages"] == -(-n // 40) + 1
    assert leads.sync.counts["inserted"] == 120 and leads.sync.counts["rows_read"] == n
    assert_equal(account, warehouse)
    last = account.events[-1]["id"]
    assert s.watermark("events").cursor == last and s.watermark("leads").cursor == last
    rows = stored_leads(warehouse)
    some = next(iter(rows.values()))
    assert some["id"] != some["source_event_id"] and len(some["id"]) == 24  # vars.lead.id, not the event id
    phones = [r["phone_1"] for r in rows.values() if r["phone_1"]]
    assert phones and all(p.startswith("+1") and len(p) == 12 for p in phones)  # E.164 from raw or normal values
    assert all(r["email"] == r["email"].lower() and r["submission_timestamp"] for r in rows.values())
    assert {r["_source"] for r in rows.values()} == {server.url + "/events"}  # the CSV import writes its file
    with warehouse.engine.connect() as c:
        h = {r["stream"]: r for r in history(c, "leadconduit")}
        first = c.execute(sa.select(sa.func.min(leadconduit_events.c.start_timestamp))).scalar()
    assert h["events"]["status"] == h["leads"]["status"] == "succeeded" and h["events"]["watermark_after"] == last
    assert first == dt.datetime.fromtimestamp(account.events[0]["start_timestamp"] / 1000, dt.timezone.utc) \
        or first.replace(tzinfo=dt.timezone.utc) == dt.datetime.fromtimestamp(
            account.events[0]["start_timestamp"] / 1000, dt.timezone.utc)  # SQLite keeps no zone


def test_incremental_writes_exactly_the_new_events_and_updates_outcomes(warehouse, served):
    account = Account.seeded(5, leads=60, retries=5)
    server = served(account)
    s = Syncer(warehouse, resource(server), page=25)
    s.all()
    before = len(account.events)
    new = account.submit_many(12)
    old_leads = sorted(set(account.lead_ids()[:60]))[:7]
    retried = [account.retry(lid) for lid in old_leads]
    added = len(account.events) - before
    ev, leads = s.all()
    assert ev.sync.mode == "incremental" and ev.sync.counts["inserted"] == added
    assert ev.sync.counts["unchanged"] == 0 and ev.sync.counts["updated"] == 0
    assert leads.sync.counts["rows_read"] == added
    assert leads.sync.counts["inserted"] == 12 and leads.sync.counts["updated"] == len(old_leads)
    assert_equal(account, warehouse)
    rows = stored_leads(warehouse)
    assert all(rows[e["vars"]["lead"]["id"]]["outcome"] == e["outcome"] for e in retried)
    assert len(new) >= 12
    # nothing new: one request, nothing written
    ev2, leads2 = s.all()
    assert ev2.sync.counts["rows_read"] == 0 and ev2.details["requests"] == 1 and leads2.sync.counts["rows_read"] == 0


def test_rereading_old_events_never_regresses_an_outcome(pg_warehouse, served):
    account = Account.seeded(6, leads=30)
    lid = account.lead_ids()[3]
    s = Syncer(pg_warehouse, resource(served(account)), page=10)
    s.all()
    flipped = account.retry(lid)
    s.all()
    # --since the beginning, stopped after the first events: the lead's source event is read again
    ev, leads = s.all(since=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), limit=15)
    assert ev.sync.counts["unchanged"] == 15 and leads.sync.counts["rows_read"] == 15
    assert stored_leads(pg_warehouse)[lid]["outcome"] == flipped["outcome"]
    assert_equal(account, pg_warehouse)
    # a full rebuild of the leads from the stored events: the same table, no request
    r = s.run("leads", full=True)
    assert r.sync.counts["unchanged"] == 30 and r.details["requests"] == 0
