"""The upsert core on PostgreSQL, SQLite and MySQL/MariaDB, through both front ends (BatchLoader:
per-row outcomes; StagedUpsert: counts): column ownership (preserve_on_blank, fill_only) and
orphan checks hold on every path, asserted on what landed."""

import pytest
import sqlalchemy as sa

from ingestion_pipelines.engine.copytext import copy_value
from ingestion_pipelines.engine.load import BatchLoader, PendingRow
from ingestion_pipelines.engine.outcomes import Outcome
from ingestion_pipelines.engine.staged import StagedUpsert
from ingestion_pipelines.engine.upsert import ParentRef, TableLoad

md = sa.MetaData()
owners = sa.Table("owners", md, sa.Column("k", sa.String(10), nullable=False), sa.Column("id", sa.String(10), nullable=False),
                  sa.UniqueConstraint("k", "id", name="uq_owners_natural_key"))
pets = sa.Table("pets", md, sa.Column("k", sa.String(10), nullable=False), sa.Column("id", sa.String(10), nullable=False),
                sa.Column("owner_id", sa.String(10)), sa.Column("name", sa.String(50)), sa.Column("note", sa.String(50)),
                sa.Column("_ingested_at", sa.DateTime(timezone=True)), sa.Column("_source", sa.String(200)),
                sa.Column("_run_id", sa.String(64)),
                sa.UniqueConstraint("k", "id", name="uq_pets_natural_key"))
SPEC = TableLoad(pets, preserve_on_blank=frozenset({"name"}), fill_only=frozenset({"note"}),
                 refs=(ParentRef(("k", "owner_id"), owners, ("k", "id"), "owner"),))
COLS = ["k", "id", "owner_id", "name", "note"]
AUDIT = {"_source": "test://x", "_run_id": "r1"}


@pytest.fixture(params=["postgresql", "sqlite", "mysql"])
def wh(request):
    from ingestion_pipelines.resources.warehouse import WarehouseResource

    if request.param == "postgresql":
        w = request.getfixturevalue("pg_warehouse")
    elif request.param == "sqlite":
        w = request.getfixturevalue("sqlite_warehouse")
    else:
        w = WarehouseResource(url=request.getfixturevalue("mysql_url"))
    w.setup(md)
    with w.connect() as conn:
        conn.execute(owners.insert(), [{"k": "t", "id": "o1"}, {"k": "t", "id": "o2"}])
        conn.execute(pets.insert(), [{"k": "t", "id": "p1", "owner_id": "o1", "name": "Rex", "note": "typed by hand"},
                                     {"k": "t", "id": "p2", "owner_id": "o1", "name": "Tom", "note": None}])
    return w


# (line, values): p1 blank name and a new note (both kept), p2 gets its first note, p3 new,
# p4 an orphan (owner o9), p5 a NULL owner (no reference: lands)
BATCH = [(1, ("t", "p1", "o2", "  ", "from source")), (2, ("t", "p2", "o1", "Tom", "first note")),
         (3, ("t", "p3", "o2", "Kit", None)), (4, ("t", "p4", "o9", "Ghost", None)), (5, ("t", "p5", None, "Nobody", None))]
LANDED = {"p1": ("o2", "Rex", "typed by hand"), "p2": ("o1", "Tom", "first note"), "p3": ("o2", "Kit", None),
          "p5": (None, "Nobody", None)}


def landed(conn):
    return {r.id: (r.owner_id, r.name, r.note) for r in conn.execute(sa.select(pets))}


def test_batch_loader_ownership_and_orphans(wh):
    with wh.connect() as conn:
        outs = BatchLoader(conn, SPEC, AUDIT).load([PendingRow(line, dict(zip(COLS, v))) for line, v in BATCH])
        got = {o.row: o.outcome for o in outs}
        assert got == {1: Outcome.UPDATED, 2: Outcome.UPDATED, 3: Outcome.INSERTED, 4: Outcome.FAILED, 5: Outcome.INSERTED}
        assert "orphan reference: owner t/o9 not found" in next(o.error for o in outs if o.row == 4)
        assert landed(conn) == LANDED
        # the same batch again changes nothing
        again = BatchLoader(conn, SPEC, AUDIT).load([PendingRow(line, dict(zip(COLS, v))) for line, v in BATCH])
        assert sorted(o.outcome.value for o in again) == ["failed", "unchanged", "unchanged", "unchanged", "unchanged"]
        assert conn.execute(sa.select(pets.c._source).where(pets.c.id == "p3")).scalar() == "test://x"


def test_staged_upsert_ownership_and_orphans(wh):
    with wh.connect() as conn:
        su = StagedUpsert(conn, SPEC, COLS, audit=AUDIT)
        if conn.dialect.name == "postgresql":
            res = su.load_copy([(line, "\t".join(copy_value(x) for x in v)) for line, v in BATCH])
        else:
            res = su.load_values(BATCH)
        assert (res.inserted, res.updated, res.unchanged) == (2, 2, 0)
        assert [line for line, _ in res.failed] == [4]
        assert landed(conn) == LANDED


def test_fill_only_and_preserve_on_blank_without_refs_on_the_direct_path(pg_warehouse):
    """PostgreSQL's counts path COPYs fresh keys straight into the table; the first existing
    key switches it to the upsert, which must still honour ownership."""
    pg_warehouse.setup(md)
    spec = TableLoad(pets, preserve_on_blank=frozenset({"name"}), fill_only=frozenset({"note"}))
    with pg_warehouse.connect() as conn:
        su = StagedUpsert(conn, spec, COLS, audit=AUDIT)
        assert su.direct
        su.load_copy([(1, "t\tq1\to1\tRex\thand")])
        res = su.load_copy([(1, "t\tq1\to2\t\tsource"), (2, "t\tq2\to1\tKit\t\\N")])
        assert (res.inserted, res.updated) == (1, 1) and not su.direct
        assert landed(conn) == {"q1": ("o2", "Rex", "hand"), "q2": ("o1", "Kit", None)}
