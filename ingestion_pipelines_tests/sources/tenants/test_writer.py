"""The entity load's writer thread (sources/tenants/loading._Writer) on the real PostgreSQL:
the parser runs ahead into the next file while the writer finishes the previous one, so
its failure paths are tested here — a batch the database refuses as a whole fails only its
own file (rolled back to its last committed batch; the next file loads), and an error of
the ledger itself stops the load."""

import pytest
import sqlalchemy as sa

from ingestion_pipelines.engine.ledger import ingest_files
from ingestion_pipelines.engine.schema import qualified_name
from ingestion_pipelines.sources.tenants import schema
from ingestion_pipelines.sources.tenants.loading import FailedRecords, load_entity

from .landed import land, product_lines, refuse_boom

#: rows of the first file (~4.6 MB: three 2 MB slices, so several batches) and the row that fails
N_A, BOOM = 20_000, 15_000


def test_a_batch_the_database_refuses_fails_only_its_file(pg_warehouse, tmp_path):
    """A trigger raises a non-data error (not a refused value: no bisection) for one row of
    a later batch of the first file: that file stops at its last committed batch and is
    recorded failed with the error; the second file, already being parsed, still loads."""
    pg_warehouse.setup(schema.metadata)
    tid = "tw1"
    store = land(tmp_path, tid, {f"products_{tid}_chunk_0000.ndjson": product_lines(tid, "a", N_A, names={BOOM: "boom"}),
                                  f"products_{tid}_chunk_0001.ndjson": product_lines(tid, "b", 700)})
    with pg_warehouse.connect() as conn:
        rel = qualified_name(conn, schema.products)
        refuse_boom(conn, rel)
        res = load_entity(conn, store, tid, "products", run_id="run-w1", batch_size=300, failed=FailedRecords())
        by_name = {f.name: f for f in res.files}
        first, second = by_name[f"products_{tid}_chunk_0000.ndjson"], by_name[f"products_{tid}_chunk_0001.ndjson"]
        assert first.status == "failed" and "boom: storage unavailable" in first.error
        assert second.status == "loaded" and second.inserted == 700
        ids = set(conn.execute(sa.select(schema.products.c.product_id)
                               .where(schema.products.c.tenant_id == tid)).scalars())
        loaded_a = {i for i in ids if i.startswith("a")}
        # whole batches of the first file before the refused one, nothing after it
        assert loaded_a and len(loaded_a) == first.inserted and f"a{BOOM}" not in loaded_a
        assert all(int(i[1:]) < BOOM for i in loaded_a)
        assert {i for i in ids if i.startswith("b")} == {f"b{i}" for i in range(700)}
        ledger = dict(conn.execute(sa.select(ingest_files.c.uri, ingest_files.c.status)
                                   .where(ingest_files.c.tenant_id == tid)).all())
        assert sorted(ledger.values()) == ["failed", "succeeded"]
        conn.exec_driver_sql(f"DROP TRIGGER boom ON {rel}")
        conn.commit()
        # the failed file loads on the next run; the loaded one is skipped
        again = load_entity(conn, store, tid, "products", run_id="run-w2", batch_size=300, failed=FailedRecords())
        assert sorted(f.status for f in again.files) == ["loaded", "skipped"]
        assert again.total("inserted") == N_A - first.inserted


def test_a_ledger_error_stops_the_load(pg_warehouse, tmp_path):
    """An error writing the ledger row (here a trigger refusing the final status) is not a
    file's failure but the load's: load_entity raises it."""
    pg_warehouse.setup(schema.metadata)
    tid = "tw2"
    store = land(tmp_path, tid, {f"products_{tid}_chunk_0000.ndjson": product_lines(tid, "a", 50),
                                  f"products_{tid}_chunk_0001.ndjson": product_lines(tid, "b", 50)})
    with pg_warehouse.connect() as conn:
        rel = qualified_name(conn, ingest_files)
        conn.exec_driver_sql("""
            CREATE OR REPLACE FUNCTION pg_temp.no_success() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.status = 'succeeded' THEN RAISE EXCEPTION 'ledger offline'; END IF; RETURN NEW; END $$""")
        conn.exec_driver_sql(f"CREATE TRIGGER no_success BEFORE INSERT OR UPDATE ON {rel} FOR EACH ROW "
                             "EXECUTE FUNCTION pg_temp.no_success()")
        conn.commit()
        with pytest.raises(sa.exc.DBAPIError, match="ledger offline"):
            load_entity(conn, store, tid, "products", run_id="run-w3", batch_size=20, failed=FailedRecords())


class _Colliding:
    """An id whose hash collides with every other one's (to test that FileIds compares the
    ids themselves, not only their hashes)."""

    def __init__(self, s: str):
        self.s = s

    def __hash__(self) -> int:
        return 42

    def __eq__(self, other) -> bool:
        return isinstance(other, _Colliding) and other.s == self.s

    def __repr__(self) -> str:
        return self.s


def test_file_ids_tell_repeats_exactly():
    """FileIds keeps hashes + line numbers + the ids as Arrow arrays: a repeated id is found
    with the line it was first seen at (across blocks, runs merged as they grow, and single
    lines), and ids that only share a hash are not repeats."""
    import pyarrow as pa

    from ingestion_pipelines.sources.tenants.loading import FileIds

    ids = FileIds()
    for b in range(40):  # 40 blocks of 100 consecutive lines: runs get merged
        block = [f"id{b * 100 + i}" for i in range(100)]
        assert ids.add_block(1 + b * 100, block, pa.array(block))
    assert len(ids.runs) < 10
    assert ids.add_block(5000, ["id7", "new"], pa.array(["id7", "new"])) is False  # nothing added
    assert ids.hits(["id7", "new", "id3999"]) == [True, False, True]
    assert ids.add("id7", 5000) == 8 and ids.add("id3999", 5001) == 4000
    assert ids.add("new", 5002) is None and ids.add_new("new", 5003) == 5002
    assert ids.add_block(6000, ["x", "new"]) is False  # a single line's id blocks a block too
    # only a hash in common: not a repeat; the same id again: a repeat
    col = FileIds()
    assert col.add_block(1, [_Colliding("a"), _Colliding("b")]) is False  # same hash twice in one block
    assert col.add(_Colliding("a"), 1) is None and col.add(_Colliding("b"), 2) is None
    assert col.add_block(3, [_Colliding("c")]) is False
    assert col.add(_Colliding("c"), 3) is None and col.add(_Colliding("b"), 4) == 2
    solo = FileIds()
    assert solo.add_block(10, [_Colliding("p")])
    assert solo.add_block(11, [_Colliding("q")]) is False and solo.add(_Colliding("q"), 11) is None
    assert solo.add(_Colliding("p"), 12) == 10


def test_an_interrupt_closes_the_files_ledger_row(pg_warehouse, tmp_path, monkeypatch):
    """An interrupt while a file is parsed (e.g. the run is terminated) propagates, after the
    writer recorded that file as failed — no ledger row stays ``running``."""
    from ingestion_pipelines.sources.tenants import loading

    pg_warehouse.setup(schema.metadata)
    tid = "tw3"
    store = land(tmp_path, tid, {f"products_{tid}_chunk_0000.ndjson": product_lines(tid, "a", 30),
                                  f"products_{tid}_chunk_0001.ndjson": product_lines(tid, "b", 30)})
    real = loading.iter_slices

    def slices(f, *a, **k):
        for i, data in enumerate(real(f, *a, **k)):
            if str(getattr(getattr(f, "raw", f), "name", "")).endswith("chunk_0001.ndjson"):
                raise KeyboardInterrupt
            yield data

    monkeypatch.setattr(loading, "iter_slices", slices)
    with pg_warehouse.connect() as conn:
        with pytest.raises(KeyboardInterrupt):
            load_entity(conn, store, tid, "products", run_id="run-w4", batch_size=10, failed=FailedRecords())
        conn.rollback()
        ledger = {u.rsplit("/", 1)[1]: st for u, st in conn.execute(
            sa.select(ingest_files.c.uri, ingest_files.c.status).where(ingest_files.c.tenant_id == tid))}
    assert ledger == {f"products_{tid}_chunk_0000.ndjson": "succeeded", f"products_{tid}_chunk_0001.ndjson": "failed"}
