"""The Arrivy API sync against its stand-in and a real warehouse (PostgreSQL; SQLite where
cheap): a full sync equals the stand-in exactly; an incremental sync after changes writes
exactly those; a sync stopped mid-way, or failed by a fault, never moves the watermark past
what landed and the next run is exact; 429s (with and without Retry-After) and a 503 are
retried; duplicates across pages and records changed between pages are harmless; wrong or
missing credentials fail naming the variables, never showing the keys."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from dagster import Failure

from ingestion_pipelines.engine.sync_state import history, read_watermark
from ingestion_pipelines.sources.crm.arrivy.api_definitions import ArrivyResource
from ingestion_pipelines.sources.crm.arrivy.api_streams import arrivy_tasks
from ingestion_pipelines.sources.crm.arrivy.csv_streams import TASKS
from ingestion_pipelines.standins.arrivy import Account, Fault

from ingestion_pipelines_tests.conftest import patched_env

from .conftest import Syncer, assert_equal, resource, stored


def _wm(warehouse, stream: str):
    with warehouse.engine.connect() as c:
        return read_watermark(c, "arrivy", stream)


def test_full_then_incremental_is_exact(pg_warehouse, served):
    acc = Account.seeded(seed=3, tasks=230, bookings=12, entities=7, groups=3, page_size=50)
    sync = Syncer(pg_warehouse, resource(served(acc)))
    for s in ("tasks", "bookings", "entities", "groups"):
        r = sync.run(s)
        assert (r.status, r.sync.mode) == ("succeeded", "full"), r.error
        assert_equal(acc, pg_warehouse, s)
    assert r.sync.counts["inserted"] == 3
    first = _wm(pg_warehouse, "tasks")
    newest = max(dt.datetime.fromisoformat(t["updated"]) for t in acc.records["tasks"].values())
    assert first.cursor_datetime() == newest  # the largest cursor read (all before the read started)

    ids = sorted(acc.records["tasks"])
    acc.touch("tasks", ids[:5])
    acc.create("tasks", 2)
    r = sync.run("tasks")
    assert (r.status, r.sync.mode, r.sync.counts["inserted"], r.sync.counts["updated"]) == ("succeeded", "incremental", 2, 5)
    assert "updated_after" not in r.error and r.details["start"]
    assert_equal(acc, pg_warehouse, "tasks")
    assert _wm(pg_warehouse, "tasks").sort_key() > first.sort_key()
    again = sync.run("tasks")  # nothing changed: the overlap of the lookback is unchanged rows only
    assert again.sync.counts["inserted"] + again.sync.counts["updated"] == 0


def test_api_rows_fill_the_csv_tables_typed_columns(sqlite_warehouse, served):
    acc = Account.seeded(seed=5, tasks=40, page_size=500)
    rid = sorted(acc.records["tasks"])[0]
    acc.records["tasks"][rid].update(customer_phone="(303) 555-0142", customer_email="Ana.Smith@Example.COM",
                                     customer_state="Texas", customer_zipcode="07030",
                                     start_datetime="2026-03-01T09:00:00-05:00", entity_ids=[11, 12],
                                     customer_exact_location={"lat": 30.25, "lng": -97.75}, duration="90")
    server = served(acc)
    r = Syncer(sqlite_warehouse, resource(server)).run("tasks")
    assert r.status == "succeeded"
    assert arrivy_tasks is TASKS.target  # one table for both methods
    t = arrivy_tasks
    with sqlite_warehouse.engine.connect() as c:
        row = c.execute(sa.select(t).where(t.c.id == rid)).mappings().one()
    assert (row["mobile_number"], row["email"], row["state"], row["zipcode"]) == ("+13035550142", "ana.smith@example.com", "TX", "07030")
    assert row["start_at"].replace(tzinfo=dt.timezone.utc) == dt.datetime(2026, 3, 1, 14, 0, tzinfo=dt.timezone.utc)
    assert (row["employee_ids"], float(row["latitude"]), row["duration"]) == ("11,12", 30.25, 90)
    assert row["_source"] == f"{server.url}/tasks" and row["raw"]["customer_state"] == "Texas"


def test_bad_cells_are_warnings_and_a_record_without_id_fails_alone(sqlite_warehouse, served):
    acc = Account.seeded(seed=6, tasks=30)
    rid = sorted(acc.records["tasks"])[1]
    acc.records["tasks"][rid].update(customer_phone="555-01", duration="TBD")
    acc.add("tasks", {"title": "no id", "updated": "2026-01-01T00:00:00Z"})
    r = Syncer(sqlite_warehouse, resource(served(acc))).run("tasks")
    assert r.status == "succeeded" and r.sync.counts["failed"] == 1 and r.sync.counts["inserted"] == 30
    assert [f.error for f in r.report.failures] == ["id: is required"]
    bad = {(w.column, w.value) for w in r.report.warnings}
    assert {("mobile_number", "555-01"), ("duration", "TBD")} <= bad
    assert stored(sqlite_warehouse, "tasks")[rid]["duration"] == "TBD"  # the text as sent stays in raw


def test_stopped_mid_way_then_resumed_is_exact(pg_warehouse, served):
    acc = Account.seeded(seed=7, tasks=120, page_size=25)
    sync = Syncer(pg_warehouse, resource(served(acc)))
    assert sync.run("tasks").status == "succeeded"
    before = _wm(pg_warehouse, "tasks")
    acc.touch("tasks", sorted(acc.records["tasks"])[::10])  # 12 changes
    pages = iter(range(100))
    r = sync.run("tasks", should_stop=lambda: next(pages) >= 0)  # stop after the first page
    assert r.status == "partial" and r.details["pages"] == 1
    assert _wm(pg_warehouse, "tasks") == before  # creation order, not cursor order: no watermark before the end
    (h,) = [x for x in history(pg_warehouse.engine.connect(), "arrivy", "tasks", limit=1)]
    assert h["status"] == "partial" and h["watermark_after"] == before.cursor
    r = sync.run("tasks")
    assert r.status == "succeeded"
    assert_equal(acc, pg_warehouse, "tasks")


def test_transient_faults_are_retried(sqlite_warehouse, served):
    acc = Account.seeded(seed=8, tasks=60, page_size=20)
    acc.inject(Fault(429, "/tasks", page=1, retry_after=0.05), Fault(429, "/tasks", page=2),
               Fault(503, "/tasks", page=3), Fault(502, "/tasks", page=3))
    sync = Syncer(sqlite_warehouse, resource(served(acc), interval_seconds=0.2))
    r = sync.run("tasks")
    assert r.status == "succeeded", r.error
    assert sync.client.stats["retries"] == 4 and acc.stats["429"] == 2
    assert_equal(acc, sqlite_warehouse, "tasks")


def test_a_persistent_fault_fails_the_stream_and_keeps_the_watermark(pg_warehouse, served):
    acc = Account.seeded(seed=9, tasks=80, page_size=20)
    sync = Syncer(pg_warehouse, resource(served(acc), max_retries=2))
    assert sync.run("tasks").status == "succeeded"
    before = _wm(pg_warehouse, "tasks")
    acc.touch("tasks", sorted(acc.records["tasks"])[:30])  # pages 1-2 of the incremental read
    acc.inject(Fault(503, "/tasks", page=2, times=10))
    r = sync.run("tasks")
    assert r.status == "failed" and "HTTP 503" in r.error
    assert r.sync.counts["rows_read"] == 20  # page 1 landed and is counted ...
    assert _wm(pg_warehouse, "tasks") == before  # ... but the watermark stays
    with pg_warehouse.engine.connect() as c:
        h = history(c, "arrivy", "tasks", limit=1)[0]
    assert (h["status"], h["rows_read"], h["watermark_after"]) == ("failed", 20, before.cursor) and "503" in h["error"]
    acc.faults.clear()
    assert sync.run("tasks").status == "succeeded"
    assert_equal(acc, pg_warehouse, "tasks")


def test_duplicates_short_pages_and_changes_between_pages(pg_warehouse, served):
    acc = Account.seeded(seed=10, tasks=90, page_sizes=(30, 7, 30), duplicates=True)
    first_page = [t["id"] for t in acc.ordered("tasks")[:30]]
    acc.on_page("tasks", 1, lambda a: a.touch("tasks", first_page[:3]))  # changed after it was read
    sync = Syncer(pg_warehouse, resource(served(acc)))
    r = sync.run("tasks")
    assert r.status == "succeeded" and r.sync.counts["rows_read"] > 90  # the repeated records
    assert r.sync.counts["inserted"] == 90 and r.sync.counts["failed"] == 0
    assert {stored(pg_warehouse, "tasks")[i]["title"] for i in first_page[:3]} != {acc.records["tasks"][i]["title"] for i in first_page[:3]}
    r = sync.run("tasks")  # the changes made behind the reader come with the next run
    assert r.sync.counts["updated"] == 3
    assert_equal(acc, pg_warehouse, "tasks")


def test_wrong_credentials_fail_naming_the_variables(sqlite_warehouse, served):
    acc = Account.seeded(seed=11, tasks=5)
    server = served(acc)
    r = Syncer(sqlite_warehouse, resource(server, api_key="wrong-key-SECRET-991")).run("tasks")
    assert r.status == "failed"
    assert "ARRIVY_AUTH_KEY" in r.error and "ARRIVY_API_KEY" in r.error and "SECRET-991" not in r.error
    assert acc.stats["401"] == 1  # refused at once, not retried
    with sqlite_warehouse.engine.connect() as c:
        assert "SECRET-991" not in json.dumps([dict(h) for h in history(c, "arrivy")], default=str)


def test_missing_credentials_fail_fast_naming_the_variables():
    with patched_env({}, unset=("ARRIVY_API_URL", "ARRIVY_AUTH_KEY", "ARRIVY_API_KEY")):
        with pytest.raises(Failure, match="ARRIVY_AUTH_KEY and ARRIVY_API_KEY"):
            ArrivyResource().client()
        with pytest.raises(Failure, match="set ARRIVY_API_KEY$"):
            ArrivyResource(auth_key="k").client()
        with patched_env({"ARRIVY_AUTH_KEY": "k-SECRET", "ARRIVY_API_KEY": "a-SECRET"}):
            res = ArrivyResource.from_env()
            assert "SECRET" not in repr(res) + str(res)
            assert res.client().base_url == "https://app.arrivy.com/api"


def test_dry_run_writes_nothing(sqlite_warehouse, served):
    acc = Account.seeded(seed=12, tasks=25)
    sync = Syncer(sqlite_warehouse, resource(served(acc)))
    r = sync.run("tasks", dry_run=True)
    assert r.status == "succeeded" and r.sync.counts["inserted"] == 25
    assert stored(sqlite_warehouse, "tasks") == {} and _wm(sqlite_warehouse, "tasks") is None
    r = sync.run("tasks", limit=10)
    assert r.sync.counts["rows_read"] == 10 and _wm(sqlite_warehouse, "tasks") is None  # a limited read commits no watermark


def test_the_csv_import_and_the_api_share_arrivy_tasks(pg_warehouse, served, tmp_path):
    """A task the CSV export loaded, synced again from the API: one row (same id), the API's
    columns written, the export-only ones (group, template) kept, ``_source`` the API's URL."""
    from ingestion_pipelines.engine.profile_load import load_csv
    from ingestion_pipelines.resources.storage import LocalBlobStore
    from ingestion_pipelines.settings import DATA_DIR

    store = LocalBlobStore(root=str(tmp_path / "storage"))
    loaded = load_csv(pg_warehouse, store, TASKS, str(DATA_DIR / "crm" / "arrivy" / "tasks.csv"), run_id="csv-run")
    assert loaded.report.loaded > 0
    t = arrivy_tasks
    shared = 5066549580791808
    with pg_warehouse.engine.connect() as c:
        n_csv = c.execute(sa.select(sa.func.count()).select_from(t)).scalar()
        before = c.execute(sa.select(t).where(t.c.id == shared)).mappings().one()
    acc = Account.seeded(seed=13, tasks=5)
    api_task = dict(next(iter(acc.records["tasks"].values())), id=shared, title="Gutters estimate - Perez (moved)",
                    customer_email="eperez@gmail.com")
    acc.add("tasks", api_task)
    server = served(acc)
    r = Syncer(pg_warehouse, resource(server)).run("tasks")
    assert (r.status, r.sync.counts["inserted"], r.sync.counts["updated"]) == ("succeeded", 5, 1)
    with pg_warehouse.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(t)).scalar() == n_csv + 5
        after = c.execute(sa.select(t).where(t.c.id == shared)).mappings().one()
    assert before["_source"].startswith("file://") and after["_source"] == f"{server.url}/tasks"
    assert (after["title"], after["email"]) == ("Gutters estimate - Perez (moved)", "eperez@gmail.com")
    assert (after["group_name"], after["template"]) == (before["group_name"], before["template"]) == ("Atlanta", "In-Home Estimate")
