"""The Genius REST API sync against its stand-in (a real HTTP server on loopback), on SQLite and
the real PostgreSQL: a full sync equals the stand-in exactly; an incremental sync after changes
writes exactly those; records changed while a sync pages, duplicates across pages and an empty
last page lose nothing; a row the database sync wrote and the API sync then wrote lands once,
``_source`` naming the API."""

from __future__ import annotations

import sqlalchemy as sa

from ingestion_pipelines.engine.sql_sync import SyncOptions as DbOptions
from ingestion_pipelines.engine.sql_sync import sync_stream as db_sync
from ingestion_pipelines.engine.sync_state import history, read_watermark
from ingestion_pipelines.sources.crm.genius.api_names import SOURCE
from ingestion_pipelines.sources.crm.genius.api_streams import BY_NAME, updated_since
from ingestion_pipelines.sources.crm.genius.db_streams import BY_TABLE
from ingestion_pipelines.sources.crm.genius.db_streams import SOURCE as DB_SOURCE
from ingestion_pipelines.sources.crm.genius.sample_db import fill
from ingestion_pipelines.sources.crm.genius.schema import genius_prospects
from ingestion_pipelines.standins.genius import Genius, Limits

from .test_api_helpers import Syncer, assert_equal, landed, resource, served  # noqa: F401 - fixture

COUNTS = dict(divisions=6, users=20, services=5, marketing_sources=8, prospects=130, appointments=90)


def test_full_sync_equals_the_standin(warehouse, served):
    g = Genius.seeded(1, **COUNTS, limits=Limits(max_limit=40))
    s = Syncer(warehouse, resource(served(g)))
    results = s.all()
    for name, r in results.items():
        assert r.status == "succeeded", (name, r.error)
        assert r.sync.mode == "full" and r.sync.counts["inserted"] == len(g.records[name])
        assert_equal(g, warehouse, name)
    assert results["prospects"].details["pages"] == 4  # 130 records, 40 a page: DRF's next links followed
    with warehouse.engine.connect() as c:
        wm = read_watermark(c, SOURCE, "prospects")
        assert wm.cursor.startswith("2025-06-01T12:00:00")  # the largest updated_at served, not "now"
        assert read_watermark(c, DB_SOURCE, "prospects") is None  # the API sync's own source
    again = s.all()
    assert all(r.sync.counts["unchanged"] == r.sync.counts["rows_read"] for r in again.values())


def test_incremental_writes_exactly_the_changes(warehouse, served):
    g = Genius.seeded(2, **COUNTS, limits=Limits(max_limit=25))
    s = Syncer(warehouse, resource(served(g)))
    s.all()
    ids = sorted(g.records["prospects"])
    g.touch("prospects", ids[:7])
    g.touch("appointments", [3, 50], notes="moved to Friday")
    new = g.create("prospects", 4)
    r = s.run("prospects", run_id="incremental")
    assert r.status == "succeeded" and r.sync.mode == "incremental"
    c = r.sync.counts
    # written: exactly the changes; read besides: the lookback's overlap (the records of the
    # watermark's last 10 minutes: a third share its second), unchanged
    assert (c["inserted"], c["updated"], c["failed"]) == (4, 7, 0) and c["rows_read"] == 11 + c["unchanged"]
    t = BY_NAME["prospects"].table
    assert set(landed(warehouse, "prospects", t.c._run_id == "incremental")) == set(ids[:7]) | set(new)
    a = s.run("appointments")
    assert (a.sync.counts["inserted"], a.sync.counts["updated"]) == (0, 2)
    assert all(x.sync.counts["inserted"] + x.sync.counts["updated"] == 0 for x in (s.run("users"), s.run("divisions")))
    for name in ("prospects", "appointments"):
        assert_equal(g, warehouse, name)
    assert set(new) <= set(landed(warehouse, "prospects"))


def test_changes_while_paging_duplicates_and_an_empty_last_page_lose_nothing(warehouse, served):
    g = Genius.seeded(3, **COUNTS, limits=Limits(max_limit=20, page_overlap=2, empty_last_page=True))
    s = Syncer(warehouse, resource(served(g)))
    touched: list[int] = []

    def change_while_paging(genius: Genius, stream: str, offset: int) -> None:
        if stream == "prospects" and offset == 40 and not touched:  # behind and ahead of the reader
            touched.extend([5, 110])
            genius.touch("prospects", touched)
            genius.create("prospects", 1)

    g.on_page.append(change_while_paging)
    r = s.run("prospects")
    assert r.status == "succeeded" and touched
    # 2 records repeated on each later page; the empty last page ends the read
    assert r.sync.counts["rows_read"] > len(g.records["prospects"]) - 1
    assert r.sync.counts["inserted"] == len(g.records["prospects"])
    g.on_page.clear()
    r2 = s.run("prospects")  # the watermark is where the read started: the changes behind it come again
    assert r2.status == "succeeded" and r2.sync.counts["updated"] >= 1
    assert_equal(g, warehouse, "prospects")


def test_a_row_of_the_database_sync_then_of_the_api_lands_once(pg_warehouse, served, tmp_path):
    src = sa.create_engine(f"sqlite:///{tmp_path / 'genius.db'}")
    fill(src, counts={"prospect": 30}, seed=1)
    g = Genius.seeded(4, prospects=40)  # ids 1..40: 30 of them the database has too
    wh = pg_warehouse
    s = Syncer(wh, resource(served(g)))
    db = db_sync(src, wh.engine, BY_TABLE["prospect"], DbOptions(), source_name=DB_SOURCE,
                 source_uri="sqlite:///genius", run_id="db")
    assert db.report.counts["inserted"] == 30
    api = s.run("prospects")
    assert (api.sync.counts["inserted"], api.sync.counts["updated"]) == (10, 30)
    t = genius_prospects
    with wh.engine.connect() as c:
        rows = c.execute(sa.select(t.c.id, t.c._source)).all()
    assert sorted(i for i, _ in rows) == list(range(1, 41))  # each id once
    assert {src_ for _, src_ in rows} == {s.res.url + "/api/customers/prospect/"}
    assert_equal(g, wh, "prospects")
    # the database sync's full scan does not mark the API's rows deleted (they are not its own)
    db_sync(src, wh.engine, BY_TABLE["prospect"], DbOptions(full=True), source_name=DB_SOURCE,
            source_uri="sqlite:///genius", run_id="db2")
    with wh.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(t).where(t.c._deleted_at.is_not(None))).scalar() == 0
        by_source = dict(c.execute(sa.select(t.c._source, sa.func.count()).group_by(t.c._source)).all())
        assert by_source == {"sqlite:///genius/prospect": 30, s.res.url + "/api/customers/prospect/": 10}
        assert [h["source"] for h in history(c, SOURCE, "prospects")] == [SOURCE]


def test_since_dry_run_and_limit(sqlite_warehouse, served):
    g = Genius.seeded(5, prospects=50, limits=Limits(max_limit=10))
    s = Syncer(sqlite_warehouse, resource(served(g)))
    dry = s.run("prospects", dry_run=True)
    assert dry.status == "succeeded" and dry.sync.counts["inserted"] == 50 and not landed(sqlite_warehouse, "prospects")
    lim = s.run("prospects", limit=15)
    assert lim.sync.counts["rows_read"] == 15 and len(landed(sqlite_warehouse, "prospects")) == 15
    with sqlite_warehouse.engine.connect() as c:
        assert read_watermark(c, SOURCE, "prospects") is None  # a limited read commits no watermark
    import datetime as dt

    g.touch("prospects", [1, 2])
    since = s.run("prospects", since=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5))
    assert since.sync.mode == "incremental" and since.sync.counts["rows_read"] == 2
    assert BY_NAME["prospects"].endpoint.params["limit"] == 500  # capped by the API's max_limit (10 here)
    edt = dt.timezone(dt.timedelta(hours=-4))
    assert updated_since(dt.datetime(2025, 6, 1, 8, 0, tzinfo=edt)) == {"updated_since": "2025-06-01T12:00:00+00:00"}


def _as_api_record(stream: str, row: dict) -> dict:
    """A Genius database row as the API serves the record (SEED_SYSTEM.md §3 names: the spec's
    record paths; DRF's forms: booleans, ``T`` datetimes, no zero dates — Django cannot hold one)."""
    spec, db = BY_NAME[stream], BY_TABLE[_DB_TABLE[stream]]
    rec: dict = {}
    for f in spec.fields:
        v = row[db.source_column(f.name)]
        col = spec.table.c[f.name].type
        if v is not None and isinstance(col, sa.Boolean):
            v = bool(v)
        elif isinstance(v, str) and isinstance(col, (sa.DateTime, sa.Date)):
            v = None if v.startswith("0000-00-00") else v.replace(" ", "T")
        *parents, leaf = (f.aliases or (f.name,))[0].split(".")
        cur = rec
        for p in parents:
            cur = cur.setdefault(p, {})
        cur[leaf] = v
    rec.setdefault("updated_at", "2025-05-01T00:00:00")
    return rec


_DB_TABLE = {"divisions": "division", "users": "user_data", "services": "service",
             "marketing-sources": "marketing_source", "prospects": "prospect", "appointments": "appointment"}


def test_the_api_and_the_database_give_the_same_typed_rows(pg_warehouse, served, tmp_path):
    """The same Genius records read by the database sync and then served by the API land as the
    same typed values (each row then ``updated``: its ``raw`` and ``_source`` are the API's)."""
    src = sa.create_engine(f"sqlite:///{tmp_path / 'genius.db'}")
    fill(src, counts={"prospect": 40, "appointment": 50, "user_data": 15}, seed=3)
    g = Genius()
    for stream, table in _DB_TABLE.items():
        with src.connect() as c:
            rows = c.execute(sa.text(f"SELECT * FROM {table}")).mappings().all()
        g.records[stream] = {int(r[BY_TABLE[table].source_key[0]]): _as_api_record(stream, dict(r)) for r in rows}
    wh = pg_warehouse
    s = Syncer(wh, resource(served(g)))
    for table in _DB_TABLE.values():
        db_sync(src, wh.engine, BY_TABLE[table], DbOptions(), source_name=DB_SOURCE, source_uri="sqlite:///genius")
    by_db = {stream: landed(wh, stream) for stream in _DB_TABLE}
    for stream in _DB_TABLE:
        r = s.run(stream)
        assert r.status == "succeeded" and r.sync.counts["updated"] == len(g.records[stream]), (stream, r.sync.counts)
        assert landed(wh, stream) == by_db[stream], stream
        t = BY_NAME[stream].table
        with wh.engine.connect() as c:
            assert c.execute(sa.select(sa.func.count(sa.distinct(t.c._source)))).scalar() == 1


def test_times_with_an_offset_land_in_utc(sqlite_warehouse, served):
    """A Django with ``USE_TZ=True`` sends offsets; its MySQL holds UTC, so the API's time lands
    as that UTC wall time (what the database sync reads); naive times as sent."""
    g = Genius.seeded(6, prospects=3)
    g.records["prospects"][1]["add_date"] = "2025-06-01T08:00:00-04:00"
    g.records["prospects"][2]["add_date"] = "2025-06-01T12:00:00Z"
    s = Syncer(sqlite_warehouse, resource(served(g)))
    assert s.run("prospects").status == "succeeded"
    t = genius_prospects
    with sqlite_warehouse.engine.connect() as c:
        got = dict(c.execute(sa.select(t.c.id, t.c.add_date)).all())
    assert str(got[1]) == str(got[2]) == "2025-06-01 12:00:00"
    assert str(got[3]) == str(g.records["prospects"][3]["add_date"])
