"""The MarketSharp sync against its stand-in on the real PostgreSQL (DESIGN.md §10): a full
sync equals the stand-in exactly (Atom with invalid XML characters, duplicate entries across
pages, an empty last page; JSON with next links and the signed header), an incremental sync
writes exactly the changes, ``isActive=false`` marks ``_deleted_at`` (nothing deleted), a
reference set is read in full, faults are retried, a request that keeps failing fails the
stream with its watermark kept, a next link to another origin fails it, a sync killed mid-way
(SIGKILL) and run again is exact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import sqlalchemy as sa

from ingestion_pipelines.engine.sync_state import history, read_watermark
from ingestion_pipelines.sources.crm.marketsharp.schema import TABLES
from ingestion_pipelines.standins.marketsharp import Company, Fault, Knobs

from .conftest import Syncer, assert_equal, resource, stored


def _watermark(warehouse, stream: str):
    with warehouse.engine.connect() as c:
        return read_watermark(c, "marketsharp", stream)


def test_full_sync_of_atom_feeds_equals_the_standin(pg_warehouse, served):
    company = Company.seeded(3, contacts=61, knobs=Knobs(dirty_every=4, duplicate_across_pages=True))
    server = served(company)
    s = Syncer(pg_warehouse, resource(server))
    r = s.run("contacts")
    assert r.status == "succeeded" and r.sync.mode == "full"
    assert r.sync.counts["inserted"] == 61 and r.sync.counts["failed"] == 0
    assert_equal(company, pg_warehouse, "contacts")  # cleaned of the invalid characters, each entry once
    inactive = [k for k, v in company.records["Contacts"].items() if not v["isActive"]]
    assert inactive and r.sync.counts["deleted"] == len(inactive)
    with pg_warehouse.engine.connect() as c:
        t = TABLES["contacts"]
        row = c.execute(sa.select(t).where(t.c.id == inactive[0])).mappings().one()
    rec = company.records["Contacts"][inactive[0]]
    assert row["_deleted_at"].replace(tzinfo=None) == rec["lastUpdate"] and row["is_active"] is False
    assert row["last_update"].replace(tzinfo=None) == rec["lastUpdate"] and row["first_name"] == rec["firstName"]
    assert _watermark(pg_warehouse, "contacts").cursor_datetime().replace(tzinfo=None) == max(
        v["lastUpdate"] for v in company.records["Contacts"].values())
    again = s.run("contacts", full=True)
    counts = again.sync.counts  # the repeated entries are read twice, unchanged
    assert counts["unchanged"] == counts["rows_read"] > 61 and counts["inserted"] == counts["updated"] == 0


def test_json_with_next_links_and_the_signed_header(pg_warehouse, served):
    company = Company.seeded(4, appointments=45, knobs=Knobs(server_page=10, empty_last_page=True))
    server = served(company)
    s = Syncer(pg_warehouse, resource(server, signed=True, prefer_json=True), page_size=25)
    r = s.run("appointments")
    assert r.status == "succeeded" and r.sync.counts["inserted"] == 45
    assert_equal(company, pg_warehouse, "appointments")
    assert "401" not in company.stats
    assert r.details["pages"] >= 5  # pages of 10 by next links, then $skip past our $top of 25


def test_incremental_sync_writes_exactly_the_changes(pg_warehouse, served):
    company = Company.seeded(5, jobs=40)
    server = served(company)
    s = Syncer(pg_warehouse, resource(server))
    s.run("jobs")
    ids = sorted(company.records["Jobs"])
    company.touch("Jobs", ids[:4], status="Sold")
    gone = [i for i in ids[10:20] if company.records["Jobs"][i]["isActive"]][:2]
    company.deactivate("Jobs", gone)
    # a changed record that was inactive already is rewritten with its (new) mark: counted deleted too
    new = company.create("Jobs", 3)
    marked = sum(1 for i in [*ids[:4], *gone, *new] if not company.records["Jobs"][i]["isActive"])
    before = stored(pg_warehouse, "jobs")
    r = s.run("jobs")
    assert r.status == "succeeded" and r.sync.mode == "incremental"
    assert (r.sync.counts["inserted"], r.sync.counts["updated"], r.sync.counts["deleted"]) == (3, 6, marked)
    assert r.sync.counts["rows_read"] - 9 == r.sync.counts["unchanged"] <= 2  # the lookback's overlap only
    assert_equal(company, pg_warehouse, "jobs")
    after = stored(pg_warehouse, "jobs")
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed == set(ids[:4]) | set(new) | set(gone) and all(after[k][1] for k in gone)


def test_reference_sets_are_read_in_full_and_marked(pg_warehouse, served):
    company = Company.seeded(6, references=9)
    company.records["ContactTypes"][5]["isActive"] = company.records["ContactTypes"][7]["isActive"] = False
    server = served(company)
    s = Syncer(pg_warehouse, resource(server), page_size=4)
    assert s.run("contact-types").sync.mode == "full"
    first_marks = _marks(pg_warehouse)
    company.records["ContactTypes"][2]["isActive"] = False
    company.records["ContactTypes"][5]["isActive"] = True  # reactivated: the mark goes
    r = s.run("contact-types")
    assert r.sync.mode == "full" and r.sync.counts["rows_read"] == 9
    assert (r.sync.counts["updated"], r.sync.counts["deleted"], r.sync.counts["unchanged"]) == (2, 1, 7)
    assert_equal(company, pg_warehouse, "contact-types")
    marks = _marks(pg_warehouse)
    assert marks[5] is None and marks[2] is not None  # integer ids stay integers
    assert marks[7] == first_marks[7] is not None  # a mark keeps its first time (the row is unchanged)
    assert all(marks[k] == first_marks[k] for k in marks if k not in (2, 5))


def _marks(warehouse) -> dict:
    t = TABLES["contact-types"]
    with warehouse.engine.connect() as c:
        return dict(c.execute(sa.select(t.c.id, t.c._deleted_at)).all())


def test_faults_are_retried_and_lose_nothing(pg_warehouse, served):
    company = Company.seeded(7, leads=50)
    server = served(company)
    company.inject(Fault(429, count=2, retry_after="0", path_contains="/Leads"),
                   Fault(503, count=2, skip=3, path_contains="/Leads"), Fault(500, skip=5))
    r = Syncer(pg_warehouse, resource(server)).run("leads")
    assert r.status == "succeeded" and company.stats["fault_429"] == 2 and company.stats["fault_503"] == 2
    assert_equal(company, pg_warehouse, "leads")


def test_a_request_that_keeps_failing_fails_the_stream_and_keeps_the_watermark(pg_warehouse, served):
    company = Company.seeded(8, employees=30)
    server = served(company)
    s = Syncer(pg_warehouse, resource(server, max_retries=2))
    company.inject(Fault(503, count=50, skip=2, path_contains="/Employees"))
    r = s.run("employees")
    assert r.status == "failed" and "HTTP 503" in r.error
    landed = stored(pg_warehouse, "employees")
    assert len(landed) == 14  # the two pages before the failure, committed with their watermark
    wm = _watermark(pg_warehouse, "employees").cursor_datetime().replace(tzinfo=None)
    assert wm == max(company.records["Employees"][k]["lastUpdate"] for k in landed)
    with pg_warehouse.engine.connect() as c:
        assert history(c, "marketsharp", "employees", limit=1)[0]["status"] == "failed"
    company.faults.clear()
    assert s.run("employees").status == "succeeded"
    assert_equal(company, pg_warehouse, "employees")


def test_a_next_link_to_another_origin_fails_the_stream(pg_warehouse, served):
    company = Company.seeded(9, inquiries=30, knobs=Knobs(server_page=10, cross_origin_next=True))
    server = served(company)
    r = Syncer(pg_warehouse, resource(server), page_size=100).run("inquiries")
    assert r.status == "failed" and "another origin refused" in r.error and "collector.invalid" in r.error
    assert len(stored(pg_warehouse, "inquiries")) == 10 and company.stats["requests"] == 1


_CHILD = r"""
import json, sys
from ingestion_pipelines.engine.api.streams import SyncOptions, sync_stream
from ingestion_pipelines.resources.warehouse import WarehouseResource
from ingestion_pipelines.sources.crm.marketsharp import api_streams
from ingestion_pipelines.sources.crm.marketsharp.api_definitions import MarketSharpResource
a = json.loads(sys.argv[1])
wh = WarehouseResource(url=a["url"], schema_name=a["schema"])
res = MarketSharpResource(**a["res"])
sync_stream(wh.engine, res.client(), "marketsharp", api_streams.stream("contacts", 10), SyncOptions(run_id="killed"))
"""


def test_killed_mid_way_and_run_again_is_exact(pg_warehouse, served):
    company = Company.seeded(10, contacts=120)
    server = served(company)
    res = resource(server)
    s = Syncer(pg_warehouse, res, page_size=10)
    company.inject(Fault(0, delay_s=40.0, skip=5, path_contains="/Contacts"))  # the 6th page hangs
    args = {"url": pg_warehouse.url, "schema": pg_warehouse.schema_name,
            "res": {k: getattr(res, k) for k in ("base_url", "username", "password", "account")}}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(args)], env={**os.environ, "PYTHONPATH": os.getcwd()})
    t = TABLES["contacts"]
    try:
        deadline, n = time.time() + 60, 0
        while time.time() < deadline and n < 50:  # until the child committed the five pages before the hang
            with pg_warehouse.engine.connect() as c:
                n = c.execute(sa.select(sa.func.count()).select_from(t).where(t.c._run_id == "killed")).scalar()
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
    assert n == 50
    company.faults.clear()
    r = s.run("contacts", run_id="resumed")
    # it resumes at the killed run's last committed page (minus the lookback): no re-read of the first pages
    assert r.status == "succeeded" and r.sync.mode == "incremental"
    assert r.sync.counts["inserted"] == 70 and r.sync.counts["rows_read"] < 75
    assert_equal(company, pg_warehouse, "contacts")
    with pg_warehouse.engine.connect() as c:
        statuses = [h["status"] for h in history(c, "marketsharp", "contacts", limit=3)]
    assert statuses[:2] == ["succeeded", "running"]  # the killed run's row says so
