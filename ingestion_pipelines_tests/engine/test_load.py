"""The engine's loader on SQLite and the real PostgreSQL (COPY path): outcomes, bisection of
bad rows, in-batch duplicates, column ownership, skip mode, dry run, schema isolation."""

import datetime as dt
import decimal

import pytest
import sqlalchemy as sa

from ingestion_pipelines.engine.load import LoadRun, PendingRow, TableLoad, sync_children
from ingestion_pipelines.engine.outcomes import Outcome
from ingestion_pipelines.engine.schema import audit_columns, natural_key_constraint

md = sa.MetaData()
things = sa.Table(
    "things", md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(20), nullable=False),
    sa.Column("code", sa.String(10), nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("qty", sa.Integer, sa.CheckConstraint("qty >= 0", name="ck_qty")),
    sa.Column("price", sa.Numeric(12, 2)),
    sa.Column("seen_at", sa.DateTime(timezone=True)),
    sa.Column("sfa_url", sa.Text),
    *audit_columns(),
    natural_key_constraint("things", "tenant_id", "code"),
)
parts = sa.Table(
    "parts", md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("thing_code", sa.String(10), nullable=False),
    sa.Column("part", sa.String(10), nullable=False),
    sa.Column("n", sa.Integer),
    natural_key_constraint("parts", "thing_code", "part"),
)


def rows(n, over=None):
    over = over or {}
    for i in range(n):
        v = {"tenant_id": "t1", "code": f"c{i:04d}", "name": f"name {i}", "qty": i,
             "price": decimal.Decimal(f"{i}.50"), "seen_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "sfa_url": None}
        v.update(over.get(i, {}))
        yield PendingRow(i + 1, v, record=v)


def load(wh, it, **kw):
    spec = TableLoad(things, **{k: kw.pop(k) for k in list(kw) if k in ("on_existing", "preserve_on_blank")})
    with wh.connect(dry_run=kw.get("dry_run", False)) as conn:
        return LoadRun(conn, spec, audit={"_source": "test://", "_run_id": "r1"}, **kw).run(it)


def test_outcomes_bisection_and_idempotency(warehouse):
    warehouse.setup(md)
    bad = {7: {"qty": -1}, 130: {"qty": -5}, 131: {"name": "ok", "qty": -2}}
    r = load(warehouse, rows(300, bad), batch_size=64)
    assert r.counts == {"inserted": 297, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 3}
    assert sorted(f.row for f in r.failures) == [8, 131, 132]
    assert all("ck_qty" in f.error or "CHECK" in f.error for f in r.failures)
    assert r.failures[0].record["code"] == "c0007"
    assert warehouse.count(things) == 297
    # again: unchanged, nothing rewritten
    r = load(warehouse, rows(300, bad), batch_size=64)
    assert r.counts["unchanged"] == 297 and r.counts["failed"] == 3 and r.counts["inserted"] == 0
    # fixed rows now insert; one real change updates
    r = load(warehouse, rows(300, {5: {"name": "renamed"}}), batch_size=64)
    assert r.counts["inserted"] == 3 and r.counts["updated"] == 1 and r.counts["unchanged"] == 296
    with warehouse.engine.connect() as c:
        got = c.execute(sa.select(things.c.name, things.c._run_id, things.c.price).where(things.c.code == "c0005")).one()
    assert got[0] == "renamed" and got[1] == "r1" and got[2] == decimal.Decimal("5.50")


def test_duplicate_keys_in_a_batch_last_wins(warehouse):
    warehouse.setup(md)
    it = [PendingRow(1, {"tenant_id": "t", "code": "a", "name": "first"}),
          PendingRow(2, {"tenant_id": "t", "code": "a", "name": "second"}),
          PendingRow(3, {"tenant_id": "t", "code": "b", "name": "b"})]
    r = load(warehouse, it, batch_size=10)
    assert r.counts["inserted"] == 2 and r.counts["skipped"] == 1
    assert "row 2 has the same key" in r.skipped[0].error
    with warehouse.engine.connect() as c:
        assert c.execute(sa.select(things.c.name).where(things.c.code == "a")).scalar() == "second"


def test_preserve_on_blank_and_skip_mode(warehouse):
    warehouse.setup(md)
    load(warehouse, rows(3), batch_size=10)
    with warehouse.engine.begin() as c:
        c.execute(things.update().where(things.c.code == "c0001").values(sfa_url="https://artists.spotify.com/x"))
    r = load(warehouse, rows(3, {1: {"sfa_url": ""}, 2: {"sfa_url": "https://new"}}), batch_size=10,
             preserve_on_blank=frozenset({"sfa_url"}))
    assert r.counts["unchanged"] == 2 and r.counts["updated"] == 1
    with warehouse.engine.connect() as c:
        got = dict(c.execute(sa.select(things.c.code, things.c.sfa_url)).all())
    assert got["c0001"] == "https://artists.spotify.com/x" and got["c0002"] == "https://new"
    r = load(warehouse, rows(4, {0: {"name": "changed"}}), batch_size=10, on_existing="skip")
    assert r.counts["skipped"] == 3 and r.counts["inserted"] == 1
    assert r.skipped[0].error == "already exists"


def test_dry_run_reports_and_rolls_back(warehouse):
    warehouse.setup(md)
    r = load(warehouse, rows(50, {3: {"qty": -1}}), batch_size=20, dry_run=True)
    assert r.dry_run and r.counts["inserted"] == 49 and r.counts["failed"] == 1
    assert warehouse.count(things) == 0


def test_stop_between_batches_keeps_committed_batches(warehouse):
    warehouse.setup(md)
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] >= 2

    with warehouse.connect() as conn:
        run = LoadRun(conn, TableLoad(things), batch_size=10, should_stop=stop)
        r = run.run(rows(100))
    assert run.stopped and r.counts["inserted"] == 20 and warehouse.count(things) == 20


def test_sync_children_upserts_and_deletes_missing(warehouse):
    warehouse.setup(md)
    spec = TableLoad(parts)
    with warehouse.connect() as conn:
        sync_children(conn, spec, "thing_code", ["a", "b"], [
            PendingRow(1, {"thing_code": "a", "part": "x", "n": 1}), PendingRow(1, {"thing_code": "a", "part": "y", "n": 1}),
            PendingRow(2, {"thing_code": "b", "part": "x", "n": 1})])
        outs, deleted = sync_children(conn, spec, "thing_code", ["a"], [PendingRow(1, {"thing_code": "a", "part": "x", "n": 2})])
    assert [o.outcome for o in outs] == [Outcome.UPDATED] and deleted == {"a": 1}
    with warehouse.engine.connect() as c:
        assert sorted(c.execute(sa.select(parts.c.thing_code, parts.c.part, parts.c.n)).all()) == [("a", "x", 2), ("b", "x", 1)]


def test_systemic_errors_are_raised_not_counted_as_bad_rows(warehouse):
    # the table does not exist: that is not 300 bad rows, it is a failed run
    with pytest.raises(sa.exc.DBAPIError):
        load(warehouse, rows(10), batch_size=5)


def test_postgres_values_that_need_escaping_round_trip(pg_warehouse):
    warehouse = pg_warehouse
    warehouse.setup(md)
    tricky = ["tab\there", "new\nline", "back\\slash", "\\N", "", "quote \" ' ", "ünï©ødé 中国人", "\r\n"]
    it = [PendingRow(i + 1, {"tenant_id": "t", "code": f"x{i}", "name": s}) for i, s in enumerate(tricky)]
    it.append(PendingRow(99, {"tenant_id": "t", "code": "nul", "name": "a\x00b"}))
    r = load(warehouse, it, batch_size=100)
    assert r.counts["inserted"] == len(tricky) and r.counts["failed"] == 1
    with warehouse.engine.connect() as c:
        got = dict(c.execute(sa.select(things.c.code, things.c.name)).all())
    assert [got[f"x{i}"] for i in range(len(tricky))] == tricky


def test_a_column_a_row_does_not_carry_is_left_alone(warehouse):
    """Rows of one batch with different column sets: an omitted column keeps its stored
    value on every dialect (never NULLed by a neighbour row that carries it)."""
    warehouse.setup(md)
    load(warehouse, rows(2, {0: {"sfa_url": "keep-me"}, 1: {"sfa_url": "old"}}), batch_size=10)
    it = [PendingRow(1, {"tenant_id": "t1", "code": "c0000", "name": "y"}),
          PendingRow(2, {"tenant_id": "t1", "code": "c0001", "name": "z", "sfa_url": "new"})]
    r = load(warehouse, it, batch_size=10)
    assert r.counts["updated"] == 2
    with warehouse.engine.connect() as c:
        got = dict(c.execute(sa.select(things.c.code, things.c.sfa_url)).all())
    assert got == {"c0000": "keep-me", "c0001": "new"}
