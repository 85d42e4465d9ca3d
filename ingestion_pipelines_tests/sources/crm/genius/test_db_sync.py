"""The Genius database sync end to end on the real MariaDB into SQLite and PostgreSQL
(engine level: :func:`ingestion_pipelines.engine.sql_sync.sync_stream` per table)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from ingestion_pipelines.engine.sql_sync import SyncOptions
from ingestion_pipelines.engine.sync_state import history, read_watermark
from ingestion_pipelines.sources.crm.genius import schema
from ingestion_pipelines.sources.crm.genius.sample_db import FIRST, SAME_SECOND

from .helpers import assert_same, exec_, sync_all


def test_full_sync_equals_source(genius, warehouse):
    w, src, written = genius
    res = sync_all(src, warehouse)
    assert all(r.status == "succeeded" and r.mode == "full" for r in res.values())
    assert {t: r.report.counts["inserted"] for t, r in res.items()} == written
    assert_same(w, warehouse)
    # values as the source holds them: zero dates NULL (+ warning), TIME, DECIMAL, tinyint(1), latin1, emoji
    p, a, q, u = schema.genius_prospects, schema.genius_appointments, schema.genius_quotes, schema.genius_users
    with warehouse.engine.connect() as c:
        assert c.execute(sa.select(p.c.add_date).where(p.c.id == 13)).scalar() is None
        assert c.execute(sa.select(p.c.raw).where(p.c.id == 13)).scalar()["add_date"] == "0000-00-00 00:00:00"
        t, dur, done = c.execute(sa.select(a.c.time, a.c.duration, a.c.is_complete).where(a.c.id == 4)).one()
        assert (t, dur, done) == (dt.time(12, 30), dt.time(1, 30), True)
        assert isinstance(c.execute(sa.select(q.c.amount).where(q.c.id == 1)).scalar(), Decimal)
        names = {n for (n,) in c.execute(sa.select(u.c.first_name))}
        assert any("😀" in n or "🏠" in n or "𝄞" in n or "🚀" in n or "家" in n for n in names)
        latin1 = {n for (n,) in c.execute(sa.select(p.c.first_name))}  # latin1 columns at the source
        assert latin1 <= set(FIRST) and len(latin1 & {"José", "Müller", "Françoise", "Zoë", "Søren", "Chloé", "Ömer"}) >= 3
        assert "ssn" not in c.execute(sa.select(u.c.raw).limit(1)).scalar()
    assert res["prospect"].report.warnings_total == written["prospect"] // 13  # the zero add_dates
    assert {w_.column for w_ in res["appointment"].report.warnings} == {"assign_date"}
    # a second run changes nothing
    again = sync_all(src, warehouse)
    assert all(r.mode == "incremental" or r.stream.cursor is None for r in again.values())
    assert sum(r.report.loaded for r in again.values()) == 0


def test_latin1_and_utf8mb4_round_trip(genius, warehouse):
    w, src, _ = genius
    exec_(w, "UPDATE prospect SET first_name = 'Françoise', last_name = 'Ólafsson', address1 = '1 🚀 Way' WHERE id = 5")
    sync_all(src, warehouse, tables=["prospect"])
    p = schema.genius_prospects
    with warehouse.engine.connect() as c:
        assert c.execute(sa.select(p.c.first_name, p.c.last_name, p.c.address1).where(p.c.id == 5)).one() == (
            "Françoise", "Ólafsson", "1 🚀 Way")
        raw = c.execute(sa.select(p.c.raw).where(p.c.id == 5)).scalar()
    assert (raw["first_name"], raw["last_name"], raw["address1"], raw["id"]) == ("Françoise", "Ólafsson", "1 🚀 Way", 5)


def test_incremental_writes_exactly_the_changed_rows_and_full_marks_deleted(genius, pg_warehouse):
    w, src, written = genius
    wh = pg_warehouse
    sync_all(src, wh)
    with wh.engine.connect() as c:
        mark = read_watermark(c, "genius", "prospect")
    assert mark.cursor_datetime() == SAME_SECOND and mark.id == str(written["prospect"])  # many rows share it
    top = mark.cursor_datetime()
    # updates: two in the watermark's own second (rows the last sync may not have seen), one later
    exec_(w, "UPDATE prospect SET city = 'Same second', updated_at = :t WHERE id IN (3, 6)", t=top)
    exec_(w, "UPDATE prospect SET city = 'Later', updated_at = :t WHERE id = 7", t=top + dt.timedelta(seconds=1))
    exec_(w, "INSERT INTO prospect (id, first_name, updated_at) VALUES (1001, 'New', :t), (1002, 'Newer', :t)",
          t=top + dt.timedelta(seconds=2))
    deleted = [10, 20, 30]
    exec_(w, "DELETE FROM prospect WHERE id IN (10, 20, 30)")
    exec_(w, "UPDATE service SET label = 'Renamed' WHERE id = 2")  # a table without timestamp
    inc = sync_all(src, wh, tables=["prospect", "service"])
    r = inc["prospect"]
    assert r.mode == "incremental"
    assert (r.report.counts["inserted"], r.report.counts["updated"]) == (2, 3)
    assert r.deleted == 0  # an incremental sync never marks deletions
    s = inc["service"]
    assert (s.mode, s.report.counts["updated"], s.report.counts["inserted"], s.deleted) == ("full", 1, 0, 0)
    full = sync_all(src, wh, SyncOptions(full=True), tables=["prospect"])["prospect"]
    assert (full.mode, full.deleted, full.report.loaded) == ("full", 3, 0)
    t = schema.genius_prospects
    with wh.engine.connect() as c:
        marked = sorted(i for (i,) in c.execute(sa.select(t.c.id).where(t.c._deleted_at.is_not(None))))
        assert marked == deleted
        assert c.execute(sa.select(sa.func.count()).select_from(t)).scalar() == written["prospect"] + 2
        h = history(c, "genius", "prospect", limit=1)[0]
        assert (h["mode"], h["status"], h["deleted"], h["rows_read"]) == ("full", "succeeded", 3, written["prospect"] - 1)
    assert_same(w, wh, tables=["prospect", "service"])
    # a deleted id that comes back is live again
    exec_(w, "INSERT INTO prospect (id, first_name, updated_at) VALUES (20, 'Back', :t)", t=top + dt.timedelta(seconds=3))
    sync_all(src, wh, tables=["prospect"])
    assert_same(w, wh, tables=["prospect"])


def test_rows_updated_while_a_sync_runs(genius, warehouse):
    w, src, written = genius
    sync_all(src, warehouse, tables=["appointment"])
    later = dt.datetime(2030, 1, 1)
    exec_(w, "UPDATE appointment SET updated_at = :t", t=dt.datetime(2029, 1, 1))
    seen = {"batches": 0}

    def meddle(_rep, _n):  # after each batch: change a row already read and one not read yet
        seen["batches"] += 1
        i = seen["batches"]
        exec_(w, "UPDATE appointment SET notes = :n, updated_at = :t WHERE id IN (:a, :b)",
              n=f"changed during batch {i}", t=later + dt.timedelta(seconds=i), a=i, b=written["appointment"] - i)

    sync_all(src, warehouse, SyncOptions(batch_size=10, page_size=20), tables=["appointment"], on_batch=meddle)
    assert seen["batches"] >= 5
    sync_all(src, warehouse, tables=["appointment"])  # the next incremental run catches what moved
    assert_same(w, warehouse, tables=["appointment"])


def test_a_refused_row_is_bisected_out_and_the_rest_lands(genius, pg_warehouse):
    w, src, written = genius
    exec_(w, "UPDATE prospect SET notes = CONCAT('bad', CHAR(0), 'byte') WHERE id IN (8, 40)")  # PostgreSQL refuses NUL
    r = sync_all(src, pg_warehouse, SyncOptions(batch_size=16), tables=["prospect"])["prospect"]
    assert r.status == "partial"
    assert sorted(int(f.key[0]) for f in r.report.failures) == [8, 40]
    assert all("0x00" in f.error or "NUL" in f.error for f in r.report.failures)  # the database's message
    assert r.report.counts["inserted"] == written["prospect"] - 2
    with pg_warehouse.engine.connect() as c:
        h = history(c, "genius", "prospect", limit=1)[0]
    assert (h["status"], h["failed"], h["inserted"]) == ("partial", 2, written["prospect"] - 2)
    assert len(h["details"]["failed_rows"]) == 2


def test_options_since_max_records_table_dry_run(genius, sqlite_warehouse):
    w, src, written = genius
    wh = sqlite_warehouse
    dry = sync_all(src, wh, SyncOptions(dry_run=True), tables=["prospect"])["prospect"]
    assert dry.report.counts["inserted"] == written["prospect"]
    with wh.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(schema.genius_prospects)).scalar() == 0
        assert history(c, "genius") == [] and read_watermark(c, "genius", "prospect") is None
    part = sync_all(src, wh, SyncOptions(max_records=25, batch_size=10), tables=["prospect"])["prospect"]
    assert (part.report.counts["inserted"], part.complete, part.deleted) == (25, False, 0)
    with wh.engine.connect() as c:
        assert read_watermark(c, "genius", "prospect") is None  # a cut full scan stores no watermark
    since = sync_all(src, wh, SyncOptions(since=SAME_SECOND), tables=["prospect"])["prospect"]
    assert since.mode == "incremental"
    exec_(w, "CREATE VIEW prospect_copy AS SELECT * FROM prospect WHERE id <= 5")
    via = sync_all(src, wh, SyncOptions(full=True, source_table="prospect_copy"), tables=["prospect"])["prospect"]
    assert (via.report.total, via.deleted) == (5, 0)  # a copy's missing ids are not deletions
    assert via.source.endswith("/prospect_copy")


def test_full_marks_rows_last_written_from_a_copy(genius, sqlite_warehouse):
    w, src, written = genius
    exec_(w, "CREATE TABLE prospect_copy AS SELECT * FROM prospect WHERE id <= 5")
    exec_(w, "UPDATE prospect_copy SET city = 'from the copy'")
    sync_all(src, sqlite_warehouse, SyncOptions(full=True, source_table="prospect_copy"), tables=["prospect"])
    exec_(w, "UPDATE prospect SET city = 'from the copy' WHERE id <= 5")  # the real table agrees: unchanged
    exec_(w, "DELETE FROM prospect WHERE id = 3")
    full = sync_all(src, sqlite_warehouse, SyncOptions(full=True), tables=["prospect"])["prospect"]
    assert full.deleted == 1 and full.report.counts["unchanged"] == 4
    t = schema.genius_prospects
    with sqlite_warehouse.engine.connect() as c:
        assert [i for (i,) in c.execute(sa.select(t.c.id).where(t.c._deleted_at.is_not(None)))] == [3]
        assert c.execute(sa.select(t.c._source).where(t.c.id == 3)).scalar().endswith("/prospect_copy")


def test_a_stop_or_an_error_mid_table_ends_the_reader_and_says_so(genius, sqlite_warehouse):
    import threading

    import pytest

    w, src, written = genius
    calls = {"n": 0}

    def stop_after_two() -> bool:
        calls["n"] += 1
        return calls["n"] >= 2

    r = sync_all(src, sqlite_warehouse, SyncOptions(batch_size=10, page_size=20), tables=["prospect"],
                 should_stop=stop_after_two)["prospect"]
    assert (r.status, r.stopped, r.complete, r.deleted, r.report.total) == ("partial", True, False, 0, 20)

    def boom(_rep, _n):
        raise RuntimeError("the warehouse went away")

    with pytest.raises(RuntimeError, match="went away"):
        sync_all(src, sqlite_warehouse, SyncOptions(batch_size=10, page_size=20), tables=["prospect"], on_batch=boom)
    assert not [t for t in threading.enumerate() if t.name == "sql-sync-reader"]
    with sqlite_warehouse.engine.connect() as c:
        h = history(c, "genius", "prospect", limit=2)
    assert [x["status"] for x in h] == ["failed", "partial"] and "went away" in h[0]["error"]


def test_text_source_cells_that_do_not_parse_land_null_with_warnings(genius, pg_warehouse):
    """A ``--table`` copy whose typed columns became text (DESIGN.md §9): a cell that is not an
    id, date, time or flag of the column's kind (or is out of its range) lands NULL with a
    warning and costs no row; a usable one is read as the Python path reads it; a bad key
    fails its row with PostgreSQL's message."""
    w, src, written = genius
    exec_(w, "CREATE TABLE appointment_text AS SELECT * FROM appointment")
    exec_(w, "ALTER TABLE appointment_text MODIFY id VARCHAR(20), MODIFY user_id VARCHAR(30),"
             " MODIFY `date` VARCHAR(20), MODIFY `time` VARCHAR(20), MODIFY spouses_present VARCHAR(10)")
    exec_(w, "UPDATE appointment_text SET user_id = 'n/a', `date` = 'soon', `time` = '25:99',"
             " spouses_present = 'maybe' WHERE id = '3'")
    exec_(w, "UPDATE appointment_text SET user_id = ' 17 ', `date` = '2026-01-05', `time` = '09:30:00',"
             " spouses_present = 'yes' WHERE id = '4'")
    exec_(w, "UPDATE appointment_text SET user_id = CONCAT(CHAR(9), '42', CHAR(13)), `date` = '2026-02-30',"
             " `time` = '12', spouses_present = CONCAT('Yes', CHAR(13)) WHERE id = '5'")
    exec_(w, "UPDATE appointment_text SET user_id = '99999999999999999999', `date` = '05/01/2026',"
             " spouses_present = NULL WHERE id = '6'")
    exec_(w, "UPDATE appointment_text SET id = 'x7' WHERE id = '7'")
    exec_(w, "UPDATE appointment_text SET is_complete = NULL WHERE id = '8'")  # still tinyint(1): NULL, not false
    r = sync_all(src, pg_warehouse, SyncOptions(full=True, source_table="appointment_text"),
                 tables=["appointment"])["appointment"]
    assert r.report.counts["inserted"] == written["appointment"] - 1
    assert [f.key for f in r.report.failures] == [("x7",)] and "x7" in r.report.failures[0].error
    mine = {"soon", "maybe", "25:99", "n/a", "2026-02-30", "12", "99999999999999999999", "05/01/2026"}
    assert sorted((x.column, x.value, x.reason) for x in r.report.warnings if x.value in mine) == [
        ("date", "05/01/2026", "zero or invalid date: '05/01/2026'"),
        ("date", "2026-02-30", "zero or invalid date: '2026-02-30'"), ("date", "soon", "zero or invalid date: 'soon'"),
        ("spouses_present", "maybe", "not a flag: 'maybe'"),
        ("time", "12", "not a time of day: '12'"), ("time", "25:99", "not a time of day: '25:99'"),
        ("user_id", "99999999999999999999", "not a number: '99999999999999999999'"),
        ("user_id", "n/a", "not a number: 'n/a'")]
    t = schema.genius_appointments
    with pg_warehouse.engine.connect() as c:
        rows = {r.id: r for r in c.execute(sa.select(t).where(t.c.id.in_([3, 4, 5, 6, 8])))}
    assert rows[8].is_complete is None
    assert (rows[3].user_id, rows[3].date, rows[3].time, rows[3].spouses_present) == (None, None, None, None)
    assert rows[3].raw["date"] == "soon"  # the text as written stays in raw
    assert (rows[4].user_id, rows[4].date, rows[4].time, rows[4].spouses_present) == (
        17, dt.date(2026, 1, 5), dt.time(9, 30), True)
    assert (rows[5].user_id, rows[5].date, rows[5].time, rows[5].spouses_present) == (42, None, None, True)
    assert (rows[6].user_id, rows[6].date, rows[6].spouses_present) == (None, None, None)  # NULL flag stays NULL
