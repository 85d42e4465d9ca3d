"""Regressions from the code review: tenant ids with '_' in file names, repeated keys within a
batch, one bad file among good ones, tenants.csv through engine.readers (real SQLite and
PostgreSQL, local BlobStore)."""

import orjson
import sqlalchemy as sa

from ingestion_pipelines.sources.tenants import schema
from ingestion_pipelines.sources.tenants.loading import FailedRecords, landed_files, load_entity
from ingestion_pipelines.sources.tenants.records import entity_of
from ingestion_pipelines.sources.tenants.sensors import plan_tick
from ingestion_pipelines.sources.tenants.upload import plan_uploads


def _product(tid, pid, name="N", **kw):
    rec = {"tenant_id": tid, "product_id": pid, "sku": f"S{pid}", "name": name, "price": "1.50", "currency": "USD",
           "stock": 1, "active": True, "created_at": "2024-01-01T00:00:00+00:00"}
    rec.update(kw)
    return orjson.dumps(rec)


def _count(conn, entity, tid):
    t = schema.ENTITY_TABLES[entity]
    return conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == tid)).scalar()


def test_tenant_id_with_underscore_is_seen_and_loaded(tmp_path, warehouse, local_store):
    """``products_acme_co.ndjson`` belongs to tenant ``acme_co``: the sensor, landed_files,
    plan_uploads and the load all see it (it used to be ignored, the partition loading 0 rows)."""
    tid = "acme_co"
    assert entity_of("products_acme_co.ndjson") == ("products", "acme_co")
    assert entity_of("order_items_acme_co_chunk_0002.ndjson.gz") == ("order_items", "acme_co")
    assert entity_of("orders_acme_co_chunk_0002.ndjson") == ("orders", "acme_co")
    # a tenant id that itself ends in _chunk_<digits> is read right when the tenant is known
    assert entity_of("products_x_chunk_1_chunk_0003.ndjson", "x_chunk_1") == ("products", "x_chunk_1")
    assert entity_of("products_acme_co.ndjson", "acme") is None
    (tmp_path / f"products_{tid}.ndjson").write_bytes(_product(tid, "p1") + b"\n" + _product(tid, "p2") + b"\n")
    (tmp_path / f"order_items_{tid}_chunk_0000.ndjson").write_bytes(b"")
    plan = plan_uploads(tmp_path)
    assert sorted((p.key, p.tenant_id) for p in plan) == [
        (f"tenants/{tid}/order_items_{tid}_chunk_0000.ndjson", tid), (f"tenants/{tid}/products_{tid}.ndjson", tid)]
    assert [p.tenant_id for p in plan_uploads(tmp_path, tid)] == [tid, tid]
    local_store.put_file(f"tenants/{tid}/products_{tid}.ndjson", tmp_path / f"products_{tid}.ndjson")
    assert [o.key for o in landed_files(local_store, tid, "products")] == [f"tenants/{tid}/products_{tid}.ndjson"]
    new_tenants, run_keys, _, _ = plan_tick(local_store, None, set())
    assert new_tenants == [tid] and list(run_keys) == [tid]
    warehouse.setup(schema.metadata)
    with warehouse.connect() as conn:
        res = load_entity(conn, local_store, tid, "products", run_id="r1")
        assert (res.total("inserted"), _count(conn, "products", tid)) == (2, 2)

