"""The optional-cell rule for tenants (DESIGN.md §9, issue 11): a product whose category, or a
customer whose country, does not parse still lands in PostgreSQL with that column NULL; the
cell is a warning (file, line, column, value as written, reason) in the materialization and in
the warnings file beside the failed-records file. A bad required field still fails its line."""

import csv
import io

import orjson
import sqlalchemy as sa
from dagster import DagsterInstance, materialize

from ingestion_pipelines.sources.tenants import schema
from ingestion_pipelines.sources.tenants.assets import entity_assets

TS = "2024-01-01T00:00:00+00:00"


def _product(pid, **kw):
    rec = {"tenant_id": "t-opt", "product_id": pid, "sku": f"S{pid}", "name": "N", "category": "tools",
           "price": "1.50", "currency": "USD", "stock": 1, "active": True, "created_at": TS}
    return orjson.dumps({**rec, **kw})


def _customer(cid, **kw):
    rec = {"tenant_id": "t-opt", "customer_id": cid, "email": f"{cid}@example.com", "first_name": "A",
           "last_name": "B", "country": "de", "created_at": TS}
    return orjson.dumps({**rec, **kw})


def _lines(*records) -> bytes:
    return b"".join(r + b"\n" for r in records)


def test_optional_fields_that_do_not_parse_land_null_with_warnings(pg_warehouse, local_store):
    tid = "t-opt"
    # 600 good products (the columnar path reads them as a block) among which the odd ones
    products = [_product(f"p{i}") for i in range(600)]
    products[10] = _product("p10", category=42)           # a number, not a category name
    products[20] = _product("p20", category="")           # empty
    products[30] = _product("p30", price="12,50")          # required: still fails the line
    local_store.put_bytes(f"tenants/{tid}/products_{tid}.ndjson", _lines(*products))
    local_store.put_bytes(f"tenants/{tid}/customers_{tid}.ndjson", _lines(
        _customer("c1"), _customer("c2", country="Germany"), _customer("c3", country=["DE"]),
        _customer("c4", email="not-an-email")))
    assets = [a for a in entity_assets if a.key.path[-1] in ("products", "customers")]
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("tenants", [tid])
        r = materialize(assets, partition_key=tid, instance=instance,
                        resources={"warehouse": pg_warehouse, "blob_store": local_store})
        assert r.success
        md = {e: r.asset_materializations_for_node(f"tenants__{e}")[0].metadata for e in ("products", "customers")}

    with pg_warehouse.connect() as conn:
        p, c = schema.ENTITY_TABLES["products"], schema.ENTITY_TABLES["customers"]
        got_p = dict(conn.execute(sa.select(p.c.product_id, p.c.category).where(p.c.tenant_id == tid)).all())
        got_c = dict(conn.execute(sa.select(c.c.customer_id, c.c.country).where(c.c.tenant_id == tid)).all())
    assert len(got_p) == 599 and "p30" not in got_p
    assert got_p["p10"] is None and got_p["p20"] is None and got_p["p11"] == "tools"
    assert got_c == {"c1": "DE", "c2": None, "c3": None}

    assert (md["products"]["inserted"].value, md["products"]["failed"].value) == (599, 1)
    assert (md["customers"]["inserted"].value, md["customers"]["failed"].value) == (3, 1)
    assert md["products"]["warnings"].value == 2 and md["customers"]["warnings"].value == 2
    assert "| 11 | category | 42 |" in md["products"]["warnings_preview"].value

    def rows(uri):
        text = local_store.get_bytes(local_store.key_from_uri(uri)).decode("utf-8-sig")
        return [(r["file"].rsplit("/", 1)[1], r["row"], r["column"], r["value"], r["reason"])
                for r in csv.DictReader(io.StringIO(text))]

    uri = md["customers"]["warnings_file"].value
    assert uri.endswith(f"customers_{r.run_id}_warnings.csv")
    assert uri.rsplit("/", 1)[0] == md["customers"]["failed_rows_file"].value.rsplit("/", 1)[0]
    assert rows(uri) == [
        (f"customers_{tid}.ndjson", "2", "country", "Germany",
         "expected an ISO 3166 alpha-2 country code, got 'Germany'"),
        (f"customers_{tid}.ndjson", "3", "country", '["DE"]',
         "expected an ISO 3166 alpha-2 country code, got ['DE']")]
    assert [x[1:4] for x in rows(md["products"]["warnings_file"].value)] == [
        ("11", "category", "42"), ("21", "category", "")]


def test_tenants_csv_optional_cells_that_do_not_parse_are_warnings(pg_warehouse, local_store):
    """tenants.csv: a created_at, currency or country that does not parse leaves that column
    NULL; the tenant still lands (and becomes a partition); a bad tenant_id still fails."""
    from ingestion_pipelines.sources.tenants.assets import tenants as tenants_asset

    local_store.put_bytes("tenants/tenants.csv", (
        "tenant_id,name,domain,currency,country,created_at,api_key\n"
        "t-a,Alpha,a.example,usd,de,2024-01-01T00:00:00+00:00,k\n"
        "t-b,Beta,,US Dollar,Germany,last tuesday,k\n"
        "t-c,Gamma,,EUR,FR,2024-01-01T00:00:00,k\n"
        "bad id,Delta,,EUR,FR,,k\n").encode())
    with DagsterInstance.ephemeral() as instance:
        r = materialize([tenants_asset], instance=instance,
                        resources={"warehouse": pg_warehouse, "blob_store": local_store})
        assert r.success
        md = {k: v.value for k, v in r.asset_materializations_for_node("tenants__tenants")[0].metadata.items()}
        assert sorted(instance.get_dynamic_partitions("tenants")) == ["t-a", "t-b", "t-c"]
    assert (md["created"], md["failed"], md["warnings"]) == (3, 1, 4)
    t = schema.tenants
    with pg_warehouse.connect() as conn:
        got = {row[0]: tuple(row[1:]) for row in conn.execute(
            sa.select(t.c.tenant_id, t.c.currency, t.c.country, t.c.created_at).order_by(t.c.tenant_id))}
    assert got["t-a"][:2] == ("USD", "DE") and got["t-a"][2] is not None
    assert got["t-b"] == (None, None, None)
    assert got["t-c"] == ("EUR", "FR", None)
    text = local_store.get_bytes(local_store.key_from_uri(md["warnings_file"])).decode("utf-8-sig")
    assert md["warnings_file"].endswith(f"tenants_{r.run_id}_warnings.csv")
    assert [(w["row"], w["column"], w["value"]) for w in csv.DictReader(io.StringIO(text))] == [
        ("3", "created_at", "last tuesday"), ("3", "currency", "US Dollar"), ("3", "country", "Germany"),
        ("4", "created_at", "2024-01-01T00:00:00")]
